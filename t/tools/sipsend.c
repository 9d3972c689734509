/*
 * t/tools/sipsend.c: a small SIP client for afd's end-to-end tests.
 *
 * Sends one SIP message (a file or stdin) over UDP or TCP to HOST:PORT and
 * prints the responses received within a timeout, with CRs removed so the
 * shell can grep them. Plain sockets and poll(); no libuv.
 *
 *   sipsend [-u|-t] -p PORT [-H HOST] [-w MS] [-n N] [-s] [-r] [-c]
 *           [-D NAME=VALUE]... [-i] [FILE]
 *   sipsend -P [-p LOW]         print a port free for both UDP and TCP
 *                               (in LOW..LOW+7999, default 20000..59999)
 *   sipsend -L PORT [-w MS] [-s]  listen on UDP 127.0.0.1:PORT: print
 *                               "#listening", then every datagram that
 *                               arrives within MS ms; exit 0
 *
 *   -u / -t   transport (UDP is the default)
 *   -p PORT   destination port (default: $AFD_PORT)
 *   -H HOST   destination IPv4 address (default 127.0.0.1)
 *   -w MS     how long to wait for answers (default 2000)
 *   -n N      final responses (status >= 200) to wait for (default 1);
 *             0: collect whatever arrives until the timeout, never fail
 *   -s        print only the status line of each response
 *   -r        raw: send the bytes exactly as given (no templating, no LF to
 *             CRLF): torture messages, garbage
 *   -c        TCP: after the responses, wait for the peer to close the
 *             connection; success means it closed within the timeout
 *   -D N=V    define the template variable $N
 *   -V        UDP: send from the port named by the message's top Via
 *             sent-by (5060 when it names none), on a random 127.x.y.z
 *             address, so that an answer sent by the RFC 3261 18.2.2 rules
 *             (source address, Via port; no rport) reaches us: for raw
 *             messages such as the RFC 4475 ones
 *   -C N      TCP: send the message in pieces of N bytes, 5 ms apart (tests
 *             the receiver's framing)
 *   -i        interactive (TCP or UDP): keep ONE socket; read lines on
 *             stdin, each naming a message file; send it, print the
 *             responses, then a line "#done N", "#timeout N" or "#closed"
 *             (N: the final responses seen). EOF on stdin ends the run.
 *             The first line printed is "#lport N": our local port.
 *   -M N      mutate: send N corrupted copies of the message (random bytes
 *             changed, cut, repeated, CRLFs inserted), no waiting; -S SEED
 *             makes the run repeatable (the seed is printed on stderr).
 *             The top Via line and the line ends around it are never
 *             changed, so that every answer still comes back to our own
 *             port (the Via's rport), never to a port we did not open
 *   -T        after the responses, print "#ms N.N": the milliseconds from
 *             the send to the last awaited final response
 *
 * Templates (unless -r): bare LF line ends become CRLF, then $NAME is
 * replaced for NAME among: PORT (destination), LPORT (our port), LHOST,
 * TP (the transport for Via: UDP or TCP),
 * CALLID, BRANCH (z9hG4bK...), TAG (fresh random values each send unless
 * given with -D), any -D name, and CLEN (the body's length, computed last).
 * Unknown $NAMEs are left as they are. A line "#--" separates messages
 * in one file (sent in one write on TCP): each is rendered on its own.
 *
 * Exit: 0 success, 1 timeout (fewer responses than asked, or no close with
 * -c), 2 usage or system error, 3 the peer closed the connection before the
 * responses arrived.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SS_MAXVARS 64
#define SS_RXMAX (1024 * 1024)

struct ss_var {
	char *name;
	char *value;
};

struct ss_buf {
	char *p;
	size_t len, cap;
};

static struct {
	int tcp, raw, status_only, want_close, interactive, via_bind;
	int port, timeout_ms, nwant, chunk, timing;
	const char *host;
	struct ss_var vars[SS_MAXVARS];
	int nvars;
	int fd;
	int lport;
	struct ss_buf rx; /* TCP: bytes received and not yet framed */
} ss;

static void
ss_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("sipsend: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
ss_buf_add(struct ss_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (b->len + n + 1 > cap)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			ss_die("out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static long long
ss_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long
ss_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ss_rand_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = hex[random() % 16];
	out[n] = '\0';
}

static const char *
ss_var_get(const char *name, size_t len)
{
	int i;

	for (i = 0; i < ss.nvars; i++)
		if (strlen(ss.vars[i].name) == len &&
		    memcmp(ss.vars[i].name, name, len) == 0)
			return ss.vars[i].value;
	return NULL;
}

static void
ss_var_set(const char *name, const char *value)
{
	int i;

	for (i = 0; i < ss.nvars; i++)
		if (strcmp(ss.vars[i].name, name) == 0) {
			free(ss.vars[i].value);
			ss.vars[i].value = strdup(value);
			return;
		}
	if (ss.nvars == SS_MAXVARS)
		ss_die("too many -D variables");
	ss.vars[ss.nvars].name = strdup(name);
	ss.vars[ss.nvars].value = strdup(value);
	ss.nvars++;
}

/* Where the headers end in p[0..len): the offset after the empty line, or
 * 0 if not there yet. Accepts CRLFCRLF and LFLF. */
static size_t
ss_hdr_end(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (p[i] == '\n' && p[i + 1] == '\n')
			return i + 2;
		if (i + 3 < len && memcmp(p + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	}
	return 0;
}

/* The value of Content-Length (or l) in the headers p[0..len), -1 if none. */
static long
ss_clen(const char *p, size_t len)
{
	const char *q = p, *end = p + len;

	while (q < end) {
		const char *eol = memchr(q, '\n', end - q);
		const char *c;
		size_t nl;

		if (eol == NULL)
			eol = end;
		c = memchr(q, ':', eol - q);
		if (c != NULL) {
			nl = c - q;
			while (nl > 0 &&
			       (q[nl - 1] == ' ' || q[nl - 1] == '\t'))
				nl--;
			if ((nl == 14 &&
			     strncasecmp(q, "Content-Length", 14) == 0) ||
			    (nl == 1 && (*q == 'l' || *q == 'L')))
				return strtol(c + 1, NULL, 10);
		}
		q = eol + 1;
	}
	return -1;
}

/* Render one template (one message) into out (replacing its contents). */
static void
ss_render_one(const char *in, size_t inlen, struct ss_buf *out)
{
	struct ss_buf crlf = {0};
	char callid[33], branch[40], tag[17], lport[16], port[16];
	const char *p, *end;
	size_t he, clen_at = (size_t)-1;
	long body;
	char num[32];
	size_t i;

	out->len = 0;
	for (i = 0; i < inlen; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			ss_buf_add(&crlf, "\r", 1);
		ss_buf_add(&crlf, in + i, 1);
	}
	ss_rand_hex(callid, 32);
	memcpy(branch, "z9hG4bK", 7);
	ss_rand_hex(branch + 7, 24);
	ss_rand_hex(tag, 16);
	snprintf(lport, sizeof(lport), "%d", ss.lport);
	snprintf(port, sizeof(port), "%d", ss.port);

	p = crlf.p ? crlf.p : "";
	end = p + crlf.len;
	while (p < end) {
		const char *v = NULL, *n;
		size_t nl;

		if (*p != '$') {
			ss_buf_add(out, p++, 1);
			continue;
		}
		n = p + 1;
		for (nl = 0; n + nl < end &&
		             (isupper((unsigned char)n[nl]) ||
		              isdigit((unsigned char)n[nl]) || n[nl] == '_');
		     nl++)
			;
		if (nl == 0) {
			ss_buf_add(out, p++, 1);
			continue;
		}
		if ((v = ss_var_get(n, nl)) != NULL)
			;
		else if (nl == 4 && memcmp(n, "PORT", 4) == 0)
			v = port;
		else if (nl == 5 && memcmp(n, "LPORT", 5) == 0)
			v = lport;
		else if (nl == 5 && memcmp(n, "LHOST", 5) == 0)
			v = "127.0.0.1";
		else if (nl == 2 && memcmp(n, "TP", 2) == 0)
			v = ss.tcp ? "TCP" : "UDP";
		else if (nl == 6 && memcmp(n, "CALLID", 6) == 0)
			v = callid;
		else if (nl == 6 && memcmp(n, "BRANCH", 6) == 0)
			v = branch;
		else if (nl == 3 && memcmp(n, "TAG", 3) == 0)
			v = tag;
		else if (nl == 4 && memcmp(n, "CLEN", 4) == 0) {
			clen_at = out->len;
			p = n + nl;
			continue;
		}
		if (v == NULL) {
			ss_buf_add(out, p, nl + 1);
		} else {
			ss_buf_add(out, v, strlen(v));
		}
		p = n + nl;
	}
	free(crlf.p);
	if (clen_at == (size_t)-1)
		return;
	/* $CLEN: the length of what follows the headers. */
	he = ss_hdr_end(out->p, out->len);
	body = he ? (long)(out->len - he) : 0;
	snprintf(num, sizeof(num), "%ld", body);
	{
		struct ss_buf fin = {0};

		ss_buf_add(&fin, out->p, clen_at);
		ss_buf_add(&fin, num, strlen(num));
		ss_buf_add(&fin, out->p + clen_at, out->len - clen_at);
		free(out->p);
		*out = fin;
	}
}

/* Build what to send from the file's bytes: raw, or each template part
 * (parts are separated by a line "#--") rendered on its own, with its own
 * random values and its own $CLEN, and the parts concatenated. */
static void
ss_render(const char *in, size_t inlen, struct ss_buf *out)
{
	struct ss_buf part = {0};
	const char *p = in, *end = in + inlen;

	out->len = 0;
	if (ss.raw) {
		ss_buf_add(out, in, inlen);
		return;
	}
	while (p <= end) {
		const char *q = p, *sep = NULL, *next = end + 1;

		/* the next separator line */
		while (q < end) {
			const char *eol = memchr(q, '\n', end - q);
			size_t l = (eol ? eol : end) - q;

			if (l > 0 && q[l - 1] == '\r')
				l--;
			if (l == 3 && memcmp(q, "#--", 3) == 0) {
				sep = q;
				next = eol ? eol + 1 : end;
				break;
			}
			q = eol ? eol + 1 : end;
		}
		ss_render_one(p, (sep ? sep : end) - p, &part);
		ss_buf_add(out, part.p ? part.p : "", part.len);
		if (sep == NULL)
			break;
		p = next;
	}
	free(part.p);
}

/* The port of the top Via's sent-by in the message p[0..len): 5060 when
 * it names none, 0 when there is no Via. Lenient: for test input only. */
static int
ss_via_port(const char *p, size_t len)
{
	const char *q = p, *end = p + len;

	while (q < end) {
		const char *eol = memchr(q, '\n', end - q), *v;
		int slashes = 0;

		if (eol == NULL)
			eol = end;
		v = q;
		if (eol - q > 3 && strncasecmp(q, "via", 3) == 0)
			v = q + 3;
		else if (eol - q > 1 && (*q == 'v' || *q == 'V'))
			v = q + 1;
		while (v > q && v < eol && (*v == ' ' || *v == '\t'))
			v++;
		if (v == q || v >= eol || *v != ':') {
			q = eol + 1;
			continue;
		}
		/* SIP / 2.0 / UDP host[:port] (a folded line is not followed)
		 */
		for (v++; v < eol && slashes < 2; v++)
			if (*v == '/')
				slashes++;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		while (v < eol && *v != ' ' && *v != '\t')
			v++; /* the transport */
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		if (v < eol && *v == '[')
			while (v < eol && *v != ']')
				v++;
		while (v < eol && *v != ':' && *v != ';' && *v != ',' &&
		       *v != ' ' && *v != '\r')
			v++;
		if (v < eol && *v == ':' && v + 1 < eol &&
		    isdigit((unsigned char)v[1]))
			return atoi(v + 1) & 0xffff;
		return 5060;
	}
	return 0;
}

static void
ss_connect(int via_port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if ((ss.fd = socket(AF_INET, ss.tcp ? SOCK_STREAM : SOCK_DGRAM, 0)) ==
	    -1)
		ss_die("socket: %s", strerror(errno));
	if (!ss.tcp) {
		/* Bind first so that $LPORT is known before the send. */
		int tries, bound = 0;

		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		for (tries = 0; via_port > 0 && tries < 50 && !bound; tries++) {
			sin.sin_addr.s_addr =
			    htonl(0x7f000000 | (random() % 0xfffffe + 2));
			sin.sin_port = htons(via_port);
			bound = bind(ss.fd, (struct sockaddr *)&sin,
			             sizeof(sin)) == 0;
		}
		if (!bound) {
			if (via_port > 0)
				fprintf(stderr,
				        "sipsend: cannot bind port %d "
				        "on 127/8; any port then\n",
				        via_port);
			inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
			sin.sin_port = 0;
			if (bind(ss.fd, (struct sockaddr *)&sin, sizeof(sin)) ==
			    -1)
				ss_die("bind: %s", strerror(errno));
		}
	}
	sin.sin_port = htons(ss.port);
	if (inet_pton(AF_INET, ss.host, &sin.sin_addr) != 1)
		ss_die("bad host %s", ss.host);
	if (connect(ss.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		ss_die("connect to %s:%d: %s", ss.host, ss.port,
		       strerror(errno));
	if (getsockname(ss.fd, (struct sockaddr *)&sin, &sl) == 0)
		ss.lport = ntohs(sin.sin_port);
	if (ss.tcp) {
		int one = 1;

		setsockopt(ss.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
}

/* Send all of b; 0, or -1 if the peer is gone. */
static int
ss_send(const struct ss_buf *b)
{
	size_t off = 0;

	if (!ss.tcp) {
		if (send(ss.fd, b->p ? b->p : "", b->len, 0) == -1) {
			if (errno == ECONNREFUSED)
				return 0; /* an earlier ICMP: try anyway */
			ss_die("send: %s", strerror(errno));
		}
		return 0;
	}
	while (off < b->len) {
		size_t want = b->len - off;
		ssize_t n;

		if (ss.chunk > 0) {
			if (off > 0)
				usleep(5000);
			if (want > (size_t)ss.chunk)
				want = (size_t)ss.chunk;
		}
		n = send(ss.fd, b->p + off, want, MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				return -1;
			ss_die("send: %s", strerror(errno));
		}
		off += n;
	}
	return 0;
}

/* Print one received message; returns its status code (0: a request or
 * garbage). */
static int
ss_print(const char *p, size_t len)
{
	int code = 0;
	size_t i;

	if (len > 12 && memcmp(p, "SIP/2.0 ", 8) == 0)
		code = atoi(p + 8);
	for (i = 0; i < len; i++) {
		if (p[i] == '\r')
			continue;
		if (ss.status_only && p[i] == '\n')
			break;
		putchar(p[i]);
	}
	if (ss.status_only || len == 0 || p[len - 1] != '\n')
		putchar('\n');
	fflush(stdout);
	return code;
}

/* TCP: frame and print what is complete in ss.rx; count final responses. */
static void
ss_frame(int *finals)
{
	for (;;) {
		size_t skip = 0, he;
		long cl;

		while (skip < ss.rx.len &&
		       (ss.rx.p[skip] == '\r' || ss.rx.p[skip] == '\n'))
			skip++;
		if (skip) {
			memmove(ss.rx.p, ss.rx.p + skip, ss.rx.len - skip);
			ss.rx.len -= skip;
		}
		if ((he = ss_hdr_end(ss.rx.p, ss.rx.len)) == 0)
			return;
		cl = ss_clen(ss.rx.p, he);
		if (cl < 0)
			cl = 0;
		if (ss.rx.len < he + (size_t)cl)
			return;
		if (ss_print(ss.rx.p, he + cl) >= 200)
			(*finals)++;
		memmove(ss.rx.p, ss.rx.p + he + cl, ss.rx.len - he - cl);
		ss.rx.len -= he + cl;
	}
}

/*
 * Wait for nwant final responses (all that arrive if nwant is 0), then with
 * want_close for the peer's close. Returns 0, 1 (timeout) or 3 (closed).
 */
static int
ss_receive(int nwant, int want_close, int *finals)
{
	long long deadline = ss_now_ms() + ss.timeout_ms;
	static char buf[SS_RXMAX];

	*finals = 0;
	if (ss.tcp)
		ss_frame(finals);
	for (;;) {
		struct pollfd pfd = {ss.fd, POLLIN, 0};
		long long left = deadline - ss_now_ms();
		ssize_t n;
		int r;

		if (nwant > 0 && *finals >= nwant && !want_close)
			return 0;
		if (left <= 0)
			return nwant == 0 && !want_close ? 0 : 1;
		r = poll(&pfd, 1, (int)left);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			ss_die("poll: %s", strerror(errno));
		}
		if (r == 0)
			continue;
		n = recv(ss.fd, buf, sizeof(buf), 0);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNREFUSED && !ss.tcp)
				continue; /* ICMP port unreachable: keep waiting
				           */
			if (errno == ECONNRESET && ss.tcp)
				n = 0;
			else
				ss_die("recv: %s", strerror(errno));
		}
		if (n == 0 && ss.tcp) {
			ss_frame(finals);
			if (ss.rx.len > 0)
				ss_print(ss.rx.p,
				         ss.rx.len); /* a partial tail */
			ss.rx.len = 0;
			if (want_close && (nwant == 0 || *finals >= nwant))
				return 0;
			return nwant == 0 && !want_close ? 0 : 3;
		}
		if (ss.tcp) {
			ss_buf_add(&ss.rx, buf, n);
			ss_frame(finals);
		} else if (ss_print(buf, n) >= 200) {
			(*finals)++;
		}
	}
}

static void
ss_read_file(const char *path, struct ss_buf *b)
{
	char chunk[65536];
	FILE *f = stdin;
	size_t n;

	b->len = 0;
	if (strcmp(path, "-") != 0 && (f = fopen(path, "rb")) == NULL)
		ss_die("%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ss_buf_add(b, chunk, n);
	if (ferror(f))
		ss_die("%s: read error", path);
	if (f != stdin)
		fclose(f);
}

/* -P: a port number free on 127.0.0.1 for both TCP and UDP right now. */
static int
ss_free_port(int low)
{
	int span = low > 0 ? 8000 : 40000, tries;

	if (low <= 0)
		low = 20000;
	if (low + span > 65536)
		span = 65536 - low;
	for (tries = 0; tries < 200; tries++) {
		struct sockaddr_in sin;
		socklen_t sl = sizeof(sin);
		int t = -1, u = -1, port, ok;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons(low + random() % span);
		if ((t = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    (u = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
			ss_die("socket: %s", strerror(errno));
		ok = bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		     getsockname(t, (struct sockaddr *)&sin, &sl) == 0 &&
		     bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		port = ntohs(sin.sin_port);
		close(t);
		close(u);
		if (ok) {
			printf("%d\n", port);
			return 0;
		}
	}
	ss_die("no free port found");
	return 2;
}

static int
ss_interactive(void)
{
	char line[4096];
	struct ss_buf in = {0}, msg = {0};
	int ret = 0;

	printf("#lport %d\n", ss.lport);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t l = strlen(line);
		int finals, rc;

		while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (l == 0)
			continue;
		ss_read_file(line, &in);
		ss_render(in.p ? in.p : "", in.len, &msg);
		if (ss_send(&msg) == -1 ||
		    (rc = ss_receive(ss.nwant, 0, &finals)) == 3) {
			printf("#closed\n");
			fflush(stdout);
			ret = 3;
			break;
		}
		printf("#%s %d\n", rc == 0 ? "done" : "timeout", finals);
		fflush(stdout);
	}
	free(in.p);
	free(msg.p);
	return ret;
}

/* The top Via line of m (from its first byte to its line end, CRLF
 * included, and the line end before it): [*vs, *ve). Both 0 when none. */
static void
ss_via_span(const struct ss_buf *m, size_t *vs, size_t *ve)
{
	size_t i = 0;

	*vs = *ve = 0;
	while (i < m->len) {
		const char *eol = memchr(m->p + i, '\n', m->len - i);
		size_t next = eol ? (size_t)(eol - m->p) + 1 : m->len;

		if (i > 0 &&
		    ((m->len - i > 4 &&
		      strncasecmp(m->p + i, "via:", 4) == 0) ||
		     (m->len - i > 2 && strncasecmp(m->p + i, "v:", 2) == 0))) {
			*vs = i >= 2 ? i - 2 : 0;
			*ve = next;
			return;
		}
		if (next == i + 1 || (next == i + 2 && m->p[i] == '\r'))
			return; /* the end of the headers */
		i = next;
	}
}

/* -M: send n mutated copies of msg; never waits for answers. The top Via
 * line is left whole (see the usage). */
static void
ss_mutate(const struct ss_buf *msg, int n)
{
	struct ss_buf m = {0};
	int i, k, edits;

	for (i = 0; i < n; i++) {
		size_t vs, ve;

		m.len = 0;
		ss_buf_add(&m, msg->p ? msg->p : "", msg->len);
		ss_via_span(&m, &vs, &ve);
		edits = 1 + random() % 8;
		for (k = 0; k < edits && m.len > 0; k++) {
			size_t at = random() % m.len, span;

			if (at >= vs && at < ve)
				continue; /* the Via line stays */
			switch (random() % 5) {
			case 0: /* a random byte */
				m.p[at] = (char)(random() & 0xff);
				break;
			case 1: /* cut the tail */
				if (at < ve)
					break;
				m.len = at;
				break;
			case 2: /* remove a range */
				span = random() % (m.len - at) + 1;
				if (at < vs && at + span > vs)
					span = vs - at;
				memmove(m.p + at, m.p + at + span,
				        m.len - at - span);
				m.len -= span;
				if (at < vs) {
					vs -= span;
					ve -= span;
				}
				break;
			case 3: { /* repeat a range at the end */
				char tmp[256];

				span = random() % (m.len - at) + 1;
				if (span > sizeof(tmp))
					span = sizeof(tmp);
				memcpy(tmp, m.p + at, span);
				ss_buf_add(&m, tmp, span);
				break;
			}
			default: /* a line break, or a separator */
				m.p[at] = "\r\n:;,<>\" @="[random() % 11];
				break;
			}
		}
		if (ss_send(&m) == -1)
			break;
	}
	free(m.p);
}

/* -L: listen on UDP 127.0.0.1:port for timeout_ms, print what arrives. */
static int
ss_listen(int port)
{
	struct sockaddr_in sin;
	static char buf[SS_RXMAX];
	long long deadline;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if ((ss.fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		ss_die("socket: %s", strerror(errno));
	if (bind(ss.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		ss_die("bind 127.0.0.1:%d: %s", port, strerror(errno));
	printf("#listening\n");
	fflush(stdout);
	deadline = ss_now_ms() + ss.timeout_ms;
	for (;;) {
		struct pollfd pfd = {ss.fd, POLLIN, 0};
		long long left = deadline - ss_now_ms();
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if ((n = recv(ss.fd, buf, sizeof(buf), 0)) > 0) {
			ss_print(buf, (size_t)n);
			fflush(stdout);
		}
	}
	close(ss.fd);
	return 0;
}

static void
ss_usage(void)
{
	fprintf(
	    stderr,
	    "usage: sipsend [-u|-t] -p PORT [-H HOST] [-w MS] [-n N] [-s] [-r] "
	    "[-c] [-V] [-C N] [-D NAME=VALUE]... [-i] [-M N [-S SEED]] [FILE]\n"
	    "       sipsend -P [-p LOW]\n"
	    "       sipsend -L PORT [-w MS] [-s]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct ss_buf in = {0}, msg = {0};
	struct timeval tv;
	const char *env;
	int ch, finals, rc, free_port = 0, port_opt = 0, mutate = 0;
	int listen_port = 0;
	long long t0;
	unsigned seed;

	gettimeofday(&tv, NULL);
	seed = (unsigned)(tv.tv_sec ^ tv.tv_usec ^ (getpid() << 16));
	signal(SIGPIPE, SIG_IGN);
	ss.host = "127.0.0.1";
	ss.timeout_ms = 2000;
	ss.nwant = 1;
	ss.port = (env = getenv("AFD_PORT")) ? atoi(env) : 0;

	while ((ch = getopt(argc, argv, "utp:H:w:n:srcD:iPM:S:VC:L:T")) != -1) {
		switch (ch) {
		case 'u':
			ss.tcp = 0;
			break;
		case 't':
			ss.tcp = 1;
			break;
		case 'p':
			ss.port = port_opt = atoi(optarg);
			break;
		case 'H':
			ss.host = optarg;
			break;
		case 'w':
			ss.timeout_ms = atoi(optarg);
			break;
		case 'n':
			ss.nwant = atoi(optarg);
			break;
		case 's':
			ss.status_only = 1;
			break;
		case 'r':
			ss.raw = 1;
			break;
		case 'c':
			ss.want_close = 1;
			break;
		case 'i':
			ss.interactive = 1;
			break;
		case 'V':
			ss.via_bind = 1;
			break;
		case 'C':
			ss.chunk = atoi(optarg);
			break;
		case 'P':
			free_port = 1;
			break;
		case 'L':
			listen_port = atoi(optarg);
			break;
		case 'T':
			ss.timing = 1;
			break;
		case 'M':
			mutate = atoi(optarg);
			break;
		case 'S':
			seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'D': {
			char *eq = strchr(optarg, '=');

			if (eq == NULL)
				ss_usage();
			*eq = '\0';
			ss_var_set(optarg, eq + 1);
			*eq = '=';
			break;
		}
		default:
			ss_usage();
		}
	}
	argc -= optind;
	argv += optind;
	srandom(seed);
	if (mutate > 0)
		fprintf(stderr, "sipsend: mutation seed %u\n", seed);
	if (free_port)
		return ss_free_port(port_opt);
	if (listen_port > 0)
		return ss_listen(listen_port);
	if (ss.port <= 0 || ss.port > 65535 || argc > 1 ||
	    (ss.interactive && argc != 0))
		ss_usage();

	if (ss.interactive) {
		ss_connect(0);
		rc = ss_interactive();
		free(ss.rx.p);
		close(ss.fd);
		return rc;
	}
	ss_read_file(argc ? argv[0] : "-", &in);
	ss_connect(
	    ss.via_bind && !ss.tcp ? ss_via_port(in.p ? in.p : "", in.len) : 0);
	ss_render(in.p ? in.p : "", in.len, &msg);
	if (mutate > 0) {
		ss_mutate(&msg, mutate);
		rc = 0;
		goto done;
	}
	t0 = ss_now_us();
	if (ss_send(&msg) == -1) {
		fprintf(stderr, "sipsend: connection closed by peer\n");
		return ss.want_close ? 0 : 3;
	}
	rc = ss_receive(ss.nwant, ss.want_close && ss.tcp, &finals);
	if (ss.timing)
		printf("#ms %.1f\n", (double)(ss_now_us() - t0) / 1000.0);
	if (rc == 3)
		fprintf(stderr, "sipsend: connection closed by peer\n");
	else if (rc == 1)
		fprintf(stderr, "sipsend: timeout (%d final responses)\n",
		        finals);
done:
	free(in.p);
	free(msg.p);
	free(ss.rx.p);
	close(ss.fd);
	return rc;
}
