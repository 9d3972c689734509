/*
 * schema/db_txn.h: the one database transaction object of a connection.
 * Every service works inside it; the rules "an answer leaves only after
 * its commit" and "an event fires only after its commit" are written here
 * once.
 *
 * Shape: a worker's batch (a burst of datagrams, or one TCP message, or
 * one timer's work) opens the transaction lazily with the first change
 * (db_txn_savepoint), each unit of work (one REGISTER, one sweep) runs in
 * a SAVEPOINT of its own so that a failure rolls back that unit alone, and
 * the batch ends with db_txn_commit(). Work done while no batch is open
 * (autocommit: the unit's RELEASE is the commit) is committed at its
 * release.
 *
 * After-commit callbacks: a unit registers what must happen once its
 * change is durable (tell the reg-event layer that bindings changed, send
 * a NOTIFY, ...). They run in registration order after the COMMIT
 * succeeded, with committed = 1, or with committed = 0 when the change is
 * lost (its savepoint rolled back, the commit failed, SQLite rolled the
 * whole transaction back); either way exactly once. A callback runs
 * outside any transaction of this connection and may start new work.
 *
 * A transaction SQLite rolled back by itself (I/O error, ...) is "lost":
 * db_txn_lost() says so until the next db_txn_commit()/db_txn_abort(), so
 * the caller rebuilds the answers that depended on it (as 500s).
 */
#ifndef AFD_DB_TXN_H
#define AFD_DB_TXN_H

#include <sqlite3.h>
#include <talloc.h>

struct db_txn;

/* committed: 1 the change is durable, 0 it is gone. arg is the caller's
 * (see db_txn_after_commit). */
typedef void db_txn_fn(void *arg, int committed);

/* The transaction object of db (which must outlive it). NULL when out of
 * memory (logged). */
struct db_txn *db_txn_new(TALLOC_CTX *ctx, sqlite3 *db);

/* The connection (for the data layer's statements only). */
sqlite3 *db_txn_db(const struct db_txn *t);

/* Open the batch's transaction (BEGIN IMMEDIATE) unless one is open.
 * 0, or -1 (logged; SQLITE_BUSY included: the write lock is taken). */
int db_txn_begin(struct db_txn *t);

/* Start a unit of work: a SAVEPOINT (inside the batch's transaction when
 * one is open). Returns a mark for release/rollback, or -1 (logged). */
int db_txn_savepoint(struct db_txn *t);

/* End the unit of work started at mark: RELEASE it. In autocommit the
 * release is the commit, and the unit's callbacks run now. 0, or -1: then
 * the caller calls db_txn_rollback(t, mark). */
int db_txn_release(struct db_txn *t, int mark);

/* Undo the unit of work started at mark: ROLLBACK TO + RELEASE; its
 * callbacks run with committed = 0. When SQLite had already rolled back
 * the whole transaction, every pending callback runs with 0 and the
 * transaction is lost (db_txn_lost). */
void db_txn_rollback(struct db_txn *t, int mark);

/* Register fn(arg, committed) for the end of the current unit's change.
 * arg, when not NULL, must be a talloc pointer: the transaction takes it
 * over and frees it after the call. Outside any transaction fn runs at
 * once with 1 (the change was committed already). 0, or -1 when out of
 * memory (fn is not registered and arg is freed). */
int db_txn_after_commit(struct db_txn *t, db_txn_fn *fn, void *arg);

/* Memory that lives until the transaction's callbacks have run: for the
 * callers' callback arguments. */
TALLOC_CTX *db_txn_mem(struct db_txn *t);

/* COMMIT the batch's transaction (nothing to do when none is open) and
 * run the callbacks with 1. When the COMMIT fails: ROLLBACK, callbacks
 * with 0, -1 (logged). */
int db_txn_commit(struct db_txn *t);

/* ROLLBACK whatever is open; callbacks with 0. */
void db_txn_abort(struct db_txn *t);

/* 1 while a transaction is open. */
int db_txn_open(const struct db_txn *t);

/* 1 when the batch's transaction was lost since it began (SQLite rolled it
 * back, or its commit failed); cleared by the next db_txn_begin(). */
int db_txn_lost(const struct db_txn *t);

#endif
