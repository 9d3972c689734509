/*
 * schema/db_reg.h: the registrations data layer (the `registrations` table
 * and the expiry of `reg_subscriptions`). Statements are prepared once per
 * connection (db_stmt) and kept in a struct db_reg that lives under the
 * connection's owner; every value goes through a bound parameter.
 *
 * The caller owns transactions (db_begin/db_commit); db_reg_savepoint() and
 * friends nest one REGISTER inside the batch's transaction.
 */
#ifndef AFD_DB_REG_H
#define AFD_DB_REG_H

#include <stdint.h>
#include <time.h>

#include <sqlite3.h>
#include <talloc.h>

/* One row of `registrations`. Strings are NUL-terminated; NULL means SQL
 * NULL (or "none"). */
struct db_binding {
	int64_t id; /* 0: not stored yet */
	const char *aor;
	const char *contact;
	const char *params; /* never NULL: "" when none */
	int64_t expires_at;
	double q;
	int has_q;
	const char *call_id;
	uint32_t cseq;
	const char *branch; /* top Via branch of the REGISTER that wrote it */
	const char *path;
	const char *received;  /* "ip:port" */
	const char *transport; /* "udp" | "tcp" */
	const char *conn_slot;
	int64_t conn_id; /* 0: none */
	const char *instance;
	int64_t reg_id; /* 0: none */
	const char *user_agent;
	int64_t registered_at, updated_at;
	/* what the authentication gate decided (workers/auth.h); NULL when
	 * [auth] mode = none */
	const char *impi;            /* the private identity authenticated */
	const char *integrity;       /* integrity-protected as sent */
	const char *security_client; /* Security-Client values (sec-agree) */
};

struct db_reg;

/* The data layer of one connection; its statements are prepared on first
 * use. Free it (talloc) before closing db. NULL on failure. */
struct db_reg *db_reg_new(TALLOC_CTX *ctx, sqlite3 *db);

/* Every binding of aor (expired or not), as an array under ctx.
 * 0 with *out and *n, or -1 (logged). */
int db_reg_load(struct db_reg *dr, TALLOC_CTX *ctx, const char *aor,
                struct db_binding **out, int *n);

/* Insert b (sets b->id), update the row b->id with every column of b, or
 * delete the row id. 0 or -1 (logged). */
int db_reg_insert(struct db_reg *dr, struct db_binding *b);
int db_reg_update(struct db_reg *dr, const struct db_binding *b);
int db_reg_delete(struct db_reg *dr, int64_t id);

/* The public identities of the subscriber whose impu is aor: impu first,
 * then extra_impu (comma-separated, as stored). 0 with *impu = NULL when
 * not provisioned; -1 on error. Strings under ctx. */
int db_reg_identities(struct db_reg *dr, TALLOC_CTX *ctx, const char *aor,
                      char **impu, char **extra);

/* Delete the bindings with expires_at <= now; fn (when not NULL) sees
 * each deleted row. Returns the number deleted or -1. */
int db_reg_expire(struct db_reg *dr, time_t now,
                  void (*fn)(void *arg, const struct db_binding *b), void *arg);

/*
 * Network-initiated de-registration (a tester's one SQL statement,
 * "UPDATE registrations SET deregister = 'deactivated' WHERE aor = ...";
 * 'rejected' for a UE that must not re-register): delete every binding
 * whose deregister column is set; fn (when not NULL) sees each deleted row
 * and the column's word ("deactivated" | "rejected", the RFC 3680 contact
 * event for its watchers). The sweeper calls it with the expiry sweep.
 * Returns the number deleted or -1.
 */
int db_reg_deregister(struct db_reg *dr,
                      void (*fn)(void *arg, const struct db_binding *b,
                                 const char *event),
                      void *arg);

/* Delete reg-event subscriptions with expires_at <= now: count or -1.
 * (The reg event replaces this with db_sub_sweep(), which lets the final
 * NOTIFY go out first; see schema/db_sub.h.) */
int db_reg_expire_subscriptions(struct db_reg *dr, time_t now);

/* Whether a live binding uses the TCP connection conn_id of worker slot,
 * whose peer is received ("ip:port", as the registrar stores it): 1, 0,
 * or -1 (logged). Conn ids restart with afd, hence the peer check. */
int db_reg_conn_bound(struct db_reg *dr, const char *slot, int64_t conn_id,
                      const char *received, time_t now);

/* SAVEPOINT reg / RELEASE reg / ROLLBACK TO reg + RELEASE: 0 or -1. */
int db_reg_savepoint(struct db_reg *dr);
int db_reg_release(struct db_reg *dr);
int db_reg_rollback(struct db_reg *dr);

#endif
