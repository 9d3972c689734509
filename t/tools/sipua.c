/*
 * t/tools/sipua.c: a scripted phone for the end-to-end tests. It
 * registers with afd (over UDP from its own port, or over one TCP
 * connection), then answers the requests afd sends it for a while,
 * printing one line per event on stdout (line-buffered), for the scenario
 * to read:
 *
 *   READY <transport> <local port>
 *   RESP <status> <CSeq method> <ms>     a response to its own request
 *   REQ <method> <top Via branch> <ms>   a request from afd (ms since start)
 *   SENT <method> <ms>                   a request or answer of a call it sent
 *   INFO <what> <value>                  a fact for the scenario (a header
 *                                        value it saw: "INFO To-tag ...")
 *   NOTIFY <CSeq> <version> <Subscription-State> <branch> <ms> d<N>
 *                                        a NOTIFY (after its REQ line) of
 *                                        subscription dialog N (0, then 1
 *                                        after "resub", ...); with -B its
 *                                        body is saved as DIR/<CSeq>.xml
 *                                        (dialog 0), DIR/d<N>-<CSeq>.xml
 *
 * With -S it subscribes to its own registration state (RFC 3680) after
 * registering. With -i it reads commands from stdin, one a line, and
 * prints "CMD <line>" once it has acted on one:
 *   reg N       REGISTER again (same Call-ID, next CSeq) with Expires N
 *   sub N       SUBSCRIBE (in the dialog once there is one) with Expires N
 *   resub N     SUBSCRIBE in a new dialog (after the old one ended)
 *   status N    answer afd's requests with N from now on
 *   silent 0|1  stop / start answering
 *   quit        exit
 *
 * It also places and answers calls (afd is then the other end of each
 * leg): as the callee it answers an INVITE with 180 (or 183 with 100rel,
 * -r) and then its final status, answers BYE and CANCEL; as the caller
 * (-c) it sends one INVITE, ACKs the 2xx and hangs up or cancels when
 * told.
 *
 * usage: sipua -p PORT [-t] [-u USER] [-d DOMAIN] [-e EXPIRES] [-s STATUS]
 *              [-n] [-N COUNT] [-T SECONDS] [-D MS]
 *              [-c CALLEE] [-b] [-U] [-X MS] [-H MS] [-M] [-I STATUS]
 *              [-R MS] [-K] [-r] [-Q RSEQ] [-V] [-A MS] [-W MS] [-G MS]
 *              [-P PW] [-F] [-S EXPIRES] [-B DIR] [-i]
 *   -t        TCP (one connection for everything) instead of UDP
 *   -u USER   the AOR's user (default alice); -d DOMAIN its domain
 *   -e N      the REGISTER's Expires (default 600); -e 0: do not register
 *   -s N      answer afd's requests with status N (default 200)
 *   -n        never answer (a phone that died, or lost its network)
 *   -N COUNT  exit after COUNT requests from afd
 *   -T S      exit after S seconds (default 20)
 *   -D MS     answer each request MS milliseconds after it came (the
 *             phone blocks meanwhile: a slow phone)
 *   -c USER   call sip:USER@DOMAIN once registered (the caller)
 *   -b        the INVITE is a VoLTE phone's: 1.4 kB SDP, IMS headers,
 *             Route to afd, Require/Proxy-Require: sec-agree,
 *             Security-Verify (as in ../shared/seeds/001 and 003)
 *   -U        send the ACK over UDP even when the call is over TCP (the
 *             seed's flow: the UDP worker gets it)
 *   -X MS     the caller cancels MS ms after its INVITE
 *   -H MS     hang up (BYE) MS ms after the call is up (caller: after the
 *             2xx; callee: after the ACK)
 *   -M        send a MESSAGE (pager mode) to -c USER instead of calling
 *             (body "hello-from-USER-N"; a MESSAGE from afd is printed as
 *             "INFO message BODY" and answered with -s STATUS)
 *   -I N      the callee's final answer to an INVITE (default 200; 0: none,
 *             keep ringing)
 *   -R MS     the callee rings MS ms before its final answer (default 0)
 *   -K        the callee answers a CANCEL 200 but goes on with its INVITE
 *             (its final answer crosses the CANCEL, as when it answered
 *             just before the CANCEL came)
 *   -r        the callee sends 183 reliably (RSeq, Require: 100rel) and
 *             waits for the PRACK before ringing; the caller PRACKs a
 *             reliable provisional and sends an UPDATE after it (each in
 *             the early dialog of the last provisional's To tag, printed
 *             as "INFO To-tag STATUS TAG" for every provisional and 2xx)
 *   -Q N      the RSeq of the callee's reliable 183 (default 7)
 *   -V        the caller sends a re-INVITE (hold) once the call is up
 *   -A MS     the caller sends its ACK MS ms after the 2xx (blocking)
 *   -W MS     the caller ACKs no 2xx to its INVITE that comes within MS ms
 *             of the first one (as if its ACKs were lost: afd must send
 *             the 2xx again); prints "INFO 2xx not ACKed" for each
 *   -G MS     the caller drops every 2xx to its INVITE that comes within
 *             MS ms of the first one, unread (as if lost on the way: the
 *             call is up with the first one after); prints "INFO 2xx
 *             lost <ms>" for each
 *   -P PW     answer a 401 to the REGISTER with Digest (qop=auth, the user
 *             name as the username, password PW)
 *   -F        register with a VoLTE UE's feature tags on the Contact
 *             (+sip.instance with an IMEI ending in the local port,
 *             +g.3gpp.icsi-ref for MMTel)
 *   -S N      SUBSCRIBE to reg with Expires N after registering
 *   -B DIR    save NOTIFY bodies in DIR; also each 2xx to the caller's
 *             INVITE as it came (DIR/2xx-1.sip, 2xx-2.sip, ...) and the
 *             last 2xx the callee sent to an INVITE (DIR/sent-2xx.sip)
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
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <talloc.h>

#include "sip/digest.h"
#include "sip/sip.h"

#define UA_BUF 65536

static int ua_fd = -1, ua_tcp, ua_ufd = -1;
static struct sockaddr_in ua_afd;
static long long ua_t0;
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
				char *m =
				    talloc_memdup(ctx, ua_in + skip, (size_t)r);
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
		if (d == NULL || (n = recv(ua_fd, d, UA_BUF, 0)) <= 0)
			continue;
		if (sip_parse(ctx, d, (size_t)n, SIP_TP_UDP, UA_BUF, msg,
		              &err) == 0)
			return 1;
	}
}

static int
ua_send_udp(const char *buf, size_t len)
{
	ssize_t n = sendto(ua_ufd, buf, len, 0, (struct sockaddr *)&ua_afd,
	                   sizeof(ua_afd));
	return n == (ssize_t)len ? 0 : -1;
}

static long long
ua_now(void)
{
	return ua_ms() - ua_t0;
}

static unsigned short ua_port;
static const char *ua_dir; /* -B */

/* -B: keep len bytes of buf as the file DIR/name (a 2xx as it came or
 * went, for the scenario to compare byte for byte). */
static void
ua_save(const char *name, const char *buf, size_t len)
{
	char path[512];
	FILE *f;

	if (ua_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", ua_dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return;
	fwrite(buf, 1, len, f);
	fclose(f);
}

/* Answer req with status (and extra header lines, a body). Its To tag is
 * "ua" and the local port: two phones of one AOR differ. */
static void
ua_respond(TALLOC_CTX *ctx, const struct sip_msg *req, int status,
           const char *extra, const char *body)
{
	struct sip_buf b;
	char tag[16];

	snprintf(tag, sizeof(tag), "ua%u", ua_port);
	sip_buf_init(&b, ctx, 1024);
	sip_resp_start(&b, req, status, NULL, (sip_str){tag, strlen(tag)});
	if (extra != NULL)
		sip_buf_add(&b, extra, strlen(extra));
	if (body != NULL)
		sip_buf_add(&b, "Content-Type: application/sdp\r\n", 31);
	sip_buf_finish(&b, body ? (sip_str){body, strlen(body)} : SIP_STR_NULL);
	if (b.oom)
		return;
	ua_send(b.s, b.len);
	if (status >= 200 && status < 300 && req->cseq.mid == SIP_M_INVITE)
		ua_save("sent-2xx.sip", b.s, b.len);
}

static void
ua_answer(TALLOC_CTX *ctx, const struct sip_msg *req, int status)
{
	ua_respond(ctx, req, status, NULL, NULL);
}

/* An SDP offer or answer; big: about 1.4 kB, as a VoLTE phone's. */
static char *
ua_sdp(TALLOC_CTX *ctx, int port, int big)
{
	char *s = talloc_asprintf(ctx,
	                          "v=0\r\no=ua 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
	                          "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	                          "m=audio %d RTP/AVP 97 98 8 0 101\r\n"
	                          "a=rtpmap:97 AMR-WB/16000\r\n"
	                          "a=rtpmap:101 telephone-event/8000\r\n"
	                          "a=curr:qos local none\r\n"
	                          "a=curr:qos remote none\r\n"
	                          "a=des:qos mandatory local sendrecv\r\n"
	                          "a=des:qos optional remote sendrecv\r\n"
	                          "a=sendrecv\r\n",
	                          port);
	while (big && s != NULL && strlen(s) < 1400)
		s = talloc_asprintf_append(
		    s, "a=fmtp:97 mode-change-capability=2;max-red=0;"
		       "octet-align=1\r\n");
	return s;
}

/* The state of the one call a phone takes part in. */
struct ua_call {
	int active; /* an INVITE is being set up or the call is up */
	int up;     /* 2xx exchanged */
	int caller;
	char call_id[128], ltag[64], rtag[128];
	char luri[700], ruri[700];
	char target[700]; /* the other end's Contact (afd) */
	unsigned cseq;    /* our last request's */
	unsigned inv_cseq;
	char inv_branch[64];
	char *invite; /* callee: the INVITE being answered (raw) */
	size_t invlen;
	long long final_at, hangup_at, cancel_at, update_at, reinv_at;
	long long first_2xx_at; /* -W: when the first 2xx came (+1) */
	int final_status;
	int prack_wait; /* callee: 183 sent reliably, PRACK pending */
};

static struct ua_call ua_c;
static unsigned ua_branch_n;
static int ua_big, ua_ack_udp, ua_rel, ua_reinv, ua_ack_delay, ua_nocancel;
static int ua_ack_withhold;       /* -W */
static unsigned long ua_rseq = 7; /* -Q */
static int ua_lose_2xx;           /* -G */
static long long ua_lost_from;    /* -G: when the first 2xx came (+1) */
static unsigned ua_n2xx;          /* -B: 2xx to the INVITE kept so far */
static const char *ua_user = "alice";

/* Send a request of the call. body may be NULL. */
static void
ua_call_request(TALLOC_CTX *ctx, const char *method, unsigned cseq,
                const char *extra, const char *body, int over_udp)
{
	struct ua_call *c = &ua_c;
	struct sip_buf b;
	int udp = over_udp || !ua_tcp;

	sip_buf_init(&b, ctx, 2048);
	sip_buf_addf(&b, "%s %s SIP/2.0\r\n", method, c->target);
	sip_buf_addf(
	    &b,
	    "Via: SIP/2.0/%s 127.0.0.1:%u;rport;branch=z9hG4bK-ua%u-%lld\r\n",
	    udp ? "UDP" : "TCP", ua_port, ++ua_branch_n, ua_t0);
	sip_buf_addf(&b, "Max-Forwards: 70\r\n");
	sip_buf_addf(&b, "From: <%s>;tag=%s\r\n", c->luri, c->ltag);
	if (c->rtag[0])
		sip_buf_addf(&b, "To: <%s>;tag=%s\r\n", c->ruri, c->rtag);
	else
		sip_buf_addf(&b, "To: <%s>\r\n", c->ruri);
	sip_buf_addf(&b, "Call-ID: %s\r\n", c->call_id);
	sip_buf_addf(&b, "CSeq: %u %s\r\n", cseq, method);
	sip_buf_addf(&b, "Contact: <sip:%s@127.0.0.1:%u;transport=%s>\r\n",
	             ua_user, ua_port, ua_tcp ? "tcp" : "udp");
	if (extra != NULL)
		sip_buf_add(&b, extra, strlen(extra));
	if (body != NULL)
		sip_buf_add(&b, "Content-Type: application/sdp\r\n", 31);
	sip_buf_finish(&b, body ? (sip_str){body, strlen(body)} : SIP_STR_NULL);
	if (b.oom)
		return;
	if (strcmp(method, "INVITE") == 0 && !c->up)
		snprintf(c->inv_branch, sizeof(c->inv_branch),
		         "z9hG4bK-ua%u-%lld", ua_branch_n, ua_t0);
	if (udp && ua_tcp)
		ua_send_udp(b.s, b.len);
	else
		ua_send(b.s, b.len);
	printf("SENT %s %lld\n", method, ua_now());
}

/* The caller's first INVITE to sip:callee@domain. */
static void
ua_invite(TALLOC_CTX *ctx, const char *user, const char *callee,
          const char *domain)
{
	struct ua_call *c = &ua_c;
	char extra[2048];

	memset(c, 0, sizeof(*c));
	c->active = c->caller = 1;
	snprintf(c->call_id, sizeof(c->call_id), "call-%lld-%d@127.0.0.1",
	         ua_t0, (int)getpid());
	snprintf(c->ltag, sizeof(c->ltag), "c%lld", ua_t0);
	snprintf(c->luri, sizeof(c->luri), "sip:%s@%s", user, domain);
	snprintf(c->ruri, sizeof(c->ruri), "sip:%s@%s", callee, domain);
	memcpy(c->target, c->ruri, sizeof(c->target));
	/* a VoLTE phone's CSeq is anything (the seed's 33302): the B-leg's
	 * starts at 1, so RAck must be mapped */
	c->cseq = c->inv_cseq = ua_big ? 33302 : 1;
	extra[0] = '\0';
	if (ua_big)
		snprintf(
		    extra, sizeof(extra),
		    "Route: <sip:127.0.0.1:%d;lr>\r\n"
		    "Accept: application/sdp, application/3gpp-ims+xml\r\n"
		    "P-Preferred-Service: "
		    "urn:urn-7:3gpp-service.ims.icsi.mmtel\r\n"
		    "Accept-Contact: "
		    "*;+g.3gpp.icsi-ref=\"urn%%3Aurn-7%%3A3gpp-service.ims."
		    "icsi.mmtel\"\r\n"
		    "Allow: INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, "
		    "MESSAGE\r\n"
		    "P-Access-Network-Info: "
		    "3GPP-NR-TDD;utran-cell-id-3gpp=0010100313200001c001\r\n"
		    "P-Early-Media: supported\r\n"
		    "P-Preferred-Identity: <sip:%s@%s>\r\n"
		    "Supported: 100rel, precondition, timer\r\n"
		    "Require: sec-agree\r\nProxy-Require: sec-agree\r\n"
		    "Security-Verify: ipsec-3gpp; q=0.1; alg=hmac-sha-1-96; "
		    "spi-c=9876543; spi-s=3456789; port-c=8642; "
		    "port-s=7531\r\n",
		    ntohs(ua_afd.sin_port), user, domain);
	else if (ua_rel)
		snprintf(extra, sizeof(extra), "Supported: 100rel\r\n");
	ua_call_request(ctx, "INVITE", c->inv_cseq, extra,
	                ua_sdp(ctx, 4000, ua_big), 0);
}

/* The caller got a response to its INVITE. */
static void
ua_caller_resp(TALLOC_CTX *ctx, const struct sip_msg *m, int hangup_ms,
               int cancel_ms)
{
	struct ua_call *c = &ua_c;
	struct sip_addr *a = NULL;

	if (m->to->tag.len > 0 && m->status > 100) {
		snprintf(c->rtag, sizeof(c->rtag), "%.*s", (int)m->to->tag.len,
		         m->to->tag.s);
		if (m->status < 300)
			printf("INFO To-tag %d %s\n", m->status, c->rtag);
	}
	if (sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a) == 0 && a)
		snprintf(c->target, sizeof(c->target), "%.*s",
		         (int)a->uri.raw.len, a->uri.raw.s);
	if (m->status > 100 && m->status < 200 && m->first[SIP_HDR_RSEQ]) {
		char extra[128];
		printf("INFO RSeq %.*s\n",
		       (int)m->first[SIP_HDR_RSEQ]->value.len,
		       m->first[SIP_HDR_RSEQ]->value.s);
		snprintf(extra, sizeof(extra), "RAck: %.*s %u INVITE\r\n",
		         (int)m->first[SIP_HDR_RSEQ]->value.len,
		         m->first[SIP_HDR_RSEQ]->value.s, c->inv_cseq);
		ua_call_request(ctx, "PRACK", ++c->cseq, extra, NULL, 0);
		c->update_at = ua_now() + 50;
	}
	if (m->status >= 200 && m->status < 300 && ua_ack_withhold > 0 &&
	    m->cseq.num == c->inv_cseq) {
		if (c->first_2xx_at == 0)
			c->first_2xx_at = ua_now() + 1;
		if (ua_now() + 1 < c->first_2xx_at + ua_ack_withhold) {
			printf("INFO 2xx not ACKed\n");
			return;
		}
	}
	if (m->status >= 200 && m->status < 300 && !c->up) {
		c->up = 1;
		if (ua_ack_delay > 0) /* a slow phone: 2xx retransmissions */
			usleep((useconds_t)ua_ack_delay * 1000);
		ua_call_request(ctx, "ACK", c->inv_cseq, NULL, NULL,
		                ua_ack_udp);
		if (hangup_ms >= 0)
			c->hangup_at = ua_now() + hangup_ms;
		if (ua_reinv)
			c->reinv_at = ua_now() + 100;
		c->cancel_at = 0;
	} else if (m->status >= 200 && m->status < 300) {
		/* a retransmitted 2xx, or that of a re-INVITE */
		if (m->cseq.num != c->inv_cseq)
			return;
		ua_call_request(ctx, "ACK", c->inv_cseq, NULL, NULL,
		                ua_ack_udp);
	} else if (m->status >= 300) {
		c->active = 0; /* afd's transaction ACKs nothing for us: */
		/* the ACK of a non-2xx (same branch, RFC 3261 17.1.1.3) */
		struct sip_buf b;
		sip_buf_init(&b, ctx, 512);
		sip_buf_addf(&b, "ACK %s SIP/2.0\r\n", c->ruri);
		sip_buf_addf(&b,
		             "Via: SIP/2.0/%s 127.0.0.1:%u;rport;branch=%s\r\n",
		             ua_tcp ? "TCP" : "UDP", ua_port, c->inv_branch);
		sip_buf_addf(&b, "Max-Forwards: 70\r\nFrom: <%s>;tag=%s\r\n",
		             c->luri, c->ltag);
		sip_buf_addf(&b, "To: %.*s\r\nCall-ID: %s\r\nCSeq: %u ACK\r\n",
		             (int)m->to->raw.len, m->to->raw.s, c->call_id,
		             c->inv_cseq);
		sip_buf_finish(&b, SIP_STR_NULL);
		if (!b.oom)
			ua_send(b.s, b.len);
	}
}

/* The callee got an INVITE: 100, then 180 (or a reliable 183). */
static void
ua_callee_invite(TALLOC_CTX *ctx, const struct sip_msg *m, int final,
                 int ring_ms)
{
	struct ua_call *c = &ua_c;
	struct sip_addr *a = NULL;

	if (c->active && !c->up && m->to->tag.len == 0)
		return;                    /* a retransmission */
	if (m->to->tag.len > 0 && c->up) { /* a re-INVITE */
		char contact[160];
		snprintf(contact, sizeof(contact),
		         "Contact: <sip:callee@127.0.0.1:%u;transport=%s>\r\n",
		         ua_port, ua_tcp ? "tcp" : "udp");
		printf("INFO reINVITE %s\n",
		       strstr(m->body.s ? m->body.s : "", "sendonly")
		           ? "sendonly"
		           : "-");
		ua_respond(ctx, m, 200, contact, ua_sdp(ctx, 5000, 0));
		printf("SENT 200 %lld\n", ua_now());
		return;
	}
	memset(c, 0, sizeof(*c));
	c->active = 1;
	c->invite = talloc_memdup(NULL, m->buf, m->len);
	c->invlen = m->len;
	snprintf(c->call_id, sizeof(c->call_id), "%.*s", (int)m->call_id.len,
	         m->call_id.s);
	/* a tag of its own: two phones of one AOR answer a forked call */
	snprintf(c->ltag, sizeof(c->ltag), "ua%u", ua_port);
	snprintf(c->rtag, sizeof(c->rtag), "%.*s", (int)m->from->tag.len,
	         m->from->tag.s);
	snprintf(c->luri, sizeof(c->luri), "%.*s", (int)m->to->uri.raw.len,
	         m->to->uri.raw.s);
	snprintf(c->ruri, sizeof(c->ruri), "%.*s", (int)m->from->uri.raw.len,
	         m->from->uri.raw.s);
	if (sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a) == 0 && a)
		snprintf(c->target, sizeof(c->target), "%.*s",
		         (int)a->uri.raw.len, a->uri.raw.s);
	c->final_status = final;
	for (const struct sip_hdr *h = m->hdrs; h != NULL; h = h->next)
		if (h->id == SIP_HDR_OTHER || h->id == SIP_HDR_REQUIRE ||
		    h->id == SIP_HDR_PROXY_REQUIRE)
			printf("INFO hdr %.*s: %.*s\n", (int)h->name.len,
			       h->name.s, (int)h->value.len, h->value.s);
	printf("INFO body %zu\n", m->body.len);
	printf("INFO Max-Forwards %d\n", m->max_forwards);
	ua_respond(ctx, m, 100, NULL, NULL);
	if (ua_rel &&
	    sip_hdr_has_token(m->first[SIP_HDR_SUPPORTED], "100rel")) {
		char extra[256];
		snprintf(extra, sizeof(extra),
		         "Require: 100rel\r\nRSeq: %lu\r\n"
		         "Contact: <sip:callee@127.0.0.1:%u;transport=%s>\r\n",
		         ua_rseq, ua_port, ua_tcp ? "tcp" : "udp");
		ua_respond(ctx, m, 183, extra, ua_sdp(ctx, 5000, 0));
		printf("SENT 183 %lld\n", ua_now());
		c->prack_wait = 1;
		return;
	}
	ua_respond(ctx, m, 180, NULL, NULL);
	printf("SENT 180 %lld\n", ua_now());
	if (final > 0)
		c->final_at = ua_now() + ring_ms;
}

/* The callee's final answer to the INVITE it holds. */
static void
ua_callee_final(TALLOC_CTX *ctx)
{
	struct ua_call *c = &ua_c;
	struct sip_msg *m;
	struct sip_err err;
	char contact[160];

	c->final_at = 0;
	if (c->invite == NULL ||
	    sip_parse(ctx, c->invite, c->invlen,
	              ua_tcp ? SIP_TP_TCP : SIP_TP_UDP, UA_BUF, &m, &err) == -1)
		return;
	snprintf(contact, sizeof(contact),
	         "Contact: <sip:callee@127.0.0.1:%u;transport=%s>\r\n", ua_port,
	         ua_tcp ? "tcp" : "udp");
	if (c->final_status < 300)
		ua_respond(ctx, m, c->final_status, contact,
		           ua_sdp(ctx, 5000, 0));
	else {
		ua_respond(ctx, m, c->final_status, NULL, NULL);
		c->active = 0;
	}
	printf("SENT %d %lld\n", c->final_status, ua_now());
}

/* The value of Digest parameter name in a challenge v (quoted or not)
 * into out; 0 or -1. */
static int
ua_dparam(sip_str v, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl + 1 < v.len; i++) {
		const char *p = v.s + i, *e, *end = v.s + v.len;
		if ((i > 0 && p[-1] != ' ' && p[-1] != ',') ||
		    strncasecmp(p, name, nl) != 0 || p[nl] != '=')
			continue;
		p += nl + 1;
		if (p < end && *p == '"') {
			p++;
			e = memchr(p, '"', (size_t)(end - p));
		} else {
			for (e = p; e < end && *e != ',' && *e != ' '; e++)
				;
		}
		if (e == NULL || (size_t)(e - p) >= outsz)
			return -1;
		memcpy(out, p, (size_t)(e - p));
		out[e - p] = '\0';
		return 0;
	}
	return -1;
}

/* The REGISTER again (CSeq 2) into buf, answering the 401 m with Digest
 * (user as the username, qop=auth): its length, or -1. */
static int
ua_digest(char *buf, size_t bufsz, const struct sip_msg *m, const char *user,
          const char *domain, const char *pw, unsigned port, long long t0,
          int expires)
{
	const struct sip_hdr *h = m->first[SIP_HDR_WWW_AUTHENTICATE];
	char realm[256], nonce[256], uri[300], ha1[DIGEST_HEX_LEN + 1];
	char ha2[DIGEST_HEX_LEN + 1], resp[DIGEST_HEX_LEN + 1];
	const char *tp = ua_tcp ? "TCP" : "UDP";
	sip_str su, sr, sn;
	int n;

	if (h == NULL || ua_dparam(h->value, "realm", realm, sizeof(realm)) ||
	    ua_dparam(h->value, "nonce", nonce, sizeof(nonce)))
		return -1;
	snprintf(uri, sizeof(uri), "sip:%s", domain);
	su = (sip_str){user, strlen(user)};
	sr = (sip_str){realm, strlen(realm)};
	sn = (sip_str){nonce, strlen(nonce)};
	if (digest_ha1(su, sr, (const uint8_t *)pw, strlen(pw), ha1) == -1 ||
	    digest_ha2((sip_str){"REGISTER", 8}, (sip_str){uri, strlen(uri)},
	               DIGEST_QOP_AUTH, (sip_str){"", 0}, ha2) == -1 ||
	    digest_response(ha1, sn, (sip_str){"00000001", 8},
	                    (sip_str){"ua0cn", 5}, DIGEST_QOP_AUTH, ha2,
	                    resp) == -1)
		return -1;
	n = snprintf(
	    buf, bufsz,
	    "REGISTER sip:%s SIP/2.0\r\n"
	    "Via: SIP/2.0/%s 127.0.0.1:%u;rport;"
	    "branch=z9hG4bK-ua%lld-2\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@%s>;tag=ua%lld\r\n"
	    "To: <sip:%s@%s>\r\n"
	    "Call-ID: ua-%lld@127.0.0.1\r\n"
	    "CSeq: 2 REGISTER\r\n"
	    "Contact: <sip:%s@127.0.0.1:%u;transport=%s>\r\n"
	    "Authorization: Digest username=\"%s\", realm=\"%s\", "
	    "nonce=\"%s\", uri=\"%s\", response=\"%s\", "
	    "algorithm=MD5, qop=auth, nc=00000001, cnonce=\"ua0cn\"\r\n"
	    "Expires: %d\r\nContent-Length: 0\r\n\r\n",
	    domain, tp, port, t0, user, domain, t0, user, domain, t0, user,
	    port, ua_tcp ? "tcp" : "udp", user, realm, nonce, uri, resp,
	    expires);
	return n > 0 && (size_t)n < bufsz ? n : -1;
}

/* The reg event's part (-S, -B, -i, -F). */
static const char *ua_domain;
static int ua_feat;
static unsigned ua_reg_cseq = 1, ua_sub_cseq, ua_sub_gen;
static char ua_sub_tag[128]; /* afd's tag of the subscription dialog */

/* Send a REGISTER with Expires expires (same Call-ID, next CSeq). */
static int
ua_register(int expires)
{
	char reg[2048], feat[256];
	const char *tp = ua_tcp ? "TCP" : "UDP";
	int n;

	snprintf(feat, sizeof(feat),
	         ";+sip.instance=\"<urn:gsma:imei:86539405-000273-%u>\""
	         ";+g.3gpp.icsi-ref=\"urn%%3Aurn-7%%3A3gpp-service.ims.icsi."
	         "mmtel\"",
	         ua_port);
	n = snprintf(
	    reg, sizeof(reg),
	    "REGISTER sip:%s SIP/2.0\r\n"
	    "Via: SIP/2.0/%s 127.0.0.1:%u;rport;branch=z9hG4bK-ua%lld-r%u\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@%s>;tag=ua%lld\r\n"
	    "To: <sip:%s@%s>\r\n"
	    "Call-ID: ua-%lld@127.0.0.1\r\n"
	    "CSeq: %u REGISTER\r\n"
	    "Contact: <sip:%s@127.0.0.1:%u;transport=%s>%s\r\n"
	    "Expires: %d\r\nContent-Length: 0\r\n\r\n",
	    ua_domain, tp, ua_port, ua_t0, ua_reg_cseq, ua_user, ua_domain,
	    ua_t0, ua_user, ua_domain, ua_t0, ua_reg_cseq, ua_user, ua_port,
	    ua_tcp ? "tcp" : "udp", ua_feat ? feat : "", expires);
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
	n = snprintf(buf, sizeof(buf),
	             "SUBSCRIBE sip:%s@%s SIP/2.0\r\n"
	             "Via: SIP/2.0/%s "
	             "127.0.0.1:%u;rport;branch=z9hG4bK-ua%lld-s%u-%u\r\n"
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
	             ua_sub_cseq + 1, ua_user, ua_domain, ua_sub_gen, ua_t0,
	             ua_user, ua_domain, to_tag, ua_sub_gen, ua_t0,
	             ua_sub_cseq + 1, ua_user, ua_port, ua_tcp ? "tcp" : "udp",
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
	printf("CMD %s\n", line); /* done: the scenario may go on */
	if (strcmp(cmd, "reg") == 0)
		ua_register(n);
	else if (strcmp(cmd, "sub") == 0)
		ua_subscribe(n);
	else if (strcmp(cmd, "resub") == 0) {
		ua_sub_gen++;
		ua_sub_cseq = 0;
		ua_sub_tag[0] = '\0';
		ua_subscribe(n);
	} else if (strcmp(cmd, "status") == 0)
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
	const char *user = "alice",
	           *domain = "ims.mnc001.mcc001.3gppnetwork.org";
	const char *callee = NULL;
	const char *password = NULL;
	int port = 0, expires = 600, status = 200, silent = 0, count = -1;
	int secs = 20, c, seen = 0, delay = 0, final = 200, ring = 0;
	int hangup = -1, cancel = -1, pager = 0;
	int sub = -1, cmds = 0, quit = 0;
	char line[256];
	size_t linelen = 0;
	struct sockaddr_in me;
	socklen_t melen = sizeof(me);
	long long t0 = ua_ms(), end;
	TALLOC_CTX *ctx;

	ua_t0 = t0;
	while ((c = getopt(
	            argc, argv,
	            "p:tu:d:e:s:nN:T:D:c:bUX:H:MI:R:KrQ:VA:W:G:P:FS:B:i")) !=
	       -1) {
		switch (c) {
		case 'p':
			port = atoi(optarg);
			break;
		case 't':
			ua_tcp = 1;
			break;
		case 'u':
			user = optarg;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'e':
			expires = atoi(optarg);
			break;
		case 's':
			status = atoi(optarg);
			break;
		case 'n':
			silent = 1;
			break;
		case 'N':
			count = atoi(optarg);
			break;
		case 'T':
			secs = atoi(optarg);
			break;
		case 'D':
			delay = atoi(optarg);
			break;
		case 'c':
			callee = optarg;
			break;
		case 'b':
			ua_big = 1;
			break;
		case 'U':
			ua_ack_udp = 1;
			break;
		case 'X':
			cancel = atoi(optarg);
			break;
		case 'H':
			hangup = atoi(optarg);
			break;
		case 'M':
			pager = 1;
			break;
		case 'I':
			final = atoi(optarg);
			break;
		case 'R':
			ring = atoi(optarg);
			break;
		case 'K':
			ua_nocancel = 1;
			break;
		case 'Q':
			ua_rseq = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			ua_rel = 1;
			break;
		case 'V':
			ua_reinv = 1;
			break;
		case 'A':
			ua_ack_delay = atoi(optarg);
			break;
		case 'W':
			ua_ack_withhold = atoi(optarg);
			break;
		case 'G':
			ua_lose_2xx = atoi(optarg);
			break;
		case 'P':
			password = optarg;
			break;
		case 'F':
			ua_feat = 1;
			break;
		case 'S':
			sub = atoi(optarg);
			break;
		case 'B':
			ua_dir = optarg;
			break;
		case 'i':
			cmds = 1;
			break;
		default:
			goto usage;
		}
	}
	if (port <= 0)
		goto usage;
	ua_user = user;
	ua_domain = domain;
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
	ua_port = ntohs(me.sin_port);
	if (ua_tcp) {
		/* a UDP socket on the same port number, for -U */
		struct sockaddr_in u = me;
		ua_ufd = socket(AF_INET, SOCK_DGRAM, 0);
		if (ua_ufd == -1 ||
		    bind(ua_ufd, (struct sockaddr *)&u, sizeof(u))) {
			u.sin_port = 0;
			if (ua_ufd == -1 ||
			    bind(ua_ufd, (struct sockaddr *)&u, sizeof(u))) {
				perror("sipua: udp socket");
				return 2;
			}
		}
	}
	printf("READY %s %u\n", ua_tcp ? "tcp" : "udp", ntohs(me.sin_port));
	ctx = talloc_new(NULL);
	if (expires > 0) {
		struct sip_msg *m;
		char reg[2048];
		int n;
		if (ua_register(expires) == -1 || ua_recv(ctx, 3000, &m) != 1 ||
		    m->is_request) {
			printf("RESP none REGISTER\n");
			return 1;
		}
		printf("RESP %d %.*s\n", m->status, (int)m->cseq.method.len,
		       m->cseq.method.s);
		if (m->status == 401 && password != NULL &&
		    (n = ua_digest(reg, sizeof(reg), m, user, domain, password,
		                   (unsigned)ntohs(me.sin_port), t0, expires)) >
		        0) {
			ua_reg_cseq = 3; /* the Digest REGISTER was CSeq 2 */
			if (ua_send(reg, (size_t)n) == -1 ||
			    ua_recv(ctx, 3000, &m) != 1 || m->is_request) {
				printf("RESP none REGISTER\n");
				return 1;
			}
			printf("RESP %d %.*s\n", m->status,
			       (int)m->cseq.method.len, m->cseq.method.s);
		}
		if (m->status != 200)
			return 1;
	}
	if (callee != NULL && pager) {
		struct ua_call *k = &ua_c;
		memset(k, 0, sizeof(*k));
		snprintf(k->call_id, sizeof(k->call_id), "msg-%lld@127.0.0.1",
		         t0);
		snprintf(k->ltag, sizeof(k->ltag), "m%lld", t0);
		snprintf(k->luri, sizeof(k->luri), "sip:%s@%s", user, domain);
		snprintf(k->ruri, sizeof(k->ruri), "sip:%s@%s", callee, domain);
		memcpy(k->target, k->ruri, sizeof(k->target));
		char *text = talloc_asprintf(ctx, "hello-from-%s-%lld", user,
		                             t0 % 100000);
		ua_call_request(ctx, "MESSAGE", 1,
		                "Content-Type: text/plain\r\n", text, 0);
	} else if (callee != NULL) {
		ua_invite(ctx, user, callee, domain);
		if (cancel >= 0)
			ua_c.cancel_at = ua_now() + cancel;
	}
	if (sub >= 0)
		ua_subscribe(sub);
	end = t0 + (long long)secs * 1000;
	while (!quit && ua_ms() < end && (count < 0 || seen < count)) {
		struct ua_call *k = &ua_c;
		struct sip_msg *m;
		long long now = ua_now(), next = end - t0;
		int r;

		talloc_free_children(ctx);
		/* timers of the call */
		if (k->final_at && k->final_at <= now)
			ua_callee_final(ctx);
		if (k->hangup_at && k->hangup_at <= now && k->up) {
			k->hangup_at = 0;
			ua_call_request(ctx, "BYE", ++k->cseq, NULL, NULL, 0);
		}
		if (k->cancel_at && k->cancel_at <= now && !k->up) {
			struct sip_buf b;
			k->cancel_at = 0;
			sip_buf_init(&b, ctx, 512);
			sip_buf_addf(&b, "CANCEL %s SIP/2.0\r\n", k->ruri);
			sip_buf_addf(
			    &b,
			    "Via: SIP/2.0/%s 127.0.0.1:%u;rport;branch=%s\r\n",
			    ua_tcp ? "TCP" : "UDP", ua_port, k->inv_branch);
			sip_buf_addf(
			    &b, "Max-Forwards: 70\r\nFrom: <%s>;tag=%s\r\n",
			    k->luri, k->ltag);
			sip_buf_addf(
			    &b,
			    "To: <%s>\r\nCall-ID: %s\r\nCSeq: %u CANCEL\r\n",
			    k->ruri, k->call_id, k->inv_cseq);
			sip_buf_finish(&b, SIP_STR_NULL);
			ua_send(b.s, b.len);
			printf("SENT CANCEL %lld\n", ua_now());
		}
		if (k->update_at && k->update_at <= now) {
			k->update_at = 0;
			ua_call_request(ctx, "UPDATE", ++k->cseq, NULL,
			                ua_sdp(ctx, 4000, 0), 0);
		}
		if (k->reinv_at && k->reinv_at <= now) {
			k->reinv_at = 0;
			char *sdp = ua_sdp(ctx, 4000, 0);
			char *p = strstr(sdp, "a=sendrecv");
			if (p != NULL)
				memcpy(p, "a=sendonly", 10);
			k->inv_cseq = ++k->cseq;
			ua_call_request(ctx, "INVITE", k->inv_cseq, NULL, sdp,
			                0);
		}
		now = ua_now();
		long long ts[] = {k->final_at, k->hangup_at, k->cancel_at,
		                  k->update_at, k->reinv_at};
		for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
			if (ts[i] && ts[i] < next)
				next = ts[i];
		if (cmds) {
			/* commands on stdin: look every 20 ms */
			struct pollfd pi = {.fd = 0, .events = POLLIN};
			if (next > now + 20)
				next = now + 20;
			if (poll(&pi, 1, 0) > 0) {
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
					quit |=
					    ua_command(line, &status, &silent);
					memmove(line, nl + 1,
					        strlen(nl + 1) + 1);
					linelen = strlen(line);
				}
				if (linelen == sizeof(line) - 1)
					linelen = 0;
				continue;
			}
		}
		r = ua_recv(ctx, next > now ? (int)(next - now) : 0, &m);
		if (r == -1) {
			printf("CLOSED\n");
			break;
		}
		if (r == 0 && ua_ufd >= 0) {
			/* anything on the UDP side socket (TCP phones) */
			struct pollfd pfd = {.fd = ua_ufd, .events = POLLIN};
			char *d;
			ssize_t n;
			struct sip_err err;
			if (poll(&pfd, 1, 0) > 0 &&
			    (d = talloc_size(ctx, UA_BUF)) &&
			    (n = recv(ua_ufd, d, UA_BUF, 0)) > 0 &&
			    sip_parse(ctx, d, (size_t)n, SIP_TP_UDP, UA_BUF, &m,
			              &err) == 0)
				r = 1;
		}
		if (r == 0)
			continue;
		if (!m->is_request && ua_lose_2xx > 0 && k->caller &&
		    m->cseq.mid == SIP_M_INVITE && m->cseq.num == k->inv_cseq &&
		    m->status >= 200 && m->status < 300) {
			/* -G: lost on the way, as if it never came */
			if (ua_lost_from == 0)
				ua_lost_from = ua_now() + 1;
			if (ua_now() + 1 < ua_lost_from + ua_lose_2xx) {
				printf("INFO 2xx lost %lld\n", ua_now());
				continue;
			}
		}
		if (!m->is_request) {
			if (k->caller && m->cseq.mid == SIP_M_INVITE &&
			    m->cseq.num == k->inv_cseq && m->status >= 200 &&
			    m->status < 300) {
				char name[32];
				snprintf(name, sizeof(name), "2xx-%u.sip",
				         ++ua_n2xx);
				ua_save(name, m->buf, m->len);
			}
			printf("RESP %d %.*s %lld %.*s\n", m->status,
			       (int)m->cseq.method.len, m->cseq.method.s,
			       ua_now(), (int)m->reason.len, m->reason.s);
			if (m->status > 100 && m->status < 300 &&
			    m->first[SIP_HDR_CONTACT])
				printf(
				    "INFO Contact %.*s\n",
				    (int)m->first[SIP_HDR_CONTACT]->value.len,
				    m->first[SIP_HDR_CONTACT]->value.s);
			if (m->body.len > 0)
				printf("INFO resp-body %zu\n", m->body.len);
			if (m->cseq.mid == SIP_M_SUBSCRIBE &&
			    m->status == 200 && ua_sub_tag[0] == '\0' &&
			    m->to != NULL && m->to->tag.len > 0 &&
			    m->to->tag.len < sizeof(ua_sub_tag))
				memcpy(ua_sub_tag, m->to->tag.s,
				       m->to->tag.len);
			if (m->cseq.mid == SIP_M_INVITE && k->caller &&
			    m->cseq.num == k->inv_cseq)
				ua_caller_resp(ctx, m, hangup, cancel);
			if (m->cseq.mid == SIP_M_BYE && m->status >= 200)
				k->active = 0;
			continue;
		}
		seen++;
		printf("REQ %.*s %.*s %lld\n", (int)m->method.len, m->method.s,
		       m->via ? (int)m->via->branch.len : 0,
		       m->via ? m->via->branch.s : "", ua_ms() - t0);
		if (m->mid == SIP_M_NOTIFY)
			ua_notify(m);
		if (m->mid == SIP_M_MESSAGE) /* silent or not */
			printf("INFO message %.*s\n", (int)m->body.len,
			       m->body.s ? m->body.s : "");
		if (m->mid == SIP_M_ACK) {
			if (k->active && !k->caller && !k->up) {
				k->up = 1;
				if (hangup >= 0)
					k->hangup_at = ua_now() + hangup;
			}
			continue;
		}
		if (silent)
			continue;
		if (delay > 0)
			usleep((useconds_t)delay * 1000);
		switch (m->mid) {
		case SIP_M_INVITE:
			if (k->caller && k->up) { /* a re-INVITE from afd */
				ua_respond(ctx, m, 200, NULL,
				           ua_sdp(ctx, 4000, 0));
				break;
			}
			ua_callee_invite(ctx, m, final, ring);
			break;
		case SIP_M_PRACK:
			if (m->first[SIP_HDR_RACK])
				printf("INFO RAck %.*s\n",
				       (int)m->first[SIP_HDR_RACK]->value.len,
				       m->first[SIP_HDR_RACK]->value.s);
			ua_answer(ctx, m, 200);
			if (k->prack_wait) {
				k->prack_wait = 0;
				/* resources ready: ring now */
				struct sip_msg *inv;
				struct sip_err err;
				if (sip_parse(ctx, k->invite, k->invlen,
				              ua_tcp ? SIP_TP_TCP : SIP_TP_UDP,
				              UA_BUF, &inv, &err) == 0) {
					ua_respond(ctx, inv, 180, NULL, NULL);
					printf("SENT 180 %lld\n", ua_now());
				}
				if (final > 0)
					k->final_at = ua_now() + ring;
			}
			break;
		case SIP_M_UPDATE:
			ua_respond(ctx, m, 200, NULL, ua_sdp(ctx, 5000, 0));
			break;
		case SIP_M_CANCEL:
			ua_answer(ctx, m, 200);
			if (ua_nocancel) {
				printf("INFO CANCEL ignored\n");
				break;
			}
			if (k->active && !k->up && k->invite != NULL) {
				struct sip_msg *inv;
				struct sip_err err;
				if (sip_parse(ctx, k->invite, k->invlen,
				              ua_tcp ? SIP_TP_TCP : SIP_TP_UDP,
				              UA_BUF, &inv, &err) == 0) {
					ua_respond(ctx, inv, 487, NULL, NULL);
					printf("SENT 487 %lld\n", ua_now());
				}
				k->active = 0;
				k->final_at = 0;
			}
			break;
		case SIP_M_BYE:
			ua_answer(ctx, m, k->active && k->up ? 200 : 481);
			k->active = 0;
			k->hangup_at = 0;
			break;
		case SIP_M_MESSAGE:
			ua_answer(ctx, m, status);
			break;
		default:
			ua_answer(ctx, m, status);
			break;
		}
	}
	talloc_free(ua_c.invite);
	talloc_free(ctx);
	close(ua_fd);
	if (ua_ufd >= 0)
		close(ua_ufd);
	return 0;
usage:
	fprintf(stderr,
	        "usage: sipua -p PORT [-t] [-u USER] [-d DOMAIN] "
	        "[-e EXPIRES] [-s STATUS] [-n] [-N COUNT] [-T SECONDS] "
	        "[-D MS] [-c CALLEE] [-b] [-U] [-X MS] [-H MS] [-M] "
	        "[-I STATUS] [-R MS] [-K] [-r] [-Q RSEQ] [-V] [-A MS] "
	        "[-W MS] [-G MS] [-P PW] [-F] [-S EXPIRES] [-B DIR] [-i]\n");
	return 2;
}
