/*
 * schema/db.c: the data layer's common part (see db.h). Minimal version
 * written by helper "service" because main had no db.c yet when the
 * registrar needed one; helper "proc" owns this file and may replace it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "schema/db.h"

extern const char afd_schema_sql[];

static int
db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("db: %s: %s", sql, err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

sqlite3 *
db_open(const struct conf *c)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(c->database, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		log_warnx("db: %s: %s", c->database,
			  db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	if (db_exec(db, "PRAGMA journal_mode=WAL") == -1 ||
	    db_exec(db, c->durability == CONF_DUR_FULL
			    ? "PRAGMA synchronous=FULL"
			    : "PRAGMA synchronous=NORMAL") == -1 ||
	    db_exec(db, "PRAGMA foreign_keys=ON") == -1) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

void
db_close(sqlite3 *db)
{
	sqlite3_stmt *st;

	if (db == NULL)
		return;
	while ((st = sqlite3_next_stmt(db, NULL)) != NULL)
		sqlite3_finalize(st);
	sqlite3_close(db);
}

int
db_migrate(sqlite3 *db)
{
	char sql[64];

	if (db_exec(db, "BEGIN IMMEDIATE") == -1)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 DB_SCHEMA_VERSION);
	if (db_exec(db, afd_schema_sql) == -1 || db_exec(db, sql) == -1) {
		db_exec(db, "ROLLBACK");
		return -1;
	}
	return db_exec(db, "COMMIT");
}

sqlite3_stmt *
db_stmt(sqlite3 *db, sqlite3_stmt **stmt, const char *sql)
{
	if (*stmt == NULL) {
		if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				       stmt, NULL) != SQLITE_OK) {
			log_warnx("db: prepare %s: %s", sql,
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

int
db_begin(sqlite3 *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

int
db_commit(sqlite3 *db)
{
	return db_exec(db, "COMMIT");
}

int
db_rollback(sqlite3 *db)
{
	if (sqlite3_get_autocommit(db))
		return 0;
	return db_exec(db, "ROLLBACK");
}

int
db_worker_set(sqlite3 *db, const char *slot, const char *kind, int pid,
	      const char *state, const char *serving, int restarts)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO workers (slot, kind, pid, state, "
			       "serving, started_at, restarts) VALUES (?1, ?2, "
			       "?3, ?4, ?5, CAST(strftime('%s','now') AS "
			       "INTEGER), ?6) ON CONFLICT(slot) DO UPDATE SET "
			       "kind = ?2, pid = ?3, state = ?4, serving = ?5, "
			       "restarts = ?6",
			       -1, &st, NULL) != SQLITE_OK) {
		log_warnx("db: workers: %s", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, slot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, pid);
	sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
	if (serving)
		sqlite3_bind_text(st, 5, serving, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, restarts);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("db: workers: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}
