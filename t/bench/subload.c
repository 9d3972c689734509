/*
 * subload: the reg event's load generator (t/bench/README.md). Each UE (a
 * distinct AOR, ue<k>@domain, all behind one UDP socket on loopback)
 * registers, subscribes to its own registration state and answers the
 * first NOTIFY; with -P it only registers (the plain REGISTER rate of the
 * same run, for comparison). Closed loop: -w UEs are in progress at any
 * time, a new one starts when one finishes, for -d seconds.
 *
 * A UE that waits more than 5 s for its next message is counted failed and
 * its slot reused (no retransmissions: on loopback with a bounded window
 * nothing is lost unless the server is overloaded, and that is what the
 * failure count shows).
 *
 * Output: one line, "ues=N ue_per_s=R notify_per_s=R failed=N p50_ms=L
 * p99_ms=L notify_p50_ms=L notify_p99_ms=L". The rates count what was
 * done within the -d seconds (not the wait for the last UEs); p50/p99 are
 * of a UE's whole sequence (its REGISTER sent to its last message: the
 * NOTIFY, or the SUBSCRIBE's 200 when that came last; with -P the
 * REGISTER's 200), notify_ of the SUBSCRIBE sent to its NOTIFY's arrival.
 * Only 127.0.0.0/8 targets are accepted (the socket is connected to
 * 127.0.0.1).
 *
 * usage: subload -p PORT [-d SECONDS] [-w WINDOW] [-D DOMAIN] [-P]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SL_MAXW 1024

enum sl_stage { SL_FREE, SL_REG, SL_SUB, SL_NOTIFY };

struct sl_ue {
	enum sl_stage stage;
	unsigned k;
	double since;
	double start; /* REGISTER sent */
	double sub;   /* SUBSCRIBE sent */
	int got_200;  /* SUBSCRIBE answered */
};

/* Latencies (ms) of what finished within the run, for percentiles. */
struct sl_lat {
	double *v;
	size_t n, cap;
};

static void
sl_lat_add(struct sl_lat *l, double ms)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 65536;
		double *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return; /* (a percentile of fewer samples) */
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ms;
}

static int
sl_dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of l (sorted here), 0 when empty. */
static double
sl_pct(struct sl_lat *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), sl_dbl_cmp);
	i = (size_t)(p / 100 * (double)(l->n - 1) + 0.5);
	return l->v[i < l->n ? i : l->n - 1];
}

static int sl_fd;
static unsigned sl_lport;
static char sl_run[16];
static const char *sl_domain = "ims.mnc001.mcc001.3gppnetwork.org";

static double
sl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sl_send(const char *buf, int n)
{
	if (n > 0 && send(sl_fd, buf, (size_t)n, 0) == -1)
		perror("subload: send");
}

static void
sl_register(unsigned slot, unsigned k)
{
	char b[1500];
	int n = snprintf(
	    b, sizeof(b),
	    "REGISTER sip:%s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bK-%s-r%u-%u\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:ue%u-%s@%s>;tag=r%u\r\n"
	    "To: <sip:ue%u-%s@%s>\r\n"
	    "Call-ID: r%u-%u-%s\r\n"
	    "CSeq: 1 REGISTER\r\n"
	    "Contact: <sip:ue%u@127.0.0.1:%u>;+sip.instance=\"<urn:gsma:imei:"
	    "86539405-000273-%u>\";+g.3gpp.icsi-ref=\"urn%%3Aurn-7%%3A3gpp-"
	    "service.ims.icsi.mmtel\"\r\n"
	    "Expires: 600000\r\nContent-Length: 0\r\n\r\n",
	    sl_domain, sl_lport, sl_run, slot, k, k, sl_run, sl_domain, k, k,
	    sl_run, sl_domain, slot, k, sl_run, k, sl_lport, k);
	sl_send(b, n);
}

static void
sl_subscribe(unsigned slot, unsigned k)
{
	char b[1500];
	int n = snprintf(
	    b, sizeof(b),
	    "SUBSCRIBE sip:ue%u-%s@%s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bK-%s-s%u-%u\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:ue%u-%s@%s>;tag=s%u\r\n"
	    "To: <sip:ue%u-%s@%s>\r\n"
	    "Call-ID: s%u-%u-%s\r\n"
	    "CSeq: 1 SUBSCRIBE\r\n"
	    "Contact: <sip:ue%u@127.0.0.1:%u>\r\n"
	    "Event: reg\r\nAccept: application/reginfo+xml\r\n"
	    "Expires: 600000\r\nContent-Length: 0\r\n\r\n",
	    k, sl_run, sl_domain, sl_lport, sl_run, slot, k, k, sl_run,
	    sl_domain, k, k, sl_run, sl_domain, slot, k, sl_run, k, sl_lport);
	sl_send(b, n);
}

/* A header's value in msg (first match, case-sensitive name), or NULL;
 * *len its length. */
static const char *
sl_hdr(const char *msg, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *p = msg, *e;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ')
				p++;
			e = strstr(p, "\r\n");
			*len = e ? (size_t)(e - p) : strlen(p);
			return p;
		}
	}
	return NULL;
}

/* Answer the NOTIFY in msg with 200 (its Via, From, To, Call-ID, CSeq). */
static void
sl_answer(const char *msg)
{
	static const char *const h[] = {"Via", "From", "To", "Call-ID", "CSeq"};
	char b[2000];
	int n = snprintf(b, sizeof(b), "SIP/2.0 200 OK\r\n");

	for (size_t i = 0; i < 5; i++) {
		size_t len;
		const char *v = sl_hdr(msg, h[i], &len);
		if (v == NULL)
			return;
		n += snprintf(b + n, sizeof(b) - (size_t)n, "%s: %.*s\r\n",
		              h[i], (int)len, v);
	}
	n +=
	    snprintf(b + n, sizeof(b) - (size_t)n, "Content-Length: 0\r\n\r\n");
	sl_send(b, n);
}

int
main(int argc, char **argv)
{
	static struct sl_ue ue[SL_MAXW];
	static char in[65536];
	struct sl_lat lat = {0}, nlat = {0};
	struct sockaddr_in dst, me;
	socklen_t melen = sizeof(me);
	double secs = 10, t0, end;
	unsigned window = 64, next = 0, done = 0, failed = 0, notifies = 0;
	int port = 0, plain = 0, c, buf = 8 << 20;

	while ((c = getopt(argc, argv, "p:d:w:D:P")) != -1) {
		switch (c) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'd':
			secs = atof(optarg);
			break;
		case 'w':
			window = (unsigned)atoi(optarg);
			break;
		case 'D':
			sl_domain = optarg;
			break;
		case 'P':
			plain = 1;
			break;
		default:
			goto usage;
		}
	}
	if (port <= 0 || window == 0 || window > SL_MAXW || secs <= 0 ||
	    secs > 600)
		goto usage;
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&me, 0, sizeof(me));
	me.sin_family = AF_INET;
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((sl_fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(sl_fd, (struct sockaddr *)&me, sizeof(me)) == -1 ||
	    connect(sl_fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 ||
	    getsockname(sl_fd, (struct sockaddr *)&me, &melen) == -1) {
		perror("subload: socket");
		return 2;
	}
	/* room for a window's NOTIFYs arriving at once (as root past
	 * rmem_max) */
	if (setsockopt(sl_fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) ==
	    -1)
		(void)setsockopt(sl_fd, SOL_SOCKET, SO_RCVBUF, &buf,
		                 sizeof(buf));
	if (setsockopt(sl_fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) ==
	    -1)
		(void)setsockopt(sl_fd, SOL_SOCKET, SO_SNDBUF, &buf,
		                 sizeof(buf));
	sl_lport = ntohs(me.sin_port);
	snprintf(sl_run, sizeof(sl_run), "%x", (unsigned)getpid());
	t0 = sl_now();
	end = t0 + secs;
	for (unsigned i = 0; i < window; i++) {
		ue[i].stage = SL_REG;
		ue[i].k = next++;
		ue[i].since = ue[i].start = t0;
		sl_register(i, ue[i].k);
	}
	for (;;) {
		struct pollfd pf = {.fd = sl_fd, .events = POLLIN};
		double now = sl_now();
		int active = 0;

		for (unsigned i = 0; i < window; i++) {
			if (ue[i].stage == SL_FREE)
				continue;
			if (now - ue[i].since > 5) {
				failed++;
				ue[i].stage = SL_FREE;
				if (now < end) {
					ue[i].stage = SL_REG;
					ue[i].k = next++;
					ue[i].since = ue[i].start = now;
					sl_register(i, ue[i].k);
				}
			}
			active += ue[i].stage != SL_FREE;
		}
		if (now >= end && active == 0)
			break;
		if (poll(&pf, 1, 100) <= 0)
			continue;
		for (int burst = 0; burst < 64; burst++) {
			ssize_t n =
			    recv(sl_fd, in, sizeof(in) - 1, MSG_DONTWAIT);
			unsigned slot, k;
			size_t len;
			const char *cid;
			char kind;

			if (n <= 0)
				break;
			in[n] = '\0';
			if ((cid = sl_hdr(in, "Call-ID", &len)) == NULL ||
			    sscanf(cid, "%c%u-%u-", &kind, &slot, &k) != 3 ||
			    slot >= window || ue[slot].stage == SL_FREE ||
			    ue[slot].k != k)
				continue;
			now = sl_now();
			if (strncmp(in, "NOTIFY ", 7) == 0) {
				sl_answer(in);
				if (now <= end)
					notifies++;
				if (ue[slot].stage != SL_SUB &&
				    ue[slot].stage != SL_NOTIFY)
					continue;
				if (ue[slot].stage == SL_SUB && now <= end)
					sl_lat_add(&nlat,
					           (now - ue[slot].sub) * 1e3);
				ue[slot].stage = SL_NOTIFY;
			} else if (strncmp(in, "SIP/2.0 200", 11) == 0) {
				if (kind == 'r' && ue[slot].stage == SL_REG) {
					if (plain) {
						ue[slot].stage = SL_NOTIFY;
						ue[slot].got_200 = 1;
					} else {
						ue[slot].stage = SL_SUB;
						ue[slot].got_200 = 0;
						ue[slot].since = ue[slot].sub =
						    now;
						sl_subscribe(slot, k);
						continue;
					}
				} else if (kind == 's') {
					ue[slot].got_200 = 1;
				}
			} else if (strncmp(in, "SIP/2.0 1", 9) != 0) {
				failed++;
				ue[slot].stage = SL_FREE;
			}
			/* done: registered (plain), or subscribed and the
			 * first NOTIFY answered */
			if (ue[slot].stage == SL_NOTIFY && ue[slot].got_200) {
				if (now <= end) {
					done++;
					sl_lat_add(
					    &lat, (now - ue[slot].start) * 1e3);
				}
				ue[slot].stage = SL_FREE;
			}
			if (ue[slot].stage == SL_FREE && now < end) {
				ue[slot].stage = SL_REG;
				ue[slot].k = next++;
				ue[slot].since = ue[slot].start = now;
				sl_register(slot, ue[slot].k);
			}
		}
	}
	printf("ues=%u ue_per_s=%.0f notify_per_s=%.0f failed=%u p50_ms=%.2f "
	       "p99_ms=%.2f notify_p50_ms=%.2f notify_p99_ms=%.2f\n",
	       done, done / secs, notifies / secs, failed, sl_pct(&lat, 50),
	       sl_pct(&lat, 99), sl_pct(&nlat, 50), sl_pct(&nlat, 99));
	free(lat.v);
	free(nlat.v);
	return failed ? 3 : 0;
usage:
	fprintf(stderr,
	        "usage: subload -p PORT [-d SECONDS] [-w WINDOW] [-D DOMAIN] "
	        "[-P]\n");
	return 2;
}
