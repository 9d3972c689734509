/*
 * schema/db_ping.h: the data side of afd's OPTIONS pings (workers/ping.c):
 * the ping columns of `registrations` (ping_at, ping_branch, ping_sent_at,
 * ping_ok_at, ping_failures). A ping in flight is recorded (its branch and
 * when it left) in the same transaction that decides to send it, and
 * before it is sent, so a worker restarted between the request and its
 * answer still recognises the answer by its branch, and finds what was in
 * flight. Statements prepared once per connection; values bound.
 */
#ifndef AFD_DB_PING_H
#define AFD_DB_PING_H

#include <stdint.h>
#include <time.h>

#include <sqlite3.h>
#include <talloc.h>

/* A binding as a ping needs it. Strings NUL-terminated, NULL for SQL
 * NULL, under the ctx given. */
struct db_ping_row {
	int64_t id;
	const char *aor, *contact, *path, *received, *transport, *conn_slot;
	int64_t conn_id;
	const char *branch; /* the ping in flight, or NULL */
	int64_t sent_at;
	int failures;
};

struct db_ping;

/* The ping data layer of one connection; free it before closing db. */
struct db_ping *db_ping_new(TALLOC_CTX *ctx, sqlite3 *db);

/* Live bindings (expires_at > now) with no ping in flight whose ping is
 * due: ping_at <= now, or never pinged and registered at least interval
 * ago. At most limit rows, as an array under ctx. 0 or -1. */
int db_ping_due(struct db_ping *dp, TALLOC_CTX *ctx, time_t now, int interval,
                int limit, struct db_ping_row **out, int *n);

/* The pings in flight whose branch starts with prefix (one worker's).
 * 0 or -1. */
int db_ping_inflight(struct db_ping *dp, TALLOC_CTX *ctx, const char *prefix,
                     struct db_ping_row **out, int *n);

/* Binding id: a ping with this branch leaves now. 0 or -1. */
int db_ping_sent(struct db_ping *dp, int64_t id, const char *branch,
                 time_t now);

/* The ping with this branch was answered at now; the next is due at next.
 * Returns 1 when a binding had it in flight, 0 when none (removed since,
 * or answered already), -1 on error. */
int db_ping_answered(struct db_ping *dp, const char *branch, time_t now,
                     time_t next);

/* The ping with this branch went unanswered: its binding's count goes up,
 * the next is due at next. Returns 1 with *id and *failures (the new
 * count) and *aor (under ctx), 0 when no binding had it in flight, -1. */
int db_ping_failed(struct db_ping *dp, TALLOC_CTX *ctx, const char *branch,
                   time_t next, int64_t *id, int *failures, char **aor);

#endif
