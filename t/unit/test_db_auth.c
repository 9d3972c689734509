/*
 * t/unit/test_db_auth.c: the authentication data layer on a temporary
 * database: subscriber look-up by IMPI, IMPU, user part and extra IMPU,
 * its names kept by triggers whatever writes the table;
 * every validation fault names the row and the field and never shows a
 * secret; the SQN taken atomically in SQL matches aka_sqn_next(); resync;
 * AKA vectors kept, read, used once, expired; the nc replay record; the
 * server key made once and kept; the upgrade of a version 1 file.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "util/log.h"
#include "schema/db.h"
#include "t/unit/tdb.h"
#include "schema/db_auth.h"

static struct tdb fix; /* the suite's scratch folder and config */

static int
setup(void)
{
	return tdb_setup(&fix, "dbauth");
}

static int
teardown(void)
{
	return tdb_teardown(&fix);
}

/* A fresh database file with the schema. */
static sqlite3 *
fresh(const char *name)
{
	return tdb_fresh(&fix, name);
}

static int
ex(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static long long
q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
test_lookup(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	sqlite3 *db = fresh("lookup.db");
	struct db_auth *da;
	struct db_subscriber s;
	char err[160];

	CU_ASSERT_FATAL(db != NULL);
	da = db_auth_new(ctx, db);
	CU_ASSERT_FATAL(da != NULL);
	CU_ASSERT_FATAL(
	    ex(db, "INSERT INTO subscribers (impi, impu, k, opc, amf, sqn, "
	           "extra_impu) VALUES ('sim@ims.test', 'sip:sim@ims.test', "
	           "'465B5CE8B199B49FAA5F0A2EE238A6BC', "
	           "'cd63cb71954a9f4e48a5994e37a02baf', 'B9b9', 33, "
	           "'sip:+15551234@ims.test, tel:+15551234');"
	           "INSERT INTO subscribers (impi, impu, password) VALUES "
	           "('soft@ims.test', 'sip:soft@ims.test', 'secret');"
	           "INSERT INTO subscribers (impi, impu, k, algorithm) VALUES "
	           "('xor@ims.test', 'sip:xor@ims.test', "
	           "'000102030405060708090a0b0c0d0e0f', 'XOR');") == 0);
	/* by impi */
	CU_ASSERT(db_auth_subscriber(da, ctx, "sim@ims.test", &s, err,
	                             sizeof(err)) == 1);
	CU_ASSERT_STRING_EQUAL(s.impu, "sip:sim@ims.test");
	CU_ASSERT(s.has_k && s.has_opc && !s.has_op);
	CU_ASSERT(s.k[0] == 0x46 && s.k[15] == 0xbc && s.opc[0] == 0xcd);
	CU_ASSERT(s.amf[0] == 0xb9 && s.amf[1] == 0xb9);
	CU_ASSERT(s.sqn == 33 && s.alg == AKA_MILENAGE);
	CU_ASSERT(s.password == NULL);
	/* by impu, by user part, by an extra impu */
	CU_ASSERT(db_auth_subscriber(da, ctx, "sip:soft@ims.test", &s, err,
	                             sizeof(err)) == 1);
	CU_ASSERT_STRING_EQUAL(s.impi, "soft@ims.test");
	CU_ASSERT_STRING_EQUAL(s.password, "secret");
	CU_ASSERT(!s.has_k && s.amf[0] == 0x80 && s.amf[1] == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "soft", &s, err, sizeof(err)) ==
	          1);
	CU_ASSERT_STRING_EQUAL(s.impi, "soft@ims.test");
	CU_ASSERT(db_auth_subscriber(da, ctx, "tel:+15551234", &s, err,
	                             sizeof(err)) == 1);
	CU_ASSERT_STRING_EQUAL(s.impi, "sim@ims.test");
	CU_ASSERT(db_auth_subscriber(da, ctx, "sip:+15551234@ims.test", &s, err,
	                             sizeof(err)) == 1);
	/* xor needs no opc; algorithm in any case */
	CU_ASSERT(db_auth_subscriber(da, ctx, "xor", &s, err, sizeof(err)) ==
	          1);
	CU_ASSERT(s.alg == AKA_XOR && s.has_k && !s.has_opc);
	/* unknown: 0, and no partial match */
	CU_ASSERT(db_auth_subscriber(da, ctx, "nobody", &s, err, sizeof(err)) ==
	          0);
	CU_ASSERT(
	    db_auth_subscriber(da, ctx, "sip:sim", &s, err, sizeof(err)) == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "+15551234", &s, err,
	                             sizeof(err)) == 0);
	CU_ASSERT(
	    db_auth_subscriber(da, ctx, "ims.test", &s, err, sizeof(err)) == 0);
	/* a user part two rows share: refused, naming it */
	CU_ASSERT_FATAL(ex(db,
	                   "INSERT INTO subscribers (impi, impu, password) "
	                   "VALUES ('soft@other.test', 'sip:s2@other.test', "
	                   "'pw')") == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "soft", &s, err, sizeof(err)) ==
	          -2);
	CU_ASSERT(strstr(err, "'soft'") != NULL);
	/* the whole impi still works */
	CU_ASSERT(db_auth_subscriber(da, ctx, "soft@other.test", &s, err,
	                             sizeof(err)) == 1);
	talloc_free(ctx);
	db_close(db);
}

/*
 * The names of subscriber_ids follow the subscribers table whatever
 * writes it (an UPDATE of extra_impu or impu, a DELETE, an INSERT OR
 * REPLACE, as a tester's sqlite3 session does), the look-up's order is
 * impi, impu, user part, extra_impu, and it is one search of the key, not
 * a scan.
 */
static void
test_lookup_names(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	sqlite3 *db = fresh("names.db");
	struct db_auth *da;
	struct db_subscriber s;
	char err[160];
	sqlite3_stmt *st;
	int scan = 0;

	CU_ASSERT_FATAL(db != NULL);
	da = db_auth_new(ctx, db);
	CU_ASSERT_FATAL(da != NULL);
	CU_ASSERT_FATAL(
	    ex(db, "INSERT INTO subscribers (impi, impu, password, extra_impu) "
	           "VALUES ('a@ims.test', 'sip:a@ims.test', 'pw', "
	           "' <sip:a2@ims.test>,\ttel:+1001 ,,');"
	           "INSERT INTO subscribers (impi, impu, password) VALUES "
	           "('b@ims.test', 'sip:b@ims.test', 'pw');") == 0);
	/* entries written with blanks, tabs and <> are found bare */
	CU_ASSERT(db_auth_subscriber(da, ctx, "sip:a2@ims.test", &s, err,
	                             sizeof(err)) == 1);
	CU_ASSERT_STRING_EQUAL(s.impi, "a@ims.test");
	CU_ASSERT(db_auth_subscriber(da, ctx, "tel:+1001", &s, err,
	                             sizeof(err)) == 1);
	/* a changed extra_impu: the old entry is gone, the new one found */
	CU_ASSERT_FATAL(ex(db, "UPDATE subscribers SET extra_impu = "
	                       "'tel:+1002' WHERE impi = 'a@ims.test'") == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "tel:+1001", &s, err,
	                             sizeof(err)) == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "tel:+1002", &s, err,
	                             sizeof(err)) == 1);
	/* a changed impu; an SQN update leaves the names alone */
	CU_ASSERT_FATAL(ex(db,
	                   "UPDATE subscribers SET impu = 'sip:a9@ims.test', "
	                   "sqn = 5 WHERE impi = 'a@ims.test'") == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "sip:a@ims.test", &s, err,
	                             sizeof(err)) == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "sip:a9@ims.test", &s, err,
	                             sizeof(err)) == 1);
	CU_ASSERT(s.sqn == 5);
	/* the impi's names precede another row's impu equal to them */
	CU_ASSERT_FATAL(ex(db,
	                   "INSERT INTO subscribers (impi, impu, password) "
	                   "VALUES ('c@ims.test', 'b@ims.test', 'pw')") == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "b@ims.test", &s, err,
	                             sizeof(err)) == 1);
	CU_ASSERT_STRING_EQUAL(s.impi, "b@ims.test");
	/* INSERT OR REPLACE: the replaced row's names go too */
	CU_ASSERT_FATAL(ex(db,
	                   "INSERT OR REPLACE INTO subscribers (impi, impu, "
	                   "password) VALUES ('a@ims.test', "
	                   "'sip:new@ims.test', 'pw')") == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "tel:+1002", &s, err,
	                             sizeof(err)) == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "sip:a9@ims.test", &s, err,
	                             sizeof(err)) == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "sip:new@ims.test", &s, err,
	                             sizeof(err)) == 1);
	CU_ASSERT(db_auth_subscriber(da, ctx, "a", &s, err, sizeof(err)) == 1);
	/* DELETE: every name of the row goes */
	CU_ASSERT_FATAL(
	    ex(db, "DELETE FROM subscribers WHERE impi = 'a@ims.test'") == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "a", &s, err, sizeof(err)) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM subscriber_ids WHERE impi = "
	                 "'a@ims.test'") == 0);
	/* the look-up searches the key: no scan of a table */
	CU_ASSERT_FATAL(sqlite3_prepare_v2(
	                    db,
	                    "EXPLAIN QUERY PLAN SELECT s.impi, i.kind FROM "
	                    "subscriber_ids i JOIN subscribers s ON s.impi = "
	                    "i.impi WHERE i.id = 'x' ORDER BY i.kind, i.impi "
	                    "LIMIT 2",
	                    -1, &st, NULL) == SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (strncmp((const char *)sqlite3_column_text(st, 3), "SCAN",
		            4) == 0 ||
		    strstr((const char *)sqlite3_column_text(st, 3),
		           "TEMP B-TREE") != NULL)
			scan = 1;
	sqlite3_finalize(st);
	CU_ASSERT(scan == 0);
	talloc_free(ctx);
	db_close(db);
}

static void
test_validation(void)
{
	static const struct {
		const char *cols, *vals, *field;
	} bad[] = {
	    {"k, opc",
	     "'465b5ce8b199b49faa5f0a2ee238a6b', "
	     "'cd63cb71954a9f4e48a5994e37a02baf'",
	     "k: odd number of hex digits"},
	    {"k, opc",
	     "'465b5ce8b199b49faa5f0a2ee238a6bc00', "
	     "'cd63cb71954a9f4e48a5994e37a02baf'",
	     "k: 34 hex digits, want 32"},
	    {"k, opc",
	     "'465b5ce8b199b49faa5f0a2ee238a6bc', "
	     "'cd63cb71954a9f4e48a5994e37a02bag'",
	     "opc: not hex"},
	    {"k, op", "'465b5ce8b199b49faa5f0a2ee238a6bc', 'cdc2'",
	     "op: 4 hex digits, want 32"},
	    {"k, opc, amf",
	     "'465b5ce8b199b49faa5f0a2ee238a6bc', "
	     "'cd63cb71954a9f4e48a5994e37a02baf', '800'",
	     "amf: odd number of hex digits"},
	    {"k, algorithm", "'465b5ce8b199b49faa5f0a2ee238a6bc', 'comp128'",
	     "algorithm: 'comp128' is neither milenage nor xor"},
	    {"k", "'465b5ce8b199b49faa5f0a2ee238a6bc'",
	     "opc: missing (milenage needs opc or op with k)"},
	    {"password, sqn", "'pw', -1", "sqn: not an integer"},
	    {"password, sqn", "'pw', 281474976710656", "sqn: not an integer"},
	    {"password, sqn", "'pw', 'abc'", "sqn: not an integer"},
	    {"amf", "'8000'", "password: missing"},
	};
	TALLOC_CTX *ctx = talloc_new(NULL);
	sqlite3 *db = fresh("valid.db");
	struct db_auth *da = db_auth_new(ctx, db);
	struct db_subscriber s;
	char sql[512], err[160], impi[32];

	CU_ASSERT_FATAL(db != NULL && da != NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(impi, sizeof(impi), "bad%zu@ims.test", i);
		snprintf(sql, sizeof(sql),
		         "INSERT INTO subscribers (impi, impu, %s) VALUES "
		         "('%s', 'sip:%s', %s)",
		         bad[i].cols, impi, impi, bad[i].vals);
		CU_ASSERT_FATAL(ex(db, sql) == 0);
		int rc =
		    db_auth_subscriber(da, ctx, impi, &s, err, sizeof(err));
		CU_ASSERT(rc == -2);
		if (strstr(err, bad[i].field) == NULL)
			fprintf(stderr, "case %zu: \"%s\"\n", i, err);
		CU_ASSERT(strstr(err, bad[i].field) != NULL);
		/* names the row */
		CU_ASSERT(strstr(err, impi) != NULL);
		/* never the secret's value */
		CU_ASSERT(strstr(err, "465b5ce8") == NULL);
		CU_ASSERT(strstr(err, "cd63cb71") == NULL);
		CU_ASSERT(strstr(err, "cdc2") == NULL);
	}
	/* empty strings mean none; op alone is enough for milenage */
	CU_ASSERT_FATAL(ex(db,
	                   "INSERT INTO subscribers (impi, impu, k, opc, "
	                   "op, amf, algorithm) VALUES ('ok@ims.test', "
	                   "'sip:ok@ims.test', "
	                   "'465b5ce8b199b49faa5f0a2ee238a6bc', '', "
	                   "'cdc202d5123e20f62b6d676ac72cb318', '', '')") == 0);
	CU_ASSERT(db_auth_subscriber(da, ctx, "ok@ims.test", &s, err,
	                             sizeof(err)) == 1);
	CU_ASSERT(s.has_op && !s.has_opc && s.alg == AKA_MILENAGE);
	CU_ASSERT(s.amf[0] == 0x80);
	/* and OPc from it is test set 1's */
	uint8_t opc[16];
	CU_ASSERT(milenage_opc(s.k, s.op, opc) == 0);
	CU_ASSERT(opc[0] == 0xcd && opc[15] == 0xaf);
	talloc_free(ctx);
	db_close(db);
}

static void
test_sqn(void)
{
	static const uint64_t start[] = {0,
	                                 0x21,
	                                 0x3f,
	                                 0x1f,
	                                 0xff9bb4d0b607ULL,
	                                 AKA_SQN_MAX,
	                                 AKA_SQN_MAX - 31};
	TALLOC_CTX *ctx = talloc_new(NULL);
	sqlite3 *db = fresh("sqn.db");
	struct db_auth *da = db_auth_new(ctx, db);
	uint64_t sqn = 0;
	char sql[256];

	CU_ASSERT_FATAL(db != NULL && da != NULL);
	CU_ASSERT_FATAL(ex(db, "INSERT INTO subscribers (impi, impu, password) "
	                       "VALUES ('a@x', 'sip:a@x', 'pw')") == 0);
	for (size_t i = 0; i < sizeof(start) / sizeof(start[0]); i++) {
		snprintf(sql, sizeof(sql),
		         "UPDATE subscribers SET sqn = %llu WHERE impi = 'a@x'",
		         (unsigned long long)start[i]);
		CU_ASSERT_FATAL(ex(db, sql) == 0);
		uint64_t want = start[i];
		for (int j = 0; j < 40; j++) {
			want = aka_sqn_next(want);
			CU_ASSERT(db_auth_sqn_take(da, "a@x", &sqn) == 0);
			CU_ASSERT(sqn == want);
			/* stored */
			CU_ASSERT((uint64_t)q1(db,
			                       "SELECT sqn FROM subscribers "
			                       "WHERE impi = 'a@x'") == want);
		}
	}
	CU_ASSERT(db_auth_sqn_take(da, "nobody@x", &sqn) == 1);
	/* resync: the next is SQN_MS's next, stored */
	CU_ASSERT(db_auth_sqn_resync(da, "a@x", 0x123456789aULL, &sqn) == 0);
	CU_ASSERT(sqn == aka_sqn_next(0x123456789aULL));
	CU_ASSERT(db_auth_sqn_take(da, "a@x", &sqn) == 0);
	CU_ASSERT(sqn == aka_sqn_next(aka_sqn_next(0x123456789aULL)));
	CU_ASSERT(db_auth_sqn_resync(da, "nobody@x", 1, &sqn) == 1);
	/* take_from: only while the row still holds the sqn read */
	CU_ASSERT_FATAL(ex(db, "UPDATE subscribers SET sqn = 100 "
	                       "WHERE impi = 'a@x'") == 0);
	sqn = 7;
	CU_ASSERT(db_auth_sqn_take_from(da, "a@x", 99, &sqn) == 1);
	CU_ASSERT(sqn == 7);
	CU_ASSERT(q1(db, "SELECT sqn FROM subscribers WHERE impi = 'a@x'") ==
	          100);
	CU_ASSERT(db_auth_sqn_take_from(da, "a@x", 100, &sqn) == 0);
	CU_ASSERT(sqn == aka_sqn_next(100));
	CU_ASSERT((uint64_t)q1(db, "SELECT sqn FROM subscribers "
	                           "WHERE impi = 'a@x'") == aka_sqn_next(100));
	/* the same last again: taken already, never twice */
	CU_ASSERT(db_auth_sqn_take_from(da, "a@x", 100, &sqn) == 1);
	CU_ASSERT(db_auth_sqn_take_from(da, "nobody@x", 0, &sqn) == 1);
	talloc_free(ctx);
	db_close(db);
}

static void
test_vectors(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	sqlite3 *db = fresh("vec.db");
	struct db_auth *da = db_auth_new(ctx, db);
	struct aka_keys keys = {.alg = AKA_XOR};
	struct aka_vector v;
	struct db_auth_vector got;
	uint8_t rand[16] = {1, 2, 3}, amf[2] = {0x80, 0};
	/* keyed by issued_us and the nonce */
	const struct db_auth_nonce n1 = {100000000, "N1"},
	                           n1later = {100000001, "N1"},
	                           n2 = {100000000, "N2"},
	                           n3 = {100500000, "N3"};

	CU_ASSERT_FATAL(db != NULL && da != NULL);
	CU_ASSERT_FATAL(aka_vector_make(&keys, amf, 0x21, rand, &v) == 0);
	CU_ASSERT(
	    db_auth_vector_put(da, &n1, "a@x", "AKAv1-MD5", &v, 100, 130) == 0);
	CU_ASSERT(db_auth_vector_put(da, &n1, "a@x", "AKAv1-MD5", &v, 100,
	                             130) == -1); /* once */
	/* another connection (another worker) sees it */
	sqlite3 *db2 = db_open(&fix.conf);
	struct db_auth *da2 = db_auth_new(ctx, db2);
	CU_ASSERT_FATAL(db2 != NULL && da2 != NULL);
	CU_ASSERT(db_auth_vector_get(da2, ctx, &n1, 110, &got) == 1);
	CU_ASSERT(db_auth_vector_get(da2, ctx, &n1later, 110, &got) == 0);
	CU_ASSERT(db_auth_vector_get(da2, ctx, &n1, 110, &got) == 1);
	CU_ASSERT_STRING_EQUAL(got.impi, "a@x");
	CU_ASSERT_STRING_EQUAL(got.algorithm, "AKAv1-MD5");
	CU_ASSERT(memcmp(&got.v, &v, sizeof(v)) == 0);
	CU_ASSERT(got.created_at == 100 && got.expires_at == 130 && !got.used);
	/* used, with a nonce count that must rise (from any worker) */
	CU_ASSERT(db_auth_vector_use(da2, &n1, 1) == 0);
	CU_ASSERT(db_auth_vector_use(da, &n1, 1) == 1); /* replay */
	CU_ASSERT(db_auth_vector_get(da, ctx, &n1, 110, &got) == 1 && got.used);
	CU_ASSERT(db_auth_vector_use(da, &n1, 3) == 0);
	CU_ASSERT(db_auth_vector_use(da2, &n1, 2) == 1); /* lower */
	CU_ASSERT(db_auth_vector_use(da, &n1, 0xffffffffu) == 0);
	CU_ASSERT(db_auth_vector_use(da, &n1, 0xffffffffu) == 1);
	/* unknown, expired */
	CU_ASSERT(db_auth_vector_get(da, ctx, &n2, 110, &got) == 0);
	CU_ASSERT(db_auth_vector_get(da, ctx, &n1, 130, &got) == 0);
	CU_ASSERT(db_auth_vector_use(da, &n2, 1) == 1); /* gone */
	/* Milenage's 8-byte XRES round-trips too */
	struct aka_keys mk = {.alg = AKA_MILENAGE};
	CU_ASSERT_FATAL(aka_vector_make(&mk, amf, 0x42, rand, &v) == 0);
	CU_ASSERT(
	    db_auth_vector_put(da, &n3, "b@x", "AKAv2-MD5", &v, 100, 200) == 0);
	CU_ASSERT(db_auth_vector_get(da, ctx, &n3, 100, &got) == 1);
	CU_ASSERT(got.v.xres_len == 8 && memcmp(&got.v, &v, sizeof(v)) == 0);
	/* a row damaged by hand: -2, no crash */
	CU_ASSERT(ex(db, "UPDATE auth_vectors SET ck = 'zz' WHERE nonce = "
	                 "'N3'") == 0);
	CU_ASSERT(db_auth_vector_get(da, ctx, &n3, 100, &got) == -2);
	CU_ASSERT(ex(db, "UPDATE auth_vectors SET ck = "
	                 "'00000000000000000000000000000000', xres = '00' "
	                 "WHERE nonce = 'N3'") == 0);
	CU_ASSERT(db_auth_vector_get(da, ctx, &n3, 100, &got) == -2);
	/* delete, expire */
	CU_ASSERT(db_auth_vector_delete(da, &n3) == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM auth_vectors") == 1);
	/* swept by the time it was issued */
	CU_ASSERT(db_auth_expire(da, 100000000, 100) == 0);
	CU_ASSERT(db_auth_expire(da, 100000001, 100) == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM auth_vectors") == 0);
	talloc_free(ctx);
	db_close(db2);
	db_close(db);
}

static void
test_nc(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	sqlite3 *db = fresh("nc.db");
	struct db_auth *da = db_auth_new(ctx, db);
	const struct db_auth_nonce a = {20, "A"}, b = {30, "B"}, c = {10, "C"},
	                           a2 = {21, "A"};

	CU_ASSERT_FATAL(db != NULL && da != NULL);
	CU_ASSERT(db_auth_nc_use(da, &a, 1) == 0);
	CU_ASSERT(db_auth_nc_use(da, &a, 1) == 1);  /* replay */
	CU_ASSERT(db_auth_nc_use(da, &b, 1) == 0);  /* other nonce */
	CU_ASSERT(db_auth_nc_use(da, &a2, 1) == 0); /* other time */
	CU_ASSERT(db_auth_nc_use(da, &a, 3) == 0);
	CU_ASSERT(db_auth_nc_use(da, &a, 2) == 1); /* lower */
	CU_ASSERT(db_auth_nc_use(da, &a, 0xffffffffu) == 0);
	CU_ASSERT(db_auth_nc_use(da, &a, 0xffffffffu) == 1);
	CU_ASSERT(db_auth_nc_use(da, &c, 1) == 0);
	/* issued before 25: at most 1 a pass, the oldest first */
	CU_ASSERT(db_auth_expire(da, 25, 1) == 1);
	CU_ASSERT(
	    q1(db, "SELECT count(*) FROM auth_nonces WHERE nonce = 'C'") == 0);
	CU_ASSERT(db_auth_expire(da, 25, 1) == 1);
	CU_ASSERT(db_auth_expire(da, 25, 1) == 1);
	CU_ASSERT(db_auth_expire(da, 25, 1) == 0);
	CU_ASSERT(
	    q1(db, "SELECT count(*) FROM auth_nonces WHERE nonce = 'B'") == 1);
	CU_ASSERT(db_auth_nc_use(da, &a, 1) == 0); /* forgotten */
	talloc_free(ctx);
	db_close(db);
}

static void
test_key(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	sqlite3 *db = fresh("key.db");
	struct db_auth *da = db_auth_new(ctx, db);
	uint8_t k1[32], k2[32], k3[32], zero[32] = {0};

	CU_ASSERT_FATAL(db != NULL && da != NULL);
	CU_ASSERT(db_auth_key(da, DB_AUTH_NONCE_KEY, k1, 32) == 0);
	CU_ASSERT(memcmp(k1, zero, 32) != 0);
	CU_ASSERT(db_auth_key(da, DB_AUTH_NONCE_KEY, k2, 32) == 0);
	CU_ASSERT(memcmp(k1, k2, 32) == 0);
	CU_ASSERT(db_auth_key(da, "other", k3, 32) == 0);
	CU_ASSERT(memcmp(k1, k3, 32) != 0);
	/* a restart: a new connection finds the same key */
	db_close(db);
	talloc_free(ctx);
	ctx = talloc_new(NULL);
	db = db_open(&fix.conf);
	CU_ASSERT_FATAL(db != NULL);
	da = db_auth_new(ctx, db);
	CU_ASSERT(db_auth_key(da, DB_AUTH_NONCE_KEY, k2, 32) == 0);
	CU_ASSERT(memcmp(k1, k2, 32) == 0);
	/* another length than stored: refused */
	CU_ASSERT(db_auth_key(da, DB_AUTH_NONCE_KEY, k2, 16) == -1);
	CU_ASSERT(db_auth_key(da, DB_AUTH_NONCE_KEY, k2, 0) == -1);
	talloc_free(ctx);
	db_close(db);
}

/*
 * A file from before authentication (subscribers without op and algorithm,
 * no auth tables), made from today's schema by taking away what the
 * authentication step adds; marked version 1 so that every later step
 * runs (they add only what is missing).
 */
static void
test_upgrade_v1(void)
{
	sqlite3 *db = fresh("v1.db");

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT_FATAL(
	    ex(db,
	       "DROP TABLE auth_vectors; DROP TABLE auth_nonces; "
	       "DROP TABLE afd_keys; DROP TABLE subscribers; "
	       "CREATE TABLE subscribers (impi TEXT PRIMARY KEY, impu TEXT "
	       "NOT NULL, password TEXT, k TEXT, opc TEXT, amf TEXT DEFAULT "
	       "'8000', sqn INTEGER NOT NULL DEFAULT 0, extra_impu TEXT);"
	       "INSERT INTO subscribers (impi, impu, k, opc, sqn) VALUES "
	       "('v1@x', 'sip:v1@x', '465b5ce8b199b49faa5f0a2ee238a6bc', "
	       "'cd63cb71954a9f4e48a5994e37a02baf', 64);"
	       "PRAGMA user_version = 1;") == 0);
	CU_ASSERT(q1(db,
	             "SELECT count(*) FROM pragma_table_info('subscribers') "
	             "WHERE name IN ('op', 'algorithm')") == 0);
	CU_ASSERT(db_migrate(db) == 0);
	CU_ASSERT(q1(db, "PRAGMA user_version") == DB_SCHEMA_VERSION);
	CU_ASSERT(q1(db, "SELECT count(*) FROM subscribers WHERE impi = "
	                 "'v1@x' AND algorithm = 'milenage' AND op IS NULL "
	                 "AND sqn = 64") == 1);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
	                 "('auth_vectors', 'auth_nonces', 'afd_keys', "
	                 "'subscribers_user')") == 4);
	/* the row of the old file is found by each of its names */
	CU_ASSERT(q1(db, "SELECT count(*) FROM subscriber_ids WHERE impi = "
	                 "'v1@x'") == 3);
	CU_ASSERT(db_migrate(db) == 0); /* again: nothing to do */
	db_close(db);
}

/*
 * A version 12 file: auth_vectors and auth_nonces keyed by the nonce alone
 * (rowid tables with their indexes), each with a row of a challenge in
 * flight. Step 13 makes them again keyed by issued_us, WITHOUT ROWID; the
 * old rows go (their nonces carry no time to find them by), the rest of
 * the file stays.
 */
static void
test_upgrade_v12(void)
{
	sqlite3 *db = fresh("v12.db");

	CU_ASSERT_FATAL(db != NULL);
	CU_ASSERT_FATAL(
	    ex(db,
	       "DROP TABLE auth_vectors; DROP TABLE auth_nonces; "
	       "CREATE TABLE auth_vectors (nonce TEXT PRIMARY KEY, impi TEXT "
	       "NOT NULL, algorithm TEXT NOT NULL, rand TEXT NOT NULL, autn "
	       "TEXT NOT NULL, xres TEXT NOT NULL, ck TEXT NOT NULL, ik TEXT "
	       "NOT NULL, ak TEXT NOT NULL, sqn INTEGER NOT NULL, created_at "
	       "INTEGER NOT NULL, expires_at INTEGER NOT NULL, used INTEGER "
	       "NOT NULL DEFAULT 0, nc INTEGER NOT NULL DEFAULT -1); "
	       "CREATE INDEX auth_vectors_expires ON auth_vectors(expires_at); "
	       "CREATE INDEX auth_vectors_impi ON auth_vectors(impi); "
	       "CREATE TABLE auth_nonces (nonce TEXT PRIMARY KEY, nc INTEGER "
	       "NOT NULL, expires_at INTEGER NOT NULL); "
	       "CREATE INDEX auth_nonces_expires ON auth_nonces(expires_at); "
	       "INSERT INTO auth_vectors (nonce, impi, algorithm, rand, autn, "
	       "xres, ck, ik, ak, sqn, created_at, expires_at) VALUES ('old', "
	       "'a@x', 'AKAv1-MD5', '', '', '', '', '', '', 1, 1, 2); "
	       "INSERT INTO auth_nonces VALUES ('old', 1, 2); "
	       "INSERT INTO subscribers (impi, impu, password) VALUES "
	       "('v12@x', 'sip:v12@x', 'pw'); "
	       "PRAGMA user_version = 12;") == 0);
	CU_ASSERT(db_migrate(db) == 0);
	CU_ASSERT(q1(db, "PRAGMA user_version") == DB_SCHEMA_VERSION);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name IN "
	                 "('auth_vectors', 'auth_nonces') AND sql LIKE "
	                 "'%issued_us%WITHOUT ROWID'") == 2);
	CU_ASSERT(q1(db, "SELECT count(*) FROM sqlite_schema WHERE tbl_name "
	                 "IN ('auth_vectors', 'auth_nonces') AND type = "
	                 "'index' AND sql IS NOT NULL") == 0);
	CU_ASSERT(q1(db, "SELECT (SELECT count(*) FROM auth_vectors) + "
	                 "(SELECT count(*) FROM auth_nonces)") == 0);
	CU_ASSERT(q1(db, "SELECT count(*) FROM subscribers WHERE impi = "
	                 "'v12@x'") == 1);
	CU_ASSERT(db_migrate(db) == 0); /* again: nothing to do */
	db_close(db);
}

int
suite_db_auth(void)
{
	CU_pSuite s = CU_add_suite("db_auth", setup, teardown);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "subscriber look-up", test_lookup) ||
	    !CU_add_test(s, "subscriber names (subscriber_ids)",
	                 test_lookup_names) ||
	    !CU_add_test(s, "subscriber validation", test_validation) ||
	    !CU_add_test(s, "sqn take, take_from and resync", test_sqn) ||
	    !CU_add_test(s, "vectors", test_vectors) ||
	    !CU_add_test(s, "nc replay", test_nc) ||
	    !CU_add_test(s, "server key", test_key) ||
	    !CU_add_test(s, "upgrade from before authentication",
	                 test_upgrade_v1) ||
	    !CU_add_test(s, "upgrade from version 12 (auth keyed by time)",
	                 test_upgrade_v12))
		return -1;
	return 0;
}
