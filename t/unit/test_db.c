/*
 * t/unit/test_db.c: the schema and its upgrades: a fresh file gets every
 * table and view of schema.sql and user_version = DB_SCHEMA_VERSION; a
 * version 0 file with an old registrations table is upgraded in place,
 * keeping its rows; migrating again changes nothing; a newer file is
 * refused; the workers table helpers; the WAL hook that replaces SQLite's
 * automatic checkpoint (in-line by default, a kicker rate-limited to once
 * per WAL round or DB_WAL_REKICK_MS, the in-line fallback past the bound)
 * and db_checkpoint; a write lock held by another connection: db_begin
 * waits for it at most DB_BUSY_MS once, then not at all until a write
 * succeeds again (db_fail / db_ok); db_reg_conn_bound, the TCP worker's
 * question whether a live binding uses its connection; the page cache
 * wrapper (db_pcache.c): transactions that split index pages end without
 * passing their truncate on, and one rolled back after growing the file
 * passes it, leaving a file intact.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "util/log.h"
#include "schema/db.h"
#include "schema/db_reg.h"

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
    "index:registrations_contact",
    "index:registrations_flow",
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

/* Version 1 to 2: registrations loses UNIQUE (aor, contact); rows survive;
 * two flows (or instances) may share a contact URI, one flow may not be
 * there twice, nor one contact URI without an instance. */
static void
test_upgrade_v1(void)
{
	sqlite3 *db = fresh("v1.db");

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT_FATAL(
	    sqlite3_exec(
	        db,
	        "CREATE TABLE registrations (id INTEGER PRIMARY KEY, aor TEXT "
	        "NOT NULL, contact TEXT NOT NULL, params TEXT NOT NULL DEFAULT "
	        "'', expires_at INTEGER NOT NULL, q REAL, call_id TEXT NOT "
	        "NULL, cseq INTEGER NOT NULL, branch TEXT, path TEXT, received "
	        "TEXT, transport TEXT NOT NULL, conn_slot TEXT, conn_id "
	        "INTEGER, instance TEXT, reg_id INTEGER, user_agent TEXT, "
	        "registered_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, "
	        "UNIQUE (aor, contact));"
	        "CREATE INDEX registrations_expires ON "
	        "registrations(expires_at);"
	        "INSERT INTO registrations (aor, contact, expires_at, call_id, "
	        "cseq, transport, conn_slot, conn_id, instance, reg_id, "
	        "registered_at, updated_at) VALUES ('sip:a@x', "
	        "'sip:a@1.2.3.4', "
	        "4000000000, 'c1', 7, 'tcp', 't1', 5, '<urn:i>', 1, 1, 1);"
	        "CREATE VIEW active_registrations AS SELECT aor FROM "
	        "registrations;"
	        "PRAGMA user_version = 1;",
	        NULL, NULL, NULL) == SQLITE_OK);
	CU_ASSERT(db_migrate(db) == 0);
	check_objects(db);
	CU_ASSERT(q1(db, "SELECT conn_id FROM registrations WHERE aor = "
	                 "'sip:a@x' AND reg_id = 1") == 5);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name = "
	                 "'registrations_v1'") == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name = "
	                 "'registrations_expires'") == 1);
	/* flow 2 at the same URI, and another instance there: fine */
	CU_ASSERT(
	    sqlite3_exec(db,
	                 "INSERT INTO registrations (aor, contact, "
	                 "expires_at, call_id, cseq, transport, instance, "
	                 "reg_id, registered_at, updated_at) VALUES "
	                 "('sip:a@x', 'sip:a@1.2.3.4', 1, 'c2', 1, 'tcp', "
	                 "'<urn:i>', 2, 1, 1), ('sip:a@x', "
	                 "'sip:a@1.2.3.4', 1, 'c3', 1, 'tcp', '<urn:j>', "
	                 "1, 1, 1)",
	                 NULL, NULL, NULL) == SQLITE_OK);
	/* flow 1 twice: refused */
	CU_ASSERT(
	    sqlite3_exec(db,
	                 "INSERT INTO registrations (aor, contact, "
	                 "expires_at, call_id, cseq, transport, instance, "
	                 "reg_id, registered_at, updated_at) VALUES "
	                 "('sip:a@x', 'sip:a@9.9.9.9', 1, 'c4', 1, 'tcp', "
	                 "'<urn:i>', 1, 1, 1)",
	                 NULL, NULL, NULL) != SQLITE_OK);
	/* one URI without instance twice: refused */
	CU_ASSERT(
	    sqlite3_exec(db,
	                 "INSERT INTO registrations (aor, contact, "
	                 "expires_at, call_id, cseq, transport, "
	                 "registered_at, updated_at) VALUES ('sip:a@x', "
	                 "'sip:a@5.5.5.5', 1, 'c5', 1, 'udp', 1, 1), "
	                 "('sip:a@x', 'sip:a@5.5.5.5', 1, 'c6', 1, 'udp', "
	                 "1, 1)",
	                 NULL, NULL, NULL) != SQLITE_OK);
	CU_ASSERT(q1(db, "SELECT count(*) FROM registrations") == 3);
	/* idempotent */
	CU_ASSERT(db_migrate(db) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM registrations") == 3);
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

/* A binding names its flow by worker slot, connection id and source
 * address; one that expired, or names another connection, does not count. */
static void
test_conn_bound(void)
{
	sqlite3 *db = fresh("conn.db");
	struct db_reg *dr;
	time_t now = time(NULL);
	char sql[512];

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT_FATAL(db_migrate(db) == 0);
	dr = db_reg_new(NULL, db);
	CU_ASSERT_FATAL(dr != NULL);
	CU_ASSERT(db_reg_conn_bound(dr, "t3", 7, "127.0.0.1:4000", now) == 0);
	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO registrations (aor, contact, expires_at, call_id, "
	    "cseq, transport, conn_slot, conn_id, received, registered_at, "
	    "updated_at) VALUES ('sip:a@d', 'sip:a@h', %lld, 'c1', 1, "
	    "'tcp', 't3', 7, '127.0.0.1:4000', %lld, %lld), "
	    "('sip:b@d', 'sip:b@h', %lld, 'c2', 1, 'tcp', 't4', 8, "
	    "'127.0.0.1:4001', %lld, %lld)",
	    (long long)now + 60, (long long)now, (long long)now,
	    (long long)now - 1, (long long)now, (long long)now);
	CU_ASSERT_FATAL(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	CU_ASSERT(db_reg_conn_bound(dr, "t3", 7, "127.0.0.1:4000", now) == 1);
	/* another slot, id or peer (ids restart with afd): not this one */
	CU_ASSERT(db_reg_conn_bound(dr, "t2", 7, "127.0.0.1:4000", now) == 0);
	CU_ASSERT(db_reg_conn_bound(dr, "t3", 9, "127.0.0.1:4000", now) == 0);
	CU_ASSERT(db_reg_conn_bound(dr, "t3", 7, "127.0.0.1:4009", now) == 0);
	/* expired (not swept yet) */
	CU_ASSERT(db_reg_conn_bound(dr, "t4", 8, "127.0.0.1:4001", now) == 0);
	/* the index serves the question */
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE type = "
	                 "'index' AND name = 'registrations_conn'") == 1);
	talloc_free(dr);
	db_close(db);
}

/* --- the WAL hook ------------------------------------------------------ */

/* The WAL file's size in frames (4 KiB pages). */
static long
wal_frames(void)
{
	char path[sizeof(conf.database) + 8];
	struct stat sb;

	snprintf(path, sizeof(path), "%s-wal", conf.database);
	if (stat(path, &sb) == -1 || sb.st_size < 32)
		return 0;
	return (long)((sb.st_size - 32) / (24 + 4096));
}

/* n commits of one row each (a page or two). */
static int
commits(sqlite3 *db, int n)
{
	for (int i = 0; i < n; i++)
		if (sqlite3_exec(db, "INSERT INTO t VALUES (randomblob(3000))",
		                 NULL, NULL, NULL) != SQLITE_OK)
			return -1;
	return 0;
}

struct kicks {
	int n, frames;
};

static void
count_kick(void *arg, int frames)
{
	struct kicks *k = arg;

	k->n++;
	k->frames = frames;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Without a kicker: in-line checkpoints, so the WAL stays small; the
 * connection keeps its WAL file (journal_size_limit -1, test_wal_keep). */
static void
test_wal_default(void)
{
	sqlite3 *db = fresh("wal-default.db");
	unsigned long kicks = 9, fallbacks = 9;

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT(q1(db, "PRAGMA journal_size_limit") == -1);
	CU_ASSERT(db_wal_hook_limits(db, 20, 1000) == 0);
	CU_ASSERT_FATAL(sqlite3_exec(db, "CREATE TABLE t (x BLOB)", NULL, NULL,
	                             NULL) == SQLITE_OK);
	CU_ASSERT(commits(db, 300) == 0);
	CU_ASSERT(wal_frames() > 0 && wal_frames() <= 30);
	CU_ASSERT(q1(db, "SELECT count(*) FROM t") == 300);
	CU_ASSERT(db_wal_hook_counts(db, &kicks, &fallbacks) == 0);
	CU_ASSERT(kicks == 0 && fallbacks == 0);
	db_close(db);
}

/* With a kicker: no in-line checkpoint below the bound; one kick per WAL
 * round, again only after DB_WAL_REKICK_MS; a new round after another
 * connection's checkpoint lets the WAL restart. */
static void
test_wal_kick(void)
{
	sqlite3 *db = fresh("wal-kick.db"), *ck = db_open(&conf);
	struct kicks k = {0, 0};
	unsigned long kicks, fallbacks;
	int frames, copied;
	long before, t0;

	CU_ASSERT_FATAL(db != NULL && ck != NULL);
	CU_ASSERT(db_wal_hook_install(db, count_kick, &k) == 0);
	CU_ASSERT(db_wal_hook_limits(db, 10, 100000) == 0);
	CU_ASSERT_FATAL(sqlite3_exec(db, "CREATE TABLE t (x BLOB)", NULL, NULL,
	                             NULL) == SQLITE_OK);
	CU_ASSERT(commits(db, 2) == 0);
	CU_ASSERT(k.n == 0); /* below the threshold */
	t0 = now_ms();
	CU_ASSERT(commits(db, 60) == 0);
	/* Rate-limited: once, not once per commit (more only when the
	 * commits took longer than DB_WAL_REKICK_MS, e.g. under valgrind). */
	CU_ASSERT(k.n >= 1 &&
	          k.n <= 1 + (int)((now_ms() - t0) / DB_WAL_REKICK_MS));
	k.n = 1;
	CU_ASSERT(k.frames >= 10);
	before = wal_frames();
	CU_ASSERT(before >= 60); /* nobody checkpointed: it grew */
	sleep_ms(DB_WAL_REKICK_MS + 20);
	CU_ASSERT(commits(db, 1) == 0);
	CU_ASSERT(k.n == 2); /* still large after DB_WAL_REKICK_MS */
	CU_ASSERT(db_wal_hook_counts(db, &kicks, &fallbacks) == 0);
	CU_ASSERT(kicks >= 2 && fallbacks == 0);

	/* The checkpointer's part, on its own connection. */
	CU_ASSERT(db_checkpoint(ck, &frames, &copied) == 0);
	CU_ASSERT(frames > 0 && copied == frames);
	/* The WAL restarts: a new round kicks at once. */
	CU_ASSERT(commits(db, 1) == 0);
	CU_ASSERT(k.n == 2 && k.frames > 10);
	CU_ASSERT(commits(db, 15) == 0);
	CU_ASSERT(k.n == 3 && k.frames < 30);
	CU_ASSERT(wal_frames() == before || wal_frames() > before); /* reused */
	CU_ASSERT(q1(ck, "SELECT count(*) FROM t") == 79);
	db_close(ck);
	db_close(db);
}

/* A kicker that does nothing (the checkpointer is dead): past the bound
 * the hook checkpoints in-line, and the WAL stays bounded. */
static void
test_wal_fallback(void)
{
	sqlite3 *db = fresh("wal-fallback.db");
	struct kicks k = {0, 0};
	unsigned long kicks, fallbacks;

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT(db_wal_hook_install(db, count_kick, &k) == 0);
	CU_ASSERT(db_wal_hook_limits(db, 5, 40) == 0);
	CU_ASSERT_FATAL(sqlite3_exec(db, "CREATE TABLE t (x BLOB)", NULL, NULL,
	                             NULL) == SQLITE_OK);
	CU_ASSERT(commits(db, 400) == 0);
	CU_ASSERT(wal_frames() <= 50);
	CU_ASSERT(db_wal_hook_counts(db, &kicks, &fallbacks) == 0);
	CU_ASSERT(fallbacks >= 5);
	CU_ASSERT(kicks >= 5 && kicks == (unsigned long)k.n);
	CU_ASSERT(q1(db, "SELECT count(*) FROM t") == 400);
	db_close(db);
}

/* The WAL file's size in bytes (0 when there is none). */
static long long
wal_bytes(void)
{
	char path[sizeof(conf.database) + 8];
	struct stat sb;

	snprintf(path, sizeof(path), "%s-wal", conf.database);
	return stat(path, &sb) == -1 ? 0 : (long long)sb.st_size;
}

/* journal_size_limit -1: when the WAL starts over, a worker's commit keeps
 * the file (even past DB_WAL_SIZE_LIMIT) instead of truncating it;
 * db_wal_truncate (the idle checkpointer) truncates it, but never while a
 * worker holds the write lock, and leaves a file under the limit alone. */
static void
test_wal_keep(void)
{
	sqlite3 *db = fresh("wal-keep.db"), *ck = db_open(&conf);
	struct kicks k = {0, 0};
	long long big, size;
	int frames, copied, rows;

	CU_ASSERT_FATAL(db != NULL && ck != NULL);
	CU_ASSERT(db_wal_hook_install(db, count_kick, &k) == 0);
	CU_ASSERT_FATAL(sqlite3_exec(db, "CREATE TABLE t (x BLOB)", NULL, NULL,
	                             NULL) == SQLITE_OK);
	/* One transaction of about DB_WAL_SIZE_LIMIT + 8 MiB of pages. */
	rows = (DB_WAL_SIZE_LIMIT + 8 * 1024 * 1024) / 4096;
	CU_ASSERT_FATAL(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) ==
	                SQLITE_OK);
	for (int i = 0; i < rows; i++)
		if (sqlite3_exec(db, "INSERT INTO t VALUES (randomblob(3500))",
		                 NULL, NULL, NULL) != SQLITE_OK)
			break;
	CU_ASSERT_FATAL(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) ==
	                SQLITE_OK);
	big = wal_bytes();
	CU_ASSERT(big > DB_WAL_SIZE_LIMIT);
	/* Copied by another connection; the next commit starts the WAL
	 * over at its beginning and keeps the file. */
	CU_ASSERT(db_checkpoint(ck, &frames, &copied) == 0);
	CU_ASSERT(frames > 0 && copied == frames);
	CU_ASSERT(commits(db, 3) == 0);
	CU_ASSERT(wal_bytes() == big);
	CU_ASSERT(db_checkpoint(ck, &frames, &copied) == 0);
	CU_ASSERT(frames > 0 && frames <= 10); /* it did start over */

	/* A worker in a write transaction: no truncation, no wait. */
	CU_ASSERT_FATAL(db_begin(db) == 0);
	CU_ASSERT(db_wal_truncate(ck, &size) == 1);
	CU_ASSERT(size == big && wal_bytes() == big);
	CU_ASSERT(db_commit(db) == 0);
	/* Idle: truncated to nothing, the rows all there. */
	CU_ASSERT(db_wal_truncate(ck, &size) == 0);
	CU_ASSERT(size == big && wal_bytes() == 0);
	CU_ASSERT(q1(ck, "SELECT count(*) FROM t") == rows + 3);
	/* A small WAL file is kept. */
	CU_ASSERT(commits(db, 3) == 0);
	CU_ASSERT(db_wal_truncate(ck, &size) == 1);
	CU_ASSERT(size > 0 && size == wal_bytes());
	CU_ASSERT(q1(db, "SELECT count(*) FROM t") == rows + 6);
	db_close(ck);
	db_close(db);
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Another connection (a sqlite3 session) holds the write lock: the first
 * db_begin fails after a short wait (not seconds), the next ones at once;
 * reads go on; once the lock is gone, db_begin works and waits again. */
static void
test_locked(void)
{
	sqlite3 *db = fresh("locked.db"), *other = NULL;
	struct timespec t0;
	double ms;

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT_FATAL(db_migrate(db) == 0);
	CU_ASSERT_FATAL(sqlite3_open(conf.database, &other) == SQLITE_OK);
	CU_ASSERT_FATAL(sqlite3_exec(other,
	                             "BEGIN IMMEDIATE; INSERT INTO subscribers "
	                             "(impi, impu) VALUES ('l@x', 'sip:l@x')",
	                             NULL, NULL, NULL) == SQLITE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT(db_begin(db) == -1);
	ms = ms_since(&t0);
	CU_ASSERT(ms >= 5 && ms < 500);
	/* no waiting now: 20 tries take far less than 20 waits (200 ms) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 20; i++)
		CU_ASSERT(db_begin(db) == -1);
	CU_ASSERT(ms_since(&t0) < 100);
	CU_ASSERT(db_worker_set(db, "u0", "udp", 1, "idle", NULL, 0) == -1);
	/* reads are not held up */
	CU_ASSERT(q1(db, "SELECT count(*) FROM subscribers") == 0);
	CU_ASSERT(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	CU_ASSERT(db_begin(db) == 0);
	CU_ASSERT(db_commit(db) == 0);
	/* the episode is over: a new lock is waited for again */
	CU_ASSERT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	          SQLITE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT(db_begin(db) == -1);
	CU_ASSERT(ms_since(&t0) >= 5);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	CU_ASSERT(q1(db, "SELECT count(*) FROM subscribers") == 1);
	sqlite3_close(other);
	db_close(db);
}

/* Insert n rows with keys in no order (an index whose pages split in the
 * middle, so balance_nonroot swaps page numbers). SQLITE_DONE or error. */
static int
pcache_insert(sqlite3 *db, int n)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(db,
	                       "INSERT INTO pc (k, v) VALUES "
	                       "(hex(randomblob(16)), zeroblob(60))",
	                       -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	for (int i = 0; i < n && rc == SQLITE_DONE; i++) {
		rc = sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static void
test_pcache(void)
{
	struct db_pcache_counts a, b, c;
	sqlite3 *db = fresh("pcache.db");
	char *err = NULL;

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT_FATAL(sqlite3_exec(db,
	                             "PRAGMA cache_size = -8192; CREATE TABLE "
	                             "pc (k TEXT PRIMARY KEY, v BLOB)",
	                             NULL, NULL, NULL) == SQLITE_OK);
	db_pcache_counts(&a);
	/* 200 transactions of 40 rows: their index pages split */
	for (int t = 0; t < 200; t++) {
		CU_ASSERT_FATAL(db_begin(db) == 0);
		CU_ASSERT_FATAL(pcache_insert(db, 40) == SQLITE_DONE);
		CU_ASSERT_FATAL(db_commit(db) == 0);
	}
	db_pcache_counts(&b);
	/* every commit's truncate (and every read's) had nothing to do */
	CU_ASSERT(b.skipped - a.skipped >= 200);
	CU_ASSERT(b.passed - a.passed < 10);
	CU_ASSERT(q1(db, "SELECT count(*) FROM pc") == 8000);

	/* a transaction that grows the file, rolled back: the pages past
	 * the file's end must leave the cache */
	CU_ASSERT_FATAL(db_begin(db) == 0);
	CU_ASSERT(pcache_insert(db, 3000) == SQLITE_DONE);
	CU_ASSERT(db_rollback(db) == 0);
	db_pcache_counts(&c);
	CU_ASSERT(c.passed > b.passed);
	CU_ASSERT(q1(db, "SELECT count(*) FROM pc") == 8000);
	/* the file grows again over the same page numbers */
	CU_ASSERT_FATAL(db_begin(db) == 0);
	CU_ASSERT(pcache_insert(db, 3000) == SQLITE_DONE);
	CU_ASSERT_FATAL(db_commit(db) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM pc") == 11000);
	CU_ASSERT(sqlite3_exec(db, "PRAGMA integrity_check", NULL, NULL,
	                       &err) == SQLITE_OK);
	sqlite3_free(err);
	CU_ASSERT(q1(db, "SELECT count(*) FROM pragma_integrity_check "
	                 "WHERE integrity_check <> 'ok'") == 0);
	db_close(db);
}

int
suite_db(void)
{
	CU_pSuite s = CU_add_suite("db", setup, teardown);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "fresh file", test_fresh) ||
	    !CU_add_test(s, "version 0 file upgraded", test_upgrade_v0) ||
	    !CU_add_test(s, "version 1 file upgraded", test_upgrade_v1) ||
	    !CU_add_test(s, "newer file refused", test_newer_refused) ||
	    !CU_add_test(s, "workers rows and statements", test_workers_rows) ||
	    !CU_add_test(s, "a binding's TCP connection", test_conn_bound) ||
	    !CU_add_test(s, "WAL hook: in-line by default", test_wal_default) ||
	    !CU_add_test(s, "WAL hook: kicks, rate-limited", test_wal_kick) ||
	    !CU_add_test(s, "WAL file kept, truncated when idle",
	                 test_wal_keep) ||
	    !CU_add_test(s, "WAL hook: fallback past the bound",
	                 test_wal_fallback) ||
	    !CU_add_test(s, "write lock held elsewhere: short waits",
	                 test_locked) ||
	    !CU_add_test(s, "page cache: no walk at a transaction's end",
	                 test_pcache))
		return -1;
	return 0;
}
