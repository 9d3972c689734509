/*
 * schema/db_sub.h: the reg-event subscriptions data layer (the
 * `reg_subscriptions` table, RFC 3680 with afd as the notifier).
 * Statements are prepared once per connection (db_stmt) and kept in a
 * struct db_sub; every value goes through a bound parameter.
 *
 * The life of a row, and what makes it survive kill -9:
 *
 * pending: 0 nothing owed; 1 a NOTIFY was taken (sent) and not answered
 * yet (last_status NULL); 2 a NOTIFY is owed and not taken yet (a change,
 * a new subscription, a refresh, the end). Any worker may set 2, in the
 * transaction of its change; only the notifier takes.
 *
 *   SUBSCRIBE accepted     db_sub_insert: state 'active', version -1,
 *                          cseq 0, pending 2 (the first NOTIFY is owed);
 *                          on the notifier db_sub_insert_take: the
 *                          first NOTIFY taken with the row (as below)
 *   before each NOTIFY     db_sub_take: version + 1, cseq + 1, pending 1,
 *                          last_status NULL (in flight), sent_at now,
 *                          COMMITTED before the NOTIFY leaves
 *                          (the caller commits, or runs it in autocommit):
 *                          a crash after it never makes afd send that
 *                          version or CSeq again, it sends the next ones
 *   a watched AOR changed  db_sub_event_add (the contact's event, with a
 *                          copy of the binding) and db_sub_mark_pending(ids):
 *                          pending 2, in the transaction of the change
 *   NOTIFY answered        db_sub_answered: last_status; pending 0 when
 *                          nothing more is owed (the caller's queue says)
 *                          and no other worker set 2 meanwhile;
 *                          db_sub_events_done: the events it carried go
 *   refresh SUBSCRIBE      db_sub_refresh: expires_at (and the remote
 *                          target), pending 2 (RFC 6665 4.2.2: a NOTIFY
 *                          follows every accepted SUBSCRIBE)
 *   unsubscribe/de-reg.    db_sub_terminate: state 'terminated', reason,
 *                          pending 2 (the final NOTIFY is owed)
 *   expiry                 db_sub_sweep: 'active' rows past expires_at
 *                          become 'terminated' with reason 'timeout'
 *                          (returned: their final NOTIFYs are owed); and
 *                          'terminated' rows whose final NOTIFY was
 *                          answered (pending 0), or that waited more than
 *                          DB_SUB_FINAL_GRACE seconds, are deleted
 *   481 / 408 / 489        db_sub_delete (RFC 6665 4.1.3: the subscription
 *                          is gone at the watcher), with its events
 *   the notifier (re)starts db_sub_pending: every row with pending <> 0;
 *                          one in flight (cseq > 0, no last_status) is
 *                          sent again with the same version and CSeq,
 *                          the others take the next
 *
 * The caller owns transactions (db_begin/db_commit), as with db_reg.
 */
#ifndef AFD_DB_SUB_H
#define AFD_DB_SUB_H

#include <stdint.h>
#include <time.h>

#include <sqlite3.h>
#include <talloc.h>

#include "schema/db_reg.h"

/* A terminated subscription's final NOTIFY gets this long for an answer
 * before the sweep deletes the row anyway (Timer F is 32 s). */
#define DB_SUB_FINAL_GRACE 64

/* One row of `reg_subscriptions`. Strings NUL-terminated; NULL is SQL
 * NULL. */
struct db_sub_row {
	int64_t id;          /* 0: not stored yet */
	const char *aor;     /* the watched public identity */
	const char *watcher; /* the subscriber's AOR */
	const char *call_id;
	const char *from_tag;  /* the subscriber's */
	const char *to_tag;    /* afd's */
	const char *contact;   /* remote target */
	const char *route;     /* route set, comma-separated */
	const char *received;  /* "ip:port" */
	const char *transport; /* "udp" | "tcp" */
	const char *conn_slot;
	int64_t conn_id; /* 0: none */
	const char *event_id;
	int64_t cseq;    /* last NOTIFY CSeq, 0: none yet */
	int64_t version; /* last reginfo version sent, -1: none yet */
	int64_t expires_at;
	int terminated;     /* state = 'terminated' */
	const char *reason; /* when terminated */
	int pending;
	int last_status; /* 0: none yet */
	int64_t sent_at, created_at, updated_at;
};

struct db_sub;

/* The data layer of one connection. Free it (talloc) before closing db.
 * NULL on failure (logged). */
struct db_sub *db_sub_new(TALLOC_CTX *ctx, sqlite3 *db);

/* A new subscription from s (id, version, cseq, state, pending and the
 * times are set here: s->id, version -1, cseq 0, active, pending 2,
 * created_at = updated_at = now). 0, 1 when a row of the same dialog
 * (call_id, from_tag, to_tag) exists (nothing written), or -1 (logged). */
int db_sub_insert(struct db_sub *ds, struct db_sub_row *s, time_t now);

/* The same, with the first NOTIFY taken in the same statement (as
 * db_sub_take would: version 0, CSeq 1, pending 1, sent_at now), for the
 * notifier that builds that NOTIFY at once; commit before sending it. 0,
 * 1 when the dialog's row exists, or -1. */
int db_sub_insert_take(struct db_sub *ds, struct db_sub_row *s, time_t now);

/* A refresh: expires_at, the remote target when contact is not NULL,
 * pending 1. 0, 1 when no such row, -1. */
int db_sub_refresh(struct db_sub *ds, int64_t id, int64_t expires_at,
                   const char *contact, time_t now);

/* End the subscription: state 'terminated', reason (e.g. "timeout",
 * "noresource", "deactivated", "rejected"), pending 1. 0, 1 when no such
 * row, -1. */
int db_sub_terminate(struct db_sub *ds, int64_t id, const char *reason,
                     time_t now);

/* Delete the row. 0 (also when it was not there) or -1. */
int db_sub_delete(struct db_sub *ds, int64_t id);

/* The subscription of a dialog, under ctx: 0 with *out (NULL when none),
 * or -1. */
int db_sub_load_dialog(struct db_sub *ds, TALLOC_CTX *ctx, const char *call_id,
                       const char *from_tag, const char *to_tag,
                       struct db_sub_row **out);

/* One row by id: 0 with *out (NULL when none), or -1. */
int db_sub_load(struct db_sub *ds, TALLOC_CTX *ctx, int64_t id,
                struct db_sub_row **out);

/*
 * Every subscription (active or terminated) that watches aor: its own, and
 * those watching another identity of the implicit registration set aor
 * belongs to (the set db_sub_identities() gives: the subscriber whose impu
 * is aor, else one whose extra_impu holds it; then the watchers of its
 * impu and of each of its extra_impu). extra_impu is compared entry by
 * entry (comma-separated; blanks and <> ignored), as the registrar reads
 * it. One look-up by index per identity; subscribers is scanned only for
 * an AOR that is no one's impu. Array under ctx, in id order: 0 with
 * *out, *n, or -1.
 */
int db_sub_watching(struct db_sub *ds, TALLOC_CTX *ctx, const char *aor,
                    struct db_sub_row **out, int *n);

/*
 * The public identities of the implicit registration set of aor: the
 * subscriber whose impu or extra_impu holds aor gives impu first, then
 * each extra_impu (<> and blanks dropped, empty entries skipped); an AOR
 * no subscriber holds is a set of itself. Array of strings under ctx: 0
 * with *out, *n (>= 1), or -1.
 */
int db_sub_identities(struct db_sub *ds, TALLOC_CTX *ctx, const char *aor,
                      char ***out, int *n);

/*
 * Take the next version and CSeq for a NOTIFY of subscription id, and mark
 * it pending and sent at now, in one statement. Commit before sending.
 * 0 with *version, *cseq; 1 when no such row; -1.
 */
int db_sub_take(struct db_sub *ds, int64_t id, time_t now, int64_t *version,
                int64_t *cseq);

/* Mark the subscriptions (ids, n of them) pending 2: a NOTIFY is owed.
 * The number of rows changed, or -1. */
int db_sub_mark_pending(struct db_sub *ds, const int64_t *ids, int n,
                        time_t now);

/* The NOTIFY of CSeq cseq was answered with status (408: no answer): kept
 * in last_status; pending cleared when still_pending is 0 and cseq is the
 * latest taken (an answer to an older NOTIFY changes nothing). 0, 1 when
 * no such row or an older CSeq, -1. */
int db_sub_answered(struct db_sub *ds, int64_t id, int64_t cseq, int status,
                    int still_pending, time_t now);

/* Every row with pending <> 0 (a notifier starting over), under ctx in id
 * order: 0 with *out, *n, or -1. */
int db_sub_pending(struct db_sub *ds, TALLOC_CTX *ctx, struct db_sub_row **out,
                   int *n);

/*
 * The expiry sweep at now: active rows with expires_at <= now become
 * terminated with reason "timeout" and pending 1, and are returned (*out,
 * *ended, under ctx) for their final NOTIFY; terminated rows that are done
 * (pending 0) or whose final NOTIFY went out (sent_at) DB_SUB_FINAL_GRACE
 * seconds ago or more, or that expired that long ago, are deleted.
 * Returns the number deleted, or -1.
 */
int db_sub_sweep(struct db_sub *ds, TALLOC_CTX *ctx, time_t now,
                 struct db_sub_row **out, int *ended);

/* 1 when any subscription is active (the cheap test before
 * db_sub_watching() on every binding change), 0 when none, -1. */
int db_sub_any(struct db_sub *ds);

/* Every row with pending 2 (a NOTIFY owed, not taken), under ctx in id
 * order: 0 with *out, *n, or -1. */
int db_sub_owed(struct db_sub *ds, TALLOC_CTX *ctx, struct db_sub_row **out,
                int *n);

/* One contact event owed to a subscription (reg_sub_events): b is the
 * binding as it was at the change (id, aor, contact, params, q, call_id,
 * cseq, expires_at, registered_at; the other fields 0/NULL). */
struct db_sub_event {
	int64_t id;
	const char *event; /* "created", "expired", ... */
	struct db_binding b;
};

/* Record that binding b's change (event) is owed to subscription sub_id.
 * 0 or -1. */
int db_sub_event_add(struct db_sub *ds, int64_t sub_id,
                     const struct db_binding *b, const char *event, time_t now);

/* The events owed to sub_id, oldest first, as an array under ctx (strings
 * under it): 0 with *out, *n, or -1. */
int db_sub_events(struct db_sub *ds, TALLOC_CTX *ctx, int64_t sub_id,
                  struct db_sub_event **out, int *n);

/* Forget the events of sub_id up to id upto (a NOTIFY that carried them
 * was answered). 0 or -1. */
int db_sub_events_done(struct db_sub *ds, int64_t sub_id, int64_t upto);

#endif
