/*
 * t/unit/test_authgate.c: the authentication gate (workers/auth.c) inside
 * a real sipd on a temporary database: Digest with qop=auth-int (the body
 * hashed), AKAv1 with the XOR test SIM answered from the challenge's
 * nonce, what the binding records (impi, integrity, Security-Client),
 * sec-agree accepted with [auth] mode = none, the registrar's own refusal
 * of an unauthenticated REGISTER, and the source check other services
 * call (auth_source_bound). End-to-end scenarios 91-95 cover the rest
 * against the daemon.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sip/aka.h"
#include "sip/digest.h"
#include "t/unit/sipd_util.h"
#include "workers/auth.h"

#define AOR "sip:bob@afd.test"

static int
gate_status(const char *r)
{
	return r ? atoi(r + 8) : -1;
}

/* A REGISTER for bob with extra header lines and a body. */
static char *
gate_reg(TALLOC_CTX *ctx, const char *branch, int cseq, const char *extra,
         const char *body)
{
	return talloc_asprintf(
	    ctx,
	    "REGISTER sip:afd.test SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bK%s\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:bob@afd.test>;tag=b1\r\n"
	    "To: <sip:bob@afd.test>\r\n"
	    "Call-ID: gate-1\r\n"
	    "CSeq: %d REGISTER\r\n"
	    "Contact: <sip:bob@127.0.0.1:40000>\r\n"
	    "%s"
	    "Content-Length: %zu\r\n\r\n%s",
	    branch, cseq, extra ? extra : "", strlen(body), body);
}

/* The value of parameter name in the 401's WWW-Authenticate (quoted),
 * talloc under ctx, or NULL. */
static char *
gate_param(TALLOC_CTX *ctx, const char *r, const char *name)
{
	char pat[32];
	const char *p, *e;

	if (r == NULL || (p = strstr(r, "\r\nWWW-Authenticate: ")) == NULL)
		return NULL;
	snprintf(pat, sizeof(pat), " %s=\"", name);
	if ((p = strstr(p, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	if ((e = strchr(p, '"')) == NULL)
		return NULL;
	return talloc_strndup(ctx, p, (size_t)(e - p));
}

static sip_str
S(const char *s)
{
	return (sip_str){s, strlen(s)};
}

/* The response for the REGISTER above with password pw (pwlen bytes). */
static void
gate_response(const char *user, const uint8_t *pw, size_t pwlen,
              const char *nonce, const char *qop, const char *body,
              char out[DIGEST_HEX_LEN + 1])
{
	char ha1[DIGEST_HEX_LEN + 1], ha2[DIGEST_HEX_LEN + 1];
	enum digest_qop q = strcmp(qop, "auth-int") == 0 ? DIGEST_QOP_AUTH_INT
	                                                 : DIGEST_QOP_AUTH;

	CU_ASSERT(digest_ha1(S(user), S("afd.test"), pw, pwlen, ha1) == 0);
	CU_ASSERT(
	    digest_ha2(S("REGISTER"), S("sip:afd.test"), q, S(body), ha2) == 0);
	CU_ASSERT(digest_response(ha1, S(nonce), S("00000001"), S("cn1"), q,
	                          ha2, out) == 0);
}

static char *
gate_authz(TALLOC_CTX *ctx, const char *user, const char *nonce,
           const char *alg, const char *qop, const char *resp)
{
	return talloc_asprintf(
	    ctx,
	    "Authorization: Digest username=\"%s\", realm=\"afd.test\", "
	    "nonce=\"%s\", uri=\"sip:afd.test\", response=\"%s\", "
	    "algorithm=%s, qop=%s, nc=00000001, cnonce=\"cn1\", "
	    "integrity-protected=\"no\"\r\n",
	    user, nonce, resp, alg, qop);
}

/* Digest with qop=auth-int over a body; the binding records the IMPI. */
static void
test_digest_auth_int(void)
{
	struct tsd *t = tsd_new_auth(NULL, CONF_AUTH_DIGEST);
	const char *body = "some body\r\n";
	char resp[DIGEST_HEX_LEN + 1], *nonce;
	const char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT(tsd_count(t,
	                    "INSERT INTO subscribers (impi, impu, password) "
	                    "VALUES ('bob@afd.test', ?1, 'pw') RETURNING 1",
	                    AOR) == 1);
	r = tsd_one(t, gate_reg(t, "d1", 1, NULL, body), SIP_TP_UDP);
	CU_ASSERT_EQUAL(gate_status(r), 401);
	CU_ASSERT(strstr(r, "algorithm=MD5") != NULL);
	nonce = gate_param(t, r, "nonce");
	CU_ASSERT_PTR_NOT_NULL_FATAL(nonce);
	/* the body changed after hashing: 403 */
	gate_response("bob", (const uint8_t *)"pw", 2, nonce, "auth-int",
	              "other body", resp);
	r = tsd_one(
	    t,
	    gate_reg(t, "d2", 2,
	             gate_authz(t, "bob", nonce, "MD5", "auth-int", resp),
	             body),
	    SIP_TP_UDP);
	CU_ASSERT_EQUAL(gate_status(r), 403);
	gate_response("bob", (const uint8_t *)"pw", 2, nonce, "auth-int", body,
	              resp);
	r = tsd_one(
	    t,
	    gate_reg(t, "d3", 3,
	             gate_authz(t, "bob", nonce, "MD5", "auth-int", resp),
	             body),
	    SIP_TP_UDP);
	CU_ASSERT_EQUAL(gate_status(r), 200);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM registrations WHERE "
	                          "aor = ?1 AND impi = 'bob@afd.test' AND "
	                          "integrity = 'no'",
	                          AOR),
	                1);
	tsd_free(t);
}

/* Run auth_gate on a SUBSCRIBE from bob (extra header lines extra) as
 * if it came from peer: 0 when it passed, else the status answered. */
static int
gate_later(struct tsd *t, const char *extra, const struct sip_peer *peer)
{
	const struct sipd_out *out;
	struct sipd_req *rq;
	struct sip_msg *m;
	struct sip_err err;
	char *msg;
	int rc, n, status = 0;
	static int seq;

	msg = talloc_asprintf(t,
	                      "SUBSCRIBE sip:bob@afd.test SIP/2.0\r\n"
	                      "Via: SIP/2.0/UDP 127.0.0.1:40000;rport;"
	                      "branch=z9hG4bKsub%d\r\n"
	                      "Max-Forwards: 70\r\n"
	                      "From: <sip:bob@afd.test>;tag=s1\r\n"
	                      "To: <sip:bob@afd.test>\r\n"
	                      "Call-ID: sub-1\r\n"
	                      "CSeq: 1 SUBSCRIBE\r\n"
	                      "Event: reg\r\n%s"
	                      "Content-Length: 0\r\n\r\n",
	                      ++seq, extra ? extra : "");
	memset(&err, 0, sizeof(err));
	sipd_batch_begin(t->sd);
	if (sip_parse(sipd_batch_mem(t->sd), msg, strlen(msg), SIP_TP_UDP, 8192,
	              &m, &err) == -1)
		return -1;
	rq = talloc_zero(sipd_batch_mem(t->sd), struct sipd_req);
	rq->msg = m;
	rq->from = *peer;
	rq->now = time(NULL);
	rc = auth_gate(sipd_auth(t->sd), t->sd, rq);
	if (rc == 0 && rq->auth.impu == NULL)
		rc = -1;
	n = sipd_batch_end(t->sd, &out);
	if (n > 0)
		status = atoi(out[0].buf + 8);
	return rc == 0 ? (n == 0 ? 0 : -1) : status;
}

/* AKAv1 with the XOR test SIM: the UE's RES from the nonce registers; the
 * vector is kept, then marked used; the source check follows the
 * binding. */
static void
test_aka_xor_and_source(void)
{
	struct tsd *t = tsd_new_auth(NULL, CONF_AUTH_AKA);
	static const uint8_t k[16] = {0, 1, 2,  3,  4,  5,  6,  7,
	                              8, 9, 10, 11, 12, 13, 14, 15};
	uint8_t rand[AKA_RAND_LEN], autn[AKA_AUTN_LEN];
	char resp[DIGEST_HEX_LEN + 1], *nonce;
	struct aka_keys keys;
	struct aka_out o;
	struct sip_peer other;
	uint64_t sqn;
	size_t sdl;
	const char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT(tsd_count(t,
	                    "INSERT INTO subscribers (impi, impu, k, "
	                    "algorithm, extra_impu) VALUES ('bob@afd.test', "
	                    "?1, '000102030405060708090A0B0C0D0E0F', 'xor', "
	                    "'sip:robert@afd.test') RETURNING 1",
	                    AOR) == 1);
	r = tsd_one(t,
	            gate_reg(t, "a1", 1,
	                     "Require: sec-agree\r\n"
	                     "Security-Client: ipsec-3gpp;alg=hmac-md5-96;"
	                     "spi-c=1;spi-s=2;port-c=3;port-s=4\r\n",
	                     ""),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(gate_status(r), 401);
	CU_ASSERT(strstr(r, "algorithm=AKAv1-MD5") != NULL);
	nonce = gate_param(t, r, "nonce");
	CU_ASSERT_PTR_NOT_NULL_FATAL(nonce);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM auth_vectors WHERE "
	                          "nonce = ?1 AND used = 0",
	                          nonce),
	                1);
	CU_ASSERT_FATAL(aka_nonce_parse(S(nonce), rand, autn, NULL, &sdl) == 0);
	CU_ASSERT_FATAL(aka_keys_init(&keys, AKA_XOR, k, NULL, NULL) == 0);
	CU_ASSERT_FATAL(aka_usim_check(&keys, rand, autn, &o, &sqn) == 0);
	CU_ASSERT_EQUAL(aka_sqn_seq(sqn), 1);
	gate_response("bob@afd.test", o.res, o.res_len, nonce, "auth", "",
	              resp);
	r = tsd_one(t,
	            gate_reg(t, "a2", 2,
	                     talloc_asprintf(
	                         t,
	                         "%sRequire: sec-agree\r\n"
	                         "Security-Client: ipsec-3gpp;alg=hmac-md5-96;"
	                         "spi-c=1;spi-s=2;port-c=3;port-s=4\r\n",
	                         gate_authz(t, "bob@afd.test", nonce,
	                                    "AKAv1-MD5", "auth", resp)),
	                     ""),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(gate_status(r), 200);
	CU_ASSERT(strstr(r, "P-Associated-URI: <" AOR ">, "
	                    "<sip:robert@afd.test>\r\n") != NULL);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM auth_vectors WHERE "
	                          "nonce = ?1 AND used = 1",
	                          nonce),
	                1);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM registrations WHERE "
	                          "security_client = 'ipsec-3gpp;alg=hmac-md5-"
	                          "96;spi-c=1;spi-s=2;port-c=3;port-s=4' AND "
	                          "aor = ?1",
	                          AOR),
	                1);
	/* the source check: the registered identity and the other one of the
	 * set from the same source, and over TCP from the same address (the
	 * UE's large INVITE); not over UDP from another port, not over TCP
	 * from another address, not for someone else */
	CU_ASSERT_EQUAL(auth_source_bound(t->sd, AOR, &t->udp_peer, time(NULL)),
	                1);
	CU_ASSERT_EQUAL(auth_source_bound(t->sd, "sip:robert@afd.test",
	                                  &t->udp_peer, time(NULL)),
	                1);
	CU_ASSERT_EQUAL(auth_source_bound(t->sd, AOR, &t->tcp_peer, time(NULL)),
	                1);
	other = t->udp_peer;
	((struct sockaddr_in *)&other.addr)->sin_port = htons(40002);
	CU_ASSERT_EQUAL(auth_source_bound(t->sd, AOR, &other, time(NULL)), 0);
	other = t->tcp_peer;
	inet_pton(AF_INET, "127.0.0.2",
	          &((struct sockaddr_in *)&other.addr)->sin_addr);
	CU_ASSERT_EQUAL(auth_source_bound(t->sd, AOR, &other, time(NULL)), 0);
	CU_ASSERT_EQUAL(auth_source_bound(t->sd, "sip:carol@afd.test",
	                                  &t->udp_peer, time(NULL)),
	                0);
	CU_ASSERT_EQUAL(
	    auth_source_bound(t->sd, "not a uri", &t->udp_peer, time(NULL)), 0);
	/* the gate for a later request (a SUBSCRIBE): its identity's source
	 * is checked, no challenge */
	CU_ASSERT_EQUAL(gate_later(t, NULL, &t->udp_peer), 0);
	CU_ASSERT_EQUAL(gate_later(t, NULL, &t->tcp_peer), 0);
	CU_ASSERT_EQUAL(gate_later(t, NULL, &other), 403);
	CU_ASSERT_EQUAL(gate_later(t,
	                           "P-Preferred-Identity: "
	                           "<sip:robert@afd.test>\r\n",
	                           &t->udp_peer),
	                0);
	CU_ASSERT_EQUAL(gate_later(t,
	                           "P-Preferred-Identity: "
	                           "<sip:carol@afd.test>\r\n",
	                           &t->udp_peer),
	                403);
	/* after the binding expired: no more */
	CU_ASSERT_EQUAL(
	    auth_source_bound(t->sd, AOR, &t->udp_peer, time(NULL) + 4000), 0);
	tsd_free(t);
}

/* mode none: sec-agree in Require is accepted (not 420), the
 * Security-Client kept, no impi; the registrar alone refuses a REGISTER
 * that did not pass the gate when a mode is set. */
/* An AKA answer whose nonce carries RAND and AUTN but not afd's server
 * data (the issue time: an older afd's nonce, or a forged one) is
 * challenged again, not refused with 500 or taken. */
static void
test_aka_nonce_without_time(void)
{
	struct tsd *t = tsd_new_auth(NULL, CONF_AUTH_AKA);
	static const uint8_t k[16] = {0, 1, 2,  3,  4,  5,  6,  7,
	                              8, 9, 10, 11, 12, 13, 14, 15};
	uint8_t rand[AKA_RAND_LEN], autn[AKA_AUTN_LEN], sd[AKA_NONCE_SDATA_MAX];
	char resp[DIGEST_HEX_LEN + 1], bare[AKA_NONCE_MAX + 1], *nonce, *n2;
	struct aka_keys keys;
	struct aka_out o;
	uint64_t sqn;
	size_t sdl = 0;
	const char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT(tsd_count(t,
	                    "INSERT INTO subscribers (impi, impu, k, "
	                    "algorithm) VALUES ('bob@afd.test', ?1, "
	                    "'000102030405060708090A0B0C0D0E0F', 'xor') "
	                    "RETURNING 1",
	                    AOR) == 1);
	r = tsd_one(t, gate_reg(t, "n1", 1, "", ""), SIP_TP_UDP);
	CU_ASSERT_EQUAL_FATAL(gate_status(r), 401);
	nonce = gate_param(t, r, "nonce");
	CU_ASSERT_PTR_NOT_NULL_FATAL(nonce);
	CU_ASSERT_FATAL(aka_nonce_parse(S(nonce), rand, autn, sd, &sdl) == 0);
	CU_ASSERT(sdl == 8); /* the issue time */
	CU_ASSERT_FATAL(aka_nonce_make(rand, autn, NULL, 0, bare) > 0);
	CU_ASSERT_FATAL(aka_keys_init(&keys, AKA_XOR, k, NULL, NULL) == 0);
	CU_ASSERT_FATAL(aka_usim_check(&keys, rand, autn, &o, &sqn) == 0);
	/* the right RES, over the nonce without its time */
	gate_response("bob@afd.test", o.res, o.res_len, bare, "auth", "", resp);
	r = tsd_one(t,
	            gate_reg(t, "n2", 2,
	                     gate_authz(t, "bob@afd.test", bare, "AKAv1-MD5",
	                                "auth", resp),
	                     ""),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(gate_status(r), 401);
	n2 = gate_param(t, r, "nonce");
	CU_ASSERT(n2 != NULL && strcmp(n2, nonce) != 0);
	CU_ASSERT_EQUAL(
	    tsd_count(t, "SELECT count(*) FROM registrations", NULL), 0);
	tsd_free(t);
}

static void
test_none_and_registrar(void)
{
	struct tsd *t = tsd_new_auth(NULL, CONF_AUTH_NONE);
	struct reg_result res;
	struct sip_msg *m;
	struct sip_err err;
	const char *r;
	char *msg;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	r = tsd_one(t,
	            gate_reg(t, "n1", 1,
	                     "Proxy-Require: sec-agree\r\n"
	                     "Security-Client: ipsec-3gpp;spi-c=9\r\n",
	                     ""),
	            SIP_TP_UDP);
	CU_ASSERT_EQUAL(gate_status(r), 200);
	CU_ASSERT_EQUAL(tsd_count(t,
	                          "SELECT count(*) FROM registrations WHERE "
	                          "aor = ?1 AND impi IS NULL AND "
	                          "security_client = 'ipsec-3gpp;spi-c=9'",
	                          AOR),
	                1);
	tsd_free(t);

	t = tsd_new_auth(NULL, CONF_AUTH_AUTO);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	msg = gate_reg(t, "n2", 1, NULL, "");
	memset(&err, 0, sizeof(err));
	CU_ASSERT_FATAL(
	    sip_parse(t, msg, strlen(msg), SIP_TP_UDP, 8192, &m, &err) == 0);
	CU_ASSERT(reg_register(sipd_reg(t->sd), t, m, &t->udp_peer, time(NULL),
	                       &res) == 0);
	CU_ASSERT_EQUAL(res.status, 403);
	CU_ASSERT_STRING_EQUAL(res.reason, "Not Authenticated");
	tsd_free(t);
}

int
suite_authgate(void)
{
	CU_pSuite s = CU_add_suite("authgate", NULL, NULL);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "Digest with auth-int", test_digest_auth_int) ||
	    !CU_add_test(s, "AKA nonce without afd's server data",
	                 test_aka_nonce_without_time) ||
	    !CU_add_test(s, "AKA with the XOR SIM; the source check",
	                 test_aka_xor_and_source) ||
	    !CU_add_test(s, "mode none, sec-agree; the registrar's refusal",
	                 test_none_and_registrar))
		return -1;
	return 0;
}
