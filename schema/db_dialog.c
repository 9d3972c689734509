/*
 * schema/db_dialog.c: the `dialogs` and `calls` tables (see db_dialog.h).
 * A row is read and written whole: the B2BUA loads it, decides, and saves
 * it in the same unit of work. Its two stored INVITEs are read with it
 * from `dialog_requests` and written there only when they change; the
 * live calls are looked up through `live_dialogs` (triggers keep it).
 */
#include <string.h>

#include "schema/db.h"
#include "schema/db_dialog.h"
#include "util/log.h"

/* Every column of `dialogs` but id, in the order of db_dialog_bind /
 * db_dialog_read. The two stored INVITEs are not among them: they live in
 * `dialog_requests`, written at the insert and when they change, so that
 * a stage's save rewrites a small row (several to a page). */
#define DB_DIALOG_COLS                                                         \
	"a_call_id, a_from_tag, a_to_tag, a_cseq, a_contact, a_route, "        \
	"a_peer, a_out_cseq, a_inv_cseq, b_call_id, b_from_tag, b_to_tag, "    \
	"b_cseq, b_in_cseq, b_inv_cseq, b_contact, b_route, b_peer, "          \
	"b_branch, caller, callee, stage, owner_slot, end_reason, "            \
	"created_at, updated_at, answered_at, ring_deadline, forks"
#define DB_DIALOG_NCOLS 29

/* What a load selects: id, DB_DIALOG_COLS, then the stored INVITEs of
 * `dialog_requests` (q), from `dialogs` d. */
#define DB_DIALOG_SEL                                                          \
	"d.id, " DB_DIALOG_COLS ", q.a_request, q.b_request FROM dialogs d "   \
	"LEFT JOIN dialog_requests q ON q.dialog_id = d.id"

/* The same but the two Call-IDs, which never change after the insert: an
 * UPDATE that does not name an indexed column leaves its index alone, so
 * a stage's save writes two index pages fewer (db_dialog_save). With the
 * partial indexes on stage gone (the live calls are `live_dialogs`, kept
 * by triggers only when a call ends), a stage's save writes the row's
 * page and nothing else. */
#define DB_DIALOG_SAVE_COLS                                                    \
	"a_from_tag, a_to_tag, a_cseq, a_contact, a_route, a_peer, "           \
	"a_out_cseq, a_inv_cseq, b_from_tag, b_to_tag, b_cseq, b_in_cseq, "    \
	"b_inv_cseq, b_contact, b_route, b_peer, b_branch, caller, callee, "   \
	"stage, owner_slot, end_reason, created_at, updated_at, "              \
	"answered_at, ring_deadline, forks"

struct db_dialog_ctx {
	sqlite3 *db;
	sqlite3_stmt *insert, *save, *save_ids, *find, *owner, *owned, *stale,
	    *end, *cdr, *req_insert, *req_save;
	sqlite3_stmt *fork_insert, *fork_save, *fork_list, *fork_owed,
	    *conn_live;
	sqlite3_stmt *relay_insert, *relay_find, *relay_delete, *relay_end;
	sqlite3_stmt *ans_put, *ans_get, *ans_drop, *pager_has, *pager_old,
	    *pager_expire;
};

struct db_dialog_ctx *
db_dialog_new(TALLOC_CTX *ctx, sqlite3 *db)
{
	struct db_dialog_ctx *dc = talloc_zero(ctx, struct db_dialog_ctx);

	if (dc == NULL) {
		log_warnx("db_dialog: out of memory");
		return NULL;
	}
	dc->db = db;
	return dc;
}

/* Bind v as parameter i; SQL NULL for 0 when null_if_zero. */
static void
db_dialog_int(sqlite3_stmt *st, int i, int64_t v, int null_if_zero)
{
	if (null_if_zero && v == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* Bind d's columns as ?1 .. ?29 (DB_DIALOG_COLS order). */
static void
db_dialog_bind(sqlite3_stmt *st, const struct db_dialog *d)
{
	int i = 1;

	db_bind_str(st, i++, d->a_call_id);
	db_bind_str(st, i++, d->a_from_tag);
	db_bind_str(st, i++, d->a_to_tag);
	db_dialog_int(st, i++, d->a_cseq, 0);
	db_bind_str(st, i++, d->a_contact);
	db_bind_str(st, i++, d->a_route);
	db_bind_str(st, i++, d->a_peer);
	db_dialog_int(st, i++, d->a_out_cseq, 0);
	db_dialog_int(st, i++, d->a_inv_cseq, 0);
	db_bind_str(st, i++, d->b_call_id);
	db_bind_str(st, i++, d->b_from_tag);
	db_bind_str(st, i++, d->b_to_tag);
	db_dialog_int(st, i++, d->b_cseq, 0);
	db_dialog_int(st, i++, d->b_in_cseq, 0);
	db_dialog_int(st, i++, d->b_inv_cseq, 0);
	db_bind_str(st, i++, d->b_contact);
	db_bind_str(st, i++, d->b_route);
	db_bind_str(st, i++, d->b_peer);
	db_bind_str(st, i++, d->b_branch);
	db_bind_str(st, i++, d->caller);
	db_bind_str(st, i++, d->callee);
	db_bind_str(st, i++, d->stage);
	db_bind_str(st, i++, d->owner_slot);
	db_bind_str(st, i++, d->end_reason);
	db_dialog_int(st, i++, d->created_at, 0);
	db_dialog_int(st, i++, d->updated_at, 0);
	db_dialog_int(st, i++, d->answered_at, 1);
	db_dialog_int(st, i++, d->ring_deadline, 1);
	db_dialog_int(st, i++, d->forks, 0);
}

/* Read DB_DIALOG_SEL's columns of the current row into d (strings under
 * ctx). */
static void
db_dialog_read(TALLOC_CTX *ctx, sqlite3_stmt *st, struct db_dialog *d)
{
	int i = 0;

	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, i++);
	d->a_call_id = db_col_str(ctx, st, i++);
	d->a_from_tag = db_col_str(ctx, st, i++);
	d->a_to_tag = db_col_str(ctx, st, i++);
	d->a_cseq = (uint32_t)sqlite3_column_int64(st, i++);
	d->a_contact = db_col_str(ctx, st, i++);
	d->a_route = db_col_str(ctx, st, i++);
	d->a_peer = db_col_str(ctx, st, i++);
	d->a_out_cseq = (uint32_t)sqlite3_column_int64(st, i++);
	d->a_inv_cseq = (uint32_t)sqlite3_column_int64(st, i++);
	d->b_call_id = db_col_str(ctx, st, i++);
	d->b_from_tag = db_col_str(ctx, st, i++);
	d->b_to_tag = db_col_str(ctx, st, i++);
	d->b_cseq = (uint32_t)sqlite3_column_int64(st, i++);
	d->b_in_cseq = (uint32_t)sqlite3_column_int64(st, i++);
	d->b_inv_cseq = (uint32_t)sqlite3_column_int64(st, i++);
	d->b_contact = db_col_str(ctx, st, i++);
	d->b_route = db_col_str(ctx, st, i++);
	d->b_peer = db_col_str(ctx, st, i++);
	d->b_branch = db_col_str(ctx, st, i++);
	d->caller = db_col_str(ctx, st, i++);
	d->callee = db_col_str(ctx, st, i++);
	d->stage = db_col_str(ctx, st, i++);
	d->owner_slot = db_col_str(ctx, st, i++);
	d->end_reason = db_col_str(ctx, st, i++);
	d->created_at = sqlite3_column_int64(st, i++);
	d->updated_at = sqlite3_column_int64(st, i++);
	d->answered_at = sqlite3_column_int64(st, i++);
	d->ring_deadline = sqlite3_column_int64(st, i++);
	d->forks = sqlite3_column_int(st, i++);
	d->a_request = db_col_str(ctx, st, i++);
	d->b_request = db_col_str(ctx, st, i++);
	d->a_request_db = d->a_request;
	d->b_request_db = d->b_request;
}

/* The end of statement st's steps, whose last returned rc (SQLITE_DONE
 * when all went well): reset and cleared for its next use; 0, or -1 with
 * what and SQLite's error logged. */
static int
db_dialog_done(struct db_dialog_ctx *dc, sqlite3_stmt *st, int rc,
               const char *what)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("db_dialog: %s: %s", what, sqlite3_errmsg(dc->db));
		return -1;
	}
	return 0;
}

/* Step a statement that changes rows: 0, or -1 (logged). */
static int
db_dialog_exec(struct db_dialog_ctx *dc, sqlite3_stmt *st, const char *what)
{
	return db_dialog_done(dc, st, sqlite3_step(st), what);
}

/* Whether stored request now differs from was (NULL is a value). */
static int
db_dialog_req_changed(const char *now, const char *was)
{
	if (now == was)
		return 0;
	if (now == NULL || was == NULL)
		return 1;
	return strcmp(now, was) != 0;
}

/* Write d's stored INVITEs to its `dialog_requests` row: made when make,
 * else updated (a row that is gone stays gone). 0 or -1 (logged). */
static int
db_dialog_req_write(struct db_dialog_ctx *dc, struct db_dialog *d, int make)
{
	sqlite3_stmt *st;

	if (make)
		st =
		    db_stmt(dc->db, &dc->req_insert,
		            "INSERT OR REPLACE INTO dialog_requests "
		            "(dialog_id, a_request, b_request) VALUES (?1, ?2, "
		            "?3)");
	else
		st =
		    db_stmt(dc->db, &dc->req_save,
		            "UPDATE dialog_requests SET (a_request, b_request) "
		            "= (?2, ?3) WHERE dialog_id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, d->id);
	db_bind_str(st, 2, d->a_request);
	db_bind_str(st, 3, d->b_request);
	if (db_dialog_exec(dc, st, "stored requests") == -1)
		return -1;
	d->a_request_db = d->a_request;
	d->b_request_db = d->b_request;
	return 0;
}

int
db_dialog_insert(struct db_dialog_ctx *dc, struct db_dialog *d)
{
	sqlite3_stmt *st;

	st = db_stmt(dc->db, &dc->insert,
	             "INSERT INTO dialogs (" DB_DIALOG_COLS
	             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
	             "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, "
	             "?23, ?24, ?25, ?26, ?27, ?28, ?29)");
	if (st == NULL)
		return -1;
	db_dialog_bind(st, d);
	if (db_dialog_exec(dc, st, "insert") == -1)
		return -1;
	d->id = sqlite3_last_insert_rowid(dc->db);
	return db_dialog_req_write(dc, d, 1);
}

/*
 * Save d whole. First without its Call-IDs (the row's are d's: the
 * common case, which leaves dialogs_a and dialogs_b untouched); when that
 * changes no row (a Call-ID differs), with every column. The stored
 * INVITEs only when they differ from what d was loaded or saved with.
 */
int
db_dialog_save(struct db_dialog_ctx *dc, struct db_dialog *d, time_t now)
{
	sqlite3_stmt *st;

	d->updated_at = now;
	st = db_stmt(dc->db, &dc->save,
	             "UPDATE dialogs SET (" DB_DIALOG_SAVE_COLS
	             ") = (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?12, ?13, "
	             "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, "
	             "?25, ?26, ?27, ?28, ?29) WHERE id = ?30 AND a_call_id = "
	             "?1 AND b_call_id = ?10");
	if (st == NULL)
		return -1;
	db_dialog_bind(st, d);
	sqlite3_bind_int64(st, DB_DIALOG_NCOLS + 1, d->id);
	if (db_dialog_exec(dc, st, "save") == -1)
		return -1;
	if (sqlite3_changes(dc->db) == 0) {
		st =
		    db_stmt(dc->db, &dc->save_ids,
		            "UPDATE dialogs SET (" DB_DIALOG_COLS
		            ") = (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
		            "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
		            "?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29) "
		            "WHERE id = ?30");
		if (st == NULL)
			return -1;
		db_dialog_bind(st, d);
		sqlite3_bind_int64(st, DB_DIALOG_NCOLS + 1, d->id);
		if (db_dialog_exec(dc, st, "save") == -1)
			return -1;
	}
	if (db_dialog_req_changed(d->a_request, d->a_request_db) ||
	    db_dialog_req_changed(d->b_request, d->b_request_db))
		return db_dialog_req_write(dc, d, 0);
	return 0;
}

/* Step st and collect its rows into *out (under ctx). 0 or -1. */
static int
db_dialog_rows(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, sqlite3_stmt *st,
               struct db_dialog **out, int *n, const char *what)
{
	struct db_dialog *rows = NULL;
	int rc, cap = 0, k = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 4;
			rows = talloc_realloc(ctx, rows, struct db_dialog, cap);
			if (rows == NULL) {
				sqlite3_reset(st);
				return -1;
			}
		}
		db_dialog_read(rows, st, &rows[k++]);
	}
	if (db_dialog_done(dc, st, rc, what) == -1) {
		talloc_free(rows);
		return -1;
	}
	*out = rows;
	*n = k;
	return 0;
}

int
db_dialog_find(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, const char *call_id,
               int any, struct db_dialog **out, char *leg)
{
	struct db_dialog *rows;
	sqlite3_stmt *st;
	int n;

	/* two indexed look-ups (dialogs_a, dialogs_b), not an OR */
	st = db_stmt(dc->db, &dc->find,
	             "SELECT * FROM (SELECT " DB_DIALOG_SEL
	             " WHERE a_call_id = ?1 AND (?2 OR stage <> 'ended') "
	             "UNION ALL SELECT " DB_DIALOG_SEL
	             " WHERE b_call_id = ?1 AND (?2 OR stage <> 'ended')) "
	             "ORDER BY 1 DESC LIMIT 1");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, call_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, any != 0);
	if (db_dialog_rows(dc, ctx, st, &rows, &n, "find") == -1)
		return -1;
	if (n == 0)
		return 0;
	*out = rows;
	*leg = strcmp(rows->a_call_id, call_id) == 0 ? 'a' : 'b';
	return 1;
}

int
db_dialog_owner(struct db_dialog_ctx *dc, const char *call_id, char slot[8])
{
	sqlite3_stmt *st;
	int rc, found = 0;

	st = db_stmt(dc->db, &dc->owner,
	             "SELECT owner_slot FROM dialogs WHERE a_call_id = ?1 AND "
	             "stage <> 'ended' UNION ALL SELECT owner_slot FROM "
	             "dialogs WHERE b_call_id = ?1 AND stage <> 'ended' "
	             "LIMIT 1");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, call_id, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		if (t != NULL && strlen((const char *)t) < 8) {
			strcpy(slot, (const char *)t);
			found = 1;
		}
		rc = SQLITE_DONE;
	}
	return db_dialog_done(dc, st, rc, "owner") == -1 ? -1 : found;
}

int
db_dialog_owned(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, const char *slot,
                struct db_dialog **out, int *n)
{
	sqlite3_stmt *st;

	/* live_dialogs: the calls not ended (a few rows; triggers) */
	st = db_stmt(dc->db, &dc->owned,
	             "SELECT " DB_DIALOG_SEL " WHERE d.id IN (SELECT id FROM "
	             "live_dialogs) AND owner_slot = ?1 AND stage <> 'ended' "
	             "ORDER BY d.id");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, slot, -1, SQLITE_STATIC);
	return db_dialog_rows(dc, ctx, st, out, n, "owned");
}

int
db_dialog_stale(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, time_t now,
                time_t t_term, time_t t_setup, time_t t_any, int limit,
                struct db_dialog **out, int *n)
{
	sqlite3_stmt *st;

	/* live_dialogs: the calls not ended (a few rows; triggers) */
	st = db_stmt(dc->db, &dc->stale,
	             "SELECT " DB_DIALOG_SEL " WHERE d.id IN (SELECT id FROM "
	             "live_dialogs) AND stage <> 'ended' AND ((stage = "
	             "'terminating' AND "
	             "updated_at < ?1) OR (stage IN ('trying', 'early', "
	             "'ringing') AND updated_at < ?2) OR updated_at < ?3 OR "
	             "(stage IN ('answered', 'confirmed') AND (NOT EXISTS "
	             "(SELECT 1 FROM registrations r WHERE r.aor = d.caller "
	             "AND r.expires_at > ?5) OR NOT EXISTS (SELECT 1 FROM "
	             "registrations r WHERE r.aor = d.callee AND "
	             "r.expires_at > ?5)))) ORDER BY updated_at LIMIT ?4");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)t_term);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)t_setup);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)t_any);
	sqlite3_bind_int(st, 4, limit);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	return db_dialog_rows(dc, ctx, st, out, n, "stale");
}

int
db_dialog_end(struct db_dialog_ctx *dc, struct db_dialog *d, const char *reason,
              time_t now)
{
	sqlite3_stmt *st;

	d->stage = "ended";
	if (reason != NULL)
		d->end_reason = (char *)reason;
	if (db_dialog_save(dc, d, now) == -1)
		return -1;
	st = db_stmt(dc->db, &dc->cdr,
	             "INSERT INTO calls (caller, callee, started_at, "
	             "answered_at, ended_at, end_reason, dialog_id, a_call_id, "
	             "b_call_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, d->caller);
	db_bind_str(st, 2, d->callee);
	db_dialog_int(st, 3, d->created_at, 0);
	db_dialog_int(st, 4, d->answered_at, 1);
	db_dialog_int(st, 5, now, 0);
	db_bind_str(st, 6, d->end_reason);
	db_dialog_int(st, 7, d->id, 0);
	db_bind_str(st, 8, d->a_call_id);
	db_bind_str(st, 9, d->b_call_id);
	if (db_dialog_exec(dc, st, "calls row") == -1)
		return -1;
	st = db_stmt(dc->db, &dc->relay_end,
	             "DELETE FROM dialog_relays WHERE dialog_id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, d->id);
	if (db_dialog_exec(dc, st, "relays of an ended call") == -1)
		return -1;
	/* only a call that was answered can have a 2xx kept */
	return d->answered_at != 0 ? db_answer_drop(dc, d->id) : 0;
}

/* ------------------------------------------------------------ forks */

/* Every column of dialog_forks but id, in db_fork_bind's order. */
#define DB_FORK_COLS                                                           \
	"dialog_id, branch, target, peer, route, request, state, status, "     \
	"to_tag, contact, response, updated_at"

/* Bind f's columns as ?1 .. ?12 (DB_FORK_COLS order). */
static void
db_fork_bind(sqlite3_stmt *st, const struct db_fork *f)
{
	int i = 1;

	db_dialog_int(st, i++, f->dialog_id, 0);
	db_bind_str(st, i++, f->branch);
	db_bind_str(st, i++, f->target);
	db_bind_str(st, i++, f->peer);
	db_bind_str(st, i++, f->route);
	db_bind_str(st, i++, f->request);
	db_bind_str(st, i++, f->state);
	db_dialog_int(st, i++, f->status, 1);
	db_bind_str(st, i++, f->to_tag);
	db_bind_str(st, i++, f->contact);
	db_bind_str(st, i++, f->response);
	db_dialog_int(st, i++, f->updated_at, 0);
}

int
db_fork_insert(struct db_dialog_ctx *dc, struct db_fork *f, time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(dc->db, &dc->fork_insert,
	             "INSERT INTO dialog_forks (" DB_FORK_COLS
	             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
	             "?12)");
	if (st == NULL)
		return -1;
	f->updated_at = now;
	db_fork_bind(st, f);
	if (db_dialog_exec(dc, st, "fork insert") == -1)
		return -1;
	f->id = sqlite3_last_insert_rowid(dc->db);
	return 0;
}

int
db_fork_save(struct db_dialog_ctx *dc, struct db_fork *f, time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(dc->db, &dc->fork_save,
	             "UPDATE dialog_forks SET (" DB_FORK_COLS
	             ") = (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
	             "WHERE id = ?13");
	if (st == NULL)
		return -1;
	f->updated_at = now;
	db_fork_bind(st, f);
	sqlite3_bind_int64(st, 13, f->id);
	return db_dialog_exec(dc, st, "fork save");
}

/* Step st ("SELECT id, DB_FORK_COLS ...") and collect its rows into
 * *out (under ctx). 0 or -1. */
static int
db_fork_rows(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, sqlite3_stmt *st,
             struct db_fork **out, int *n, const char *what)
{
	struct db_fork *rows = NULL;
	int rc, cap = 0, k = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_fork *f;
		int i = 0;
		if (k == cap) {
			cap = cap ? cap * 2 : 4;
			rows = talloc_realloc(ctx, rows, struct db_fork, cap);
			if (rows == NULL) {
				sqlite3_reset(st);
				return -1;
			}
		}
		f = &rows[k++];
		memset(f, 0, sizeof(*f));
		f->id = sqlite3_column_int64(st, i++);
		f->dialog_id = sqlite3_column_int64(st, i++);
		f->branch = db_col_str(rows, st, i++);
		f->target = db_col_str(rows, st, i++);
		f->peer = db_col_str(rows, st, i++);
		f->route = db_col_str(rows, st, i++);
		f->request = db_col_str(rows, st, i++);
		f->state = db_col_str(rows, st, i++);
		f->status = sqlite3_column_int(st, i++);
		f->to_tag = db_col_str(rows, st, i++);
		f->contact = db_col_str(rows, st, i++);
		f->response = db_col_str(rows, st, i++);
		f->updated_at = sqlite3_column_int64(st, i++);
	}
	if (db_dialog_done(dc, st, rc, what) == -1) {
		talloc_free(rows);
		return -1;
	}
	*out = rows;
	*n = k;
	return 0;
}

int
db_fork_list(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, int64_t dialog_id,
             struct db_fork **out, int *n)
{
	sqlite3_stmt *st;

	st = db_stmt(dc->db, &dc->fork_list,
	             "SELECT id, " DB_FORK_COLS " FROM dialog_forks "
	             "WHERE dialog_id = ?1 ORDER BY id");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, dialog_id);
	return db_fork_rows(dc, ctx, st, out, n, "fork list");
}

int
db_fork_owed(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, const char *slot,
             struct db_fork **out, int *n)
{
	sqlite3_stmt *st;

	/* dialog_forks_owed: a partial index of the forks owed a CANCEL */
	st = db_stmt(dc->db, &dc->fork_owed,
	             "SELECT f.id, f.dialog_id, f.branch, f.target, f.peer, "
	             "f.route, f.request, f.state, f.status, f.to_tag, "
	             "f.contact, f.response, f.updated_at FROM dialog_forks f "
	             "JOIN dialogs d ON d.id = f.dialog_id WHERE f.state = "
	             "'cancel_owed' AND d.stage = 'ended' AND d.owner_slot = "
	             "?1 ORDER BY f.id LIMIT 256");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, slot);
	return db_fork_rows(dc, ctx, st, out, n, "forks owed");
}

int
db_dialog_conn_live(struct db_dialog_ctx *dc, const char *slot,
                    const char *peer)
{
	sqlite3_stmt *st;
	int rc, live = 0;

	/* live_dialogs: the calls not ended (a few rows; triggers) */
	st = db_stmt(dc->db, &dc->conn_live,
	             "SELECT 1 FROM dialogs WHERE id IN (SELECT id FROM "
	             "live_dialogs) AND owner_slot = ?1 AND stage <> 'ended' "
	             "AND a_peer = ?2 LIMIT 1");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, slot);
	db_bind_str(st, 2, peer);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		live = 1;
		rc = SQLITE_DONE;
	}
	return db_dialog_done(dc, st, rc, "conn_live") == -1 ? -1 : live;
}

/* ------------------------------------------------------------ relays */

int
db_relay_insert(struct db_dialog_ctx *dc, int64_t dialog_id, const char *branch,
                const char *method, const char *request, const char *peer,
                time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(dc->db, &dc->relay_insert,
	             "INSERT OR REPLACE INTO dialog_relays (branch, dialog_id, "
	             "method, request, peer, created_at) VALUES (?1, ?2, ?3, "
	             "?4, ?5, ?6)");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, branch);
	sqlite3_bind_int64(st, 2, dialog_id);
	db_bind_str(st, 3, method);
	db_bind_str(st, 4, request);
	db_bind_str(st, 5, peer);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now);
	return db_dialog_exec(dc, st, "relay insert");
}

int
db_relay_find(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, const char *branch,
              char **request, char **peer, int64_t *dialog_id)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	st = db_stmt(dc->db, &dc->relay_find,
	             "SELECT request, peer, dialog_id FROM dialog_relays "
	             "WHERE branch = ?1");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, branch);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*request = db_col_str(ctx, st, 0);
		*peer = db_col_str(ctx, st, 1);
		*dialog_id = sqlite3_column_int64(st, 2);
		found = *request != NULL && *peer != NULL;
		rc = SQLITE_DONE;
	}
	return db_dialog_done(dc, st, rc, "relay find") == -1 ? -1 : found;
}

int
db_relay_delete(struct db_dialog_ctx *dc, const char *branch)
{
	sqlite3_stmt *st;

	st = db_stmt(dc->db, &dc->relay_delete,
	             "DELETE FROM dialog_relays WHERE branch = ?1");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, branch);
	return db_dialog_exec(dc, st, "relay delete");
}

int
db_relay_pager_has(struct db_dialog_ctx *dc, const char *call_id,
                   const char *via_branch, db_relay_same_fn *same, void *arg)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	st = db_stmt(dc->db, &dc->pager_has,
	             "SELECT request FROM dialog_relays WHERE dialog_id = 0 "
	             "AND method = 'MESSAGE' AND instr(request, ?1) > 0 AND "
	             "instr(request, ?2) > 0");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, via_branch);
	db_bind_str(st, 2, call_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *request = (const char *)sqlite3_column_text(st, 0);

		if (request != NULL && same(request, arg)) {
			found = 1;
			rc = SQLITE_DONE;
			break;
		}
	}
	return db_dialog_done(dc, st, rc, "pager relay") == -1 ? -1 : found;
}

int
db_relay_pager_expire(struct db_dialog_ctx *dc, time_t before, int dry)
{
	sqlite3_stmt *st;
	int rc;

	if (dry)
		st = db_stmt(dc->db, &dc->pager_old,
		             "SELECT 1 FROM dialog_relays WHERE dialog_id = 0 "
		             "AND created_at < ?1 LIMIT 1");
	else
		st = db_stmt(dc->db, &dc->pager_expire,
		             "DELETE FROM dialog_relays WHERE dialog_id = 0 "
		             "AND created_at < ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)before);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("db_dialog: pager relays expired: %s",
		          sqlite3_errmsg(dc->db));
		return -1;
	}
	return dry ? rc == SQLITE_ROW : sqlite3_changes(dc->db) > 0;
}

/* ----------------------------------------------------------- answers */

int
db_answer_put(struct db_dialog_ctx *dc, int64_t dialog_id, const char *resp,
              size_t len)
{
	sqlite3_stmt *st;

	st = db_stmt(dc->db, &dc->ans_put,
	             "INSERT OR REPLACE INTO dialog_answers (dialog_id, "
	             "response) VALUES (?1, ?2)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, dialog_id);
	sqlite3_bind_blob(st, 2, resp, (int)len, SQLITE_STATIC);
	return db_dialog_exec(dc, st, "answer put");
}

int
db_answer_get(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, int64_t dialog_id,
              char **resp, size_t *len)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	st =
	    db_stmt(dc->db, &dc->ans_get,
	            "SELECT response FROM dialog_answers WHERE dialog_id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, dialog_id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		if (b != NULL && n > 0 &&
		    (*resp = talloc_size(ctx, n + 1)) != NULL) {
			memcpy(*resp, b, n);
			(*resp)[n] = '\0';
			*len = n;
			found = 1;
		}
		rc = SQLITE_DONE;
	}
	return db_dialog_done(dc, st, rc, "answer get") == -1 ? -1 : found;
}

int
db_answer_drop(struct db_dialog_ctx *dc, int64_t dialog_id)
{
	sqlite3_stmt *st;

	st = db_stmt(dc->db, &dc->ans_drop,
	             "DELETE FROM dialog_answers WHERE dialog_id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, dialog_id);
	return db_dialog_exec(dc, st, "answer drop");
}
