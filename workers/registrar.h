/*
 * workers/registrar.h: the registrar (RFC 3261 10.3, RFC 3327 Path,
 * RFC 3608 Service-Route, RFC 5626 instance/reg-id), run by sipd for every
 * REGISTER, over UDP and TCP alike.
 *
 * The decisions are pure functions (reg_aor, reg_expiry, reg_cseq_check,
 * reg_plan) that take the request's contacts and the address of record's
 * current bindings and say what must change; reg_register() glues them to
 * the data layer (schema/db_reg.h) inside the SAVEPOINT that sipd opened,
 * and returns the status and the headers of the answer. sipd builds and
 * queues the answer; it leaves only after the batch is committed.
 *
 * Status codes chosen (the README lists them):
 *   sips: Request-URI or To (afd has no TLS; RFC 3261 26.2.2):        416
 *   Request-URI not sip:, or with a user part (RFC 3261 10.2):   416, 400
 *   Request-URI or To host not served (neither [afd] domain nor the
 *   listen address):                                                  403
 *   outbound (instance + reg-id) through a proxy whose first hop's Path
 *   lacks ;ob, with outbound_require_ob (RFC 5626 6):                 439
 *   Contact '*' with other contacts or a non-zero Expires:            400
 *   expiry below min_expires (and not 0):                    423 + Min-Expires
 *   same Call-ID, CSeq not higher than the binding's:                 500
 *     (RFC 3261 10.3 step 7 "the request fails"; 500 is the status
 *     RFC 3261 12.2.2 gives out-of-order requests. Kamailio answers 200
 *     and changes nothing; we refuse, as the RFC says.) A retransmission
 *     (same Call-ID, CSeq and top Via branch) is answered 200 with the
 *     current bindings and changes nothing, as a transaction layer would.
 *   more than max_contacts live bindings:        503 "Too Many Contacts"
 *     (what Kamailio's registrar answers: 503 "Too many registered
 *     contacts"), with Retry-After.
 */
#ifndef AFD_REGISTRAR_H
#define AFD_REGISTRAR_H

#include <stdint.h>
#include <time.h>

#include <talloc.h>

#include "util/conf.h"
#include "schema/db_reg.h"
#include "schema/db_txn.h"
#include "sip/sip.h"
#include "workers/sipd.h"

struct reg;

/*
 * Why a binding went away (for the removal hook), with the RFC 3680
 * section 5.1 contact event a reg-event NOTIFY reports for it
 * (reg_why_event()):
 *   REG_WHY_EXPIRED       "expired": its time ran out. The sweeper's
 *                         removals, and also an expired row not yet swept
 *                         that a REGISTER removes or renews.
 *   REG_WHY_UNREGISTERED  "unregistered": removed by a REGISTER, expires=0
 *                         on its contact or "Contact: *" with Expires: 0.
 *   REG_WHY_REPLACED      "unregistered" too: a REGISTER of the same UA
 *                         instance took its place, by +sip.instance/reg-id
 *                         with a new contact URI (RFC 5626 section 6: the
 *                         old flow's binding is replaced), or a new instance
 *                         binding took the contact URI of a binding without
 *                         instance. Not "deactivated":
 *                         that event asks the UA to re-register at once, and
 *                         the UA has just done so (a UE that obeyed would
 *                         loop); nor "rejected"/"probation" (administrative).
 */
/*   REG_WHY_UNREACHABLE   "deactivated": the phone stopped answering afd's
 *                         OPTIONS pings (workers/ping.c); if it is alive
 *                         after all, it should register again.
 *   REG_WHY_DEACTIVATED   "deactivated": network-initiated de-registration
 *                         (registrations.deregister = 'deactivated', set by
 *                         a tester): the phone should register again.
 *   REG_WHY_REJECTED      "rejected": the same with 'rejected': it should
 *                         not.
 */
enum reg_why {
	REG_WHY_EXPIRED,
	REG_WHY_UNREGISTERED,
	REG_WHY_REPLACED,
	REG_WHY_UNREACHABLE,
	REG_WHY_DEACTIVATED,
	REG_WHY_REJECTED,
	/* not removals: what the change hook (below) also hears */
	REG_WHY_CREATED,   /* "created": a new binding (or one renewed after
	                      it expired, or an instance's new contact) */
	REG_WHY_REFRESHED, /* "refreshed": the same binding, expiry not
	                      shortened */
	REG_WHY_SHORTENED  /* "shortened": the same binding, expiring sooner */
};

/* 1 for the whys that remove a binding. */
int reg_why_removes(enum reg_why why);

/* The RFC 3680 <contact event="..."> word for why ("expired", ...). */
const char *reg_why_event(enum reg_why why);

/* b is the binding as it was stored before it went away (every column:
 * aor, contact, params, instance, reg_id, call_id, cseq, received, ...);
 * it and its strings are valid only during the call. */
typedef void (*reg_removal_fn)(void *arg, const struct db_binding *b,
                               enum reg_why why);

/* The registrar working in transaction object txn (schema/db_txn.h: its
 * connection and its after-commit callbacks). NULL on failure (logged). */
struct reg *reg_new(TALLOC_CTX *ctx, const struct conf *c, struct db_txn *txn);

/*
 * The removal hook (the reg-event layer): called exactly once for every
 * stored binding that goes away, whatever removed it (the sweeper, a
 * REGISTER's expires=0 or "Contact: *", an RFC 5626 replacement, a
 * REGISTER renewing an expired row, a ping service's removal), and only
 * once the removal is committed: removals made inside a transaction are
 * after-commit callbacks of the transaction object (schema/db_txn.h),
 * dropped when the change is rolled back or the commit fails. A refused
 * REGISTER (4xx/5xx) removes nothing and calls
 * nothing. Outside a transaction (autocommit) the hook runs as soon as the
 * change is committed. The hook runs outside any transaction of this
 * connection; it may use the database. NULL fn: no hook.
 */
void reg_set_removal_hook(struct reg *r, reg_removal_fn fn, void *arg);

/*
 * The change hook (the reg-event layer's after-commit event "the bindings
 * of this AOR changed"): as the removal hook, but for every change of a
 * binding, the additions and refreshes too (REG_WHY_CREATED, _REFRESHED,
 * _SHORTENED, with b as stored now) as well as every removal. Called in
 * the order the changes were made, after the removal hook's call for the
 * same removal. NULL fn: no hook.
 */
void reg_set_change_hook(struct reg *r, reg_removal_fn fn, void *arg);

/*
 * The unit hook (the reg event's "a NOTIFY is owed"): called for every
 * change of a binding (every why, with b as stored after the change, or as
 * it was for a removal) INSIDE the unit of work that makes it, on the same
 * connection and transaction, before the unit is released: what it writes
 * is committed, or rolled back, with the change itself, so no worker dying
 * after the commit can lose it. It returns 0, or -1 to fail the unit (the
 * change is rolled back; a REGISTER is answered 500). NULL fn: no hook.
 */
typedef int (*reg_unit_fn)(void *arg, const struct db_binding *b,
                           enum reg_why why, time_t now);
void reg_set_unit_hook(struct reg *r, reg_unit_fn fn, void *arg);

/* Network-initiated de-registration: remove every binding whose
 * deregister column is set (REG_WHY_DEACTIVATED or REG_WHY_REJECTED), in
 * a SAVEPOINT of its own. The sweeper calls it. The number removed, or
 * -1 (nothing removed). */
int reg_deregister(struct reg *r, time_t now);

/* Remove binding id of aor for why (a service's decision, e.g. a phone
 * that stopped answering pings), inside the caller's unit of work; the
 * removal hook hears of it after the commit. 1 removed, 0 no such binding,
 * -1 on a database error. */
int reg_remove(struct reg *r, const char *aor, int64_t id, enum reg_why why,
               time_t now);

/* The REGISTER service of the method table (workers/method.h). */
struct sipd_req;
struct sipd;

/* What reg_register() decided. hdrs holds the extra header lines of the
 * answer (CRLF-terminated), allocated under the mem given. */
struct reg_result {
	int status;
	const char *reason; /* NULL: the standard phrase */
	struct sip_buf hdrs;
	int wrote; /* the database was changed */
	int nbindings;
};

/*
 * Handle one REGISTER (already through sipd's generic checks). Runs its
 * database work inside the caller's transaction, in a SAVEPOINT of its own:
 * a failure rolls back this REGISTER alone. Returns 0 with *res filled, or
 * -1 when the database failed (res->status is then 500).
 */
int reg_register(struct reg *r, TALLOC_CTX *mem, const struct sip_msg *req,
                 const struct sip_peer *from, time_t now,
                 struct reg_result *res);

/* reg_register() with what the authentication gate decided (auth may be
 * NULL): the bindings written record its impi, integrity-protected and
 * Security-Client. */
struct sipd_auth;
int reg_register_auth(struct reg *r, TALLOC_CTX *mem, const struct sip_msg *req,
                      const struct sip_peer *from, const struct sipd_auth *auth,
                      time_t now, struct reg_result *res);

/* Remove bindings expired at now, in a SAVEPOINT of its own (the reg
 * event's subscriptions expire in workers/regnotify.c); the removal hook sees
 * each binding once the removal is committed (at once in autocommit, else at
 * reg_txn_end()). Returns the number of rows removed, or -1 (nothing removed).
 */
int reg_sweep(struct reg *r, time_t now);

/* ---- the pure decisions, exposed for the unit tests ---- */

/* One Contact of a REGISTER, as the registrar sees it. */
struct reg_contact {
	char *uri;    /* the contact URI (NUL-terminated copy) */
	char *params; /* header params as sent, minus expires and q */
	long expires; /* the expires param, -1 when absent */
	double q;
	int has_q;
	char *instance; /* +sip.instance without quotes, NULL when none */
	int64_t reg_id; /* 0 when none (or without an instance) */
};

/*
 * The address of record of a To URI, normalised: "sip:user@host" with the
 * host lower-cased, parameters and port dropped, the user %-unescaped
 * except for bytes that must stay escaped (then "%HH", upper case; %00
 * stays %00). A tel: URI or a user that is a phone number (global "+digits"
 * or only digits, visual separators - . ( ) removed; also ;user=phone) maps
 * to "sip:NUMBER@domain". Hosts served: [afd] domain and the listen
 * address. Returns the AOR (talloc under ctx), or NULL with *status (400,
 * 403, 416) and *reason set.
 */
char *reg_aor(TALLOC_CTX *ctx, const struct sip_uri *to, const struct conf *c,
              int *status, const char **reason);

/* The expiry a contact gets: its expires param (>= 0) else the Expires
 * header (>= 0) else default_expires; above max_expires lowered to it;
 * below min_expires but at least an hour raised to it. Returns the seconds
 * (0: remove), or -1 when it is below min_expires and below an hour
 * (423, RFC 3261 10.3 step 7). */
long reg_expiry(long param, long header, const struct conf *c);

enum reg_cseq { REG_CSEQ_OK, REG_CSEQ_RETRANS, REG_CSEQ_STALE };

/* RFC 3261 10.3 step 7 for one existing binding. */
enum reg_cseq reg_cseq_check(const struct db_binding *b, const char *call_id,
                             uint32_t cseq, const char *branch);

/* A REGISTER's request-level facts for reg_plan(). */
struct reg_req {
	const char *call_id;
	uint32_t cseq;
	const char *branch;
	long expires_hdr; /* -1 when absent */
	int star;         /* Contact: * */
	struct reg_contact *contacts;
	int ncontacts;
};

/* What to do with one binding. */
enum reg_op { REG_OP_KEEP, REG_OP_INSERT, REG_OP_UPDATE, REG_OP_DELETE };

struct reg_plan {
	struct db_binding *b; /* working set: current bindings, then new */
	enum reg_op *op;
	enum reg_why *why; /* for REG_OP_DELETE */
	int n;
	int retrans; /* a retransmission: answer the current state */
};

/*
 * Decide what a REGISTER does to the AOR's current bindings (cur, n; taken
 * over into the plan). The new and changed bindings get the request's
 * facts (call_id, cseq, branch, expires_at = now + expiry) but not the
 * where-from fields (the caller fills those). Returns 200 with *plan, or an
 * error status (400, 423, 500, 503) with *reason; nothing is to be changed
 * then.
 */
int reg_plan(TALLOC_CTX *ctx, const struct reg_req *rq, struct db_binding *cur,
             int ncur, const struct conf *c, time_t now, struct reg_plan *plan,
             const char **reason);

#endif
