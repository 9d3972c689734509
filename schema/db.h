/*
 * schema/db.h: the data layer's common part. Only schema/ speaks SQL, always
 * with bound parameters and prepared statements kept for the connection's
 * life. Every process opens its own connection after fork().
 */
#ifndef AFD_DB_H
#define AFD_DB_H

#include <sqlite3.h>

#include "daemon/conf.h"

#define DB_SCHEMA_VERSION 1

/* Open the database of c: WAL, synchronous NORMAL (FULL with durability =
 * full), busy timeout, foreign keys. NULL on failure (logged). */
sqlite3 *db_open(const struct conf *c);
void db_close(sqlite3 *db);

/* Create or upgrade the schema to DB_SCHEMA_VERSION (the master, at start).
 * 0, or -1 with a log line. */
int db_migrate(sqlite3 *db);

/* Transactions: 0 or -1 (logged). */
int db_begin(sqlite3 *db);   /* BEGIN IMMEDIATE */
int db_commit(sqlite3 *db);
int db_rollback(sqlite3 *db);

/* A statement prepared once per connection: *stmt is prepared on first use
 * (and finalized by db_close). Returns the statement reset and with its
 * bindings cleared, or NULL (logged). */
sqlite3_stmt *db_stmt(sqlite3 *db, sqlite3_stmt **stmt, const char *sql);

/* The workers table: a worker's own row. */
int db_worker_set(sqlite3 *db, const char *slot, const char *kind, int pid,
		  const char *state, const char *serving, int restarts);
/* The master, at start: forget the rows of a previous run. */
int db_workers_reset(sqlite3 *db);
/* The master, at exit: every row's state becomes 'stopped'. */
int db_workers_stopped(sqlite3 *db);
#endif
