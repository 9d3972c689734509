/*
 * sip/digest.h: HTTP Digest for SIP (RFC 2617, RFC 7616 with MD5; RFC 3261
 * 22.4), as IMS AKA (RFC 3310, RFC 4169) uses it too:
 * - parsing an Authorization / Proxy-Authorization value into slices;
 * - HA1, HA2 (qop=auth and auth-int), the request-digest, and a
 *   constant-time check of a received response;
 * - printing a WWW-Authenticate / Proxy-Authenticate challenge;
 * - the nonce afd hands out for plain Digest: bound to a time, to the user
 *   and to afd (HMAC-SHA256 with a server key kept in the database).
 *
 * Hashes are written as 32 lower-case hex digits and a NUL
 * (char [DIGEST_HEX_LEN + 1]). Passwords, HA1 and keys are secrets: never
 * log them.
 */
#ifndef AFD_DIGEST_H
#define AFD_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sip/sip.h"

#define DIGEST_HEX_LEN 32

enum digest_alg {
	DIGEST_ALG_NONE = 0,  /* no algorithm parameter: MD5 (RFC 2617 3.2.1) */
	DIGEST_ALG_MD5,       /* "MD5" */
	DIGEST_ALG_AKAV1_MD5, /* "AKAv1-MD5" (RFC 3310) */
	DIGEST_ALG_AKAV2_MD5, /* "AKAv2-MD5" (RFC 4169) */
	DIGEST_ALG_OTHER,     /* anything else (MD5-sess, SHA-256, ...):
	                         afd offers none of them */
};

enum digest_qop {
	DIGEST_QOP_NONE = 0, /* no qop: RFC 2069 compatibility */
	DIGEST_QOP_AUTH,     /* "auth" */
	DIGEST_QOP_AUTH_INT, /* "auth-int": the body is hashed too */
};

/* Which parameters a credentials value had (struct digest_cred.present). */
#define DIGEST_P_USERNAME 0x0001
#define DIGEST_P_REALM 0x0002
#define DIGEST_P_NONCE 0x0004
#define DIGEST_P_URI 0x0008
#define DIGEST_P_RESPONSE 0x0010
#define DIGEST_P_ALGORITHM 0x0020
#define DIGEST_P_CNONCE 0x0040
#define DIGEST_P_OPAQUE 0x0080
#define DIGEST_P_QOP 0x0100
#define DIGEST_P_NC 0x0200
#define DIGEST_P_AUTS 0x0400
#define DIGEST_P_INTEGRITY 0x0800

/*
 * The credentials of one Authorization or Proxy-Authorization value.
 * Every sip_str is the parameter's value without its quotes; it points
 * into the header value, except for a quoted-string that held a '\'
 * escape, whose unescaped copy lives under the ctx given to the parser.
 * An absent parameter is SIP_STR_NULL (s == NULL); a present empty one
 * (nonce="", response="" in an IMS first REGISTER) has s != NULL, len 0.
 */
struct digest_cred {
	sip_str username;
	sip_str realm;
	sip_str nonce;
	sip_str uri;
	sip_str response; /* 32 hex digits, or empty in an initial request */
	sip_str algorithm;
	sip_str cnonce;
	sip_str opaque;
	sip_str qop;
	sip_str nc;   /* 8 hex digits as sent */
	sip_str auts; /* base64 of AUTS (RFC 3310 3.4), still encoded */
	sip_str integrity_protected; /* TS 24.229: "yes", "no", "tls-yes",
	                                "ip-assoc-pending", ... as sent */
	enum digest_alg alg;         /* from algorithm */
	enum digest_qop qop_id;      /* from qop */
	uint32_t nc_value;           /* nc as a number (0 when absent) */
	unsigned present;            /* DIGEST_P_* of what was there */
};

/*
 * Parse one credentials value (the whole header value, folding allowed).
 * hname ("Authorization" or "Proxy-Authorization") names the header in
 * errors. Grammar (RFC 3261 25.1): "Digest" LWS dig-resp *(COMMA dig-resp),
 * dig-resp = token EQUAL (token / quoted-string); empty list elements are
 * skipped; parameter names are case-insensitive; a value may be quoted or
 * not; unknown parameters are ignored.
 * Faults (-1, with err set to a reason phrase for "400 <err>", e.g.
 * "Malformed nc in Authorization"):
 *   - scheme not Digest: "Unsupported Authorization Scheme";
 *   - bad syntax (no '=', unterminated quote, bad character):
 *     "Malformed Authorization";
 *   - a known parameter twice: "Duplicate <name> in Authorization";
 *   - username, realm, nonce, uri or response missing:
 *     "Missing <name> in Authorization";
 *   - nc not exactly 8 hex digits: "Malformed nc in Authorization";
 *   - qop other than auth / auth-int: "Unsupported qop in Authorization";
 *   - qop given without cnonce or nc: "Missing cnonce in Authorization",
 *     "Missing nc in Authorization".
 * An unknown algorithm is not a fault here: alg is DIGEST_ALG_OTHER and
 * the caller answers that it was not offered.
 * Returns 0 with *out filled, or -1 (err set, *out undefined). errlen
 * should be at least 64 (sizeof(struct sip_err.reason) is right).
 */
int digest_parse_cred(TALLOC_CTX *ctx, sip_str value, const char *hname,
                      struct digest_cred *out, char *err, size_t errlen);

/*
 * Find the credentials for realm among a request's Authorization fields
 * (proxy = 0) or Proxy-Authorization fields (proxy = 1): the first value
 * whose realm equals realm (case-sensitive, RFC 2617), or, when realm is
 * NULL, the first value. Every field looked at must parse.
 * Returns 1 with *out, 0 when there is none for that realm, -1 when a
 * field is malformed (err set as by digest_parse_cred).
 */
int digest_msg_cred(TALLOC_CTX *ctx, const struct sip_msg *m, int proxy,
                    const char *realm, struct digest_cred *out, char *err,
                    size_t errlen);

const char *digest_alg_name(enum digest_alg alg); /* "MD5", "AKAv1-MD5", ... */

/*
 * The hashes (RFC 2617 3.2.2, RFC 7616 3.4). Each returns 0, or -1 when
 * libcrypto fails (out is then "").
 * HA1 = MD5(username ":" realm ":" password); the password is bytes: text
 *   for Digest, RES for AKAv1, the aka_v2_password() text for AKAv2.
 * HA2 = MD5(method ":" uri), or for auth-int
 *   MD5(method ":" uri ":" MD5(body)) (an empty body hashes "").
 * response = MD5(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2) with
 *   qop auth / auth-int, MD5(HA1 ":" nonce ":" HA2) without qop.
 */
int digest_ha1(sip_str username, sip_str realm, const uint8_t *pw, size_t pwlen,
               char ha1[DIGEST_HEX_LEN + 1]);
int digest_ha2(sip_str method, sip_str uri, enum digest_qop qop, sip_str body,
               char ha2[DIGEST_HEX_LEN + 1]);
int digest_response(const char *ha1, sip_str nonce, sip_str nc, sip_str cnonce,
                    enum digest_qop qop, const char *ha2,
                    char out[DIGEST_HEX_LEN + 1]);

/* Is got (as received) the 32 hex digits of expected? Upper-case hex is
 * accepted; the time taken does not depend on where they differ. 1 or 0. */
int digest_hex_eq(const char *expected, sip_str got);

/*
 * The whole check of a request's credentials with a password: HA1 from
 * c->username and c->realm, HA2 from method, c->uri, c->qop_id and body,
 * then the response compared with c->response in constant time.
 * Returns 1 when it matches, 0 when not (or on a libcrypto failure).
 * The caller has checked the realm, nonce, nc and uri against the request.
 */
int digest_check(const struct digest_cred *c, sip_str method, sip_str body,
                 const uint8_t *pw, size_t pwlen);

/* A challenge (RFC 2617 3.2.1, RFC 3310 3.1). */
struct digest_challenge {
	sip_str realm;
	sip_str nonce;
	sip_str opaque;      /* SIP_STR_NULL: none */
	enum digest_alg alg; /* DIGEST_ALG_NONE: no algorithm parameter */
	int qop_auth_int;    /* 1: qop="auth,auth-int"; 0: qop="auth" */
	int no_qop;          /* 1: no qop parameter at all */
	int stale;           /* 1: stale=true */
};

/*
 * Print one challenge header line into b:
 *   hname ": Digest realm="R", nonce="N", qop="auth", algorithm=A,
 *   opaque="O", stale=true" CRLF
 * (hname "WWW-Authenticate" for a 401, "Proxy-Authenticate" for a 407).
 * Quoted values are escaped ('"' and '\' get a '\'; CR, LF and other
 * control octets are dropped). Errors show in b->oom.
 */
void digest_challenge_print(struct sip_buf *b, const char *hname,
                            const struct digest_challenge *ch);

/*
 * n random bytes into out, from a pool that RAND_bytes refills 512 bytes
 * at a time (one RAND_bytes call costs about what 500 bytes do): nonce
 * salts, opaque values, AKA RANDs. A forked child starts with an empty
 * pool (pthread_atfork), so no two processes hand out the same bytes.
 * Handed-out bytes are wiped from the pool. 0, or -1 (libcrypto failed).
 */
int digest_random(uint8_t *out, size_t n);

/*
 * afd's nonce for plain Digest: base64 of
 *   issued (8 bytes, big-endian microseconds since the Unix epoch) ||
 *   salt (8 random bytes) ||
 *   first 16 bytes of HMAC-SHA256(key, issued || salt || user)
 * (DIGEST_NONCE_LEN = 44 characters, no quote, comma or backslash in it).
 * Any worker that holds the key can check it; the salt makes every nonce
 * unique (for nc replay records). The microseconds order the nonces a
 * worker hands out, which is the order of the replay records' key
 * (auth_nonces, schema.sql): a batch of answers adds to the end of that
 * b-tree instead of to as many pages as answers.
 * digest_nonce_make: into out (room for DIGEST_NONCE_LEN + 1); 0, or -1
 *   when RAND_bytes or HMAC fails.
 * digest_nonce_check: 0 when nonce is afd's for this user, with *issued_us
 *   (may be NULL): *stale = 1 when it is older than max_age seconds at now
 *   (answer a fresh challenge with stale=true), else 0; -1 when it is not
 *   afd's (bad form, other key, other user, tampered, or more than
 *   DIGEST_NONCE_SKEW seconds in the future): answer a fresh challenge,
 *   without stale.
 * user is compared byte for byte: pass the same identity both times
 * (e.g. the username the challenge was for).
 */
#define DIGEST_NONCE_LEN 44
#define DIGEST_NONCE_SKEW 5

/*
 * The issue time of the next nonce, in microseconds since the epoch: the
 * second now (which the checks compare with) and usec (the clock's
 * microseconds, 0..999999), made to grow past last_us, the previous
 * nonce's, so that the rows keyed by it (auth_vectors, auth_nonces) are
 * added in order. Only by less than a second, though: after the clock was
 * set back further the nonces follow it (a nonce dated more than
 * DIGEST_NONCE_SKEW ahead of the clock would be refused), out of order
 * for a while.
 */
int64_t digest_nonce_time(int64_t last_us, time_t now, long usec);
int digest_nonce_make(const uint8_t *key, size_t keylen, int64_t issued_us,
                      sip_str user, char out[DIGEST_NONCE_LEN + 1]);
int digest_nonce_check(const uint8_t *key, size_t keylen, time_t now,
                       sip_str user, sip_str nonce, long max_age, int *stale,
                       int64_t *issued_us);

#endif
