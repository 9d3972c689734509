/*
 * schema/db_reg.c: the registrations data layer (see db_reg.h). Every
 * statement is prepared once per connection through db_stmt() and its
 * pointer kept in struct db_reg; values are bound, never pasted.
 */
#include <string.h>

#include "util/log.h"
#include "schema/db.h"
#include "schema/db_reg.h"

#define DB_REG_COLS                                                            \
	"id, aor, contact, params, expires_at, q, call_id, cseq, branch, "     \
	"path, received, transport, conn_slot, conn_id, instance, reg_id, "    \
	"user_agent, registered_at, updated_at, impi, integrity, "             \
	"security_client"

struct db_reg {
	sqlite3 *db;
	sqlite3_stmt *load, *insert, *update, *delete, *ident, *expire,
	    *expire_sub, *savepoint, *release, *rollback, *dereg, *conn_bound;
};

struct db_reg *
db_reg_new(TALLOC_CTX *ctx, sqlite3 *db)
{
	struct db_reg *dr;

	if ((dr = talloc_zero(ctx, struct db_reg)) == NULL) {
		log_warnx("db_reg: out of memory");
		return NULL;
	}
	dr->db = db;
	/* The registrar reads an AOR's rows for every REGISTER: a bigger
	 * page cache for this connection (nothing persistent). */
	if (sqlite3_exec(db, "PRAGMA cache_size = -32768", NULL, NULL, NULL) !=
	    SQLITE_OK)
		log_warnx("db_reg: cache_size: %s", sqlite3_errmsg(db));
	return dr;
}

static void
db_reg_err(struct db_reg *dr, const char *what)
{
	char w[64];

	snprintf(w, sizeof(w), "db_reg: %s", what);
	db_fail(dr->db, sqlite3_extended_errcode(dr->db), w);
}

/* A column's text copied under ctx, or NULL (or "" when keep_empty). */
static const char *
db_reg_col(TALLOC_CTX *ctx, sqlite3_stmt *st, int i, int keep_empty)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (t == NULL)
		return keep_empty ? "" : NULL;
	return talloc_strndup(ctx, (const char *)t,
	                      (size_t)sqlite3_column_bytes(st, i));
}

/* One row (DB_REG_COLS order) into b. */
static void
db_reg_row(TALLOC_CTX *ctx, sqlite3_stmt *st, struct db_binding *b)
{
	memset(b, 0, sizeof(*b));
	b->id = sqlite3_column_int64(st, 0);
	b->aor = db_reg_col(ctx, st, 1, 1);
	b->contact = db_reg_col(ctx, st, 2, 1);
	b->params = db_reg_col(ctx, st, 3, 1);
	b->expires_at = sqlite3_column_int64(st, 4);
	if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
		b->has_q = 1;
		b->q = sqlite3_column_double(st, 5);
	}
	b->call_id = db_reg_col(ctx, st, 6, 1);
	b->cseq = (uint32_t)sqlite3_column_int64(st, 7);
	b->branch = db_reg_col(ctx, st, 8, 0);
	b->path = db_reg_col(ctx, st, 9, 0);
	b->received = db_reg_col(ctx, st, 10, 0);
	b->transport = db_reg_col(ctx, st, 11, 1);
	b->conn_slot = db_reg_col(ctx, st, 12, 0);
	b->conn_id = sqlite3_column_int64(st, 13);
	b->instance = db_reg_col(ctx, st, 14, 0);
	b->reg_id = sqlite3_column_int64(st, 15);
	b->user_agent = db_reg_col(ctx, st, 16, 0);
	b->registered_at = sqlite3_column_int64(st, 17);
	b->updated_at = sqlite3_column_int64(st, 18);
	b->impi = db_reg_col(ctx, st, 19, 0);
	b->integrity = db_reg_col(ctx, st, 20, 0);
	b->security_client = db_reg_col(ctx, st, 21, 0);
}

int
db_reg_load(struct db_reg *dr, TALLOC_CTX *ctx, const char *aor,
            struct db_binding **out, int *n)
{
	sqlite3_stmt *st;
	struct db_binding *v = NULL;
	int cnt = 0, cap = 0, rc;

	*out = NULL;
	*n = 0;
	/* Two halves, so that each is served by its partial unique index
	 * (schema.sql): no index on aor alone to keep up at every INSERT.
	 * Bindings without instance come first, by contact URI. */
	st = db_stmt(dr->db, &dr->load,
	             "SELECT " DB_REG_COLS " FROM registrations "
	             "WHERE aor = ?1 AND instance IS NULL UNION ALL "
	             "SELECT " DB_REG_COLS " FROM registrations "
	             "WHERE aor = ?1 AND instance IS NOT NULL");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, aor);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 4;
			v = talloc_realloc(ctx, v, struct db_binding, cap);
			if (v == NULL) {
				sqlite3_reset(st);
				log_warnx("db_reg: out of memory");
				return -1;
			}
		}
		db_reg_row(v, st, &v[cnt++]);
	}
	if (rc != SQLITE_DONE) {
		db_reg_err(dr, "load");
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	*out = v;
	*n = cnt;
	return 0;
}

/* Bind columns 2.. of b (DB_REG_COLS order without id). */
static void
db_reg_bind(sqlite3_stmt *st, const struct db_binding *b)
{
	db_bind_str(st, 2, b->aor);
	db_bind_str(st, 3, b->contact);
	db_bind_str(st, 4, b->params ? b->params : "");
	sqlite3_bind_int64(st, 5, b->expires_at);
	if (b->has_q)
		sqlite3_bind_double(st, 6, b->q);
	else
		sqlite3_bind_null(st, 6);
	db_bind_str(st, 7, b->call_id);
	sqlite3_bind_int64(st, 8, b->cseq);
	db_bind_str(st, 9, b->branch);
	db_bind_str(st, 10, b->path);
	db_bind_str(st, 11, b->received);
	db_bind_str(st, 12, b->transport);
	db_bind_str(st, 13, b->conn_slot);
	if (b->conn_id)
		sqlite3_bind_int64(st, 14, b->conn_id);
	else
		sqlite3_bind_null(st, 14);
	db_bind_str(st, 15, b->instance);
	if (b->reg_id)
		sqlite3_bind_int64(st, 16, b->reg_id);
	else
		sqlite3_bind_null(st, 16);
	db_bind_str(st, 17, b->user_agent);
	sqlite3_bind_int64(st, 18, b->registered_at);
	sqlite3_bind_int64(st, 19, b->updated_at);
	db_bind_str(st, 20, b->impi);
	db_bind_str(st, 21, b->integrity);
	db_bind_str(st, 22, b->security_client);
}

/* Step a statement that returns no rows; 0 or -1 (logged). */
static int
db_reg_exec(struct db_reg *dr, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_reg_err(dr, what);
		return -1;
	}
	return 0;
}

int
db_reg_insert(struct db_reg *dr, struct db_binding *b)
{
	sqlite3_stmt *st;

	st = db_stmt(dr->db, &dr->insert,
	             "INSERT INTO registrations (" DB_REG_COLS ") VALUES "
	             "(NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
	             "?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)");
	if (st == NULL)
		return -1;
	db_reg_bind(st, b);
	if (db_reg_exec(dr, st, "insert") == -1)
		return -1;
	b->id = sqlite3_last_insert_rowid(dr->db);
	return 0;
}

int
db_reg_update(struct db_reg *dr, const struct db_binding *b)
{
	sqlite3_stmt *st;

	st = db_stmt(dr->db, &dr->update,
	             "UPDATE registrations SET aor = ?2, contact = ?3, "
	             "params = ?4, expires_at = ?5, q = ?6, call_id = ?7, "
	             "cseq = ?8, branch = ?9, path = ?10, received = ?11, "
	             "transport = ?12, conn_slot = ?13, conn_id = ?14, "
	             "instance = ?15, reg_id = ?16, user_agent = ?17, "
	             "registered_at = ?18, updated_at = ?19, impi = ?20, "
	             "integrity = ?21, security_client = ?22 WHERE id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, b->id);
	db_reg_bind(st, b);
	return db_reg_exec(dr, st, "update");
}

int
db_reg_delete(struct db_reg *dr, int64_t id)
{
	sqlite3_stmt *st;

	st = db_stmt(dr->db, &dr->delete,
	             "DELETE FROM registrations WHERE id = ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return db_reg_exec(dr, st, "delete");
}

int
db_reg_identities(struct db_reg *dr, TALLOC_CTX *ctx, const char *aor,
                  char **impu, char **extra)
{
	sqlite3_stmt *st;
	int rc;

	*impu = *extra = NULL;
	st = db_stmt(dr->db, &dr->ident,
	             "SELECT impu, extra_impu FROM subscribers WHERE impu = ?1 "
	             "LIMIT 1");
	if (st == NULL)
		return -1;
	db_bind_str(st, 1, aor);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*impu = (char *)db_reg_col(ctx, st, 0, 1);
		*extra = (char *)db_reg_col(ctx, st, 1, 0);
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_reg_err(dr, "identities");
		return -1;
	}
	return 0;
}

int
db_reg_expire(struct db_reg *dr, time_t now,
              void (*fn)(void *arg, const struct db_binding *b), void *arg)
{
	sqlite3_stmt *st;
	TALLOC_CTX *tmp;
	int rc, n = 0;

	st = db_stmt(dr->db, &dr->expire,
	             "DELETE FROM registrations WHERE expires_at <= ?1 "
	             "RETURNING " DB_REG_COLS);
	if (st == NULL)
		return -1;
	if ((tmp = talloc_new(NULL)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_binding b;
		db_reg_row(tmp, st, &b);
		n++;
		if (fn != NULL)
			fn(arg, &b);
		talloc_free_children(tmp);
	}
	sqlite3_reset(st);
	talloc_free(tmp);
	if (rc != SQLITE_DONE) {
		db_reg_err(dr, "expire");
		return -1;
	}
	return n;
}

int
db_reg_deregister(struct db_reg *dr,
                  void (*fn)(void *arg, const struct db_binding *b,
                             const char *event),
                  void *arg)
{
	sqlite3_stmt *st;
	TALLOC_CTX *tmp;
	int rc, n = 0;

	st = db_stmt(dr->db, &dr->dereg,
	             "DELETE FROM registrations WHERE deregister IS NOT NULL "
	             "RETURNING " DB_REG_COLS ", deregister");
	if (st == NULL)
		return -1;
	if ((tmp = talloc_new(NULL)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_binding b;
		const char *ev = db_reg_col(tmp, st, 22, 1);
		db_reg_row(tmp, st, &b);
		n++;
		if (fn != NULL)
			fn(arg, &b, ev);
		talloc_free_children(tmp);
	}
	sqlite3_reset(st);
	talloc_free(tmp);
	if (rc != SQLITE_DONE) {
		db_reg_err(dr, "deregister");
		return -1;
	}
	return n;
}

int
db_reg_expire_subscriptions(struct db_reg *dr, time_t now)
{
	sqlite3_stmt *st;

	st = db_stmt(dr->db, &dr->expire_sub,
	             "DELETE FROM reg_subscriptions WHERE expires_at <= ?1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	if (db_reg_exec(dr, st, "expire subscriptions") == -1)
		return -1;
	return sqlite3_changes(dr->db);
}

int
db_reg_savepoint(struct db_reg *dr)
{
	sqlite3_stmt *st = db_stmt(dr->db, &dr->savepoint, "SAVEPOINT reg");
	return st ? db_reg_exec(dr, st, "savepoint") : -1;
}

int
db_reg_release(struct db_reg *dr)
{
	sqlite3_stmt *st = db_stmt(dr->db, &dr->release, "RELEASE reg");

	if (st == NULL || db_reg_exec(dr, st, "release") == -1)
		return -1;
	return 0;
}

int
db_reg_rollback(struct db_reg *dr)
{
	sqlite3_stmt *st = db_stmt(dr->db, &dr->rollback, "ROLLBACK TO reg");
	if (st == NULL || db_reg_exec(dr, st, "rollback to") == -1)
		return -1;
	return db_reg_release(dr);
}

int
db_reg_conn_bound(struct db_reg *dr, const char *slot, int64_t conn_id,
                  const char *received, time_t now)
{
	sqlite3_stmt *st;
	int rc, bound = 0;

	st = db_stmt(dr->db, &dr->conn_bound,
	             "SELECT 1 FROM registrations WHERE conn_id = ?1 AND "
	             "conn_slot = ?2 AND received = ?3 AND expires_at > ?4 "
	             "LIMIT 1");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, conn_id);
	db_bind_str(st, 2, slot);
	db_bind_str(st, 3, received);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		bound = 1;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_reg_err(dr, "conn_bound");
		return -1;
	}
	return bound;
}
