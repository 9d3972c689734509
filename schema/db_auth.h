/*
 * schema/db_auth.h: the authentication data layer: subscribers (looked up
 * and validated), the SQN taken for each AKA challenge, the AKA vectors
 * issued with challenges (auth_vectors), the Digest nonce-count replay
 * record (auth_nonces) and the server's keys (afd_keys). Statements are
 * prepared once per connection (db_stmt) and kept in a struct db_auth;
 * every value is a bound parameter.
 *
 * Subscribers are provisioned by hand with the sqlite3 CLI, so every row is
 * checked when it is read: a bad value is reported with the row's impi and
 * the field's name (never the value of k, opc, op or password), and never
 * crashes anyone. Nothing here logs a secret.
 *
 * Transactions belong to the caller; each function is one statement (or a
 * read followed by one), so it is atomic on its own, and can also run
 * inside the caller's transaction or savepoint.
 *
 * How a REGISTER gate strings these together with sip/digest.h and
 * sip/aka.h (a sketch; the gate decides the answers):
 *   digest_msg_cred(realm)           -1: 400 <err>; 0: no credentials
 *   db_auth_subscriber(username)     0: unknown (challenge anyway, same
 *                                    look); -2: refuse, the row is bad
 *   AKA challenge:  db_auth_sqn_take, RAND_bytes(rand), aka_keys_init,
 *                   aka_vector_make, aka_nonce_make, db_auth_vector_put,
 *                   digest_challenge_print(alg AKAv1-MD5 or AKAv2-MD5)
 *   AKA answer:     db_auth_vector_get(nonce) (0: fresh 401; check
 *                   impi); with c.auts: aka_auts_parse, aka_auts_check
 *                   on the vector's RAND (0: db_auth_sqn_resync, a new
 *                   vector, 401; 1: refuse), db_auth_vector_delete;
 *                   else aka_password(v2 = AKAv2), digest_check,
 *                   db_auth_vector_use(nc) (1: replay)
 *   Digest:         db_auth_key(DB_AUTH_NONCE_KEY) once per worker;
 *                   digest_nonce_make / digest_nonce_check (stale: 401
 *                   stale=true), db_auth_nc_use(nonce, c.nc_value),
 *                   digest_check with the password
 *   now and then:   db_auth_expire
 */
#ifndef AFD_DB_AUTH_H
#define AFD_DB_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sqlite3.h>
#include <talloc.h>

#include "sip/aka.h"
#include "sip/milenage.h"

/* One row of `subscribers`, checked and decoded. */
struct db_subscriber {
	const char *impi;       /* never NULL */
	const char *impu;       /* never NULL */
	const char *extra_impu; /* as stored (comma-separated), or NULL */
	const char *password;   /* Digest password, or NULL */
	int has_k;              /* k given: AKA; then alg says how */
	uint8_t k[AKA_K_LEN];
	int has_opc; /* opc given */
	uint8_t opc[AKA_OP_LEN];
	int has_op; /* op given (derive OPc with milenage_opc when !has_opc) */
	uint8_t op[AKA_OP_LEN];
	uint8_t amf[AKA_AMF_LEN]; /* 8000 when NULL or '' */
	uint64_t sqn;             /* the last SQN issued */
	enum aka_alg alg;         /* milenage when NULL or '' */
};

struct db_auth;

/* The data layer of one connection; statements are prepared on first use.
 * Free it (talloc) before closing db. NULL on failure (logged). */
struct db_auth *db_auth_new(TALLOC_CTX *ctx, sqlite3 *db);

/*
 * Find the subscriber called name, trying in order: impi = name; impu =
 * name; the user part of impi (before '@') = name, when exactly one row
 * has it (a softphone's Digest username); name listed in extra_impu
 * (comma-separated; blanks, tabs and <> ignored). One indexed look-up of
 * subscriber_ids (schema.sql: every such name, kept by triggers), so its
 * cost does not grow with the table. Then check the row:
 *   - k, opc, op: NULL or '' for none, else exactly 32 hex digits (either
 *     case); amf: NULL or '' for 8000, else 4 hex digits;
 *   - algorithm: milenage or xor (any case; NULL or '' is milenage);
 *   - sqn: an integer in 0..2^48-1;
 *   - a row with k and algorithm milenage needs opc or op;
 *   - a row needs a password or k.
 * Returns 1 with *out (strings under ctx), 0 when no row matches, -1 on a
 * database error (logged), -2 when the row is bad or the user part is
 * ambiguous: err then says which row and field, e.g.
 * "subscribers row impi='alice@ims.example': k: 31 hex digits, want 32",
 * and the same text is logged (warn) — the caller refuses the request.
 */
int db_auth_subscriber(struct db_auth *da, TALLOC_CTX *ctx, const char *name,
                       struct db_subscriber *out, char *err, size_t errlen);

/*
 * Take the next SQN for impi and store it: sqn := aka_sqn_next(sqn) (SEQ
 * + 1, IND + 1 mod 32), an UPDATE computing it in SQL, then a read of the
 * stored value (no RETURNING: SQLite makes a temporary table for each
 * RETURNING). Run it inside a transaction or savepoint (the gate does):
 * the UPDATE's write lock then holds until the read, so no other
 * connection takes an SQN between them. 0 with *sqn the SQN to put in the
 * vector, 1 when there is no such row, -1 on error (logged). A stored sqn
 * outside 0..2^48-1 is masked to 48 bits first.
 */
int db_auth_sqn_take(struct db_auth *da, const char *impi, uint64_t *sqn);

/*
 * db_auth_sqn_take when the caller read the row's sqn (last) in the very
 * write transaction it takes the SQN in: one UPDATE that stores
 * aka_sqn_next(last) only while the row still holds last (no read back).
 * 0 with *sqn, 1 when the row is gone or holds another sqn (the caller
 * then uses db_auth_sqn_take), -1 on error (logged).
 */
int db_auth_sqn_take_from(struct db_auth *da, const char *impi, uint64_t last,
                          uint64_t *sqn);

/*
 * After a resynchronisation (aka_auts_check gave SQN_MS): store and return
 * the SQN of the next vector, aka_sqn_next(sqn_ms), in one UPDATE. Same
 * results as db_auth_sqn_take.
 */
int db_auth_sqn_resync(struct db_auth *da, const char *impi, uint64_t sqn_ms,
                       uint64_t *sqn);

/*
 * A nonce as auth_vectors and auth_nonces key it: when it was issued
 * (microseconds since the epoch, which the nonce carries: sip/digest.h,
 * workers/auth.c) and the nonce as sent. The time comes first in the key,
 * so that the rows of a batch go to the end of the b-tree.
 */
struct db_auth_nonce {
	int64_t issued_us;
	const char *nonce;
};

/* An AKA vector kept for a challenge (a row of auth_vectors). */
struct db_auth_vector {
	const char *nonce;
	const char *impi;
	const char *algorithm; /* "AKAv1-MD5" | "AKAv2-MD5" */
	struct aka_vector v;   /* rand, autn, xres (xres_len), ck, ik, ak,
	                          sqn */
	int64_t created_at, expires_at;
	int used;
};

/* Keep the vector issued with a challenge: 0, or -1 (logged; also when
 * the nonce is already there). */
int db_auth_vector_put(struct db_auth *da, const struct db_auth_nonce *n,
                       const char *impi, const char *algorithm,
                       const struct aka_vector *v, int64_t now,
                       int64_t expires_at);

/*
 * The vector of nonce, if it has not expired at now: 1 with *out (strings
 * under ctx; used says whether a response was accepted already), 0 when
 * there is none (unknown, or expired), -1 on error, -2 when the row is
 * damaged (bad hex; logged, naming the nonce's row and field).
 */
int db_auth_vector_get(struct db_auth *da, TALLOC_CTX *ctx,
                       const struct db_auth_nonce *n, int64_t now,
                       struct db_auth_vector *out);

/*
 * An answer to the vector's challenge was accepted with nonce count nc:
 * record it (used, nc) only if nc is higher than every nc accepted before
 * for this vector (RFC 7616 3.4.5; an AKA answer without qop counts as nc
 * 1, so it is good once). One UPDATE of the row the answer read: the
 * replay record of an AKA nonce lives in its vector, not in auth_nonces.
 * 0 accepted, 1 replay (nc not higher) or the vector is gone, -1 error.
 */
int db_auth_vector_use(struct db_auth *da, const struct db_auth_nonce *n,
                       uint32_t nc);

/* Forget nonce's vector (answered with a resync, or refused): 0 or -1. */
int db_auth_vector_delete(struct db_auth *da, const struct db_auth_nonce *n);

/*
 * The Digest nonce-count check (RFC 7616 3.4.5): accept nc for nonce only
 * if it is higher than every nc accepted before for that nonce, and record
 * it (the record lives until db_auth_expire sweeps it, once the nonce is
 * stale). 0 accepted, 1 replay (nc not higher), -1 on error.
 */
int db_auth_nc_use(struct db_auth *da, const struct db_auth_nonce *n,
                   uint32_t nc);

/* Delete vectors and nonce records issued before before_us (the nonces
 * gone stale: issued more than a nonce lifetime ago), at most max of each
 * (the oldest first, along the key), so that one pass under a sustained
 * load is a short statement: how many, or -1. */
int db_auth_expire(struct db_auth *da, int64_t before_us, int max);

/*
 * Whether a live binding (expires_at > now) of aor was registered from
 * this source: received ("ip:port" as the registrar stores it) and, over
 * TCP, the same connection (slot, conn_id); slot NULL means UDP. A
 * request over TCP is also from the source of a binding registered over
 * UDP from the same address, any port (a UE that registered over UDP and
 * sends a large request over TCP, RFC 3261 18.1.1). 1, 0, or -1 on error
 * (logged). (The P-CSCF source check of workers/auth.h.)
 */
int db_auth_source_bound(struct db_auth *da, const char *aor,
                         const char *received, const char *slot,
                         int64_t conn_id, int64_t now);

/*
 * The server key called name, of exactly len bytes (1..64): made with
 * RAND_bytes the first time any process asks (INSERT OR IGNORE, so two
 * workers racing get the same key), read from afd_keys afterwards. It
 * survives restarts. 0 with key filled, or -1 (logged; also when the
 * stored key has another length).
 */
#define DB_AUTH_NONCE_KEY "digest-nonce"
int db_auth_key(struct db_auth *da, const char *name, uint8_t *key, size_t len);

#endif
