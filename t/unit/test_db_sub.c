/*
 * t/unit/test_db_sub.c: the reg-event subscriptions data layer
 * (schema/db_sub.c) on a real SQLite file: insert (and the same dialog
 * twice), load by dialog, refresh, terminate, delete; the watchers of an
 * AOR through the implicit registration set (subscribers.impu and
 * extra_impu); the identities of a set; version and CSeq taken and
 * committed so that a new connection (a replacement worker) continues
 * without repeating one; pending and answers; the expiry sweep; the
 * network-initiated de-registration (db_reg_deregister) and its CHECK; the
 * upgrade of a version 1 file to version 2 with its rows kept.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "util/log.h"
#include "schema/db.h"
#include "t/unit/tdb.h"
#include "schema/db_reg.h"
#include "schema/db_sub.h"

static struct tdb fix; /* the suite's scratch folder and config */

static int
setup(void)
{
	return tdb_setup(&fix, "dbsub");
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

static void
exec(sqlite3 *db, const char *sql)
{
	CU_ASSERT_FATAL(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
}

static long
q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A subscription row for tests. */
static struct db_sub_row
sub(const char *aor, const char *call_id, int64_t expires_at)
{
	struct db_sub_row s = {
	    .aor = aor,
	    .watcher = aor,
	    .call_id = call_id,
	    .from_tag = "ft",
	    .to_tag = "tt",
	    .contact = "sip:ue@192.0.2.1:5060",
	    .received = "192.0.2.1:5060",
	    .transport = "udp",
	    .expires_at = expires_at,
	};
	return s;
}

static void
test_insert_load(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	sqlite3 *db = fresh("a.db");
	struct db_sub *ds;
	struct db_sub_row s, *r;

	CU_ASSERT_FATAL(db != NULL);
	ds = db_sub_new(t, db);
	s = sub("sip:alice@d", "call1", 2000);
	s.route = "<sip:p1;lr>,<sip:p2;lr>";
	s.event_id = "7";
	s.conn_slot = "t3";
	s.conn_id = 42;
	CU_ASSERT(db_sub_insert(ds, &s, 1000) == 0);
	CU_ASSERT(s.id > 0 && s.version == -1 && s.cseq == 0 && s.pending);
	/* the same dialog again: nothing written */
	struct db_sub_row s2 = sub("sip:alice@d", "call1", 3000);
	CU_ASSERT(db_sub_insert(ds, &s2, 1000) == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM reg_subscriptions") == 1);

	CU_ASSERT(db_sub_load_dialog(ds, t, "call1", "ft", "tt", &r) == 0);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT(r->id == s.id);
	CU_ASSERT_STRING_EQUAL(r->aor, "sip:alice@d");
	CU_ASSERT_STRING_EQUAL(r->watcher, "sip:alice@d");
	CU_ASSERT_STRING_EQUAL(r->contact, "sip:ue@192.0.2.1:5060");
	CU_ASSERT_STRING_EQUAL(r->route, "<sip:p1;lr>,<sip:p2;lr>");
	CU_ASSERT_STRING_EQUAL(r->received, "192.0.2.1:5060");
	CU_ASSERT_STRING_EQUAL(r->transport, "udp");
	CU_ASSERT_STRING_EQUAL(r->conn_slot, "t3");
	CU_ASSERT_STRING_EQUAL(r->event_id, "7");
	CU_ASSERT(r->conn_id == 42 && r->expires_at == 2000);
	/* pending 2: the first NOTIFY is owed, not taken yet */
	CU_ASSERT(r->version == -1 && r->cseq == 0 && r->pending == 2);
	CU_ASSERT(!r->terminated && r->reason == NULL && r->last_status == 0);
	CU_ASSERT(r->created_at == 1000 && r->updated_at == 1000);
	/* other tags: none */
	CU_ASSERT(db_sub_load_dialog(ds, t, "call1", "ft", "xx", &r) == 0 &&
	          r == NULL);
	CU_ASSERT(db_sub_load_dialog(ds, t, "call1", "xx", "tt", &r) == 0 &&
	          r == NULL);

	/* refresh: new expiry and target, pending */
	exec(db, "UPDATE reg_subscriptions SET pending = 0");
	CU_ASSERT(db_sub_refresh(ds, s.id, 5000, "sip:ue@192.0.2.9", 1100) ==
	          0);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r != NULL);
	CU_ASSERT(r->expires_at == 5000 && r->pending == 2);
	CU_ASSERT_STRING_EQUAL(r->contact, "sip:ue@192.0.2.9");
	CU_ASSERT(db_sub_refresh(ds, s.id, 6000, NULL, 1200) == 0);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r != NULL);
	CU_ASSERT_STRING_EQUAL(r->contact, "sip:ue@192.0.2.9");
	CU_ASSERT(db_sub_refresh(ds, 999, 6000, NULL, 1200) == 1);

	/* terminate: no refresh after it */
	CU_ASSERT(db_sub_terminate(ds, s.id, "noresource", 1300) == 0);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r != NULL);
	CU_ASSERT(r->terminated && r->pending == 2);
	CU_ASSERT_STRING_EQUAL(r->reason, "noresource");
	CU_ASSERT(db_sub_refresh(ds, s.id, 9000, NULL, 1400) == 1);
	CU_ASSERT(db_sub_terminate(ds, 999, "timeout", 1300) == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM active_reg_subscriptions") == 0);

	CU_ASSERT(db_sub_delete(ds, s.id) == 0);
	CU_ASSERT(db_sub_delete(ds, s.id) == 0);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r == NULL);
	talloc_free(ds);
	db_close(db);
	talloc_free(t);
}

/* Version and CSeq: one more per take, committed, and a second connection
 * (a replacement worker after kill -9) goes on from there. */
static void
test_take(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	sqlite3 *db = fresh("take.db"), *db2;
	struct db_sub *ds, *ds2;
	struct db_sub_row s = sub("sip:bob@d", "c", 9999), *r;
	int64_t v, c;

	CU_ASSERT_FATAL(db != NULL);
	ds = db_sub_new(t, db);
	CU_ASSERT_FATAL(db_sub_insert(ds, &s, 100) == 0);
	CU_ASSERT(db_sub_take(ds, s.id, 101, &v, &c) == 0);
	CU_ASSERT(v == 0 && c == 1);
	CU_ASSERT(db_sub_take(ds, s.id, 102, &v, &c) == 0);
	CU_ASSERT(v == 1 && c == 2);
	CU_ASSERT(db_sub_take(ds, 12345, 102, &v, &c) == 1);
	/* inside a transaction that is rolled back: nothing taken */
	CU_ASSERT(db_begin(db) == 0);
	CU_ASSERT(db_sub_take(ds, s.id, 103, &v, &c) == 0 && v == 2);
	CU_ASSERT(db_rollback(db) == 0);
	/* "another process": its own connection sees what was committed */
	db2 = db_open(&fix.conf);
	CU_ASSERT_FATAL(db2 != NULL);
	ds2 = db_sub_new(t, db2);
	CU_ASSERT(db_sub_take(ds2, s.id, 104, &v, &c) == 0);
	CU_ASSERT(v == 2 && c == 3);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r != NULL);
	CU_ASSERT(r->version == 2 && r->cseq == 3 && r->sent_at == 104 &&
	          r->pending == 1);

	/* answers: an older CSeq changes nothing; the latest clears pending
	 * unless more is owed */
	CU_ASSERT(db_sub_answered(ds, s.id, 2, 200, 0, 105) == 1);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r->pending == 1 &&
	          r->last_status == 0);
	CU_ASSERT(db_sub_answered(ds, s.id, 3, 500, 1, 105) == 0);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r->pending == 2 &&
	          r->last_status == 500);
	/* pending 2 (owed) stays until a take, whatever the answer says */
	CU_ASSERT(db_sub_answered(ds, s.id, 3, 200, 0, 106) == 0);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r->pending == 2 &&
	          r->last_status == 200);
	CU_ASSERT(db_sub_take(ds, s.id, 107, &v, &c) == 0 && c == 4);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r->pending == 1 &&
	          r->last_status == 0);
	CU_ASSERT(db_sub_answered(ds, s.id, 4, 200, 0, 108) == 0);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r->pending == 0 &&
	          r->last_status == 200);
	talloc_free(ds2);
	db_close(db2);
	talloc_free(ds);
	db_close(db);
	talloc_free(t);
}

/* The notifier's insert takes the first NOTIFY with the row: version 0,
 * CSeq 1, in flight (pending 1, no answer yet), as a take would; a
 * replacement sees it as the NOTIFY to send again; the next take goes
 * on from it; the same dialog again writes nothing. */
static void
test_insert_take(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	sqlite3 *db = fresh("itake.db");
	struct db_sub *ds;
	struct db_sub_row s = sub("sip:carl@d", "ci", 9999), s2, *r, *rows;
	int64_t v, c;
	int n;

	CU_ASSERT_FATAL(db != NULL);
	ds = db_sub_new(t, db);
	CU_ASSERT_FATAL(db_sub_insert_take(ds, &s, 200) == 0);
	CU_ASSERT(s.id > 0 && s.version == 0 && s.cseq == 1 && s.pending == 1 &&
	          s.sent_at == 200);
	CU_ASSERT(db_sub_load(ds, t, s.id, &r) == 0 && r != NULL);
	CU_ASSERT(r->version == 0 && r->cseq == 1 && r->pending == 1 &&
	          r->last_status == 0 && r->sent_at == 200 &&
	          r->created_at == 200 && !r->terminated);
	/* not owed (nothing for regn_run), but in flight for a restart */
	CU_ASSERT(db_sub_owed(ds, t, &rows, &n) == 0 && n == 0);
	CU_ASSERT(db_sub_pending(ds, t, &rows, &n) == 0 && n == 1 &&
	          rows[0].id == s.id && rows[0].cseq == 1);
	s2 = sub("sip:carl@d", "ci", 9999);
	CU_ASSERT(db_sub_insert_take(ds, &s2, 201) == 1);
	CU_ASSERT(db_sub_insert(ds, &s2, 201) == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM reg_subscriptions") == 1);
	CU_ASSERT(db_sub_answered(ds, s.id, 1, 200, 0, 202) == 0);
	CU_ASSERT(db_sub_take(ds, s.id, 203, &v, &c) == 0 && v == 1 && c == 2);
	talloc_free(ds);
	db_close(db);
	talloc_free(t);
}

/* Pending rows for a worker that starts over; mark_pending. */
static void
test_pending(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	sqlite3 *db = fresh("pend.db");
	struct db_sub *ds;
	struct db_sub_row a = sub("sip:a@d", "ca", 9999),
	                  b = sub("sip:b@d", "cb", 9999), *r;
	int64_t v, c, ids[3];
	int n;

	CU_ASSERT_FATAL(db != NULL);
	ds = db_sub_new(t, db);
	CU_ASSERT_FATAL(db_sub_insert(ds, &a, 1) == 0);
	CU_ASSERT_FATAL(db_sub_insert(ds, &b, 1) == 0);
	CU_ASSERT(db_sub_pending(ds, t, &r, &n) == 0 && n == 2);
	CU_ASSERT(db_sub_take(ds, a.id, 2, &v, &c) == 0);
	CU_ASSERT(db_sub_answered(ds, a.id, c, 200, 0, 2) == 0);
	CU_ASSERT(db_sub_take(ds, b.id, 2, &v, &c) == 0);
	CU_ASSERT(db_sub_answered(ds, b.id, c, 200, 0, 2) == 0);
	CU_ASSERT(db_sub_pending(ds, t, &r, &n) == 0 && n == 0);
	ids[0] = b.id;
	ids[1] = 777;
	CU_ASSERT(db_sub_mark_pending(ds, ids, 2, 3) == 1);
	CU_ASSERT(db_sub_pending(ds, t, &r, &n) == 0);
	CU_ASSERT_FATAL(n == 1);
	CU_ASSERT(r[0].id == b.id);
	CU_ASSERT_STRING_EQUAL(r[0].aor, "sip:b@d");
	CU_ASSERT(db_sub_mark_pending(ds, ids, 0, 3) == 0);
	CU_ASSERT(db_sub_owed(ds, t, &r, &n) == 0 && n == 1 && r[0].id == b.id);

	/* contact events owed: kept with a copy of the binding, oldest
	 * first, forgotten up to an id, and with their subscription */
	struct db_binding bb = {.id = 41,
	                        .aor = "sip:b@d",
	                        .contact = "sip:b@1.2.3.4",
	                        .params = "+sip.instance=\"<urn:x>\"",
	                        .q = 0.5,
	                        .has_q = 1,
	                        .call_id = "cid",
	                        .cseq = 7,
	                        .expires_at = 600,
	                        .registered_at = 5};
	struct db_sub_event *ev;
	CU_ASSERT(db_sub_event_add(ds, b.id, &bb, "created", 3) == 0);
	bb.has_q = 0;
	CU_ASSERT(db_sub_event_add(ds, b.id, &bb, "expired", 4) == 0);
	CU_ASSERT(db_sub_events(ds, t, b.id, &ev, &n) == 0);
	CU_ASSERT_FATAL(n == 2);
	CU_ASSERT_STRING_EQUAL(ev[0].event, "created");
	CU_ASSERT_STRING_EQUAL(ev[1].event, "expired");
	CU_ASSERT(ev[0].b.id == 41 && ev[0].b.has_q && ev[0].b.q == 0.5 &&
	          ev[0].b.cseq == 7 && ev[0].b.expires_at == 600 &&
	          ev[0].b.registered_at == 5 && !ev[1].b.has_q);
	CU_ASSERT_STRING_EQUAL(ev[0].b.params, "+sip.instance=\"<urn:x>\"");
	CU_ASSERT_STRING_EQUAL(ev[0].b.call_id, "cid");
	CU_ASSERT(db_sub_events_done(ds, b.id, ev[0].id) == 0);
	CU_ASSERT(db_sub_events(ds, t, b.id, &ev, &n) == 0 && n == 1);
	CU_ASSERT(db_sub_events(ds, t, a.id, &ev, &n) == 0 && n == 0);
	CU_ASSERT(db_sub_delete(ds, b.id) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM reg_sub_events") == 0);
	talloc_free(ds);
	db_close(db);
	talloc_free(t);
}

/* The watchers of an AOR, the implicit registration set included. */
static void
test_watching(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	sqlite3 *db = fresh("w.db");
	struct db_sub *ds;
	struct db_sub_row s[5], *r;
	char **ids;
	int n;

	CU_ASSERT_FATAL(db != NULL);
	ds = db_sub_new(t, db);
	exec(db, "INSERT INTO subscribers (impi, impu, extra_impu) VALUES "
	         "('u1@d', 'sip:u1@d', ' <tel:+111>, sip:u1b@d ,,'), "
	         "('u2@d', 'sip:u2@d', NULL), "
	         "('u3@d', 'sip:u3@d', 'sip:u1b@dx')");
	s[0] = sub("sip:u1@d", "c0", 9999);     /* impu of u1 */
	s[1] = sub("tel:+111", "c1", 9999);     /* extra of u1 */
	s[2] = sub("sip:u1b@d", "c2", 9999);    /* extra of u1 */
	s[3] = sub("sip:u2@d", "c3", 9999);     /* another subscriber */
	s[4] = sub("sip:nobody@d", "c4", 9999); /* not provisioned */
	for (int i = 0; i < 5; i++)
		CU_ASSERT_FATAL(db_sub_insert(ds, &s[i], 1) == 0);

	/* any identity of u1's set: the three watchers of the set */
	const char *set[] = {"sip:u1@d", "tel:+111", "sip:u1b@d"};
	for (int k = 0; k < 3; k++) {
		CU_ASSERT(db_sub_watching(ds, t, set[k], &r, &n) == 0);
		CU_ASSERT_FATAL(n == 3);
		CU_ASSERT(r[0].id == s[0].id && r[1].id == s[1].id &&
		          r[2].id == s[2].id);
	}
	CU_ASSERT(db_sub_watching(ds, t, "sip:u2@d", &r, &n) == 0 && n == 1 &&
	          r[0].id == s[3].id);
	CU_ASSERT(db_sub_watching(ds, t, "sip:nobody@d", &r, &n) == 0 &&
	          n == 1 && r[0].id == s[4].id);
	/* a prefix of an entry is not the entry */
	CU_ASSERT(db_sub_watching(ds, t, "sip:u1b@dx", &r, &n) == 0 && n == 0);
	CU_ASSERT(db_sub_watching(ds, t, "sip:u1", &r, &n) == 0 && n == 0);
	CU_ASSERT(db_sub_watching(ds, t, "tel:+11", &r, &n) == 0 && n == 0);
	/* terminated subscriptions are still listed (their final NOTIFY) */
	CU_ASSERT(db_sub_terminate(ds, s[3].id, "timeout", 2) == 0);
	CU_ASSERT(db_sub_watching(ds, t, "sip:u2@d", &r, &n) == 0 && n == 1 &&
	          r[0].terminated);

	/* the identities of a set: impu first, extra cleaned */
	CU_ASSERT(db_sub_identities(ds, t, "tel:+111", &ids, &n) == 0);
	CU_ASSERT_FATAL(n == 3);
	CU_ASSERT_STRING_EQUAL(ids[0], "sip:u1@d");
	CU_ASSERT_STRING_EQUAL(ids[1], "tel:+111");
	CU_ASSERT_STRING_EQUAL(ids[2], "sip:u1b@d");
	CU_ASSERT(db_sub_identities(ds, t, "sip:u2@d", &ids, &n) == 0 &&
	          n == 1);
	CU_ASSERT_STRING_EQUAL(ids[0], "sip:u2@d");
	CU_ASSERT(db_sub_identities(ds, t, "sip:nobody@d", &ids, &n) == 0 &&
	          n == 1);
	CU_ASSERT_STRING_EQUAL(ids[0], "sip:nobody@d");
	/* u3 lists sip:u1b@dx: its own set */
	CU_ASSERT(db_sub_identities(ds, t, "sip:u1b@dx", &ids, &n) == 0 &&
	          n == 2);
	CU_ASSERT_STRING_EQUAL(ids[0], "sip:u3@d");
	talloc_free(ds);
	db_close(db);
	talloc_free(t);
}

/* The expiry sweep: expired active rows end with "timeout" and come back
 * for their final NOTIFY; terminated rows go when answered or too old. */
static void
test_sweep(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	sqlite3 *db = fresh("sweep.db");
	struct db_sub *ds;
	struct db_sub_row a = sub("sip:a@d", "ca", 1000),
	                  b = sub("sip:b@d", "cb", 2000), *r;
	int64_t v, c;
	int n;

	CU_ASSERT_FATAL(db != NULL);
	ds = db_sub_new(t, db);
	CU_ASSERT_FATAL(db_sub_insert(ds, &a, 500) == 0);
	CU_ASSERT_FATAL(db_sub_insert(ds, &b, 500) == 0);
	CU_ASSERT(db_sub_sweep(ds, t, 999, &r, &n) == 0 && n == 0);
	CU_ASSERT(db_sub_sweep(ds, t, 1000, &r, &n) == 0);
	CU_ASSERT_FATAL(n == 1);
	CU_ASSERT(r[0].id == a.id && r[0].terminated && r[0].pending == 2);
	CU_ASSERT_STRING_EQUAL(r[0].reason, "timeout");
	/* only once */
	CU_ASSERT(db_sub_sweep(ds, t, 1001, &r, &n) == 0 && n == 0);
	/* its final NOTIFY, answered: then the row goes */
	CU_ASSERT(db_sub_take(ds, a.id, 1001, &v, &c) == 0);
	CU_ASSERT(db_sub_sweep(ds, t, 1002, &r, &n) == 0 && n == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM reg_subscriptions") == 2);
	CU_ASSERT(db_sub_answered(ds, a.id, c, 200, 0, 1003) == 0);
	CU_ASSERT(db_sub_sweep(ds, t, 1003, &r, &n) == 1 && n == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM reg_subscriptions") == 1);
	/* b ends; its final NOTIFY never answered: gone after the grace */
	CU_ASSERT(db_sub_sweep(ds, t, 2000, &r, &n) == 0 && n == 1);
	CU_ASSERT(db_sub_take(ds, b.id, 2000, &v, &c) == 0);
	CU_ASSERT(db_sub_sweep(ds, t, 2000 + DB_SUB_FINAL_GRACE - 1, &r, &n) ==
	          0);
	CU_ASSERT(db_sub_sweep(ds, t, 2000 + DB_SUB_FINAL_GRACE, &r, &n) == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM reg_subscriptions") == 0);
	talloc_free(ds);
	db_close(db);
	talloc_free(t);
}

struct dereg_seen {
	int n;
	char aor[8][64], event[8][16];
};

static void
dereg_cb(void *arg, const struct db_binding *b, const char *event)
{
	struct dereg_seen *s = arg;

	if (s->n < 8) {
		snprintf(s->aor[s->n], sizeof(s->aor[0]), "%s", b->aor);
		snprintf(s->event[s->n], sizeof(s->event[0]), "%s", event);
	}
	s->n++;
}

/* A tester's one statement de-registers a phone; the sweeper's call sees
 * each binding with its event. */
static void
test_deregister(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	sqlite3 *db = fresh("dereg.db");
	struct db_reg *dr;
	struct dereg_seen seen = {0};

	CU_ASSERT_FATAL(db != NULL);
	dr = db_reg_new(t, db);
	exec(db, "INSERT INTO registrations (aor, contact, expires_at, "
	         "call_id, cseq, transport, registered_at, updated_at) VALUES "
	         "('sip:a@d', 'sip:a@1.2.3.4', 9999, 'x', 1, 'udp', 1, 1), "
	         "('sip:a@d', 'sip:a@1.2.3.5', 9999, 'y', 1, 'udp', 1, 1), "
	         "('sip:b@d', 'sip:b@1.2.3.6', 9999, 'z', 1, 'tcp', 1, 1)");
	CU_ASSERT(db_reg_deregister(dr, dereg_cb, &seen) == 0 && seen.n == 0);
	/* the documented statement; a typo is refused by the CHECK */
	CU_ASSERT(sqlite3_exec(db,
	                       "UPDATE registrations SET deregister = "
	                       "'deactivate' WHERE aor = 'sip:a@d'",
	                       NULL, NULL, NULL) == SQLITE_CONSTRAINT);
	exec(db, "UPDATE registrations SET deregister = 'deactivated' WHERE "
	         "aor = 'sip:a@d'");
	exec(db, "UPDATE registrations SET deregister = 'rejected' WHERE "
	         "aor = 'sip:b@d'");
	CU_ASSERT(db_reg_deregister(dr, dereg_cb, &seen) == 3);
	CU_ASSERT_FATAL(seen.n == 3);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_STRING_EQUAL(seen.event[i],
		                       strcmp(seen.aor[i], "sip:b@d") == 0
		                           ? "rejected"
		                           : "deactivated");
	CU_ASSERT(q1(db, "SELECT count(*) FROM registrations") == 0);
	CU_ASSERT(db_reg_deregister(dr, NULL, NULL) == 0);
	talloc_free(dr);
	db_close(db);
	talloc_free(t);
}

/* A version 1 file (before the reg event): the new columns are added in
 * place, rows kept, and the data layer works on it. */
static void
test_upgrade_v1(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct db_sub *ds;
	struct db_sub_row *r;
	sqlite3 *db;
	int64_t v, c;

	snprintf(fix.conf.database, sizeof(fix.conf.database), "%s/v1.db",
	         fix.dir);
	unlink(fix.conf.database);
	db = db_open(&fix.conf);
	CU_ASSERT_FATAL(db != NULL);
	exec(db,
	     "CREATE TABLE registrations (id INTEGER PRIMARY KEY, aor TEXT NOT "
	     "NULL, contact TEXT NOT NULL, params TEXT NOT NULL DEFAULT '', "
	     "expires_at INTEGER NOT NULL, q REAL, call_id TEXT NOT NULL, cseq "
	     "INTEGER NOT NULL, branch TEXT, path TEXT, received TEXT, "
	     "transport TEXT NOT NULL, conn_slot TEXT, conn_id INTEGER, "
	     "instance TEXT, reg_id INTEGER, user_agent TEXT, registered_at "
	     "INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (aor, "
	     "contact));"
	     "CREATE TABLE reg_subscriptions (id INTEGER PRIMARY KEY, aor TEXT "
	     "NOT NULL, call_id TEXT NOT NULL, from_tag TEXT NOT NULL, to_tag "
	     "TEXT NOT NULL, contact TEXT NOT NULL, route TEXT, received TEXT, "
	     "transport TEXT, cseq INTEGER NOT NULL DEFAULT 0, expires_at "
	     "INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 0, UNIQUE "
	     "(call_id, from_tag, to_tag));"
	     "INSERT INTO registrations (aor, contact, expires_at, call_id, "
	     "cseq, transport, registered_at, updated_at) VALUES ('sip:o@d', "
	     "'sip:o@1.1.1.1', 9999, 'k', 3, 'udp', 1, 1);"
	     "INSERT INTO reg_subscriptions (aor, call_id, from_tag, to_tag, "
	     "contact, cseq, expires_at, version) VALUES ('sip:o@d', 'sc', "
	     "'f', 't', 'sip:o@1.1.1.1', 4, 9999, 3);"
	     "PRAGMA user_version = 1;");
	CU_ASSERT_FATAL(db_migrate(db) == 0);
	CU_ASSERT(q1(db, "PRAGMA user_version") == DB_SCHEMA_VERSION);
	CU_ASSERT(q1(db, "SELECT count(*) FROM registrations WHERE "
	                 "deregister IS NULL AND cseq = 3") == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
	                 "('registrations_deregister', "
	                 "'reg_subscriptions_pending', "
	                 "'active_reg_subscriptions')") == 3);
	ds = db_sub_new(t, db);
	CU_ASSERT(db_sub_load_dialog(ds, t, "sc", "f", "t", &r) == 0);
	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT(r->version == 3 && r->cseq == 4 && !r->terminated &&
	          r->pending == 0);
	CU_ASSERT(db_sub_take(ds, r->id, 10, &v, &c) == 0 && v == 4 && c == 5);
	/* and again: nothing changes */
	long before = q1(db, "SELECT count(*) FROM pragma_table_info("
	                     "'reg_subscriptions')");
	CU_ASSERT(db_migrate(db) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM pragma_table_info("
	                 "'reg_subscriptions')") == before);
	talloc_free(ds);
	db_close(db);
	talloc_free(t);
}

int
suite_db_sub(void)
{
	CU_pSuite s = CU_add_suite("db_sub", setup, teardown);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "insert, load, refresh, terminate",
	                 test_insert_load) ||
	    !CU_add_test(s, "version and CSeq taken", test_take) ||
	    !CU_add_test(s, "first NOTIFY taken with the row",
	                 test_insert_take) ||
	    !CU_add_test(s, "pending rows", test_pending) ||
	    !CU_add_test(s, "watchers of an implicit set", test_watching) ||
	    !CU_add_test(s, "expiry sweep", test_sweep) ||
	    !CU_add_test(s, "network-initiated de-registration",
	                 test_deregister) ||
	    !CU_add_test(s, "upgrade from version 1", test_upgrade_v1))
		return -1;
	return 0;
}
