/*
 * sip/digest.c: HTTP Digest for SIP (see digest.h): credentials parsing,
 * the MD5 hashes, challenges, and afd's HMAC-bound nonce. MD5, SHA-256 and
 * HMAC come from libcrypto (EVP); base64 from aka.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sip/aka.h"
#include "sip/digest.h"
#include "sip/sip_impl.h"

/* The parameters digest_parse_cred knows, in struct digest_cred order. */
static const struct {
	const char *name;
	unsigned bit;
	size_t off;
} digest_params[] = {
    {"username", DIGEST_P_USERNAME, offsetof(struct digest_cred, username)},
    {"realm", DIGEST_P_REALM, offsetof(struct digest_cred, realm)},
    {"nonce", DIGEST_P_NONCE, offsetof(struct digest_cred, nonce)},
    {"uri", DIGEST_P_URI, offsetof(struct digest_cred, uri)},
    {"response", DIGEST_P_RESPONSE, offsetof(struct digest_cred, response)},
    {"algorithm", DIGEST_P_ALGORITHM, offsetof(struct digest_cred, algorithm)},
    {"cnonce", DIGEST_P_CNONCE, offsetof(struct digest_cred, cnonce)},
    {"opaque", DIGEST_P_OPAQUE, offsetof(struct digest_cred, opaque)},
    {"qop", DIGEST_P_QOP, offsetof(struct digest_cred, qop)},
    {"nc", DIGEST_P_NC, offsetof(struct digest_cred, nc)},
    {"auts", DIGEST_P_AUTS, offsetof(struct digest_cred, auts)},
    {"integrity-protected", DIGEST_P_INTEGRITY,
     offsetof(struct digest_cred, integrity_protected)},
};

#define DIGEST_NPARAMS (sizeof(digest_params) / sizeof(digest_params[0]))

/* Characters of an unquoted value: a token, and what base64 and URIs
 * bring along when a UA forgets the quotes. */
static int
digest_value_char(char c)
{
	return SIP_IS(c, SIP_C_TOKEN) || c == '/' || c == '=' || c == ':' ||
	       c == '@';
}

/*
 * A quoted-string at p (p points at the opening quote): *v gets its
 * contents without quotes, unescaped (a copy under ctx when it held a
 * '\'). Returns the position after the closing quote, or NULL.
 */
static const char *
digest_quoted(TALLOC_CTX *ctx, const char *p, const char *end, sip_str *v)
{
	const char *s = ++p;
	int esc = 0;

	while (p < end && *p != '"') {
		if (*p == '\\') {
			esc = 1;
			if (++p >= end)
				return NULL;
		}
		/* qdtext / quoted-pair: no NUL, CR, LF outside folding */
		if (*p == '\0')
			return NULL;
		p++;
	}
	if (p >= end)
		return NULL;
	if (!esc) {
		v->s = s;
		v->len = (size_t)(p - s);
		return p + 1;
	}
	char *d = talloc_size(ctx, (size_t)(p - s) + 1);
	size_t n = 0;
	if (d == NULL)
		return NULL;
	for (const char *q = s; q < p; q++) {
		if (*q == '\\')
			q++;
		d[n++] = *q;
	}
	d[n] = '\0';
	v->s = d;
	v->len = n;
	return p + 1;
}

static enum digest_alg
digest_alg_id(sip_str a)
{
	if (a.s == NULL)
		return DIGEST_ALG_NONE;
	if (sip_str_caseeq_lit(a, "MD5"))
		return DIGEST_ALG_MD5;
	if (sip_str_caseeq_lit(a, "AKAv1-MD5"))
		return DIGEST_ALG_AKAV1_MD5;
	if (sip_str_caseeq_lit(a, "AKAv2-MD5"))
		return DIGEST_ALG_AKAV2_MD5;
	return DIGEST_ALG_OTHER;
}

const char *
digest_alg_name(enum digest_alg alg)
{
	switch (alg) {
	case DIGEST_ALG_NONE:
	case DIGEST_ALG_MD5:
		return "MD5";
	case DIGEST_ALG_AKAV1_MD5:
		return "AKAv1-MD5";
	case DIGEST_ALG_AKAV2_MD5:
		return "AKAv2-MD5";
	default:
		return "unknown";
	}
}

/* The checks after the parameters are read: 0 or -1 with err. */
static int
digest_cred_check(struct digest_cred *c, const char *hname, char *err,
                  size_t errlen)
{
	static const unsigned need[] = {DIGEST_P_USERNAME, DIGEST_P_REALM,
	                                DIGEST_P_NONCE, DIGEST_P_URI,
	                                DIGEST_P_RESPONSE};

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (c->present & need[i])
			continue;
		for (size_t j = 0; j < DIGEST_NPARAMS; j++)
			if (digest_params[j].bit == need[i])
				snprintf(err, errlen, "Missing %s in %s",
				         digest_params[j].name, hname);
		return -1;
	}
	if (c->present & DIGEST_P_NC) {
		uint32_t v = 0;

		if (c->nc.len != 8) {
			snprintf(err, errlen, "Malformed nc in %s", hname);
			return -1;
		}
		for (size_t i = 0; i < 8; i++) {
			char ch = c->nc.s[i];
			int d;

			if (ch >= '0' && ch <= '9')
				d = ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				d = ch - 'a' + 10;
			else if (ch >= 'A' && ch <= 'F')
				d = ch - 'A' + 10;
			else {
				snprintf(err, errlen, "Malformed nc in %s",
				         hname);
				return -1;
			}
			v = v << 4 | (uint32_t)d;
		}
		c->nc_value = v;
	}
	if (c->present & DIGEST_P_QOP) {
		if (sip_str_caseeq_lit(c->qop, "auth"))
			c->qop_id = DIGEST_QOP_AUTH;
		else if (sip_str_caseeq_lit(c->qop, "auth-int"))
			c->qop_id = DIGEST_QOP_AUTH_INT;
		else {
			snprintf(err, errlen, "Unsupported qop in %s", hname);
			return -1;
		}
		if (!(c->present & DIGEST_P_CNONCE)) {
			snprintf(err, errlen, "Missing cnonce in %s", hname);
			return -1;
		}
		if (!(c->present & DIGEST_P_NC)) {
			snprintf(err, errlen, "Missing nc in %s", hname);
			return -1;
		}
	}
	c->alg = digest_alg_id(c->algorithm);
	return 0;
}

int
digest_parse_cred(TALLOC_CTX *ctx, sip_str value, const char *hname,
                  struct digest_cred *out, char *err, size_t errlen)
{
	const char *p = value.s, *end = value.s + value.len, *s;
	int nparams = 0;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	p = sip_skip_lws(p, end);
	s = p;
	while (p < end && SIP_IS(*p, SIP_C_TOKEN))
		p++;
	if (!sip_str_caseeq_lit((sip_str){s, (size_t)(p - s)}, "Digest")) {
		snprintf(err, errlen, "Unsupported %s Scheme", hname);
		return -1;
	}
	if (p < end && !SIP_IS(*p, SIP_C_LWS))
		goto malformed;
	for (;;) {
		sip_str name, v;
		size_t i;

		p = sip_skip_lws(p, end);
		if (p < end && *p == ',') { /* an empty list element */
			p++;
			continue;
		}
		if (p >= end)
			break;
		if (++nparams > SIP_MAX_PARAMS)
			goto malformed;
		s = p;
		while (p < end && SIP_IS(*p, SIP_C_TOKEN))
			p++;
		name = (sip_str){s, (size_t)(p - s)};
		p = sip_skip_lws(p, end);
		if (name.len == 0 || p >= end || *p != '=')
			goto malformed;
		p = sip_skip_lws(p + 1, end);
		if (p < end && *p == '"') {
			if ((p = digest_quoted(ctx, p, end, &v)) == NULL)
				goto malformed;
		} else {
			s = p;
			while (p < end && digest_value_char(*p))
				p++;
			if (p == s)
				goto malformed;
			v = (sip_str){s, (size_t)(p - s)};
		}
		p = sip_skip_lws(p, end);
		if (p < end && *p != ',')
			goto malformed;
		for (i = 0; i < DIGEST_NPARAMS; i++)
			if (sip_str_caseeq_lit(name, digest_params[i].name))
				break;
		if (i == DIGEST_NPARAMS)
			continue; /* unknown: ignored */
		if (out->present & digest_params[i].bit) {
			snprintf(err, errlen, "Duplicate %s in %s",
			         digest_params[i].name, hname);
			return -1;
		}
		out->present |= digest_params[i].bit;
		*(sip_str *)((char *)out + digest_params[i].off) = v;
	}
	return digest_cred_check(out, hname, err, errlen);
malformed:
	snprintf(err, errlen, "Malformed %s", hname);
	return -1;
}

int
digest_msg_cred(TALLOC_CTX *ctx, const struct sip_msg *m, int proxy,
                const char *realm, struct digest_cred *out, char *err,
                size_t errlen)
{
	const char *hname = proxy ? "Proxy-Authorization" : "Authorization";
	const struct sip_hdr *h;

	h = proxy ? m->hdrs : m->first[SIP_HDR_AUTHORIZATION];
	for (; h != NULL; h = proxy ? h->next : h->next_same) {
		if (proxy && (h->id != SIP_HDR_OTHER ||
		              !sip_str_caseeq_lit(h->name, hname)))
			continue;
		if (digest_parse_cred(ctx, h->value, hname, out, err, errlen) ==
		    -1)
			return -1;
		if (realm == NULL ||
		    (out->realm.len == strlen(realm) &&
		     memcmp(out->realm.s, realm, out->realm.len) == 0))
			return 1;
	}
	memset(out, 0, sizeof(*out));
	return 0;
}

/*
 * libcrypto objects kept for the process's life (a worker is one thread):
 * fetching an algorithm and making a context cost more than hashing a
 * Digest's few dozen bytes (EVP_md5() and HMAC() fetch anew on every
 * call). Made on first use; NULL when libcrypto failed (tried again next
 * time).
 */
static EVP_MD_CTX *digest_md5_ctx;
static EVP_MD *digest_md5_md;

/* MD5 of the parts (each a sip_str; NULL s with len 0 is fine) into hex. */
static int
digest_md5_hex(char out[DIGEST_HEX_LEN + 1], const sip_str *parts, int n)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	int rc = -1;

	out[0] = '\0';
	if (digest_md5_md == NULL &&
	    (digest_md5_md = EVP_MD_fetch(NULL, "MD5", NULL)) == NULL)
		return -1;
	if (digest_md5_ctx == NULL &&
	    (digest_md5_ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex2(digest_md5_ctx, digest_md5_md, NULL) != 1)
		goto done;
	for (int i = 0; i < n; i++)
		if (parts[i].len > 0 &&
		    EVP_DigestUpdate(digest_md5_ctx, parts[i].s,
		                     parts[i].len) != 1)
			goto done;
	if (EVP_DigestFinal_ex(digest_md5_ctx, md, &len) != 1 || len != 16)
		goto done;
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
	rc = 0;
done:
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

#define DIGEST_COLON SIP_STR_LIT(":")

int
digest_ha1(sip_str username, sip_str realm, const uint8_t *pw, size_t pwlen,
           char ha1[DIGEST_HEX_LEN + 1])
{
	sip_str parts[] = {username,
	                   DIGEST_COLON,
	                   realm,
	                   DIGEST_COLON,
	                   {(const char *)pw, pwlen}};

	return digest_md5_hex(ha1, parts, 5);
}

int
digest_ha2(sip_str method, sip_str uri, enum digest_qop qop, sip_str body,
           char ha2[DIGEST_HEX_LEN + 1])
{
	char hbody[DIGEST_HEX_LEN + 1];
	sip_str parts[] = {
	    method, DIGEST_COLON, uri, DIGEST_COLON, {hbody, DIGEST_HEX_LEN}};

	if (qop != DIGEST_QOP_AUTH_INT)
		return digest_md5_hex(ha2, parts, 3);
	if (digest_md5_hex(hbody, &body, 1) == -1) {
		ha2[0] = '\0';
		return -1;
	}
	return digest_md5_hex(ha2, parts, 5);
}

int
digest_response(const char *ha1, sip_str nonce, sip_str nc, sip_str cnonce,
                enum digest_qop qop, const char *ha2,
                char out[DIGEST_HEX_LEN + 1])
{
	sip_str h1 = {ha1, strlen(ha1)}, h2 = {ha2, strlen(ha2)};
	sip_str q = qop == DIGEST_QOP_AUTH_INT ? SIP_STR_LIT("auth-int")
	                                       : SIP_STR_LIT("auth");

	if (qop == DIGEST_QOP_NONE) {
		sip_str parts[] = {h1, DIGEST_COLON, nonce, DIGEST_COLON, h2};
		return digest_md5_hex(out, parts, 5);
	}
	sip_str parts[] = {h1, DIGEST_COLON, nonce,  DIGEST_COLON,
	                   nc, DIGEST_COLON, cnonce, DIGEST_COLON,
	                   q,  DIGEST_COLON, h2};
	return digest_md5_hex(out, parts, 11);
}

int
digest_hex_eq(const char *expected, sip_str got)
{
	unsigned diff = 0;

	if (strlen(expected) != DIGEST_HEX_LEN || got.len != DIGEST_HEX_LEN)
		return 0;
	for (size_t i = 0; i < DIGEST_HEX_LEN; i++) {
		unsigned char g = (unsigned char)got.s[i];
		/* fold A-F to a-f without a data-dependent branch on the
		 * secret side: only got (public) decides */
		if (g >= 'A' && g <= 'F')
			g = (unsigned char)(g + ('a' - 'A'));
		diff |= (unsigned)(g ^ (unsigned char)expected[i]);
	}
	return diff == 0;
}

int
digest_check(const struct digest_cred *c, sip_str method, sip_str body,
             const uint8_t *pw, size_t pwlen)
{
	char ha1[DIGEST_HEX_LEN + 1], ha2[DIGEST_HEX_LEN + 1];
	char resp[DIGEST_HEX_LEN + 1];
	int ok = 0;

	if (digest_ha1(c->username, c->realm, pw, pwlen, ha1) == -1 ||
	    digest_ha2(method, c->uri, c->qop_id, body, ha2) == -1 ||
	    digest_response(ha1, c->nonce, c->nc, c->cnonce, c->qop_id, ha2,
	                    resp) == -1)
		goto done;
	ok = digest_hex_eq(resp, c->response);
done:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	OPENSSL_cleanse(resp, sizeof(resp));
	return ok;
}

/* A quoted-string's contents, escaped; control octets dropped. */
static void
digest_buf_quoted(struct sip_buf *b, sip_str v)
{
	sip_buf_add(b, "\"", 1);
	for (size_t i = 0; i < v.len; i++) {
		char c = v.s[i];

		if ((unsigned char)c < 0x20 || c == 0x7f)
			continue;
		if (c == '"' || c == '\\')
			sip_buf_add(b, "\\", 1);
		sip_buf_add(b, &c, 1);
	}
	sip_buf_add(b, "\"", 1);
}

void
digest_challenge_print(struct sip_buf *b, const char *hname,
                       const struct digest_challenge *ch)
{
	sip_buf_addf(b, "%s: Digest realm=", hname);
	digest_buf_quoted(b, ch->realm);
	sip_buf_addf(b, ", nonce=");
	digest_buf_quoted(b, ch->nonce);
	if (!ch->no_qop)
		sip_buf_addf(b, ", qop=\"%s\"",
		             ch->qop_auth_int ? "auth,auth-int" : "auth");
	if (ch->alg != DIGEST_ALG_NONE && ch->alg != DIGEST_ALG_OTHER)
		sip_buf_addf(b, ", algorithm=%s", digest_alg_name(ch->alg));
	if (ch->opaque.s != NULL) {
		sip_buf_addf(b, ", opaque=");
		digest_buf_quoted(b, ch->opaque);
	}
	if (ch->stale)
		sip_buf_addf(b, ", stale=true");
	sip_buf_add(b, "\r\n", 2);
}

#define DIGEST_NONCE_RAW 32 /* time 8, salt 8, MAC 16 */

/* The MAC of a nonce: HMAC-SHA256(key, time || salt || user), first 16
 * bytes, into mac. 0, or -1 (libcrypto failed, user longer than
 * DIGEST_NONCE_USER_MAX). */
#define DIGEST_NONCE_USER_MAX 1024
#define DIGEST_MAC_KEY_MAX 64

/* The HMAC-SHA256 context, keyed with mac_key (kept to see a change). */
static EVP_MAC_CTX *digest_mac_ctx;
static uint8_t digest_mac_key[DIGEST_MAC_KEY_MAX];
static size_t digest_mac_keylen; /* 0: not keyed */

static int
digest_nonce_mac(const uint8_t *key, size_t keylen, const uint8_t ts_salt[16],
                 sip_str user, uint8_t mac[16])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	size_t len = 0;
	int rc = -1;

	if (user.len > DIGEST_NONCE_USER_MAX || keylen == 0 ||
	    keylen > DIGEST_MAC_KEY_MAX)
		return -1;
	if (digest_mac_ctx == NULL) {
		EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		if (hmac == NULL)
			return -1;
		digest_mac_ctx = EVP_MAC_CTX_new(hmac);
		EVP_MAC_free(hmac); /* the context holds its own reference */
		if (digest_mac_ctx == NULL)
			return -1;
		digest_mac_keylen = 0;
	}
	if (keylen != digest_mac_keylen ||
	    CRYPTO_memcmp(key, digest_mac_key, keylen) != 0) {
		OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(
		                      OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		                  OSSL_PARAM_construct_end()};
		digest_mac_keylen = 0;
		if (EVP_MAC_init(digest_mac_ctx, key, keylen, p) != 1)
			goto done;
		memcpy(digest_mac_key, key, keylen);
		digest_mac_keylen = keylen;
	} else if (EVP_MAC_init(digest_mac_ctx, NULL, 0, NULL) != 1)
		goto done; /* the same key: start over */
	if (EVP_MAC_update(digest_mac_ctx, ts_salt, 16) != 1 ||
	    (user.len > 0 &&
	     EVP_MAC_update(digest_mac_ctx, (const uint8_t *)user.s,
	                    user.len) != 1) ||
	    EVP_MAC_final(digest_mac_ctx, md, &len, sizeof(md)) != 1 ||
	    len < 16)
		goto done;
	memcpy(mac, md, 16);
	rc = 0;
done:
	if (rc == -1)
		digest_mac_keylen = 0;
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

/* The pool digest_random() hands out; emptied in a forked child. */
#define DIGEST_POOL 512
static uint8_t digest_pool[DIGEST_POOL];
static size_t digest_pool_left; /* unused bytes at the pool's end */
static int digest_pool_atfork;

static void
digest_pool_child(void)
{
	OPENSSL_cleanse(digest_pool, sizeof(digest_pool));
	digest_pool_left = 0;
}

int
digest_random(uint8_t *out, size_t n)
{
	if (n > DIGEST_POOL)
		return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
	if (!digest_pool_atfork) {
		/* a child must never hand out its parent's bytes */
		if (pthread_atfork(NULL, NULL, digest_pool_child) != 0)
			return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
		digest_pool_atfork = 1;
	}
	if (digest_pool_left < n) {
		if (RAND_bytes(digest_pool, DIGEST_POOL) != 1)
			return -1;
		digest_pool_left = DIGEST_POOL;
	}
	memcpy(out, digest_pool + DIGEST_POOL - digest_pool_left, n);
	OPENSSL_cleanse(digest_pool + DIGEST_POOL - digest_pool_left, n);
	digest_pool_left -= n;
	return 0;
}

int64_t
digest_nonce_time(int64_t last_us, time_t now, long usec)
{
	int64_t us = (int64_t)now * 1000000 + usec;

	if (us <= last_us && last_us - us < 1000000)
		us = last_us + 1;
	return us;
}

int
digest_nonce_make(const uint8_t *key, size_t keylen, int64_t issued_us,
                  sip_str user, char out[DIGEST_NONCE_LEN + 1])
{
	uint8_t raw[DIGEST_NONCE_RAW];

	out[0] = '\0';
	aka_be_put((uint64_t)issued_us, raw, 8);
	if (digest_random(raw + 8, 8) == -1 ||
	    digest_nonce_mac(key, keylen, raw, user, raw + 16) == -1)
		return -1;
	aka_b64_encode(raw, sizeof(raw), out);
	return 0;
}

int
digest_nonce_check(const uint8_t *key, size_t keylen, time_t now, sip_str user,
                   sip_str nonce, long max_age, int *stale, int64_t *issued_us)
{
	uint8_t raw[DIGEST_NONCE_RAW], mac[16];
	int64_t t;

	*stale = 0;
	if (nonce.len != DIGEST_NONCE_LEN ||
	    aka_b64_decode(nonce, raw, sizeof(raw)) != DIGEST_NONCE_RAW)
		return -1;
	if (digest_nonce_mac(key, keylen, raw, user, mac) == -1 ||
	    CRYPTO_memcmp(mac, raw + 16, 16) != 0)
		return -1;
	t = (int64_t)aka_be_get(raw, 8);
	if (t < 0 || t / 1000000 > (int64_t)now + DIGEST_NONCE_SKEW)
		return -1;
	if ((int64_t)now - t / 1000000 > max_age)
		*stale = 1;
	if (issued_us != NULL)
		*issued_us = t;
	return 0;
}
