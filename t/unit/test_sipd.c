/*
 * t/unit/test_sipd.c: the SIP service's policy for what comes in (every
 * bad-input class gets its status or is dropped), OPTIONS, where answers
 * go (RFC 3581 rport rules), a retransmission answered again there by a
 * server transaction that keeps only itself and its answer, and group
 * commit (answers only after commit, a failed commit turns them into
 * 500). Runs sipd on a temporary database.
 * t/unit/sipd_util.h holds the helpers shared with test_registrar.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "t/unit/sipd_util.h"

static struct tsd *T;

static int
sipd_setup(void)
{
	T = tsd_new(NULL);
	return T ? 0 : -1;
}

static int
sipd_teardown(void)
{
	tsd_free(T);
	return 0;
}

/* Each request a test means as a new one carries a branch of its own: the
 * service keeps server transactions (RFC 3261 17.2.3), so the same branch
 * again is a retransmission, absorbed. */
#define OPTIONS_MSG(extra) OPTIONS_MSG_B("opt1", extra)
#define OPTIONS_MSG_B(b, extra)                                                \
	"OPTIONS sip:afd.test SIP/2.0\r\n"                                     \
	"Via: SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bK-" b "\r\n"              \
	"Max-Forwards: 70\r\n"                                                 \
	"From: <sip:alice@afd.test>;tag=a1\r\n"                                \
	"To: <sip:afd.test>\r\n"                                               \
	"Call-ID: opt-1@10.0.0.7\r\n"                                          \
	"CSeq: 1 OPTIONS\r\n" extra "Content-Length: 0\r\n\r\n"

static void
test_options(void)
{
	const char *r = tsd_one(T, OPTIONS_MSG(""), SIP_TP_UDP);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT(
	    strstr(r, "\r\nAllow: REGISTER, OPTIONS, SUBSCRIBE, INVITE, ACK, "
	              "BYE, CANCEL, PRACK, UPDATE, INFO, MESSAGE\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nAccept: application/sdp\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nSupported: path, outbound, 100rel, timer, "
	                    "precondition\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nServer: afd/") != NULL);
	CU_ASSERT(strstr(r, "\r\nTo: <sip:afd.test>;tag=") != NULL);
	CU_ASSERT(strstr(r, "\r\nCall-ID: opt-1@10.0.0.7\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nCSeq: 1 OPTIONS\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nFrom: <sip:alice@afd.test>;tag=a1\r\n") !=
	          NULL);
	CU_ASSERT(strstr(r, "\r\nContent-Length: 0\r\n\r\n") != NULL);
	/* the top Via gets received= (the sender is 127.0.0.1) */
	CU_ASSERT(strstr(r, "Via: SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bK-"
	                    "opt1;received=127.0.0.1\r\n") != NULL);
}

static void
test_to_tag_stable(void)
{
	char a[2048], b[2048];
	const char *r = tsd_one(T, OPTIONS_MSG(""), SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	snprintf(a, sizeof(a), "%s", strstr(r, "\r\nTo: "));
	r = tsd_one(T, OPTIONS_MSG(""), SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	snprintf(b, sizeof(b), "%s", strstr(r, "\r\nTo: "));
	*strchr(a + 2, '\r') = '\0';
	*strchr(b + 2, '\r') = '\0';
	CU_ASSERT_STRING_EQUAL(a, b);
	/* a different From tag: another tag */
	r = tsd_one(T,
	            "OPTIONS sip:afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bK-opt2\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:alice@afd.test>;tag=other\r\n"
	            "To: <sip:afd.test>\r\n"
	            "Call-ID: opt-1@10.0.0.7\r\n"
	            "CSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	snprintf(b, sizeof(b), "%s", strstr(r, "\r\nTo: "));
	*strchr(b + 2, '\r') = '\0';
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static void
test_max_forwards(void)
{
	const char *r =
	    tsd_one(T,
	            "OPTIONS sip:afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-mf\r\n"
	            "Max-Forwards: 0\r\n"
	            "From: <sip:alice@afd.test>;tag=a1\r\n"
	            "To: <sip:afd.test>\r\n"
	            "Call-ID: mf@10.0.0.7\r\n"
	            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 483 ", 12) == 0);
}

static void
test_unknown_method(void)
{
	const char *r =
	    tsd_one(T,
	            "FOO sip:afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-foo\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:alice@afd.test>;tag=a1\r\n"
	            "To: <sip:afd.test>\r\n"
	            "Call-ID: foo@10.0.0.7\r\n"
	            "CSeq: 1 FOO\r\nContent-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 501 ", 12) == 0);
	CU_ASSERT(
	    strstr(r, "\r\nAllow: REGISTER, OPTIONS, SUBSCRIBE, INVITE, ACK, "
	              "BYE, CANCEL, PRACK, UPDATE, INFO, MESSAGE\r\n") != NULL);
	r = tsd_one(T,
	            "PUBLISH sip:bob@afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-msg\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:alice@afd.test>;tag=a1\r\n"
	            "To: <sip:bob@afd.test>\r\n"
	            "Call-ID: msg@10.0.0.7\r\n"
	            "CSeq: 1 PUBLISH\r\nContent-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* recognised but not served: 405 (RFC 3261 8.2.1), not 501 */
	CU_ASSERT(strncmp(r, "SIP/2.0 405 ", 12) == 0);
	CU_ASSERT(
	    strstr(r, "\r\nAllow: REGISTER, OPTIONS, SUBSCRIBE, INVITE, ACK, "
	              "BYE, CANCEL, PRACK, UPDATE, INFO, MESSAGE\r\n") != NULL);
}

static void
test_not_yet_405(void)
{
	const char *r =
	    tsd_one(T,
	            "NOTIFY sip:bob@afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-inv\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:alice@afd.test>;tag=a1\r\n"
	            "To: <sip:bob@afd.test>\r\n"
	            "Call-ID: inv@10.0.0.7\r\n"
	            "Contact: <sip:alice@10.0.0.7>\r\n"
	            "Event: reg\r\n"
	            "CSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 405 ", 12) == 0);
	CU_ASSERT(
	    strstr(r, "\r\nAllow: REGISTER, OPTIONS, SUBSCRIBE, INVITE, ACK, "
	              "BYE, CANCEL, PRACK, UPDATE, INFO, MESSAGE\r\n") != NULL);
}

static void
test_require_420(void)
{
	const char *r = tsd_one(
	    T,
	    OPTIONS_MSG_B("r420a",
	                  "Require: foo, sec-agree\r\nProxy-Require: bar\r\n"),
	    SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 420 ", 12) == 0);
	CU_ASSERT(strstr(r, "\r\nUnsupported: foo, sec-agree, bar\r\n") !=
	          NULL);
	/* path is supported for REGISTER, not for OPTIONS */
	r = tsd_one(T, OPTIONS_MSG_B("r420b", "Require: path\r\n"), SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 420 ", 12) == 0);
	/* Supported: sec-agree is no reason to refuse */
	r = tsd_one(T, OPTIONS_MSG_B("r420c", "Supported: sec-agree, path\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 200 ", 12) == 0);
}

static void
test_bad_requests(void)
{
	/* no Call-ID: the parser's 400, naming the problem */
	const char *r =
	    tsd_one(T,
	            "OPTIONS sip:afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-ci\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:alice@afd.test>;tag=a1\r\n"
	            "To: <sip:afd.test>\r\n"
	            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 400 ", 12) == 0);
	CU_ASSERT(strstr(r, "Call-ID") != NULL);

	/* CSeq method differing from the request's */
	r = tsd_one(T,
	            "OPTIONS sip:afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-cs\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:alice@afd.test>;tag=a1\r\n"
	            "To: <sip:afd.test>\r\n"
	            "Call-ID: cs@10.0.0.7\r\n"
	            "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 400 ", 12) == 0);

	/* an unsupported Request-URI scheme */
	r = tsd_one(T,
	            "OPTIONS http://afd.test/ SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-sch\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:alice@afd.test>;tag=a1\r\n"
	            "To: <sip:afd.test>\r\n"
	            "Call-ID: sch@10.0.0.7\r\n"
	            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 416 ", 12) == 0);
}

static void
test_too_large(void)
{
	size_t max = T->conf.max_message, n = max + 200;
	char *big = malloc(n + 1);
	const char *head = "OPTIONS sip:afd.test SIP/2.0\r\n"
	                   "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-big\r\n"
	                   "Max-Forwards: 70\r\n"
	                   "From: <sip:alice@afd.test>;tag=a1\r\n"
	                   "To: <sip:afd.test>\r\n"
	                   "Call-ID: big@10.0.0.7\r\n"
	                   "CSeq: 1 OPTIONS\r\n";
	size_t hl = strlen(head);

	CU_ASSERT_FATAL(big != NULL);
	memcpy(big, head, hl);
	/* one long header, then the end */
	memcpy(big + hl, "X-Pad: ", 7);
	memset(big + hl + 7, 'x', n - hl - 7 - 25);
	memcpy(big + n - 25, "\r\nContent-Length: 0\r\n\r\n", 24);
	big[n] = '\0';
	const char *r = tsd_onen(T, big, n, SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL(r);
	if (r != NULL)
		CU_ASSERT(strncmp(r, "SIP/2.0 513 ", 12) == 0);
	free(big);
}

static void
test_drop_garbage(void)
{
	uint64_t dropped = sipd_stats(T->sd)->dropped;
	const struct sipd_out *out;

	sipd_batch_begin(T->sd);
	CU_ASSERT_EQUAL(
	    sipd_handle(T->sd, "\x01\x02garbage\r\n\r\n", 13, &T->udp_peer), 0);
	CU_ASSERT_EQUAL(sipd_handle(T->sd, "NOTSIP\r\n\r\n", 10, &T->tcp_peer),
	                -1);
	CU_ASSERT_EQUAL(sipd_batch_end(T->sd, &out), 0);
	CU_ASSERT_EQUAL(sipd_stats(T->sd)->dropped, dropped + 2);
}

static void
test_ack_and_responses(void)
{
	const struct sipd_out *out;
	uint64_t resp = sipd_stats(T->sd)->responses;
	const char ack[] = "ACK sip:bob@afd.test SIP/2.0\r\n"
	                   "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-ack\r\n"
	                   "Max-Forwards: 0\r\n"
	                   "From: <sip:alice@afd.test>;tag=a1\r\n"
	                   "To: <sip:bob@afd.test>;tag=b1\r\n"
	                   "Call-ID: ack@10.0.0.7\r\n"
	                   "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
	const char resp200[] = "SIP/2.0 200 OK\r\n"
	                       "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-x\r\n"
	                       "From: <sip:alice@afd.test>;tag=a1\r\n"
	                       "To: <sip:bob@afd.test>;tag=b1\r\n"
	                       "Call-ID: r@10.0.0.7\r\n"
	                       "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

	sipd_batch_begin(T->sd);
	CU_ASSERT_EQUAL(sipd_handle(T->sd, ack, strlen(ack), &T->udp_peer), 0);
	CU_ASSERT_EQUAL(
	    sipd_handle(T->sd, resp200, strlen(resp200), &T->udp_peer), 0);
	CU_ASSERT_EQUAL(sipd_batch_end(T->sd, &out), 0);
	CU_ASSERT_EQUAL(sipd_stats(T->sd)->responses, resp + 1);
}

static uint16_t
port_of(const struct sip_peer *p)
{
	return ntohs(((const struct sockaddr_in *)&p->addr)->sin_port);
}

static void
test_destination(void)
{
	const struct sipd_out *out;
	const char norport[] = OPTIONS_MSG_B("dst1", "");
	const char overtcp[] = OPTIONS_MSG_B("dst2", "");
	const char rport[] =
	    "OPTIONS sip:afd.test SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.7:5070;rport;branch=z9hG4bK-rp\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@afd.test>;tag=a1\r\n"
	    "To: <sip:afd.test>\r\n"
	    "Call-ID: rp@10.0.0.7\r\n"
	    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	const char noport[] = "OPTIONS sip:afd.test SIP/2.0\r\n"
	                      "Via: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK-np\r\n"
	                      "Max-Forwards: 70\r\n"
	                      "From: <sip:alice@afd.test>;tag=a1\r\n"
	                      "To: <sip:afd.test>\r\n"
	                      "Call-ID: np@10.0.0.7\r\n"
	                      "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

	sipd_batch_begin(T->sd);
	sipd_handle(T->sd, norport, strlen(norport), &T->udp_peer);
	sipd_handle(T->sd, rport, strlen(rport), &T->udp_peer);
	sipd_handle(T->sd, noport, strlen(noport), &T->udp_peer);
	sipd_handle(T->sd, overtcp, strlen(overtcp), &T->tcp_peer);
	CU_ASSERT_EQUAL_FATAL(sipd_batch_end(T->sd, &out), 4);
	/* no rport: source IP, Via port */
	CU_ASSERT_EQUAL(port_of(&out[0].to), 5070);
	CU_ASSERT_EQUAL(out[0].to.tp, SIP_TP_UDP);
	/* rport: source IP and port, and rport filled in */
	CU_ASSERT_EQUAL(port_of(&out[1].to), port_of(&T->udp_peer));
	CU_ASSERT(memmem(out[1].buf, out[1].len, ";rport=40000;branch", 19) !=
	          NULL);
	/* no port in Via: 5060 */
	CU_ASSERT_EQUAL(port_of(&out[2].to), 5060);
	/* TCP: the same connection */
	CU_ASSERT_EQUAL(out[3].to.tp, SIP_TP_TCP);
	CU_ASSERT_EQUAL(out[3].to.conn_id, T->tcp_peer.conn_id);
	CU_ASSERT_STRING_EQUAL(out[3].to.slot, "t3");
	CU_ASSERT_EQUAL(port_of(&out[3].to), port_of(&T->tcp_peer));
}

/* A retransmitted non-INVITE request (same branch) gets the same answer
 * again, at the same place (RFC 3261 17.2.2, 18.2.2); its server
 * transaction, kept 32 s over UDP, is two talloc blocks (itself, its
 * answer), not three. */
static void
test_retransmission(void)
{
	const struct sipd_out *out;
	const char norport[] = OPTIONS_MSG_B("rtx1", "");
	const char rport[] =
	    "OPTIONS sip:afd.test SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.7:5070;rport;branch=z9hG4bK-rtx2\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@afd.test>;tag=a1\r\n"
	    "To: <sip:afd.test>\r\n"
	    "Call-ID: rtx2@10.0.0.7\r\n"
	    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	char *first[2];
	size_t n0, n1;

	sipd_batch_begin(T->sd);
	n0 = talloc_total_blocks(T->sd);
	sipd_handle(T->sd, norport, strlen(norport), &T->udp_peer);
	sipd_handle(T->sd, rport, strlen(rport), &T->udp_peer);
	CU_ASSERT_EQUAL_FATAL(sipd_batch_end(T->sd, &out), 2);
	first[0] = talloc_strndup(NULL, out[0].buf, out[0].len);
	first[1] = talloc_strndup(NULL, out[1].buf, out[1].len);
	CU_ASSERT_EQUAL(port_of(&out[0].to), 5070);
	CU_ASSERT_EQUAL(port_of(&out[1].to), port_of(&T->udp_peer));
	sipd_batch_begin(T->sd); /* the batch's memory is gone */
	n1 = talloc_total_blocks(T->sd);
	CU_ASSERT(n1 - n0 <= 2 * 2);

	/* both again: absorbed, the stored answers sent where they went */
	sipd_handle(T->sd, rport, strlen(rport), &T->udp_peer);
	sipd_handle(T->sd, norport, strlen(norport), &T->udp_peer);
	CU_ASSERT_EQUAL_FATAL(sipd_batch_end(T->sd, &out), 2);
	CU_ASSERT_EQUAL(out[0].len, strlen(first[1]));
	CU_ASSERT(memcmp(out[0].buf, first[1], out[0].len) == 0);
	CU_ASSERT_EQUAL(port_of(&out[0].to), port_of(&T->udp_peer));
	CU_ASSERT_EQUAL(out[0].to.tp, SIP_TP_UDP);
	CU_ASSERT_EQUAL(out[1].len, strlen(first[0]));
	CU_ASSERT(memcmp(out[1].buf, first[0], out[1].len) == 0);
	CU_ASSERT_EQUAL(port_of(&out[1].to), 5070);
	CU_ASSERT_EQUAL(sipd_stats(T->sd)->absorbed >= 2, 1);
	talloc_free(first[0]);
	talloc_free(first[1]);
}

/* RFC 3261 18.2.1, RFC 3581 4: received and rport values the client put
 * in its Via are replaced by the real source address and port. */
static void
test_via_amended(void)
{
	const struct sipd_out *out;
	const char m[] =
	    "OPTIONS sip:afd.test SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP client.example.com:26001;branch=z9hG4bK-va;"
	    "received=127.0.0.2;rport=1;x=y, SIP/2.0/UDP p.example\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:alice@afd.test>;tag=a1\r\n"
	    "To: <sip:afd.test>\r\n"
	    "Call-ID: va@10.0.0.7\r\n"
	    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	char want[200];

	snprintf(want, sizeof(want),
	         "\r\nVia: SIP/2.0/UDP client.example.com:26001;"
	         "branch=z9hG4bK-va;received=127.0.0.1;rport=%u;x=y, "
	         "SIP/2.0/UDP p.example\r\n",
	         port_of(&T->udp_peer));
	sipd_batch_begin(T->sd);
	sipd_handle(T->sd, m, strlen(m), &T->udp_peer);
	CU_ASSERT_EQUAL_FATAL(sipd_batch_end(T->sd, &out), 1);
	CU_ASSERT(memmem(out[0].buf, out[0].len, want, strlen(want)) != NULL);
	CU_ASSERT(memmem(out[0].buf, out[0].len, "127.0.0.2", 9) == NULL);
	CU_ASSERT_EQUAL(port_of(&out[0].to), port_of(&T->udp_peer));
}

#define REG_MSG(n, cid, cseq) REG_MSG_B(n, "gc" n, cid, cseq)
#define REG_MSG_B(n, b, cid, cseq)                                             \
	"REGISTER sip:afd.test SIP/2.0\r\n"                                    \
	"Via: SIP/2.0/UDP 10.0.0.7:5070;rport;branch=z9hG4bK-" b "\r\n"        \
	"Max-Forwards: 70\r\n"                                                 \
	"From: <sip:gc" n "@afd.test>;tag=g" n "\r\n"                          \
	"To: <sip:gc" n "@afd.test>\r\n"                                       \
	"Call-ID: " cid "\r\n"                                                 \
	"CSeq: " cseq " REGISTER\r\n"                                          \
	"Contact: <sip:gc" n "@10.0.0.7:5070>\r\n"                             \
	"Expires: 3600\r\nContent-Length: 0\r\n\r\n"

static int
count_rows(const char *aor)
{
	return tsd_count(T, "SELECT count(*) FROM registrations WHERE aor = ?1",
	                 aor);
}

static void
test_group_commit(void)
{
	const struct sipd_out *out;
	const char r1[] = REG_MSG("1", "gc1@x", "1");
	const char r2[] = REG_MSG("2", "gc2@x", "1");
	const char opt[] = OPTIONS_MSG("");

	sipd_batch_begin(T->sd);
	sipd_handle(T->sd, r1, strlen(r1), &T->udp_peer);
	sipd_handle(T->sd, opt, strlen(opt), &T->udp_peer);
	sipd_handle(T->sd, r2, strlen(r2), &T->udp_peer);
	/* not committed yet: another connection sees nothing */
	CU_ASSERT_EQUAL(count_rows("sip:gc1@afd.test"), 0);
	CU_ASSERT_EQUAL(count_rows("sip:gc2@afd.test"), 0);
	CU_ASSERT_EQUAL_FATAL(sipd_batch_end(T->sd, &out), 3);
	CU_ASSERT_EQUAL(count_rows("sip:gc1@afd.test"), 1);
	CU_ASSERT_EQUAL(count_rows("sip:gc2@afd.test"), 1);
	CU_ASSERT(strncmp(out[0].buf, "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT(strncmp(out[2].buf, "SIP/2.0 200 ", 12) == 0);
}

static int
refuse_commit(void *arg)
{
	(void)arg;
	return 1; /* turns COMMIT into ROLLBACK */
}

static void
test_group_commit_failure(void)
{
	const struct sipd_out *out;
	const char r3[] = REG_MSG("3", "gc3@x", "1");
	/* the client's next attempt: a new transaction, a higher CSeq */
	const char r3b[] = REG_MSG_B("3", "gc3b", "gc3@x", "2");
	const char opt[] = OPTIONS_MSG_B("gcf", "");

	sqlite3_commit_hook(sipd_db(T->sd), refuse_commit, NULL);
	sipd_batch_begin(T->sd);
	sipd_handle(T->sd, r3, strlen(r3), &T->udp_peer);
	sipd_handle(T->sd, opt, strlen(opt), &T->udp_peer);
	CU_ASSERT_EQUAL_FATAL(sipd_batch_end(T->sd, &out), 2);
	sqlite3_commit_hook(sipd_db(T->sd), NULL, NULL);
	CU_ASSERT(strncmp(out[0].buf, "SIP/2.0 500 ", 12) == 0);
	CU_ASSERT(memmem(out[0].buf, out[0].len, "\r\nRetry-After: 1\r\n",
	                 18) != NULL);
	CU_ASSERT(memmem(out[0].buf, out[0].len, "\r\nCall-ID: gc3@x\r\n",
	                 18) != NULL);
	/* the OPTIONS answer did not depend on the commit */
	CU_ASSERT(strncmp(out[1].buf, "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT_EQUAL(count_rows("sip:gc3@afd.test"), 0);
	/* and the service goes on */
	const char *r = tsd_one(T, r3b, SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT_EQUAL(count_rows("sip:gc3@afd.test"), 1);
}

static void
test_savepoint_isolation(void)
{
	const struct sipd_out *out;
	const char r4[] = REG_MSG("4", "gc4@x", "1");
	const char r5[] = REG_MSG("5", "gc5@x", "1");
	const char r6[] = REG_MSG("6", "gc6@x", "1");

	/* the database refuses gc5's binding */
	CU_ASSERT_EQUAL_FATAL(
	    sqlite3_exec(T->peek,
	                 "CREATE TRIGGER boom BEFORE INSERT ON registrations "
	                 "WHEN NEW.aor = 'sip:gc5@afd.test' BEGIN "
	                 "SELECT RAISE(ABORT, 'boom'); END",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sipd_batch_begin(T->sd);
	sipd_handle(T->sd, r4, strlen(r4), &T->udp_peer);
	sipd_handle(T->sd, r5, strlen(r5), &T->udp_peer);
	sipd_handle(T->sd, r6, strlen(r6), &T->udp_peer);
	CU_ASSERT_EQUAL_FATAL(sipd_batch_end(T->sd, &out), 3);
	sqlite3_exec(T->peek, "DROP TRIGGER boom", NULL, NULL, NULL);
	CU_ASSERT(strncmp(out[0].buf, "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT(strncmp(out[1].buf, "SIP/2.0 500 ", 12) == 0);
	CU_ASSERT(memmem(out[1].buf, out[1].len, "\r\nRetry-After: 1\r\n",
	                 18) != NULL);
	CU_ASSERT(strncmp(out[2].buf, "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT_EQUAL(count_rows("sip:gc4@afd.test"), 1);
	CU_ASSERT_EQUAL(count_rows("sip:gc5@afd.test"), 0);
	CU_ASSERT_EQUAL(count_rows("sip:gc6@afd.test"), 1);
}

static void
test_memory_returns(void)
{
	const struct sipd_out *out;
	char r7[1024], opt[1024];
	size_t n0 = 0, n1;

	/* Two rounds of the same work; the first grows what is kept for
	 * the service's life (the transaction table's buckets, the arrays
	 * of the transaction object), the second must return to it. */
	for (int round = 0; round < 2; round++) {
		sipd_batch_begin(T->sd);
		sipd_batch_end(T->sd, &out);
		sipd_batch_begin(T->sd);
		if (round == 1)
			n0 = talloc_total_blocks(T->sd);
		for (int i = 0; i < 50; i++) {
			/* new requests each time: a REGISTER refresh, an
			 * OPTIONS, and junk */
			snprintf(r7, sizeof(r7),
			         REG_MSG_B("7", "gc7-%d-%d", "gc7@x", "%d"),
			         round, i, round * 50 + i + 1);
			snprintf(opt, sizeof(opt),
			         OPTIONS_MSG_B("mem%d-%d", ""), round, i);
			sipd_handle(T->sd, r7, strlen(r7), &T->udp_peer);
			sipd_handle(T->sd, opt, strlen(opt), &T->udp_peer);
			sipd_handle(T->sd, "junk", 4, &T->udp_peer);
		}
		CU_ASSERT_EQUAL(sipd_batch_end(T->sd, &out), 100);
		if (round == 1)
			CU_ASSERT(talloc_total_blocks(T->sd) > n0);
		/* the server transactions end with Timer J (32 s) */
		sipd_batch_begin(T->sd);
		sipd_timers(T->sd, sipd_now_ms() + 64 * 500 + 1);
		sipd_batch_end(T->sd, &out);
	}
	sipd_batch_begin(T->sd);
	n1 = talloc_total_blocks(T->sd);
	CU_ASSERT_EQUAL(n0, n1);
}

/* A bad request is answered without echoing a bare CR of its fields */
static void
test_bare_cr_echo(void)
{
	const char *r =
	    tsd_one(T,
	            "OPTIONS sip:afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKcr1\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: \"a\rInjected: 1\" <sip:a@afd.test>;tag=1\r\n"
	            "To: <sip:afd.test>\r\n"
	            "Call-ID: cr1\r\n"
	            "CSeq: 70\rOPTIONS\r\n"
	            "Content-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 400 ", 12) == 0);
	for (const char *p = r; (p = strchr(p, '\r')) != NULL; p++)
		CU_ASSERT_EQUAL(p[1], '\n');
}

int
suite_sipd(void)
{
	CU_pSuite s = CU_add_suite("sipd", sipd_setup, sipd_teardown);
	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "OPTIONS 200", test_options) ||
	    !CU_add_test(s, "To tag stable", test_to_tag_stable) ||
	    !CU_add_test(s, "Via received/rport replaced", test_via_amended) ||
	    !CU_add_test(s, "Max-Forwards 0 -> 483", test_max_forwards) ||
	    !CU_add_test(s, "unknown method -> 501", test_unknown_method) ||
	    !CU_add_test(s, "not yet served -> 405", test_not_yet_405) ||
	    !CU_add_test(s, "Require -> 420", test_require_420) ||
	    !CU_add_test(s, "bad requests -> 400/416", test_bad_requests) ||
	    !CU_add_test(s, "too large -> 513", test_too_large) ||
	    !CU_add_test(s, "garbage dropped", test_drop_garbage) ||
	    !CU_add_test(s, "ACK, responses", test_ack_and_responses) ||
	    !CU_add_test(s, "destination", test_destination) ||
	    !CU_add_test(s, "retransmission answered again",
	                 test_retransmission) ||
	    !CU_add_test(s, "group commit", test_group_commit) ||
	    !CU_add_test(s, "group commit failure",
	                 test_group_commit_failure) ||
	    !CU_add_test(s, "savepoint per REGISTER",
	                 test_savepoint_isolation) ||
	    !CU_add_test(s, "memory returns", test_memory_returns) ||
	    !CU_add_test(s, "no bare CR echoed", test_bare_cr_echo))
		return -1;
	return 0;
}
