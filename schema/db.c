/*
 * schema/db.c: the data layer's common part (see db.h): opening a
 * connection with afd's settings, the schema and its upgrades, transactions,
 * prepared statements kept per connection, and the workers table.
 *
 * The schema is schema/schema.sql compiled in as afd_schema_sql. Its
 * statements are all "IF NOT EXISTS", so applying it to any file creates
 * what is missing. A file's PRAGMA user_version says which version it has;
 * db_steps[] upgrades it one version at a time, in order, inside one
 * transaction with the schema itself. A file newer than this afd is refused.
 *
 * Every connection carries afd's WAL hook (struct db_wal, allocated by
 * db_open, freed by db_close; it is the hook's argument, which is how the
 * other db_wal_* functions find it): see db.h, "Checkpoints".
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "schema/db.h"

extern const char afd_schema_sql[];

/*
 * How long a statement waits for the write lock another connection holds
 * (sqlite3_busy_timeout), in milliseconds. Workers wait inside their event
 * loop, so every millisecond here delays everything the loop serves (an
 * OPTIONS in the same burst as a REGISTER). 10 ms rides out another afd
 * process's group commit (1-3 ms for a burst of 64 REGISTERs on this
 * project's machine, a few ms more with durability = full on a slow disk)
 * and is far below a client's Timer T1 (500 ms). A lock held longer (a
 * sqlite3 session's open write transaction) makes the statement fail with
 * SQLITE_BUSY: the REGISTER is answered 500 with Retry-After. While the
 * lock stays taken (an "episode", logged once when it starts and once when
 * it ends), the connection does not wait at all: each write fails at once
 * until one succeeds.
 */
#define DB_BUSY_MS 10
/* The master's schema upgrade at start and its workers-table resets wait
 * longer: nothing is served yet (or any more). */
#define DB_BUSY_MASTER_MS 5000

struct db_wal {
	db_wal_kick_fn *kick;
	void *arg;
	int kick_frames, max_frames;
	int prev;            /* the WAL's frames at the last commit */
	int kicked;          /* kicked in this WAL round */
	sqlite3 *db;         /* the connection (db_wal_find) */
	struct db_wal *next; /* this process's connections from db_open */
	int locked; /* in a lock episode: the last write found the lock taken */
	uint64_t locked_ms;    /* when the episode began */
	unsigned long refused; /* writes refused in this episode */
	uint64_t kick_ms;
	unsigned long kicks, fallbacks;
	/* BEGIN IMMEDIATE and COMMIT, prepared once (db_begin, db_commit):
	 * every batch runs them, and sqlite3_exec would parse them each time */
	sqlite3_stmt *begin, *commit;
};

static uint64_t
db_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* sqlite3_wal_hook's callback: after every commit, with the WAL's size. */
static int
db_wal_cb(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct db_wal *h = arg;
	uint64_t now;

	if (h == NULL)
		return SQLITE_OK;
	if (frames < h->prev) /* the WAL restarted: a new round */
		h->kicked = 0;
	h->prev = frames;
	if (frames < h->kick_frames)
		return SQLITE_OK;
	if (h->kick == NULL || frames >= h->max_frames) {
		if (h->kick != NULL && h->fallbacks++ % DB_WAL_LOG_EVERY == 0)
			log_info("db: the WAL has %d frames (the checkpointer "
			         "is gone or behind): checkpoint in-line "
			         "(%lu times)",
			         frames, h->fallbacks);
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
		                          NULL, NULL);
		return SQLITE_OK;
	}
	now = db_now_ms();
	if (h->kicked && now - h->kick_ms < DB_WAL_REKICK_MS)
		return SQLITE_OK;
	h->kicked = 1;
	h->kick_ms = now;
	h->kicks++;
	h->kick(h->arg, frames);
	return SQLITE_OK;
}

/* The connection's hook state: swapped out and back (sqlite3_wal_hook
 * returns the previous argument). NULL when db_open did not make db. */
static struct db_wal *
db_wal_get(sqlite3 *db)
{
	struct db_wal *h = sqlite3_wal_hook(db, db_wal_cb, NULL);

	sqlite3_wal_hook(db, db_wal_cb, h);
	return h;
}

/* This process's connections from db_open, for db_fail and db_ok, which
 * any connection may reach (db_wal_get is only for db_open's: the hook
 * argument of another connection is SQLite's own). */
static struct db_wal *db_wals;

/* The state of connection db, or NULL when db_open did not make it. */
static struct db_wal *
db_wal_find(sqlite3 *db)
{
	for (struct db_wal *h = db_wals; h != NULL; h = h->next)
		if (h->db == db)
			return h;
	return NULL;
}

void
db_fail(sqlite3 *db, int rc, const char *what)
{
	struct db_wal *h = db_wal_find(db);

	if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
		log_warnx("%s: %s", what, sqlite3_errmsg(db));
		return;
	}
	if (h == NULL) { /* not one of db_open's: no episode to keep */
		log_warnx("%s: %s", what, sqlite3_errmsg(db));
		return;
	}
	h->refused++;
	if (h->locked)
		return;
	h->locked = 1;
	h->locked_ms = db_now_ms();
	sqlite3_busy_timeout(db, 0);
	log_warnx("%s: the database is locked by another connection for more "
	          "than %d ms (an open write transaction in a sqlite3 "
	          "session?): requests that write are answered 500 with "
	          "Retry-After until it is released",
	          what, DB_BUSY_MS);
}

void
db_ok(sqlite3 *db)
{
	struct db_wal *h = db_wal_find(db);

	if (h == NULL || !h->locked)
		return;
	h->locked = 0;
	sqlite3_busy_timeout(db, DB_BUSY_MS);
	log_info("db: the database lock is released: writes work again after "
	         "%llu ms (%lu refused)",
	         (unsigned long long)(db_now_ms() - h->locked_ms), h->refused);
	h->refused = 0;
}

int
db_wal_hook_install(sqlite3 *db, db_wal_kick_fn *kick, void *arg)
{
	struct db_wal *h = db_wal_get(db);

	if (h == NULL)
		return -1;
	h->kick = kick;
	h->arg = arg;
	return 0;
}

int
db_wal_hook_limits(sqlite3 *db, int kick_frames, int max_frames)
{
	struct db_wal *h = db_wal_get(db);

	if (h == NULL)
		return -1;
	h->kick_frames = kick_frames;
	h->max_frames = max_frames;
	return 0;
}

int
db_wal_hook_counts(sqlite3 *db, unsigned long *kicks, unsigned long *fallbacks)
{
	struct db_wal *h = db_wal_get(db);

	if (h == NULL)
		return -1;
	*kicks = h->kicks;
	*fallbacks = h->fallbacks;
	return 0;
}

int
db_checkpoint(sqlite3 *db, int *frames, int *copied)
{
	int rc;

	*frames = *copied = -1;
	rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	                               frames, copied);
	if (rc == SQLITE_BUSY)
		return 1;
	if (rc != SQLITE_OK) {
		log_warnx("db: checkpoint: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int
db_wal_truncate(sqlite3 *db, long long *size)
{
	struct db_wal *h = db_wal_find(db);
	const char *name = sqlite3_db_filename(db, "main");
	char path[1024];
	struct stat st;
	int rc;

	*size = -1;
	if (name == NULL || name[0] == '\0' ||
	    (size_t)snprintf(path, sizeof(path), "%s-wal", name) >=
	        sizeof(path) ||
	    stat(path, &st) == -1)
		return 1; /* no WAL file: nothing to do */
	*size = st.st_size;
	if (st.st_size <= DB_WAL_SIZE_LIMIT)
		return 1;
	sqlite3_busy_timeout(db, 0); /* never wait for a worker */
	rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	                               NULL, NULL);
	sqlite3_busy_timeout(db, h != NULL && h->locked ? 0 : DB_BUSY_MS);
	if (rc == SQLITE_BUSY)
		return 1;
	if (rc != SQLITE_OK) {
		log_warnx("db: checkpoint (truncate): %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

sqlite3 *
db_open(const struct conf *c)
{
	sqlite3 *db = NULL;
	struct db_wal *h;
	char sql[192];
	int rc;

	(void)db_pcache_setup(); /* a no-op once done, or too late */
	rc = sqlite3_open_v2(c->database, &db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                         SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		log_warnx("db: cannot open %s: %s", c->database,
		          db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(db, DB_BUSY_MS);
	snprintf(sql, sizeof(sql),
	         "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; "
	         "PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=-1;",
	         c->durability == CONF_DUR_FULL ? "FULL" : "NORMAL");
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("db: %s: %s", c->database, sqlite3_errmsg(db));
		goto fail;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		log_warnx("db: out of memory");
		goto fail;
	}
	h->kick_frames = DB_WAL_KICK_FRAMES;
	h->max_frames = DB_WAL_MAX_FRAMES;
	h->db = db;
	h->next = db_wals;
	db_wals = h;
	sqlite3_wal_hook(db, db_wal_cb, h); /* no automatic checkpoint now */
	return db;
fail:
	sqlite3_close(db);
	return NULL;
}

void
db_start_wait(sqlite3 *db, int on)
{
	struct db_wal *h = db_wal_find(db);

	if (on)
		sqlite3_busy_timeout(db, DB_BUSY_MASTER_MS);
	else /* a lock episode that began meanwhile keeps its 0 */
		sqlite3_busy_timeout(db,
		                     h != NULL && h->locked ? 0 : DB_BUSY_MS);
}

int
db_cache_kib(sqlite3 *db, int kib)
{
	char sql[48];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kib);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("db: cache_size: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

void
db_close(sqlite3 *db)
{
	sqlite3_stmt *st;
	struct db_wal *h;

	if (db == NULL)
		return;
	while ((st = sqlite3_next_stmt(db, NULL)) != NULL)
		sqlite3_finalize(st);
	h = db_wal_find(db);
	for (struct db_wal **pp = &db_wals; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	sqlite3_wal_hook(db, NULL, NULL);
	if (sqlite3_close(db) != SQLITE_OK)
		log_warnx("db: close: %s", sqlite3_errmsg(db));
	free(h);
}

static int
db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("db: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Step the kept statement *stp of db (prepared from sql the first time;
 * sqlite3_exec for a connection db_open did not make). SQLITE_OK or the
 * error code; the statement is reset either way. */
static int
db_exec_kept(sqlite3 *db, sqlite3_stmt **stp, const char *sql)
{
	sqlite3_stmt *st;
	int rc;

	if (stp == NULL)
		return sqlite3_exec(db, sql, NULL, NULL, NULL);
	if ((st = db_stmt(db, stp, sql)) == NULL)
		return sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errcode(db)
		                                        : SQLITE_ERROR;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

int
db_begin(sqlite3 *db)
{
	struct db_wal *h = db_wal_find(db);
	int rc = db_exec_kept(db, h ? &h->begin : NULL, "BEGIN IMMEDIATE");

	if (rc != SQLITE_OK) {
		db_fail(db, rc, "db: begin");
		return -1;
	}
	db_ok(db);
	return 0;
}

/* db_exec with the master's longer wait for the lock. */
static int
db_exec_master(sqlite3 *db, const char *sql)
{
	int rc;

	sqlite3_busy_timeout(db, DB_BUSY_MASTER_MS);
	rc = db_exec(db, sql);
	sqlite3_busy_timeout(db, DB_BUSY_MS);
	return rc;
}

int
db_commit(sqlite3 *db)
{
	struct db_wal *h = db_wal_find(db);

	if (db_exec_kept(db, h ? &h->commit : NULL, "COMMIT") != SQLITE_OK) {
		log_warnx("db: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int
db_rollback(sqlite3 *db)
{
	if (sqlite3_get_autocommit(db))
		return 0;
	return db_exec(db, "ROLLBACK");
}

char *
db_col_str(TALLOC_CTX *ctx, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (t == NULL)
		return NULL;
	return talloc_strndup(ctx, (const char *)t,
	                      (size_t)sqlite3_column_bytes(st, i));
}

int
db_bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

sqlite3_stmt *
db_stmt(sqlite3 *db, sqlite3_stmt **stmt, const char *sql)
{
	if (*stmt == NULL) {
		if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT,
		                       stmt, NULL) != SQLITE_OK) {
			log_warnx("db: prepare \"%.60s\": %s", sql,
			          sqlite3_errmsg(db));
			*stmt = NULL;
			return NULL;
		}
		return *stmt;
	}
	sqlite3_reset(*stmt);
	sqlite3_clear_bindings(*stmt);
	return *stmt;
}

static int
db_user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK) {
		log_warnx("db: %s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (*v < 0) {
		log_warnx("db: cannot read user_version: %s",
		          sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Does the file's table t lack a column that the reference has? */
static int
db_table_lacks(sqlite3 *db, sqlite3 *ref, const char *t, int *lacks)
{
	sqlite3_stmt *st = NULL, *have = NULL;
	int rc = -1;

	*lacks = 0;
	if (sqlite3_prepare_v2(ref, "SELECT name FROM pragma_table_info(?)", -1,
	                       &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM pragma_table_info(?1) "
	                       "WHERE name = ?2",
	                       -1, &have, NULL) != SQLITE_OK) {
		log_warnx("db: %s", sqlite3_errmsg(db));
		goto done;
	}
	sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_reset(have);
		sqlite3_bind_text(have, 1, t, -1, SQLITE_STATIC);
		sqlite3_bind_text(have, 2,
		                  (const char *)sqlite3_column_text(st, 0), -1,
		                  SQLITE_TRANSIENT);
		if (sqlite3_step(have) != SQLITE_ROW)
			*lacks = 1;
	}
	rc = 0;
done:
	sqlite3_finalize(st);
	sqlite3_finalize(have);
	return rc;
}

/*
 * Copy the rows of old into t (both exist): the columns they share, and for
 * a NOT NULL column without default that old lacks, a neutral value (now
 * for *_at times, 0 for numbers, '' for text).
 */
static int
db_copy_rows(sqlite3 *db, const char *t, const char *old)
{
	sqlite3_stmt *st = NULL, *has = NULL;
	char *cols = sqlite3_mprintf(""), *vals = sqlite3_mprintf(""), *sql;
	int rc = -1;

	if (sqlite3_prepare_v2(db,
	                       "SELECT name, type, \"notnull\", dflt_value, pk "
	                       "FROM pragma_table_info(?)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM pragma_table_info(?1) "
	                       "WHERE name = ?2",
	                       -1, &has, NULL) != SQLITE_OK) {
		log_warnx("db: %s", sqlite3_errmsg(db));
		goto done;
	}
	sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 1);
		int notnull = sqlite3_column_int(st, 2);
		int dflt = sqlite3_column_type(st, 3) != SQLITE_NULL;
		const char *val;
		char *c2, *v2;
		size_t nl = strlen(name);

		sqlite3_reset(has);
		sqlite3_bind_text(has, 1, old, -1, SQLITE_STATIC);
		sqlite3_bind_text(has, 2, name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(has) == SQLITE_ROW)
			val = NULL; /* copied as is */
		else if (!notnull || dflt)
			continue; /* NULL or its default */
		else if (nl > 3 && strcmp(name + nl - 3, "_at") == 0)
			val = "CAST(strftime('%s','now') AS INTEGER)";
		else if (type && (strstr(type, "INT") || strstr(type, "REAL")))
			val = "0";
		else
			val = "''";
		c2 = sqlite3_mprintf("%s%s\"%w\"", cols, *cols ? ", " : "",
		                     name);
		if (val)
			v2 = sqlite3_mprintf("%s%s%s", vals, *vals ? ", " : "",
			                     val);
		else
			v2 = sqlite3_mprintf("%s%s\"%w\"", vals,
			                     *vals ? ", " : "", name);
		sqlite3_free(cols);
		sqlite3_free(vals);
		cols = c2;
		vals = v2;
		if (cols == NULL || vals == NULL)
			goto done;
	}
	sql = sqlite3_mprintf("INSERT INTO \"%w\" (%s) SELECT %s FROM \"%w\"",
	                      t, cols, vals, old);
	if (sql == NULL)
		goto done;
	rc = db_exec(db, sql);
	sqlite3_free(sql);
done:
	sqlite3_free(cols);
	sqlite3_free(vals);
	sqlite3_finalize(st);
	sqlite3_finalize(has);
	return rc;
}

/*
 * Step to version 1, from a file made before the schema had a version
 * (user_version 0): early prototypes had some of the tables with fewer
 * columns. Each table of the schema that exists but lacks columns is
 * rebuilt: renamed to <t>_v0, created anew by the schema, its rows copied,
 * the old one dropped. Views are dropped and made again by the schema.
 */
static int
db_step_1(sqlite3 *db)
{
	sqlite3 *ref = NULL;
	sqlite3_stmt *st = NULL;
	char **moved = NULL;
	int nmoved = 0, rc = -1;

	if (sqlite3_open(":memory:", &ref) != SQLITE_OK ||
	    db_exec(ref, afd_schema_sql) == -1)
		goto done;
	if (db_exec(db, "DROP VIEW IF EXISTS active_registrations;"
	                "DROP VIEW IF EXISTS active_calls;") == -1)
		goto done;
	if (sqlite3_prepare_v2(ref,
	                       "SELECT name FROM sqlite_schema "
	                       "WHERE type = 'table' ORDER BY name",
	                       -1, &st, NULL) != SQLITE_OK)
		goto done;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		int lacks;
		char *sql;

		if (db_table_lacks(db, ref, t, &lacks) == -1)
			goto done;
		if (!lacks)
			continue;
		/* A table the file does not have at all lacks every column:
		 * the schema creates it, nothing to move. */
		sqlite3_stmt *ex = NULL;
		int exists = 0;
		if (sqlite3_prepare_v2(db,
		                       "SELECT 1 FROM sqlite_schema WHERE "
		                       "type = 'table' AND name = ?",
		                       -1, &ex, NULL) == SQLITE_OK) {
			sqlite3_bind_text(ex, 1, t, -1, SQLITE_STATIC);
			exists = sqlite3_step(ex) == SQLITE_ROW;
		}
		sqlite3_finalize(ex);
		if (!exists)
			continue;
		log_info("db: upgrading table %s from a version 0 file", t);
		sql = sqlite3_mprintf("ALTER TABLE \"%w\" RENAME TO \"%w_v0\"",
		                      t, t);
		rc = sql ? db_exec(db, sql) : -1;
		sqlite3_free(sql);
		if (rc == -1)
			goto done;
		rc = -1;
		moved = realloc(moved, sizeof(*moved) * (size_t)(nmoved + 1));
		if (moved == NULL)
			goto done;
		moved[nmoved++] = sqlite3_mprintf("%s", t);
	}
	if (db_exec(db, afd_schema_sql) == -1)
		goto done;
	for (int i = 0; i < nmoved; i++) {
		char old[256], *sql;

		snprintf(old, sizeof(old), "%s_v0", moved[i]);
		if (db_copy_rows(db, moved[i], old) == -1)
			goto done;
		sql = sqlite3_mprintf("DROP TABLE \"%w\"", old);
		rc = sql ? db_exec(db, sql) : -1;
		sqlite3_free(sql);
		if (rc == -1)
			goto done;
		rc = -1;
	}
	rc = 0;
done:
	if (rc == -1 && ref && sqlite3_errcode(ref) != SQLITE_OK)
		log_warnx("db: upgrade to version 1: %s", sqlite3_errmsg(ref));
	for (int i = 0; i < nmoved; i++)
		sqlite3_free(moved[i]);
	free(moved);
	sqlite3_finalize(st);
	sqlite3_close(ref);
	return rc;
}

/* Make table (and its indexes) as the current schema has it, and nothing
 * else: the rest of the schema may name columns that later steps add. */
static int
db_make_table(sqlite3 *db, const char *table)
{
	sqlite3 *ref = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_open(":memory:", &ref) != SQLITE_OK ||
	    db_exec(ref, afd_schema_sql) == -1 ||
	    sqlite3_prepare_v2(
	        ref,
	        "SELECT sql FROM sqlite_schema WHERE tbl_name = ? "
	        "AND type IN ('table', 'index') AND sql IS NOT "
	        "NULL ORDER BY type = 'index'",
	        -1, &st, NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (db_exec(db, (const char *)sqlite3_column_text(st, 0)) == -1)
			goto done;
	rc = 0;
done:
	sqlite3_finalize(st);
	sqlite3_close(ref);
	return rc;
}

/*
 * Step to version 2: registrations loses its UNIQUE (aor, contact), which
 * made two RFC 5626 flows (or two instances) with one contact URI one row;
 * the schema's partial unique indexes take its place. SQLite cannot drop a
 * table constraint, so the table is rebuilt: renamed away with its view
 * and index dropped, made anew by the schema, its rows copied (all
 * columns are the same), the old one dropped.
 */
static int
db_step_2(sqlite3 *db)
{
	static const char cols[] =
	    "id, aor, contact, params, expires_at, q, call_id, cseq, branch, "
	    "path, received, transport, conn_slot, conn_id, instance, reg_id, "
	    "user_agent, registered_at, updated_at";
	sqlite3_stmt *ex = NULL;
	char *sql = NULL;
	int exists, rc = -1;

	/* A table this schema made already (step 1 applies it) has the
	 * flow index; no table at all: the schema makes it. */
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT (SELECT count(*) FROM sqlite_schema "
	        "WHERE type = 'table' AND name = 'registrations') "
	        "AND NOT (SELECT count(*) FROM sqlite_schema "
	        "WHERE type = 'index' AND "
	        "name = 'registrations_flow')",
	        -1, &ex, NULL) != SQLITE_OK)
		goto done;
	exists = sqlite3_step(ex) == SQLITE_ROW && sqlite3_column_int(ex, 0);
	sqlite3_finalize(ex);
	ex = NULL;
	if (!exists) {
		rc = 0;
		goto done;
	}
	log_info("db: upgrading table registrations to version 2 (RFC 5626 "
	         "flows)");
	if (db_exec(db,
	            "DROP VIEW IF EXISTS active_registrations;"
	            "DROP INDEX IF EXISTS registrations_expires;"
	            "ALTER TABLE registrations RENAME TO registrations_v1;") ==
	        -1 ||
	    db_make_table(db, "registrations") == -1)
		goto done;
	/* the newest binding wins where old rows would collide */
	sql = sqlite3_mprintf("INSERT OR IGNORE INTO registrations (%s) "
	                      "SELECT %s FROM registrations_v1 "
	                      "ORDER BY updated_at DESC, id DESC;"
	                      "DROP TABLE registrations_v1;",
	                      cols, cols);
	if (sql == NULL || db_exec(db, sql) == -1)
		goto done;
	rc = 0;
done:
	sqlite3_free(sql);
	sqlite3_finalize(ex);
	return rc;
}

/* Add column col (declared as decl) to table unless it has it: the steps
 * after 1 are idempotent, since step 1 creates the current schema. A
 * table the file does not have is left to the schema, which makes it
 * whole after the steps. */
static int
db_add_column(sqlite3 *db, const char *table, const char *col, const char *decl)
{
	sqlite3_stmt *st = NULL;
	char *sql;
	int has = 0, rc;

	sql =
	    sqlite3_mprintf("SELECT (SELECT count(*) FROM sqlite_schema WHERE "
	                    "type = 'table' AND name = %Q) = 0 OR EXISTS "
	                    "(SELECT 1 FROM pragma_table_info(%Q) "
	                    "WHERE name = %Q)",
	                    table, table, col);
	if (sql == NULL ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_free(sql);
		return -1;
	}
	sqlite3_free(sql);
	has = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (has)
		return 0;
	sql = sqlite3_mprintf("ALTER TABLE \"%w\" ADD COLUMN \"%w\" %s", table,
	                      col, decl);
	rc = sql ? db_exec(db, sql) : -1;
	sqlite3_free(sql);
	return rc;
}

/* Step to version 3: the OPTIONS pings of the registrar (workers/ping.c)
 * record their state with each binding. */
static int
db_step_3(sqlite3 *db)
{
	if (db_add_column(db, "registrations", "ping_at", "INTEGER") == -1 ||
	    db_add_column(db, "registrations", "ping_branch", "TEXT") == -1 ||
	    db_add_column(db, "registrations", "ping_sent_at", "INTEGER") ==
	        -1 ||
	    db_add_column(db, "registrations", "ping_ok_at", "INTEGER") == -1 ||
	    db_add_column(db, "registrations", "ping_failures",
	                  "INTEGER NOT NULL DEFAULT 0") == -1)
		return -1;
	/* the view lists the new columns: made again by the schema */
	return db_exec(db, "DROP VIEW IF EXISTS active_registrations");
}

/*
 * Step to version 4: the reg event. registrations gains deregister (the
 * tester's network-initiated de-registration); reg_subscriptions gains the
 * notifier's state (watcher, event_id, the TCP flow, state, reason,
 * pending, last_status, sent_at, created_at, updated_at). Columns are
 * added in place; the rows are kept.
 */
static int
db_step_4(sqlite3 *db)
{
	static const char *const cols[][3] = {
	    {"registrations", "deregister",
	     "TEXT CHECK (deregister IN ('deactivated', 'rejected'))"},
	    {"reg_subscriptions", "watcher", "TEXT"},
	    {"reg_subscriptions", "event_id", "TEXT"},
	    {"reg_subscriptions", "conn_slot", "TEXT"},
	    {"reg_subscriptions", "conn_id", "INTEGER"},
	    {"reg_subscriptions", "state",
	     "TEXT NOT NULL DEFAULT 'active' "
	     "CHECK (state IN ('active', 'terminated'))"},
	    {"reg_subscriptions", "reason", "TEXT"},
	    {"reg_subscriptions", "pending", "INTEGER NOT NULL DEFAULT 0"},
	    {"reg_subscriptions", "last_status", "INTEGER"},
	    {"reg_subscriptions", "sent_at", "INTEGER"},
	    {"reg_subscriptions", "created_at", "INTEGER NOT NULL DEFAULT 0"},
	    {"reg_subscriptions", "updated_at", "INTEGER NOT NULL DEFAULT 0"},
	};

	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		if (db_add_column(db, cols[i][0], cols[i][1], cols[i][2]) == -1)
			return -1;
	return 0;
}

/*
 * Step to version 5 (authentication): subscribers gains op and algorithm
 * (a file that step 1 rebuilt has them already); the new tables
 * (auth_vectors, auth_nonces, afd_keys) and indexes come from the schema.
 */
static int
db_step_5(sqlite3 *db)
{
	if (db_add_column(db, "subscribers", "op", "TEXT") == -1 ||
	    db_add_column(db, "subscribers", "algorithm",
	                  "TEXT NOT NULL DEFAULT 'milenage'") == -1)
		return -1;
	return 0;
}

/* Step to version 6: the B2BUA's working state in `dialogs`
 * (workers/b2bua.c) and the call's identity in `calls`. */
static int
db_step_6(sqlite3 *db)
{
	static const char *const dcols[][2] = {
	    {"a_contact", "TEXT"},
	    {"a_route", "TEXT"},
	    {"a_peer", "TEXT"},
	    {"a_out_cseq", "INTEGER NOT NULL DEFAULT 0"},
	    {"a_inv_cseq", "INTEGER NOT NULL DEFAULT 0"},
	    {"b_contact", "TEXT"},
	    {"b_route", "TEXT"},
	    {"b_peer", "TEXT"},
	    {"b_in_cseq", "INTEGER NOT NULL DEFAULT 0"},
	    {"b_inv_cseq", "INTEGER NOT NULL DEFAULT 1"},
	    {"b_branch", "TEXT"},
	    {"answered_at", "INTEGER"},
	    {"ring_deadline", "INTEGER"},
	    {"end_reason", "TEXT"},
	};

	for (size_t i = 0; i < sizeof(dcols) / sizeof(dcols[0]); i++)
		if (db_add_column(db, "dialogs", dcols[i][0], dcols[i][1]) ==
		    -1)
			return -1;
	if (db_add_column(db, "calls", "dialog_id", "INTEGER") == -1 ||
	    db_add_column(db, "calls", "a_call_id", "TEXT") == -1 ||
	    db_add_column(db, "calls", "b_call_id", "TEXT") == -1)
		return -1;
	/* the view lists the new columns: made again by the schema */
	return db_exec(db, "DROP VIEW IF EXISTS active_calls");
}

/* Step to version 7 (the authentication gate): registrations records
 * which private identity authenticated each binding, integrity-protected
 * and Security-Client (sec-agree without IPsec). */
static int
db_step_7(sqlite3 *db)
{
	if (db_add_column(db, "registrations", "impi", "TEXT") == -1 ||
	    db_add_column(db, "registrations", "integrity", "TEXT") == -1 ||
	    db_add_column(db, "registrations", "security_client", "TEXT") == -1)
		return -1;
	return 0;
}

/* Step to version 8: the reg event's contact events owed to a NOTIFY
 * (reg_sub_events, a new table the schema creates); reg_subscriptions'
 * pending gains the value 2 (a NOTIFY owed, not taken yet): a pending row
 * of an older file is one whose NOTIFY is owed. */
static int
db_step_8(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int has;

	/* a file without the table gets it from the schema */
	if (sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM pragma_table_info("
	                       "'reg_subscriptions') WHERE name = 'pending'",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	has = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (!has)
		return 0;
	return db_exec(db, "UPDATE reg_subscriptions SET pending = 2 "
	                   "WHERE pending <> 0");
}

/* Step to version 9: parallel forking of calls. dialogs gains forks (how
 * many B-leg INVITEs went out in parallel); dialog_forks, a new table the
 * schema creates, holds each of them; dialog_relays (new too) the requests
 * inside calls whose answer is being relayed. */
static int
db_step_9(sqlite3 *db)
{
	return db_add_column(db, "dialogs", "forks",
	                     "INTEGER NOT NULL DEFAULT 0");
}

/* Step to version 10: subscriber_ids, every name a subscriber is looked up
 * by, kept by triggers on subscribers (schema.sql); auth_vectors gains nc
 * (an AKA answer's replay record, kept in its vector's row instead of a
 * row of auth_nonces). The last step: the schema is applied here (every
 * earlier step ran), then each existing row's names are made by the
 * update trigger ("SET impu = impu" fires it for every row). */
static int
db_step_10(sqlite3 *db)
{
	if (db_add_column(db, "auth_vectors", "nc",
	                  "INTEGER NOT NULL DEFAULT -1") == -1 ||
	    db_exec(db, afd_schema_sql) == -1)
		return -1;
	return db_exec(db, "UPDATE subscribers SET impu = impu");
}

/* Step 11's dialog_relays: made again WITHOUT ROWID (keyed by branch
 * alone, one b-tree), its rows kept, unless it is so already. 0 or -1. */
static int
db_step_11_relays(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rowid;

	if (sqlite3_prepare_v2(
	        db,
	        "SELECT count(*) FROM sqlite_schema WHERE name = "
	        "'dialog_relays' AND sql NOT LIKE "
	        "'%WITHOUT ROWID%'",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	rowid = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (rowid == -1)
		return -1;
	if (rowid == 0)
		return 0;
	return db_exec(
	    db, "DROP INDEX IF EXISTS dialog_relays_dialog; "
	        "ALTER TABLE dialog_relays RENAME TO dialog_relays_v10; "
	        "CREATE TABLE dialog_relays (branch TEXT PRIMARY KEY, "
	        "dialog_id INTEGER NOT NULL, method TEXT NOT NULL, request "
	        "TEXT NOT NULL, peer TEXT NOT NULL, created_at INTEGER NOT "
	        "NULL) WITHOUT ROWID; "
	        "INSERT OR IGNORE INTO dialog_relays SELECT branch, dialog_id, "
	        "method, request, peer, created_at FROM dialog_relays_v10; "
	        "DROP TABLE dialog_relays_v10");
}

/*
 * Step to version 11: fewer pages written per call stage. The stored
 * INVITEs move from dialogs to dialog_requests (a row each, written once);
 * the partial indexes on stage (dialogs_live, dialogs_owner) give way to
 * live_dialogs, kept by triggers (schema.sql), filled here with the
 * calls not ended; active_calls reads it (made again after the steps);
 * dialog_relays loses its rowid and its dialog_id index.
 * Idempotent: a file whose dialogs has no a_request (made by this schema, or
 * upgraded already) copies nothing.
 */
static int
db_step_11(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int has;

	/* every earlier step ran: the schema's new tables and triggers */
	if (db_exec(db, afd_schema_sql) == -1 ||
	    db_exec(db, "DROP VIEW IF EXISTS active_calls; "
	                "DROP INDEX IF EXISTS dialogs_live; "
	                "DROP INDEX IF EXISTS dialogs_owner; "
	                "INSERT OR IGNORE INTO live_dialogs (id) SELECT id "
	                "FROM dialogs WHERE stage <> 'ended'") == -1)
		return -1;
	if (sqlite3_prepare_v2(db,
	                       "SELECT count(*) FROM pragma_table_info("
	                       "'dialogs') WHERE name IN ('a_request', "
	                       "'b_request')",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	has = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (has == -1 || db_step_11_relays(db) == -1)
		return -1;
	if (has != 2)
		return 0;
	return db_exec(db, "INSERT OR IGNORE INTO dialog_requests (dialog_id, "
	                   "a_request, b_request) SELECT id, a_request, "
	                   "b_request FROM dialogs; "
	                   "ALTER TABLE dialogs DROP COLUMN a_request; "
	                   "ALTER TABLE dialogs DROP COLUMN b_request");
}

/* Step to version 12: dialog_answers, the 2xx sent to a caller over UDP
 * until its ACK, and its trigger (a new table the schema creates; nothing
 * to carry over: a call answered by an older afd has no row and is sent
 * the 2xx rebuilt from its INVITE, without a body, after a restart). */
static int
db_step_12(sqlite3 *db)
{
	(void)db;
	return 0;
}

/*
 * Step to version 13: auth_vectors and auth_nonces keyed by the time their
 * nonce was issued (WITHOUT ROWID, no other index; schema.sql says why).
 * Their rows live for a challenge's nonce lifetime and the nonces of an
 * older afd carry no issued_us to find them by, so the old tables are
 * dropped, not copied, and the schema makes the new ones after the steps:
 * a phone that answers a challenge of the older afd is challenged again
 * (Digest: stale=true; AKA: as for an unknown nonce).
 */
static int
db_step_13(sqlite3 *db)
{
	static const char *const tables[] = {"auth_vectors", "auth_nonces"};
	sqlite3_stmt *st = NULL;
	char *sql;
	int old, rc;

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		sql = sqlite3_mprintf(
		    "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = "
		    "'table' AND name = %Q) = 1 AND NOT EXISTS (SELECT 1 FROM "
		    "pragma_table_info(%Q) WHERE name = 'issued_us')",
		    tables[i], tables[i]);
		if (sql == NULL ||
		    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			sqlite3_free(sql);
			return -1;
		}
		sqlite3_free(sql);
		old = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0)
		                                     : -1;
		sqlite3_finalize(st);
		if (old == -1)
			return -1;
		if (old == 0)
			continue;
		sql = sqlite3_mprintf("DROP TABLE \"%w\"", tables[i]);
		rc = sql ? db_exec(db, sql) : -1;
		sqlite3_free(sql);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* db_steps[v] brings a file from version v to v + 1. */
static int (*const db_steps[DB_SCHEMA_VERSION])(sqlite3 *) = {
    db_step_1,  db_step_2,  db_step_3,  db_step_4, db_step_5,
    db_step_6,  db_step_7,  db_step_8,  db_step_9, db_step_10,
    db_step_11, db_step_12, db_step_13,
};

int
db_migrate(sqlite3 *db)
{
	char sql[64];
	int v;

	if (db_user_version(db, &v) == -1)
		return -1;
	if (v > DB_SCHEMA_VERSION) {
		log_warnx("db: the database has schema version %d, newer than "
		          "this afd's %d: refusing to use it (use a newer afd "
		          "or another database file)",
		          v, DB_SCHEMA_VERSION);
		return -1;
	}
	if (db_exec_master(db, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (int i = v; i < DB_SCHEMA_VERSION; i++) {
		if (db_steps[i](db) == -1) {
			log_warnx("db: upgrade from version %d to %d failed", i,
			          i + 1);
			goto fail;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	         DB_SCHEMA_VERSION);
	if (db_exec(db, afd_schema_sql) == -1 || db_exec(db, sql) == -1)
		goto fail;
	if (db_commit(db) == -1)
		goto fail;
	if (v != DB_SCHEMA_VERSION)
		log_info("db: schema at version %d (was %d)", DB_SCHEMA_VERSION,
		         v);
	return 0;
fail:
	db_rollback(db);
	return -1;
}

int
db_worker_set(sqlite3 *db, const char *slot, const char *kind, int pid,
              const char *state, const char *serving, int restarts)
{
	static const char sql[] =
	    "INSERT INTO workers (slot, kind, pid, state, serving, "
	    "started_at, restarts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	    "ON CONFLICT (slot) DO UPDATE SET kind = excluded.kind, "
	    "pid = excluded.pid, state = excluded.state, "
	    "serving = excluded.serving, restarts = excluded.restarts, "
	    "started_at = CASE WHEN workers.pid IS excluded.pid "
	    "THEN workers.started_at ELSE excluded.started_at END";
	sqlite3_stmt *st = NULL;
	int rc;

	/* Written a few times per connection: not worth a kept statement
	 * (and the caller's connection may be shared with sipd's). */
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("db: workers: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, slot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, pid);
	sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
	if (serving && *serving)
		sqlite3_bind_text(st, 5, serving, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	sqlite3_bind_int(st, 7, restarts);
	rc = sqlite3_step(st);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		/* Not a lock episode of the connection (db_fail): a SIP
		 * worker's is its SIP service's, whose writes must still wait
		 * their DB_BUSY_MS when a row of this table could not. */
		log_warnx("db: workers %s: the database is locked: row not "
		          "written (%s)",
		          slot, state);
	} else if (rc != SQLITE_DONE) {
		char what[32];

		snprintf(what, sizeof(what), "db: workers %s", slot);
		db_fail(db, rc, what);
	} else {
		db_ok(db);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
db_workers_reset(sqlite3 *db)
{
	return db_exec_master(db, "DELETE FROM workers");
}

int
db_workers_stopped(sqlite3 *db)
{
	return db_exec_master(db, "UPDATE workers SET state = 'stopped', "
	                          "serving = NULL WHERE state <> 'stopped'");
}
