/*
 * t/unit/test_dialog.c: the calls' data layer (schema/db_dialog.h): a row
 * written whole and read back whole; found by either leg's Call-ID (ended
 * ones only when asked); its owner slot; a slot's live calls; the
 * sweeper's thresholds per stage and its de-registered phones; the end of a
 * call and its CDR; saves that keep or change the Call-IDs; the stored
 * INVITEs written only when they change; the forks of a forked call and
 * the TCP connection that carries a live call; the upgrade of a version 5
 * file (dialogs without the B2BUA's columns, nor forks) and of a version
 * 10 one (the INVITEs in dialogs, partial indexes on stage); and
 * the B2BUA's choice of the best final response when every fork failed
 * (RFC 3261 16.7 step 6); the 2xx kept for a caller over UDP until its
 * ACK (dialog_answers, schema 12): byte for byte, NULs included, and gone
 * when dropped, when the call ends, and with its dialogs row.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "schema/db.h"
#include "t/unit/tdb.h"
#include "schema/db_dialog.h"
#include "util/log.h"
#include "workers/b2bua.h"

static struct tdb fix; /* the suite's scratch folder and config */

static int
setup(void)
{
	return tdb_setup(&fix, "dialog");
}

static int
teardown(void)
{
	return tdb_teardown(&fix);
}

/* A fresh database file with the schema. */
static sqlite3 *
fresh(const char *name)
{
	return tdb_fresh(&fix, name);
}

static long long
q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
sample(struct db_dialog *d, const char *a, const char *b, const char *slot,
       time_t t)
{
	memset(d, 0, sizeof(*d));
	d->a_call_id = (char *)a;
	d->a_from_tag = "ftag";
	d->a_to_tag = "0123456789abcdef";
	d->a_cseq = 33302;
	d->a_contact = "sip:alice@127.0.0.1:5070;transport=tcp";
	d->a_peer = "tcp 127.0.0.1:5070 t3 17";
	d->a_request = "INVITE sip:bob@x SIP/2.0\r\n...";
	d->b_call_id = (char *)b;
	d->b_from_tag = "btag";
	d->b_cseq = 1;
	d->b_inv_cseq = 1;
	d->b_contact = "sip:bob@127.0.0.1:5080";
	d->b_route = "<sip:pcscf.example;lr>";
	d->b_peer = "udp 127.0.0.1:5080";
	d->b_branch = "z9hG4bK-t3-0011223344556677";
	d->caller = "sip:alice@x";
	d->callee = "sip:bob@x";
	d->stage = "trying";
	d->owner_slot = (char *)slot;
	d->created_at = d->updated_at = t;
	d->ring_deadline = t + 60;
}

static void
test_row(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	sqlite3 *db = fresh("row.db");
	struct db_dialog_ctx *dc;
	struct db_dialog d, *g;
	char leg, slot[8];

	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	dc = db_dialog_new(mem, db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
	sample(&d, "A1", "B1", "t3", 1000);
	CU_ASSERT_EQUAL(db_dialog_insert(dc, &d), 0);
	CU_ASSERT(d.id > 0);
	/* by the A-leg's Call-ID */
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "A1", 0, &g, &leg), 1);
	CU_ASSERT_EQUAL(leg, 'a');
	CU_ASSERT_EQUAL(g->id, d.id);
	CU_ASSERT_STRING_EQUAL(g->a_peer, "tcp 127.0.0.1:5070 t3 17");
	CU_ASSERT_STRING_EQUAL(g->b_route, "<sip:pcscf.example;lr>");
	CU_ASSERT_EQUAL(g->a_cseq, 33302);
	CU_ASSERT_PTR_NULL(g->b_to_tag);
	CU_ASSERT_EQUAL(g->answered_at, 0);
	CU_ASSERT_EQUAL(g->ring_deadline, 1060);
	CU_ASSERT_STRING_EQUAL(g->a_request, "INVITE sip:bob@x SIP/2.0\r\n...");
	CU_ASSERT_PTR_NULL(g->b_request);
	/* by the B-leg's */
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "B1", 0, &g, &leg), 1);
	CU_ASSERT_EQUAL(leg, 'b');
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "nope", 0, &g, &leg), 0);
	CU_ASSERT_EQUAL(db_dialog_owner(dc, "B1", slot), 1);
	CU_ASSERT_STRING_EQUAL(slot, "t3");
	/* saved whole */
	g->stage = "confirmed";
	g->b_to_tag = "ua1";
	g->b_cseq = 2;
	g->answered_at = 1005;
	CU_ASSERT_EQUAL(db_dialog_save(dc, g, 1006), 0);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "A1", 0, &g, &leg), 1);
	CU_ASSERT_STRING_EQUAL(g->stage, "confirmed");
	CU_ASSERT_STRING_EQUAL(g->b_to_tag, "ua1");
	CU_ASSERT_EQUAL(g->b_cseq, 2);
	CU_ASSERT_EQUAL(g->updated_at, 1006);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM active_calls"), 1);
	/* ended: a CDR, and gone from the live look-ups */
	CU_ASSERT_EQUAL(db_dialog_end(dc, g, "caller hung up", 1010), 0);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "A1", 0, &g, &leg), 0);
	CU_ASSERT_EQUAL(db_dialog_owner(dc, "A1", slot), 0);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "A1", 1, &g, &leg), 1);
	CU_ASSERT_STRING_EQUAL(g->stage, "ended");
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM active_calls"), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM live_dialogs"), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM calls WHERE "
	                       "end_reason = 'caller hung up' AND "
	                       "started_at = 1000 AND answered_at = 1005 AND "
	                       "ended_at = 1010 AND a_call_id = 'A1' AND "
	                       "b_call_id = 'B1'"),
	                1);
	talloc_free(mem);
	db_close(db);
}

/* A save leaves the Call-ID indexes alone when the Call-IDs are the row's,
 * and still saves a changed Call-ID (found by it afterwards, not by the
 * old one); a save of a row that is gone changes nothing. */
static void
test_save_ids(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	sqlite3 *db = fresh("save.db");
	struct db_dialog_ctx *dc;
	struct db_dialog d, *g;
	char leg;

	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	dc = db_dialog_new(mem, db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
	sample(&d, "A2", "B2", "t1", 2000);
	CU_ASSERT_EQUAL_FATAL(db_dialog_insert(dc, &d), 0);
	/* the common save: stage and tags, the same Call-IDs */
	d.stage = "ringing";
	d.b_to_tag = "callee-tag";
	CU_ASSERT_EQUAL(db_dialog_save(dc, &d, 2001), 0);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "B2", 0, &g, &leg), 1);
	CU_ASSERT_EQUAL(leg, 'b');
	CU_ASSERT_STRING_EQUAL(g->stage, "ringing");
	CU_ASSERT_STRING_EQUAL(g->b_to_tag, "callee-tag");
	/* a new B-leg Call-ID: saved with every column */
	d.b_call_id = "B2-again";
	d.stage = "early";
	CU_ASSERT_EQUAL(db_dialog_save(dc, &d, 2002), 0);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "B2", 0, &g, &leg), 0);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "B2-again", 0, &g, &leg), 1);
	CU_ASSERT_EQUAL(g->id, d.id);
	CU_ASSERT_STRING_EQUAL(g->stage, "early");
	CU_ASSERT_STRING_EQUAL(g->a_call_id, "A2");
	CU_ASSERT_EQUAL(g->updated_at, 2002);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialogs"), 1);
	/* the index agrees with the table */
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialogs INDEXED BY "
	                       "dialogs_b WHERE b_call_id = 'B2-again'"),
	                1);
	/* a row that is gone: nothing saved, nothing made */
	d.id = 9999;
	CU_ASSERT_EQUAL(db_dialog_save(dc, &d, 2003), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialogs"), 1);
	talloc_free(mem);
	db_close(db);
}

/* The stored INVITEs live in dialog_requests: a stage's save leaves that
 * row alone unless a request changed (a forked call's winner). */
static void
test_requests(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	sqlite3 *db = fresh("requests.db");
	struct db_dialog_ctx *dc;
	struct db_dialog d, *g;
	char leg;

	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	dc = db_dialog_new(mem, db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
	sample(&d, "A5", "B5", "t1", 3000);
	d.b_request = "INVITE sip:bob@127.0.0.1:5080 SIP/2.0\r\n...";
	CU_ASSERT_EQUAL_FATAL(db_dialog_insert(dc, &d), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_requests WHERE "
	                       "a_request LIKE 'INVITE sip:bob@x %' AND "
	                       "b_request LIKE 'INVITE sip:bob@127.0.0.1%'"),
	                1);
	/* a mark no save of the same requests may undo */
	CU_ASSERT_EQUAL(sqlite3_exec(db,
	                             "UPDATE dialog_requests SET a_request = "
	                             "'marked'",
	                             NULL, NULL, NULL),
	                SQLITE_OK);
	d.stage = "ringing";
	CU_ASSERT_EQUAL(db_dialog_save(dc, &d, 3001), 0);
	CU_ASSERT_EQUAL_FATAL(db_dialog_find(dc, mem, "A5", 0, &g, &leg), 1);
	CU_ASSERT_STRING_EQUAL(g->stage, "ringing");
	CU_ASSERT_STRING_EQUAL(g->a_request, "marked");
	g->stage = "answered";
	CU_ASSERT_EQUAL(db_dialog_save(dc, g, 3002), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_requests WHERE "
	                       "a_request = 'marked'"),
	                1);
	/* a new B-leg INVITE (equal text in a new string is no change) */
	g->a_request = talloc_strdup(mem, "marked");
	g->b_request = "INVITE sip:bob@127.0.0.1:5090 SIP/2.0\r\n...";
	CU_ASSERT_EQUAL(db_dialog_save(dc, g, 3003), 0);
	CU_ASSERT_EQUAL_FATAL(db_dialog_find(dc, mem, "B5", 0, &g, &leg), 1);
	CU_ASSERT_STRING_EQUAL(g->b_request,
	                       "INVITE sip:bob@127.0.0.1:5090 SIP/2.0\r\n...");
	CU_ASSERT_STRING_EQUAL(g->a_request, "marked");
	CU_ASSERT_STRING_EQUAL(g->stage, "answered");
	/* the dialogs row has no INVITE of its own */
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM pragma_table_info("
	                       "'dialogs') WHERE name LIKE '%request'"),
	                0);
	/* a row that is gone gets no requests row */
	g->id = 9999;
	g->b_request = "INVITE again";
	CU_ASSERT_EQUAL(db_dialog_save(dc, g, 3004), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_requests"), 1);
	talloc_free(mem);
	db_close(db);
}

static void
test_owned_stale(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	sqlite3 *db = fresh("stale.db");
	struct db_dialog_ctx *dc;
	struct db_dialog d, *rows;
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	/* both phones registered until 1000 */
	CU_ASSERT_EQUAL_FATAL(
	    sqlite3_exec(db,
	                 "INSERT INTO registrations (aor, contact, expires_at, "
	                 "call_id, cseq, transport, registered_at, updated_at) "
	                 "VALUES ('sip:alice@x', 'sip:a@h', 1000, 'c', 1, "
	                 "'udp', 1, 1), ('sip:bob@x', 'sip:b@h', 1000, 'c', 1, "
	                 "'udp', 1, 1)",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	dc = db_dialog_new(mem, db);
	sample(&d, "A1", "B1", "t3", 100); /* ringing since 100 */
	d.stage = "ringing";
	CU_ASSERT_EQUAL(db_dialog_insert(dc, &d), 0);
	sample(&d, "A2", "B2", "u0", 100); /* ending since 100 */
	d.stage = "terminating";
	CU_ASSERT_EQUAL(db_dialog_insert(dc, &d), 0);
	sample(&d, "A3", "B3", "t3", 100); /* up since 100 */
	d.stage = "confirmed";
	CU_ASSERT_EQUAL(db_dialog_insert(dc, &d), 0);
	CU_ASSERT_EQUAL(db_dialog_owned(dc, mem, "t3", &rows, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(db_dialog_owned(dc, mem, "t9", &rows, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* nothing old enough */
	CU_ASSERT_EQUAL(
	    db_dialog_stale(dc, mem, 100, 50, 50, 50, 10, &rows, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* terminating past its limit only */
	CU_ASSERT_EQUAL(
	    db_dialog_stale(dc, mem, 100, 200, 50, 50, 10, &rows, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(rows[0].a_call_id, "A2");
	/* being set up past its limit too */
	CU_ASSERT_EQUAL(
	    db_dialog_stale(dc, mem, 100, 200, 200, 50, 10, &rows, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	/* and everything past max_idle; the limit holds */
	CU_ASSERT_EQUAL(
	    db_dialog_stale(dc, mem, 100, 50, 50, 200, 10, &rows, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(
	    db_dialog_stale(dc, mem, 100, 50, 50, 200, 2, &rows, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	/* the callee's binding gone: the call up is over */
	CU_ASSERT_EQUAL(sqlite3_exec(db,
	                             "DELETE FROM registrations WHERE aor = "
	                             "'sip:bob@x'",
	                             NULL, NULL, NULL),
	                SQLITE_OK);
	CU_ASSERT_EQUAL(
	    db_dialog_stale(dc, mem, 100, 50, 50, 50, 10, &rows, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(rows[0].a_call_id, "A3");
	talloc_free(mem);
	db_close(db);
}

/* The forks of a call: inserted, listed in order, saved whole; a live
 * call names its caller's TCP connection until it ends; the requests it
 * relays are kept until answered or the call ends. */
static void
test_forks(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	sqlite3 *db = fresh("forks.db");
	struct db_dialog_ctx *dc;
	struct db_dialog d, *g;
	struct db_fork f[2], *fs;
	char leg;
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	dc = db_dialog_new(mem, db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
	sample(&d, "FA", "FB", "t3", 1000);
	d.forks = 2;
	CU_ASSERT_EQUAL_FATAL(db_dialog_insert(dc, &d), 0);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "FB", 0, &g, &leg), 1);
	CU_ASSERT_EQUAL(g->forks, 2);
	memset(f, 0, sizeof(f));
	for (int i = 0; i < 2; i++) {
		f[i].dialog_id = d.id;
		f[i].branch = i ? "z9hG4bK-t3-b2" : "z9hG4bK-t3-b1";
		f[i].target = i ? "sip:bob@127.0.0.1:5082" : "sip:bob@h:5081";
		f[i].peer = "udp 127.0.0.1:5081";
		f[i].request = "INVITE sip:bob@h SIP/2.0\r\n";
		f[i].state = "calling";
		CU_ASSERT_EQUAL(db_fork_insert(dc, &f[i], 1000), 0);
	}
	CU_ASSERT(f[1].id > f[0].id);
	f[1].state = "failed";
	f[1].status = 486;
	f[1].to_tag = "tt";
	f[1].response = "SIP/2.0 486 Busy Here\r\n";
	CU_ASSERT_EQUAL(db_fork_save(dc, &f[1], 1001), 0);
	CU_ASSERT_EQUAL_FATAL(db_fork_list(dc, mem, d.id, &fs, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(fs[0].branch, "z9hG4bK-t3-b1");
	CU_ASSERT_STRING_EQUAL(fs[0].state, "calling");
	CU_ASSERT_EQUAL(fs[0].status, 0);
	CU_ASSERT_PTR_NULL(fs[0].to_tag);
	CU_ASSERT_STRING_EQUAL(fs[1].state, "failed");
	CU_ASSERT_EQUAL(fs[1].status, 486);
	CU_ASSERT_STRING_EQUAL(fs[1].to_tag, "tt");
	CU_ASSERT_STRING_EQUAL(fs[1].target, "sip:bob@127.0.0.1:5082");
	CU_ASSERT_EQUAL(fs[1].updated_at, 1001);
	CU_ASSERT_EQUAL(db_fork_list(dc, mem, d.id + 1, &fs, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* a bad state is refused by the schema */
	f[0].state = "ringing";
	CU_ASSERT_EQUAL(db_fork_save(dc, &f[0], 1002), -1);
	/* the caller's connection carries the call while it lives */
	CU_ASSERT_EQUAL(
	    db_dialog_conn_live(dc, "t3", "tcp 127.0.0.1:5070 t3 17"), 1);
	CU_ASSERT_EQUAL(
	    db_dialog_conn_live(dc, "t3", "tcp 127.0.0.1:5070 t3 18"), 0);
	CU_ASSERT_EQUAL(
	    db_dialog_conn_live(dc, "t4", "tcp 127.0.0.1:5070 t3 17"), 0);
	/* requests relayed inside the call: found by branch, deleted when
	 * answered, and with the call when it ends */
	{
		char *rq, *pr;
		int64_t did;
		CU_ASSERT_EQUAL(db_relay_insert(dc, d.id, "z9hG4bK-t3-r1",
		                                "PRACK",
		                                "PRACK sip:afd SIP/2.0\r\n",
		                                "udp 127.0.0.1:5070", 1002),
		                0);
		CU_ASSERT_EQUAL(db_relay_insert(dc, d.id, "z9hG4bK-t3-r2",
		                                "INFO",
		                                "INFO sip:afd SIP/2.0\r\n",
		                                "udp 127.0.0.1:5070", 1002),
		                0);
		CU_ASSERT_EQUAL(
		    db_relay_find(dc, mem, "z9hG4bK-t3-r1", &rq, &pr, &did), 1);
		CU_ASSERT_STRING_EQUAL(rq, "PRACK sip:afd SIP/2.0\r\n");
		CU_ASSERT_STRING_EQUAL(pr, "udp 127.0.0.1:5070");
		CU_ASSERT_EQUAL(did, d.id);
		CU_ASSERT_EQUAL(db_relay_delete(dc, "z9hG4bK-t3-r1"), 0);
		CU_ASSERT_EQUAL(
		    db_relay_find(dc, mem, "z9hG4bK-t3-r1", &rq, &pr, &did), 0);
		CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_relays"),
		                1);
	}
	CU_ASSERT_EQUAL(db_dialog_end(dc, &d, "cancelled", 1003), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_relays"), 0);
	CU_ASSERT_EQUAL(
	    db_dialog_conn_live(dc, "t3", "tcp 127.0.0.1:5070 t3 17"), 0);
	talloc_free(mem);
	db_close(db);
}

/* RFC 3261 16.7 step 6, as b2bua_best_final applies it. */
static void
test_best_final(void)
{
	struct {
		int st[4], n, want;
	} c[] = {
	    {{486, 603, 404}, 3, 1}, /* a 6xx, wherever it is */
	    {{500, 486, 302}, 3, 2}, /* the lowest class: 3xx */
	    {{503, 486}, 2, 1},      /* 4xx before 5xx */
	    {{486, 404, 401}, 3, 2}, /* 401 preferred in 4xx */
	    {{480, 407, 484}, 3, 1}, /* 401, 407, ... in that order */
	    {{486, 480}, 2, 0},      /* else the first of the class */
	    {{408, 503}, 2, 0},      /* a timeout is a 4xx */
	    {{503, 500, 502}, 3, 0}, /* 5xx: the first */
	    {{600, 486, 603}, 3, 0}, /* the first 6xx */
	    {{180, 200}, 2, -1},     /* no failure at all */
	    {{0}, 0, -1},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		CU_ASSERT_EQUAL(b2bua_best_final(c[i].st, c[i].n), c[i].want);
}

/* A version 5 file: dialogs and calls as they were, one row each. */
static void
test_upgrade_v2(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct db_dialog_ctx *dc;
	struct db_dialog *g;
	sqlite3 *db;
	char leg;

	snprintf(fix.conf.database, sizeof(fix.conf.database), "%s/v2.db",
	         fix.dir);
	unlink(fix.conf.database);
	db = db_open(&fix.conf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	CU_ASSERT_EQUAL_FATAL(
	    sqlite3_exec(
	        db,
	        "CREATE TABLE dialogs (id INTEGER PRIMARY KEY, a_call_id TEXT "
	        "NOT NULL, a_from_tag TEXT, a_to_tag TEXT, a_cseq INTEGER, "
	        "b_call_id TEXT NOT NULL, b_from_tag TEXT, b_to_tag TEXT, "
	        "b_cseq INTEGER, caller TEXT NOT NULL, callee TEXT NOT NULL, "
	        "stage TEXT NOT NULL DEFAULT 'trying', owner_slot TEXT, "
	        "created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
	        "CREATE TABLE calls (id INTEGER PRIMARY KEY, caller TEXT NOT "
	        "NULL, callee TEXT NOT NULL, started_at INTEGER NOT NULL, "
	        "answered_at INTEGER, ended_at INTEGER, end_reason TEXT);"
	        "CREATE VIEW active_calls AS SELECT id FROM dialogs;"
	        "INSERT INTO dialogs (a_call_id, b_call_id, caller, callee, "
	        "stage, owner_slot, created_at, updated_at) VALUES ('old-a', "
	        "'old-b', 'sip:a@x', 'sip:b@x', 'confirmed', 't1', 5, 6);"
	        "PRAGMA user_version = 5;",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(db_migrate(db), 0);
	CU_ASSERT_EQUAL(q1(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM pragma_table_info("
	                       "'dialogs') WHERE name IN ('a_request', "
	                       "'b_peer', 'ring_deadline', 'end_reason')"),
	                3);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM live_dialogs"), 1);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM pragma_table_info("
	                       "'active_calls') WHERE name = 'answered'"),
	                1);
	dc = db_dialog_new(mem, db);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "old-b", 0, &g, &leg), 1);
	CU_ASSERT_EQUAL(leg, 'b');
	CU_ASSERT_EQUAL(g->b_inv_cseq, 1);
	CU_ASSERT_EQUAL(g->forks, 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_forks"), 0);
	/* migrating again changes nothing */
	CU_ASSERT_EQUAL(db_migrate(db), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialogs"), 1);
	talloc_free(mem);
	db_close(db);
}

/* A version 10 file: the stored INVITEs in dialogs, the partial indexes
 * on stage; a live call (owned by t1) and an ended one. The INVITEs move
 * to dialog_requests, the live call is in live_dialogs and carries on. */
static void
test_upgrade_v10(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct db_dialog_ctx *dc;
	struct db_dialog *g, *rows;
	sqlite3 *db;
	char leg;
	int n;

	snprintf(fix.conf.database, sizeof(fix.conf.database), "%s/v10.db",
	         fix.dir);
	unlink(fix.conf.database);
	db = db_open(&fix.conf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	CU_ASSERT_EQUAL_FATAL(
	    sqlite3_exec(
	        db,
	        "CREATE TABLE dialogs (id INTEGER PRIMARY KEY, a_call_id TEXT "
	        "NOT NULL, a_from_tag TEXT, a_to_tag TEXT, a_cseq INTEGER, "
	        "b_call_id TEXT NOT NULL, b_from_tag TEXT, b_to_tag TEXT, "
	        "b_cseq INTEGER, caller TEXT NOT NULL, callee TEXT NOT NULL, "
	        "stage TEXT NOT NULL DEFAULT 'trying' CHECK (stage IN "
	        "('trying','early','ringing','answered','confirmed',"
	        "'terminating','ended')), owner_slot TEXT, created_at INTEGER "
	        "NOT NULL, updated_at INTEGER NOT NULL, a_contact TEXT, "
	        "a_route TEXT, a_peer TEXT, a_out_cseq INTEGER NOT NULL "
	        "DEFAULT 0, a_inv_cseq INTEGER NOT NULL DEFAULT 0, a_request "
	        "TEXT, b_contact TEXT, b_route TEXT, b_peer TEXT, b_in_cseq "
	        "INTEGER NOT NULL DEFAULT 0, b_inv_cseq INTEGER NOT NULL "
	        "DEFAULT 1, b_branch TEXT, b_request TEXT, answered_at "
	        "INTEGER, ring_deadline INTEGER, end_reason TEXT, forks "
	        "INTEGER NOT NULL DEFAULT 0);"
	        "CREATE INDEX dialogs_a ON dialogs(a_call_id);"
	        "CREATE INDEX dialogs_b ON dialogs(b_call_id);"
	        "CREATE INDEX dialogs_live ON dialogs(updated_at) WHERE "
	        "stage <> 'ended';"
	        "CREATE INDEX dialogs_owner ON dialogs(owner_slot) WHERE "
	        "stage <> 'ended';"
	        "CREATE VIEW active_calls AS SELECT id, caller, callee, stage, "
	        "owner_slot, a_call_id, b_call_id, datetime(created_at, "
	        "'unixepoch') AS created, datetime(answered_at, 'unixepoch') "
	        "AS answered, datetime(updated_at, 'unixepoch') AS updated "
	        "FROM dialogs WHERE stage <> 'ended';"
	        "CREATE TABLE dialog_relays (branch TEXT PRIMARY KEY, "
	        "dialog_id INTEGER NOT NULL, method TEXT NOT NULL, request "
	        "TEXT NOT NULL, peer TEXT NOT NULL, created_at INTEGER NOT "
	        "NULL);"
	        "CREATE INDEX dialog_relays_dialog ON dialog_relays(dialog_id);"
	        "INSERT INTO dialog_relays VALUES ('z9hG4bK-t1-r1', 2, "
	        "'PRACK', 'PRACK sip:b@x SIP/2.0', 'tcp 127.0.0.1:5070 t1 3', "
	        "7);"
	        "INSERT INTO dialogs (a_call_id, b_call_id, caller, callee, "
	        "stage, owner_slot, created_at, updated_at, a_request, "
	        "b_request, a_peer) VALUES ('gone-a', 'gone-b', 'sip:a@x', "
	        "'sip:b@x', 'ended', 't1', 1, 2, 'INVITE old', 'INVITE old b', "
	        "'udp 127.0.0.1:5070'), ('live-a', 'live-b', 'sip:a@x', "
	        "'sip:b@x', 'confirmed', 't1', 5, 6, 'INVITE sip:b@x "
	        "SIP/2.0', 'INVITE sip:b@127.0.0.1 SIP/2.0', "
	        "'tcp 127.0.0.1:5070 t1 3');"
	        "PRAGMA user_version = 10;",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(db_migrate(db), 0);
	CU_ASSERT_EQUAL(q1(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM pragma_table_info("
	                       "'dialogs') WHERE name LIKE '%request'"),
	                0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM sqlite_schema WHERE "
	                       "name IN ('dialogs_live', 'dialogs_owner')"),
	                0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_requests"), 2);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM active_calls WHERE "
	                       "a_call_id = 'live-a' AND owner_slot = 't1'"),
	                1);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM active_calls"), 1);
	/* the live call carries on: found whole, owned by t1, its worker's
	 * connection live */
	dc = db_dialog_new(mem, db);
	CU_ASSERT_EQUAL_FATAL(db_dialog_find(dc, mem, "live-b", 0, &g, &leg),
	                      1);
	CU_ASSERT_EQUAL(leg, 'b');
	CU_ASSERT_STRING_EQUAL(g->stage, "confirmed");
	CU_ASSERT_STRING_EQUAL(g->a_request, "INVITE sip:b@x SIP/2.0");
	CU_ASSERT_STRING_EQUAL(g->b_request, "INVITE sip:b@127.0.0.1 SIP/2.0");
	CU_ASSERT_EQUAL(db_dialog_owned(dc, mem, "t1", &rows, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(
	    db_dialog_conn_live(dc, "t1", "tcp 127.0.0.1:5070 t1 3"), 1);
	CU_ASSERT_EQUAL(db_dialog_find(dc, mem, "gone-a", 1, &g, &leg), 1);
	CU_ASSERT_STRING_EQUAL(g->a_request, "INVITE old");
	/* the relay in flight kept, in a table keyed by branch alone */
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM sqlite_schema WHERE "
	                       "name LIKE 'dialog_relays%'"),
	                1);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM sqlite_schema WHERE "
	                       "name = 'dialog_relays' AND sql LIKE "
	                       "'%WITHOUT ROWID%'"),
	                1);
	{
		char *rq, *peer;
		int64_t did;
		CU_ASSERT_EQUAL(
		    db_relay_find(dc, mem, "z9hG4bK-t1-r1", &rq, &peer, &did),
		    1);
		CU_ASSERT_EQUAL(did, 2);
	}
	/* schema 12: the 2xx kept until an ACK, and their trigger */
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name "
	                       "IN ('dialog_answers', "
	                       "'dialogs_answer_delete')"),
	                2);
	/* migrating again changes nothing */
	CU_ASSERT_EQUAL(db_migrate(db), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_requests"), 2);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM live_dialogs"), 1);
	/* and ends: off the live calls */
	CU_ASSERT_EQUAL_FATAL(db_dialog_find(dc, mem, "live-a", 0, &g, &leg),
	                      1);
	CU_ASSERT_EQUAL(db_dialog_end(dc, g, "caller hung up", 10), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM active_calls"), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM live_dialogs"), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_relays"), 0);
	CU_ASSERT_EQUAL(db_dialog_owned(dc, mem, "t1", &rows, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	talloc_free(mem);
	db_close(db);
}

static void
test_answers(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	sqlite3 *db = fresh("answers.db");
	static const char resp[] = "SIP/2.0 200 OK\r\nContent-Length: 5\r\n"
	                           "\r\nv=0\0x";
	struct db_dialog_ctx *dc;
	struct db_dialog d, e;
	size_t len = 0;
	char *got = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	dc = db_dialog_new(mem, db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
	sample(&d, "A1", "B1", "u0", 1000);
	sample(&e, "A2", "B2", "u0", 1000);
	CU_ASSERT_EQUAL_FATAL(db_dialog_insert(dc, &d), 0);
	CU_ASSERT_EQUAL_FATAL(db_dialog_insert(dc, &e), 0);
	CU_ASSERT_EQUAL(db_answer_get(dc, mem, d.id, &got, &len), 0);
	/* kept as given, a NUL in the body too */
	CU_ASSERT_EQUAL(db_answer_put(dc, d.id, resp, sizeof(resp) - 1), 0);
	CU_ASSERT_EQUAL_FATAL(db_answer_get(dc, mem, d.id, &got, &len), 1);
	CU_ASSERT_EQUAL(len, sizeof(resp) - 1);
	CU_ASSERT(memcmp(got, resp, sizeof(resp) - 1) == 0);
	CU_ASSERT_EQUAL(got[len], '\0');
	/* put again: replaced */
	CU_ASSERT_EQUAL(db_answer_put(dc, d.id, "SIP/2.0 200 OK\r\n", 17), 0);
	CU_ASSERT_EQUAL(db_answer_get(dc, mem, d.id, &got, &len), 1);
	CU_ASSERT_EQUAL(len, 17);
	CU_ASSERT_EQUAL(db_answer_get(dc, mem, e.id, &got, &len), 0);
	/* dropped (the ACK came) */
	CU_ASSERT_EQUAL(db_answer_drop(dc, d.id), 0);
	CU_ASSERT_EQUAL(db_answer_get(dc, mem, d.id, &got, &len), 0);
	CU_ASSERT_EQUAL(db_answer_drop(dc, d.id), 0);
	/* a call that ends unacknowledged takes its 2xx along */
	CU_ASSERT_EQUAL(db_answer_put(dc, d.id, resp, sizeof(resp) - 1), 0);
	d.stage = "answered";
	d.answered_at = 1001;
	CU_ASSERT_EQUAL(db_dialog_save(dc, &d, 1001), 0);
	CU_ASSERT_EQUAL(db_dialog_end(dc, &d, "no ACK from the caller", 1014),
	                0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_answers"), 0);
	/* and so does a dialogs row deleted by hand */
	CU_ASSERT_EQUAL(db_answer_put(dc, e.id, resp, sizeof(resp) - 1), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_answers"), 1);
	CU_ASSERT_EQUAL(
	    sqlite3_exec(db, "DELETE FROM dialogs", NULL, NULL, NULL),
	    SQLITE_OK);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_answers"), 0);
	talloc_free(mem);
	db_close(db);
}

/* db_relay_same_fn of test_pager_relays: keeps a copy of the request it
 * was shown, answers *arg. */
static char pager_seen[512];
static int
pager_same(const char *request, void *arg)
{
	snprintf(pager_seen, sizeof(pager_seen), "%s", request);
	return *(const int *)arg;
}

/* A pager MESSAGE relayed as a row of no call (dialog_id 0): a
 * retransmission is recognised by Call-ID and branch; the sweeper's
 * expiry touches only old pager rows. */
static void
test_pager_relays(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	int yes = 1, no = 0;
	sqlite3 *db = fresh("pager.db");
	struct db_dialog_ctx *dc;
	static const char msg[] =
	    "MESSAGE sip:bob@x SIP/2.0\r\nVia: SIP/2.0/UDP "
	    "127.0.0.1:5070;branch=z9hG4bK-s1;rport\r\nCall-ID: "
	    "m1@127.0.0.1\r\nCSeq: 1 MESSAGE\r\n\r\n";

	CU_ASSERT_PTR_NOT_NULL_FATAL(db);
	dc = db_dialog_new(mem, db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
	CU_ASSERT_EQUAL(db_relay_insert(dc, 0, "z9hG4bK-u0-p1", "MESSAGE", msg,
	                                "udp 127.0.0.1:5070", 100),
	                0);
	CU_ASSERT_EQUAL(db_relay_insert(dc, 7, "z9hG4bK-u0-r1", "PRACK",
	                                "PRACK", "udp 127.0.0.1:5070", 50),
	                0);
	pager_seen[0] = '\0';
	CU_ASSERT_EQUAL(db_relay_pager_has(dc, "m1@127.0.0.1", "z9hG4bK-s1",
	                                   pager_same, &yes),
	                1);
	CU_ASSERT_STRING_EQUAL(pager_seen, msg); /* what same() is shown */
	CU_ASSERT_EQUAL(db_relay_pager_has(dc, "m1@127.0.0.1", "z9hG4bK-s1",
	                                   pager_same, &no),
	                0); /* same() decides */
	pager_seen[0] = '\0';
	CU_ASSERT_EQUAL(db_relay_pager_has(dc, "m1@127.0.0.1", "z9hG4bK-s2",
	                                   pager_same, &yes),
	                0); /* no candidate: same() not asked */
	CU_ASSERT_STRING_EQUAL(pager_seen, "");
	/* not old enough; then old: only the pager row goes */
	CU_ASSERT_EQUAL(db_relay_pager_expire(dc, 100, 1), 0);
	CU_ASSERT_EQUAL(db_relay_pager_expire(dc, 101, 1), 1);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_relays"), 2);
	CU_ASSERT_EQUAL(db_relay_pager_expire(dc, 101, 0), 1);
	CU_ASSERT_EQUAL(db_relay_pager_expire(dc, 101, 0), 0);
	CU_ASSERT_EQUAL(q1(db, "SELECT count(*) FROM dialog_relays WHERE "
	                       "dialog_id = 7"),
	                1);
	CU_ASSERT_EQUAL(db_relay_pager_has(dc, "m1@127.0.0.1", "z9hG4bK-s1",
	                                   pager_same, &yes),
	                0);
	talloc_free(mem);
	db_close(db);
}

int
suite_dialog(void)
{
	CU_pSuite s = CU_add_suite("dialog", setup, teardown);

	if (s == NULL || !CU_add_test(s, "a row, whole", test_row) ||
	    !CU_add_test(s, "saves with and without new Call-IDs",
	                 test_save_ids) ||
	    !CU_add_test(s, "stored requests written when they change",
	                 test_requests) ||
	    !CU_add_test(s, "owned and stale", test_owned_stale) ||
	    !CU_add_test(s, "forks, and a connection's live call",
	                 test_forks) ||
	    !CU_add_test(s, "the best final response of forks",
	                 test_best_final) ||
	    !CU_add_test(s, "a file of version 5 upgraded", test_upgrade_v2) ||
	    !CU_add_test(s, "the 2xx kept until the ACK", test_answers) ||
	    !CU_add_test(s, "pager MESSAGE relays", test_pager_relays) ||
	    !CU_add_test(s, "a file of version 10 with a live call upgraded",
	                 test_upgrade_v10))
		return -1;
	return 0;
}
