/*
 * t/unit/test_regevent.c: the reg-event service's pure parts
 * (workers/regevent.c): the SUBSCRIBE checks and their answers (400, 489
 * with Allow-Events, 406, 423 with Min-Expires, the granted expiry), who
 * may watch which AOR, the Subscription-State value, the NOTIFY's exact
 * text (parsed back by afd's own parser), and the NOTIFY queue of one
 * subscription on a fake clock: one at a time, in order, coalesced, one
 * version per NOTIFY sent, 481/408/489 remove, other failures go on, the
 * final NOTIFY, the Timer F backstop, and a long random run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "util/conf.h"
#include "sip/sip.h"
#include "workers/regevent.h"

static struct conf C;

static int
setup(void)
{
	conf_defaults(&C);
	C.regev_min_expires = 60;
	C.regev_max_expires = 600000;
	return 0;
}

/* The seed capture's SUBSCRIBE with extra header lines. */
static struct sip_msg *
subscribe(TALLOC_CTX *ctx, const char *extra)
{
	struct sip_msg *m = NULL;
	struct sip_err err;
	char *s;

	s = talloc_asprintf(
	    ctx,
	    "SUBSCRIBE sip:13800011103@one.att.net SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 182.0.123.58:5060;branch=z9hG4bKB18mqR9Q7jiQf\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:13800011103@one.att.net>;tag=ZkTGAlN2H5\r\n"
	    "To: <sip:13800011103@one.att.net>\r\n"
	    "Call-ID: Nd3Rs8wJK6F2aG4ryvU9@182.0.123.58\r\n"
	    "CSeq: 10052 SUBSCRIBE\r\n"
	    "Contact: <sip:13800011103@182.0.123.58:5060>\r\n"
	    "%s"
	    "Content-Length: 0\r\n\r\n",
	    extra);
	if (sip_parse(ctx, s, strlen(s), SIP_TP_UDP, SIP_MAX_MSG_DEFAULT, &m,
	              &err) != 0)
		return NULL;
	return m;
}

/* regev_check_subscribe on the SUBSCRIBE with extra: the status. */
static int
check(TALLOC_CTX *t, const char *extra, struct regev_check *k)
{
	struct sip_msg *m = subscribe(t, extra);

	CU_ASSERT_FATAL(m != NULL);
	return regev_check_subscribe(m, &C, k);
}

static void
test_check_event(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct regev_check k;

	CU_ASSERT(check(t, "Event: reg\r\nExpires: 600000\r\n", &k) == 200);
	CU_ASSERT(k.expires == 600000 && k.extra[0] == '\0');
	CU_ASSERT(k.event_id.len == 0);
	/* compact form, params, the id kept */
	CU_ASSERT(check(t, "o: reg ; id=17;x=y\r\n", &k) == 200);
	CU_ASSERT(k.event_id.len == 2 && memcmp(k.event_id.s, "17", 2) == 0);
	CU_ASSERT(check(t, "Event: reg;x=1;ID=\"a b\"\r\n", &k) == 200);
	CU_ASSERT(k.event_id.len == 5 &&
	          memcmp(k.event_id.s, "\"a b\"", 5) == 0);
	/* no Event: 400 */
	CU_ASSERT(check(t, "Expires: 60\r\n", &k) == 400);
	CU_ASSERT_STRING_EQUAL(k.reason, "Missing Event Header");
	CU_ASSERT(check(t, "Event: reg\r\nEvent: reg\r\n", &k) == 400);
	CU_ASSERT_STRING_EQUAL(k.reason, "Multiple Event Headers");
	/* another package: 489 with Allow-Events */
	const char *other[] = {"Event: presence\r\n", "Event: Reg\r\n",
	                       "Event: reg.winfo\r\n", "Event: regx\r\n",
	                       "Event: reg, presence\r\n"};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		CU_ASSERT(check(t, other[i], &k) == 489);
		CU_ASSERT_STRING_EQUAL(k.extra, "Allow-Events: reg\r\n");
		CU_ASSERT(k.reason == NULL);
	}
	talloc_free(t);
}

static void
test_check_accept(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct regev_check k;
	static const char *const ok[] = {
	    "Accept: application/reginfo+xml\r\n",
	    "Accept: application/sdp, Application/Reginfo+XML;q=0.5\r\n",
	    "Accept: application/*\r\n",
	    "Accept: */*\r\n",
	    "Accept: text/plain\r\nAccept: application/reginfo+xml\r\n",
	    "Accept: application/reginfo+xml;q=0.001\r\n",
	};
	static const char *const bad[] = {
	    "Accept: application/sdp\r\n",
	    "Accept: application/pidf+xml, text/*\r\n",
	    "Accept: application/reginfo+xml;q=0\r\n",
	    "Accept: application/reginfo+xml;q=0.000\r\n",
	    "Accept: application/reginfo\r\n",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *x = talloc_asprintf(t, "Event: reg\r\n%s", ok[i]);
		CU_ASSERT(check(t, x, &k) == 200);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *x = talloc_asprintf(t, "Event: reg\r\n%s", bad[i]);
		CU_ASSERT(check(t, x, &k) == 406);
		CU_ASSERT_STRING_EQUAL(k.extra,
		                       "Accept: application/reginfo+xml\r\n");
	}
	/* Event is checked first */
	CU_ASSERT(check(t, "Event: dialog\r\nAccept: text/plain\r\n", &k) ==
	          489);
	talloc_free(t);
}

static void
test_check_expires(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct regev_check k;

	/* none: RFC 3680's default */
	CU_ASSERT(check(t, "Event: reg\r\n", &k) == 200);
	CU_ASSERT(k.expires == 3761);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 0\r\n", &k) == 200);
	CU_ASSERT(k.expires == 0);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 60\r\n", &k) == 200);
	CU_ASSERT(k.expires == 60);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 59\r\n", &k) == 423);
	CU_ASSERT_STRING_EQUAL(k.extra, "Min-Expires: 60\r\n");
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 1\r\n", &k) == 423);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 600001\r\n", &k) == 200);
	CU_ASSERT(k.expires == 600000);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 4294967295\r\n", &k) == 200);
	CU_ASSERT(k.expires == 600000);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 4294967296\r\n", &k) == 400);
	CU_ASSERT_STRING_EQUAL(k.reason, "Invalid Expires");
	CU_ASSERT(check(t, "Event: reg\r\nExpires: soon\r\n", &k) == 400);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: -5\r\n", &k) == 400);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 60\r\nExpires: 70\r\n",
	                &k) == 400);
	/* other limits */
	C.regev_min_expires = 5000;
	CU_ASSERT(check(t, "Event: reg\r\n", &k) == 200 && k.expires == 5000);
	CU_ASSERT(check(t, "Event: reg\r\nExpires: 4000\r\n", &k) == 423);
	CU_ASSERT_STRING_EQUAL(k.extra, "Min-Expires: 5000\r\n");
	C.regev_min_expires = 10;
	C.regev_max_expires = 100;
	CU_ASSERT(check(t, "Event: reg\r\n", &k) == 200 && k.expires == 100);
	setup();
	talloc_free(t);
}

static void
test_may_watch(void)
{
	const char *x = " <tel:+111>, sip:b@d ,,";

	CU_ASSERT(regev_may_watch(CONF_AUTH_NONE, "sip:any@d", NULL, NULL));
	CU_ASSERT(regev_may_watch(CONF_AUTH_DIGEST, "sip:a@d", "sip:a@d", x));
	CU_ASSERT(regev_may_watch(CONF_AUTH_AKA, "tel:+111", "sip:a@d", x));
	CU_ASSERT(regev_may_watch(CONF_AUTH_AKA, "sip:b@d", "sip:a@d", x));
	CU_ASSERT(!regev_may_watch(CONF_AUTH_AKA, "sip:c@d", "sip:a@d", x));
	CU_ASSERT(!regev_may_watch(CONF_AUTH_AKA, "sip:b@", "sip:a@d", x));
	CU_ASSERT(!regev_may_watch(CONF_AUTH_AKA, "tel:+11", "sip:a@d", x));
	CU_ASSERT(!regev_may_watch(CONF_AUTH_AKA, "", "sip:a@d", x));
	CU_ASSERT(!regev_may_watch(CONF_AUTH_AKA, "sip:a@d", NULL, NULL));
	CU_ASSERT(
	    !regev_may_watch(CONF_AUTH_DIGEST, "sip:b@d", "sip:a@d", NULL));
}

static void
test_substate(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct sip_buf b;

	sip_buf_init(&b, t, 64);
	regev_substate(&b, 0, 1600000, 1000001, NULL);
	CU_ASSERT_STRING_EQUAL(b.s, "active;expires=599999");
	sip_buf_init(&b, t, 64);
	regev_substate(&b, 0, 10, 20, NULL);
	CU_ASSERT_STRING_EQUAL(b.s, "active;expires=0");
	sip_buf_init(&b, t, 64);
	regev_substate(&b, 1, 10, 20, "timeout");
	CU_ASSERT_STRING_EQUAL(b.s, "terminated;reason=timeout");
	sip_buf_init(&b, t, 64);
	regev_substate(&b, 1, 10, 20, NULL);
	CU_ASSERT_STRING_EQUAL(b.s, "terminated");
	talloc_free(t);
}

/* The seed's NOTIFY, exactly, and parsed back. */
static void
test_notify_print(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	static const char body[] = "<?xml version=\"1.0\"?>\n<reginfo/>\n";
	struct regev_notify n = {
	    .target = "sip:13800011103@182.0.123.58:5060",
	    .vias =
	        "Via: SIP/2.0/UDP 10.88.120.110:5060;branch=z9hG4bK-u0-1\r\n",
	    .aor = "sip:13800011103@one.att.net",
	    .local_tag = "7c00dc87",
	    .watcher = "sip:13800011103@one.att.net",
	    .remote_tag = "ZkTGAlN2H5",
	    .call_id = "Nd3Rs8wJK6F2aG4ryvU9@182.0.123.58",
	    .cseq = 1,
	    .contact = "sip:10.88.120.110:5060",
	    .expires_at = 1600000,
	    .now = 1000001,
	    .body = {body, sizeof(body) - 1},
	};
	struct sip_buf b;
	struct sip_msg *m;
	struct sip_err err;

	sip_buf_init(&b, t, 256);
	CU_ASSERT_FATAL(regev_notify_print(&b, &n) == 0);
	CU_ASSERT_STRING_EQUAL(
	    b.s, "NOTIFY sip:13800011103@182.0.123.58:5060 SIP/2.0\r\n"
	         "Via: SIP/2.0/UDP 10.88.120.110:5060;branch=z9hG4bK-u0-1\r\n"
	         "Max-Forwards: 70\r\n"
	         "From: <sip:13800011103@one.att.net>;tag=7c00dc87\r\n"
	         "To: <sip:13800011103@one.att.net>;tag=ZkTGAlN2H5\r\n"
	         "Call-ID: Nd3Rs8wJK6F2aG4ryvU9@182.0.123.58\r\n"
	         "CSeq: 1 NOTIFY\r\n"
	         "Contact: <sip:10.88.120.110:5060>\r\n"
	         "Event: reg\r\n"
	         "Subscription-State: active;expires=599999\r\n"
	         "Content-Type: application/reginfo+xml\r\n"
	         "Content-Length: 33\r\n"
	         "\r\n"
	         "<?xml version=\"1.0\"?>\n<reginfo/>\n");
	CU_ASSERT(sip_parse(t, b.s, b.len, SIP_TP_UDP, SIP_MAX_MSG_DEFAULT, &m,
	                    &err) == 0);
	CU_ASSERT(m != NULL && m->mid == SIP_M_NOTIFY && m->cseq.num == 1 &&
	          m->cseq.mid == SIP_M_NOTIFY && m->body.len == 33);

	/* the final one, with a route set and an Event id */
	n.terminated = 1;
	n.reason = "deactivated";
	n.route = "<sip:pcscf.example.net;lr>, <sip:p2;lr>";
	n.event_id = "17";
	n.cseq = 4294967295LL;
	sip_buf_init(&b, t, 256);
	CU_ASSERT_FATAL(regev_notify_print(&b, &n) == 0);
	CU_ASSERT(strstr(b.s, "\r\nCSeq: 4294967295 NOTIFY\r\n"
	                      "Route: <sip:pcscf.example.net;lr>, "
	                      "<sip:p2;lr>\r\n") != NULL);
	CU_ASSERT(strstr(b.s, "\r\nEvent: reg;id=17\r\nSubscription-State: "
	                      "terminated;reason=deactivated\r\n") != NULL);
	CU_ASSERT(sip_parse(t, b.s, b.len, SIP_TP_UDP, SIP_MAX_MSG_DEFAULT, &m,
	                    &err) == 0);

	/* nothing that could split a header */
	n.cseq = 2;
	const char **f[] = {&n.target,     &n.aor,     &n.local_tag, &n.watcher,
	                    &n.remote_tag, &n.call_id, &n.contact,   &n.route,
	                    &n.event_id,   &n.reason};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *keep = *f[i];
		*f[i] = "x\r\nInjected: 1";
		sip_buf_init(&b, t, 256);
		CU_ASSERT(regev_notify_print(&b, &n) == -1);
		*f[i] = keep;
	}
	n.cseq = 0;
	CU_ASSERT(regev_notify_print(&b, &n) == -1);
	n.cseq = 4294967296LL;
	CU_ASSERT(regev_notify_print(&b, &n) == -1);
	n.cseq = 2;
	n.call_id = NULL;
	CU_ASSERT(regev_notify_print(&b, &n) == -1);
	talloc_free(t);
}

/* A document valid by RFC 3680's schema? (xmllint, offline.) */
static int
valid(const char *text)
{
	char path[] = "/tmp/afd-regevent-XXXXXX", cmd[256];
	int fd, ok;

	if ((fd = mkstemp(path)) == -1)
		return 0;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	snprintf(cmd, sizeof(cmd),
	         "XML_CATALOG_FILES=t/xml/catalog.xml xmllint --nonet --noout "
	         "--schema t/xml/rfc3680-reginfo.xsd %s 2>/dev/null",
	         path);
	ok = ok && system(cmd) == 0;
	unlink(path);
	return ok;
}

/* The document of an implicit set from registrations rows. */
static void
test_document(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct db_binding b[2] = {
	    {.id = 7,
	     .aor = "sip:13800011103@one.att.net",
	     .contact = "sip:13800011103@182.0.123.58:5060",
	     .params = "audio;video;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-"
	               "service.ims.icsi.mmtel\";+sip.instance=\"<urn:gsma:"
	               "imei:86539405-000273-0>\"",
	     .expires_at = 1600000,
	     .q = 0.5,
	     .has_q = 1,
	     .call_id = "XP0VHy42Rr8GeaFMRdy@182.0.123.58",
	     .cseq = 2,
	     .registered_at = 999000},
	    {.id = 9,
	     .aor = "sip:13800011103@one.att.net",
	     .contact = "sip:13800011103@10.0.0.1:5060",
	     .params = "",
	     .expires_at = 999999,
	     .call_id = "old",
	     .cseq = 5,
	     .registered_at = 990000},
	};
	struct regev_binding rb[2] = {{&b[0], REGINFO_EV_REFRESHED},
	                              {&b[1], REGINFO_EV_EXPIRED}};
	struct regev_identity ids[2] = {{.aor = "sip:13800011103@one.att.net",
	                                 .bindings = rb,
	                                 .nbindings = 2},
	                                {.aor = "tel:+13800011103"}};
	struct sip_buf out;
	char rid[16];

	sip_buf_init(&out, t, 256);
	CU_ASSERT_FATAL(regev_document(&out, 5, ids, 2, 1000001) == 0);
	CU_ASSERT(valid(out.s));
	CU_ASSERT(strstr(out.s, " version=\"5\" state=\"full\">") != NULL);
	reginfo_aor_id(rid, "sip:13800011103@one.att.net");
	CU_ASSERT(strstr(out.s, talloc_asprintf(
	                            t,
	                            "<registration aor=\"sip:13800011103@one."
	                            "att.net\" id=\"%s\" state=\"active\">",
	                            rid)) != NULL);
	CU_ASSERT(strstr(out.s,
	                 "<contact id=\"c7\" state=\"active\" "
	                 "event=\"refreshed\" expires=\"599999\" q=\"0.5\" "
	                 "callid=\"XP0VHy42Rr8GeaFMRdy@182.0.123.58\" "
	                 "cseq=\"2\" duration-registered=\"1001\">\n"
	                 "\t\t\t<uri>sip:13800011103@182.0.123.58:5060</uri>\n"
	                 "\t\t\t<unknown-param name=\"audio\">"
	                 "</unknown-param>\n") != NULL);
	CU_ASSERT(strstr(out.s, "<unknown-param name=\"+sip.instance\">&lt;urn:"
	                        "gsma:imei:86539405-000273-0&gt;"
	                        "</unknown-param>") != NULL);
	CU_ASSERT(strstr(out.s, "<contact id=\"c9\" state=\"terminated\" "
	                        "event=\"expired\" expires=\"0\" "
	                        "callid=\"old\" cseq=\"5\" "
	                        "duration-registered=\"10001\">") != NULL);
	CU_ASSERT(
	    strstr(out.s, "<registration aor=\"tel:+13800011103\" id=\"a") !=
	    NULL);
	CU_ASSERT(strstr(out.s, "state=\"init\"/>") != NULL);

	/* the last binding de-registered by the network: terminated */
	rb[0].event = REGINFO_EV_DEACTIVATED;
	sip_buf_init(&out, t, 256);
	CU_ASSERT_FATAL(regev_document(&out, 6, ids, 1, 1000001) == 0);
	CU_ASSERT(valid(out.s));
	CU_ASSERT(strstr(out.s, "state=\"terminated\">\n\t\t<contact id=\"c7\" "
	                        "state=\"terminated\" event=\"deactivated\" "
	                        "expires=\"0\"") != NULL);
	/* a stored params string that does not parse: no document */
	b[0].params = "a=\"open";
	sip_buf_init(&out, t, 256);
	CU_ASSERT(regev_document(&out, 7, ids, 1, 1000001) == -1);
	/* nothing at all: an empty full document */
	sip_buf_init(&out, t, 256);
	CU_ASSERT(regev_document(&out, 0, NULL, 0, 1) == 0 && valid(out.s));
	talloc_free(t);
}

/* ---- the queue ---- */

static void
test_queue_coalesce(void)
{
	struct regev_q q;
	int64_t version = -1, cseq = 0; /* what db_sub_take hands out */

	regev_q_init(&q);
	CU_ASSERT(regev_q_deadline(&q) == 0);
	/* the subscription's first NOTIFY */
	CU_ASSERT(regev_q_change(&q, 1000) == REGEV_Q_SEND);
	version++, cseq++;
	regev_q_sent(&q, cseq, 1000);
	CU_ASSERT(version == 0 && q.inflight && !q.dirty);
	CU_ASSERT(regev_q_deadline(&q) == 1000 + REGEV_Q_ANSWER_MS);
	/* three changes while it is in flight: nothing goes out */
	CU_ASSERT(regev_q_change(&q, 1100) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_change(&q, 1200) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_change(&q, 1300) == REGEV_Q_NONE);
	CU_ASSERT(q.changes == 3);
	/* a provisional, a late answer to another CSeq: still waiting */
	CU_ASSERT(regev_q_answer(&q, cseq, 100, 1350) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_answer(&q, cseq - 1, 200, 1350) == REGEV_Q_NONE);
	CU_ASSERT(q.inflight);
	/* the answer: ONE NOTIFY with the latest state, version + 1 */
	CU_ASSERT(regev_q_answer(&q, cseq, 200, 1400) == REGEV_Q_SEND);
	version++, cseq++;
	regev_q_sent(&q, cseq, 1400);
	CU_ASSERT(version == 1 && cseq == 2 && q.changes == 0);
	/* its answer, twice (a retransmitted 200): nothing more to send */
	CU_ASSERT(regev_q_answer(&q, cseq, 200, 1500) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_answer(&q, cseq, 200, 1501) == REGEV_Q_NONE);
	CU_ASSERT(!q.inflight && regev_q_deadline(&q) == 0);
	/* idle: a change goes out at once */
	CU_ASSERT(regev_q_change(&q, 2000) == REGEV_Q_SEND);
}

static void
test_queue_failures(void)
{
	static const int removes[] = {481, 408, 489};
	static const int goes_on[] = {400, 403, 404, 415, 486,
	                              500, 503, 603, 302};
	struct regev_q q;

	for (size_t i = 0; i < 3; i++) {
		regev_q_init(&q);
		CU_ASSERT(regev_q_change(&q, 0) == REGEV_Q_SEND);
		regev_q_sent(&q, 1, 0);
		CU_ASSERT(regev_q_change(&q, 1) == REGEV_Q_NONE);
		CU_ASSERT(regev_q_answer(&q, 1, removes[i], 2) ==
		          REGEV_Q_REMOVE);
		CU_ASSERT(regev_status_removes(removes[i]));
		/* gone: nothing more, ever */
		CU_ASSERT(regev_q_change(&q, 3) == REGEV_Q_NONE);
		CU_ASSERT(regev_q_terminate(&q, "timeout", 3) == REGEV_Q_NONE);
		CU_ASSERT(regev_q_answer(&q, 1, 200, 3) == REGEV_Q_NONE);
		CU_ASSERT(regev_q_tick(&q, 999999) == REGEV_Q_NONE);
	}
	for (size_t i = 0; i < sizeof(goes_on) / sizeof(goes_on[0]); i++) {
		CU_ASSERT(!regev_status_removes(goes_on[i]));
		regev_q_init(&q);
		CU_ASSERT(regev_q_change(&q, 0) == REGEV_Q_SEND);
		regev_q_sent(&q, 1, 0);
		/* nothing pending: the subscription just goes on */
		CU_ASSERT(regev_q_answer(&q, 1, goes_on[i], 1) == REGEV_Q_NONE);
		CU_ASSERT(!q.gone);
		CU_ASSERT(regev_q_change(&q, 2) == REGEV_Q_SEND);
		regev_q_sent(&q, 2, 2);
		CU_ASSERT(regev_q_change(&q, 3) == REGEV_Q_NONE);
		/* something pending: it goes out after the failure */
		CU_ASSERT(regev_q_answer(&q, 2, goes_on[i], 4) == REGEV_Q_SEND);
	}
}

static void
test_queue_final(void)
{
	struct regev_q q;

	/* unsubscribe while idle: the final NOTIFY at once */
	regev_q_init(&q);
	CU_ASSERT(regev_q_change(&q, 0) == REGEV_Q_SEND);
	regev_q_sent(&q, 1, 0);
	CU_ASSERT(regev_q_answer(&q, 1, 200, 1) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_terminate(&q, "timeout", 2) == REGEV_Q_SEND);
	CU_ASSERT(q.final && strcmp(q.reason, "timeout") == 0);
	regev_q_sent(&q, 2, 2);
	CU_ASSERT(q.final_inflight);
	CU_ASSERT(regev_q_terminate(&q, "noresource", 3) == REGEV_Q_NONE);
	CU_ASSERT(strcmp(q.reason, "timeout") == 0);
	CU_ASSERT(regev_q_change(&q, 3) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_answer(&q, 2, 200, 4) == REGEV_Q_REMOVE);

	/* terminated while a NOTIFY is in flight: the final one follows its
	 * answer, even a failed one */
	regev_q_init(&q);
	CU_ASSERT(regev_q_change(&q, 0) == REGEV_Q_SEND);
	regev_q_sent(&q, 1, 0);
	CU_ASSERT(regev_q_terminate(&q, "deactivated", 1) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_answer(&q, 1, 500, 2) == REGEV_Q_SEND);
	regev_q_sent(&q, 2, 2);
	CU_ASSERT(q.final_inflight);
	/* any answer to the final NOTIFY ends it */
	CU_ASSERT(regev_q_answer(&q, 2, 503, 3) == REGEV_Q_REMOVE);

	/* a final NOTIFY lost: Timer F's backstop */
	regev_q_init(&q);
	CU_ASSERT(regev_q_terminate(&q, "timeout", 10) == REGEV_Q_SEND);
	regev_q_sent(&q, 1, 10);
	CU_ASSERT(regev_q_tick(&q, 10 + REGEV_Q_ANSWER_MS - 1) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_tick(&q, 10 + REGEV_Q_ANSWER_MS) == REGEV_Q_REMOVE);
}

static void
test_queue_timer(void)
{
	struct regev_q q;

	regev_q_init(&q);
	CU_ASSERT(regev_q_tick(&q, 123456) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_change(&q, 5000) == REGEV_Q_SEND);
	regev_q_sent(&q, 1, 5000);
	CU_ASSERT(regev_q_deadline(&q) == 5000 + REGEV_Q_ANSWER_MS);
	CU_ASSERT(regev_q_tick(&q, 5000 + REGEV_Q_ANSWER_MS - 1) ==
	          REGEV_Q_NONE);
	/* a change does not move the deadline */
	CU_ASSERT(regev_q_change(&q, 6000) == REGEV_Q_NONE);
	CU_ASSERT(regev_q_deadline(&q) == 5000 + REGEV_Q_ANSWER_MS);
	/* no answer at all: as a 408, the subscription is removed */
	CU_ASSERT(regev_q_tick(&q, 5000 + REGEV_Q_ANSWER_MS) == REGEV_Q_REMOVE);
	CU_ASSERT(q.gone && regev_q_deadline(&q) == 0);
}

/*
 * A long random run: changes, answers (mostly 200, some 500), at random
 * times. Checked throughout: never two NOTIFYs in flight, the versions
 * sent are 0, 1, 2, ... (one per NOTIFY sent, db_sub_take's counter), and
 * whenever the queue is idle the last NOTIFY sent carries the last change
 * (nothing is lost by coalescing). Fewer NOTIFYs than changes.
 */
static void
test_queue_random(void)
{
	struct regev_q q;
	unsigned seed = 12345;
	int64_t version = -1, cseq = 0;
	int changes = 0, last_change = 0, in_last_sent = 0, sent = 0;
	uint64_t now = 0;

	regev_q_init(&q);
	for (int i = 0; i < 20000; i++) {
		unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
		enum regev_q_act a = REGEV_Q_NONE;

		now += r % 50;
		if (r % 3 != 0) {
			changes++;
			last_change = changes;
			a = regev_q_change(&q, now);
		} else if (q.inflight) {
			a = regev_q_answer(&q, cseq, r % 7 == 0 ? 500 : 200,
			                   now);
		}
		CU_ASSERT(a != REGEV_Q_REMOVE);
		if (a == REGEV_Q_SEND) {
			CU_ASSERT_FATAL(!q.inflight);
			version++, cseq++;
			regev_q_sent(&q, cseq, now);
			sent++;
			/* built from the state as it is now */
			in_last_sent = last_change;
		}
		CU_ASSERT(version == sent - 1);
		if (!q.inflight)
			CU_ASSERT_FATAL(in_last_sent == last_change);
	}
	CU_ASSERT(sent > 100 && sent < changes);
}

/* The queues of a worker: found by id, dropped, deadlines across them,
 * against a plain array through inserts, drops and table growth. */
static void
test_queues(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct regev_qs *qs = regev_qs_new(t);
	static char live[5001];
	int64_t due[16];
	size_t want = 0;
	unsigned seed = 7;

	CU_ASSERT_FATAL(qs != NULL);
	CU_ASSERT(regev_qs_get(qs, 1, 0) == NULL);
	CU_ASSERT(regev_qs_get(qs, 0, 1) == NULL);
	CU_ASSERT(regev_qs_deadline(qs) == 0);
	memset(live, 0, sizeof(live));
	for (int i = 0; i < 200000; i++) {
		unsigned r = (seed = seed * 1103515245u + 12345u) >> 8;
		int64_t id = 1 + (int64_t)(r % 5000);
		struct regev_q *q;

		if ((r >> 13) % 3 == 0) {
			regev_qs_drop(qs, id);
			want -= live[id];
			live[id] = 0;
		} else {
			q = regev_qs_get(qs, id, 1);
			CU_ASSERT_FATAL(q != NULL);
			if (!live[id]) {
				/* a new queue is idle */
				CU_ASSERT(!q->inflight && !q->dirty &&
				          !q->gone);
				want++;
				live[id] = 1;
			}
			q->changes = (unsigned)id; /* a mark to find again */
		}
		if (i % 1000 == 0)
			CU_ASSERT(regev_qs_count(qs) == want);
	}
	CU_ASSERT(regev_qs_count(qs) == want);
	for (int64_t id = 1; id <= 5000; id++) {
		struct regev_q *q = regev_qs_get(qs, id, 0);
		CU_ASSERT((q != NULL) == live[id]);
		if (q != NULL)
			CU_ASSERT(q->changes == (unsigned)id);
	}
	/* deadlines: the earliest one, and which are due */
	for (int64_t id = 1; id <= 5000; id++)
		if (live[id])
			regev_qs_drop(qs, id);
	CU_ASSERT(regev_qs_count(qs) == 0);
	regev_q_sent(regev_qs_get(qs, 10, 1), 1, 5000);
	regev_q_sent(regev_qs_get(qs, 20, 1), 1, 3000);
	regev_qs_get(qs, 30, 1); /* idle: no deadline */
	regev_q_sent(regev_qs_get(qs, 40, 1), 1, 4000);
	CU_ASSERT(regev_qs_deadline(qs) == 3000 + REGEV_Q_ANSWER_MS);
	CU_ASSERT(regev_qs_due(qs, 3000 + REGEV_Q_ANSWER_MS - 1, due, 16) == 0);
	CU_ASSERT(regev_qs_due(qs, 4000 + REGEV_Q_ANSWER_MS, due, 16) == 2);
	CU_ASSERT((due[0] == 20 && due[1] == 40) ||
	          (due[0] == 40 && due[1] == 20));
	CU_ASSERT(regev_qs_due(qs, 9999999, due, 1) == 1);
	CU_ASSERT(regev_q_tick(regev_qs_get(qs, 20, 0),
	                       3000 + REGEV_Q_ANSWER_MS) == REGEV_Q_REMOVE);
	regev_qs_drop(qs, 20);
	CU_ASSERT(regev_qs_deadline(qs) == 4000 + REGEV_Q_ANSWER_MS);
	talloc_free(t);
}

int
suite_regevent(void)
{
	CU_pSuite s = CU_add_suite("regevent", setup, NULL);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "SUBSCRIBE: Event", test_check_event) ||
	    !CU_add_test(s, "SUBSCRIBE: Accept", test_check_accept) ||
	    !CU_add_test(s, "SUBSCRIBE: Expires", test_check_expires) ||
	    !CU_add_test(s, "who may watch", test_may_watch) ||
	    !CU_add_test(s, "Subscription-State", test_substate) ||
	    !CU_add_test(s, "NOTIFY text", test_notify_print) ||
	    !CU_add_test(s, "document from bindings", test_document) ||
	    !CU_add_test(s, "queue: order and coalescing",
	                 test_queue_coalesce) ||
	    !CU_add_test(s, "queue: failures", test_queue_failures) ||
	    !CU_add_test(s, "queue: final NOTIFY", test_queue_final) ||
	    !CU_add_test(s, "queue: Timer F backstop", test_queue_timer) ||
	    !CU_add_test(s, "queue: random run", test_queue_random) ||
	    !CU_add_test(s, "the queues of a worker", test_queues))
		return -1;
	return 0;
}
