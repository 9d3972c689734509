/*
 * schema/db_txn.c: the transaction object (see db_txn.h). Savepoints are
 * named by depth (u0, u1, ...) so that a release or rollback names exactly
 * the unit it ends; their statements are prepared once per connection.
 * Callbacks wait in an array in registration order; a unit remembers how
 * many were registered when it began, so its rollback runs (with 0) only
 * its own.
 */
#include <stdio.h>
#include <string.h>

#include "schema/db.h"
#include "schema/db_txn.h"
#include "util/log.h"

#define DB_TXN_DEPTH 4 /* nested units; afd uses two at most */

struct db_txn_cb {
	db_txn_fn *fn;
	void *arg;
};

struct db_txn {
	sqlite3 *db;
	int in_batch; /* BEGIN done by db_txn_begin */
	int depth;    /* open savepoints */
	int lost;
	int sp_ncb[DB_TXN_DEPTH]; /* callbacks registered before unit i */
	sqlite3_stmt *sp[DB_TXN_DEPTH], *rel[DB_TXN_DEPTH], *rb[DB_TXN_DEPTH];
	TALLOC_CTX *mem; /* the callbacks' arguments */
	struct db_txn_cb *cb;
	int ncb, capcb;
};

struct db_txn *
db_txn_new(TALLOC_CTX *ctx, sqlite3 *db)
{
	struct db_txn *t;

	if ((t = talloc_zero(ctx, struct db_txn)) == NULL) {
		log_warnx("db: out of memory");
		return NULL;
	}
	t->db = db;
	return t;
}

sqlite3 *
db_txn_db(const struct db_txn *t)
{
	return t->db;
}

TALLOC_CTX *
db_txn_mem(struct db_txn *t)
{
	if (t->mem == NULL)
		t->mem = talloc_new(t);
	return t->mem;
}

int
db_txn_open(const struct db_txn *t)
{
	return !sqlite3_get_autocommit(t->db);
}

int
db_txn_lost(const struct db_txn *t)
{
	return t->lost;
}

/* Run callbacks from index `from` on with committed, and forget them.
 * Detached first: a callback may register new ones. */
static void
db_txn_run(struct db_txn *t, int from, int committed)
{
	int n = t->ncb;
	struct db_txn_cb *cb;
	TALLOC_CTX *mem = NULL;

	if (from >= n)
		return;
	cb =
	    talloc_memdup(NULL, t->cb + from, sizeof(*cb) * (size_t)(n - from));
	t->ncb = from;
	if (from == 0) {
		mem = t->mem;
		t->mem = NULL;
	}
	if (cb == NULL) {
		log_warnx("db: out of memory running %d callbacks", n - from);
		talloc_free(mem);
		return;
	}
	for (int i = 0; i < n - from; i++) {
		cb[i].fn(cb[i].arg, committed);
		talloc_free(cb[i].arg);
	}
	talloc_free(cb);
	talloc_free(mem);
}

int
db_txn_after_commit(struct db_txn *t, db_txn_fn *fn, void *arg)
{
	if (sqlite3_get_autocommit(t->db)) {
		fn(arg, 1);
		talloc_free(arg);
		return 0;
	}
	if (t->ncb == t->capcb) {
		int cap = t->capcb ? t->capcb * 2 : 16;
		struct db_txn_cb *c =
		    talloc_realloc(t, t->cb, struct db_txn_cb, cap);
		if (c == NULL) {
			log_warnx("db: out of memory");
			talloc_free(arg);
			return -1;
		}
		t->cb = c;
		t->capcb = cap;
	}
	if (arg != NULL)
		talloc_steal(db_txn_mem(t), arg);
	t->cb[t->ncb].fn = fn;
	t->cb[t->ncb].arg = arg;
	t->ncb++;
	return 0;
}

/* Step a prepared transaction-control statement: 0 or -1 (logged). */
static int
db_txn_step(struct db_txn *t, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		char w[64];

		snprintf(w, sizeof(w), "db: %s", what);
		db_fail(t->db, rc, w); /* a taken lock: once per episode */
		return -1;
	}
	return 0;
}

static sqlite3_stmt *
db_txn_stmt(struct db_txn *t, sqlite3_stmt **slot, const char *fmt, int d)
{
	char sql[64];

	if (*slot != NULL)
		return db_stmt(t->db, slot, NULL);
	snprintf(sql, sizeof(sql), fmt, d, d);
	return db_stmt(t->db, slot, sql);
}

/* SQLite ended the transaction by itself (an I/O error, a full disk):
 * nothing of it is left, every callback hears so. */
static void
db_txn_gone(struct db_txn *t)
{
	t->depth = 0;
	if (t->in_batch)
		t->lost = 1;
	t->in_batch = 0;
	db_txn_run(t, 0, 0);
}

int
db_txn_begin(struct db_txn *t)
{
	if (!sqlite3_get_autocommit(t->db))
		return 0;
	t->lost = 0;
	if (db_begin(t->db) == -1)
		return -1;
	t->in_batch = 1;
	return 0;
}

int
db_txn_savepoint(struct db_txn *t)
{
	int d = t->depth;

	if (d == DB_TXN_DEPTH) {
		log_warnx("BUG: db: savepoints nested deeper than %d", d);
		return -1;
	}
	if (sqlite3_get_autocommit(t->db) && (t->depth != 0 || t->in_batch))
		db_txn_gone(t), d = 0;
	if (db_txn_step(t, db_txn_stmt(t, &t->sp[d], "SAVEPOINT u%d", d),
	                "savepoint") == -1)
		return -1;
	t->sp_ncb[d] = t->ncb;
	t->depth = d + 1;
	return d;
}

int
db_txn_release(struct db_txn *t, int mark)
{
	if (mark < 0 || mark >= t->depth) {
		log_warnx("BUG: db: release of unit %d at depth %d", mark,
		          t->depth);
		return -1;
	}
	if (db_txn_step(t, db_txn_stmt(t, &t->rel[mark], "RELEASE u%d", mark),
	                "release") == -1)
		return -1;
	t->depth = mark;
	/* In autocommit the outermost RELEASE was the COMMIT. */
	if (sqlite3_get_autocommit(t->db)) {
		db_ok(t->db); /* a write went through: a lock episode ends */
		db_txn_run(t, 0, 1);
	}
	return 0;
}

void
db_txn_rollback(struct db_txn *t, int mark)
{
	if (mark < 0 || mark >= t->depth || sqlite3_get_autocommit(t->db)) {
		db_txn_gone(t);
		return;
	}
	if (db_txn_step(t,
	                db_txn_stmt(t, &t->rb[mark], "ROLLBACK TO u%d", mark),
	                "rollback") == -1 ||
	    db_txn_step(t, db_txn_stmt(t, &t->rel[mark], "RELEASE u%d", mark),
	                "release") == -1) {
		/* Cannot undo the unit alone: undo everything. */
		db_rollback(t->db);
		db_txn_gone(t);
		return;
	}
	t->depth = mark;
	db_txn_run(t, t->sp_ncb[mark], 0);
	if (sqlite3_get_autocommit(t->db))
		db_txn_gone(t);
}

int
db_txn_commit(struct db_txn *t)
{
	if (sqlite3_get_autocommit(t->db)) {
		int lost = t->in_batch;
		db_txn_gone(t);
		return lost ? -1 : 0;
	}
	t->depth = 0;
	t->in_batch = 0;
	if (db_commit(t->db) == -1) {
		log_warnx("db: commit failed: rolled back");
		db_rollback(t->db);
		t->lost = 1;
		db_txn_run(t, 0, 0);
		return -1;
	}
	db_txn_run(t, 0, 1);
	return 0;
}

void
db_txn_abort(struct db_txn *t)
{
	if (!sqlite3_get_autocommit(t->db))
		db_rollback(t->db);
	t->depth = 0;
	t->in_batch = 0;
	db_txn_run(t, 0, 0);
}
