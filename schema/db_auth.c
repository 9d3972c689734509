/*
 * schema/db_auth.c: the authentication data layer (see db_auth.h). Every
 * statement is prepared once per connection through db_stmt() and kept in
 * struct db_auth; values are bound, never pasted. Secrets (k, opc, op,
 * password, xres, ck, ik) are never logged, and never copied into an
 * error text.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util/log.h"
#include "schema/db.h"
#include "schema/db_auth.h"

/* The subscribers columns db_auth_sub_row() reads, in its order (s.: the
 * same, qualified) */
#define DB_AUTH_SUB_COLS_S                                                     \
	"s.impi, s.impu, s.extra_impu, s.password, s.k, s.opc, s.op, s.amf, "  \
	"s.sqn, s.algorithm"
#define DB_AUTH_SUB_NCOLS 10

/* The next SQN, in SQL (aka_sqn_next): SEQ + 1, IND + 1 mod 32, 48 bits.
 * X is the expression of the last SQN. */
#define DB_AUTH_SQN_NEXT(X)                                                    \
	"((((((" X ") & 281474976710655) >> 5) + 1) << 5) | "                  \
	"(((((" X ") & 31) + 1) & 31))) & 281474976710655"

struct db_auth {
	sqlite3 *db;
	sqlite3_stmt *by_id, *sqn_take, *sqn_get, *sqn_cas, *sqn_resync,
	    *vec_put, *vec_get, *vec_use, *vec_del, *nc_use, *exp_vec, *exp_nc,
	    *key_put, *key_get, *src_bound;
};

struct db_auth *
db_auth_new(TALLOC_CTX *ctx, sqlite3 *db)
{
	struct db_auth *da;

	if ((da = talloc_zero(ctx, struct db_auth)) == NULL) {
		log_warnx("db_auth: out of memory");
		return NULL;
	}
	da->db = db;
	return da;
}

static void
db_auth_err(struct db_auth *da, const char *what)
{
	log_warnx("db_auth: %s: %s", what, sqlite3_errmsg(da->db));
}

/*
 * Hex text t (NULL or "" = absent) into n bytes: 1 decoded, 0 absent,
 * -1 bad with why set ("odd number of hex digits", "not hex", "N hex
 * digits, want M"). The value itself never goes into why.
 */
static int
db_auth_hex(const char *t, uint8_t *out, size_t n, char *why, size_t whylen)
{
	size_t len;

	if (t == NULL || *t == '\0')
		return 0;
	len = strlen(t);
	for (size_t i = 0; i < len; i++) {
		char c = t[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F'))) {
			snprintf(why, whylen, "not hex (character %zu)", i + 1);
			return -1;
		}
	}
	if (len % 2 != 0) {
		snprintf(why, whylen, "odd number of hex digits (%zu)", len);
		return -1;
	}
	if (len != 2 * n) {
		snprintf(why, whylen, "%zu hex digits, want %zu", len, 2 * n);
		return -1;
	}
	for (size_t i = 0; i < 2 * n; i++) {
		unsigned char c = (unsigned char)t[i];
		unsigned v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 1;
}

/* Read and check one subscribers row (DB_AUTH_SUB_COLS_S order). 0, or -1
 * with err naming the row and field. */
static int
db_auth_sub_row(TALLOC_CTX *ctx, sqlite3_stmt *st, struct db_subscriber *s,
                char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int col;
		size_t off, len, has;
	} hexf[] = {
	    {"k", 4, offsetof(struct db_subscriber, k), AKA_K_LEN,
	     offsetof(struct db_subscriber, has_k)},
	    {"opc", 5, offsetof(struct db_subscriber, opc), AKA_OP_LEN,
	     offsetof(struct db_subscriber, has_opc)},
	    {"op", 6, offsetof(struct db_subscriber, op), AKA_OP_LEN,
	     offsetof(struct db_subscriber, has_op)},
	};
	const char *amf, *alg;
	char why[80];
	int rc;

	memset(s, 0, sizeof(*s));
	s->impi = db_col_str(ctx, st, 0);
	s->impu = db_col_str(ctx, st, 1);
	s->extra_impu = db_col_str(ctx, st, 2);
	s->password = db_col_str(ctx, st, 3);
	if (s->impi == NULL || s->impu == NULL) {
		snprintf(err, errlen, "subscribers row impi='%s': %s is NULL",
		         s->impi ? s->impi : "", s->impi ? "impu" : "impi");
		return -1;
	}
	for (size_t i = 0; i < sizeof(hexf) / sizeof(hexf[0]); i++) {
		rc = db_auth_hex(
		    (const char *)sqlite3_column_text(st, hexf[i].col),
		    (uint8_t *)s + hexf[i].off, hexf[i].len, why, sizeof(why));
		if (rc == -1) {
			snprintf(err, errlen,
			         "subscribers row impi='%s': %s: %s", s->impi,
			         hexf[i].name, why);
			return -1;
		}
		*(int *)((char *)s + hexf[i].has) = rc;
	}
	amf = (const char *)sqlite3_column_text(st, 7);
	rc = db_auth_hex(amf, s->amf, AKA_AMF_LEN, why, sizeof(why));
	if (rc == -1) {
		snprintf(err, errlen, "subscribers row impi='%s': amf: %s",
		         s->impi, why);
		return -1;
	}
	if (rc == 0) {
		s->amf[0] = 0x80;
		s->amf[1] = 0x00;
	}
	if (sqlite3_column_type(st, 8) != SQLITE_INTEGER ||
	    sqlite3_column_int64(st, 8) < 0 ||
	    (uint64_t)sqlite3_column_int64(st, 8) > AKA_SQN_MAX) {
		snprintf(err, errlen,
		         "subscribers row impi='%s': sqn: not an integer in "
		         "0..2^48-1",
		         s->impi);
		return -1;
	}
	s->sqn = (uint64_t)sqlite3_column_int64(st, 8);
	alg = (const char *)sqlite3_column_text(st, 9);
	s->alg = AKA_MILENAGE;
	if (alg != NULL && *alg != '\0' && aka_alg_parse(alg, &s->alg) == -1) {
		snprintf(err, errlen,
		         "subscribers row impi='%s': algorithm: '%.20s' is "
		         "neither milenage nor xor",
		         s->impi, alg);
		return -1;
	}
	if (s->has_k && s->alg == AKA_MILENAGE && !s->has_opc && !s->has_op) {
		snprintf(err, errlen,
		         "subscribers row impi='%s': opc: missing (milenage "
		         "needs opc or op with k)",
		         s->impi);
		return -1;
	}
	if (!s->has_k && s->password == NULL) {
		snprintf(err, errlen,
		         "subscribers row impi='%s': password: missing (a row "
		         "needs a password or k)",
		         s->impi);
		return -1;
	}
	return 0;
}

int
db_auth_subscriber(struct db_auth *da, TALLOC_CTX *ctx, const char *name,
                   struct db_subscriber *out, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc, kind;

	err[0] = '\0';
	memset(out, 0, sizeof(*out));
	/* kind: 0 impi, 1 impu, 2 user part, 3 extra_impu; the first kind
	 * that names anyone wins (impi, then impu: the lowest impi) */
	st =
	    db_stmt(da->db, &da->by_id,
	            "SELECT " DB_AUTH_SUB_COLS_S ", i.kind FROM subscriber_ids "
	            "i JOIN subscribers s ON s.impi = i.impi WHERE i.id = ?1 "
	            "ORDER BY i.kind, i.impi LIMIT 2");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_auth_err(da, "subscriber");
		sqlite3_reset(st);
		return -1;
	}
	kind = sqlite3_column_int(st, DB_AUTH_SUB_NCOLS);
	rc = db_auth_sub_row(ctx, st, out, err, errlen) == 0 ? 1 : -2;
	/* a user part is a name only when one row has it */
	if (rc == 1 && kind == 2 && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_int(st, DB_AUTH_SUB_NCOLS) == 2) {
		snprintf(err, errlen,
		         "subscribers: user part '%.64s' matches more than one "
		         "impi: use the whole impi",
		         name);
		rc = -2;
	}
	sqlite3_reset(st);
	if (rc == -2)
		log_warnx("db_auth: %s", err);
	if (rc != 1)
		memset(out, 0, sizeof(*out));
	return rc;
}

static int db_auth_change(struct db_auth *da, sqlite3_stmt *st,
                          const char *what);

/* Step an UPDATE ... RETURNING sqn: 0 with *sqn, 1 no row, -1 error. */
static int
db_auth_sqn_step(struct db_auth *da, sqlite3_stmt *st, uint64_t *sqn)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		*sqn = (uint64_t)sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	} else if (rc == SQLITE_DONE)
		rc = 1;
	else
		rc = -1;
	if (rc == -1)
		db_auth_err(da, "sqn");
	sqlite3_reset(st);
	return rc;
}

int
db_auth_sqn_take(struct db_auth *da, const char *impi, uint64_t *sqn)
{
	sqlite3_stmt *up, *get;
	int rc;

	up = db_stmt(da->db, &da->sqn_take,
	             "UPDATE subscribers SET sqn = " DB_AUTH_SQN_NEXT(
	                 "sqn") " WHERE impi = ?1");
	if (up == NULL)
		return -1;
	sqlite3_bind_text(up, 1, impi, -1, SQLITE_STATIC);
	rc = sqlite3_step(up);
	sqlite3_reset(up);
	if (rc != SQLITE_DONE) {
		db_auth_err(da, "sqn");
		return -1;
	}
	if (sqlite3_changes(da->db) == 0)
		return 1;
	get = db_stmt(da->db, &da->sqn_get,
	              "SELECT sqn FROM subscribers WHERE impi = ?1");
	if (get == NULL)
		return -1;
	sqlite3_bind_text(get, 1, impi, -1, SQLITE_STATIC);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW)
		*sqn = (uint64_t)sqlite3_column_int64(get, 0);
	sqlite3_reset(get);
	if (rc != SQLITE_ROW) {
		db_auth_err(da, "sqn");
		return -1;
	}
	return 0;
}

int
db_auth_sqn_take_from(struct db_auth *da, const char *impi, uint64_t last,
                      uint64_t *sqn)
{
	sqlite3_stmt *st = db_stmt(
	    da->db, &da->sqn_cas,
	    "UPDATE subscribers SET sqn = ?3 WHERE impi = ?1 AND sqn = ?2");
	uint64_t next = aka_sqn_next(last & AKA_SQN_MAX);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, impi, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)last);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)next);
	if ((rc = db_auth_change(da, st, "sqn")) == 0)
		*sqn = next;
	return rc;
}

int
db_auth_sqn_resync(struct db_auth *da, const char *impi, uint64_t sqn_ms,
                   uint64_t *sqn)
{
	sqlite3_stmt *st =
	    db_stmt(da->db, &da->sqn_resync,
	            "UPDATE subscribers SET sqn = " DB_AUTH_SQN_NEXT(
	                "?2") " WHERE impi = ?1 RETURNING sqn");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, impi, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(sqn_ms & AKA_SQN_MAX));
	return db_auth_sqn_step(da, st, sqn);
}

/* n bytes as lower-case hex, bound to parameter i (transient copy). */
static void
db_auth_bind_hex(sqlite3_stmt *st, int i, const uint8_t *b, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	char h[2 * AKA_RES_MAX + 1];

	for (size_t j = 0; j < n; j++) {
		h[2 * j] = hx[b[j] >> 4];
		h[2 * j + 1] = hx[b[j] & 15];
	}
	h[2 * n] = '\0';
	sqlite3_bind_text(st, i, h, (int)(2 * n), SQLITE_TRANSIENT);
	OPENSSL_cleanse(h, sizeof(h));
}

int
db_auth_vector_put(struct db_auth *da, const struct db_auth_nonce *n,
                   const char *impi, const char *algorithm,
                   const struct aka_vector *v, int64_t now, int64_t expires_at)
{
	sqlite3_stmt *st = db_stmt(
	    da->db, &da->vec_put,
	    "INSERT INTO auth_vectors (nonce, impi, algorithm, rand, autn, "
	    "xres, ck, ik, ak, sqn, created_at, expires_at, issued_us) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->nonce, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 13, n->issued_us);
	sqlite3_bind_text(st, 2, impi, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, algorithm, -1, SQLITE_STATIC);
	db_auth_bind_hex(st, 4, v->rand, AKA_RAND_LEN);
	db_auth_bind_hex(st, 5, v->autn, AKA_AUTN_LEN);
	db_auth_bind_hex(st, 6, v->xres,
	                 v->xres_len <= AKA_RES_MAX ? v->xres_len : 0);
	db_auth_bind_hex(st, 7, v->ck, AKA_CK_LEN);
	db_auth_bind_hex(st, 8, v->ik, AKA_IK_LEN);
	db_auth_bind_hex(st, 9, v->ak, AKA_AK_LEN);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)v->sqn);
	sqlite3_bind_int64(st, 11, now);
	sqlite3_bind_int64(st, 12, expires_at);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		db_auth_err(da, "vector put");
	sqlite3_clear_bindings(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
db_auth_vector_get(struct db_auth *da, TALLOC_CTX *ctx,
                   const struct db_auth_nonce *n, int64_t now,
                   struct db_auth_vector *out)
{
	static const struct {
		const char *name;
		int col;
		size_t off, len;
	} hexf[] = {
	    {"rand", 3, offsetof(struct aka_vector, rand), AKA_RAND_LEN},
	    {"autn", 4, offsetof(struct aka_vector, autn), AKA_AUTN_LEN},
	    {"ck", 6, offsetof(struct aka_vector, ck), AKA_CK_LEN},
	    {"ik", 7, offsetof(struct aka_vector, ik), AKA_IK_LEN},
	    {"ak", 8, offsetof(struct aka_vector, ak), AKA_AK_LEN},
	};
	sqlite3_stmt *st = db_stmt(
	    da->db, &da->vec_get,
	    "SELECT nonce, impi, algorithm, rand, autn, xres, ck, ik, ak, sqn, "
	    "created_at, expires_at, used FROM auth_vectors "
	    "WHERE issued_us = ?3 AND nonce = ?1 AND expires_at > ?2");
	const char *xres;
	char why[80];
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->nonce, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, n->issued_us);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = 0;
		goto done;
	}
	if (rc != SQLITE_ROW) {
		db_auth_err(da, "vector get");
		rc = -1;
		goto done;
	}
	out->nonce = db_col_str(ctx, st, 0);
	out->impi = db_col_str(ctx, st, 1);
	out->algorithm = db_col_str(ctx, st, 2);
	for (size_t i = 0; i < sizeof(hexf) / sizeof(hexf[0]); i++) {
		if (db_auth_hex(
		        (const char *)sqlite3_column_text(st, hexf[i].col),
		        (uint8_t *)&out->v + hexf[i].off, hexf[i].len, why,
		        sizeof(why)) != 1) {
			log_warnx("db_auth: auth_vectors row nonce='%.64s': "
			          "%s: %s",
			          n->nonce, hexf[i].name,
			          why[0] ? why : "missing");
			rc = -2;
			goto done;
		}
		why[0] = '\0';
	}
	xres = (const char *)sqlite3_column_text(st, 5);
	out->v.xres_len = xres ? strlen(xres) / 2 : 0;
	if (out->v.xres_len != AKA_MILENAGE_RES_LEN &&
	    out->v.xres_len != AKA_XOR_RES_LEN)
		out->v.xres_len = AKA_RES_MAX + 1; /* fails below */
	if (out->v.xres_len > AKA_RES_MAX ||
	    db_auth_hex(xres, out->v.xres, out->v.xres_len, why, sizeof(why)) !=
	        1) {
		log_warnx("db_auth: auth_vectors row nonce='%.64s': xres: "
		          "not 16 or 32 hex digits",
		          n->nonce);
		rc = -2;
		goto done;
	}
	out->v.sqn = (uint64_t)sqlite3_column_int64(st, 9);
	out->created_at = sqlite3_column_int64(st, 10);
	out->expires_at = sqlite3_column_int64(st, 11);
	out->used = sqlite3_column_int(st, 12) != 0;
	rc = out->nonce && out->impi && out->algorithm ? 1 : -2;
done:
	if (rc != 1)
		OPENSSL_cleanse(out, sizeof(*out));
	sqlite3_reset(st);
	return rc;
}

/* Step a statement that changes at most one row: 0 when it changed one,
 * 1 when none, -1 on error. */
static int
db_auth_change(struct db_auth *da, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_auth_err(da, what);
		return -1;
	}
	return sqlite3_changes(da->db) > 0 ? 0 : 1;
}

int
db_auth_vector_use(struct db_auth *da, const struct db_auth_nonce *n,
                   uint32_t nc)
{
	sqlite3_stmt *st = db_stmt(da->db, &da->vec_use,
	                           "UPDATE auth_vectors SET used = 1, nc = ?2 "
	                           "WHERE issued_us = ?3 AND nonce = ?1 AND "
	                           "nc < ?2");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->nonce, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, n->issued_us);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)nc);
	return db_auth_change(da, st, "vector use");
}

int
db_auth_vector_delete(struct db_auth *da, const struct db_auth_nonce *n)
{
	sqlite3_stmt *st =
	    db_stmt(da->db, &da->vec_del,
	            "DELETE FROM auth_vectors WHERE issued_us = ?2 AND "
	            "nonce = ?1");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->nonce, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, n->issued_us);
	return db_auth_change(da, st, "vector delete") == -1 ? -1 : 0;
}

int
db_auth_nc_use(struct db_auth *da, const struct db_auth_nonce *n, uint32_t nc)
{
	sqlite3_stmt *st =
	    db_stmt(da->db, &da->nc_use,
	            "INSERT INTO auth_nonces (issued_us, nonce, nc) VALUES "
	            "(?4, ?1, ?2) ON CONFLICT (issued_us, nonce) DO UPDATE SET "
	            "nc = excluded.nc WHERE excluded.nc > auth_nonces.nc");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->nonce, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, n->issued_us);
	sqlite3_bind_int64(st, 2, nc);
	return db_auth_change(da, st, "nc");
}

int
db_auth_source_bound(struct db_auth *da, const char *aor, const char *received,
                     const char *slot, int64_t conn_id, int64_t now)
{
	sqlite3_stmt *st = db_stmt(
	    da->db, &da->src_bound,
	    "SELECT 1 FROM registrations WHERE aor = ?1 AND expires_at > ?5 "
	    "AND ((received = ?2 AND ((?3 IS NULL AND transport = 'udp') OR "
	    "(transport = 'tcp' AND conn_slot = ?3 AND conn_id = ?4))) OR "
	    "(?3 IS NOT NULL AND transport = 'udp' AND "
	    "substr(received, 1, length(?6)) = ?6)) LIMIT 1");
	const char *colon = strrchr(received, ':');
	int rc, bound = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, received, -1, SQLITE_STATIC);
	if (slot != NULL)
		sqlite3_bind_text(st, 3, slot, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, conn_id);
	sqlite3_bind_int64(st, 5, now);
	/* "ip:" of received: a UDP binding from the same address */
	sqlite3_bind_text(st, 6, received,
	                  colon ? (int)(colon - received + 1) : -1,
	                  SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		bound = 1;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_auth_err(da, "source bound");
		return -1;
	}
	return bound;
}

int
db_auth_expire(struct db_auth *da, int64_t before_us, int max)
{
	sqlite3_stmt *st;
	int n = 0;

	st = db_stmt(da->db, &da->exp_vec,
	             "DELETE FROM auth_vectors WHERE (issued_us, nonce) IN "
	             "(SELECT issued_us, nonce FROM auth_vectors WHERE "
	             "issued_us < ?1 ORDER BY issued_us LIMIT ?2)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, before_us);
	sqlite3_bind_int(st, 2, max);
	if (db_auth_change(da, st, "expire vectors") == -1)
		return -1;
	n += sqlite3_changes(da->db);
	st = db_stmt(da->db, &da->exp_nc,
	             "DELETE FROM auth_nonces WHERE (issued_us, nonce) IN "
	             "(SELECT issued_us, nonce FROM auth_nonces WHERE "
	             "issued_us < ?1 ORDER BY issued_us LIMIT ?2)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, before_us);
	sqlite3_bind_int(st, 2, max);
	if (db_auth_change(da, st, "expire nonces") == -1)
		return -1;
	return n + sqlite3_changes(da->db);
}

int
db_auth_key(struct db_auth *da, const char *name, uint8_t *key, size_t len)
{
	uint8_t fresh[64];
	sqlite3_stmt *st;
	int rc = -1;

	if (len == 0 || len > sizeof(fresh))
		return -1;
	if (RAND_bytes(fresh, (int)len) != 1) {
		log_warnx("db_auth: key %s: RAND_bytes failed", name);
		return -1;
	}
	st = db_stmt(da->db, &da->key_put,
	             "INSERT OR IGNORE INTO afd_keys (name, value, created_at) "
	             "VALUES (?1, ?2, CAST(strftime('%s','now') AS INTEGER))");
	if (st == NULL)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, fresh, (int)len, SQLITE_STATIC);
	if (db_auth_change(da, st, "key put") == -1)
		goto done;
	sqlite3_clear_bindings(st);
	st = db_stmt(da->db, &da->key_get,
	             "SELECT value FROM afd_keys WHERE name = ?1");
	if (st == NULL)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_BLOB &&
	    (size_t)sqlite3_column_bytes(st, 0) == len) {
		memcpy(key, sqlite3_column_blob(st, 0), len);
		rc = 0;
	} else
		log_warnx("db_auth: afd_keys row name='%s': value: missing or "
		          "not a %zu-byte blob",
		          name, len);
	sqlite3_reset(st);
done:
	OPENSSL_cleanse(fresh, sizeof(fresh));
	return rc;
}
