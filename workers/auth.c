/*
 * workers/auth.c: the authentication gate (see auth.h): Digest and IMS AKA
 * challenges and their answers, the failure throttle, sec-agree without
 * IPsec, and the source check other services call.
 *
 * It strings together sip/digest.h (credentials, hashes, HMAC nonces),
 * sip/aka.h (vectors, AUTS, RFC 3310 nonces, AKAv1/AKAv2 passwords) and
 * schema/db_auth.h (subscribers, SQN, vectors, nc records, the server
 * key). Secrets (passwords, K, OPc, RES, CK, IK) are never logged.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "schema/db_auth.h"
#include "schema/db_txn.h"
#include "sip/aka.h"
#include "sip/digest.h"
#include "util/log.h"
#include "workers/auth.h"
#include "workers/registrar.h"
#include "workers/sipd.h"

#define AUTH_SRC_SLOTS 256      /* failure records (source addresses) kept */
#define AUTH_SECAGREE_SEEN 1024 /* phones whose sec-agree was logged */
/* Expired vectors and nonce records deleted a second, of each: one pass
 * deletes what expired in the second before (a challenge lives nonce_lifetime),
 * up to this many, so that a sustained load never makes one long DELETE. */
#define AUTH_SWEEP_MAX 16384
/* Seconds a nonce's rows are kept past its lifetime: a worker that read
 * the clock just before the nonce went stale and writes its nc record
 * after a sweep must find the record there, not make it anew (and so
 * accept a replayed nc). */
#define AUTH_SWEEP_MARGIN 10

/* The failure record of one source address. */
struct auth_src {
	char ip[80];          /* "": free */
	time_t first;         /* start of the counting window */
	int fails;            /* failures in the window */
	time_t blocked_until; /* 0: not blocked */
};

struct auth {
	const struct conf *c;
	struct db_auth *da;
	uint8_t key[32]; /* the Digest nonce key (afd_keys) */
	int have_key;
	time_t last_sweep;
	int64_t last_issued_us; /* the last nonce's issued time (auth_issued) */
	/* both made at their first use: a worker that never saw a failure
	 * or a sec-agree phone neither holds nor scans them */
	struct auth_src *src; /* AUTH_SRC_SLOTS records */
	uint64_t *secagree;   /* AUTH_SECAGREE_SEEN hashes of phones logged */
	size_t nsecagree;
};

/* What kind of challenge a user gets. */
enum auth_kind { AUTH_DIGEST, AUTH_AKA };

/* One request's work, in the batch's memory. */
struct auth_ctx {
	struct auth *a;
	struct sipd *sd;
	struct sipd_req *rq;
	TALLOC_CTX *mem;
	char ip[80];     /* the source address, without port */
	const char *aor; /* the To address of record (reg_aor) */
	time_t now;
};

struct auth *
auth_new(TALLOC_CTX *ctx, const struct conf *c, sqlite3 *db)
{
	struct auth *a;

	if ((a = talloc_zero(ctx, struct auth)) == NULL) {
		log_warnx("auth: out of memory");
		return NULL;
	}
	a->c = c;
	if ((a->da = db_auth_new(a, db)) == NULL) {
		talloc_free(a);
		return NULL;
	}
	return a;
}

/* ------------------------------------------------------ the throttle */

/* The record of ip (made when create, replacing the stalest), or NULL. */
static struct auth_src *
auth_src_find(struct auth *a, const char *ip, time_t now, int create)
{
	struct auth_src *old = NULL;

	if (a->src == NULL) {
		if (!create)
			return NULL;
		a->src = talloc_zero_array(a, struct auth_src, AUTH_SRC_SLOTS);
		if (a->src == NULL)
			return NULL;
	}
	for (size_t i = 0; i < AUTH_SRC_SLOTS; i++) {
		struct auth_src *s = &a->src[i];
		if (s->ip[0] != '\0' && strcmp(s->ip, ip) == 0)
			return s;
		if (!create)
			continue;
		/* free, or neither blocked nor counting any more: reusable;
		 * else the one whose window began first */
		if (s->ip[0] == '\0' || (s->blocked_until <= now &&
		                         s->first + AUTH_FAIL_WINDOW <= now)) {
			if (old == NULL || old->ip[0] != '\0')
				old = s;
		} else if (old == NULL ||
		           (old->ip[0] != '\0' && s->first < old->first))
			old = s;
	}
	if (old != NULL) {
		memset(old, 0, sizeof(*old));
		snprintf(old->ip, sizeof(old->ip), "%s", ip);
		old->first = now;
	}
	return old;
}

/* Seconds ip stays blocked (0: not blocked). */
static long
auth_blocked(struct auth *a, const char *ip, time_t now)
{
	struct auth_src *s = auth_src_find(a, ip, now, 0);

	if (s == NULL || s->blocked_until <= now)
		return 0;
	return (long)(s->blocked_until - now);
}

/* Count one failure of ip; block it (and log once) at AUTH_FAIL_MAX. */
static void
auth_count_failure(struct auth *a, const char *ip, time_t now)
{
	struct auth_src *s = auth_src_find(a, ip, now, 1);

	if (s == NULL)
		return;
	if (s->first + AUTH_FAIL_WINDOW <= now) {
		s->first = now;
		s->fails = 0;
	}
	if (++s->fails >= AUTH_FAIL_MAX && s->blocked_until <= now) {
		s->blocked_until = now + AUTH_BLOCK_SECONDS;
		log_warnx("auth: %d failed authentications from %s within %d "
		          "s: its requests are refused (403, Retry-After) for "
		          "%d s",
		          s->fails, ip, AUTH_FAIL_WINDOW, AUTH_BLOCK_SECONDS);
		s->fails = 0;
		s->first = now;
	}
}

/* ---------------------------------------------------------- answers */

/* Refuse with status (400 or 403) and reason, counting a failure. 1. */
static int
auth_refuse(struct auth_ctx *x, int status, const char *reason, const char *why)
{
	log_info("auth: %d %s to %s (%s): %s", status,
	         reason ? reason : sip_reason(status), x->ip,
	         x->aor ? x->aor : "?", why);
	auth_count_failure(x->a, x->ip, x->now);
	if (sipd_reply(x->sd, x->rq, status, reason, NULL, 0, 0) == -1)
		log_warnx("auth: could not queue a %d", status);
	return 1;
}

/* 500 with Retry-After (the database failed). 1. */
static int
auth_500(struct auth_ctx *x)
{
	static const char retry[] = "Retry-After: 1\r\n";

	sipd_reply(x->sd, x->rq, 500, NULL, retry, sizeof(retry) - 1, 0);
	return 1;
}

/* The Digest nonce key, read (or made) once per worker. 0 or -1. */
static int
auth_key(struct auth *a)
{
	if (a->have_key)
		return 0;
	if (db_auth_key(a->da, DB_AUTH_NONCE_KEY, a->key, sizeof(a->key)) == -1)
		return -1;
	a->have_key = 1;
	return 0;
}

static sip_str
auth_s(const char *s)
{
	return s ? (sip_str){s, strlen(s)} : SIP_STR_NULL;
}

/* n random bytes as hex into out (room for 2n + 1). 0 or -1. */
static int
auth_random_hex(char *out, size_t n)
{
	uint8_t r[32];
	static const char hx[] = "0123456789abcdef";

	if (n > sizeof(r) || digest_random(r, n) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[r[i] >> 4];
		out[2 * i + 1] = hx[r[i] & 15];
	}
	out[2 * n] = '\0';
	return 0;
}

/* The time a new nonce is issued at (digest_nonce_time): now's second
 * and the clock's microseconds, after this worker's last nonce. */
static int64_t
auth_issued(struct auth_ctx *x)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	x->a->last_issued_us =
	    digest_nonce_time(x->a->last_issued_us, x->now, ts.tv_nsec / 1000);
	return x->a->last_issued_us;
}

/* The AKA nonce's server data (RFC 3310 3.1): the time it was issued,
 * 8 bytes big-endian (auth_issued, aka_be_put); auth_aka_issued reads it
 * back out of a nonce as received: 0, or -1 when the nonce has no such
 * server data (not one of afd's, or one of an afd before schema 13). */
#define AUTH_AKA_SDATA 8

static int
auth_aka_issued(sip_str nonce, int64_t *issued_us)
{
	uint8_t rand[AKA_RAND_LEN], autn[AKA_AUTN_LEN];
	uint8_t sdata[AKA_NONCE_SDATA_MAX];
	size_t sdl = 0;

	if (aka_nonce_parse(nonce, rand, autn, sdata, &sdl) == -1 ||
	    sdl != AUTH_AKA_SDATA)
		return -1;
	*issued_us = (int64_t)aka_be_get(sdata, AUTH_AKA_SDATA);
	return 0;
}

/*
 * The kind of challenge: [auth] mode digest or aka decides; auto asks the
 * subscriber's row (k: AKA, else Digest); for an unknown user in auto
 * mode the request decides (an IMS UE's: an Authorization naming an AKA
 * algorithm or integrity-protected, or sec-agree: AKA; else Digest).
 */
static enum auth_kind
auth_kind(const struct auth_ctx *x, const struct db_subscriber *sub,
          const struct digest_cred *c)
{
	const struct sip_msg *m = x->rq->msg;

	switch (x->a->c->auth_mode) {
	case CONF_AUTH_DIGEST:
		return AUTH_DIGEST;
	case CONF_AUTH_AKA:
		return AUTH_AKA;
	default:
		break;
	}
	if (sub != NULL)
		return sub->has_k ? AUTH_AKA : AUTH_DIGEST;
	if (c != NULL &&
	    (c->alg == DIGEST_ALG_AKAV1_MD5 || c->alg == DIGEST_ALG_AKAV2_MD5 ||
	     (c->present & DIGEST_P_INTEGRITY)))
		return AUTH_AKA;
	if (sip_hdr_has_token(m->first[SIP_HDR_SUPPORTED], "sec-agree") ||
	    sip_hdr_has_token(m->first[SIP_HDR_REQUIRE], "sec-agree"))
		return AUTH_AKA;
	return AUTH_DIGEST;
}

/* A decoy vector for an unknown user: random bytes of the right sizes. */
static int
auth_decoy_vector(struct aka_vector *v)
{
	memset(v, 0, sizeof(*v));
	v->xres_len = 8;
	if (RAND_bytes(v->rand, sizeof(v->rand)) != 1 ||
	    RAND_bytes(v->autn, sizeof(v->autn)) != 1 ||
	    RAND_bytes(v->xres, (int)v->xres_len) != 1 ||
	    RAND_bytes(v->ck, sizeof(v->ck)) != 1 ||
	    RAND_bytes(v->ik, sizeof(v->ik)) != 1 ||
	    RAND_bytes(v->ak, sizeof(v->ak)) != 1)
		return -1;
	return 0;
}

/*
 * Make an AKA vector for the challenge, keep it (auth_vectors) and write
 * its nonce into nonce (room for AKA_NONCE_MAX + 1), in the batch's
 * transaction, which auth_challenge opened before it read sub: the SQN
 * is taken from the sqn read then (db_auth_sqn_take_from, one UPDATE).
 * No savepoint: each statement is atomic, and an SQN taken for a vector
 * that then failed to be stored is only skipped (SEQ must increase, not
 * be contiguous: TS 33.102 C.2), never reused. sub NULL: a decoy for the
 * unknown user name. sqn_preset: the SQN to use (after a
 * resynchronisation) instead of taking the next. 0, or -1 (database or
 * libcrypto failure, logged).
 */
static int
auth_aka_vector(struct auth_ctx *x, const struct db_subscriber *sub,
                const char *name, int v2, const uint64_t *sqn_preset,
                char *nonce)
{
	struct aka_keys keys;
	struct aka_vector v;
	struct db_auth_nonce key;
	uint8_t sdata[AUTH_AKA_SDATA];
	uint64_t sqn = 0;
	int rc = -1, took;

	if (sipd_db_txn(x->sd) == NULL)
		return -1;
	if (sub != NULL) {
		if (sqn_preset != NULL)
			sqn = *sqn_preset;
		else if ((took = db_auth_sqn_take_from(x->a->da, sub->impi,
		                                       sub->sqn, &sqn)) == -1 ||
		         (took == 1 &&
		          db_auth_sqn_take(x->a->da, sub->impi, &sqn) != 0))
			goto done;
		if (aka_keys_init(&keys, sub->alg, sub->k,
		                  sub->has_opc ? sub->opc : NULL,
		                  sub->has_op ? sub->op : NULL) == -1) {
			log_warnx("auth: AKA keys of %s unusable", sub->impi);
			goto done;
		}
		uint8_t r[AKA_RAND_LEN];
		if (digest_random(r, sizeof(r)) == -1 ||
		    aka_vector_make(&keys, sub->amf, sqn, r, &v) == -1) {
			memset(&keys, 0, sizeof(keys));
			goto done;
		}
		memset(&keys, 0, sizeof(keys));
	} else if (auth_decoy_vector(&v) == -1)
		goto done;
	key.issued_us = auth_issued(x);
	key.nonce = nonce;
	aka_be_put((uint64_t)key.issued_us, sdata, sizeof(sdata));
	if (aka_nonce_make(v.rand, v.autn, sdata, sizeof(sdata), nonce) == -1)
		goto done;
	if (db_auth_vector_put(x->a->da, &key, sub ? sub->impi : name,
	                       v2 ? "AKAv2-MD5" : "AKAv1-MD5", &v, x->now,
	                       x->now + x->a->c->nonce_lifetime) == -1)
		goto done;
	rc = 0;
done:
	memset(&v, 0, sizeof(v));
	return rc;
}

/*
 * Answer 401 with a fresh challenge for the user the request names (c's
 * username, else the To address of record): Digest or AKA as auth_kind()
 * says; stale: stale=true; sqn_preset as auth_aka_vector(). Returns 1
 * (answered).
 */
static int
auth_challenge(struct auth_ctx *x, const struct digest_cred *c, int stale,
               const uint64_t *sqn_preset)
{
	struct db_subscriber sub;
	struct digest_challenge ch;
	struct sip_buf b;
	char err[256], opaque[17], *nonce, *name;
	enum auth_kind kind;
	int rc, v2;

	name = c != NULL && c->username.len > 0
	           ? sip_str_dup(x->mem, c->username)
	           : talloc_strdup(x->mem, x->aor);
	nonce = talloc_size(x->mem, AKA_NONCE_MAX + DIGEST_NONCE_LEN + 2);
	if (name == NULL || nonce == NULL)
		return auth_500(x);
	/* With [auth] mode = digest the challenge is the same whoever asks
	 * (the nonce is bound to the AOR, not to a row): no look-up, so a
	 * stranger's challenge costs what a subscriber's does; the answer's
	 * check finds the row (and refuses a bad one). */
	if (x->a->c->auth_mode == CONF_AUTH_DIGEST)
		rc = 0;
	else if (sipd_db_txn(x->sd) == NULL)
		rc = -1; /* an AKA challenge writes: read in its transaction */
	else
		rc = db_auth_subscriber(x->a->da, x->mem, name, &sub, err,
		                        sizeof(err));
	if (rc == -1)
		return auth_500(x);
	if (rc == -2)
		return auth_refuse(x, 403, NULL, err);
	kind = auth_kind(x, rc == 1 ? &sub : NULL, c);
	if (rc == 1 && ((kind == AUTH_AKA && !sub.has_k) ||
	                (kind == AUTH_DIGEST && sub.password == NULL))) {
		/* challenged like a stranger (its answer gets 403), so that
		 * the answer does not tell who is provisioned */
		log_info("auth: %s has no %s for [auth] mode %s: its "
		         "answer will be refused",
		         sub.impi, kind == AUTH_AKA ? "k" : "password",
		         kind == AUTH_AKA ? "aka" : "digest");
		rc = 0;
	}
	memset(&ch, 0, sizeof(ch));
	if (kind == AUTH_AKA) {
		v2 = c != NULL && c->alg == DIGEST_ALG_AKAV2_MD5;
		if (auth_aka_vector(x, rc == 1 ? &sub : NULL, name, v2,
		                    sqn_preset, nonce) == -1)
			return auth_500(x);
		ch.alg = v2 ? DIGEST_ALG_AKAV2_MD5 : DIGEST_ALG_AKAV1_MD5;
	} else {
		if (auth_key(x->a) == -1 ||
		    digest_nonce_make(x->a->key, sizeof(x->a->key),
		                      auth_issued(x), auth_s(x->aor),
		                      nonce) == -1)
			return auth_500(x);
		ch.alg = DIGEST_ALG_MD5;
	}
	if (auth_random_hex(opaque, 8) == -1)
		return auth_500(x);
	ch.realm = auth_s(x->a->c->realm);
	ch.nonce = auth_s(nonce);
	ch.opaque = auth_s(opaque);
	ch.stale = stale;
	sip_buf_init(&b, x->mem, 256);
	digest_challenge_print(&b, "WWW-Authenticate", &ch);
	if (b.oom)
		return auth_500(x);
	log_debug("auth: 401 %s challenge to %s for %s%s",
	          kind == AUTH_AKA ? digest_alg_name(ch.alg) : "MD5", x->ip,
	          name, stale ? " (stale)" : "");
	if (sipd_reply(x->sd, x->rq, 401, NULL, b.s, b.len, kind == AUTH_AKA) ==
	    -1)
		log_warnx("auth: could not queue a 401");
	return 1;
}

/* Does c's uri name the Request-URI? 1 or 0. */
static int
auth_uri_ok(struct auth_ctx *x, const struct digest_cred *c)
{
	struct sip_uri u;
	const struct sip_msg *m = x->rq->msg;

	if (sip_str_eq(c->uri, m->ruri_raw))
		return 1;
	if (sip_parse_uri(x->mem, c->uri, &u) == -1)
		return 0;
	return sip_uri_eq(&u, &m->ruri);
}

/*
 * The subscriber's public identities (impu, then each of extra_impu,
 * which may be written <uri> too) as normalised addresses of record
 * (reg_aor), into a NULL-terminated array under mem; identities that do
 * not parse are skipped. NULL when out of memory.
 */
static const char **
auth_identities(TALLOC_CTX *mem, const struct conf *cf,
                const struct db_subscriber *sub)
{
	const char *list[2] = {sub->impu, sub->extra_impu};
	const char **ids;
	size_t n = 0, cap = 4;

	if ((ids = talloc_array(mem, const char *, cap + 1)) == NULL)
		return NULL;
	for (int i = 0; i < 2; i++) {
		const char *s = list[i], *e;
		while (s != NULL && *s != '\0') {
			struct sip_uri u;
			const char *reason, *id;
			sip_str it;
			int st;
			if ((e = strchr(s, ',')) == NULL)
				e = s + strlen(s);
			it = sip_str_trim((sip_str){s, (size_t)(e - s)});
			s = *e ? e + 1 : e;
			if (it.len >= 2 && it.s[0] == '<' &&
			    it.s[it.len - 1] == '>') {
				it.s++;
				it.len -= 2;
			}
			if (it.len == 0 || sip_parse_uri(mem, it, &u) == -1 ||
			    (id = reg_aor(mem, &u, cf, &st, &reason)) == NULL)
				continue;
			if (n == cap) {
				cap *= 2;
				ids = talloc_realloc(mem, ids, const char *,
				                     cap + 1);
				if (ids == NULL)
					return NULL;
			}
			ids[n++] = id;
		}
	}
	ids[n] = NULL;
	return ids;
}

/* Is aor one of sub's public identities? 1, 0, or -1 (out of memory). */
static int
auth_identity_ok(struct auth_ctx *x, const struct db_subscriber *sub)
{
	const char **ids = auth_identities(x->mem, x->a->c, sub);

	if (ids == NULL)
		return -1;
	for (size_t i = 0; ids[i] != NULL; i++)
		if (strcmp(ids[i], x->aor) == 0)
			return 1;
	return 0;
}

/* The request authenticated as sub: check the identity, fill rq->auth.
 * 0 (go on to the service) or 1 (refused). */
static int
auth_accept(struct auth_ctx *x, const struct db_subscriber *sub,
            const struct digest_cred *c)
{
	int ok = auth_identity_ok(x, sub);

	if (ok == -1)
		return auth_500(x);
	if (ok == 0)
		return auth_refuse(x, 403, "Identity Not Associated",
		                   "the To address is not one of the "
		                   "subscriber's public identities");
	x->rq->auth.impi = talloc_strdup(x->mem, sub->impi);
	x->rq->auth.impu = x->aor;
	/* read under x->mem (the batch's), like the rest of rq->auth */
	x->rq->auth.row_impu = sub->impu;
	x->rq->auth.row_extra_impu = sub->extra_impu;
	if (c->integrity_protected.s != NULL)
		x->rq->auth.integrity =
		    sip_str_dup(x->mem, c->integrity_protected);
	log_debug("auth: %s authenticated as %s from %s", x->aor, sub->impi,
	          x->ip);
	return 0;
}

/* Record nc for nonce (no qop: the nonce is good once) in the batch's
 * transaction (auth_gate opened it): committed with the binding it admits,
 * in the batch's one commit (alone, in autocommit, it was a commit of its
 * own per REGISTER: an eighth of the UDP worker's time at 10,000/s). One
 * statement, atomic by itself: no savepoint (a SAVEPOINT and a RELEASE
 * per REGISTER cost as much as the statement). 0 accepted, 1 replay, -1
 * error. */
static int
auth_nc(struct auth_ctx *x, const struct digest_cred *c,
        const struct db_auth_nonce *nonce)
{
	uint32_t nc = c->qop_id != DIGEST_QOP_NONE ? c->nc_value : 1;

	return db_auth_nc_use(x->a->da, nonce, nc);
}

/* Forget a refused AKA nonce's vector (one savepoint). */
static void
auth_vector_drop(struct auth_ctx *x, const struct db_auth_nonce *nonce)
{
	struct db_txn *t = sipd_db_txn(x->sd);
	int mark;

	if (t == NULL || (mark = db_txn_savepoint(t)) == -1)
		return;
	if (db_auth_vector_delete(x->a->da, nonce) == -1 ||
	    db_txn_release(t, mark) == -1)
		db_txn_rollback(t, mark);
}

/* The resynchronisation of an answer with auts (TS 33.102 6.3.5): a fresh
 * challenge with the resynchronised SQN, or 403. Returns 1. */
static int
auth_aka_resync(struct auth_ctx *x, const struct digest_cred *c,
                const struct db_subscriber *sub,
                const struct db_auth_vector *vec,
                const struct db_auth_nonce *nonce)
{
	uint8_t auts[AKA_AUTS_LEN];
	struct aka_keys keys;
	struct db_txn *t;
	uint64_t sqn_ms, sqn;
	int rc, mark;

	if (aka_auts_parse(c->auts, auts) == -1)
		return auth_refuse(x, 400, "Malformed auts in Authorization",
		                   "auts is not base64 of 14 bytes");
	if (sub == NULL)
		return auth_refuse(x, 403, NULL, "auts for an unknown user");
	if (aka_keys_init(&keys, sub->alg, sub->k,
	                  sub->has_opc ? sub->opc : NULL,
	                  sub->has_op ? sub->op : NULL) == -1)
		return auth_500(x);
	rc = aka_auts_check(&keys, vec->v.rand, auts, &sqn_ms);
	memset(&keys, 0, sizeof(keys));
	if (rc == -1)
		return auth_500(x);
	if (rc == 1) {
		auth_vector_drop(x, nonce);
		return auth_refuse(x, 403, NULL, "auts: MAC-S is wrong");
	}
	if ((t = sipd_db_txn(x->sd)) == NULL ||
	    (mark = db_txn_savepoint(t)) == -1)
		return auth_500(x);
	if (db_auth_sqn_resync(x->a->da, sub->impi, sqn_ms, &sqn) != 0 ||
	    db_auth_vector_delete(x->a->da, nonce) == -1) {
		db_txn_rollback(t, mark);
		return auth_500(x);
	}
	if (db_txn_release(t, mark) == -1) {
		db_txn_rollback(t, mark);
		return auth_500(x);
	}
	log_info("auth: %s: SQN resynchronised (SEQ_MS %llu, IND %u)",
	         sub->impi, (unsigned long long)aka_sqn_seq(sqn_ms),
	         aka_sqn_ind(sqn_ms));
	return auth_challenge(x, c, 0, &sqn);
}

/* The answer to an AKA challenge. 0 (authenticated) or 1 (answered). */
static int
auth_answer_aka(struct auth_ctx *x, const struct digest_cred *c)
{
	struct db_auth_vector vec;
	struct db_auth_nonce key;
	struct db_subscriber sub;
	uint8_t pw[AKA_PASSWORD_MAX];
	size_t pwlen = 0;
	char err[256];
	int rc, known, ok, v2 = c->alg == DIGEST_ALG_AKAV2_MD5;

	if (x->a->c->auth_mode == CONF_AUTH_DIGEST)
		return auth_refuse(x, 400, "Algorithm Not Offered",
		                   "an AKA answer with [auth] mode = digest");
	if (auth_aka_issued(c->nonce, &key.issued_us) == -1)
		return auth_challenge(x, c, 0, NULL); /* not afd's */
	if ((key.nonce = sip_str_dup(x->mem, c->nonce)) == NULL)
		return auth_500(x);
	rc = db_auth_vector_get(x->a->da, x->mem, &key, x->now, &vec);
	if (rc == -1 || rc == -2)
		return auth_500(x);
	if (rc == 0)
		return auth_challenge(x, c, 0, NULL); /* unknown or expired */
	if (strcmp(vec.algorithm, digest_alg_name(c->alg)) != 0)
		return auth_refuse(x, 400, "Algorithm Not Offered",
		                   "the answer's algorithm is not the "
		                   "challenge's");
	if (!sip_str_eq(c->username, auth_s(vec.impi)))
		return auth_refuse(x, 403, NULL,
		                   "the username is not the one challenged");
	rc = db_auth_subscriber(x->a->da, x->mem, vec.impi, &sub, err,
	                        sizeof(err));
	if (rc == -1)
		return auth_500(x);
	if (rc == -2)
		return auth_refuse(x, 403, NULL, err);
	known = rc == 1 && sub.has_k;
	if (c->auts.s != NULL && c->auts.len > 0)
		return auth_aka_resync(x, c, known ? &sub : NULL, &vec, &key);
	if (!auth_uri_ok(x, c))
		return auth_refuse(x, 400, "URI Mismatch in Authorization",
		                   "uri is not the Request-URI");
	if (aka_password(&vec.v, v2, pw, &pwlen) == -1)
		return auth_500(x);
	ok = digest_check(c, x->rq->msg->method, x->rq->msg->body, pw, pwlen);
	memset(pw, 0, sizeof(pw));
	memset(&vec.v, 0, sizeof(vec.v));
	if (!ok || !known) {
		auth_vector_drop(x, &key);
		return auth_refuse(x, 403, NULL, "wrong response (RES)");
	}
	/* the nc record is the vector's row (one UPDATE, in the batch's
	 * transaction: committed with the binding it admits) */
	rc = db_auth_vector_use(x->a->da, &key,
	                        c->qop_id != DIGEST_QOP_NONE ? c->nc_value : 1);
	if (rc == -1)
		return auth_500(x);
	if (rc == 1)
		return auth_challenge(x, c, 1, NULL); /* replayed nc */
	return auth_accept(x, &sub, c);
}

/* The answer to a Digest challenge. 0 (authenticated) or 1 (answered). */
static int
auth_answer_digest(struct auth_ctx *x, const struct digest_cred *c)
{
	struct db_subscriber sub;
	struct db_auth_nonce key;
	char err[256], *name;
	int rc, stale = 0, ok, known;

	if (x->a->c->auth_mode == CONF_AUTH_AKA)
		return auth_refuse(
		    x, 400, "Algorithm Not Offered",
		    "a Digest MD5 answer with [auth] mode = aka");
	if (auth_key(x->a) == -1)
		return auth_500(x);
	if (digest_nonce_check(
	        x->a->key, sizeof(x->a->key), x->now, auth_s(x->aor), c->nonce,
	        x->a->c->nonce_lifetime, &stale, &key.issued_us) == -1)
		return auth_challenge(x, c, 0, NULL); /* not afd's nonce */
	if (!auth_uri_ok(x, c))
		return auth_refuse(x, 400, "URI Mismatch in Authorization",
		                   "uri is not the Request-URI");
	name = sip_str_dup(x->mem, c->username);
	key.nonce = sip_str_dup(x->mem, c->nonce);
	if (name == NULL || key.nonce == NULL)
		return auth_500(x);
	rc = db_auth_subscriber(x->a->da, x->mem, name, &sub, err, sizeof(err));
	if (rc == -1)
		return auth_500(x);
	if (rc == -2)
		return auth_refuse(x, 403, NULL, err);
	known = rc == 1 && sub.password != NULL &&
	        !(x->a->c->auth_mode == CONF_AUTH_AUTO && sub.has_k);
	/* an unknown user's answer is hashed like a known one's */
	ok = digest_check(c, x->rq->msg->method, x->rq->msg->body,
	                  (const uint8_t *)(known ? sub.password : "-"),
	                  known ? strlen(sub.password) : 1);
	if (!ok || !known) {
		if (stale)
			return auth_challenge(x, c, 0, NULL);
		return auth_refuse(x, 403, NULL, "wrong response (password)");
	}
	if (stale)
		return auth_challenge(x, c, 1, NULL);
	rc = auth_nc(x, c, &key);
	if (rc == -1)
		return auth_500(x);
	if (rc == 1)
		return auth_challenge(x, c, 1, NULL); /* replayed nc */
	return auth_accept(x, &sub, c);
}

/* ------------------------------------------------------- sec-agree */

/* Every Security-Client value of the request, comma-joined (NULL when
 * none), into mem. */
static const char *
auth_security_client(TALLOC_CTX *mem, const struct sip_msg *m)
{
	struct sip_buf b;

	sip_buf_init(&b, mem, 128);
	for (const struct sip_hdr *h = m->hdrs; h != NULL; h = h->next) {
		if (h->id != SIP_HDR_OTHER ||
		    !sip_str_caseeq_lit(h->name, "Security-Client"))
			continue;
		if (b.len > 0)
			sip_buf_add(&b, ", ", 2);
		sip_buf_add_unfolded(&b, h->value);
	}
	if (b.len == 0 || b.oom)
		return NULL;
	sip_buf_add(&b, "", 1);
	return b.oom ? NULL : b.s;
}

/* FNV-1a of s. */
static uint64_t
auth_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* sec-agree asked for (Require / Proxy-Require): log it once per phone
 * (who: the IMPI, else the AOR) in this worker's life. */
static void
auth_secagree_log(struct auth *a, const struct sip_msg *m, const char *who,
                  const char *ip)
{
	uint64_t h;

	if (!sip_hdr_has_token(m->first[SIP_HDR_REQUIRE], "sec-agree") &&
	    !sip_hdr_has_token(m->first[SIP_HDR_PROXY_REQUIRE], "sec-agree"))
		return;
	h = auth_hash(who);
	if (a->secagree == NULL &&
	    (a->secagree = talloc_array(a, uint64_t, AUTH_SECAGREE_SEEN)) ==
	        NULL)
		return;
	for (size_t i = 0; i < a->nsecagree; i++)
		if (a->secagree[i] == h)
			return;
	if (a->nsecagree < AUTH_SECAGREE_SEEN)
		a->secagree[a->nsecagree++] = h;
	log_info("auth: %s (%s) asked for sec-agree: afd has no IPsec, "
	         "registered without it (Security-Client stored with the "
	         "binding)",
	         who, ip);
}

/* --------------------------------------------------------- the gate */

/* "ip" of a peer (without the port) into buf. */
static void
auth_peer_ip(const struct sip_peer *p, char *buf, size_t bufsz)
{
	char a[80], *colon;

	sipd_peer_str(p, a, sizeof(a));
	if ((colon = strrchr(a, ':')) != NULL)
		*colon = '\0';
	snprintf(buf, bufsz, "%s", a);
}

/*
 * The gate for a request other than REGISTER (a row marked METHOD_AUTH
 * by a later service): no challenge (a P-CSCF does not challenge a
 * registered UE's SUBSCRIBE or INVITE), the source check instead, for the
 * identity the request claims (P-Preferred-Identity, else From): 0 when a
 * binding of it (or of its implicit set) was registered from this source
 * (rq->auth.impu set), else 1 with 403 (500 on a database error). Not
 * counted as authentication failures.
 */
static int
auth_gate_later(struct auth_ctx *x)
{
	const struct sip_msg *m = x->rq->msg;
	struct sip_addr *ppi = NULL;
	const char *id = NULL, *reason;
	struct sip_uri u;
	int rc, st;

	for (const struct sip_hdr *h = m->hdrs; h != NULL; h = h->next)
		if (h->id == SIP_HDR_OTHER &&
		    sip_str_caseeq_lit(h->name, "P-Preferred-Identity") &&
		    sip_parse_addr_list(x->mem, h->value, &ppi) == 0 &&
		    ppi != NULL) {
			id = sip_str_dup(x->mem, ppi->uri.raw);
			break;
		}
	if (id == NULL && m->from != NULL)
		id = sip_str_dup(x->mem, m->from->uri.raw);
	if (id == NULL)
		return auth_500(x);
	rc = auth_source_bound(x->sd, id, &x->rq->from, x->now);
	if (rc == -1)
		return auth_500(x);
	if (rc == 0) {
		log_info("auth: %.*s from %s for %s: no binding of that "
		         "identity from this source: 403",
		         (int)m->method.len, m->method.s, x->ip, id);
		sipd_reply(x->sd, x->rq, 403, "Not Registered From Here", NULL,
		           0, 0);
		return 1;
	}
	if (sip_parse_uri(x->mem, (sip_str){id, strlen(id)}, &u) == 0)
		x->rq->auth.impu = reg_aor(x->mem, &u, x->a->c, &st, &reason);
	return 0;
}

int
auth_gate(struct auth *a, struct sipd *sd, struct sipd_req *rq)
{
	const struct sip_msg *m = rq->msg;
	struct digest_cred c;
	struct auth_ctx x;
	char err[128];
	const char *reason;
	long wait;
	int rc, st;

	memset(&x, 0, sizeof(x));
	x.a = a;
	x.sd = sd;
	x.rq = rq;
	x.mem = sipd_batch_mem(sd);
	x.now = rq->now;
	auth_peer_ip(&rq->from, x.ip, sizeof(x.ip));
	rq->auth.security_client = auth_security_client(x.mem, m);
	x.aor = reg_aor(x.mem, &m->to->uri, a->c, &st, &reason);
	if (a->c->auth_mode == CONF_AUTH_NONE) {
		auth_secagree_log(a, m, x.aor ? x.aor : "?", x.ip);
		return 0;
	}
	if (m->mid != SIP_M_REGISTER)
		return auth_gate_later(&x);
	if ((wait = auth_blocked(a, x.ip, x.now)) > 0) {
		char hdr[48];
		int n =
		    snprintf(hdr, sizeof(hdr), "Retry-After: %ld\r\n", wait);
		sipd_reply(sd, rq, 403, "Too Many Failed Authentications", hdr,
		           (size_t)n, 0);
		return 1;
	}
	if (x.aor == NULL)
		return 0; /* the registrar refuses the To (nothing changes) */
	rc = digest_msg_cred(x.mem, m, 0, a->c->realm, &c, err, sizeof(err));
	if (rc == -1)
		return auth_refuse(&x, 400, err, "malformed Authorization");
	if (rc == 0) {
		/* none for our realm: another realm's answer is a fault, an
		 * IMS first REGISTER (empty nonce) is just a start */
		rc = digest_msg_cred(x.mem, m, 0, NULL, &c, err, sizeof(err));
		if (rc == 1 && c.nonce.len > 0)
			return auth_refuse(&x, 400,
			                   "Realm Mismatch in Authorization",
			                   "the realm is not afd's");
		return auth_challenge(&x, rc == 1 ? &c : NULL, 0, NULL);
	}
	if (c.nonce.len == 0 ||
	    (c.response.len == 0 && (c.auts.s == NULL || c.auts.len == 0)))
		return auth_challenge(&x, &c, 0, NULL);
	/* An answer writes (the nc record or the vector's use, then the
	 * binding): its reads join the batch's transaction now, instead of
	 * each look-up opening and closing a read transaction of its own
	 * (15% of the UDP worker at 10,000 REGISTER/s). */
	if (sipd_db_txn(sd) == NULL)
		return auth_500(&x);
	switch (c.alg) {
	case DIGEST_ALG_AKAV1_MD5:
	case DIGEST_ALG_AKAV2_MD5:
		rc = auth_answer_aka(&x, &c);
		break;
	case DIGEST_ALG_NONE:
	case DIGEST_ALG_MD5:
		rc = auth_answer_digest(&x, &c);
		break;
	default:
		return auth_refuse(&x, 400, "Algorithm Not Offered",
		                   "an algorithm afd does not offer");
	}
	if (rc == 0)
		auth_secagree_log(a, m, rq->auth.impi, x.ip);
	return rc;
}

int
auth_sweep(struct auth *a, struct sipd *sd, time_t now)
{
	struct db_txn *t;
	int mark, n;

	if (a->c->auth_mode == CONF_AUTH_NONE || now == a->last_sweep)
		return 0;
	a->last_sweep = now;
	if ((t = sipd_db_txn(sd)) == NULL || (mark = db_txn_savepoint(t)) == -1)
		return -1;
	/* a nonce issued more than a lifetime ago is stale: its vector
	 * has expired, its nc record answers nothing any more (give or
	 * take AUTH_SWEEP_MARGIN) */
	if ((n = db_auth_expire(
	         a->da,
	         ((int64_t)now - a->c->nonce_lifetime - AUTH_SWEEP_MARGIN) *
	             1000000,
	         AUTH_SWEEP_MAX)) == -1 ||
	    db_txn_release(t, mark) == -1) {
		db_txn_rollback(t, mark);
		return -1;
	}
	return n;
}

/* ------------------------------------------------ the source check */

int
auth_source_bound(struct sipd *sd, const char *identity,
                  const struct sip_peer *from, time_t now)
{
	struct auth *a = sipd_auth(sd);
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct db_subscriber sub;
	struct sip_uri u;
	const char *reason, *aor, *slot = NULL, **ids;
	char received[80], err[256], slotbuf[9];
	int st, rc = -1;

	if (tmp == NULL)
		return -1;
	sipd_peer_str(from, received, sizeof(received));
	if (from->tp == SIP_TP_TCP) {
		snprintf(slotbuf, sizeof(slotbuf), "%.*s",
		         (int)sizeof(from->slot), from->slot);
		slot = slotbuf;
	}
	if (sip_parse_uri(tmp, auth_s(identity), &u) == -1 ||
	    (aor = reg_aor(tmp, &u, a->c, &st, &reason)) == NULL) {
		rc = 0;
		goto done;
	}
	if ((rc = db_auth_source_bound(a->da, aor, received, slot,
	                               (int64_t)from->conn_id, now)) != 0)
		goto done;
	/* the implicit registration set: another identity of the same
	 * subscriber registered from here */
	st = db_auth_subscriber(a->da, tmp, aor, &sub, err, sizeof(err));
	rc = st == -1 ? -1 : 0;
	if (st != 1)
		goto done;
	if ((ids = auth_identities(tmp, a->c, &sub)) == NULL) {
		rc = -1;
		goto done;
	}
	for (size_t i = 0; ids[i] != NULL && rc == 0; i++)
		if (strcmp(ids[i], aor) != 0)
			rc = db_auth_source_bound(a->da, ids[i], received, slot,
			                          (int64_t)from->conn_id, now);
done:
	talloc_free(tmp);
	return rc;
}
