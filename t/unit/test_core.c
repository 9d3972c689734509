/*
 * t/unit/test_core.c: the SIP core's own pieces: the method table (Allow,
 * Supported, option tags), the database transaction object (savepoints,
 * after-commit callbacks, rollbacks), and the registrar's change hook
 * (the after-commit events "the bindings of this AOR changed").
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <sqlite3.h>

#include "schema/db_txn.h"
#include "t/unit/sipd_util.h"
#include "workers/method.h"
#include "workers/registrar.h"

/* ------------------------------------------------------- method table */

static void
test_method_table(void)
{
	const struct method *m;

	CU_ASSERT_STRING_EQUAL(
	    method_allow_hdr(),
	    "Allow: REGISTER, OPTIONS, SUBSCRIBE, INVITE, ACK, BYE, CANCEL, "
	    "PRACK, UPDATE, INFO, MESSAGE\r\n");
	CU_ASSERT_STRING_EQUAL(
	    method_supported_hdr(),
	    "Supported: path, outbound, 100rel, timer, precondition\r\n");
	m = method_find(SIP_M_REGISTER);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_EQUAL(m->serve, reg_serve);
	CU_ASSERT(m->flags & METHOD_AUTH);
	CU_ASSERT(method_tag_supported(m, (sip_str){"PATH", 4}));
	CU_ASSERT(method_tag_supported(m, (sip_str){"outbound", 8}));
	CU_ASSERT(!method_tag_supported(m, (sip_str){"sec-agree", 9}));
	CU_ASSERT(m->flags & METHOD_SECAGREE); /* accepted, not advertised */
	CU_ASSERT(!method_tag_supported(m, (sip_str){"pat", 3}));
	m = method_find(SIP_M_OPTIONS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(!method_tag_supported(m, (sip_str){"path", 4}));
	m = method_find(SIP_M_INVITE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(method_tag_supported(m, (sip_str){"100rel", 6}));
	CU_ASSERT(m->flags & METHOD_SECAGREE);
	m = method_find(SIP_M_SUBSCRIBE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(m->flags & METHOD_SECAGREE);
	CU_ASSERT_PTR_NULL(method_find(SIP_M_NOTIFY));
	CU_ASSERT_PTR_NULL(method_find(SIP_M_UNKNOWN));
}

/* Branches name the slot that sent a request: the route back. */
static void
test_branch_slot(void)
{
	char slot[8];
	struct tsd *t = tsd_new(NULL);
	char b[48];

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(
	    sipd_branch_slot((sip_str){"z9hG4bK-t3-0a1b", 15}, slot), 0);
	CU_ASSERT_STRING_EQUAL(slot, "t3");
	CU_ASSERT_EQUAL(sipd_branch_slot((sip_str){"z9hG4bK-u0-x", 12}, slot),
	                0);
	CU_ASSERT_STRING_EQUAL(slot, "u0");
	CU_ASSERT_EQUAL(sipd_branch_slot(SIP_STR_NULL, slot), -1);
	CU_ASSERT_EQUAL(sipd_branch_slot((sip_str){"z9hG4bK-t3", 10}, slot),
	                -1);
	CU_ASSERT_EQUAL(sipd_branch_slot((sip_str){"z9hG4bKx-t3-a", 13}, slot),
	                -1);
	CU_ASSERT_EQUAL(sipd_branch_slot((sip_str){"z9hG4bK-T3-a", 12}, slot),
	                -1);
	CU_ASSERT_EQUAL(
	    sipd_branch_slot((sip_str){"z9hG4bK-t123456-a", 17}, slot), -1);
	/* what sipd_branch() makes, sipd_branch_slot() reads back */
	sipd_branch(t->sd, b, sizeof(b));
	CU_ASSERT_EQUAL(sipd_branch_slot((sip_str){b, strlen(b)}, slot), 0);
	CU_ASSERT_STRING_EQUAL(slot, "u0");
	tsd_free(t);
}

/* ----------------------------------------------------- db_txn object */

static char seen[256];

static void
note(void *arg, int committed)
{
	char one[32];

	snprintf(one, sizeof(one), "%s=%d ", (const char *)arg, committed);
	strncat(seen, one, sizeof(seen) - strlen(seen) - 1);
}

static void
cb(struct db_txn *t, const char *name)
{
	CU_ASSERT_EQUAL(db_txn_after_commit(t, note, talloc_strdup(NULL, name)),
	                0);
}

static long long
count(sqlite3 *db)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_db_txn(void)
{
	sqlite3 *db;
	struct db_txn *t;
	int a, b;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &db), SQLITE_OK);
	sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL);
	t = db_txn_new(NULL, db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);

	/* a batch: two units, the second rolled back; callbacks after the
	 * commit, in order, the rolled-back unit's with 0 at once */
	seen[0] = '\0';
	CU_ASSERT_EQUAL(db_txn_begin(t), 0);
	CU_ASSERT(db_txn_open(t));
	a = db_txn_savepoint(t);
	CU_ASSERT(a >= 0);
	sqlite3_exec(db, "INSERT INTO t VALUES (1)", NULL, NULL, NULL);
	cb(t, "a");
	CU_ASSERT_EQUAL(db_txn_release(t, a), 0);
	b = db_txn_savepoint(t);
	sqlite3_exec(db, "INSERT INTO t VALUES (2)", NULL, NULL, NULL);
	cb(t, "b");
	db_txn_rollback(t, b);
	CU_ASSERT_STRING_EQUAL(seen, "b=0 "); /* a waits for the commit */
	CU_ASSERT_EQUAL(db_txn_commit(t), 0);
	CU_ASSERT_STRING_EQUAL(seen, "b=0 a=1 ");
	CU_ASSERT_EQUAL(count(db), 1);
	CU_ASSERT(!db_txn_open(t));

	/* a unit outside a batch: its release is the commit */
	seen[0] = '\0';
	a = db_txn_savepoint(t);
	sqlite3_exec(db, "INSERT INTO t VALUES (3)", NULL, NULL, NULL);
	cb(t, "c");
	CU_ASSERT_STRING_EQUAL(seen, "");
	CU_ASSERT_EQUAL(db_txn_release(t, a), 0);
	CU_ASSERT_STRING_EQUAL(seen, "c=1 ");
	CU_ASSERT_EQUAL(count(db), 2);

	/* nested units: the outer rollback undoes the inner release */
	seen[0] = '\0';
	CU_ASSERT_EQUAL(db_txn_begin(t), 0);
	a = db_txn_savepoint(t);
	b = db_txn_savepoint(t);
	sqlite3_exec(db, "INSERT INTO t VALUES (4)", NULL, NULL, NULL);
	cb(t, "d");
	CU_ASSERT_EQUAL(db_txn_release(t, b), 0);
	db_txn_rollback(t, a);
	CU_ASSERT_STRING_EQUAL(seen, "d=0 ");
	CU_ASSERT_EQUAL(db_txn_commit(t), 0);
	CU_ASSERT_EQUAL(count(db), 2);

	/* an abort: everything pending with 0, nothing kept */
	seen[0] = '\0';
	CU_ASSERT_EQUAL(db_txn_begin(t), 0);
	a = db_txn_savepoint(t);
	sqlite3_exec(db, "INSERT INTO t VALUES (5)", NULL, NULL, NULL);
	cb(t, "e");
	CU_ASSERT_EQUAL(db_txn_release(t, a), 0);
	db_txn_abort(t);
	CU_ASSERT_STRING_EQUAL(seen, "e=0 ");
	CU_ASSERT_EQUAL(count(db), 2);

	/* outside any transaction a callback runs at once */
	seen[0] = '\0';
	cb(t, "f");
	CU_ASSERT_STRING_EQUAL(seen, "f=1 ");

	talloc_free(t);
	/* the statements the object prepared belong to the connection */
	for (sqlite3_stmt *st; (st = sqlite3_next_stmt(db, NULL)) != NULL;)
		sqlite3_finalize(st);
	CU_ASSERT_EQUAL(sqlite3_close(db), SQLITE_OK);
}

/* -------------------------------------------------------- change hook */

static char changes[512];

static void
record_change(void *arg, const struct db_binding *b, enum reg_why why)
{
	char one[96];

	snprintf(one, sizeof(one), "%s %s; ", b->contact, reg_why_event(why));
	strncat(changes, one, sizeof(changes) - strlen(changes) - 1);
}

#define REGC(branch, cseq, contact)                                            \
	"REGISTER sip:afd.test SIP/2.0\r\n"                                    \
	"Via: SIP/2.0/UDP 10.0.0.9:5060;rport;branch=" branch "\r\n"           \
	"Max-Forwards: 70\r\n"                                                 \
	"From: <sip:carl@afd.test>;tag=c1\r\n"                                 \
	"To: <sip:carl@afd.test>\r\n"                                          \
	"Call-ID: chg1\r\n"                                                    \
	"CSeq: " cseq " REGISTER\r\n"                                          \
	"Contact: " contact "\r\nContent-Length: 0\r\n\r\n"

static void
test_change_hook(void)
{
	struct tsd *t = tsd_new(NULL);
	const char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	reg_set_change_hook(sipd_reg(t->sd), record_change, NULL);
	changes[0] = '\0';
	r = tsd_one(t, REGC("z9hG4bKc1", "1", "<sip:c@10.0.0.1>;expires=600"),
	            SIP_TP_UDP);
	CU_ASSERT(r != NULL && strncmp(r, "SIP/2.0 200 ", 12) == 0);
	CU_ASSERT_STRING_EQUAL(changes, "sip:c@10.0.0.1 created; ");
	changes[0] = '\0';
	tsd_one(t, REGC("z9hG4bKc2", "2", "<sip:c@10.0.0.1>;expires=900"),
	        SIP_TP_UDP);
	CU_ASSERT_STRING_EQUAL(changes, "sip:c@10.0.0.1 refreshed; ");
	changes[0] = '\0';
	tsd_one(t, REGC("z9hG4bKc3", "3", "<sip:c@10.0.0.1>;expires=300"),
	        SIP_TP_UDP);
	CU_ASSERT_STRING_EQUAL(changes, "sip:c@10.0.0.1 shortened; ");
	changes[0] = '\0';
	tsd_one(t, REGC("z9hG4bKc4", "4", "<sip:c@10.0.0.1>;expires=0"),
	        SIP_TP_UDP);
	CU_ASSERT_STRING_EQUAL(changes, "sip:c@10.0.0.1 unregistered; ");
	/* a refused REGISTER (423) changes nothing and says nothing */
	changes[0] = '\0';
	r = tsd_one(t, REGC("z9hG4bKc5", "5", "<sip:c@10.0.0.2>;expires=10"),
	            SIP_TP_UDP);
	CU_ASSERT(r != NULL && strncmp(r, "SIP/2.0 423 ", 12) == 0);
	CU_ASSERT_STRING_EQUAL(changes, "");
	tsd_free(t);
}

int
suite_core(void)
{
	CU_pSuite s = CU_add_suite("core", NULL, NULL);

	if (s == NULL || !CU_add_test(s, "method table", test_method_table) ||
	    !CU_add_test(s, "branch slot", test_branch_slot) ||
	    !CU_add_test(s, "db_txn", test_db_txn) ||
	    !CU_add_test(s, "change hook", test_change_hook))
		return -1;
	return 0;
}
