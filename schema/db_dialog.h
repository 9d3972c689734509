/*
 * schema/db_dialog.h: the data layer of the calls afd carries as a
 * back-to-back user agent (workers/b2bua.c): the `dialogs` table (one row
 * per call, both legs; its two INVITEs in `dialog_requests`, the calls not
 * ended in `live_dialogs`), `dialog_forks` (one row per B-leg INVITE of a call
 * forked to several bindings), `dialog_relays` (a request inside a call
 * being relayed, until its final answer), `dialog_answers` (the 2xx sent
 * to a caller over UDP, until its ACK) and the `calls` table (one row
 * per finished call, a CDR). The B2BUA keeps no call state in memory that it
 * cannot rebuild from a row: each stage is written (in the batch's transaction,
 * see schema/db_txn.h) before afd acts on it, so a replacement worker carries
 * on from the row. Statements prepared once per connection; values bound.
 */
#ifndef AFD_DB_DIALOG_H
#define AFD_DB_DIALOG_H

#include <stdint.h>
#include <time.h>

#include <sqlite3.h>
#include <talloc.h>

/* One row of `dialogs`. Strings are NUL-terminated talloc children of the
 * row (or of the context given to the loader); NULL is SQL NULL. Leg A is
 * the caller's (afd is its UAS), leg B the callee's (afd is its UAC). */
struct db_dialog {
	int64_t id; /* 0: not stored yet */
	/* leg A: caller's Call-ID and tag, afd's tag, the caller's last CSeq */
	char *a_call_id, *a_from_tag, *a_to_tag;
	uint32_t a_cseq;
	char *a_contact, *a_route, *a_peer, *a_request;
	uint32_t a_out_cseq, a_inv_cseq; /* afd's requests on leg A */
	/* leg B: afd's Call-ID and tag, the callee's tag */
	char *b_call_id, *b_from_tag, *b_to_tag;
	uint32_t b_cseq;     /* afd's last request on leg B */
	uint32_t b_in_cseq;  /* the callee's last request */
	uint32_t b_inv_cseq; /* afd's last INVITE on leg B */
	char *b_contact, *b_route, *b_peer, *b_branch, *b_request;
	char *caller, *callee, *stage, *owner_slot, *end_reason;
	int64_t created_at, updated_at, answered_at, ring_deadline;
	int forks; /* B-leg INVITEs in parallel (0: one, no db_fork rows) */
	/* db_dialog.c's own: a_request and b_request as last read or saved
	 * (they live in `dialog_requests`, written only when they change) */
	const char *a_request_db, *b_request_db;
};

/* One row of `dialog_forks`: one B-leg INVITE of a forked call. state:
 * calling (sent, nothing but 100 heard), early (a 1xx heard), cancel_owed
 * (to be cancelled once a provisional comes, RFC 3261 9.1), cancelled
 * (CANCEL sent), answered (the winner), failed (a final non-2xx, or no
 * answer), bye (a 2xx that lost: ACKed and BYE sent). */
struct db_fork {
	int64_t id, dialog_id;
	char *branch, *target, *peer, *route, *request, *state;
	int status; /* the final status (0: none yet) */
	char *to_tag, *contact, *response;
	int64_t updated_at;
};

struct db_dialog_ctx;

/* The data layer of connection db; free it (talloc) before closing db. NULL
 * when out of memory. */
struct db_dialog_ctx *db_dialog_new(TALLOC_CTX *ctx, sqlite3 *db);

/* Insert d (sets d->id) with every column. 0 or -1 (logged). */
int db_dialog_insert(struct db_dialog_ctx *dc, struct db_dialog *d);

/* Write every column of d to its row (d->id), updated_at = now. 0 or -1. */
int db_dialog_save(struct db_dialog_ctx *dc, struct db_dialog *d, time_t now);

/* The newest dialog whose A-leg or B-leg Call-ID is call_id (ended ones
 * too when any), under ctx: 1 with *out, 0 when none, -1 on error. *leg is
 * 'a' or 'b': which of the two matched. */
int db_dialog_find(struct db_dialog_ctx *dc, TALLOC_CTX *ctx,
                   const char *call_id, int any, struct db_dialog **out,
                   char *leg);

/* Only the owner slot of that dialog (for routing a request to the worker
 * that owns the call), into slot[8]: 1, 0 when none, -1 on error. */
int db_dialog_owner(struct db_dialog_ctx *dc, const char *call_id,
                    char slot[8]);

/* The dialogs not ended owned by slot (recovery, ring timeouts), as an
 * array under ctx. 0 or -1. */
int db_dialog_owned(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, const char *slot,
                    struct db_dialog **out, int *n);

/* The dialogs not ended that nobody will end (the sweeper): untouched
 * since t_term in `terminating`, since t_setup while being set up
 * (trying, early, ringing), since t_any in any stage; and calls up
 * (answered, confirmed) whose caller or callee has no live binding at now
 * any more. At most limit, oldest first, under ctx. 0 or -1. */
int db_dialog_stale(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, time_t now,
                    time_t t_term, time_t t_setup, time_t t_any, int limit,
                    struct db_dialog **out, int *n);

/* End d: stage 'ended', and its `calls` row (caller, callee, started =
 * created_at, answered_at, ended = now, reason); its dialog_relays rows
 * (answers that will not come any more) and the 2xx kept for its caller
 * (db_answer_put) are removed. 0 or -1. */
int db_dialog_end(struct db_dialog_ctx *dc, struct db_dialog *d,
                  const char *reason, time_t now);

/* Insert f (sets f->id, updated_at = now). 0 or -1 (logged). */
int db_fork_insert(struct db_dialog_ctx *dc, struct db_fork *f, time_t now);

/* Write every column of f to its row, updated_at = now. 0 or -1. */
int db_fork_save(struct db_dialog_ctx *dc, struct db_fork *f, time_t now);

/* The forks of dialog dialog_id, in the order they were made, as an array
 * under ctx (strings its children). 0 or -1. */
int db_fork_list(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, int64_t dialog_id,
                 struct db_fork **out, int *n);

/* The forks still owed a CANCEL (state cancel_owed) of the ended calls
 * owned by slot (a replacement worker sends those CANCELs), as an array
 * under ctx. 0 or -1. */
int db_fork_owed(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, const char *slot,
                 struct db_fork **out, int *n);

/* Record the request of a phone inside call dialog_id relayed as afd's
 * own with Via branch `branch`: request (the phone's, as received), peer
 * (where it came from). 0 or -1. */
int db_relay_insert(struct db_dialog_ctx *dc, int64_t dialog_id,
                    const char *branch, const char *method, const char *request,
                    const char *peer, time_t now);

/* The relayed request of branch, under ctx: 1 with *request, *peer,
 * *dialog_id; 0 when none; -1 on error. */
int db_relay_find(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, const char *branch,
                  char **request, char **peer, int64_t *dialog_id);

/* Forget the relayed request of branch (its final answer went). 0 or -1. */
int db_relay_delete(struct db_dialog_ctx *dc, const char *branch);

/* Is the stored request `request` the one the caller looks for? 1 or 0
 * (db_relay_pager_has: the data layer does not parse SIP). */
typedef int db_relay_same_fn(const char *request, void *arg);

/* A pager MESSAGE is relayed as a row of dialog_id 0 (no call). 1 when
 * such a row holds a request that contains call_id and via_branch and
 * that same() says is the one (its Call-ID and top Via branch equal: a
 * retransmission of a MESSAGE being relayed), 0 when none, -1 on error.
 * A scan of the few relays in flight. */
int db_relay_pager_has(struct db_dialog_ctx *dc, const char *call_id,
                       const char *via_branch, db_relay_same_fn *same,
                       void *arg);

/* Remove the pager MESSAGE rows (dialog_id 0) made before `before`: their
 * answer will not come any more (the sweeper; a live worker removes its
 * own at the answer or Timer F). dry: only tell whether there are any (a
 * read, no write transaction). 1 when there were, 0 when none, -1 on
 * error. */
int db_relay_pager_expire(struct db_dialog_ctx *dc, time_t before, int dry);

/* Keep resp (len bytes: afd's 2xx to the INVITE of call dialog_id's
 * caller over UDP, as sent) until the caller's ACK, in `dialog_answers`:
 * a replacement worker sends it again from there. 0 or -1 (logged). */
int db_answer_put(struct db_dialog_ctx *dc, int64_t dialog_id, const char *resp,
                  size_t len);

/* The 2xx kept for call dialog_id, NUL-terminated under ctx: 1 with *resp
 * and *len, 0 when none, -1 on error. */
int db_answer_get(struct db_dialog_ctx *dc, TALLOC_CTX *ctx, int64_t dialog_id,
                  char **resp, size_t *len);

/* Forget the 2xx kept for call dialog_id (its ACK came; db_dialog_end
 * does it too). 0 or -1. */
int db_answer_drop(struct db_dialog_ctx *dc, int64_t dialog_id);

/* 1 when a live call owned by slot has its caller on peer (a stored peer,
 * "tcp ip:port slot conn_id"): the TCP connection carries it; 0 when none,
 * -1 on error. */
int db_dialog_conn_live(struct db_dialog_ctx *dc, const char *slot,
                        const char *peer);

#endif
