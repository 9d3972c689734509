/*
 * workers/auth.h: the authentication gate of a worker's SIP pipeline
 * (workers/sipd.h, step 6), for the method-table rows marked METHOD_AUTH
 * (REGISTER): Digest (RFC 7616 with MD5, RFC 2617) and IMS AKA (RFC 3310
 * AKAv1-MD5, RFC 4169 AKAv2-MD5, 3GPP TS 33.203) against the subscribers
 * table, as [auth] mode says (none | digest | aka | auto).
 *
 * What the gate decides travels to the service in struct sipd_req's auth
 * fields (struct sipd_auth below); the registrar stores it with each
 * binding (registrations.impi, integrity, security_client).
 *
 * The rules (the README's "Authentication" section says the same):
 *   - no credentials, or the IMS first REGISTER's empty nonce/response:
 *     401 with a challenge. An unknown user gets a challenge of the same
 *     form, made with the same steps (a decoy AKA vector is even stored),
 *     and its answer is refused with the same 403 as a wrong password;
 *   - Digest nonces are afd's HMAC nonces (sip/digest.h) bound to the To
 *     address of record; AKA nonces name a vector kept in auth_vectors
 *     (its SQN taken in the same transaction, committed before the 401
 *     leaves): the answer may land on any worker, after any restart;
 *   - a wrong response is 403; an unknown or expired nonce a fresh 401; a
 *     stale Digest nonce with the right response 401 stale=true; a
 *     replayed nc (not above the last accepted one for that nonce) 401
 *     stale=true; a malformed Authorization 400 naming the fault;
 *   - AKA auts: MAC-S checked, the SQN resynchronised, a fresh 401;
 *   - the To address of record must be one of the subscriber's public
 *     identities (impu, extra_impu), else 403;
 *   - repeated failures: AUTH_FAIL_MAX failures (400/403 of the gate) from
 *     one source address within AUTH_FAIL_WINDOW seconds and the
 *     address's requests behind the gate are answered 403 with
 *     Retry-After: AUTH_BLOCK_SECONDS for that long; one log line per
 *     episode. The count lives in the worker's memory (the UDP worker
 *     sees all UDP; a TCP worker its connections).
 *   - a request other than REGISTER behind the gate (a later service's
 *     row marked METHOD_AUTH) is not challenged: it passes when the
 *     identity it claims (P-Preferred-Identity, else From) has a binding
 *     registered from its source (auth_source_bound), else 403 "Not
 *     Registered From Here";
 *   - sec-agree (RFC 3329): accepted in Require/Proxy-Require (the method
 *     table's METHOD_SECAGREE; not advertised in Supported), the
 *     Security-Client stored with the binding, and
 *     one log line per phone (per worker's life) says that IPsec was asked
 *     for and not set up.
 */
#ifndef AFD_AUTH_H
#define AFD_AUTH_H

#include <time.h>

#include <sqlite3.h>
#include <talloc.h>

#include "util/conf.h"

#define AUTH_FAIL_MAX 10      /* failures from one address ... */
#define AUTH_FAIL_WINDOW 60   /* ... within this many seconds ... */
#define AUTH_BLOCK_SECONDS 60 /* ... block it for this long */

struct auth;
struct sipd;
struct sipd_req;
struct sip_peer;

/* The gate of one worker, on the worker's database connection db (the
 * statements are prepared on first use). NULL on failure (logged). */
struct auth *auth_new(TALLOC_CTX *ctx, const struct conf *c, sqlite3 *db);

/*
 * The gate for one request (sipd's pipeline): 0 when it may go on to its
 * service (rq->auth filled: who authenticated, integrity-protected,
 * Security-Client), 1 when the gate answered it (401 challenge, 400, 403,
 * 500) through sipd_reply(). The challenge's database work runs in the
 * batch's transaction and the 401 leaves only after its commit.
 */
int auth_gate(struct auth *a, struct sipd *sd, struct sipd_req *rq);

/* Remove expired vectors and nonce records (once a second, at most
 * AUTH_SWEEP_MAX of each: the UDP worker's sweep, inside its batch).
 * Rows removed, or -1. */
int auth_sweep(struct auth *a, struct sipd *sd, time_t now);

/*
 * The P-CSCF check for requests after registration (SUBSCRIBE, INVITE,
 * MESSAGE, ...): may a request from `from` act for identity (a URI as
 * text, e.g. the From or P-Preferred-Identity URI)? 1 when a live binding
 * of identity, or of another public identity of the same subscriber (the
 * implicit registration set: impu and extra_impu), was registered from
 * that source: the same "ip:port" over UDP, or the same TCP connection
 * (worker slot, connection id and peer), or, for a request over TCP, a
 * binding registered over UDP from the same address (a UE switches to TCP
 * for a large INVITE, RFC 3261 18.1.1; without IPsec its TCP port is
 * new). 0 when not (answer 403), -1 on a
 * database error (answer 500). With [auth] mode = none it still checks the
 * bindings (a UE may only act for what it registered).
 */
int auth_source_bound(struct sipd *sd, const char *identity,
                      const struct sip_peer *from, time_t now);

#endif
