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

static const char seed_reg1[] =
    "REGISTER sip:ims.mnc000.mcc000.3gppnetwork.org SIP/2.0\r\n"
    "Contact: "
    "<sip:460003911000057@172.16.106.92>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-"
    "service.ims.icsi.mmtel\";+g.3gpp.ics=\"principal\"\r\n"
    "Authorization: Digest "
    "username=\"8613911000057@ims.mnc000.mcc000.3gppnetwork.org\",realm=\"ims."
    "mnc000.mcc000.3gppnetwork.org\",nonce=\"\",uri=\"sip:ims.mnc000.mcc000."
    "3gppnetwork.org\",response=\"\",integrity-protected=\"no\"\r\n"
    "Expires: 600000\r\n"
    "Supported: sec-agree,path\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Call-ID: 29906@172.16.106.92\r\n"
    "From: "
    "<sip:460003911000057@ims.mnc000.mcc000.3gppnetwork.org>;tag=3196215\r\n"
    "To: <sip:460003911000057@ims.mnc000.mcc000.3gppnetwork.org>\r\n"
    "P-Visited-Network-ID: \"sip:pcscf@172.16.106.81:6070\"\r\n"
    "Feature-Caps: "
    "*;+g.3gpp.atcf=\"<tel:+12340000000>\";+g.3gpp.atcf-mgmt-uri=\"<sip:172.16."
    "106.81:6070>\";+g.3gpp.atcf-path=\"<sip:pcscf@172.16.106.81:6070;"
    "transport=udp;lr>\";+g.3gpp.mid-call;+g.3gpp.srvcc-alerting\r\n"
    "P-Track-ID: c98ce46bbb951afc2305297a67\r\n"
    "Route: <sip:proxy@172.16.106.94:5060;lr;transport=udp>\r\n"
    "Service-Route: <sip:172.16.106.95:5060;transport=udp;lr>\r\n"
    "Path: "
    "<sip:172.16.106.81:6070;transport=udp;lr;key=a02907193feadf0b3e14932b37>"
    "\r\n"
    "P-UserAgent-Info: "
    "<sip:172.16.106.92:5060;transport=udp>;+sbc.address=\"<sip:172.16.106.81:"
    "5060;lr;transport=udp>\"\r\n"
    "Via: SIP/2.0/UDP 172.16.106.81:6070;branch=z9hG4bK19fae5599197\r\n"
    "Via: SIP/2.0/UDP 172.16.106.92:5060;branch=z9hG4bK57ab028-c4e752e3\r\n"
    "P-Access-Network-Info: 3GPP-NR-TDD; "
    "sip:172.16.106.81:5060;lr;transport=udp;ue-ip=172.16.106.92;ue-port=5060;"
    "raw-ip=172.16.106.92;raw-port=5060\r\n"
    "Require: path\r\n"
    "P-Charging-Vector: "
    "icid-value=2cd85e11b34b4fe68c4d8c698938d022;icid-generated-at=pcscf."
    "visited.net;orig-ioi=visited.net\r\n"
    "Max-Forwards: 69\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

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
