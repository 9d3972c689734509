/*
 * t/unit/test_sip.c: the SIP library on the real IMS capture of
 * shared/seeds/000 (REGISTER, 401, REGISTER, 200 OK, CRLF line ends, the
 * trailing space of the status lines kept): parse, reach every header,
 * check the values, print back byte for byte, build responses; then URIs,
 * addresses, Via, tokens and the errors sip_parse() must report.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sip/sip.h"

#include "t/seed_msgs.h"

static const char *const seeds[] = {seed_reg1, seed_401, seed_reg2, seed_200};

#define S(lit) SIP_STR_LIT(lit)
#define CU_ASSERT_STR(x, lit) CU_ASSERT(sip_str_eq((x), S(lit)))

static struct sip_msg *
parse_ok(TALLOC_CTX *ctx, const char *buf, size_t len, enum sip_transport tp)
{
	struct sip_msg *m = NULL;
	struct sip_err err;

	int rc = sip_parse(ctx, buf, len, tp, SIP_MAX_MSG_DEFAULT, &m, &err);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0)
		fprintf(stderr, "parse: %d %s\n", err.status, err.reason);
	return rc == 0 ? m : NULL;
}

/* Every field is in its id's chain, and the chains hold nothing else. */
static void
check_chains(const struct sip_msg *m)
{
	unsigned n = 0, inchains = 0, others = 0;

	for (const struct sip_hdr *h = m->hdrs; h != NULL; h = h->next) {
		n++;
		CU_ASSERT_EQUAL(h->id, sip_hdr_id(h->name));
		if (h->id == SIP_HDR_OTHER) {
			others++;
			continue;
		}
		const struct sip_hdr *c = m->first[h->id];
		while (c != NULL && c != h)
			c = c->next_same;
		CU_ASSERT_PTR_EQUAL(c, h);
	}
	CU_ASSERT_EQUAL(n, m->nhdrs);
	for (int id = 1; id < SIP_HDR__COUNT; id++)
		for (const struct sip_hdr *c = m->first[id]; c;
		     c = c->next_same) {
			CU_ASSERT_EQUAL((int)c->id, id);
			inchains++;
		}
	CU_ASSERT_EQUAL(inchains + others, n);
}

static void
test_seed_roundtrip(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	for (size_t i = 0; i < 4; i++) {
		size_t len = strlen(seeds[i]), plen = 0;
		for (int tp = SIP_TP_UDP; tp <= SIP_TP_TCP; tp++) {
			struct sip_msg *m = parse_ok(ctx, seeds[i], len, tp);
			if (m == NULL)
				continue;
			CU_ASSERT_EQUAL(m->len, len);
			check_chains(m);
			char *out = sip_msg_print(ctx, m, &plen);
			CU_ASSERT_PTR_NOT_NULL_FATAL(out);
			CU_ASSERT_EQUAL(plen, len);
			CU_ASSERT(memcmp(out, seeds[i], len) == 0);
			CU_ASSERT_EQUAL(out[plen], '\0');
		}
	}
	talloc_free(ctx);
}

static void
test_seed_register(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_msg *m =
	    parse_ok(ctx, seed_reg1, strlen(seed_reg1), SIP_TP_TCP);
	struct sip_addr *a;
	const struct sip_param *prm;
	uint32_t u;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(m->is_request);
	CU_ASSERT_EQUAL(m->mid, SIP_M_REGISTER);
	CU_ASSERT_STR(m->method, "REGISTER");
	CU_ASSERT_STR(m->version, "SIP/2.0");
	CU_ASSERT_EQUAL(m->ruri.scheme, SIP_SCHEME_SIP);
	CU_ASSERT_STR(m->ruri.host, "ims.mnc000.mcc000.3gppnetwork.org");
	CU_ASSERT_EQUAL(m->ruri.user.len, 0);
	CU_ASSERT_EQUAL(m->nhdrs, 22);
	/* Vias */
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->via);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->via->next);
	CU_ASSERT_PTR_NULL(m->via->next->next);
	CU_ASSERT_STR(m->via->transport, "UDP");
	CU_ASSERT_STR(m->via->host, "172.16.106.81");
	CU_ASSERT_EQUAL(m->via->port, 6070);
	CU_ASSERT_STR(m->via->branch, "z9hG4bK19fae5599197");
	CU_ASSERT_STR(
	    m->via->raw,
	    "SIP/2.0/UDP 172.16.106.81:6070;branch=z9hG4bK19fae5599197");
	CU_ASSERT_STR(m->via->next->host, "172.16.106.92");
	CU_ASSERT_EQUAL(m->via->next->port, 5060);
	CU_ASSERT_STR(m->via->next->branch, "z9hG4bK57ab028-c4e752e3");
	CU_ASSERT_EQUAL(m->via->rport, 0);
	CU_ASSERT_EQUAL(m->via->received.len, 0);
	/* From, To, Call-ID, CSeq, Max-Forwards, Content-Length */
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->from);
	CU_ASSERT_STR(m->from->tag, "3196215");
	CU_ASSERT(m->from->angle);
	CU_ASSERT_STR(m->from->uri.user, "460003911000057");
	CU_ASSERT_STR(m->from->uri.host, "ims.mnc000.mcc000.3gppnetwork.org");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->to);
	CU_ASSERT_EQUAL(m->to->tag.len, 0);
	CU_ASSERT_STR(m->to->uri.raw,
	              "sip:460003911000057@ims.mnc000.mcc000.3gppnetwork.org");
	CU_ASSERT_STR(m->call_id, "29906@172.16.106.92");
	CU_ASSERT_EQUAL(m->cseq.num, 1);
	CU_ASSERT_EQUAL(m->cseq.mid, SIP_M_REGISTER);
	CU_ASSERT_STR(m->cseq.method, "REGISTER");
	CU_ASSERT_EQUAL(m->max_forwards, 69);
	CU_ASSERT_EQUAL(m->content_length, 0);
	CU_ASSERT_EQUAL(m->body.len, 0);
	/* Expires, Contact and its feature tags */
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->first[SIP_HDR_EXPIRES]);
	CU_ASSERT_EQUAL(sip_str_to_u32(m->first[SIP_HDR_EXPIRES]->value, &u),
	                0);
	CU_ASSERT_EQUAL(u, 600000);
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NULL(a->next);
	CU_ASSERT_STR(a->uri.user, "460003911000057");
	CU_ASSERT_STR(a->uri.host, "172.16.106.92");
	CU_ASSERT_EQUAL(a->uri.port, 0);
	prm = sip_param_find(a->params, "+g.3gpp.icsi-ref");
	CU_ASSERT_PTR_NOT_NULL_FATAL(prm);
	CU_ASSERT_STR(prm->value,
	              "\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"");
	prm = sip_param_find(a->params, "+G.3GPP.ICS");
	CU_ASSERT_PTR_NOT_NULL_FATAL(prm);
	CU_ASSERT_STR(prm->value, "\"principal\"");
	/* Path, Route, Service-Route */
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_PATH], &a), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STR(a->uri.host, "172.16.106.81");
	CU_ASSERT_EQUAL(a->uri.port, 6070);
	prm = sip_param_find(a->uri.params, "key");
	CU_ASSERT_PTR_NOT_NULL_FATAL(prm);
	CU_ASSERT_STR(prm->value, "a02907193feadf0b3e14932b37");
	prm = sip_param_find(a->uri.params, "lr");
	CU_ASSERT_PTR_NOT_NULL_FATAL(prm);
	CU_ASSERT_PTR_NULL(prm->value.s);
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_ROUTE], &a), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STR(a->uri.user, "proxy");
	CU_ASSERT_EQUAL(a->uri.port, 5060);
	CU_ASSERT_PTR_NOT_NULL(m->first[SIP_HDR_SERVICE_ROUTE]);
	/* Authorization kept raw; token lists */
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->first[SIP_HDR_AUTHORIZATION]);
	CU_ASSERT(strncmp(m->first[SIP_HDR_AUTHORIZATION]->value.s,
	                  "Digest username=\"8613911000057@", 31) == 0);
	CU_ASSERT(
	    m->first[SIP_HDR_AUTHORIZATION]
	        ->value.s[m->first[SIP_HDR_AUTHORIZATION]->value.len - 1] ==
	    '"');
	CU_ASSERT(sip_hdr_has_token(m->first[SIP_HDR_SUPPORTED], "sec-agree"));
	CU_ASSERT(sip_hdr_has_token(m->first[SIP_HDR_SUPPORTED], "PATH"));
	CU_ASSERT(!sip_hdr_has_token(m->first[SIP_HDR_SUPPORTED], "gruu"));
	CU_ASSERT(sip_hdr_has_token(m->first[SIP_HDR_REQUIRE], "path"));
	CU_ASSERT(!sip_hdr_has_token(m->first[SIP_HDR_PROXY_REQUIRE], "path"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m->first[SIP_HDR_P_CHARGING_VECTOR]);
	CU_ASSERT_STR(m->first[SIP_HDR_P_CHARGING_VECTOR]->name,
	              "P-Charging-Vector");
	/* the fields nobody gave an id, by iterating */
	int seen = 0;
	for (const struct sip_hdr *h = m->hdrs; h != NULL; h = h->next) {
		if (sip_str_caseeq_lit(h->name, "p-visited-network-id")) {
			CU_ASSERT_STR(h->value,
			              "\"sip:pcscf@172.16.106.81:6070\"");
			seen |= 1;
		}
		if (sip_str_caseeq_lit(h->name, "P-Track-ID")) {
			CU_ASSERT_STR(h->value, "c98ce46bbb951afc2305297a67");
			seen |= 2;
		}
		if (sip_str_caseeq_lit(h->name, "Feature-Caps"))
			seen |= 4;
		if (sip_str_caseeq_lit(h->name, "P-Access-Network-Info"))
			seen |= 8;
	}
	CU_ASSERT_EQUAL(seen, 15);
	CU_ASSERT_EQUAL(sip_check_request(m, &(struct sip_err){0}), 0);
	talloc_free(ctx);
}

static void
test_seed_responses(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_msg *m =
	    parse_ok(ctx, seed_401, strlen(seed_401), SIP_TP_UDP);
	struct sip_addr *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(!m->is_request);
	CU_ASSERT_EQUAL(m->status, 401);
	CU_ASSERT_STR(m->reason, "Unauthorized ");
	CU_ASSERT_STR(m->to->tag, "228495176");
	CU_ASSERT_STR(m->from->tag, "3196215");
	CU_ASSERT_EQUAL(m->cseq.mid, SIP_M_REGISTER);
	CU_ASSERT_EQUAL(m->max_forwards, -1);
	CU_ASSERT_EQUAL(sip_check_request(m, &(struct sip_err){0}), 0);

	m = parse_ok(ctx, seed_200, strlen(seed_200), SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->status, 200);
	CU_ASSERT_STR(m->reason, "OK ");
	CU_ASSERT_STR(m->to->tag, "0-ac106a5f-210323031846-2112256181");
	CU_ASSERT_STR(m->via->next->branch, "z9hG4bK57ab028-c4e7c91f");
	CU_ASSERT_EQUAL(m->cseq.num, 2);
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STR(sip_param_find(a->params, "expires")->value, "600000");
	CU_ASSERT_STR(sip_param_find(a->params, "q")->value, "1.0");
	CU_ASSERT_STR(a->uri.host, "172.16.106.94");
	CU_ASSERT_PTR_NOT_NULL(m->first[SIP_HDR_SERVICE_ROUTE]);
	CU_ASSERT_PTR_NOT_NULL(m->first[SIP_HDR_PATH]);
	CU_ASSERT(strstr(m->first[SIP_HDR_P_CHARGING_VECTOR]->value.s,
	                 "term-ioi=ims.mnc000") != NULL);

	m = parse_ok(ctx, seed_reg2, strlen(seed_reg2), SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->cseq.num, 2);
	CU_ASSERT_STR(m->from->tag, "243426378");
	CU_ASSERT_STR(m->via->branch, "z9hG4bKb2f5b1801e38");
	CU_ASSERT(strstr(m->first[SIP_HDR_AUTHORIZATION]->value.s,
	                 "algorithm=AKAv1-MD5") != NULL);
	talloc_free(ctx);
}

/* The 401 and the 200 of the capture, as afd builds them from the
 * REGISTERs: the same Via, From, To, Call-ID and CSeq. */
static void
test_build_response(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_msg *req, *resp;
	struct sip_buf b;
	size_t len;
	char *out;

	req = parse_ok(ctx, seed_reg1, strlen(seed_reg1), SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(req);
	out = sip_resp_simple(ctx, req, 401, NULL, S("228495176"),
	                      "Require: path\r\n", &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(len, strlen(out));
	/* the seed's 401 without the trailing space of its status line */
	const char *want = strstr(seed_401, "\r\n") + 2;
	CU_ASSERT(strncmp(out, "SIP/2.0 401 Unauthorized\r\n", 26) == 0);
	CU_ASSERT_STRING_EQUAL(out + 26, want);
	resp = parse_ok(ctx, out, len, SIP_TP_TCP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
	CU_ASSERT_EQUAL(resp->content_length, 0);
	CU_ASSERT_STR(resp->to->tag, "228495176");

	/* a To that has a tag keeps it; a body sets Content-Length */
	req = parse_ok(ctx, seed_401, strlen(seed_401), SIP_TP_UDP);
	sip_buf_init(&b, ctx, 16);
	sip_resp_start(&b, req, 200, "Fine", S("other"));
	sip_buf_hdr(&b, "Contact", "<%s>;expires=%d", "sip:a@b", 600000);
	sip_buf_finish(&b, S("hello"));
	CU_ASSERT_FALSE(b.oom);
	CU_ASSERT(strstr(b.s, "SIP/2.0 200 Fine\r\n") == b.s);
	CU_ASSERT(strstr(b.s, ";tag=228495176\r\n") != NULL);
	CU_ASSERT(strstr(b.s, "other") == NULL);
	CU_ASSERT(strstr(b.s, "Contact: <sip:a@b>;expires=600000\r\n") != NULL);
	CU_ASSERT(strstr(b.s, "Content-Length: 5\r\n\r\nhello") != NULL);
	CU_ASSERT_EQUAL(b.len, strlen(b.s));
	resp = parse_ok(ctx, b.s, b.len, SIP_TP_UDP);
	CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
	CU_ASSERT_EQUAL(resp->body.len, 5);
	CU_ASSERT_STR(resp->reason, "Fine");
	talloc_free(ctx);
}

/* Replace the first occurrence of from by to in the REGISTER. */
static char *
mutate(TALLOC_CTX *ctx, const char *base, const char *from, const char *to)
{
	const char *p = strstr(base, from);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return talloc_asprintf(ctx, "%.*s%s%s", (int)(p - base), base, to,
	                       p + strlen(from));
}

static void
expect_err(const char *buf, enum sip_transport tp, size_t max, int status,
           const char *reason)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_msg *m = NULL;
	struct sip_err err;
	size_t len;

	CU_ASSERT_EQUAL(sip_parse(ctx, buf, strlen(buf), tp, max, &m, &err),
	                -1);
	CU_ASSERT_EQUAL(err.status, status);
	if (reason != NULL)
		CU_ASSERT_STRING_EQUAL(err.reason, reason);
	if (err.status != status || (reason && strcmp(err.reason, reason)))
		fprintf(stderr, "want %d %s, got %d %s\n", status,
		        reason ? reason : "", err.status, err.reason);
	if (status == 0) {
		CU_ASSERT_PTR_NULL(m);
	} else {
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		char *r = sip_resp_simple(ctx, m, err.status, err.reason,
		                          S("x1"), NULL, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT(strncmp(r, "SIP/2.0 ", 8) == 0);
		CU_ASSERT(strstr(r, "\r\nContent-Length: 0\r\n\r\n") != NULL);
	}
	/* everything the parser allocated hangs off the message */
	if (m != NULL)
		talloc_free(m);
	CU_ASSERT_EQUAL(talloc_total_blocks(ctx), m != NULL ? 2 : 1);
	talloc_free(ctx);
}

static void
test_errors(void)
{
	TALLOC_CTX *c = talloc_new(NULL);
	const char *r = seed_reg1;
	const size_t max = SIP_MAX_MSG_DEFAULT;

	expect_err(mutate(c, r, "Call-ID: ", "X-Call-ID: "), SIP_TP_UDP, max,
	           400, "Missing Call-ID");
	expect_err(mutate(c, r, "From: ", "X: "), SIP_TP_UDP, max, 400,
	           "Missing From");
	expect_err(mutate(c, r, "\r\nTo: ", "\r\nX: "), SIP_TP_UDP, max, 400,
	           "Missing To");
	expect_err(mutate(c, r, "CSeq: 1 ", "CSeq: x "), SIP_TP_UDP, max, 400,
	           "Malformed CSeq");
	expect_err(mutate(c, r, "CSeq: 1 REGISTER", "CSeq: 1 INVITE"),
	           SIP_TP_UDP, max, 400, "CSeq Method Mismatch");
	expect_err(mutate(c, r, "Max-Forwards: 69", "Max-Forwards: x"),
	           SIP_TP_UDP, max, 400, "Malformed Max-Forwards");
	expect_err(mutate(c, r, "Max-Forwards: 69\r\n", ""), SIP_TP_UDP, max,
	           400, "Missing Max-Forwards");
	expect_err(mutate(c, r, "Content-Length: 0", "Content-Length: -1"),
	           SIP_TP_UDP, max, 400, "Malformed Content-Length");
	expect_err(mutate(c, r, "Content-Length: 0", "Content-Length: 10"),
	           SIP_TP_UDP, max, 400, "Content-Length Exceeds Message");
	expect_err(mutate(c, r, "Content-Length: 0\r\n", ""), SIP_TP_TCP, max,
	           400, "Missing Content-Length");
	expect_err(
	    mutate(c, r, "Call-ID: 29906@172.16.106.92", "Call-ID: 29906 @x"),
	    SIP_TP_UDP, max, 400, "Malformed Call-ID");
	expect_err(mutate(c, r, "From: <sip:", "From: <sip::"), SIP_TP_UDP, max,
	           400, "Malformed From");
	expect_err(mutate(c, r, "From: <sip:", "From: \"x <sip:"), SIP_TP_UDP,
	           max, 400, "Malformed From");
	expect_err(mutate(c, r, "Via: SIP/2.0/UDP 172.16.106.92:5060;",
	                  "Via: SIP/2.0/UDP 172.16.106.92:5060;;"),
	           SIP_TP_UDP, max, 400, "Malformed Via");
	expect_err(r, SIP_TP_UDP, 1000, 513, "Message Too Large");
	expect_err(mutate(c, r, "SIP/2.0\r\n", "SIP/2.0 \r\n"), SIP_TP_UDP, max,
	           400, "Malformed Request-Line");
	expect_err(mutate(c, r, "\r\nExpires", "\r\nExpires\r\nExpires"),
	           SIP_TP_UDP, max, 400, "Malformed Header Line");
	/* cannot be answered */
	char *novia = mutate(c, r, "Via: SIP", "X: SIP");
	expect_err(mutate(c, novia, "Via: SIP", "X: SIP"), SIP_TP_UDP, max, 0,
	           NULL);
	expect_err(mutate(c, r, "Via: SIP/2.0/UDP 172.16.106.81",
	                  "Via: SIP/2.0/UDP ;"),
	           SIP_TP_UDP, max, 0, NULL);
	expect_err("garbage", SIP_TP_UDP, max, 0, NULL);
	expect_err("\r\n\r\n", SIP_TP_UDP, max, 0, NULL);
	expect_err("SIP/2.0 200\r\n\r\n", SIP_TP_UDP, max, 0, NULL);
	expect_err(mutate(c, seed_401, "Call-ID: ", "X: "), SIP_TP_UDP, max, 0,
	           NULL);
	expect_err(mutate(c, seed_401, "401", "4011"), SIP_TP_UDP, max, 0,
	           NULL);
	expect_err(mutate(c, seed_401, "401", "099"), SIP_TP_UDP, max, 0, NULL);
	talloc_free(c);
}

static void
test_uri(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_uri u;

	CU_ASSERT_EQUAL(sip_parse_uri(ctx,
	                              S("sip:alice:secret@example.com:5061"
	                                ";transport=tcp;lr?subject=x&a=b"),
	                              &u),
	                0);
	CU_ASSERT_EQUAL(u.scheme, SIP_SCHEME_SIP);
	CU_ASSERT_STR(u.user, "alice");
	CU_ASSERT_STR(u.password, "secret");
	CU_ASSERT_STR(u.host, "example.com");
	CU_ASSERT_EQUAL(u.port, 5061);
	CU_ASSERT_STR(sip_param_find(u.params, "TRANSPORT")->value, "tcp");
	CU_ASSERT_PTR_NULL(sip_param_find(u.params, "lr")->value.s);
	CU_ASSERT_STR(u.headers, "subject=x&a=b");
	CU_ASSERT_EQUAL(sip_parse_uri(ctx, S("SIPS:[2001:db8::1]:5061"), &u),
	                0);
	CU_ASSERT_EQUAL(u.scheme, SIP_SCHEME_SIPS);
	CU_ASSERT_STR(u.host, "[2001:db8::1]");
	CU_ASSERT_EQUAL(u.port, 5061);
	CU_ASSERT_EQUAL(sip_parse_uri(ctx,
	                              S("tel:+1-212-555-0101;phone-context"
	                                "=example.com"),
	                              &u),
	                0);
	CU_ASSERT_EQUAL(u.scheme, SIP_SCHEME_TEL);
	CU_ASSERT_STR(u.user, "+1-212-555-0101");
	CU_ASSERT_STR(sip_param_find(u.params, "phone-context")->value,
	              "example.com");
	CU_ASSERT_EQUAL(sip_parse_uri(ctx,
	                              S("sip:user;par=u%40example.net@"
	                                "example.com"),
	                              &u),
	                0);
	CU_ASSERT_STR(u.user, "user;par=u%40example.net");
	CU_ASSERT_EQUAL(sip_parse_uri(ctx, S("urn:service:sos"), &u), 0);
	CU_ASSERT_EQUAL(u.scheme, SIP_SCHEME_OTHER);
	CU_ASSERT_STR(u.raw, "urn:service:sos");
	const char *bad[] = {"",
	                     "sip:",
	                     "sip:@example.com",
	                     "sip:host:99999",
	                     "sip:ho st",
	                     "sip:host:",
	                     "sip:user@",
	                     "sip:[::1",
	                     "sip:host;=x",
	                     "sip:a%4@b",
	                     "tel:",
	                     "x y:z",
	                     "1sip:a",
	                     "sip:host>",
	                     "mailto:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(
		    sip_parse_uri(ctx, (sip_str){bad[i], strlen(bad[i])}, &u),
		    -1);
	}
	talloc_free(ctx);
}

static void
test_addr(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_addr *a;
	sip_str in = S("\"Doe, \\\"J\\\"\" <sip:j@a.example;lr>;tag=1 , "
	               "<sip:c,d@e;x=1:2>;q=0.5,sip:e@f;expires=3,"
	               "Bob Smith <tel:+123>");

	CU_ASSERT_EQUAL_FATAL(sip_parse_addr_list(ctx, in, &a), 0);
	CU_ASSERT_STR(a->display, "Doe, \\\"J\\\"");
	CU_ASSERT_STR(a->uri.host, "a.example");
	CU_ASSERT_STR(a->tag, "1");
	CU_ASSERT(a->angle);
	CU_ASSERT_STR(a->raw, "\"Doe, \\\"J\\\"\" <sip:j@a.example;lr>;tag=1");
	a = a->next;
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->display.len, 0);
	CU_ASSERT_STR(a->uri.user, "c,d");
	CU_ASSERT_STR(sip_param_find(a->uri.params, "x")->value, "1:2");
	CU_ASSERT_STR(sip_param_find(a->params, "q")->value, "0.5");
	a = a->next;
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT(!a->angle);
	CU_ASSERT_PTR_NULL(a->uri.params);
	CU_ASSERT_STR(sip_param_find(a->params, "expires")->value, "3");
	a = a->next;
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STR(a->display, "Bob Smith");
	CU_ASSERT_EQUAL(a->uri.scheme, SIP_SCHEME_TEL);
	CU_ASSERT_PTR_NULL(a->next);

	CU_ASSERT_EQUAL(sip_parse_addr_list(ctx, S(" * "), &a), 0);
	CU_ASSERT(a->star);
	const char *bad[] = {
	    "",           "*, <sip:a@b>",   "<sip:a@b",    "\"x <sip:a@b>",
	    "<sip:a@b>;", "<sip:a@b>;tag=", "sip:a@b?x=y", "a b",
	    "<sip:a@b>,", "<sip:a@b> x",    "< sip:a@b>",  "Bell, A <sip:a@b>"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(sip_parse_addr_list(
		                    ctx, (sip_str){bad[i], strlen(bad[i])}, &a),
		                -1);
	talloc_free(ctx);
}

/* RFC 3261 18.2.2: a top Via that does not parse whole, or names port 0,
 * is not usable (the answer goes to the source); its sent-by is still
 * filled in as far as it parsed, so the request can be answered. */
static void
test_via_usable(void)
{
	static const char *const vias[] = {
	    "127.0.0.1:::::", "127.0.0.1:5062:::", "127.0.0.1:5062;;x",
	    "127.0.0.1:0",    "127.0.0.1:5062",    "127.0.0.1",
	};
	static const int usable[] = {0, 0, 0, 0, 1, 1};

	for (size_t i = 0; i < sizeof(vias) / sizeof(vias[0]); i++) {
		TALLOC_CTX *ctx = talloc_new(NULL);
		char buf[512];
		struct sip_msg *m = NULL;
		struct sip_err err;

		snprintf(buf, sizeof(buf),
		         "OPTIONS sip:u@h SIP/2.0\r\n"
		         "Via: SIP/2.0/UDP %s;branch=z9hG4bK1\r\n"
		         "From: <sip:a@b>;tag=9\r\nTo: <sip:c@d>\r\n"
		         "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n"
		         "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		         vias[i]);
		sip_parse(ctx, buf, strlen(buf), SIP_TP_UDP,
		          SIP_MAX_MSG_DEFAULT, &m, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m->via);
		CU_ASSERT_STR(m->via->host, "127.0.0.1");
		CU_ASSERT_EQUAL(m->via->usable, usable[i]);
		if (m->via->usable != usable[i])
			fprintf(stderr, "Via %s: usable %d\n", vias[i],
			        m->via->usable);
		talloc_free(ctx);
	}
}

static void
test_via_and_compact(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *msg =
	    "OPTIONS sip:u@h SIP/2.0\r\n"
	    "v: SIP/2.0/TCP [2001:db8::9]:5070;rport=5071;received=192.0.2.1"
	    ";branch=z9hG4bK1, SIP / 2.0 / TLS h2 ; rport\r\n"
	    "Via:\r\n SIP/2.0/SCTP h3:1;branch=z9hG4bK3;maddr=x\r\n"
	    "f: <sip:a@b>;tag=9\r\nt: sip:c@d\r\ni: abc\r\n"
	    "CSeq: 7\r\n  OPTIONS\r\nMax-Forwards: 0070\r\n"
	    "m: <sip:a@10.0.0.1>\r\nk: path, gruu\r\nc: text/plain\r\n"
	    "o: reg\r\ns: subj\r\ne: gzip\r\nl: 4\r\n\r\nbody";
	struct sip_msg *m = parse_ok(ctx, msg, strlen(msg), SIP_TP_TCP);
	struct sip_via *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	v = m->via;
	CU_ASSERT_STR(v->transport, "TCP");
	CU_ASSERT_STR(v->host, "[2001:db8::9]");
	CU_ASSERT_EQUAL(v->port, 5070);
	CU_ASSERT(v->rport);
	CU_ASSERT_EQUAL(v->rport_value, 5071);
	CU_ASSERT_STR(v->received, "192.0.2.1");
	CU_ASSERT_STR(v->branch, "z9hG4bK1");
	CU_ASSERT(v->usable);
	v = v->next;
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT(v->usable);
	CU_ASSERT_STR(v->transport, "TLS");
	CU_ASSERT_STR(v->host, "h2");
	CU_ASSERT(v->rport);
	CU_ASSERT_EQUAL(v->rport_value, 0);
	CU_ASSERT_EQUAL(v->branch.len, 0);
	v = v->next;
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STR(v->transport, "SCTP");
	CU_ASSERT_EQUAL(v->port, 1);
	CU_ASSERT_STR(sip_param_find(v->params, "maddr")->value, "x");
	CU_ASSERT_PTR_NULL(v->next);
	CU_ASSERT_EQUAL(m->cseq.num, 7);
	CU_ASSERT_EQUAL(m->cseq.mid, SIP_M_OPTIONS);
	CU_ASSERT_EQUAL(m->max_forwards, 70);
	CU_ASSERT_STR(m->call_id, "abc");
	CU_ASSERT_STR(m->body, "body");
	CU_ASSERT_PTR_NOT_NULL(m->first[SIP_HDR_CONTACT]);
	CU_ASSERT_PTR_NOT_NULL(m->first[SIP_HDR_CONTENT_TYPE]);
	CU_ASSERT_PTR_NOT_NULL(m->first[SIP_HDR_EVENT]);
	CU_ASSERT(sip_hdr_has_token(m->first[SIP_HDR_SUPPORTED], "gruu"));
	CU_ASSERT_EQUAL(sip_hdr_id(S("s")), SIP_HDR_OTHER);
	CU_ASSERT_EQUAL(sip_hdr_id(S("CONTENT-length")),
	                SIP_HDR_CONTENT_LENGTH);
	CU_ASSERT_EQUAL(sip_hdr_id(S("Record-Route")), SIP_HDR_RECORD_ROUTE);
	CU_ASSERT_EQUAL(sip_hdr_id(S("RAck")), SIP_HDR_RACK);
	CU_ASSERT_EQUAL(sip_hdr_id(S("Via2")), SIP_HDR_OTHER);
	CU_ASSERT_EQUAL(sip_hdr_id(S("")), SIP_HDR_OTHER);
	CU_ASSERT_EQUAL(sip_method_id(S("INVITE")), SIP_M_INVITE);
	CU_ASSERT_EQUAL(sip_method_id(S("invite")), SIP_M_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(sip_method_name(SIP_M_PRACK), "PRACK");
	CU_ASSERT_STRING_EQUAL(sip_reason(404), "Not Found");
	CU_ASSERT_STRING_EQUAL(sip_reason(499), "Bad Request");
	/* folded From prints back unchanged, and its response unfolds */
	size_t len;
	char *out = sip_msg_print(ctx, m, &len);
	CU_ASSERT(len == strlen(msg) && memcmp(out, msg, len) == 0);
	out = sip_resp_simple(ctx, m, 200, NULL, S("t"), NULL, &len);
	CU_ASSERT(strstr(out, "\r\nVia: SIP/2.0/SCTP h3:1;branch=z9hG4bK3") !=
	          NULL);
	CU_ASSERT(strstr(out, "CSeq: 7  OPTIONS\r\n") != NULL);
	CU_ASSERT(strstr(out, "To: sip:c@d;tag=t\r\n") != NULL);
	talloc_free(ctx);
}

static void
test_strings(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	sip_str items[4];
	uint32_t u;

	CU_ASSERT_EQUAL(sip_split_tokens(S(" a , b,,c ,"), items, 4), 3);
	CU_ASSERT_STR(items[0], "a");
	CU_ASSERT_STR(items[2], "c");
	CU_ASSERT_EQUAL(sip_split_tokens(S("a,b,c"), items, 2), 2);
	CU_ASSERT(sip_str_caseeq(S("aBc"), S("AbC")));
	CU_ASSERT(!sip_str_caseeq(S("ab"), S("abc")));
	CU_ASSERT(sip_str_caseeq_lit(S("Path"), "path"));
	CU_ASSERT(!sip_str_eq(S("a\0b"), S("a\0c")));
	CU_ASSERT_STR(sip_str_trim(S("\r\n \tx y\t ")), "x y");
	CU_ASSERT_STRING_EQUAL(sip_str_dup(ctx, S("abc")), "abc");
	CU_ASSERT_EQUAL(sip_str_to_u32(S(" 4294967295 "), &u), 0);
	CU_ASSERT_EQUAL(u, 4294967295u);
	CU_ASSERT_EQUAL(sip_str_to_u32(S("4294967296"), &u), -1);
	CU_ASSERT_EQUAL(sip_str_to_u32(S("-1"), &u), -1);
	CU_ASSERT_EQUAL(sip_str_to_u32(S(""), &u), -1);
	talloc_free(ctx);
}

/* The seed REGISTER with text inserted before its Expires field. */
static char *
with_fields(TALLOC_CTX *ctx, const char *fields)
{
	return mutate(ctx, seed_reg1,
	              "Expires: ", talloc_asprintf(ctx, "%sExpires: ", fields));
}

static void
test_limits(void)
{
	TALLOC_CTX *c = talloc_new(NULL);
	const size_t max = SIP_MAX_MSG_DEFAULT;
	char *many = talloc_strdup(c, "");
	int i;

	/* header count: the seed has 22 fields */
	for (i = 0; i < SIP_MAX_HEADERS - 22; i++)
		many = talloc_asprintf_append(many, "X-%d: %d\r\n", i, i);
	TALLOC_CTX *t = talloc_new(c);
	CU_ASSERT_PTR_NOT_NULL(parse_ok(
	    t, with_fields(c, many), strlen(with_fields(c, many)), SIP_TP_UDP));
	talloc_free(t);
	many = talloc_asprintf_append(many, "X-last: 1\r\n");
	expect_err(with_fields(c, many), SIP_TP_UDP, max, 400,
	           "Too Many Headers");
	/* header length */
	char *lng = talloc_zero_size(c, SIP_MAX_HDR_LEN + 16);
	memcpy(lng, "X-Long: ", 8);
	memset(lng + 8, 'a', SIP_MAX_HDR_LEN - 8);
	t = talloc_new(c);
	char *buf = with_fields(c, talloc_asprintf(c, "%s\r\n", lng));
	CU_ASSERT_PTR_NOT_NULL(parse_ok(t, buf, strlen(buf), SIP_TP_UDP));
	talloc_free(t);
	lng[SIP_MAX_HDR_LEN] = 'a';
	expect_err(with_fields(c, talloc_asprintf(c, "%s\r\n", lng)),
	           SIP_TP_UDP, max, 400, "Header Too Long");
	/* Via count: 2 in the seed, SIP_MAX_VIAS in all is fine */
	char *vias = talloc_strdup(c, "");
	for (i = 0; i < SIP_MAX_VIAS - 2; i++)
		vias = talloc_asprintf_append(vias, "%sSIP/2.0/UDP h%d",
		                              i % 8 ? ", " : "\r\nVia: ", i);
	t = talloc_new(c);
	buf = with_fields(c, talloc_asprintf(c, "%s\r\n", vias + 2));
	CU_ASSERT_PTR_NOT_NULL(parse_ok(t, buf, strlen(buf), SIP_TP_UDP));
	talloc_free(t);
	expect_err(with_fields(
	               c, talloc_asprintf(c, "%s,SIP/2.0/UDP x\r\n", vias + 2)),
	           SIP_TP_UDP, max, 400, "Too Many Via");
	/* parameters in one list */
	char *prm = talloc_strdup(c, "Via: SIP/2.0/UDP h");
	for (i = 0; i < 64; i++)
		prm = talloc_asprintf_append(prm, ";p%d", i);
	t = talloc_new(c);
	buf = with_fields(c, talloc_asprintf(c, "%s\r\n", prm));
	CU_ASSERT_PTR_NOT_NULL(parse_ok(t, buf, strlen(buf), SIP_TP_UDP));
	talloc_free(t);
	expect_err(with_fields(c, talloc_asprintf(c, "%s;x\r\n", prm)),
	           SIP_TP_UDP, max, 400, "Malformed Via");
	talloc_free(c);
}

/* RFC 3261 19.1.4, its own examples */
static int
uri_eq_s(const char *a, const char *b)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_uri ua, ub;
	int r = -1;

	if (sip_parse_uri(ctx, (sip_str){a, strlen(a)}, &ua) == 0 &&
	    sip_parse_uri(ctx, (sip_str){b, strlen(b)}, &ub) == 0)
		r = sip_uri_eq(&ua, &ub) && sip_uri_eq(&ub, &ua);
	talloc_free(ctx);
	return r;
}

static void
test_uri_eq(void)
{
	CU_ASSERT_EQUAL(uri_eq_s("sip:%61lice@atlanta.com;transport=TCP",
	                         "sip:alice@AtLanTa.CoM;Transport=tcp"),
	                1);
	CU_ASSERT_EQUAL(uri_eq_s("sip:carol@chicago.com",
	                         "sip:carol@chicago.com;newparam=5"),
	                1);
	CU_ASSERT_EQUAL(uri_eq_s("sip:carol@chicago.com;security=on",
	                         "sip:carol@chicago.com;newparam=5"),
	                1);
	CU_ASSERT_EQUAL(uri_eq_s("sip:biloxi.com;transport=tcp;method=REGISTER"
	                         "?to=sip:bob%40biloxi.com",
	                         "sip:biloxi.com;method=REGISTER;transport=tcp"
	                         "?to=sip:bob%40biloxi.com"),
	                1);
	CU_ASSERT_EQUAL(uri_eq_s("SIP:ALICE@AtLanTa.CoM;Transport=udp",
	                         "sip:alice@AtLanTa.CoM;Transport=UDP"),
	                0);
	CU_ASSERT_EQUAL(
	    uri_eq_s("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"), 0);
	CU_ASSERT_EQUAL(
	    uri_eq_s("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
	    0);
	CU_ASSERT_EQUAL(uri_eq_s("sip:carol@chicago.com;newparam=5",
	                         "sip:carol@chicago.com;newparam=6"),
	                0);
	CU_ASSERT_EQUAL(
	    uri_eq_s("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"), 0);
	CU_ASSERT_EQUAL(uri_eq_s("sip:carol@chicago.com?Subject=next%20meeting",
	                         "sip:carol@chicago.com"
	                         "?Subject=another%20meeting"),
	                0);
	CU_ASSERT_EQUAL(uri_eq_s("sip:a@h", "sips:a@h"), 0);
	CU_ASSERT_EQUAL(uri_eq_s("sip:a:pw@h", "sip:a@h"), 0);
	CU_ASSERT_EQUAL(uri_eq_s("sip:a@h;ob", "sip:a@h;ob=1"), 0);
	CU_ASSERT_EQUAL(uri_eq_s("sip:a@h;ob", "sip:a@H;OB"), 1);
	CU_ASSERT_EQUAL(uri_eq_s("sip:a%00b@h", "sip:a%00c@h"), 0);
	CU_ASSERT_EQUAL(uri_eq_s("tel:+1555", "tel:+1555"), 1);
	CU_ASSERT_EQUAL(uri_eq_s("tel:+1555", "tel:+1556"), 0);
}

/* A CR that does not end a line is not LWS (RFC 3261 25.1): the fuzzer's
 * "CSeq: 70\rOPTIONS" was accepted and its answer, printed unfolded, said
 * "CSeq: 70OPTIONS" */
static void
test_bare_cr(void)
{
	TALLOC_CTX *c = talloc_new(NULL);
	const size_t max = SIP_MAX_MSG_DEFAULT;

	expect_err(mutate(c, seed_reg1, "Expires: ", "X-A: 1\r2\r\nExpires: "),
	           SIP_TP_UDP, max, 400, "Malformed Header Line");
	expect_err(mutate(c, seed_reg1, "Expires: ", "X-A: 1\r\r\nExpires: "),
	           SIP_TP_UDP, max, 400, "Malformed Header Line");
	/* folding stays fine */
	{
		char *b = with_fields(c, "X-A: 1\r\n 2\r\n");
		TALLOC_CTX *t = talloc_new(c);
		CU_ASSERT_PTR_NOT_NULL(parse_ok(t, b, strlen(b), SIP_TP_UDP));
	}
	talloc_free(c);
}

int
suite_sip(void)
{
	CU_pSuite s = CU_add_suite("sip", NULL, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "seed messages print back byte for byte",
	                 test_seed_roundtrip) ||
	    !CU_add_test(s, "seed REGISTER values", test_seed_register) ||
	    !CU_add_test(s, "seed responses values", test_seed_responses) ||
	    !CU_add_test(s, "responses built from the seed",
	                 test_build_response) ||
	    !CU_add_test(s, "errors and their reasons", test_errors) ||
	    !CU_add_test(s, "URIs", test_uri) ||
	    !CU_add_test(s, "name-addr lists", test_addr) ||
	    !CU_add_test(s, "Via, compact forms, folding",
	                 test_via_and_compact) ||
	    !CU_add_test(s, "Via usable or not (18.2.2)", test_via_usable) ||
	    !CU_add_test(s, "strings and tokens", test_strings) ||
	    !CU_add_test(s, "limits", test_limits) ||
	    !CU_add_test(s, "URI equality (19.1.4)", test_uri_eq) ||
	    !CU_add_test(s, "bare CR", test_bare_cr))
		return -1;
	return 0;
}
