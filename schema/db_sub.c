/*
 * schema/db_sub.c: the reg-event subscriptions data layer (see db_sub.h).
 * Every statement is prepared once per connection through db_stmt() and
 * kept in struct db_sub; values are bound, never pasted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "schema/db.h"
#include "schema/db_sub.h"

#define DB_SUB_COLS                                                            \
	"id, aor, watcher, call_id, from_tag, to_tag, contact, route, "        \
	"received, transport, conn_slot, conn_id, event_id, cseq, version, "   \
	"expires_at, state, reason, pending, last_status, sent_at, "           \
	"created_at, updated_at"

/* The same columns of the table aliased rs. */
#define DB_SUB_RS_COLS                                                         \
	"rs.id, rs.aor, rs.watcher, rs.call_id, rs.from_tag, rs.to_tag, "      \
	"rs.contact, rs.route, rs.received, rs.transport, rs.conn_slot, "      \
	"rs.conn_id, rs.event_id, rs.cseq, rs.version, rs.expires_at, "        \
	"rs.state, rs.reason, rs.pending, rs.last_status, rs.sent_at, "        \
	"rs.created_at, rs.updated_at"

struct db_sub {
	sqlite3 *db;
	sqlite3_stmt *insert, *refresh, *terminate, *delete, *dialog, *load,
	    *watching, *watching_set, *ident, *take, *mark, *answered, *pending,
	    *sweep_end, *sweep_del, *owed, *ev_add, *ev_list, *ev_done, *ev_del,
	    *ev_sweep, *any;
};

struct db_sub *
db_sub_new(TALLOC_CTX *ctx, sqlite3 *db)
{
	struct db_sub *ds;

	if ((ds = talloc_zero(ctx, struct db_sub)) == NULL) {
		log_warnx("db_sub: out of memory");
		return NULL;
	}
	ds->db = db;
	return ds;
}

static void
db_sub_err(struct db_sub *ds, const char *what)
{
	char w[64];

	snprintf(w, sizeof(w), "db_sub: %s", what);
	db_fail(ds->db, sqlite3_extended_errcode(ds->db), w);
}

/* One row (DB_SUB_COLS order) into s, strings under ctx. */
static void
db_sub_row(TALLOC_CTX *ctx, sqlite3_stmt *st, struct db_sub_row *s)
{
	const char *state;

	memset(s, 0, sizeof(*s));
	s->id = sqlite3_column_int64(st, 0);
	s->aor = db_col_str(ctx, st, 1);
	s->watcher = db_col_str(ctx, st, 2);
	s->call_id = db_col_str(ctx, st, 3);
	s->from_tag = db_col_str(ctx, st, 4);
	s->to_tag = db_col_str(ctx, st, 5);
	s->contact = db_col_str(ctx, st, 6);
	s->route = db_col_str(ctx, st, 7);
	s->received = db_col_str(ctx, st, 8);
	s->transport = db_col_str(ctx, st, 9);
	s->conn_slot = db_col_str(ctx, st, 10);
	s->conn_id = sqlite3_column_int64(st, 11);
	s->event_id = db_col_str(ctx, st, 12);
	s->cseq = sqlite3_column_int64(st, 13);
	s->version = sqlite3_column_int64(st, 14);
	s->expires_at = sqlite3_column_int64(st, 15);
	state = (const char *)sqlite3_column_text(st, 16);
	s->terminated = state != NULL && strcmp(state, "terminated") == 0;
	s->reason = db_col_str(ctx, st, 17);
	s->pending = sqlite3_column_int(st, 18);
	s->last_status = sqlite3_column_int(st, 19);
	s->sent_at = sqlite3_column_int64(st, 20);
	s->created_at = sqlite3_column_int64(st, 21);
	s->updated_at = sqlite3_column_int64(st, 22);
}

/* Step a statement that returns no rows: 0 (a row changed), 1 (none did),
 * or -1 (logged). */
static int
db_sub_exec(struct db_sub *ds, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_sub_err(ds, what);
		return -1;
	}
	return sqlite3_changes(ds->db) > 0 ? 0 : 1;
}

/* Every row st returns, as an array under ctx: 0 with *out, *n, or -1. */
static int
db_sub_rows(struct db_sub *ds, TALLOC_CTX *ctx, sqlite3_stmt *st,
            const char *what, struct db_sub_row **out, int *n)
{
	struct db_sub_row *v = NULL;
	int cnt = 0, rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = talloc_realloc(ctx, v, struct db_sub_row, cnt + 1);
		if (v == NULL) {
			sqlite3_reset(st);
			log_warnx("db_sub: out of memory");
			return -1;
		}
		db_sub_row(v, st, &v[cnt++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_sub_err(ds, what);
		talloc_free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* The one row st returns (or none): 0 with *out, or -1. */
static int
db_sub_one(struct db_sub *ds, TALLOC_CTX *ctx, sqlite3_stmt *st,
           const char *what, struct db_sub_row **out)
{
	int n;

	if (db_sub_rows(ds, ctx, st, what, out, &n) == -1)
		return -1;
	if (n == 0)
		*out = NULL;
	return 0;
}

/* The insert of db_sub_insert() and db_sub_insert_take(): one statement
 * (the UNIQUE dialog key says whether the row existed); take: the first
 * NOTIFY's version 0 and CSeq 1 taken at now (pending 1), else owed
 * (version -1, CSeq 0, pending 2). */
static int
db_sub_insert1(struct db_sub *ds, struct db_sub_row *s, int take, time_t now)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(ds->db, &ds->insert,
	             "INSERT INTO reg_subscriptions (aor, watcher, call_id, "
	             "from_tag, to_tag, contact, route, received, transport, "
	             "conn_slot, conn_id, event_id, cseq, version, expires_at, "
	             "state, pending, sent_at, created_at, updated_at) VALUES "
	             "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?15, "
	             "?15 - 1, ?13, 'active', 2 - ?15, CASE WHEN ?15 THEN ?14 "
	             "END, ?14, ?14) ON CONFLICT (call_id, from_tag, to_tag) "
	             "DO NOTHING");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, s->aor);
	db_bind_str(st, 2, s->watcher);
	db_bind_str(st, 3, s->call_id);
	db_bind_str(st, 4, s->from_tag);
	db_bind_str(st, 5, s->to_tag);
	db_bind_str(st, 6, s->contact);
	db_bind_str(st, 7, s->route);
	db_bind_str(st, 8, s->received);
	db_bind_str(st, 9, s->transport);
	db_bind_str(st, 10, s->conn_slot);
	if (s->conn_id)
		sqlite3_bind_int64(st, 11, s->conn_id);
	else
		sqlite3_bind_null(st, 11);
	db_bind_str(st, 12, s->event_id);
	sqlite3_bind_int64(st, 13, s->expires_at);
	sqlite3_bind_int64(st, 14, (sqlite3_int64)now);
	sqlite3_bind_int(st, 15, take != 0);
	if ((rc = db_sub_exec(ds, st, "insert")) != 0)
		return rc; /* 1: the dialog's row exists, nothing written */
	s->id = sqlite3_last_insert_rowid(ds->db);
	s->cseq = take ? 1 : 0;
	s->version = take ? 0 : -1;
	s->terminated = 0;
	s->reason = NULL;
	s->pending = take ? 1 : 2;
	s->last_status = 0;
	s->sent_at = take ? now : 0;
	s->created_at = s->updated_at = now;
	return 0;
}

int
db_sub_insert(struct db_sub *ds, struct db_sub_row *s, time_t now)
{
	return db_sub_insert1(ds, s, 0, now);
}

int
db_sub_insert_take(struct db_sub *ds, struct db_sub_row *s, time_t now)
{
	return db_sub_insert1(ds, s, 1, now);
}

int
db_sub_refresh(struct db_sub *ds, int64_t id, int64_t expires_at,
               const char *contact, time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(ds->db, &ds->refresh,
	             "UPDATE reg_subscriptions SET expires_at = ?2, "
	             "contact = ifnull(?3, contact), pending = 2, "
	             "updated_at = ?4 WHERE id = ?1 AND state = 'active'");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, expires_at);
	db_bind_str(st, 3, contact);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
	return db_sub_exec(ds, st, "refresh");
}

int
db_sub_terminate(struct db_sub *ds, int64_t id, const char *reason, time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(ds->db, &ds->terminate,
	             "UPDATE reg_subscriptions SET state = 'terminated', "
	             "reason = ?2, pending = 2, updated_at = ?3 WHERE id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	db_bind_str(st, 2, reason);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	return db_sub_exec(ds, st, "terminate");
}

int
db_sub_delete(struct db_sub *ds, int64_t id)
{
	sqlite3_stmt *st;

	st = db_stmt(ds->db, &ds->ev_del,
	             "DELETE FROM reg_sub_events WHERE sub_id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (db_sub_exec(ds, st, "delete events") == -1)
		return -1;
	st = db_stmt(ds->db, &ds->delete,
	             "DELETE FROM reg_subscriptions WHERE id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return db_sub_exec(ds, st, "delete") == -1 ? -1 : 0;
}

int
db_sub_load_dialog(struct db_sub *ds, TALLOC_CTX *ctx, const char *call_id,
                   const char *from_tag, const char *to_tag,
                   struct db_sub_row **out)
{
	sqlite3_stmt *st;

	*out = NULL;
	st = db_stmt(ds->db, &ds->dialog,
	             "SELECT " DB_SUB_COLS " FROM reg_subscriptions WHERE "
	             "call_id = ?1 AND from_tag = ?2 AND to_tag = ?3");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, call_id);
	db_bind_str(st, 2, from_tag);
	db_bind_str(st, 3, to_tag);
	return db_sub_one(ds, ctx, st, "load dialog", out);
}

int
db_sub_load(struct db_sub *ds, TALLOC_CTX *ctx, int64_t id,
            struct db_sub_row **out)
{
	sqlite3_stmt *st;

	*out = NULL;
	st = db_stmt(ds->db, &ds->load,
	             "SELECT " DB_SUB_COLS
	             " FROM reg_subscriptions WHERE id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return db_sub_one(ds, ctx, st, "load", out);
}

/* qsort: rows by id. */
static int
db_sub_row_cmp(const void *a, const void *b)
{
	const struct db_sub_row *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int
db_sub_watching(struct db_sub *ds, TALLOC_CTX *ctx, const char *aor,
                struct db_sub_row **out, int *n)
{
	TALLOC_CTX *tmp;
	struct db_sub_row *v = NULL, *some;
	sqlite3_stmt *st;
	char **ids;
	int nids, nsome, cnt = 0, ret = -1;

	*out = NULL;
	*n = 0;
	if ((tmp = talloc_new(ctx)) == NULL)
		return -1;
	/* The set first (the subscribers index by impu; a scan of
	 * extra_impu only for an AOR that is no one's impu), then the
	 * watchers of each identity by the aor index: no join or UNION
	 * that would scan subscribers or open a temporary b-tree for every
	 * binding change. */
	if (db_sub_identities(ds, tmp, aor, &ids, &nids) == -1)
		goto done;
	st = db_stmt(ds->db, &ds->watching,
	             "SELECT " DB_SUB_COLS
	             " FROM reg_subscriptions WHERE aor = ?1");
	if (st == NULL)
		goto done;
	for (int i = 0; i < nids; i++) {
		db_bind_str(st, 1, ids[i]);
		if (db_sub_rows(ds, tmp, st, "watching", &some, &nsome) == -1)
			goto done;
		if (nsome == 0)
			continue;
		if ((v = talloc_realloc(tmp, v, struct db_sub_row,
		                        cnt + nsome)) == NULL) {
			log_warnx("db_sub: out of memory");
			goto done;
		}
		memcpy(v + cnt, some, (size_t)nsome * sizeof(*v));
		cnt += nsome;
	}
	if (cnt > 1) {
		int k = 1;
		qsort(v, (size_t)cnt, sizeof(*v), db_sub_row_cmp);
		/* (an identity listed twice in extra_impu) */
		for (int i = 1; i < cnt; i++)
			if (v[i].id != v[k - 1].id)
				v[k++] = v[i];
		cnt = k;
	}
	/* the rows and their strings live under tmp: hand it over */
	(void)talloc_steal(ctx, tmp);
	*out = v;
	*n = cnt;
	tmp = NULL;
	ret = 0;
done:
	talloc_free(tmp);
	return ret;
}

/* The subscriber row of aor's implicit set (impu, extra_impu) into v[0]
 * and *extra: the one whose impu is aor, else one whose extra_impu lists
 * it, with one look-up of subscriber_ids (kept by the schema's triggers;
 * no scan of extra_impu). 1 found, 0 none, -1. */
static int
db_sub_set_row(struct db_sub *ds, char **v, char **extra, const char *aor)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(ds->db, &ds->ident,
	             "SELECT s.impu, s.extra_impu FROM subscriber_ids i "
	             "JOIN subscribers s ON s.impi = i.impi WHERE i.id = ?1 "
	             /* kinds 1 and 3 as a range of the key: "IN (1, 3)"
	              * would build an ephemeral table at every step */
	             "AND i.kind BETWEEN 1 AND 3 AND i.kind <> 2 "
	             "ORDER BY i.kind LIMIT 1");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, aor);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v[0] = db_col_str(v, st, 0);
		*extra = db_col_str(v, st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return v[0] != NULL ? 1 : -1;
	if (rc != SQLITE_DONE) {
		db_sub_err(ds, "identities");
		return -1;
	}
	return 0;
}

int
db_sub_identities(struct db_sub *ds, TALLOC_CTX *ctx, const char *aor,
                  char ***out, int *n)
{
	char **v = NULL, *extra = NULL;
	int cnt = 0, rc, ret = -1;

	*out = NULL;
	*n = 0;
	if ((v = talloc_array(ctx, char *, 1)) == NULL)
		goto done;
	if ((rc = db_sub_set_row(ds, v, &extra, aor)) == -1)
		goto done;
	if (rc == 0 && (v[0] = talloc_strdup(v, aor)) == NULL)
		goto done;
	cnt = 1;
	for (char *s = extra, *e; s != NULL && *s != '\0'; s = e) {
		char *o = s, *it;
		if ((e = strchr(s, ',')) == NULL)
			e = s + strlen(s);
		/* drop blanks and <> in place */
		for (char *p = s; p < e; p++)
			if (*p != ' ' && *p != '\t' && *p != '<' && *p != '>')
				*o++ = *p;
		if (*e == ',')
			e++;
		if (o == s)
			continue;
		if ((it = talloc_strndup(v, s, (size_t)(o - s))) == NULL)
			goto done;
		if ((v = talloc_realloc(ctx, v, char *, cnt + 1)) == NULL)
			goto done;
		v[cnt++] = it;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	ret = 0;
done:
	talloc_free(v);
	return ret;
}

int
db_sub_take(struct db_sub *ds, int64_t id, time_t now, int64_t *version,
            int64_t *cseq)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(ds->db, &ds->take,
	             "UPDATE reg_subscriptions SET version = version + 1, "
	             "cseq = cseq + 1, pending = 1, last_status = NULL, "
	             "sent_at = ?2, "
	             "updated_at = ?2 WHERE id = ?1 RETURNING version, cseq");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int64(st, 0);
		*cseq = sqlite3_column_int64(st, 1);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			db_sub_err(ds, "take");
			return -1;
		}
		return 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_sub_err(ds, "take");
		return -1;
	}
	return 1;
}

int
db_sub_mark_pending(struct db_sub *ds, const int64_t *ids, int n, time_t now)
{
	sqlite3_stmt *st;
	int changed = 0, rc;

	for (int i = 0; i < n; i++) {
		st = db_stmt(ds->db, &ds->mark,
		             "UPDATE reg_subscriptions SET pending = 2, "
		             "updated_at = ?2 WHERE id = ?1");
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
		if ((rc = db_sub_exec(ds, st, "mark pending")) == -1)
			return -1;
		changed += rc == 0;
	}
	return changed;
}

int
db_sub_answered(struct db_sub *ds, int64_t id, int64_t cseq, int status,
                int still_pending, time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(ds->db, &ds->answered,
	             "UPDATE reg_subscriptions SET last_status = ?3, "
	             "pending = CASE WHEN pending = 2 OR ?4 THEN 2 ELSE 0 "
	             "END, "
	             "updated_at = ?5 WHERE id = ?1 AND cseq = ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, cseq);
	sqlite3_bind_int(st, 3, status);
	sqlite3_bind_int(st, 4, still_pending != 0);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	return db_sub_exec(ds, st, "answered");
}

int
db_sub_pending(struct db_sub *ds, TALLOC_CTX *ctx, struct db_sub_row **out,
               int *n)
{
	sqlite3_stmt *st;

	st = db_stmt(ds->db, &ds->pending,
	             "SELECT " DB_SUB_COLS " FROM reg_subscriptions "
	             "WHERE pending <> 0 ORDER BY id");
	if (st == NULL)
		return -1;
	return db_sub_rows(ds, ctx, st, "pending", out, n);
}

int
db_sub_sweep(struct db_sub *ds, TALLOC_CTX *ctx, time_t now,
             struct db_sub_row **out, int *ended)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*ended = 0;
	st = db_stmt(ds->db, &ds->sweep_del,
	             "DELETE FROM reg_subscriptions WHERE state = "
	             "'terminated' AND (pending = 0 OR updated_at <= ?1 OR "
	             "expires_at <= ?1)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now - DB_SUB_FINAL_GRACE);
	if ((rc = db_sub_exec(ds, st, "sweep")) == -1)
		return -1;
	rc = rc == 0 ? sqlite3_changes(ds->db) : 0;
	/* the events of the rows gone (a look-up by id for each event) */
	st = db_stmt(ds->db, &ds->ev_sweep,
	             "DELETE FROM reg_sub_events WHERE NOT EXISTS (SELECT 1 "
	             "FROM reg_subscriptions rs WHERE rs.id = sub_id)");
	if (st == NULL)
		return -1;
	if (db_sub_exec(ds, st, "sweep events") == -1)
		return -1;
	st = db_stmt(ds->db, &ds->sweep_end,
	             "UPDATE reg_subscriptions SET state = 'terminated', "
	             "reason = 'timeout', pending = 2, updated_at = ?1 "
	             "WHERE state = 'active' AND expires_at <= ?1 "
	             "RETURNING " DB_SUB_COLS);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	if (db_sub_rows(ds, ctx, st, "sweep", out, ended) == -1)
		return -1;
	return rc;
}

int
db_sub_any(struct db_sub *ds)
{
	sqlite3_stmt *st;
	int rc;

	st = db_stmt(ds->db, &ds->any,
	             "SELECT 1 FROM reg_subscriptions WHERE state = 'active' "
	             "LIMIT 1");
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_sub_err(ds, "any");
		return -1;
	}
	return rc == SQLITE_ROW;
}

int
db_sub_owed(struct db_sub *ds, TALLOC_CTX *ctx, struct db_sub_row **out, int *n)
{
	sqlite3_stmt *st;

	st = db_stmt(ds->db, &ds->owed,
	             "SELECT " DB_SUB_COLS " FROM reg_subscriptions "
	             /* "pending <> 0": the partial index */
	             "WHERE pending <> 0 AND pending = 2 ORDER BY id");
	if (st == NULL)
		return -1;
	return db_sub_rows(ds, ctx, st, "owed", out, n);
}

int
db_sub_event_add(struct db_sub *ds, int64_t sub_id, const struct db_binding *b,
                 const char *event, time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(ds->db, &ds->ev_add,
	             "INSERT INTO reg_sub_events (sub_id, binding_id, event, "
	             "aor, contact, params, q, call_id, cseq, expires_at, "
	             "registered_at, at) VALUES (?1, ?2, ?3, ?4, ?5, "
	             "ifnull(?6, ''), ?7, ?8, ?9, ?10, ?11, ?12)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, sub_id);
	sqlite3_bind_int64(st, 2, b->id);
	db_bind_str(st, 3, event);
	db_bind_str(st, 4, b->aor);
	db_bind_str(st, 5, b->contact);
	db_bind_str(st, 6, b->params);
	if (b->has_q)
		sqlite3_bind_double(st, 7, b->q);
	else
		sqlite3_bind_null(st, 7);
	db_bind_str(st, 8, b->call_id);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)b->cseq);
	sqlite3_bind_int64(st, 10, b->expires_at);
	sqlite3_bind_int64(st, 11, b->registered_at);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)now);
	return db_sub_exec(ds, st, "event add") == -1 ? -1 : 0;
}

int
db_sub_events(struct db_sub *ds, TALLOC_CTX *ctx, int64_t sub_id,
              struct db_sub_event **out, int *n)
{
	struct db_sub_event *v = NULL;
	sqlite3_stmt *st;
	int cnt = 0, rc;

	*out = NULL;
	*n = 0;
	st = db_stmt(ds->db, &ds->ev_list,
	             "SELECT id, binding_id, event, aor, contact, params, q, "
	             "call_id, cseq, expires_at, registered_at FROM "
	             "reg_sub_events WHERE sub_id = ?1 ORDER BY id");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, sub_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_sub_event *e;
		v = talloc_realloc(ctx, v, struct db_sub_event, cnt + 1);
		if (v == NULL) {
			sqlite3_reset(st);
			log_warnx("db_sub: out of memory");
			return -1;
		}
		e = &v[cnt++];
		memset(e, 0, sizeof(*e));
		e->id = sqlite3_column_int64(st, 0);
		e->b.id = sqlite3_column_int64(st, 1);
		e->event = db_col_str(v, st, 2);
		e->b.aor = db_col_str(v, st, 3);
		e->b.contact = db_col_str(v, st, 4);
		e->b.params = db_col_str(v, st, 5);
		if (e->b.params == NULL)
			e->b.params = "";
		e->b.has_q = sqlite3_column_type(st, 6) != SQLITE_NULL;
		e->b.q = sqlite3_column_double(st, 6);
		e->b.call_id = db_col_str(v, st, 7);
		e->b.cseq = (uint32_t)sqlite3_column_int64(st, 8);
		e->b.expires_at = sqlite3_column_int64(st, 9);
		e->b.registered_at = sqlite3_column_int64(st, 10);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_sub_err(ds, "events");
		talloc_free(v);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int
db_sub_events_done(struct db_sub *ds, int64_t sub_id, int64_t upto)
{
	sqlite3_stmt *st;

	st = db_stmt(
	    ds->db, &ds->ev_done,
	    "DELETE FROM reg_sub_events WHERE sub_id = ?1 AND id <= ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, sub_id);
	sqlite3_bind_int64(st, 2, upto);
	return db_sub_exec(ds, st, "events done") == -1 ? -1 : 0;
}
