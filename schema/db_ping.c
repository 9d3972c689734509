/*
 * schema/db_ping.c: the ping columns of `registrations` (see db_ping.h).
 */
#include <stdio.h>
#include <string.h>

#include "schema/db.h"
#include "schema/db_ping.h"
#include "util/log.h"

#define DB_PING_COLS                                                           \
	"id, aor, contact, path, received, transport, conn_slot, conn_id, "    \
	"ping_branch, ping_sent_at, ping_failures"

struct db_ping {
	sqlite3 *db;
	sqlite3_stmt *due, *inflight, *sent, *answered, *failed;
};

struct db_ping *
db_ping_new(TALLOC_CTX *ctx, sqlite3 *db)
{
	struct db_ping *dp;

	if ((dp = talloc_zero(ctx, struct db_ping)) == NULL) {
		log_warnx("db_ping: out of memory");
		return NULL;
	}
	dp->db = db;
	return dp;
}

/* A failed statement: logged (a taken lock once per episode, db_fail). */
static void
db_ping_err(struct db_ping *dp, int rc, const char *what)
{
	char w[64];

	snprintf(w, sizeof(w), "db_ping: %s", what);
	db_fail(dp->db, rc, w);
}

/* Step st and collect its rows (DB_PING_COLS) into *out. 0 or -1. */
static int
db_ping_rows(struct db_ping *dp, TALLOC_CTX *ctx, sqlite3_stmt *st,
             struct db_ping_row **out, int *n, const char *what)
{
	struct db_ping_row *rows = NULL;
	int rc, cap = 0, k = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_ping_row *r;
		if (k == cap) {
			cap = cap ? cap * 2 : 8;
			rows =
			    talloc_realloc(ctx, rows, struct db_ping_row, cap);
			if (rows == NULL) {
				sqlite3_reset(st);
				return -1;
			}
		}
		r = &rows[k++];
		r->id = sqlite3_column_int64(st, 0);
		r->aor = db_col_str(rows, st, 1);
		r->contact = db_col_str(rows, st, 2);
		r->path = db_col_str(rows, st, 3);
		r->received = db_col_str(rows, st, 4);
		r->transport = db_col_str(rows, st, 5);
		r->conn_slot = db_col_str(rows, st, 6);
		r->conn_id = sqlite3_column_int64(st, 7);
		r->branch = db_col_str(rows, st, 8);
		r->sent_at = sqlite3_column_int64(st, 9);
		r->failures = sqlite3_column_int(st, 10);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_ping_err(dp, rc, what);
		talloc_free(rows);
		return -1;
	}
	*out = rows;
	*n = k;
	return 0;
}

int
db_ping_due(struct db_ping *dp, TALLOC_CTX *ctx, time_t now, int interval,
            int limit, struct db_ping_row **out, int *n)
{
	sqlite3_stmt *st;

	st = db_stmt(dp->db, &dp->due,
	             "SELECT " DB_PING_COLS " FROM registrations "
	             "WHERE expires_at > ?1 AND ping_branch IS NULL AND "
	             "COALESCE(ping_at, registered_at + ?2) <= ?1 "
	             "ORDER BY COALESCE(ping_at, registered_at + ?2) "
	             "LIMIT ?3");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int(st, 2, interval);
	sqlite3_bind_int(st, 3, limit);
	return db_ping_rows(dp, ctx, st, out, n, "due");
}

int
db_ping_inflight(struct db_ping *dp, TALLOC_CTX *ctx, const char *prefix,
                 struct db_ping_row **out, int *n)
{
	sqlite3_stmt *st;

	/* substr, not LIKE: a branch may hold % and _ */
	st = db_stmt(dp->db, &dp->inflight,
	             "SELECT " DB_PING_COLS " FROM registrations "
	             "WHERE ping_branch IS NOT NULL AND "
	             "substr(ping_branch, 1, length(?1)) = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	return db_ping_rows(dp, ctx, st, out, n, "in flight");
}

/* Step a statement that changes rows: the count changed, or -1. */
static int
db_ping_exec(struct db_ping *dp, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_ping_err(dp, rc, what);
		return -1;
	}
	return sqlite3_changes(dp->db);
}

int
db_ping_sent(struct db_ping *dp, int64_t id, const char *branch, time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(dp->db, &dp->sent,
	             "UPDATE registrations SET ping_branch = ?2, "
	             "ping_sent_at = ?3 WHERE id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, branch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	return db_ping_exec(dp, st, "sent") == -1 ? -1 : 0;
}

int
db_ping_answered(struct db_ping *dp, const char *branch, time_t now,
                 time_t next)
{
	sqlite3_stmt *st;

	st = db_stmt(dp->db, &dp->answered,
	             "UPDATE registrations SET ping_branch = NULL, "
	             "ping_ok_at = ?2, ping_failures = 0, ping_at = ?3 "
	             "WHERE ping_branch = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, branch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)next);
	return db_ping_exec(dp, st, "answered");
}

int
db_ping_failed(struct db_ping *dp, TALLOC_CTX *ctx, const char *branch,
               time_t next, int64_t *id, int *failures, char **aor)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	st = db_stmt(dp->db, &dp->failed,
	             "UPDATE registrations SET ping_branch = NULL, "
	             "ping_failures = ping_failures + 1, ping_at = ?2 "
	             "WHERE ping_branch = ?1 "
	             "RETURNING id, ping_failures, aor");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, branch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)next);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*failures = sqlite3_column_int(st, 1);
		*aor = db_col_str(ctx, st, 2);
		found = 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("db_ping: failed: %s", sqlite3_errmsg(dp->db));
		return -1;
	}
	return found;
}
