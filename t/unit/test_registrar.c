/*
 * t/unit/test_registrar.c: the registrar. First its pure decisions
 * (expiry arithmetic, CSeq ordering, wildcard, instance/reg-id
 * replacement, AOR normalisation, max_contacts) without a database, then
 * REGISTERs through sipd on a temporary database, checking the rows with
 * SQL and the answers' text (the seed capture's REGISTER gets a 200 of the
 * capture's shape).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "t/unit/sipd_util.h"

static struct conf RC;

static int
reg_setup(void)
{
	memset(&RC, 0, sizeof(RC));
	snprintf(RC.domain, sizeof(RC.domain), "Ims.Example.ORG");
	snprintf(RC.listen, sizeof(RC.listen), "127.0.0.1");
	RC.port = 5060;
	RC.default_expires = 3600;
	RC.min_expires = 60;
	RC.max_expires = 7200;
	RC.max_contacts = 3;
	return 0;
}

/* ------------------------------------------------------------ expiry */

static void
test_expiry(void)
{
	CU_ASSERT_EQUAL(reg_expiry(-1, -1, &RC), 3600);  /* default */
	CU_ASSERT_EQUAL(reg_expiry(-1, 120, &RC), 120);  /* header */
	CU_ASSERT_EQUAL(reg_expiry(300, 120, &RC), 300); /* param wins */
	CU_ASSERT_EQUAL(reg_expiry(0, 120, &RC), 0);     /* param 0 removes */
	CU_ASSERT_EQUAL(reg_expiry(120, 0, &RC), 120);   /* even over hdr 0 */
	CU_ASSERT_EQUAL(reg_expiry(-1, 0, &RC), 0);
	CU_ASSERT_EQUAL(reg_expiry(59, -1, &RC), -1); /* below min: 423 */
	CU_ASSERT_EQUAL(reg_expiry(-1, 1, &RC), -1);
	CU_ASSERT_EQUAL(reg_expiry(60, -1, &RC), 60);     /* min itself ok */
	CU_ASSERT_EQUAL(reg_expiry(7201, -1, &RC), 7200); /* lowered */
	CU_ASSERT_EQUAL(reg_expiry(-1, 4294967295L, &RC), 7200);
	/* RFC 3261 10.3 step 7: 423 only for an interval under one hour;
	 * with min_expires above an hour a longer one is raised to it */
	{
		struct conf c2 = RC;
		c2.min_expires = 7200;
		c2.max_expires = 86400;
		CU_ASSERT_EQUAL(reg_expiry(3599, -1, &c2), -1);
		CU_ASSERT_EQUAL(reg_expiry(3600, -1, &c2), 7200);
		CU_ASSERT_EQUAL(reg_expiry(5000, -1, &c2), 7200);
		CU_ASSERT_EQUAL(reg_expiry(7201, -1, &c2), 7201);
	}
}

/* -------------------------------------------------------------- CSeq */

static void
test_cseq(void)
{
	struct db_binding b = {
	    .call_id = "c1", .cseq = 10, .branch = "z9hG4bKa"};

	CU_ASSERT_EQUAL(reg_cseq_check(&b, "c2", 1, "x"), REG_CSEQ_OK);
	CU_ASSERT_EQUAL(reg_cseq_check(&b, "c1", 11, "x"), REG_CSEQ_OK);
	CU_ASSERT_EQUAL(reg_cseq_check(&b, "c1", 10, "z9hG4bKa"),
	                REG_CSEQ_RETRANS);
	CU_ASSERT_EQUAL(reg_cseq_check(&b, "c1", 10, "z9hG4bKb"),
	                REG_CSEQ_STALE);
	CU_ASSERT_EQUAL(reg_cseq_check(&b, "c1", 9, "z9hG4bKa"),
	                REG_CSEQ_STALE);
	CU_ASSERT_EQUAL(reg_cseq_check(&b, "c1", 10, ""), REG_CSEQ_STALE);
}

/* -------------------------------------------------------------- plan */

static struct reg_contact
kc(const char *uri, long expires, const char *inst, int64_t reg_id)
{
	struct reg_contact k = {.uri = (char *)uri,
	                        .params = (char *)"",
	                        .expires = expires,
	                        .instance = (char *)inst,
	                        .reg_id = reg_id};
	return k;
}

static struct db_binding
bc(int64_t id, const char *uri, const char *call_id, uint32_t cseq,
   int64_t expires_at, const char *inst, int64_t reg_id)
{
	struct db_binding b = {.id = id,
	                       .aor = "sip:u@d",
	                       .contact = uri,
	                       .params = "",
	                       .expires_at = expires_at,
	                       .call_id = call_id,
	                       .cseq = cseq,
	                       .branch = "z9hG4bKold",
	                       .transport = "udp",
	                       .instance = inst,
	                       .reg_id = reg_id,
	                       .registered_at = 1,
	                       .updated_at = 1};
	return b;
}

static int
live(const struct reg_plan *p, time_t now)
{
	int n = 0;
	for (int j = 0; j < p->n; j++)
		if (p->op[j] != REG_OP_DELETE && p->b[j].expires_at > now)
			n++;
	return n;
}

static void
test_plan_add_refresh_remove(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	time_t now = 1000000;
	struct db_binding cur[2] = {
	    bc(1, "sip:u@1.1.1.1", "c1", 5, now + 100, NULL, 0),
	    bc(2, "sip:u@2.2.2.2", "c2", 7, now + 100, NULL, 0)};
	struct reg_contact ks[3] = {kc("sip:u@1.1.1.1", -1, NULL, 0),
	                            kc("sip:u@2.2.2.2", 0, NULL, 0),
	                            kc("sip:u@3.3.3.3", 600, NULL, 0)};
	struct reg_req rq = {.call_id = "c1",
	                     .cseq = 6,
	                     .branch = "z9hG4bKnew",
	                     .expires_hdr = 300,
	                     .contacts = ks,
	                     .ncontacts = 3};
	struct reg_plan p;
	const char *reason;

	CU_ASSERT_EQUAL_FATAL(reg_plan(ctx, &rq, cur, 2, &RC, now, &p, &reason),
	                      200);
	CU_ASSERT_EQUAL_FATAL(p.n, 3);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_UPDATE); /* refresh */
	CU_ASSERT_EQUAL(p.b[0].expires_at, now + 300);
	CU_ASSERT_EQUAL(p.b[0].cseq, 6);
	CU_ASSERT_EQUAL(p.b[0].registered_at, 1); /* kept */
	CU_ASSERT_EQUAL(p.op[1], REG_OP_DELETE);  /* expires=0 */
	CU_ASSERT_EQUAL(p.why[1], REG_WHY_UNREGISTERED);
	CU_ASSERT_EQUAL(p.op[2], REG_OP_INSERT); /* new */
	CU_ASSERT_EQUAL(p.b[2].expires_at, now + 600);
	CU_ASSERT_EQUAL(p.b[2].registered_at, now);
	CU_ASSERT_STRING_EQUAL(p.b[2].call_id, "c1");
	CU_ASSERT_EQUAL(live(&p, now), 2);

	/* a query: nothing changes */
	rq.ncontacts = 0;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 2, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.n, 2);
	CU_ASSERT(p.op[0] == REG_OP_KEEP && p.op[1] == REG_OP_KEEP);
	talloc_free(ctx);
}

static void
test_plan_cseq(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	time_t now = 1000000;
	struct db_binding cur[1] = {
	    bc(1, "sip:u@1.1.1.1", "c1", 5, now + 100, NULL, 0)};
	struct reg_contact ks[1] = {kc("sip:u@1.1.1.1", 600, NULL, 0)};
	struct reg_req rq = {.call_id = "c1",
	                     .cseq = 5,
	                     .branch = "z9hG4bKother",
	                     .expires_hdr = -1,
	                     .contacts = ks,
	                     .ncontacts = 1};
	struct reg_plan p;
	const char *reason;

	/* equal CSeq, another branch: stale */
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 1, &RC, now, &p, &reason), 500);
	/* lower: stale */
	rq.cseq = 4;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 1, &RC, now, &p, &reason), 500);
	/* the same request again (same branch): a retransmission */
	rq.cseq = 5;
	rq.branch = "z9hG4bKold";
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 1, &RC, now, &p, &reason), 200);
	CU_ASSERT(p.retrans);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_KEEP);
	CU_ASSERT_EQUAL(p.b[0].expires_at, now + 100);
	/* another Call-ID: any CSeq goes */
	rq.call_id = "c9";
	rq.cseq = 1;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 1, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_UPDATE);
	/* an expired binding is not checked: it no longer exists */
	cur[0].expires_at = now;
	rq.call_id = "c1";
	rq.cseq = 2;
	rq.branch = "z9hG4bKx";
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 1, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_UPDATE);
	CU_ASSERT_EQUAL(p.b[0].registered_at, now);
	talloc_free(ctx);
}

static void
test_plan_star(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	time_t now = 1000000;
	struct db_binding cur[2] = {
	    bc(1, "sip:u@1.1.1.1", "c1", 5, now + 100, NULL, 0),
	    bc(2, "sip:u@2.2.2.2", "c2", 7, now + 100, NULL, 0)};
	struct reg_contact ks[1] = {kc("sip:u@1.1.1.1", 600, NULL, 0)};
	struct reg_req rq = {.call_id = "c3",
	                     .cseq = 1,
	                     .branch = "z9hG4bKs",
	                     .expires_hdr = 0,
	                     .star = 1};
	struct reg_plan p;
	const char *reason;

	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 2, &RC, now, &p, &reason), 200);
	CU_ASSERT(p.op[0] == REG_OP_DELETE && p.op[1] == REG_OP_DELETE);
	/* '*' with another contact: 400 */
	rq.contacts = ks;
	rq.ncontacts = 1;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 2, &RC, now, &p, &reason), 400);
	/* '*' without Expires: 0 (absent, or non-zero): 400 */
	rq.ncontacts = 0;
	rq.expires_hdr = -1;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 2, &RC, now, &p, &reason), 400);
	rq.expires_hdr = 3600;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 2, &RC, now, &p, &reason), 400);
	/* '*' with a stale CSeq for one binding: fails, nothing removed */
	rq.expires_hdr = 0;
	rq.call_id = "c2";
	rq.cseq = 7;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 2, &RC, now, &p, &reason), 500);
	talloc_free(ctx);
}

static void
test_plan_instance(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	time_t now = 1000000;
	const char *inst = "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";
	struct db_binding cur[3] = {
	    bc(1, "sip:u@1.1.1.1:5060", "c1", 5, now + 100, inst, 1),
	    bc(2, "sip:u@1.1.1.1:6000", "c1", 5, now + 100, inst, 2),
	    bc(3, "sip:u@9.9.9.9", "c9", 1, now + 100, NULL, 0)};
	/* the flow reg-id 1 comes back from a new address */
	struct reg_contact ks[1] = {kc("sip:u@5.5.5.5:7000", -1, inst, 1)};
	struct reg_req rq = {.call_id = "c2",
	                     .cseq = 1,
	                     .branch = "z9hG4bKi",
	                     .expires_hdr = 600,
	                     .contacts = ks,
	                     .ncontacts = 1};
	struct reg_plan p;
	const char *reason;

	CU_ASSERT_EQUAL_FATAL(reg_plan(ctx, &rq, cur, 3, &RC, now, &p, &reason),
	                      200);
	CU_ASSERT_EQUAL(p.n, 3);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_UPDATE);
	CU_ASSERT_STRING_EQUAL(p.b[0].contact, "sip:u@5.5.5.5:7000");
	CU_ASSERT_EQUAL(p.op[1], REG_OP_KEEP); /* reg-id 2: another flow */
	CU_ASSERT_EQUAL(p.op[2], REG_OP_KEEP);

	/* an instance without reg-id replaces the same instance without */
	struct db_binding cur2[1] = {
	    bc(1, "sip:u@1.1.1.1", "c1", 5, now + 100, inst, 0)};
	ks[0] = kc("sip:u@2.2.2.2", -1, inst, 0);
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur2, 1, &RC, now, &p, &reason),
	                200);
	CU_ASSERT_EQUAL(p.n, 1);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_UPDATE);
	CU_ASSERT_STRING_EQUAL(p.b[0].contact, "sip:u@2.2.2.2");

	/* the new URI was held by another binding: that one is replaced */
	struct db_binding cur3[2] = {
	    bc(1, "sip:u@1.1.1.1", "c1", 5, now + 100, inst, 1),
	    bc(2, "sip:u@2.2.2.2", "c8", 5, now + 100, NULL, 0)};
	ks[0] = kc("sip:u@2.2.2.2", -1, inst, 1);
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur3, 2, &RC, now, &p, &reason),
	                200);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_UPDATE);
	CU_ASSERT_EQUAL(p.op[1], REG_OP_DELETE);
	CU_ASSERT_EQUAL(p.why[1], REG_WHY_REPLACED);
	talloc_free(ctx);
}

/* RFC 5626 6 and 7: instance bindings are keyed by (instance, reg-id),
 * never by the contact URI they share with another flow or phone. */
static void
test_plan_flows(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	time_t now = 1000000;
	const char *inst = "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";
	const char *other = "<urn:uuid:00000000-0000-1000-8000-00000000beef>";
	const char *uri = "sip:u@1.1.1.1:5060;transport=tcp;ob";
	struct db_binding cur[1] = {bc(1, uri, "c1", 1, now + 100, inst, 1)};
	struct reg_contact ks[1] = {kc(uri, -1, inst, 2)};
	struct reg_req rq = {.call_id = "c2",
	                     .cseq = 1,
	                     .branch = "z9hG4bKf",
	                     .expires_hdr = 600,
	                     .contacts = ks,
	                     .ncontacts = 1};
	struct reg_plan p;
	const char *reason;

	/* 9.2 message 13: reg-id 2 at flow 1's URI, another Call-ID */
	CU_ASSERT_EQUAL_FATAL(reg_plan(ctx, &rq, cur, 1, &RC, now, &p, &reason),
	                      200);
	CU_ASSERT_EQUAL(p.n, 2);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_KEEP);
	CU_ASSERT_EQUAL(p.op[1], REG_OP_INSERT);
	CU_ASSERT_EQUAL(p.b[1].reg_id, 2);

	/* 9.4: flow 1 again (new Call-ID): flow 1 updated, flow 2 kept */
	struct db_binding two[2] = {bc(1, uri, "c1", 1, now + 100, inst, 1),
	                            bc(2, uri, "c2", 1, now + 100, inst, 2)};
	ks[0] = kc(uri, -1, inst, 1);
	rq.call_id = "c3";
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, two, 2, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.n, 2);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_UPDATE);
	CU_ASSERT_STRING_EQUAL(p.b[0].call_id, "c3");
	CU_ASSERT_EQUAL(p.op[1], REG_OP_KEEP);

	/* another instance at the same URI: a binding of its own */
	ks[0] = kc(uri, -1, other, 1);
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, two, 2, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.n, 3);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_KEEP);
	CU_ASSERT_EQUAL(p.op[1], REG_OP_KEEP);
	CU_ASSERT_EQUAL(p.op[2], REG_OP_INSERT);

	/* the same instance without reg-id is yet another binding */
	ks[0] = kc(uri, -1, inst, 0);
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, two, 2, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.n, 3);
	CU_ASSERT_EQUAL(p.op[2], REG_OP_INSERT);

	/* a contact without instance at that URI does not take a flow over */
	ks[0] = kc(uri, -1, NULL, 0);
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, two, 2, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.n, 3);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_KEEP);
	CU_ASSERT_EQUAL(p.op[1], REG_OP_KEEP);
	CU_ASSERT_EQUAL(p.op[2], REG_OP_INSERT);
	CU_ASSERT_PTR_NULL(p.b[2].instance);

	/* ... but unregistering the URI without instance removes both */
	ks[0] = kc(uri, 0, NULL, 0);
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, two, 2, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.n, 2);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_DELETE);
	CU_ASSERT_EQUAL(p.why[0], REG_WHY_UNREGISTERED);
	CU_ASSERT_EQUAL(p.op[1], REG_OP_DELETE);
	/* with a stale CSeq of one flow's Call-ID: refused */
	rq.call_id = "c2";
	rq.cseq = 1;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, two, 2, &RC, now, &p, &reason), 500);

	/* unregistering flow 2 by (instance, reg-id) leaves flow 1 */
	ks[0] = kc(uri, 0, inst, 2);
	rq.cseq = 2;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, two, 2, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(p.op[0], REG_OP_KEEP);
	CU_ASSERT_EQUAL(p.op[1], REG_OP_DELETE);
	talloc_free(ctx);
}

static void
test_plan_limits(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	time_t now = 1000000;
	struct db_binding cur[3] = {
	    bc(1, "sip:u@1.1.1.1", "c1", 5, now + 100, NULL, 0),
	    bc(2, "sip:u@2.2.2.2", "c1", 5, now + 100, NULL, 0),
	    bc(3, "sip:u@3.3.3.3", "c1", 5, now, NULL, 0) /* expired */};
	struct reg_contact ks[2] = {kc("sip:u@4.4.4.4", -1, NULL, 0),
	                            kc("sip:u@5.5.5.5", -1, NULL, 0)};
	struct reg_req rq = {.call_id = "c2",
	                     .cseq = 1,
	                     .branch = "z9hG4bKl",
	                     .expires_hdr = 600,
	                     .contacts = ks,
	                     .ncontacts = 1};
	struct reg_plan p;
	const char *reason;

	/* 2 live + 1 = 3 = max_contacts: fine (the expired one not counted) */
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 3, &RC, now, &p, &reason), 200);
	CU_ASSERT_EQUAL(live(&p, now), 3);
	/* 2 + 2 = 4 > 3: 503, and the plan must not be applied */
	rq.ncontacts = 2;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 3, &RC, now, &p, &reason), 503);
	/* removing one while adding two: 3 again, fine */
	struct reg_contact ks3[3] = {kc("sip:u@4.4.4.4", -1, NULL, 0),
	                             kc("sip:u@5.5.5.5", -1, NULL, 0),
	                             kc("sip:u@1.1.1.1", 0, NULL, 0)};
	rq.contacts = ks3;
	rq.ncontacts = 3;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 3, &RC, now, &p, &reason), 200);
	/* any contact below min_expires: 423, whatever the others say */
	ks3[1].expires = 10;
	CU_ASSERT_EQUAL(reg_plan(ctx, &rq, cur, 3, &RC, now, &p, &reason), 423);
	talloc_free(ctx);
}

/* --------------------------------------------------------------- AOR */

static char *
aor_of(TALLOC_CTX *ctx, const char *uri, int *status)
{
	struct sip_uri u;
	const char *reason;

	*status = 0;
	if (sip_parse_uri(ctx, (sip_str){uri, strlen(uri)}, &u) == -1) {
		*status = -1;
		return NULL;
	}
	return reg_aor(ctx, &u, &RC, status, &reason);
}

static void
test_aor(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	int st;
	char *a;

	a = aor_of(ctx, "sip:Alice@IMS.example.org:5060;transport=tcp", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:Alice@ims.example.org");
	/* the listen address names the same domain */
	a = aor_of(ctx, "sip:alice@127.0.0.1", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:alice@ims.example.org");
	/* sips kept */
	a = aor_of(ctx, "sips:alice@ims.example.org", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sips:alice@ims.example.org");
	/* phone numbers: tel, +digits with separators, user=phone */
	a = aor_of(ctx, "tel:+86-139-1100-0057", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:+8613911000057@ims.example.org");
	a = aor_of(ctx, "sip:+86.139.1100.0057@ims.example.org", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:+8613911000057@ims.example.org");
	a = aor_of(ctx, "sip:+8613911000057;npdi@ims.example.org;user=phone",
	           &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:+8613911000057@ims.example.org");
	a = aor_of(ctx, "sip:(0)139-1100@ims.example.org", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:01391100@ims.example.org");
	a = aor_of(ctx, "tel:+8613911000057;phone-context=ims.example.org",
	           &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:+8613911000057@ims.example.org");
	/* escapes: decoded where harmless, %00 and CTLs stay escaped */
	a = aor_of(ctx, "sip:%61lice@ims.example.org", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:alice@ims.example.org");
	a = aor_of(ctx, "sip:null-%00-null@ims.example.org", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:null-%00-null@ims.example.org");
	a = aor_of(ctx, "sip:a%40b%0d@ims.example.org", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:a%40b%0D@ims.example.org");
	/* a name is not a number */
	a = aor_of(ctx, "sip:alice-1@ims.example.org", &st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STRING_EQUAL(a, "sip:alice-1@ims.example.org");
	/* refused */
	CU_ASSERT_PTR_NULL(aor_of(ctx, "sip:alice@other.org", &st));
	CU_ASSERT_EQUAL(st, 403);
	CU_ASSERT_PTR_NULL(aor_of(ctx, "sip:ims.example.org", &st));
	CU_ASSERT_EQUAL(st, 400);
	talloc_free(ctx);
}

/* ------------------------------------------------------ through sipd */

#define DOM "ims.mnc000.mcc000.3gppnetwork.org"

/* The capture's second REGISTER (## 4), CRLF line ends. */
static char *
capture_register(TALLOC_CTX *ctx)
{
	char *f = tsd_read_shared(ctx, "seeds/000_f864e9431b5cb5d9.txt");
	char *s, *e, *out;
	size_t o = 0;

	if (f == NULL)
		return NULL;
	if ((s = strstr(f, "## 4.register\n")) == NULL ||
	    (e = strstr(s, "\n## 5")) == NULL)
		return NULL;
	s += strlen("## 4.register\n");
	while (e > s && e[-1] == '\n')
		e--;
	out = talloc_size(ctx, (size_t)(e - s) * 2 + 8);
	for (char *p = s; p < e; p++) {
		if (*p == '\n')
			out[o++] = '\r';
		out[o++] = *p;
	}
	memcpy(out + o, "\r\n\r\n", 5);
	return out;
}

static void
test_capture_200(void)
{
	struct tsd *t = tsd_new(DOM);
	const char *r;
	char *msg, *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	msg = capture_register(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
	r = tsd_one(t, msg, SIP_TP_TCP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(strncmp(r, "SIP/2.0 200 OK\r\n", 16) == 0);
	CU_ASSERT(strstr(r, "\r\nContact: <sip:460003911000057@172.16.106.92>"
	                    ";+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service."
	                    "ims.icsi.mmtel\";+g.3gpp.ics=\"principal\";"
	                    "expires=600000\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nPath: <sip:172.16.106.81:6070;transport=udp;"
	                    "lr;key=0a04f65a2b9bdd01d9d7a4b866>\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nRequire: path\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nService-Route: <sip:orig@127.0.0.1:5060;lr>"
	                    "\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nP-Charging-Vector: icid-value=2d834d66ac1947"
	                    "be8d2c75938ce7038e;icid-generated-at=pcscf."
	                    "visited.net;orig-ioi=visited.net;term-ioi=" DOM
	                    "\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nP-Associated-URI: <sip:460003911000057@" DOM
	                    ">\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nDate: ") != NULL &&
	          strstr(strstr(r, "\r\nDate: "), " GMT\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nTo: <sip:460003911000057@" DOM ">;tag=") !=
	          NULL);
	CU_ASSERT(strstr(r, "\r\nCSeq: 2 REGISTER\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nVia: SIP/2.0/UDP 172.16.106.92:5060;branch="
	                    "z9hG4bK57ab028-c4e7c91f\r\n") != NULL);

	/* the row */
	const char *aor = "sip:460003911000057@" DOM;
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM registrations "
	                          "WHERE aor = ?1",
	                          aor),
	                1);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT expires_at - registered_at FROM "
	                          "registrations WHERE aor = ?1",
	                          aor),
	                600000);
	v = tsd_text(t,
	             "SELECT transport || ' ' || received || ' ' || "
	             "conn_slot || ' ' || conn_id || ' ' || cseq || ' ' || "
	             "call_id FROM registrations WHERE aor = ?1",
	             aor);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "tcp 127.0.0.1:40001 t3 77 2 "
	                          "29906@172.16.106.92");
	v = tsd_text(t, "SELECT path FROM registrations WHERE aor = ?1", aor);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "<sip:172.16.106.81:6070;transport=udp;lr;"
	                          "key=0a04f65a2b9bdd01d9d7a4b866>");
	v = tsd_text(t, "SELECT params FROM registrations WHERE aor = ?1", aor);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-"
	                          "service.ims.icsi.mmtel\";+g.3gpp.ics="
	                          "\"principal\"");
	tsd_free(t);
}

#define REG(via_branch, cid, cseq, extra)                                      \
	"REGISTER sip:afd.test SIP/2.0\r\n"                                    \
	"Via: SIP/2.0/UDP 10.0.0.9:5060;rport;branch=" via_branch "\r\n"       \
	"Max-Forwards: 70\r\n"                                                 \
	"From: <sip:bob@afd.test>;tag=b1\r\n"                                  \
	"To: <sip:bob@afd.test>\r\n"                                           \
	"Call-ID: " cid "\r\n"                                                 \
	"CSeq: " cseq " REGISTER\r\n"                                          \
	"User-Agent: unit/1\r\n" extra "Content-Length: 0\r\n\r\n"

#define BOB "sip:bob@afd.test"

static long long
rows(struct tsd *t)
{
	return tsd_count(t, "SELECT count(*) FROM registrations WHERE aor = ?1",
	                 BOB);
}

static int
status_of(const char *r)
{
	return r ? atoi(r + 8) : -1;
}

static void
test_register_flow(void)
{
	struct tsd *t = tsd_new(NULL);
	const char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	/* two contacts */
	r = tsd_one(t,
	            REG("z9hG4bK1", "f1", "1",
	                "Contact: <sip:bob@10.0.0.9>;expires=600, "
	                "<sip:bob@10.0.0.10>;q=0.5\r\nExpires: 120\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(strstr(r, "Contact: <sip:bob@10.0.0.9>;expires=600\r\n") !=
	          NULL);
	CU_ASSERT(strstr(r, "Contact: <sip:bob@10.0.0.10>;q=0.5;expires=120"
	                    "\r\n") != NULL);
	CU_ASSERT(strstr(r, "Path:") == NULL);
	CU_ASSERT_EQUAL(rows(t), 2);
	CU_ASSERT_STRING_EQUAL(tsd_text(t,
	                                "SELECT user_agent FROM registrations "
	                                "WHERE aor = ?1 LIMIT 1",
	                                BOB),
	                       "unit/1");

	/* the same request again: a retransmission, same answer */
	r = tsd_one(t,
	            REG("z9hG4bK1", "f1", "1",
	                "Contact: <sip:bob@10.0.0.9>;expires=600, "
	                "<sip:bob@10.0.0.10>;q=0.5\r\nExpires: 120\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(strstr(r, "Contact: <sip:bob@10.0.0.9>;expires=") != NULL);

	/* same Call-ID, same CSeq, other branch: out of order, no change */
	r = tsd_one(t,
	            REG("z9hG4bK2", "f1", "1",
	                "Contact: <sip:bob@10.0.0.9>;expires=0\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 500);
	CU_ASSERT_EQUAL(rows(t), 2);

	/* query: no Contact */
	r = tsd_one(t, REG("z9hG4bK3", "f1", "2", ""), SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(strstr(r, "Contact: <sip:bob@10.0.0.9>") != NULL);
	CU_ASSERT(strstr(r, "Contact: <sip:bob@10.0.0.10>") != NULL);

	/* below min_expires: 423 with Min-Expires, nothing changes */
	r = tsd_one(t,
	            REG("z9hG4bK4", "f1", "3",
	                "Contact: <sip:bob@10.0.0.11>;expires=5\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 423);
	CU_ASSERT(strstr(r, "\r\nMin-Expires: 60\r\n") != NULL);
	CU_ASSERT_EQUAL(rows(t), 2);

	/* remove one */
	r = tsd_one(t,
	            REG("z9hG4bK5", "f1", "4",
	                "Contact: <sip:bob@10.0.0.9>;expires=0\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(strstr(r, "<sip:bob@10.0.0.9>") == NULL);
	CU_ASSERT_EQUAL(rows(t), 1);

	/* '*' with a non-zero Expires: 400, nothing changes */
	r = tsd_one(t,
	            REG("z9hG4bK6", "f1", "5", "Contact: *\r\nExpires: 10\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 400);
	CU_ASSERT_EQUAL(rows(t), 1);
	/* '*' with Expires: 0 removes everything */
	r = tsd_one(t,
	            REG("z9hG4bK7", "f1", "6", "Contact: *\r\nExpires: 0\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(strstr(r, "Contact:") == NULL);
	CU_ASSERT_EQUAL(rows(t), 0);

	/* a foreign domain: 403 */
	r = tsd_one(t,
	            "REGISTER sip:other.org SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK8\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:eve@other.org>;tag=e\r\n"
	            "To: <sip:eve@other.org>\r\n"
	            "Call-ID: e1\r\nCSeq: 1 REGISTER\r\n"
	            "Contact: <sip:eve@10.0.0.66>\r\n"
	            "Content-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 403);
	CU_ASSERT_EQUAL(
	    tsd_count(t, "SELECT count(*) FROM registrations", NULL), 0);
	tsd_free(t);
}

static void
test_register_max_contacts(void)
{
	struct tsd *t = tsd_new(NULL);
	const char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	t->conf.max_contacts = 2;
	TALLOC_FREE(t->sd);
	t->sd = sipd_new(t, &t->conf, "u0");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->sd);
	r = tsd_one(t,
	            REG("z9hG4bKm1", "m1", "1",
	                "Contact: <sip:bob@10.0.0.1>, <sip:bob@10.0.0.2>\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	r = tsd_one(
	    t, REG("z9hG4bKm2", "m2", "1", "Contact: <sip:bob@10.0.0.3>\r\n"),
	    SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 503);
	CU_ASSERT_EQUAL(rows(t), 2);
	/* refreshing one is fine */
	r = tsd_one(
	    t, REG("z9hG4bKm3", "m1", "2", "Contact: <sip:bob@10.0.0.2>\r\n"),
	    SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	tsd_free(t);
}

#define INST "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"

static void
test_register_outbound(void)
{
	struct tsd *t = tsd_new(NULL);
	const char *r;
	char *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	/* a provisioned user: P-Associated-URI lists its identities */
	CU_ASSERT_EQUAL(sqlite3_exec(t->peek,
	                             "INSERT INTO subscribers (impi, impu, "
	                             "extra_impu) VALUES ('bob@afd.test', "
	                             "'sip:bob@afd.test', 'tel:+15551234, "
	                             "<sip:bobby@afd.test>')",
	                             NULL, NULL, NULL),
	                SQLITE_OK);
	r = tsd_one(t,
	            REG("z9hG4bKo1", "o1", "1",
	                "Supported: outbound, path\r\n"
	                "Contact: <sip:bob@10.0.0.1:5062;ob>;reg-id=1;"
	                "+sip.instance=\"" INST "\";audio;video\r\n"),
	            SIP_TP_TCP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(strstr(r, "\r\nContact: <sip:bob@10.0.0.1:5062;ob>;reg-id=1;"
	                    "+sip.instance=\"" INST "\";audio;video;"
	                    "expires=3600\r\n") != NULL);
	CU_ASSERT(strstr(r, "\r\nRequire: outbound\r\n") != NULL);
	CU_ASSERT(strstr(r,
	                 "\r\nP-Associated-URI: <sip:bob@afd.test>, "
	                 "<tel:+15551234>, <sip:bobby@afd.test>\r\n") != NULL);
	v = tsd_text(t,
	             "SELECT instance || ' ' || reg_id || ' ' || transport "
	             "FROM registrations WHERE aor = ?1",
	             BOB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, INST " 1 tcp");
	/* the same flow from a new address replaces the binding */
	r = tsd_one(t,
	            REG("z9hG4bKo2", "o2", "1",
	                "Supported: outbound\r\n"
	                "Contact: <sip:bob@10.0.0.2:5064;ob>;reg-id=1;"
	                "+sip.instance=\"" INST "\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(rows(t), 1);
	v = tsd_text(t,
	             "SELECT contact || ' ' || transport FROM "
	             "registrations WHERE aor = ?1",
	             BOB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "sip:bob@10.0.0.2:5064;ob udp");
	/* a tel: To is the same AOR as sip:+number@domain */
	r = tsd_one(t,
	            "REGISTER sip:afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKo3\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <tel:+1-555-1234>;tag=x\r\n"
	            "To: <tel:+1-555-1234>\r\n"
	            "Call-ID: o3\r\nCSeq: 1 REGISTER\r\n"
	            "Contact: <sip:+15551234@10.0.0.3>\r\n"
	            "Content-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM registrations "
	                          "WHERE aor = ?1",
	                          "sip:+15551234@afd.test"),
	                1);
	tsd_free(t);
}

static int swept;

static void
count_removed(void *arg, const struct db_binding *b, enum reg_why why)
{
	(void)arg;
	if (why == REG_WHY_EXPIRED && strcmp(b->aor, BOB) == 0)
		swept++;
}

static void
test_sweep(void)
{
	struct tsd *t = tsd_new(NULL);
	const char *r;
	time_t now = time(NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	reg_set_removal_hook(sipd_reg(t->sd), count_removed, NULL);
	r = tsd_one(t,
	            REG("z9hG4bKs1", "s1", "1",
	                "Contact: <sip:bob@10.0.0.1>;expires=60, "
	                "<sip:bob@10.0.0.2>;expires=120\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	swept = 0;
	CU_ASSERT_EQUAL(sipd_sweep(t->sd), 0);
	/* at t+60 the first one is gone; expires_at is whole seconds */
	long long at = tsd_count(t,
	                         "SELECT min(expires_at) FROM "
	                         "registrations WHERE aor = ?1",
	                         BOB);
	CU_ASSERT(at == now + 60 || at == now + 61);
	CU_ASSERT_EQUAL(reg_sweep(sipd_reg(t->sd), (time_t)at - 1), 0);
	CU_ASSERT_EQUAL(reg_sweep(sipd_reg(t->sd), (time_t)at), 1);
	CU_ASSERT_EQUAL(swept, 1);
	CU_ASSERT_EQUAL(rows(t), 1);
	CU_ASSERT_EQUAL(reg_sweep(sipd_reg(t->sd), (time_t)at + 60), 1);
	CU_ASSERT_EQUAL(swept, 2);
	CU_ASSERT_EQUAL(rows(t), 0);
	tsd_free(t);
}

/* ------------------------------------------------------- removal hook */

struct gone_rec {
	char contact[64], instance[64], call_id[32];
	int64_t reg_id;
	enum reg_why why;
};
static struct gone_rec gone[16];
static int ngone;

static void
record_gone(void *arg, const struct db_binding *b, enum reg_why why)
{
	struct gone_rec *g;

	(void)arg;
	CU_ASSERT_STRING_EQUAL(b->aor, BOB);
	CU_ASSERT(b->id > 0);
	if (ngone >= 16)
		return;
	g = &gone[ngone++];
	snprintf(g->contact, sizeof(g->contact), "%s", b->contact);
	snprintf(g->instance, sizeof(g->instance), "%s",
	         b->instance ? b->instance : "");
	snprintf(g->call_id, sizeof(g->call_id), "%s", b->call_id);
	g->reg_id = b->reg_id;
	g->why = why;
}

/* Exactly the one removal expected since the last check. */
static void
expect_gone(const char *contact, enum reg_why why)
{
	CU_ASSERT_EQUAL(ngone, 1);
	if (ngone >= 1) {
		CU_ASSERT_STRING_EQUAL(gone[0].contact, contact);
		CU_ASSERT_EQUAL(gone[0].why, why);
	}
}

static int
refuse_commit(void *arg)
{
	(void)arg;
	return 1; /* COMMIT becomes ROLLBACK */
}

static void
test_removal_hook(void)
{
	struct tsd *t = tsd_new(NULL);
	const struct sipd_out *out;
	const char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	reg_set_removal_hook(sipd_reg(t->sd), record_gone, NULL);
	CU_ASSERT_STRING_EQUAL(reg_why_event(REG_WHY_EXPIRED), "expired");
	CU_ASSERT_STRING_EQUAL(reg_why_event(REG_WHY_UNREGISTERED),
	                       "unregistered");
	CU_ASSERT_STRING_EQUAL(reg_why_event(REG_WHY_REPLACED), "unregistered");

	ngone = 0;
	r = tsd_one(t,
	            REG("z9hG4bKh1", "h1", "1",
	                "Contact: <sip:bob@10.0.0.1>, <sip:bob@10.0.0.2>, "
	                "<sip:bob@10.0.0.3>\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(ngone, 0); /* additions are not removals */

	/* expires=0: "unregistered", once, with the binding's facts */
	r = tsd_one(t,
	            REG("z9hG4bKh2", "h1", "2",
	                "Contact: <sip:bob@10.0.0.1>;expires=0\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	expect_gone("sip:bob@10.0.0.1", REG_WHY_UNREGISTERED);
	CU_ASSERT_STRING_EQUAL(gone[0].call_id, "h1");

	/* refused REGISTERs fire nothing: stale CSeq (500), 423 */
	ngone = 0;
	r = tsd_one(t,
	            REG("z9hG4bKh3", "h1", "1",
	                "Contact: <sip:bob@10.0.0.2>;expires=0\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 500);
	r = tsd_one(t,
	            REG("z9hG4bKh4", "h1", "3",
	                "Contact: <sip:bob@10.0.0.2>;expires=0, "
	                "<sip:bob@10.0.0.9>;expires=5\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 423);
	CU_ASSERT_EQUAL(ngone, 0);
	CU_ASSERT_EQUAL(rows(t), 2);

	/* a failed commit fires nothing and changes nothing */
	sqlite3_commit_hook(sipd_db(t->sd), refuse_commit, NULL);
	r = tsd_one(t,
	            REG("z9hG4bKh5", "h1", "4",
	                "Contact: <sip:bob@10.0.0.2>;expires=0\r\n"),
	            SIP_TP_UDP);
	sqlite3_commit_hook(sipd_db(t->sd), NULL, NULL);
	CU_ASSERT_EQUAL(status_of(r), 500);
	CU_ASSERT_EQUAL(ngone, 0);
	CU_ASSERT_EQUAL(rows(t), 2);

	/* in a batch: told only once the batch is committed */
	{
		const char m[] =
		    REG("z9hG4bKh6", "h1", "5",
		        "Contact: <sip:bob@10.0.0.2>;expires=0\r\n");
		sipd_batch_begin(t->sd);
		sipd_handle(t->sd, m, strlen(m), &t->udp_peer);
		CU_ASSERT_EQUAL(ngone, 0);
		CU_ASSERT_EQUAL(sipd_batch_end(t->sd, &out), 1);
		expect_gone("sip:bob@10.0.0.2", REG_WHY_UNREGISTERED);
	}

	/* Contact: * with Expires: 0 over TCP: each binding once */
	ngone = 0;
	r = tsd_one(
	    t, REG("z9hG4bKh7", "h1", "6", "Contact: <sip:bob@10.0.0.4>\r\n"),
	    SIP_TP_TCP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(ngone, 0);
	r = tsd_one(t,
	            REG("z9hG4bKh8", "h1", "7", "Contact: *\r\nExpires: 0\r\n"),
	            SIP_TP_TCP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(ngone, 2);
	for (int i = 0; i < ngone; i++)
		CU_ASSERT_EQUAL(gone[i].why, REG_WHY_UNREGISTERED);
	CU_ASSERT(ngone == 2 && strcmp(gone[0].contact, gone[1].contact) != 0);
	CU_ASSERT_EQUAL(rows(t), 0);
	/* the same again: nothing left to remove */
	ngone = 0;
	r = tsd_one(t,
	            REG("z9hG4bKh9", "h1", "8", "Contact: *\r\nExpires: 0\r\n"),
	            SIP_TP_TCP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(ngone, 0);

	/* RFC 5626: the same instance and reg-id at a new URI replaces */
	r = tsd_one(t,
	            REG("z9hG4bKha", "h2", "1",
	                "Contact: <sip:bob@10.0.0.5;ob>;reg-id=1;"
	                "+sip.instance=\"" INST "\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(ngone, 0);
	r = tsd_one(t,
	            REG("z9hG4bKhb", "h3", "1",
	                "Contact: <sip:bob@10.0.0.6;ob>;reg-id=1;"
	                "+sip.instance=\"" INST "\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	expect_gone("sip:bob@10.0.0.5;ob", REG_WHY_REPLACED);
	CU_ASSERT_STRING_EQUAL(gone[0].instance, INST);
	CU_ASSERT_EQUAL(gone[0].reg_id, 1);
	CU_ASSERT_STRING_EQUAL(gone[0].call_id, "h2");
	CU_ASSERT_EQUAL(rows(t), 1);
	/* a refresh of it is no removal */
	ngone = 0;
	r = tsd_one(t,
	            REG("z9hG4bKhc", "h3", "2",
	                "Contact: <sip:bob@10.0.0.6;ob>;reg-id=1;"
	                "+sip.instance=\"" INST "\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(ngone, 0);

	/* an expired row not yet swept, renewed by a REGISTER: "expired"
	 * once, and the sweeper does not report it again */
	CU_ASSERT_EQUAL(sqlite3_exec(t->peek,
	                             "UPDATE registrations SET expires_at = "
	                             "strftime('%s','now') - 5",
	                             NULL, NULL, NULL),
	                SQLITE_OK);
	r = tsd_one(t,
	            REG("z9hG4bKhd", "h3", "3",
	                "Contact: <sip:bob@10.0.0.6;ob>;reg-id=1;"
	                "+sip.instance=\"" INST "\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	expect_gone("sip:bob@10.0.0.6;ob", REG_WHY_EXPIRED);
	ngone = 0;
	CU_ASSERT_EQUAL(sipd_sweep(t->sd), 0);
	CU_ASSERT_EQUAL(ngone, 0);

	/* the sweeper: a failed commit removes and fires nothing; then
	 * "expired" once */
	CU_ASSERT_EQUAL(sqlite3_exec(t->peek,
	                             "UPDATE registrations SET expires_at = "
	                             "strftime('%s','now') - 5",
	                             NULL, NULL, NULL),
	                SQLITE_OK);
	sqlite3_commit_hook(sipd_db(t->sd), refuse_commit, NULL);
	CU_ASSERT_EQUAL(sipd_sweep(t->sd), -1);
	sqlite3_commit_hook(sipd_db(t->sd), NULL, NULL);
	CU_ASSERT_EQUAL(ngone, 0);
	CU_ASSERT_EQUAL(rows(t), 1);
	CU_ASSERT_EQUAL(sipd_sweep(t->sd), 1);
	expect_gone("sip:bob@10.0.0.6;ob", REG_WHY_EXPIRED);
	CU_ASSERT_EQUAL(rows(t), 0);
	ngone = 0;
	CU_ASSERT_EQUAL(sipd_sweep(t->sd), 0);
	CU_ASSERT_EQUAL(ngone, 0);
	tsd_free(t);
}

/* ------------------------------------------------ hostile REGISTERs */

/* REG with a binary-safe length (the message may hold NUL bytes). */
static const char *
reg_bin(struct tsd *t, const char *m, size_t len)
{
	return tsd_onen(t, m, len, SIP_TP_UDP);
}

static void
test_hostile_register(void)
{
	struct tsd *t = tsd_new(NULL);
	const char *r;
	char big[4096];
	size_t o;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);

	/* an unsupported Require tag after 40 supported ones: still 420 */
	o = (size_t)snprintf(big, sizeof(big), "Require: ");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "path, ");
	snprintf(big + o, sizeof(big) - o, "evil\r\n");
	{
		char m[8192];
		snprintf(m, sizeof(m),
		         REG("z9hG4bKx1", "x1", "1",
		             "%sContact: <sip:bob@1.1.1.1>\r\n"),
		         big);
		r = tsd_one(t, m, SIP_TP_UDP);
		CU_ASSERT_EQUAL(status_of(r), 420);
		CU_ASSERT(r && strstr(r, "\r\nUnsupported: evil\r\n") != NULL);
		CU_ASSERT_EQUAL(rows(t), 0);
	}

	/* a raw NUL inside a quoted +sip.instance: not SIP (qdtext has no
	 * NUL); stored it would truncate the params (every later 200 of the
	 * AOR would carry an unterminated quote) and make two instances
	 * collide */
	{
		static const char m[] =
		    REG("z9hG4bKx2", "x2", "1",
		        "Contact: <sip:bob@1.1.1.2>;reg-id=1;"
		        "+sip.instance=\"<urn:a\0x>\"\r\n");
		r = reg_bin(t, m, sizeof(m) - 1);
		CU_ASSERT_EQUAL(status_of(r), 400);
		CU_ASSERT_EQUAL(rows(t), 0);
	}
	/* a bare CR inside a quoted parameter would be echoed into the 200 */
	r = tsd_one(t,
	            REG("z9hG4bKx3", "x3", "1",
	                "Contact: <sip:bob@1.1.1.3>;+sip.instance="
	                "\"<urn:b>\rInjected: yes\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 400);
	CU_ASSERT(r == NULL || strstr(r, "\rInjected") == NULL);
	CU_ASSERT_EQUAL(rows(t), 0);

	/* reg-id is 1 to 2^31-1 (RFC 5626): no silent clamping */
	r = tsd_one(t,
	            REG("z9hG4bKx4", "x4", "1",
	                "Contact: <sip:bob@1.1.1.4>;reg-id=4294967296;"
	                "+sip.instance=\"<urn:c>\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 400);
	r = tsd_one(t,
	            REG("z9hG4bKx5", "x5", "1",
	                "Contact: <sip:bob@1.1.1.4>;reg-id=2147483648;"
	                "+sip.instance=\"<urn:c>\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 400);
	CU_ASSERT_EQUAL(rows(t), 0);
	r = tsd_one(t,
	            REG("z9hG4bKx6", "x6", "1",
	                "Contact: <sip:bob@1.1.1.4>;reg-id=2147483647;"
	                "+sip.instance=\"<urn:c>\"\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT reg_id FROM registrations "
	                          "WHERE aor = ?1",
	                          BOB),
	                2147483647LL);

	/* qvalue grammar (RFC 3261 25.1): at most three decimals, <= 1 */
	static const char *const badq[] = {
	    "0.99999", "1.0000001", "00.5", "1.5", ".5", "0,5", "1.001"};
	for (size_t i = 0; i < sizeof(badq) / sizeof(badq[0]); i++) {
		char m[1024];
		snprintf(m, sizeof(m),
		         REG("z9hG4bKq%zu", "q1", "%zu",
		             "Contact: <sip:bob@1.1.1.5>;q=%s\r\n"),
		         i, i + 1, badq[i]);
		r = tsd_one(t, m, SIP_TP_UDP);
		CU_ASSERT_EQUAL(status_of(r), 400);
		if (status_of(r) != 400)
			fprintf(stderr, "q=%s accepted\n", badq[i]);
	}
	CU_ASSERT_EQUAL(rows(t), 1);
	r = tsd_one(
	    t,
	    REG("z9hG4bKq9", "q1", "20",
	        "Contact: <sip:bob@1.1.1.5>;q=0.125, "
	        "<sip:bob@1.1.1.6>;q=1.000, <sip:bob@1.1.1.7>;q=0.\r\n"),
	    SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(r && strstr(r, "<sip:bob@1.1.1.5>;q=0.125;") != NULL);
	CU_ASSERT(r && strstr(r, "<sip:bob@1.1.1.6>;q=1.0;") != NULL);
	CU_ASSERT(r && strstr(r, "<sip:bob@1.1.1.7>;q=0.0;") != NULL);
	CU_ASSERT_EQUAL(rows(t), 4);

	/* expires beyond 2^32 is clamped then lowered to max_expires; a
	 * negative one is malformed */
	r = tsd_one(t,
	            REG("z9hG4bKe1", "e1", "1",
	                "Contact: <sip:bob@1.1.1.5>;expires=4294967296\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(r &&
	          strstr(r, "<sip:bob@1.1.1.5>;expires=600000\r\n") != NULL);
	r = tsd_one(t,
	            REG("z9hG4bKe2", "e1", "2",
	                "Contact: <sip:bob@1.1.1.5>;expires=-1\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 400);
	r = tsd_one(t,
	            REG("z9hG4bKe3", "e1", "3",
	                "Contact: <sip:bob@1.1.1.5>\r\nExpires: -1\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 400);

	/* a new Call-ID replaces the binding whatever its CSeq (10.3 step 7) */
	r = tsd_one(t,
	            REG("z9hG4bKc1", "other-call", "1",
	                "Contact: <sip:bob@1.1.1.5>;expires=300\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_STRING_EQUAL(tsd_text(t,
	                                "SELECT call_id FROM registrations "
	                                "WHERE contact = ?1",
	                                "sip:bob@1.1.1.5"),
	                       "other-call");

	/* the same contact twice in one REGISTER: one binding, last wins */
	r = tsd_one(t,
	            REG("z9hG4bKd1", "d1", "1",
	                "Contact: <sip:bob@1.1.1.8>;expires=100, "
	                "<sip:bob@1.1.1.8>;expires=200\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT(r && strstr(r, "<sip:bob@1.1.1.8>;expires=200\r\n") != NULL);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM registrations "
	                          "WHERE contact = ?1",
	                          "sip:bob@1.1.1.8"),
	                1);
	CU_ASSERT_EQUAL(rows(t), 5);

	/* more contacts than max_contacts (10) in one REGISTER: 503, none */
	o = (size_t)snprintf(big, sizeof(big), "Contact: ");
	for (int i = 0; i < 12; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o,
		                      "%s<sip:bob@2.2.2.%d>", i ? ", " : "", i);
	snprintf(big + o, sizeof(big) - o, "\r\n");
	{
		char m[8192];
		snprintf(m, sizeof(m), REG("z9hG4bKm1", "m1", "1", "%s"), big);
		r = tsd_one(t, m, SIP_TP_UDP);
		CU_ASSERT_EQUAL(status_of(r), 503);
		CU_ASSERT_EQUAL(rows(t), 5);
	}
	/* 65 Contact values: 400 */
	o = 0;
	for (int i = 0; i < 65; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o,
		                      "Contact: <sip:bob@3.3.3.%d>\r\n", i);
	{
		char m[8192];
		snprintf(m, sizeof(m), REG("z9hG4bKm2", "m2", "1", "%s"), big);
		r = tsd_one(t, m, SIP_TP_UDP);
		CU_ASSERT_EQUAL(status_of(r), 400);
		CU_ASSERT_EQUAL(rows(t), 5);
	}

	/* %00 in the To user stays escaped: its own AOR, no truncation */
	r = tsd_one(t,
	            "REGISTER sip:afd.test SIP/2.0\r\n"
	            "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKn1\r\n"
	            "Max-Forwards: 70\r\n"
	            "From: <sip:bob%00x@afd.test>;tag=n\r\n"
	            "To: <sip:bob%00x@afd.test>\r\n"
	            "Call-ID: n1\r\nCSeq: 1 REGISTER\r\n"
	            "Contact: <sip:bob%00x@1.1.1.9>\r\n"
	            "Content-Length: 0\r\n\r\n",
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM registrations "
	                          "WHERE aor = ?1",
	                          "sip:bob%00x@afd.test"),
	                1);
	CU_ASSERT_EQUAL(rows(t), 5);
	tsd_free(t);
}

/* RFC 3261 10.3 step 7: contacts are matched by the URI comparison rules
 * of 19.1.4, not byte for byte */
static void
test_contact_uri_match(void)
{
	struct tsd *t = tsd_new(NULL);
	const char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	reg_set_removal_hook(sipd_reg(t->sd), record_gone, NULL);
	ngone = 0;
	r = tsd_one(t,
	            REG("z9hG4bKu1", "u1", "1",
	                "Contact: <sip:bob@HOST.example:5070;transport=tcp;"
	                "lr>\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	/* the same URI written otherwise: a refresh, not a second binding */
	r = tsd_one(t,
	            REG("z9hG4bKu2", "u1", "2",
	                "Contact: <sip:%62ob@host.EXAMPLE:5070;lr;"
	                "Transport=TCP>;expires=300\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(rows(t), 1);
	CU_ASSERT(r && strstr(r, ";expires=300\r\n") != NULL);
	CU_ASSERT_EQUAL(ngone, 0);
	/* and removable in either spelling */
	r = tsd_one(t,
	            REG("z9hG4bKu3", "u1", "3",
	                "Contact: <sip:bob@host.example:5070;transport=tcp>;"
	                "expires=0\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(rows(t), 0);
	CU_ASSERT_EQUAL(ngone, 1);
	/* a different user case or an explicit port is another contact */
	r = tsd_one(t,
	            REG("z9hG4bKu4", "u1", "4",
	                "Contact: <sip:bob@h.example>, <sip:BOB@h.example>, "
	                "<sip:bob@h.example:5060>\r\n"),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(status_of(r), 200);
	CU_ASSERT_EQUAL(rows(t), 3);
	tsd_free(t);
}

int
suite_registrar(void)
{
	CU_pSuite s = CU_add_suite("registrar", reg_setup, NULL);
	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "expiry", test_expiry) ||
	    !CU_add_test(s, "cseq", test_cseq) ||
	    !CU_add_test(s, "plan add/refresh/remove",
	                 test_plan_add_refresh_remove) ||
	    !CU_add_test(s, "plan cseq", test_plan_cseq) ||
	    !CU_add_test(s, "plan wildcard", test_plan_star) ||
	    !CU_add_test(s, "plan instance/reg-id", test_plan_instance) ||
	    !CU_add_test(s, "plan RFC 5626 flows", test_plan_flows) ||
	    !CU_add_test(s, "plan limits", test_plan_limits) ||
	    !CU_add_test(s, "aor", test_aor) ||
	    !CU_add_test(s, "capture 200", test_capture_200) ||
	    !CU_add_test(s, "register flow", test_register_flow) ||
	    !CU_add_test(s, "max contacts", test_register_max_contacts) ||
	    !CU_add_test(s, "outbound, identities, tel",
	                 test_register_outbound) ||
	    !CU_add_test(s, "sweep", test_sweep) ||
	    !CU_add_test(s, "removal hook", test_removal_hook) ||
	    !CU_add_test(s, "hostile REGISTERs", test_hostile_register) ||
	    !CU_add_test(s, "contact URI matching", test_contact_uri_match))
		return -1;
	return 0;
}
