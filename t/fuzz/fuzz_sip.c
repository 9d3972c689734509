/*
 * t/fuzz/fuzz_sip.c: libFuzzer target for the SIP library. Each input goes
 * through sip_parse() as a datagram and as a stream message, through the
 * stream framer, every header through the URI, address-list, Via and token
 * parsers, and, when parsed, through printing, sip_check_request() and the
 * response builder; every Authorization and Proxy-Authorization value
 * through the Digest credentials parser (sip/digest.c) and what the
 * authentication gate does next with it (nonce and auts decoding, afd's
 * nonce check, the response hash). Properties checked (abort on failure):
 * an accepted message prints back as its own bytes; the response built
 * from an accepted request parses; the framer never claims more than it
 * was given; accepted credentials have every mandatory parameter, an nc
 * of 8 hex digits, and a qop only with cnonce and nc.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/aka.h"
#include "sip/digest.h"
#include "sip/sip_impl.h"

/* One credentials value through the parser and the gate's next steps. */
static void
fuzz_cred(TALLOC_CTX *ctx, sip_str v, const char *hname)
{
	static const uint8_t key[32] = {1};
	const unsigned need = DIGEST_P_USERNAME | DIGEST_P_REALM |
	                      DIGEST_P_NONCE | DIGEST_P_URI | DIGEST_P_RESPONSE;
	struct digest_cred c;
	uint8_t rand[AKA_RAND_LEN], autn[AKA_AUTN_LEN], auts[AKA_AUTS_LEN + 4];
	uint8_t sdata[AKA_NONCE_SDATA_MAX];
	size_t sdl;
	char err[96];
	int stale;

	if (digest_parse_cred(ctx, v, hname, &c, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort(); /* a fault always has a reason */
		return;
	}
	if ((c.present & need) != need || c.username.s == NULL ||
	    c.nonce.s == NULL || c.response.s == NULL)
		abort();
	if ((c.present & DIGEST_P_NC) && c.nc.len != 8)
		abort();
	if (c.qop_id != DIGEST_QOP_NONE &&
	    (!(c.present & DIGEST_P_CNONCE) || !(c.present & DIGEST_P_NC)))
		abort();
	(void)aka_nonce_parse(c.nonce, rand, autn, sdata, &sdl);
	if (c.auts.s != NULL)
		(void)aka_b64_decode(c.auts, auts, sizeof(auts));
	(void)digest_nonce_check(key, sizeof(key), 1000, c.username, c.nonce,
	                         30, &stale, NULL);
	(void)digest_check(&c, SIP_STR_LIT("REGISTER"), c.uri,
	                   (const uint8_t *)"pw", 2);
}

static void
fuzz_headers(TALLOC_CTX *ctx, const struct sip_msg *m)
{
	struct sip_addr *a;
	struct sip_uri u;
	sip_str items[8];
	uint32_t n;

	for (const struct sip_hdr *h = m->hdrs; h != NULL; h = h->next) {
		struct sip_mem mem = {ctx, NULL, NULL, 0};
		struct sip_via *v = NULL, **tail = &v;
		int count = 0;

		(void)sip_parse_addr_list(ctx, h->value, &a);
		(void)sip_parse_uri(ctx, h->value, &u);
		(void)sip_parse_via_list(&mem, h->value, &tail, &count,
		                         SIP_MAX_VIAS);
		(void)sip_split_tokens(h->value, items, 8);
		(void)sip_str_to_u32(h->value, &n);
		if (h->id == SIP_HDR_AUTHORIZATION)
			fuzz_cred(ctx, h->value, "Authorization");
		else if (sip_str_caseeq_lit(h->name, "Proxy-Authorization"))
			fuzz_cred(ctx, h->value, "Proxy-Authorization");
	}
	for (int id = 1; id < SIP_HDR__COUNT; id++) {
		(void)sip_hdr_has_token(m->first[id], "path");
		(void)sip_msg_addrs(ctx, m->first[id], &a);
	}
}

static void
fuzz_msg(TALLOC_CTX *ctx, const char *buf, size_t len, enum sip_transport tp,
         size_t max)
{
	struct sip_msg *m = NULL, *r = NULL;
	struct sip_err err, rerr;
	size_t plen;
	char *p;
	int rc;

	rc = sip_parse(ctx, buf, len, tp, max, &m, &err);
	if (m == NULL)
		return;
	fuzz_headers(ctx, m);
	(void)sip_check_request(m, &rerr);
	p = sip_msg_print(ctx, m, &plen);
	if (rc == 0 &&
	    (p == NULL || plen != m->len || memcmp(p, m->buf, plen) != 0)) {
		fprintf(stderr, "print differs from the message\n");
		abort();
	}
	p = sip_resp_simple(ctx, m, rc == 0 ? 200 : err.status,
	                    rc == 0 ? NULL : err.reason, SIP_STR_LIT("ft1"),
	                    NULL, &plen);
	if (p == NULL)
		abort();
	if (rc == 0 && m->is_request &&
	    sip_parse(ctx, p, plen, SIP_TP_UDP, SIP_MAX_MSG_DEFAULT * 2, &r,
	              &rerr) != 0) {
		fprintf(stderr, "response does not parse: %s\n%.*s\n",
		        rerr.reason, (int)plen, p);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	const char *buf = (const char *)data;
	size_t skip, max = SIP_MAX_MSG_DEFAULT;
	int pings;
	ssize_t n = 0;

	/* a small limit now and then, to reach the 513 and framing paths */
	if (size > 0 && data[size - 1] == '~')
		max = size / 2;
	/* the scan hint never changes the answer */
	{
		size_t sc = 0, sk1, sk2;
		int p1, p2;
		ssize_t h =
		    sip_stream_frame_r(buf, size / 2, max, &sk1, &p1, &sc);
		if (h == 0) {
			ssize_t a =
			    sip_stream_frame_r(buf, size, max, &sk1, &p1, &sc);
			ssize_t b = sip_stream_frame(buf, size, max, &sk2, &p2);
			if (a != b || sk1 != sk2 || p1 != p2)
				abort();
		}
	}
	fuzz_msg(ctx, buf, size, SIP_TP_UDP, max);
	fuzz_msg(ctx, buf, size, SIP_TP_TCP, max);
	while (size > 0) {
		n = sip_stream_frame(buf, size, max, &skip, &pings);
		if (skip > size || (n > 0 && (size_t)n > size - skip))
			abort();
		if (n < 0)
			break;
		if (n == 0) {
			if (skip == 0)
				break;
			buf += skip;
			size -= skip;
			continue;
		}
		fuzz_msg(ctx, buf + skip, (size_t)n, SIP_TP_TCP, max);
		buf += skip + (size_t)n;
		size -= skip + (size_t)n;
	}
	talloc_free(ctx);
	return 0;
}
