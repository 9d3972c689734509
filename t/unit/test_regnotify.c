/*
 * t/unit/test_regnotify.c: the reg-event service glued to sipd
 * (workers/regnotify.c), on a temporary database with the service of slot
 * u0 (the notifier) and one of slot t3: a SUBSCRIBE's 200 comes before its
 * NOTIFY (CSeq 1, version 0) in the notifier's batch; a change made by
 * another worker ends its batch with a kick of the notifier, after its
 * answer; a binding's change
 * records its debt (reg_sub_events, pending 2) in the change's own
 * transaction, so a change that is not committed owes nothing; changes
 * while a NOTIFY is unanswered are coalesced into the next; a 481 removes
 * the subscription; a replacement notifier sends the NOTIFY in flight
 * again with the same CSeq, version and branch.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <talloc.h>

#include "schema/db.h"
#include "sip/sip.h"
#include "t/unit/sipd_util.h"
#include "workers/regnotify.h"
#include "workers/sipd.h"

/* What one batch sent: copies under ctx. */
struct outs {
	int n;
	char *buf[16];
	int kind[16];
	char slot[16][8];
};

static void
outs_take(TALLOC_CTX *ctx, struct sipd *sd, struct outs *o)
{
	const struct sipd_out *out;
	int n = sipd_batch_end(sd, &out);

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < n && i < 16; i++) {
		o->buf[i] = talloc_strndup(ctx, out[i].buf, out[i].len);
		o->kind[i] = out[i].kind;
		snprintf(o->slot[i], sizeof(o->slot[i]), "%s", out[i].fwd_slot);
	}
	o->n = n < 16 ? n : 16;
}

/* Handle msg from the UDP peer in a batch of its own. */
static void
one(struct tsd *t, const char *msg, struct outs *o)
{
	sipd_batch_begin(t->sd);
	sipd_handle(t->sd, msg, strlen(msg), &t->udp_peer);
	outs_take(t, t->sd, o);
}

/* The same in another worker's service sd (over TCP, as t3's would). */
static void
one_in(struct tsd *t, struct sipd *sd, const char *msg, struct outs *o)
{
	sipd_batch_begin(sd);
	sipd_handle(sd, msg, strlen(msg), &t->tcp_peer);
	outs_take(t, sd, o);
}

/* The notifier kicked, in a batch of its own. */
static void
kick(struct tsd *t, struct outs *o)
{
	sipd_batch_begin(t->sd);
	sipd_regev_kick(t->sd);
	outs_take(t, t->sd, o);
}

/* The first output that starts with "NOTIFY ", or NULL. */
static const char *
notify_of(const struct outs *o)
{
	for (int i = 0; i < o->n; i++)
		if (o->kind[i] == SIPD_OUT_SEND &&
		    strncmp(o->buf[i], "NOTIFY ", 7) == 0)
			return o->buf[i];
	return NULL;
}

/* Answer NOTIFY text n with status. */
static void
answer(struct tsd *t, const char *n, int status, struct outs *o)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct sip_msg *m;
	struct sip_err err;
	size_t len;
	char *r;

	CU_ASSERT_FATAL(
	    sip_parse(tmp, n, strlen(n), SIP_TP_UDP, 65536, &m, &err) == 0);
	r = sip_resp_simple(tmp, m, status, NULL, SIP_STR_NULL, NULL, &len);
	CU_ASSERT_FATAL(r != NULL);
	sipd_batch_begin(t->sd);
	sipd_handle(t->sd, r, len, &t->udp_peer);
	outs_take(t, t->sd, o);
	talloc_free(tmp);
}

static const char *
subscribe_msg(int expires)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	         "SUBSCRIBE sip:alice@afd.test SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKsub%d\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:alice@afd.test>;tag=w1\r\n"
	         "To: <sip:alice@afd.test>\r\n"
	         "Call-ID: sub1@t\r\n"
	         "CSeq: 1 SUBSCRIBE\r\n"
	         "Contact: <sip:alice@127.0.0.1:40000>\r\n"
	         "Event: reg\r\n"
	         "Accept: application/reginfo+xml\r\n"
	         "Expires: %d\r\n"
	         "Content-Length: 0\r\n\r\n",
	         expires, expires);
	return buf;
}

static const char *
register_msg(int n)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	         "REGISTER sip:afd.test SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKreg%d\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:alice@afd.test>;tag=r%d\r\n"
	         "To: <sip:alice@afd.test>\r\n"
	         "Call-ID: reg%d@t\r\n"
	         "CSeq: 1 REGISTER\r\n"
	         "Contact: <sip:alice@127.0.0.1:%d>\r\n"
	         "Expires: 600\r\n"
	         "Content-Length: 0\r\n\r\n",
	         n, n, n, 41000 + n);
	return buf;
}

#define SUBQ(col) "SELECT " col " FROM reg_subscriptions WHERE ?1 IS NULL"

static int
refuse_commit(void *arg)
{
	return 1;
}

/* SUBSCRIBE, 200 then the kick; the NOTIFY; its answer; a change in a
 * transaction that fails owes nothing; one that commits owes a NOTIFY. */
static void
test_subscribe_notify(void)
{
	struct tsd *t = tsd_new(NULL);
	struct outs o;
	const char *n;

	CU_ASSERT_FATAL(t != NULL);
	one(t, subscribe_msg(600), &o);
	CU_ASSERT_FATAL(o.n == 2);
	CU_ASSERT(strncmp(o.buf[0], "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT(strstr(o.buf[0], "\r\nExpires: 600\r\n") != NULL);
	CU_ASSERT(strstr(o.buf[0], "\r\nContact: <sip:afd@") != NULL);
	/* the NOTIFY after the 200, never before */
	CU_ASSERT_FATAL((n = notify_of(&o)) != NULL);
	CU_ASSERT(n == o.buf[1]);
	CU_ASSERT(strstr(n, "\r\nCSeq: 1 NOTIFY\r\n") != NULL);
	CU_ASSERT(strstr(n, "version=\"0\" state=\"full\"") != NULL);
	CU_ASSERT(strstr(n, "\r\nSubscription-State: active;expires=") != NULL);
	CU_ASSERT(strstr(n, "\r\nVia: SIP/2.0/UDP ") != NULL &&
	          strstr(n, ";branch=z9hG4bK-u0-") != NULL);
	CU_ASSERT(strstr(n, "\r\nTo: <sip:alice@afd.test>;tag=w1\r\n") != NULL);
	CU_ASSERT(tsd_count(t, SUBQ("version * 10 + cseq"), NULL) == 1);
	CU_ASSERT(tsd_count(t, SUBQ("pending"), NULL) == 1);
	answer(t, n, 200, &o);
	CU_ASSERT(tsd_count(t, SUBQ("pending"), NULL) == 0);
	CU_ASSERT(tsd_count(t, SUBQ("last_status"), NULL) == 200);

	/* a REGISTER whose commit fails: no debt, no event */
	sqlite3_commit_hook(sipd_db(t->sd), refuse_commit, NULL);
	one(t, register_msg(1), &o);
	sqlite3_commit_hook(sipd_db(t->sd), NULL, NULL);
	CU_ASSERT(o.n >= 1 && strncmp(o.buf[0], "SIP/2.0 500 ", 12) == 0);
	CU_ASSERT(tsd_count(t, SUBQ("pending"), NULL) == 0);
	CU_ASSERT(tsd_count(t, "SELECT count(*) FROM reg_sub_events", NULL) ==
	          0);
	/* committed by another worker (t3): the event and the debt, with
	 * the change; its batch ends with a kick of the notifier, after the
	 * 200 */
	struct sipd *t3 = sipd_new(t, &t->conf, "t3");
	CU_ASSERT_FATAL(t3 != NULL);
	one_in(t, t3, register_msg(2), &o);
	CU_ASSERT_FATAL(o.n == 2);
	CU_ASSERT(strncmp(o.buf[0], "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT(o.kind[1] == SIPD_OUT_KICK);
	CU_ASSERT_STRING_EQUAL(o.slot[1], REGN_NOTIFIER_SLOT);
	CU_ASSERT(tsd_count(t, SUBQ("pending"), NULL) == 2);
	CU_ASSERT(tsd_count(t,
	                    "SELECT count(*) FROM reg_sub_events WHERE "
	                    "event = 'created' AND ?1 IS NULL",
	                    NULL) == 1);
	talloc_free(t3);
	kick(t, &o);
	CU_ASSERT_FATAL((n = notify_of(&o)) != NULL);
	CU_ASSERT(strstr(n, "\r\nCSeq: 2 NOTIFY\r\n") != NULL);
	CU_ASSERT(strstr(n, "version=\"1\"") != NULL);
	CU_ASSERT(strstr(n, "event=\"created\"") != NULL);
	answer(t, n, 200, &o);
	CU_ASSERT(tsd_count(t, "SELECT count(*) FROM reg_sub_events", NULL) ==
	          0);
	tsd_free(t);
}

/* Two changes while a NOTIFY is unanswered: one NOTIFY after the answer;
 * a 481 removes the subscription. */
static void
test_coalesce_481(void)
{
	struct tsd *t = tsd_new(NULL);
	struct outs o;
	const char *n;
	char *first;

	CU_ASSERT_FATAL(t != NULL);
	one(t, subscribe_msg(600), &o);
	CU_ASSERT_FATAL((n = notify_of(&o)) != NULL);
	first = talloc_strdup(t, n);
	one(t, register_msg(1), &o);
	CU_ASSERT(notify_of(&o) == NULL);
	one(t, register_msg(2), &o);
	CU_ASSERT(notify_of(&o) == NULL);
	kick(t, &o);
	CU_ASSERT(notify_of(&o) == NULL);
	answer(t, first, 200, &o);
	CU_ASSERT_FATAL((n = notify_of(&o)) != NULL);
	CU_ASSERT(strstr(n, "\r\nCSeq: 2 NOTIFY\r\n") != NULL);
	CU_ASSERT(strstr(n, "version=\"1\"") != NULL);
	CU_ASSERT(strstr(n, "sip:alice@127.0.0.1:41001") != NULL &&
	          strstr(n, "sip:alice@127.0.0.1:41002") != NULL);
	answer(t, n, 481, &o);
	CU_ASSERT(notify_of(&o) == NULL);
	CU_ASSERT(
	    tsd_count(t, "SELECT count(*) FROM reg_subscriptions", NULL) == 0);
	CU_ASSERT(tsd_count(t, "SELECT count(*) FROM reg_sub_events", NULL) ==
	          0);
	tsd_free(t);
}

/* A replacement notifier (a new service on the same database) sends the
 * NOTIFY that was in flight again: same CSeq, version and branch. */
static void
test_recover(void)
{
	struct tsd *t = tsd_new(NULL);
	struct outs o;
	const char *n, *b1, *b2;
	char *first;

	CU_ASSERT_FATAL(t != NULL);
	one(t, subscribe_msg(600), &o);
	CU_ASSERT_FATAL((n = notify_of(&o)) != NULL);
	first = talloc_strdup(t, n);
	/* the worker dies: a new service of slot u0 on the database */
	TALLOC_FREE(t->sd);
	t->sd = sipd_new(t, &t->conf, "u0");
	CU_ASSERT_FATAL(t->sd != NULL);
	kick(t, &o);
	CU_ASSERT_FATAL((n = notify_of(&o)) != NULL);
	CU_ASSERT(strstr(n, "\r\nCSeq: 1 NOTIFY\r\n") != NULL);
	CU_ASSERT(strstr(n, "version=\"0\"") != NULL);
	b1 = strstr(first, "branch=");
	b2 = strstr(n, "branch=");
	CU_ASSERT_FATAL(b1 != NULL && b2 != NULL);
	CU_ASSERT(strncmp(b1, b2, 40) == 0);
	answer(t, n, 200, &o);
	CU_ASSERT(tsd_count(t, SUBQ("pending * 1000 + last_status"), NULL) ==
	          200);
	tsd_free(t);
}

int
suite_regnotify(void)
{
	CU_pSuite s = CU_add_suite("regnotify", NULL, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "SUBSCRIBE, NOTIFY, debt with the change",
	                 test_subscribe_notify) ||
	    !CU_add_test(s, "coalescing, 481", test_coalesce_481) ||
	    !CU_add_test(s, "a replacement sends the NOTIFY in flight",
	                 test_recover))
		return -1;
	return 0;
}
