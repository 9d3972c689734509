/*
 * schema/db.h: the data layer's common part. Only schema/ speaks SQL, always
 * with bound parameters and prepared statements kept for the connection's
 * life. Every process opens its own connection after fork().
 */
#ifndef AFD_DB_H
#define AFD_DB_H

#include <sqlite3.h>
#include <talloc.h>

#include "util/conf.h"

#define DB_SCHEMA_VERSION 13

/* Open the database of c: WAL, synchronous NORMAL (FULL with durability =
 * full), a busy timeout of a few ms (DB_BUSY_MS in db.c says why), foreign
 * keys, journal_size_limit -1 (the WAL file is kept at its size when the
 * WAL starts over: a worker's commit never truncates it, and its writes
 * overwrite blocks the file already has instead of growing it; the
 * checkpointer truncates it when idle, db_wal_truncate), and afd's WAL
 * hook (below) in place of SQLite's automatic checkpoint. NULL on failure
 * (logged). */
sqlite3 *db_open(const struct conf *c);

/* A worker starting (serving nothing yet) waits for the write lock as
 * long as the master does (on: 1), then as every worker (on: 0). */
void db_start_wait(sqlite3 *db, int on);

/*
 * SQLite's page cache with a cheap end of transaction (db_pcache.c says
 * why): installed once per process, before SQLite initializes (the
 * master's main() first thing; db_open() tries too). 0, or -1 when SQLite
 * is initialized already (it keeps its own cache: correct, only slower).
 */
int db_pcache_setup(void);
/* How many truncates of a cache (one at every transaction's end) the
 * wrapper found nothing to do for (skipped) or passed on to SQLite. */
struct db_pcache_counts {
	unsigned long long skipped, passed;
};
void db_pcache_counts(struct db_pcache_counts *n);

/* Bound db's page cache to kib KiB (PRAGMA cache_size = -kib). 0 or -1. */
int db_cache_kib(sqlite3 *db, int kib);
void db_close(sqlite3 *db);

/*
 * Checkpoints. SQLite's automatic checkpoint runs inside the COMMIT that
 * takes the WAL past 1000 frames and stalls the committing worker's loop
 * for milliseconds; afd replaces it with a WAL hook on every connection
 * db_open() makes. Without a kicker (db_wal_hook_install not called) the
 * hook behaves like SQLite's: a PASSIVE checkpoint in-line at
 * DB_WAL_KICK_FRAMES. With a kicker (the workers: it asks the checkpointer
 * process to run one), past DB_WAL_KICK_FRAMES it calls kick(arg, frames)
 * once per WAL round (the WAL restarts after a complete checkpoint), again
 * every DB_WAL_REKICK_MS while the WAL stays that large; and past
 * DB_WAL_MAX_FRAMES (the checkpointer is dead or cannot keep up) it runs a
 * PASSIVE checkpoint in-line, so the WAL never grows without bound (logged
 * at info, once every DB_WAL_LOG_EVERY times). Checkpoints never change
 * what is committed: only when the pages reach the database file.
 */
#define DB_WAL_KICK_FRAMES 1000
#define DB_WAL_MAX_FRAMES 65536     /* 256 MiB of 4 KiB pages */
#define DB_WAL_RESTART_FRAMES 32768 /* 128 MiB; see db_checkpoint */
#define DB_WAL_REKICK_MS 100
#define DB_WAL_LOG_EVERY 64
#define DB_WAL_SIZE_LIMIT (64 * 1024 * 1024) /* see db_wal_truncate */

typedef void db_wal_kick_fn(void *arg, int frames);

/* Set the connection's kicker (NULL: in-line checkpoints, as SQLite's).
 * Only for connections from db_open(). 0, or -1 (not one of afd's). */
int db_wal_hook_install(sqlite3 *db, db_wal_kick_fn *kick, void *arg);
/* Tests: other thresholds than DB_WAL_KICK_FRAMES / DB_WAL_MAX_FRAMES. */
int db_wal_hook_limits(sqlite3 *db, int kick_frames, int max_frames);
/* How many kicks and in-line fallback checkpoints the hook made. */
int db_wal_hook_counts(sqlite3 *db, unsigned long *kicks,
                       unsigned long *fallbacks);

/*
 * A PASSIVE checkpoint of the main database: it copies what it can and
 * never waits for anyone. *frames: the WAL's frames; *copied: how many are
 * in the database file now. Returns 0, 1 when another checkpoint runs, -1
 * on an error (logged).
 *
 * The WAL starts over from its beginning (and stops growing) only when a
 * writer begins a transaction while every frame is in the database file,
 * which a busy worker rarely gives a checkpointer in another process. So
 * once the WAL holds DB_WAL_RESTART_FRAMES, the checkpointer tells the
 * worker that kicked it when it is done, and the worker runs one more
 * between two transactions: it copies only what it committed meanwhile (a
 * few pages, but two fsyncs, and a third in its next commit: 1-4 ms, up
 * to 50 ms when the disk is busy, hence not every round: at 10,000
 * authenticated registrations a second the WAL grows by some 16,000
 * frames a second, and 8,192 frames made the p99), and its next
 * transaction restarts the WAL. DB_WAL_MAX_FRAMES stays twice as large,
 * so that the checkpointer's passes have time to end before it. A WAL of
 * many frames already copied costs nothing to readers (they skip them).
 */
int db_checkpoint(sqlite3 *db, int *frames, int *copied);

/*
 * The checkpointer, when the workers have written nothing for a while: a
 * WAL file larger than DB_WAL_SIZE_LIMIT is checkpointed and truncated to
 * nothing (a TRUNCATE checkpoint that never waits for a lock: a worker
 * that writes meanwhile makes it give up). *size: the WAL file's size
 * before, -1 when there is none. Returns 0 when it truncated, 1 when
 * there was nothing to do or a worker held a lock, -1 on an error
 * (logged).
 */
int db_wal_truncate(sqlite3 *db, long long *size);

/* Create or upgrade the schema to DB_SCHEMA_VERSION (the master, at start).
 * 0, or -1 with a log line. */
int db_migrate(sqlite3 *db);

/*
 * Failures. db_fail logs that the statement `what` failed with rc on db;
 * when the cause is a lock another connection holds (SQLITE_BUSY), only
 * the first failure of an episode is logged, and the connection stops
 * waiting for the lock until db_ok (called after a successful write) ends
 * the episode, with a log line saying how long it lasted.
 */
void db_fail(sqlite3 *db, int rc, const char *what);
void db_ok(sqlite3 *db);

/* Transactions: 0 or -1 (logged; a taken lock once per episode). */
int db_begin(sqlite3 *db); /* BEGIN IMMEDIATE */
int db_commit(sqlite3 *db);
int db_rollback(sqlite3 *db);

/* A statement prepared once per connection: *stmt is prepared on first use
 * (and finalized by db_close). Returns the statement reset and with its
 * bindings cleared, or NULL (logged). */
sqlite3_stmt *db_stmt(sqlite3 *db, sqlite3_stmt **stmt, const char *sql);

/* Column i of st's current row as a NUL-terminated copy under ctx (the
 * column's bytes, a NUL inside kept), or NULL for SQL NULL or when out of
 * memory. */
char *db_col_str(TALLOC_CTX *ctx, sqlite3_stmt *st, int i);

/* Bind s to parameter i of st, SQL NULL when s is NULL; s must outlive
 * the step (SQLITE_STATIC). The bind's result code. */
int db_bind_str(sqlite3_stmt *st, int i, const char *s);

/* The workers table: a worker's own row. */
int db_worker_set(sqlite3 *db, const char *slot, const char *kind, int pid,
                  const char *state, const char *serving, int restarts);
/* The master, at start: forget the rows of a previous run. */
int db_workers_reset(sqlite3 *db);
/* The master, at exit: every row's state becomes 'stopped'. */
int db_workers_stopped(sqlite3 *db);
#endif
