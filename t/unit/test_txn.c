/*
 * t/unit/test_txn.c: the transaction layer (sip/txn.c) driven by a fake
 * clock: every timer of RFC 3261 17 / RFC 6026 fires at its time and count,
 * the ACK of a non-2xx, absorption of retransmissions, the Accepted states,
 * the matching rules, transport errors, a table of many transactions, and
 * that every transaction ends exactly once with no memory left behind.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sip/sip.h"
#include "sip/txn.h"

#define MAXEV 256

/* What the callbacks saw. */
struct rec {
	uint64_t now; /* the fake clock, set by the test */
	int nsend;
	uint64_t send_at[MAXEV];
	char last[4096];
	size_t last_len;
	int nresp;
	int resp_status[MAXEV];
	int ntimeout, nterm, ntperr;
	int fail_send; /* send() returns -1 while set */
	struct txn *timed_out;
};

static TALLOC_CTX *ctx;
static struct rec R;
static struct txn_table *tab;
static size_t blocks0;

static int
cb_send(void *arg, struct txn *t, const char *buf, size_t len)
{
	struct rec *r = arg;

	if (r->fail_send)
		return -1;
	if (r->nsend < MAXEV)
		r->send_at[r->nsend] = r->now;
	r->nsend++;
	if (len >= sizeof(r->last))
		len = sizeof(r->last) - 1;
	memcpy(r->last, buf, len);
	r->last[len] = '\0';
	r->last_len = len;
	return 0;
}

static void
cb_resp(void *arg, struct txn *t, const struct sip_msg *resp)
{
	struct rec *r = arg;

	if (r->nresp < MAXEV)
		r->resp_status[r->nresp] = resp->status;
	r->nresp++;
}

static void
cb_timeout(void *arg, struct txn *t)
{
	struct rec *r = arg;

	r->ntimeout++;
	r->timed_out = t;
}

static void
cb_tperr(void *arg, struct txn *t)
{
	((struct rec *)arg)->ntperr++;
}

static void
cb_term(void *arg, struct txn *t)
{
	struct rec *r = arg;

	CU_ASSERT_EQUAL(txn_state(t), TXN_TERMINATED);
	/* the owner's per-transaction state is released here */
	talloc_free(txn_data(t));
	r->nterm++;
}

static const struct txn_cb cbs = {
    .send = cb_send,
    .on_response = cb_resp,
    .on_timeout = cb_timeout,
    .on_transport_error = cb_tperr,
    .on_terminated = cb_term,
};

static int
setup(void)
{
	ctx = talloc_new(NULL);
	return ctx == NULL ? -1 : 0;
}

static int
teardown(void)
{
	talloc_free(ctx);
	return 0;
}

/* A fresh table with default timers; the block count before it. */
static void
start(void)
{
	memset(&R, 0, sizeof(R));
	blocks0 = talloc_total_blocks(ctx);
	tab = txn_table_new(ctx, NULL, &cbs, &R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tab);
}

/* The table is empty: free it and check nothing is left. */
static void
finish(void)
{
	CU_ASSERT_EQUAL(txn_count(tab), 0);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), UINT64_MAX);
	talloc_free(tab);
	tab = NULL;
	CU_ASSERT_EQUAL(talloc_total_blocks(ctx), blocks0);
}

/* Run the fake clock to each deadline up to limit. */
static void
run_until(uint64_t limit)
{
	uint64_t d;

	while ((d = txn_next_deadline(tab)) != UINT64_MAX && d <= limit) {
		CU_ASSERT(d >= R.now);
		R.now = d;
		txn_run_timers(tab, d);
	}
	if (limit != UINT64_MAX && R.now < limit) {
		R.now = limit;
		txn_run_timers(tab, limit);
	}
}

/* Parse a message (CRLF written as \n in the tests' text) under ctx. */
static struct sip_msg *msg(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static struct sip_msg *
msg(const char *fmt, ...)
{
	char tmp[4096], *buf;
	size_t n = 0;
	va_list ap;
	struct sip_msg *m = NULL;
	struct sip_err err;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf = talloc_size(ctx, 2 * strlen(tmp) + 1);
	for (const char *p = tmp; *p; p++) {
		if (*p == '\n')
			buf[n++] = '\r';
		buf[n++] = *p;
	}
	buf[n] = '\0';
	if (sip_parse(buf, buf, n, SIP_TP_UDP, SIP_MAX_MSG_DEFAULT, &m, &err) !=
	    0) {
		fprintf(stderr, "test msg: %s\n", err.reason);
		CU_FAIL_FATAL("test message does not parse");
	}
	talloc_steal(ctx, buf);
	return m;
}

static void
msg_free(struct sip_msg *m)
{
	talloc_free((char *)m->buf);
}

/* A request with top Via sent-by host:port and branch. */
static struct sip_msg *
req(const char *method, const char *sentby, const char *branch, unsigned cseq)
{
	return msg("%s sip:bob@example.com SIP/2.0\n"
	           "Via: SIP/2.0/UDP %s;branch=%s\n"
	           "Max-Forwards: 70\n"
	           "From: <sip:alice@example.com>;tag=fa\n"
	           "To: <sip:bob@example.com>%s\n"
	           "Call-ID: call-1@example.com\n"
	           "CSeq: %u %s\n"
	           "Content-Length: 0\n\n",
	           method, sentby, branch,
	           strcmp(method, "ACK") == 0 ? ";tag=tb" : "", cseq, method);
}

/* A response for a client transaction with branch and CSeq method. */
static struct sip_msg *
resp(int status, const char *branch, const char *method)
{
	return msg("SIP/2.0 %d Whatever\n"
	           "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=%s\n"
	           "From: <sip:alice@example.com>;tag=fa\n"
	           "To: <sip:bob@example.com>;tag=tb\n"
	           "Call-ID: call-1@example.com\n"
	           "CSeq: 1 %s\n"
	           "Content-Length: 0\n\n",
	           status, branch, method);
}

/* Feed a response at time now; returns txn_client_recv()'s result. */
static int
feed(uint64_t now, int status, const char *branch, const char *method)
{
	struct sip_msg *m = resp(status, branch, method);
	int rc;

	R.now = now;
	rc = txn_client_recv(tab, m, now);
	msg_free(m);
	return rc;
}

static const char opt_req[] =
    "OPTIONS sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKc1\r\n"
    "CSeq: 1 OPTIONS\r\n\r\n";

/* The INVITE of the ICT tests: two Route fields, one folded. */
static const char inv_req[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKi1;rport\r\n"
    "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKlower\r\n"
    "Max-Forwards: 70\r\n"
    "Route: <sip:p1.example.com;lr>\r\n"
    "Route: <sip:p2.example.com;lr>,\r\n <sip:p3.example.com;lr>\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=fa\r\n"
    "To: <sip:bob@example.com>\r\n"
    "Call-ID: call-1@example.com\r\n"
    "CSeq: 7 INVITE\r\n"
    "Contact: <sip:alice@10.0.0.1>\r\n"
    "Content-Length: 0\r\n\r\n";

static struct txn *
client(const char *branch, const char *method, int reliable, const char *buf)
{
	struct txn *t;

	t = txn_client_new(tab, branch, method, reliable, buf, strlen(buf),
	                   R.now);
	CU_ASSERT_PTR_NOT_NULL(t);
	return t;
}

/* ---- NICT ---- */

static void
test_nict_udp_timers(void)
{
	static const uint64_t want[] = {0,     500,   1500,  3500,  7500, 11500,
	                                15500, 19500, 23500, 27500, 31500};
	size_t n = sizeof(want) / sizeof(want[0]);
	struct txn *t;

	start();
	t = client("z9hG4bKc1", "OPTIONS", 0, opt_req);
	txn_set_data(t, talloc_strdup(ctx, "owner state"));
	CU_ASSERT_EQUAL(txn_kind(t), TXN_NICT);
	CU_ASSERT_EQUAL(txn_state(t), TXN_TRYING);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 500);
	CU_ASSERT_EQUAL(R.last_len, strlen(opt_req));
	CU_ASSERT_STRING_EQUAL(R.last, opt_req);
	run_until(31999);
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	CU_ASSERT_EQUAL(txn_count(tab), 1);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 32000);
	CU_ASSERT_EQUAL(R.nsend, (int)n);
	for (size_t i = 0; i < n && i < (size_t)R.nsend; i++)
		CU_ASSERT_EQUAL(R.send_at[i], want[i]);
	CU_ASSERT_EQUAL(R.ntimeout, 1);
	CU_ASSERT_PTR_EQUAL(R.timed_out, t);
	CU_ASSERT_EQUAL(R.nterm, 1);
	CU_ASSERT_EQUAL(R.nresp, 0);
	finish();
}

static void
test_nict_reliable(void)
{
	start();
	client("z9hG4bKc1", "OPTIONS", 1, opt_req);
	CU_ASSERT_EQUAL(R.nsend, 1);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 32000);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.nsend, 1);
	CU_ASSERT_EQUAL(R.ntimeout, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	CU_ASSERT_EQUAL(R.now, 32000);
	finish();
}

/* 1xx: Proceeding, E at T2 intervals; final: Completed, K = T4. */
static void
test_nict_proceeding_completed(void)
{
	struct txn *t;

	start();
	t = client("z9hG4bKc1", "OPTIONS", 0, opt_req);
	CU_ASSERT_EQUAL(feed(200, 100, "z9hG4bKc1", "OPTIONS"), 1);
	CU_ASSERT_EQUAL(txn_state(t), TXN_PROCEEDING);
	CU_ASSERT_EQUAL(R.nresp, 1);
	run_until(9000); /* E: 500 (pending), then 4500, 8500 */
	CU_ASSERT_EQUAL(R.nsend, 4);
	CU_ASSERT_EQUAL(R.send_at[1], 500);
	CU_ASSERT_EQUAL(R.send_at[2], 4500);
	CU_ASSERT_EQUAL(R.send_at[3], 8500);
	CU_ASSERT_EQUAL(feed(9000, 200, "z9hG4bKc1", "OPTIONS"), 1);
	CU_ASSERT_EQUAL(txn_state(t), TXN_COMPLETED);
	CU_ASSERT_EQUAL(txn_last_status(t), 200);
	CU_ASSERT_EQUAL(R.nresp, 2);
	CU_ASSERT_EQUAL(R.resp_status[1], 200);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 9000 + 5000);
	/* a retransmitted final is absorbed */
	CU_ASSERT_EQUAL(feed(10000, 200, "z9hG4bKc1", "OPTIONS"), 1);
	CU_ASSERT_EQUAL(R.nresp, 2);
	run_until(13999);
	CU_ASSERT_EQUAL(R.nterm, 0);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 14000);
	CU_ASSERT_EQUAL(R.nsend, 4);
	CU_ASSERT_EQUAL(R.nterm, 1);
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	/* after the end the response matches nothing */
	CU_ASSERT_EQUAL(feed(15000, 200, "z9hG4bKc1", "OPTIONS"), 0);
	finish();
}

/* Over a reliable transport the final ends the transaction at once. */
static void
test_nict_reliable_final(void)
{
	start();
	client("z9hG4bKc1", "OPTIONS", 1, opt_req);
	CU_ASSERT_EQUAL(feed(100, 404, "z9hG4bKc1", "OPTIONS"), 1);
	CU_ASSERT_EQUAL(R.nresp, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

/* ---- ICT ---- */

static void
test_ict_udp_timers(void)
{
	static const uint64_t want[] = {0, 500, 1500, 3500, 7500, 15500, 31500};
	size_t n = sizeof(want) / sizeof(want[0]);
	struct txn *t;

	start();
	t = client("z9hG4bKi1", "INVITE", 0, inv_req);
	CU_ASSERT_EQUAL(txn_kind(t), TXN_ICT);
	CU_ASSERT_EQUAL(txn_state(t), TXN_CALLING);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 32000);
	CU_ASSERT_EQUAL(R.nsend, (int)n);
	for (size_t i = 0; i < n && i < (size_t)R.nsend; i++)
		CU_ASSERT_EQUAL(R.send_at[i], want[i]);
	CU_ASSERT_EQUAL(R.ntimeout, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

static void
test_ict_reliable_timeout(void)
{
	start();
	client("z9hG4bKi1", "INVITE", 1, inv_req);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.nsend, 1);
	CU_ASSERT_EQUAL(R.now, 32000);
	CU_ASSERT_EQUAL(R.ntimeout, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

static const char want_ack[] =
    "ACK sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKi1;rport\r\n"
    "Route: <sip:p1.example.com;lr>\r\n"
    "Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@example.com>;tag=fa\r\n"
    "To: <sip:bob@example.com>;tag=tb\r\n"
    "Call-ID: call-1@example.com\r\n"
    "CSeq: 7 ACK\r\n"
    "Content-Length: 0\r\n\r\n";

/* 1xx stops A (no timer in Proceeding); a non-2xx final is ACKed by the
 * transaction, and its retransmissions are ACKed again and absorbed. */
static void
test_ict_non2xx_ack(void)
{
	struct txn *t;
	struct sip_msg *ack;
	struct sip_err err;

	start();
	t = client("z9hG4bKi1", "INVITE", 0, inv_req);
	run_until(600); /* one retransmission at 500 */
	CU_ASSERT_EQUAL(R.nsend, 2);
	CU_ASSERT_EQUAL(feed(700, 180, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(txn_state(t), TXN_PROCEEDING);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), UINT64_MAX);
	run_until(100000); /* no retransmission, no Timer B in Proceeding */
	CU_ASSERT_EQUAL(R.nsend, 2);
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	CU_ASSERT_EQUAL(feed(100000, 486, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(txn_state(t), TXN_COMPLETED);
	CU_ASSERT_EQUAL(R.nresp, 2);
	CU_ASSERT_EQUAL(R.resp_status[1], 486);
	CU_ASSERT_EQUAL(R.nsend, 3);
	CU_ASSERT_STRING_EQUAL(R.last, want_ack);
	/* the ACK parses */
	CU_ASSERT_EQUAL(sip_parse(ctx, R.last, R.last_len, SIP_TP_UDP,
	                          SIP_MAX_MSG_DEFAULT, &ack, &err),
	                0);
	talloc_free(ack);
	/* retransmitted final: ACK again, not passed up */
	R.last[0] = '\0';
	CU_ASSERT_EQUAL(feed(101000, 486, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(R.nresp, 2);
	CU_ASSERT_EQUAL(R.nsend, 4);
	CU_ASSERT_STRING_EQUAL(R.last, want_ack);
	/* Timer D: 32 s after the final */
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 100000 + 32000);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 132000);
	CU_ASSERT_EQUAL(R.nterm, 1);
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	finish();
}

/* Reliable: Timer D is zero, the transaction ends after the ACK. */
static void
test_ict_non2xx_reliable(void)
{
	start();
	client("z9hG4bKi1", "INVITE", 1, inv_req);
	CU_ASSERT_EQUAL(feed(300, 603, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(R.nsend, 2);
	CU_ASSERT_STRING_EQUAL(R.last, want_ack);
	CU_ASSERT_EQUAL(R.nresp, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

/* RFC 6026: 2xx -> Accepted, every 2xx up, no ACK by the transaction,
 * Timer M = 64*T1. */
static void
test_ict_2xx_accepted(void)
{
	struct txn *t;

	size_t held;

	start();
	t = client("z9hG4bKi1", "INVITE", 0, inv_req);
	held = talloc_total_size(t);
	CU_ASSERT_EQUAL(feed(100, 200, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(txn_state(t), TXN_ACCEPTED);
	/* Accepted keeps no copy of the INVITE (nor its parse) */
	CU_ASSERT(talloc_total_size(t) + strlen(inv_req) <= held);
	CU_ASSERT_EQUAL(R.nresp, 1);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 100 + 32000);
	CU_ASSERT_EQUAL(feed(600, 200, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(R.nresp, 2);
	CU_ASSERT_EQUAL(R.resp_status[1], 200);
	CU_ASSERT_EQUAL(feed(700, 486, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(feed(800, 180, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(R.nresp, 2);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 32100);
	CU_ASSERT_EQUAL(R.nsend, 1); /* the INVITE only: no ACK, no retx */
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

/* Client matching: branch + CSeq method; CANCEL is its own transaction. */
static void
test_client_matching(void)
{
	static const char cancel[] =
	    "CANCEL sip:bob@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKi1\r\n"
	    "CSeq: 7 CANCEL\r\n\r\n";
	struct txn *ti, *tc;

	start();
	ti = client("z9hG4bKi1", "INVITE", 1, inv_req);
	tc = client("z9hG4bKi1", "CANCEL", 1, cancel);
	CU_ASSERT_PTR_NOT_EQUAL(ti, tc);
	CU_ASSERT_EQUAL(txn_kind(tc), TXN_NICT);
	/* same branch and method twice: refused */
	CU_ASSERT_PTR_NULL(txn_client_new(tab, "z9hG4bKi1", "INVITE", 1,
	                                  inv_req, strlen(inv_req), 0));
	CU_ASSERT_PTR_NULL(txn_client_new(tab, "z9hG4bKa", "ACK", 1, inv_req,
	                                  strlen(inv_req), 0));
	CU_ASSERT_PTR_EQUAL(txn_find_client(tab, "z9hG4bKi1", "INVITE"), ti);
	CU_ASSERT_PTR_EQUAL(txn_find_client(tab, "z9hG4bKi1", "CANCEL"), tc);
	CU_ASSERT_PTR_NULL(txn_find_client(tab, "z9hG4bKi2", "INVITE"));
	CU_ASSERT_EQUAL(feed(1, 200, "z9hG4bKother", "INVITE"), 0);
	CU_ASSERT_EQUAL(feed(1, 200, "z9hG4bKi1", "BYE"), 0);
	CU_ASSERT_EQUAL(R.nresp, 0);
	CU_ASSERT_EQUAL(feed(2, 200, "z9hG4bKi1", "CANCEL"), 1);
	CU_ASSERT_EQUAL(R.nterm, 1); /* the CANCEL, reliable */
	CU_ASSERT_EQUAL(txn_state(ti), TXN_CALLING);
	CU_ASSERT_EQUAL(feed(3, 487, "z9hG4bKi1", "INVITE"), 1);
	CU_ASSERT_EQUAL(R.nterm, 2);
	CU_ASSERT_EQUAL(R.nresp, 2);
	finish();
}

/* ---- NIST ---- */

static struct txn *
server_new(struct sip_msg *m, int reliable)
{
	struct txn *t = NULL;

	CU_ASSERT_EQUAL(txn_server_recv(tab, m, reliable, R.now, &t),
	                TXN_RX_NEW);
	CU_ASSERT_PTR_NOT_NULL(t);
	return t;
}

static enum txn_rx
server_rx(struct sip_msg *m, struct txn **out)
{
	enum txn_rx rx = txn_server_recv(tab, m, 0, R.now, out);
	msg_free(m);
	return rx;
}

static const char r200[] = "SIP/2.0 200 OK\r\n\r\n";
static const char r100[] = "SIP/2.0 100 Trying\r\n\r\n";
static const char r180[] = "SIP/2.0 180 Ringing\r\n\r\n";
static const char r486[] = "SIP/2.0 486 Busy Here\r\n\r\n";

static int
respond(struct txn *t, const char *r)
{
	int st = atoi(r + 8);

	return txn_server_respond(t, st, r, strlen(r), R.now);
}

static void
test_nist(void)
{
	struct sip_msg *m;
	struct txn *t;

	start();
	m = req("OPTIONS", "10.0.0.2:5060", "z9hG4bKs1", 1);
	t = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(txn_kind(t), TXN_NIST);
	CU_ASSERT_EQUAL(txn_state(t), TXN_TRYING);
	/* Timer N: 64*T1 for the TU to answer */
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 32000);
	/* Trying: a retransmission is absorbed, nothing to send */
	CU_ASSERT_EQUAL(
	    server_rx(req("OPTIONS", "10.0.0.2:5060", "z9hG4bKs1", 1), NULL),
	    TXN_RX_RETRANS);
	CU_ASSERT_EQUAL(R.nsend, 0);
	R.now = 100;
	CU_ASSERT_EQUAL(respond(t, r100), 0);
	CU_ASSERT_EQUAL(txn_state(t), TXN_PROCEEDING);
	CU_ASSERT_EQUAL(
	    server_rx(req("OPTIONS", "10.0.0.2:5060", "z9hG4bKs1", 1), NULL),
	    TXN_RX_RETRANS);
	CU_ASSERT_EQUAL(R.nsend, 2);
	CU_ASSERT_STRING_EQUAL(R.last, r100);
	R.now = 1000;
	CU_ASSERT_EQUAL(respond(t, r200), 0);
	CU_ASSERT_EQUAL(txn_state(t), TXN_COMPLETED);
	CU_ASSERT_EQUAL(R.nsend, 3);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 1000 + 32000);
	/* Completed: a second final is refused; retransmissions replay */
	CU_ASSERT_EQUAL(respond(t, r486), -1);
	CU_ASSERT_EQUAL(R.nsend, 3);
	R.now = 2000;
	CU_ASSERT_EQUAL(
	    server_rx(req("OPTIONS", "10.0.0.2:5060", "z9hG4bKs1", 1), NULL),
	    TXN_RX_RETRANS);
	CU_ASSERT_EQUAL(R.nsend, 4);
	CU_ASSERT_STRING_EQUAL(R.last, r200);
	run_until(32999);
	CU_ASSERT_EQUAL(R.nterm, 0);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 33000);
	CU_ASSERT_EQUAL(R.nterm, 1);
	CU_ASSERT_EQUAL(R.nsend, 4); /* no retransmission by the NIST */
	/* after Timer J the same request is new again */
	m = req("OPTIONS", "10.0.0.2:5060", "z9hG4bKs1", 1);
	server_new(m, 0);
	msg_free(m);
	talloc_free(tab); /* on_terminated for the live one */
	tab = NULL;
	CU_ASSERT_EQUAL(R.nterm, 2);
	CU_ASSERT_EQUAL(talloc_total_blocks(ctx), blocks0);
}

/* A NIST the TU never answers (a retransmission absorbed for an answer
 * that never comes) ends at 64*T1 (Timer N), having sent nothing. */
static void
test_nist_unanswered(void)
{
	struct sip_msg *m;
	struct txn *t;

	start();
	m = req("MESSAGE", "10.0.0.2:5060", "z9hG4bKn1", 1);
	t = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(txn_state(t), TXN_TRYING);
	run_until(31999);
	CU_ASSERT_EQUAL(R.nterm, 0);
	CU_ASSERT_EQUAL(txn_count(tab), 1);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 32000);
	CU_ASSERT_EQUAL(R.nterm, 1);
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	CU_ASSERT_EQUAL(R.nsend, 0);
	finish();
}

static void
test_nist_reliable(void)
{
	struct sip_msg *m;
	struct txn *t;

	start();
	m = req("REGISTER", "10.0.0.2:5060", "z9hG4bKs1", 1);
	t = server_new(m, 1);
	msg_free(m);
	CU_ASSERT_EQUAL(txn_reliable(t), 1);
	CU_ASSERT_EQUAL(respond(t, r200), 0);
	CU_ASSERT_EQUAL(R.nsend, 1);
	CU_ASSERT_EQUAL(R.nterm, 1); /* Timer J = 0 */
	finish();
}

/* ---- IST ---- */

static void
test_ist_non2xx_confirmed(void)
{
	static const uint64_t want[] = {1000, 1500, 2500, 4500, 8500};
	struct sip_msg *m;
	struct txn *t;

	start();
	m = req("INVITE", "10.0.0.2", "z9hG4bKs1", 1);
	t = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(txn_kind(t), TXN_IST);
	CU_ASSERT_EQUAL(txn_state(t), TXN_PROCEEDING);
	/* Proceeding before any response: absorbed, nothing sent */
	CU_ASSERT_EQUAL(
	    server_rx(req("INVITE", "10.0.0.2", "z9hG4bKs1", 1), NULL),
	    TXN_RX_RETRANS);
	CU_ASSERT_EQUAL(R.nsend, 0);
	CU_ASSERT_EQUAL(respond(t, r100), 0);
	CU_ASSERT_EQUAL(respond(t, r180), 0);
	CU_ASSERT_EQUAL(txn_state(t), TXN_PROCEEDING);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), UINT64_MAX);
	/* provisional replay: the most recent one */
	CU_ASSERT_EQUAL(
	    server_rx(req("INVITE", "10.0.0.2", "z9hG4bKs1", 1), NULL),
	    TXN_RX_RETRANS);
	CU_ASSERT_EQUAL(R.nsend, 3);
	CU_ASSERT_STRING_EQUAL(R.last, r180);
	R.nsend = 0;
	R.now = 1000;
	CU_ASSERT_EQUAL(respond(t, r486), 0);
	CU_ASSERT_EQUAL(txn_state(t), TXN_COMPLETED);
	CU_ASSERT_EQUAL(respond(t, r200), -1); /* too late */
	run_until(10000); /* G: 1500, 2500, 4500, 8500 (then 12500) */
	CU_ASSERT_EQUAL(R.nsend, 5);
	for (int i = 0; i < 5 && i < R.nsend; i++)
		CU_ASSERT_EQUAL(R.send_at[i], want[i]);
	CU_ASSERT_STRING_EQUAL(R.last, r486);
	/* a retransmitted INVITE gets the final again */
	CU_ASSERT_EQUAL(
	    server_rx(req("INVITE", "10.0.0.2", "z9hG4bKs1", 1), NULL),
	    TXN_RX_RETRANS);
	CU_ASSERT_EQUAL(R.nsend, 6);
	/* the ACK: Confirmed, G stops, Timer I = T4 */
	CU_ASSERT_EQUAL(server_rx(req("ACK", "10.0.0.2", "z9hG4bKs1", 1), NULL),
	                TXN_RX_ACK);
	CU_ASSERT_EQUAL(txn_state(t), TXN_CONFIRMED);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 15000);
	CU_ASSERT_EQUAL(server_rx(req("ACK", "10.0.0.2", "z9hG4bKs1", 1), NULL),
	                TXN_RX_ACK);
	CU_ASSERT_EQUAL(
	    server_rx(req("INVITE", "10.0.0.2", "z9hG4bKs1", 1), NULL),
	    TXN_RX_RETRANS);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 15000);
	CU_ASSERT_EQUAL(R.nsend, 6);
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

/* No ACK: G doubles to T2 and Timer H (64*T1) times out once. */
static void
test_ist_timer_h(void)
{
	struct sip_msg *m;
	struct txn *t;

	start();
	m = req("INVITE", "10.0.0.2", "z9hG4bKs1", 1);
	t = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(respond(t, r486), 0);
	run_until(UINT64_MAX);
	/* 0, then G at 500, 1500, 3500, 7500, 11500, ... 31500 */
	CU_ASSERT_EQUAL(R.nsend, 11);
	CU_ASSERT_EQUAL(R.send_at[10], 31500);
	CU_ASSERT_EQUAL(R.now, 32000);
	CU_ASSERT_EQUAL(R.ntimeout, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

/* Reliable: no G; the ACK ends it at once (Timer I = 0). */
static void
test_ist_reliable(void)
{
	struct sip_msg *m;
	struct txn *t;

	start();
	m = req("INVITE", "10.0.0.2", "z9hG4bKs1", 1);
	t = server_new(m, 1);
	msg_free(m);
	CU_ASSERT_EQUAL(respond(t, r486), 0);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 32000);
	R.now = 5000;
	CU_ASSERT_EQUAL(server_rx(req("ACK", "10.0.0.2", "z9hG4bKs1", 1), NULL),
	                TXN_RX_ACK);
	CU_ASSERT_EQUAL(R.nsend, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

/* RFC 6026 Accepted: the TU's 2xx retransmissions are sent, the 180
 * kept before is dropped, INVITE retransmissions absorbed silently, an ACK
 * with the same branch goes to the TU, Timer L = 64*T1. */
static void
test_ist_2xx_accepted(void)
{
	struct sip_msg *m;
	struct txn *t, *out;
	size_t held;

	start();
	m = req("INVITE", "10.0.0.2", "z9hG4bKs1", 1);
	t = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(respond(t, r180), 0);
	held = talloc_total_size(t); /* with the 180 kept */
	R.now = 100;
	CU_ASSERT_EQUAL(respond(t, r200), 0);
	CU_ASSERT_EQUAL(txn_state(t), TXN_ACCEPTED);
	CU_ASSERT_STRING_EQUAL(R.last, r200);
	/* Accepted keeps no response: the TU sends its 2xx again */
	CU_ASSERT(talloc_total_size(t) + strlen(r180) <= held);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 32100);
	CU_ASSERT_EQUAL(R.nsend, 2);
	CU_ASSERT_EQUAL(
	    server_rx(req("INVITE", "10.0.0.2", "z9hG4bKs1", 1), &out),
	    TXN_RX_RETRANS);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(R.nsend, 2);
	CU_ASSERT_EQUAL(respond(t, r200), 0); /* the TU retransmits */
	CU_ASSERT_EQUAL(R.nsend, 3);
	CU_ASSERT_STRING_EQUAL(R.last, r200);
	CU_ASSERT_EQUAL(respond(t, r486), -1);
	CU_ASSERT_EQUAL(respond(t, r180), -1);
	CU_ASSERT_EQUAL(server_rx(req("ACK", "10.0.0.2", "z9hG4bKs1", 1), &out),
	                TXN_RX_ACK_2XX);
	CU_ASSERT_PTR_EQUAL(out, t);
	CU_ASSERT_EQUAL(txn_state(t), TXN_ACCEPTED);
	/* the usual 2xx ACK has a branch of its own */
	CU_ASSERT_EQUAL(
	    server_rx(req("ACK", "10.0.0.2", "z9hG4bKack", 1), &out),
	    TXN_RX_UNMATCHED_ACK);
	CU_ASSERT_PTR_NULL(out);
	run_until(UINT64_MAX);
	CU_ASSERT_EQUAL(R.now, 32100);
	CU_ASSERT_EQUAL(R.nsend, 3);
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

/* 17.2.3: branch + sent-by + method; ACK matches INVITE; CANCEL apart;
 * RFC 2543 branches by the old rule. */
static void
test_server_matching(void)
{
	struct sip_msg *m, *c;
	struct txn *ti, *t2, *tb, *tc, *out;

	start();
	m = req("INVITE", "10.0.0.2:5060", "z9hG4bKs1", 1);
	ti = server_new(m, 0);
	msg_free(m);
	/* absent port is 5060, host caseless */
	m = req("INVITE", "10.0.0.2", "z9hG4bKs1", 1);
	CU_ASSERT_PTR_EQUAL(txn_server_match(tab, m), ti);
	msg_free(m);
	m = req("OPTIONS", "Proxy.Example.COM:5060", "z9hG4bKs9", 1);
	tb = server_new(m, 0);
	msg_free(m);
	m = req("OPTIONS", "proxy.example.com", "z9hG4bKs9", 1);
	CU_ASSERT_PTR_EQUAL(txn_server_match(tab, m), tb);
	msg_free(m);
	/* other sent-by: another transaction */
	m = req("INVITE", "10.0.0.3:5060", "z9hG4bKs1", 1);
	t2 = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_PTR_NOT_EQUAL(ti, t2);
	m = req("INVITE", "10.0.0.2:5070", "z9hG4bKs1", 1);
	CU_ASSERT_PTR_NULL(txn_server_match(tab, m));
	msg_free(m);
	/* other method, same branch: another transaction */
	m = req("BYE", "10.0.0.2:5060", "z9hG4bKs1", 1);
	tb = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(txn_kind(tb), TXN_NIST);
	/* other branch */
	m = req("INVITE", "10.0.0.2:5060", "z9hG4bKs2", 1);
	CU_ASSERT_PTR_NULL(txn_server_match(tab, m));
	msg_free(m);
	/* ACK finds its INVITE */
	m = req("ACK", "10.0.0.2:5060", "z9hG4bKs1", 1);
	CU_ASSERT_PTR_EQUAL(txn_server_match(tab, m), ti);
	msg_free(m);
	/* CANCEL: its own NIST, and the INVITE it cancels */
	c = req("CANCEL", "10.0.0.2:5060", "z9hG4bKs1", 1);
	tc = server_new(c, 0);
	CU_ASSERT_PTR_NOT_EQUAL(tc, ti);
	CU_ASSERT_EQUAL(txn_kind(tc), TXN_NIST);
	CU_ASSERT_STRING_EQUAL(txn_method(tc), "CANCEL");
	CU_ASSERT_PTR_EQUAL(txn_cancel_target(tab, c), ti);
	msg_free(c);
	c = req("CANCEL", "10.0.0.2:5060", "z9hG4bKnone", 1);
	CU_ASSERT_PTR_NULL(txn_cancel_target(tab, c));
	msg_free(c);
	/* ACK before the final: dropped */
	CU_ASSERT_EQUAL(
	    server_rx(req("ACK", "10.0.0.2:5060", "z9hG4bKs1", 1), &out),
	    TXN_RX_ACK);
	CU_ASSERT_EQUAL(txn_state(ti), TXN_PROCEEDING);
	/* ACK of nothing; ACK for a NIST's branch is not for the NIST */
	CU_ASSERT_EQUAL(
	    server_rx(req("ACK", "10.0.0.9:5060", "z9hG4bKs1", 1), &out),
	    TXN_RX_UNMATCHED_ACK);
	/* RFC 2543 branch: retransmission by the old rule */
	m = req("INVITE", "10.0.0.5:5060", "old1", 5);
	tb = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(
	    server_rx(req("INVITE", "10.0.0.5:5060", "old1", 5), &out),
	    TXN_RX_RETRANS);
	CU_ASSERT_EQUAL(respond(tb, r486), 0);
	CU_ASSERT_EQUAL(server_rx(req("ACK", "10.0.0.5:5060", "old1", 5), &out),
	                TXN_RX_ACK);
	CU_ASSERT_EQUAL(txn_state(tb), TXN_CONFIRMED);
	m = req("INVITE", "10.0.0.5:5060", "old1", 6); /* new CSeq */
	server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(txn_count(tab), 7);
	talloc_free(tab);
	tab = NULL;
	CU_ASSERT_EQUAL(R.nterm, 7);
	CU_ASSERT_EQUAL(talloc_total_blocks(ctx), blocks0);
}

/* A request without a Via branch in a message without Via cannot be
 * matched: error, nothing created. */
static void
test_server_bad(void)
{
	struct sip_msg *m;
	struct txn *out = (struct txn *)1;

	start();
	m = resp(200, "z9hG4bKx", "INVITE");
	CU_ASSERT_EQUAL(txn_server_recv(tab, m, 0, 0, &out), TXN_RX_ERROR);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(txn_client_recv(tab, m, 0), 0);
	msg_free(m);
	m = req("OPTIONS", "10.0.0.2", "z9hG4bKs1", 1);
	CU_ASSERT_EQUAL(txn_client_recv(tab, m, 0), 0);
	msg_free(m);
	CU_ASSERT_PTR_NULL(
	    txn_client_new(tab, "z9hG4bKi1", "INVITE", 0, "garbage", 7, 0));
	CU_ASSERT_EQUAL(R.nsend, 0);
	CU_ASSERT_EQUAL(txn_server_respond(NULL, 200, r200, 4, 0), -1);
	finish();
}

/* send() failing: the TU hears of it and the transaction ends. */
static void
test_transport_error(void)
{
	struct sip_msg *m;
	struct txn *t;

	start();
	R.fail_send = 1;
	CU_ASSERT_PTR_NULL(txn_client_new(tab, "z9hG4bKc1", "OPTIONS", 0,
	                                  opt_req, strlen(opt_req), 0));
	CU_ASSERT_EQUAL(R.ntperr, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	/* on a retransmission */
	R.fail_send = 0;
	client("z9hG4bKc1", "OPTIONS", 0, opt_req);
	R.fail_send = 1;
	run_until(500);
	CU_ASSERT_EQUAL(R.ntperr, 2);
	CU_ASSERT_EQUAL(R.nterm, 2);
	CU_ASSERT_EQUAL(txn_count(tab), 0);
	/* a server response */
	m = req("INVITE", "10.0.0.2", "z9hG4bKs1", 1);
	t = server_new(m, 0);
	msg_free(m);
	CU_ASSERT_EQUAL(respond(t, r486), -1);
	CU_ASSERT_EQUAL(R.ntperr, 3);
	CU_ASSERT_EQUAL(R.nterm, 3);
	CU_ASSERT_EQUAL(R.ntimeout, 0);
	finish();
}

/* Custom timer values are used. */
static void
test_custom_timers(void)
{
	struct txn_timers tm = {.t1 = 100, .t2 = 400, .t4 = 1000};

	memset(&R, 0, sizeof(R));
	blocks0 = talloc_total_blocks(ctx);
	tab = txn_table_new(ctx, &tm, &cbs, &R);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tab);
	client("z9hG4bKc1", "OPTIONS", 0, opt_req);
	run_until(UINT64_MAX);
	/* 0, 100, 300, 700, then every 400 up to 6400 */
	CU_ASSERT_EQUAL(R.now, 6400);
	CU_ASSERT_EQUAL(R.send_at[3], 700);
	CU_ASSERT_EQUAL(R.send_at[4], 1100);
	CU_ASSERT_EQUAL(R.nsend, 4 + 14);
	CU_ASSERT_EQUAL(R.ntimeout, 1);
	finish();
}

/* A late loop: a timer fires once, and restarts from the time it ran. */
static void
test_late_clock(void)
{
	start();
	client("z9hG4bKc1", "OPTIONS", 0, opt_req);
	R.now = 10000;
	txn_run_timers(tab, 10000);
	CU_ASSERT_EQUAL(R.nsend, 2);
	CU_ASSERT_EQUAL(txn_next_deadline(tab), 11000);
	R.now = 40000;
	txn_run_timers(tab, 40000); /* F is due: it wins over E */
	CU_ASSERT_EQUAL(R.nsend, 2);
	CU_ASSERT_EQUAL(R.ntimeout, 1);
	CU_ASSERT_EQUAL(R.nterm, 1);
	finish();
}

/* Many transactions: the heap fires them in deadline order, lookups stay
 * right through hash growth, every one ends once. */
static void
test_many(void)
{
	enum { N = 5000 };
	struct txn **ts;
	char branch[64];
	uint64_t last = 0;
	int ordered = 1;

	start();
	ts = talloc_array(ctx, struct txn *, N);
	for (int i = 0; i < N; i++) {
		struct sip_msg *m;
		snprintf(branch, sizeof(branch), "z9hG4bK%d", i);
		m = req(i % 3 ? "MESSAGE" : "INVITE", "10.0.0.2", branch, 1);
		R.now = (uint64_t)((i * 7919) % 10007);
		ts[i] = server_new(m, 0);
		txn_set_data(ts[i], talloc_size(ctx, 8));
		msg_free(m);
	}
	CU_ASSERT_EQUAL(txn_count(tab), N);
	for (int i = 0; i < N; i += 97) {
		struct sip_msg *m;
		snprintf(branch, sizeof(branch), "z9hG4bK%d", i);
		m = req(i % 3 ? "MESSAGE" : "INVITE", "10.0.0.2", branch, 1);
		CU_ASSERT_PTR_EQUAL(txn_server_match(tab, m), ts[i]);
		msg_free(m);
	}
	for (int i = 0; i < N; i++) {
		R.now = (uint64_t)((i * 7919) % 10007);
		CU_ASSERT_EQUAL(respond(ts[i], i % 3 ? r200 : r486), 0);
	}
	for (uint64_t d; (d = txn_next_deadline(tab)) != UINT64_MAX;) {
		if (d < last)
			ordered = 0;
		last = d;
		R.now = d;
		txn_run_timers(tab, d);
	}
	CU_ASSERT(ordered);
	CU_ASSERT_EQUAL(R.nterm, N);
	CU_ASSERT_EQUAL(R.ntimeout, (N + 2) / 3); /* the INVITEs: Timer H */
	talloc_free(ts);
	finish();
}

int
suite_txn(void)
{
	CU_pSuite s = CU_add_suite("txn", setup, teardown);

	if (s == NULL)
		return -1;
	if (CU_add_test(s, "NICT UDP: E doubling to T2, F",
	                test_nict_udp_timers) == NULL ||
	    CU_add_test(s, "NICT reliable: one send, F", test_nict_reliable) ==
	        NULL ||
	    CU_add_test(s, "NICT Proceeding E=T2, Completed K",
	                test_nict_proceeding_completed) == NULL ||
	    CU_add_test(s, "NICT reliable final ends at once",
	                test_nict_reliable_final) == NULL ||
	    CU_add_test(s, "ICT UDP: A doubling, B", test_ict_udp_timers) ==
	        NULL ||
	    CU_add_test(s, "ICT reliable: B", test_ict_reliable_timeout) ==
	        NULL ||
	    CU_add_test(s, "ICT non-2xx: ACK, absorb, D",
	                test_ict_non2xx_ack) == NULL ||
	    CU_add_test(s, "ICT non-2xx reliable", test_ict_non2xx_reliable) ==
	        NULL ||
	    CU_add_test(s, "ICT 2xx: Accepted, M", test_ict_2xx_accepted) ==
	        NULL ||
	    CU_add_test(s, "client matching", test_client_matching) == NULL ||
	    CU_add_test(s, "NIST: absorb, replay, J", test_nist) == NULL ||
	    CU_add_test(s, "NIST: no answer, Timer N", test_nist_unanswered) ==
	        NULL ||
	    CU_add_test(s, "NIST reliable: J=0", test_nist_reliable) == NULL ||
	    CU_add_test(s, "IST non-2xx: G, ACK, I",
	                test_ist_non2xx_confirmed) == NULL ||
	    CU_add_test(s, "IST Timer H", test_ist_timer_h) == NULL ||
	    CU_add_test(s, "IST reliable", test_ist_reliable) == NULL ||
	    CU_add_test(s, "IST 2xx: Accepted, L", test_ist_2xx_accepted) ==
	        NULL ||
	    CU_add_test(s, "server matching", test_server_matching) == NULL ||
	    CU_add_test(s, "bad input", test_server_bad) == NULL ||
	    CU_add_test(s, "transport errors", test_transport_error) == NULL ||
	    CU_add_test(s, "custom timers", test_custom_timers) == NULL ||
	    CU_add_test(s, "late clock", test_late_clock) == NULL ||
	    CU_add_test(s, "5000 transactions", test_many) == NULL)
		return -1;
	return 0;
}
