/*
 * workers/regevent.h: the registration event service (RFC 3680 with
 * RFC 6665 subscriptions, 3GPP TS 24.229), afd as the notifier: its pure
 * parts. The checks of a SUBSCRIBE, who may watch which AOR, the headers
 * of a NOTIFY, and the NOTIFY queue of one subscription are functions of
 * their arguments (the clock is an argument too), so that the service
 * glue (the request pipeline, transactions, sipd) stays small. The
 * document itself is sip/reginfo.h; the rows are schema/db_sub.h.
 *
 * ---- SUBSCRIBE (regev_check_subscribe), in this order ----
 *
 *   no Event header, or more than one:     400 "Missing Event Header" /
 *                                          400 "Multiple Event Headers"
 *   Event type other than "reg" (the token before ";", compared byte for
 *   byte as RFC 3265 7.2.1 says):         489 Bad Event
 *                                          + "Allow-Events: reg"
 *   Accept present, and none of its media ranges is
 *   application/reginfo+xml, application/ * or * / * (q > 0; case-
 *   insensitive; no Accept at all means application/reginfo+xml,
 *   RFC 3680 5):                           406 Not Acceptable
 *                                          + "Accept: application/reginfo+xml"
 *   Expires not 1*DIGIT:                   400 "Invalid Expires"
 *   0 < Expires < [regevent] min_expires:  423 Interval Too Brief
 *                                          + "Min-Expires: <min_expires>"
 *   otherwise 200, with the granted expiry:
 *     Expires absent: REGEV_DEFAULT_EXPIRES (3761 s, RFC 3680 4.3),
 *                     within min_expires..max_expires;
 *     Expires above max_expires: max_expires;
 *     Expires 0: 0 (an unsubscribe in a dialog, or a fetch: the caller
 *                answers 200, sends one NOTIFY with
 *                "Subscription-State: terminated;reason=timeout" and
 *                keeps nothing).
 *
 * The Event id parameter (check->event_id) is part of the subscription's
 * identity (RFC 3265 7.2.1): NOTIFYs carry it back, and a refresh with
 * another id is another subscription in the same dialog.
 *
 * The caller then decides the watcher's right (regev_may_watch: 403
 * "Forbidden" when not) and answers 200 OK with a To tag, afd's Contact
 * and "Expires: <granted>" (never more than asked), then sends the first
 * NOTIFY (never before the 200).
 *
 * ---- NOTIFY (regev_notify_print), the headers in this order ----
 *
 *   NOTIFY <remote target: the SUBSCRIBE's Contact URI> SIP/2.0
 *   Via: ...                      (the transaction layer's; see below)
 *   Max-Forwards: 70
 *   From: <watched AOR>;tag=<afd's To tag of the 200>
 *   To: <watcher>;tag=<the SUBSCRIBE's From tag>
 *   Call-ID: <the SUBSCRIBE's Call-ID>
 *   CSeq: <db_sub_take's cseq> NOTIFY
 *   Route: <route set, as stored>  (only when the dialog has one)
 *   Contact: <afd's Contact URI>
 *   Event: reg[;id=<the SUBSCRIBE's Event id>]
 *   Subscription-State: active;expires=<expires_at - now, at least 0>
 *                     | terminated;reason=<timeout|noresource|...>
 *   Content-Type: application/reginfo+xml
 *   Content-Length: <n>
 *
 *   <reginfo version=<db_sub_take's version> state="full"> ...
 *
 * regev_notify_print() prints the request line, then the caller's Via
 * line (vias: one or more complete "Via: ...\r\n" lines, so the branch
 * naming the sending slot is the transaction layer's), then the rest.
 *
 * ---- The NOTIFY queue of one subscription (struct regev_q) ----
 *
 * NOTIFYs of one subscription go out one at a time, in order. A change
 * while one is in flight only marks the queue dirty; when the answer
 * comes, ONE NOTIFY carries the latest state, however many changes came
 * meanwhile (coalescing). The document is always built from the current
 * state at the moment of sending (full state), and its version is taken
 * from the database at that moment (db_sub_take), so the version grows by
 * exactly one per NOTIFY sent, never per change.
 *
 *   regev_q_change()     a watched AOR changed        -> SEND or NONE
 *   regev_q_terminate()  unsubscribe, expiry, de-reg  -> SEND or NONE
 *   regev_q_sent()       the caller sent the NOTIFY of cseq
 *   regev_q_answer()     a final answer to cseq:
 *        481, 408 (also Timer F), 489: the subscription is gone at the
 *                          watcher (RFC 6665 4.2.2)   -> REMOVE
 *        any answer to the final NOTIFY                 -> REMOVE
 *        2xx, or another failure (logged by the caller, the
 *        subscription goes on): SEND when dirty or a final NOTIFY is
 *        owed, else NONE
 *        an answer to another CSeq (late, duplicate): NONE, nothing
 *        changes; a 1xx: NONE
 *   regev_q_tick()       the fake-clock backstop: a NOTIFY unanswered for
 *                        REGEV_Q_ANSWER_MS is answered 408 (the
 *                        transaction layer normally reports Timer F
 *                        first); regev_q_deadline() says when to call it.
 *
 * SEND means: db_sub_take() and COMMIT, build the document from the
 * current state, send, regev_q_sent(). REMOVE: db_sub_delete(). After
 * REMOVE every call returns NONE.
 */
#ifndef AFD_REGEVENT_H
#define AFD_REGEVENT_H

#include <stdint.h>
#include <time.h>

#include "util/conf.h"
#include "schema/db_reg.h"
#include "sip/reginfo.h"
#include "sip/sip.h"

#define REGEV_DEFAULT_EXPIRES 3761 /* RFC 3680 4.3 */
#define REGEV_Q_ANSWER_MS 32000    /* Timer F, 64 * T1 */

/* What regev_check_subscribe() decided. */
struct regev_check {
	int status;         /* 200 or the refusal */
	const char *reason; /* NULL: sip_reason(status) */
	char extra[64];     /* header lines for the answer ("" or
	                       "Name: value\r\n"), e.g. Allow-Events */
	long expires;       /* 200: the granted expiry in seconds */
	sip_str event_id;   /* the Event header's id parameter (a slice of
	                       the request, quotes kept), empty when none */
};

/* Check a SUBSCRIBE (see the top of this file). [regevent] min_expires
 * and max_expires come from c. Returns check->status. */
int regev_check_subscribe(const struct sip_msg *req, const struct conf *c,
                          struct regev_check *check);

/*
 * May the subscriber whose subscribers row has impu and extra_impu (as
 * stored; NULL impu: no row, an unknown or unauthenticated subscriber)
 * watch target? With [auth] mode = none anyone may watch any AOR; else
 * only an identity of the subscriber's own implicit set: its impu or one
 * of its extra_impu entries (comma-separated, blanks and <> ignored).
 * AORs are compared as normalised strings (reg_aor()). 1 yes, 0 no (403).
 */
int regev_may_watch(enum conf_auth mode, const char *target, const char *impu,
                    const char *extra_impu);

/* The Subscription-State value: "active;expires=N" (N = expires_at - now,
 * at least 0) or "terminated;reason=R" (reason NULL: no reason). */
void regev_substate(struct sip_buf *b, int terminated, int64_t expires_at,
                    time_t now, const char *reason);

/* What a NOTIFY is made of (strings NUL-terminated). */
struct regev_notify {
	const char *target;     /* Request-URI: the watcher's Contact URI */
	const char *vias;       /* complete Via line(s), CRLF-terminated */
	const char *aor;        /* From URI: the watched AOR */
	const char *local_tag;  /* From tag: afd's */
	const char *watcher;    /* To URI */
	const char *remote_tag; /* To tag: the subscriber's */
	const char *call_id;
	int64_t cseq;
	const char *route;    /* route set as stored, NULL/"": none */
	const char *contact;  /* afd's Contact URI */
	const char *event_id; /* NULL: none */
	int terminated;
	const char *reason; /* when terminated */
	int64_t expires_at;
	time_t now;
	sip_str body; /* the reginfo document */
};

/* Print the whole NOTIFY into b (see the top of this file). 0, or -1 when
 * a required field is missing, a field holds CR or LF, or b->oom. */
int regev_notify_print(struct sip_buf *b, const struct regev_notify *n);

/* ---- the document from the registrations rows ---- */

/* One binding to report and its event: the current bindings (event
 * REGINFO_EV_REGISTERED, or REFRESHED / SHORTENED / CREATED for the one
 * that just changed) and those just removed (EXPIRED, UNREGISTERED,
 * DEACTIVATED, REJECTED: reginfo_event_parse(reg_why_event(why)) or the
 * deregister column's word). */
struct regev_binding {
	const struct db_binding *b;
	enum reginfo_event event;
};

/* One public identity of the watched set and its bindings. */
struct regev_identity {
	const char *aor;
	const struct regev_binding *bindings;
	int nbindings;
};

/*
 * Append the full-state reginfo document of version for the identities
 * (ids, n: the implicit registration set, db_sub_identities() order) to
 * out, as of now. For each binding: contact id "c<row id>", state from its
 * event (reginfo_event_state), expires = expires_at - now (at least 0; 0
 * when terminated), q when it has one, callid and cseq of its REGISTER,
 * duration-registered = now - registered_at, uri = the contact, an
 * unknown-param for every stored Contact parameter (registrations.params).
 * An identity's state: active with an active contact, terminated when it
 * has contacts but none active, init without contacts. Registration id:
 * reginfo_aor_id(aor). Returns 0, or -1 (a field XML cannot carry, a bad
 * stored params string, out of memory); out may then hold a part.
 */
int regev_document(struct sip_buf *out, uint64_t version,
                   const struct regev_identity *ids, int n, time_t now);

/* ---- the NOTIFY queue of one subscription ---- */

enum regev_q_act {
	REGEV_Q_NONE,  /* nothing to do now */
	REGEV_Q_SEND,  /* send a NOTIFY with the current state */
	REGEV_Q_REMOVE /* the subscription is over: delete its row */
};

struct regev_q {
	int inflight;       /* a NOTIFY went out, no final answer yet */
	int64_t cseq;       /* its CSeq */
	uint64_t sent_ms;   /* when */
	int final_inflight; /* it is the final NOTIFY */
	int dirty;          /* a change not in any NOTIFY sent */
	int final;          /* a final NOTIFY is owed */
	int gone;           /* REMOVE was returned */
	unsigned changes;   /* changes since the last NOTIFY was sent */
	const char *reason; /* of the final NOTIFY (static string) */
};

/* An idle queue. A subscription just accepted owes its first NOTIFY:
 * call regev_q_change() for it. */
void regev_q_init(struct regev_q *q);

/* A watched AOR changed at now_ms. */
enum regev_q_act regev_q_change(struct regev_q *q, uint64_t now_ms);

/* The subscription ends (reason: a static string, "timeout",
 * "noresource", "deactivated", "rejected", ...): a final NOTIFY is owed.
 * SEND when nothing is in flight; a second call changes nothing. */
enum regev_q_act regev_q_terminate(struct regev_q *q, const char *reason,
                                   uint64_t now_ms);

/* The caller sent the NOTIFY of CSeq cseq at now_ms (after SEND). Is it
 * the final one? q->final says (and q->reason its reason). */
void regev_q_sent(struct regev_q *q, int64_t cseq, uint64_t now_ms);

/* A response with status to the NOTIFY of CSeq cseq arrived (408 for a
 * transaction timeout). */
enum regev_q_act regev_q_answer(struct regev_q *q, int64_t cseq, int status,
                                uint64_t now_ms);

/* When regev_q_tick() has something to do: the in-flight NOTIFY's
 * deadline in ms, or 0 when nothing is in flight. */
uint64_t regev_q_deadline(const struct regev_q *q);

/* The clock moved to now_ms: an in-flight NOTIFY past its deadline counts
 * as answered 408 (REMOVE). */
enum regev_q_act regev_q_tick(struct regev_q *q, uint64_t now_ms);

/* Does a failure status end the subscription (481, 408, 489)? */
int regev_status_removes(int status);

/*
 * The NOTIFY queues of one worker, by subscription id (reg_subscriptions
 * .id): a hash table under a talloc context. A queue lives while its
 * subscription is served by this worker; after REMOVE, drop it. Deadlines
 * are found by a scan (the worker arms one timer at
 * regev_qs_deadline()); fine for the thousands of subscriptions of a lab.
 */
struct regev_qs;

/* An empty set. NULL when out of memory. */
struct regev_qs *regev_qs_new(TALLOC_CTX *ctx);

/* The queue of subscription id; with create, a new idle one when there is
 * none. NULL when absent (and not create) or out of memory. The pointer
 * is valid until the next regev_qs_get(create) or regev_qs_drop(). */
struct regev_q *regev_qs_get(struct regev_qs *qs, int64_t id, int create);

/* Forget the queue of id (nothing when there is none). */
void regev_qs_drop(struct regev_qs *qs, int64_t id);

/* How many queues. */
size_t regev_qs_count(const struct regev_qs *qs);

/* The earliest in-flight deadline of all queues (ms), 0 when none. */
uint64_t regev_qs_deadline(const struct regev_qs *qs);

/* The ids (at most max, into ids) whose in-flight NOTIFY is past its
 * deadline at now_ms: call regev_q_tick() on each. Returns the count. */
int regev_qs_due(const struct regev_qs *qs, uint64_t now_ms, int64_t *ids,
                 int max);

#endif
