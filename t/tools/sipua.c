/*
 * t/tools/sipua.c: a scripted phone for the end-to-end tests. It
 * registers with afd (over UDP from its own port, or over one TCP
 * connection), then answers the requests afd sends it for a while,
 * printing one line per event on stdout (line-buffered), for the scenario
 * to read:
 *
 *   READY <transport> <local port>
 *   RESP <status> <CSeq method>          a response to its own request
 *   REQ <method> <top Via branch> <ms>   a request from afd (ms since start)
 *   NOTIFY <CSeq> <version> <Subscription-State> <branch> <ms> d<N>
 *                                        a NOTIFY (after its REQ line) of
 *                                        subscription dialog N (0, then 1
 *                                        after "resub", ...); with -B its
 *                                        body is saved as DIR/<CSeq>.xml
 *                                        (dialog 0), DIR/d<N>-<CSeq>.xml
 *
 * With -S it subscribes to its own registration state (RFC 3680) after
 * registering. With -i it reads commands from stdin, one a line:
 *   reg N       REGISTER again (same Call-ID, next CSeq) with Expires N
 *   sub N       SUBSCRIBE (in the dialog once there is one) with Expires N
 *   resub N     SUBSCRIBE in a new dialog (after the old one ended)
 *   status N    answer afd's requests with N from now on
 *   silent 0|1  stop / start answering
 *   quit        exit
 *
 * usage: sipua -p PORT [-t] [-u USER] [-d DOMAIN] [-e EXPIRES] [-s STATUS]
 *              [-n] [-N COUNT] [-T SECONDS] [-D MS]
 *   -t        TCP (one connection for everything) instead of UDP
 *   -u USER   the AOR's user (default alice); -d DOMAIN its domain
 *   -e N      the REGISTER's Expires (default 600); -e 0: do not register
 *   -s N      answer afd's requests with status N (default 200)
 *   -n        never answer (a phone that died, or lost its network)
 *   -N COUNT  exit after COUNT requests from afd
 *   -T S      exit after S seconds (default 20)
 *   -D MS     answer each request MS milliseconds after it came (the
 *             phone blocks meanwhile: a slow phone)
 *   -S N      SUBSCRIBE to reg with Expires N after registering
 *   -B DIR    save NOTIFY bodies in DIR
 *   -i        read commands from stdin (above)
 * Exits 0 when it ran its time (or COUNT), 1 when the REGISTER failed,
 * 2 on a usage or socket error. 127.0.0.1 only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <talloc.h>

#include "sip/sip.h"

#define UA_BUF 65536

static int ua_fd = -1, ua_tcp;
static const char *ua_user, *ua_domain, *ua_dir;
static unsigned ua_port;
static long long ua_t0;
static unsigned ua_reg_cseq = 1, ua_sub_cseq, ua_sub_gen;
static char ua_sub_tag[128]; /* afd's tag of the subscription dialog */
static struct sockaddr_in ua_afd;
static char ua_in[UA_BUF];
static size_t ua_inlen;

static long long
ua_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
ua_send(const char *buf, size_t len)
{
	ssize_t n;

	if (ua_tcp) {
		while (len > 0) {
			if ((n = write(ua_fd, buf, len)) <= 0)
				return -1;
			buf += n;
			len -= (size_t)n;
		}
		return 0;
	}
	n = sendto(ua_fd, buf, len, 0, (struct sockaddr *)&ua_afd,
	           sizeof(ua_afd));
	return n == (ssize_t)len ? 0 : -1;
}

/* The next message: 1 with *msg (under ctx), 0 when none came within
 * wait_ms, -1 when the connection closed. */
static int
ua_recv(TALLOC_CTX *ctx, int wait_ms, struct sip_msg **msg)
{
	struct pollfd pfd = {.fd = ua_fd, .events = POLLIN};
	struct sip_err err;
	ssize_t n, r;
	size_t skip;
	int pings;

	for (;;) {
		if (ua_tcp && ua_inlen > 0) {
			r = sip_stream_frame(ua_in, ua_inlen, UA_BUF, &skip,
			                     &pings);
			if (r < 0)
				return -1;
			if (r > 0) {
				char *m = talloc_memdup(ctx, ua_in + skip,
				                        (size_t)r);
				memmove(ua_in, ua_in + skip + (size_t)r,
				        ua_inlen - skip - (size_t)r);
				ua_inlen -= skip + (size_t)r;
				if (m != NULL &&
				    sip_parse(ctx, m, (size_t)r, SIP_TP_TCP,
				              UA_BUF, msg, &err) == 0)
					return 1;
				continue;
			}
			if (skip > 0) {
				memmove(ua_in, ua_in + skip, ua_inlen - skip);
				ua_inlen -= skip;
			}
		}
		if (poll(&pfd, 1, wait_ms) <= 0)
			return 0;
		if (ua_tcp) {
			n = read(ua_fd, ua_in + ua_inlen, UA_BUF - ua_inlen);
			if (n <= 0)
				return -1;
			ua_inlen += (size_t)n;
			continue;
		}
		char *d = talloc_size(ctx, UA_BUF);
		if (d == NULL ||
		    (n = recv(ua_fd, d, UA_BUF, 0)) <= 0)
			continue;
		if (sip_parse(ctx, d, (size_t)n, SIP_TP_UDP, UA_BUF, msg,
		              &err) == 0)
			return 1;
	}
}

static void
ua_answer(TALLOC_CTX *ctx, const struct sip_msg *req, int status)
{
	size_t len;
	char *r = sip_resp_simple(ctx, req, status, NULL,
	                          (sip_str){"ua1", 3}, NULL, &len);

	if (r != NULL)
		ua_send(r, len);
}

/* Send a REGISTER with Expires expires (same Call-ID, next CSeq). */
static int
ua_register(int expires)
{
	char reg[2048];
	const char *tp = ua_tcp ? "TCP" : "UDP";
	int n = snprintf(
	    reg, sizeof(reg),
	    "REGISTER sip:%s SIP/2.0\r\n"
	    "Via: SIP/2.0/%s 127.0.0.1:%u;rport;branch=z9hG4bK-ua%lld-r%u\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@%s>;tag=ua%lld\r\n"
	    "To: <sip:%s@%s>\r\n"
	    "Call-ID: ua-%lld@127.0.0.1\r\n"
	    "CSeq: %u REGISTER\r\n"
	    "Contact: <sip:%s@127.0.0.1:%u;transport=%s>;"
	    "+sip.instance=\"<urn:gsma:imei:86539405-000273-%u>\";"
	    "+g.3gpp.icsi-ref=\"urn%%3Aurn-7%%3A3gpp-service.ims.icsi.mmtel\"\r\n"
	    "Expires: %d\r\nContent-Length: 0\r\n\r\n",
	    ua_domain, tp, ua_port, ua_t0, ua_reg_cseq, ua_user, ua_domain,
	    ua_t0, ua_user, ua_domain, ua_t0, ua_reg_cseq, ua_user, ua_port,
	    ua_tcp ? "tcp" : "udp", ua_port, expires);
	ua_reg_cseq++;
	return ua_send(reg, (size_t)n);
}

/* Send a SUBSCRIBE to reg (in the dialog once afd tagged it). */
static int
ua_subscribe(int expires)
{
	char buf[2048], to_tag[160] = "";
	const char *tp = ua_tcp ? "TCP" : "UDP";
	int n;

	if (ua_sub_tag[0] != '\0')
		snprintf(to_tag, sizeof(to_tag), ";tag=%s", ua_sub_tag);
	n = snprintf(
	    buf, sizeof(buf),
	    "SUBSCRIBE sip:%s@%s SIP/2.0\r\n"
	    "Via: SIP/2.0/%s 127.0.0.1:%u;rport;branch=z9hG4bK-ua%lld-s%u-%u\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@%s>;tag=sub%ux%lld\r\n"
	    "To: <sip:%s@%s>%s\r\n"
	    "Call-ID: sub%u-%lld@127.0.0.1\r\n"
	    "CSeq: %u SUBSCRIBE\r\n"
	    "Contact: <sip:%s@127.0.0.1:%u;transport=%s>\r\n"
	    "Event: reg\r\n"
	    "Accept: application/reginfo+xml\r\n"
	    "Expires: %d\r\nContent-Length: 0\r\n\r\n",
	    ua_user, ua_domain, tp, ua_port, ua_t0, ua_sub_gen,
	    ua_sub_cseq + 1, ua_user, ua_domain, ua_sub_gen, ua_t0, ua_user, ua_domain, to_tag,
	    ua_sub_gen, ua_t0, ua_sub_cseq + 1, ua_user, ua_port, ua_tcp ? "tcp" : "udp",
	    expires);
	ua_sub_cseq++;
	return ua_send(buf, (size_t)n);
}

/* Print (and save) a NOTIFY. */
static void
ua_notify(const struct sip_msg *m)
{
	const struct sip_hdr *ss = m->first[SIP_HDR_SUBSCRIPTION_STATE];
	const char *v = NULL;
	char version[32] = "-";

	size_t from = 0;

	/* the reginfo element's version, not the XML declaration's */
	for (; from + 8 < m->body.len; from++)
		if (memcmp(m->body.s + from, "<reginfo", 8) == 0)
			break;
	for (size_t i = from; i + 9 < m->body.len; i++) {
		if (memcmp(m->body.s + i, "version=\"", 9) == 0) {
			v = m->body.s + i + 9;
			break;
		}
	}
	if (v != NULL) {
		size_t k = 0;
		while (k + 1 < sizeof(version) &&
		       v + k < m->body.s + m->body.len && v[k] != '"') {
			version[k] = v[k];
			k++;
		}
		version[k] = '\0';
	}
	unsigned gen = 0;

	/* the dialog: our tag "sub<gen>x..." is the NOTIFY's To tag */
	if (m->to != NULL && m->to->tag.len > 3)
		gen = (unsigned)strtoul(m->to->tag.s + 3, NULL, 10);
	printf("NOTIFY %u %s %.*s %.*s %lld d%u\n", m->cseq.num, version,
	       ss ? (int)ss->value.len : 1, ss ? ss->value.s : "-",
	       m->via ? (int)m->via->branch.len : 0,
	       m->via ? m->via->branch.s : "", ua_ms() - ua_t0, gen);
	if (ua_dir != NULL) {
		char path[512];
		FILE *f;
		if (gen == 0)
			snprintf(path, sizeof(path), "%s/%u.xml", ua_dir,
			         m->cseq.num);
		else
			snprintf(path, sizeof(path), "%s/d%u-%u.xml", ua_dir,
			         gen, m->cseq.num);
		if ((f = fopen(path, "w")) != NULL) {
			fwrite(m->body.s, 1, m->body.len, f);
			fclose(f);
		}
	}
}

/* One command line from stdin; 1 to quit. */
static int
ua_command(char *line, int *status, int *silent)
{
	int n = 0;
	char cmd[16];

	if (sscanf(line, "%15s %d", cmd, &n) < 1)
		return 0;
	if (strcmp(cmd, "reg") == 0)
		ua_register(n);
	else if (strcmp(cmd, "sub") == 0)
		ua_subscribe(n);
	else if (strcmp(cmd, "resub") == 0) {
		ua_sub_gen++;
		ua_sub_cseq = 0;
		ua_sub_tag[0] = '\0';
		ua_subscribe(n);
	}
	else if (strcmp(cmd, "status") == 0)
		*status = n;
	else if (strcmp(cmd, "silent") == 0)
		*silent = n;
	else if (strcmp(cmd, "quit") == 0)
		return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *user = "alice", *domain = "ims.mnc001.mcc001.3gppnetwork.org";
	int port = 0, expires = 600, status = 200, silent = 0, count = -1;
	int secs = 20, c, seen = 0, delay = 0, sub = -1, cmds = 0, quit = 0;
	char line[256];
	size_t linelen = 0;
	struct sockaddr_in me;
	socklen_t melen = sizeof(me);
	long long t0 = ua_ms(), end;
	TALLOC_CTX *ctx;

	while ((c = getopt(argc, argv, "p:tu:d:e:s:nN:T:D:S:B:i")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 't': ua_tcp = 1; break;
		case 'u': user = optarg; break;
		case 'd': domain = optarg; break;
		case 'e': expires = atoi(optarg); break;
		case 's': status = atoi(optarg); break;
		case 'n': silent = 1; break;
		case 'N': count = atoi(optarg); break;
		case 'T': secs = atoi(optarg); break;
		case 'D': delay = atoi(optarg); break;
		case 'S': sub = atoi(optarg); break;
		case 'B': ua_dir = optarg; break;
		case 'i': cmds = 1; break;
		default: goto usage;
		}
	}
	if (port <= 0)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&ua_afd, 0, sizeof(ua_afd));
	ua_afd.sin_family = AF_INET;
	ua_afd.sin_port = htons((uint16_t)port);
	ua_afd.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&me, 0, sizeof(me));
	me.sin_family = AF_INET;
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ua_fd = socket(AF_INET, ua_tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (ua_fd == -1 || bind(ua_fd, (struct sockaddr *)&me, sizeof(me)) ||
	    (ua_tcp && connect(ua_fd, (struct sockaddr *)&ua_afd,
	                       sizeof(ua_afd)) == -1) ||
	    getsockname(ua_fd, (struct sockaddr *)&me, &melen) == -1) {
		perror("sipua: socket");
		return 2;
	}
	printf("READY %s %u\n", ua_tcp ? "tcp" : "udp", ntohs(me.sin_port));
	ua_user = user;
	ua_domain = domain;
	ua_port = ntohs(me.sin_port);
	ua_t0 = t0;
	ctx = talloc_new(NULL);
	if (expires > 0) {
		struct sip_msg *m;
		if (ua_register(expires) == -1 ||
		    ua_recv(ctx, 3000, &m) != 1 || m->is_request) {
			printf("RESP none REGISTER\n");
			return 1;
		}
		printf("RESP %d %.*s\n", m->status, (int)m->cseq.method.len,
		       m->cseq.method.s);
		if (m->status != 200)
			return 1;
	}
	if (sub >= 0)
		ua_subscribe(sub);
	end = t0 + (long long)secs * 1000;
	while (!quit && ua_ms() < end && (count < 0 || seen < count)) {
		struct pollfd pf[2] = {{.fd = ua_fd, .events = POLLIN},
		                       {.fd = 0, .events = POLLIN}};
		struct sip_msg *m;
		int r;

		talloc_free_children(ctx);
		/* a TCP message may wait in the buffer already */
		if (!(ua_tcp && ua_inlen > 0) &&
		    poll(pf, cmds ? 2 : 1, (int)(end - ua_ms())) <= 0)
			continue;
		if (cmds && (pf[1].revents & (POLLIN | POLLHUP))) {
			ssize_t k = read(0, line + linelen,
			                 sizeof(line) - 1 - linelen);
			if (k <= 0) {
				cmds = 0;
				continue;
			}
			linelen += (size_t)k;
			line[linelen] = '\0';
			char *nl;
			while ((nl = strchr(line, '\n')) != NULL) {
				*nl = '\0';
				quit |= ua_command(line, &status, &silent);
				memmove(line, nl + 1, strlen(nl + 1) + 1);
				linelen = strlen(line);
			}
			if (linelen == sizeof(line) - 1)
				linelen = 0;
			continue;
		}
		r = ua_recv(ctx, 0, &m);
		if (r == -1) {
			printf("CLOSED\n");
			break;
		}
		if (r == 0)
			continue;
		if (!m->is_request) {
			printf("RESP %d %.*s\n", m->status,
			       (int)m->cseq.method.len, m->cseq.method.s);
			if (m->cseq.mid == SIP_M_SUBSCRIBE && m->status == 200 &&
			    ua_sub_tag[0] == '\0' && m->to != NULL &&
			    m->to->tag.len > 0 &&
			    m->to->tag.len < sizeof(ua_sub_tag))
				memcpy(ua_sub_tag, m->to->tag.s, m->to->tag.len);
			continue;
		}
		seen++;
		printf("REQ %.*s %.*s %lld\n", (int)m->method.len, m->method.s,
		       m->via ? (int)m->via->branch.len : 0,
		       m->via ? m->via->branch.s : "", ua_ms() - t0);
		if (m->mid == SIP_M_NOTIFY)
			ua_notify(m);
		if (silent || m->mid == SIP_M_ACK)
			continue;
		if (delay > 0)
			usleep((useconds_t)delay * 1000);
		ua_answer(ctx, m, status);
	}
	talloc_free(ctx);
	close(ua_fd);
	return 0;
usage:
	fprintf(stderr, "usage: sipua -p PORT [-t] [-u USER] [-d DOMAIN] "
	                "[-e EXPIRES] [-s STATUS] [-n] [-N COUNT] [-T SECONDS] "
	                "[-D MS] [-S EXPIRES] [-B DIR] [-i]\n");
	return 2;
}
