/*
 * t/bench/parse_bench.c: nanoseconds per sip_parse() of the seed REGISTER
 * (shared/seeds/000, 22 headers), and per parse + Contact list + 200 OK
 * built with sip_resp_start()/sip_buf_finish(), the registrar's share of
 * SIP work. Usage: parse_bench [iterations] (default 200000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sip/sip.h"

#include "t/seed_msgs.h"

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	size_t len = strlen(seed_reg1);
	TALLOC_CTX *top = talloc_new(NULL);
	struct sip_msg *m;
	struct sip_err err;
	struct sip_addr *a;
	struct sip_buf b;
	double t0, t1, t2;

	if (n <= 0)
		n = 1;
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (sip_parse(top, seed_reg1, len, SIP_TP_UDP,
		              SIP_MAX_MSG_DEFAULT, &m, &err) != 0) {
			fprintf(stderr, "parse failed: %s\n", err.reason);
			return 1;
		}
		talloc_free(m);
	}
	t1 = now_ns();
	for (long i = 0; i < n; i++) {
		TALLOC_CTX *ctx = talloc_new(top);
		if (sip_parse(ctx, seed_reg1, len, SIP_TP_UDP,
		              SIP_MAX_MSG_DEFAULT, &m, &err) != 0 ||
		    sip_check_request(m, &err) != 0 ||
		    sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a) != 0)
			return 1;
		sip_buf_init(&b, ctx, 1024);
		sip_resp_start(&b, m, 200, NULL, SIP_STR_LIT("a1b2c3"));
		sip_buf_hdr(&b, "Contact", "<%.*s>;expires=%u",
		            SIP_STR_FMT(a->uri.raw), 600000u);
		sip_buf_finish(&b, SIP_STR_NULL);
		if (b.oom)
			return 1;
		talloc_free(ctx);
	}
	t2 = now_ns();
	printf("sip_parse: %.0f ns per REGISTER (%zu bytes, %u headers)\n",
	       (t1 - t0) / (double)n, len, 22u);
	printf("parse+check+contacts+200 OK: %.0f ns per REGISTER\n",
	       (t2 - t1) / (double)n);
	talloc_free(top);
	return 0;
}
