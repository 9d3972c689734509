/*
 * t/bench/regev_bench.c: micro-benchmark of the reg event through sipd, no
 * network: N UEs, each registering, subscribing to its own registration
 * state and answering the first NOTIFY with 200, through sipd_handle() in
 * batches (one commit each, as the UDP worker does) on a temporary
 * database (WAL, synchronous=NORMAL). The batches are a pipeline: batch k
 * holds the REGISTERs of UE group k, the SUBSCRIBEs of group k-1 and the
 * 200s to the NOTIFYs group k-1's SUBSCRIBEs drew in batch k-1, GROUP UEs
 * a group (3 * GROUP messages a batch). The notifier's sweep runs every
 * SWEEP batches (the UDP worker's runs every 500 ms). With -P only the
 * REGISTERs are sent (the same GROUP per batch), for comparison. Prints
 * the CPU microseconds per UE (process CPU time over the whole run) and
 * checks every answer: a 200 to each request, one NOTIFY per SUBSCRIBE.
 *
 *   build/t/bench/regev_bench [-P] [N [GROUP [SWEEP]]]
 *   defaults 60000 21 300
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "schema/db.h"
#include "workers/sipd.h"
#include "t/bench/inproc.h"

#define RB_MSG 1600

/* The REGISTER (what 'r') or SUBSCRIBE ('s') of UE u into b; its length
 * (0 when it does not fit). */
static size_t
rb_request(char *b, char what, long u)
{
	int n;

	if (what == 'r')
		n = snprintf(
		    b, RB_MSG,
		    "REGISTER sip:bench.test SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP "
		    "127.0.0.1:5070;rport;branch=z9hG4bK-r%ld\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: <sip:ue%ld@bench.test>;tag=r%ld\r\n"
		    "To: <sip:ue%ld@bench.test>\r\n"
		    "Call-ID: r%ld@bench\r\n"
		    "CSeq: 1 REGISTER\r\n"
		    "Contact: <sip:ue%ld@127.0.0.1:5070>;+sip.instance="
		    "\"<urn:gsma:imei:86539405-000273-%ld>\";+g.3gpp.icsi-ref="
		    "\"urn%%3Aurn-7%%3A3gpp-service.ims.icsi.mmtel\"\r\n"
		    "Expires: 600000\r\nContent-Length: 0\r\n\r\n",
		    u, u, u, u, u, u, u);
	else
		n = snprintf(b, RB_MSG,
		             "SUBSCRIBE sip:ue%ld@bench.test SIP/2.0\r\n"
		             "Via: SIP/2.0/UDP "
		             "127.0.0.1:5070;rport;branch=z9hG4bK-s%ld\r\n"
		             "Max-Forwards: 70\r\n"
		             "From: <sip:ue%ld@bench.test>;tag=s%ld\r\n"
		             "To: <sip:ue%ld@bench.test>\r\n"
		             "Call-ID: s%ld@bench\r\n"
		             "CSeq: 1 SUBSCRIBE\r\n"
		             "Contact: <sip:ue%ld@127.0.0.1:5070>\r\n"
		             "Event: reg\r\nAccept: application/reginfo+xml\r\n"
		             "Expires: 600000\r\nContent-Length: 0\r\n\r\n",
		             u, u, u, u, u, u, u);
	return n > 0 && n < RB_MSG ? (size_t)n : 0;
}

/* The 200 to the NOTIFY in buf into b (its length, 0 when buf is no
 * NOTIFY that parses). */
static size_t
rb_answer(char *b, const char *buf, size_t len)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct sip_msg *m;
	struct sip_err err;
	size_t rlen = 0;
	char *r;

	if (tmp != NULL &&
	    sip_parse(tmp, buf, len, SIP_TP_UDP, 65536, &m, &err) == 0 &&
	    (r = sip_resp_simple(tmp, m, 200, NULL, SIP_STR_NULL, NULL,
	                         &rlen)) != NULL &&
	    rlen < RB_MSG)
		memcpy(b, r, rlen);
	else
		rlen = 0;
	talloc_free(tmp);
	return rlen;
}

int
main(int argc, char **argv)
{
	int plain = argc > 1 && strcmp(argv[1], "-P") == 0;
	long n = argc > 1 + plain ? atol(argv[1 + plain]) : 60000;
	long group = argc > 2 + plain ? atol(argv[2 + plain]) : 21;
	long sweep = argc > 3 + plain ? atol(argv[3 + plain]) : 300;
	char dir[] = "/tmp/afd-regev-bench-XXXXXX";
	struct conf c;
	struct sip_peer peer;
	struct sipd *sd;
	sqlite3 *db;
	char(*msgs)[RB_MSG], (*ans)[RB_MSG];
	size_t *lens, *alens;
	long ok = 0, notifies = 0, bad = 0, batches = 0, nans = 0;
	double t0, t1, c0, c1;

	if (n <= 0 || group <= 0 || sweep <= 0 || mkdtemp(dir) == NULL)
		return 2;
	bench_conf(&c, dir, "bench.test");
	c.regev_min_expires = 60;
	c.regev_max_expires = 600000;
	if ((db = db_open(&c)) == NULL || db_migrate(db) == -1)
		return 1;
	db_close(db);
	if ((sd = sipd_new(NULL, &c, "u0")) == NULL)
		return 1;
	bench_peer(&peer);

	msgs = malloc((size_t)(3 * group) * sizeof(*msgs));
	lens = malloc((size_t)(3 * group) * sizeof(*lens));
	ans = malloc((size_t)group * sizeof(*ans));
	alens = malloc((size_t)group * sizeof(*alens));
	if (msgs == NULL || lens == NULL || ans == NULL || alens == NULL)
		return 1;
	t0 = bench_clock(CLOCK_MONOTONIC);
	c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
	/* batch k: REGISTERs of group k (k < groups), SUBSCRIBEs of group
	 * k-1, the answers drawn by batch k-1 */
	for (long k = 0, groups = (n + group - 1) / group;
	     k <= groups + (plain ? -1 : 1); k++) {
		const struct sipd_out *out;
		int m, nm = 0;

		for (long j = 0; j < nans; j++) {
			memcpy(msgs[nm], ans[j], alens[j]);
			lens[nm++] = alens[j];
		}
		nans = 0;
		for (long j = 0;
		     j < group && k - 1 >= 0 && k - 1 < groups && !plain; j++) {
			long u = (k - 1) * group + j;
			if (u < n && (lens[nm] = rb_request(msgs[nm], 's', u)))
				nm++;
		}
		for (long j = 0; j < group && k < groups; j++) {
			long u = k * group + j;
			if (u < n && (lens[nm] = rb_request(msgs[nm], 'r', u)))
				nm++;
		}
		sipd_batch_begin(sd);
		for (int j = 0; j < nm; j++)
			sipd_handle(sd, msgs[j], lens[j], &peer);
		m = sipd_batch_end(sd, &out);
		for (int j = 0; j < m; j++) {
			if (out[j].len > 7 &&
			    memcmp(out[j].buf, "NOTIFY ", 7) == 0) {
				notifies++;
				if (nans < group &&
				    (alens[nans] = rb_answer(
				         ans[nans], out[j].buf, out[j].len)))
					nans++;
				else
					bad++;
			} else if (bench_is_200(&out[j]))
				ok++;
			else if (out[j].len > 0)
				bad++;
		}
		if (++batches % sweep == 0) {
			sipd_batch_begin(sd);
			(void)sipd_sweep(sd);
			(void)sipd_batch_end(sd, &out);
		}
	}
	t1 = bench_clock(CLOCK_MONOTONIC);
	c1 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
	printf("regev_bench: %ld UEs%s (%ld a batch, sweep every %ld "
	       "batches) in %.3f s: %.1f us of CPU per UE, %.0f UEs per CPU "
	       "second; %ld x 200, %ld NOTIFYs, %ld other\n",
	       n, plain ? " registering only" : "", group, sweep, t1 - t0,
	       (c1 - c0) * 1e6 / (double)n, (double)n / (c1 - c0), ok, notifies,
	       bad);
	talloc_free(sd);
	free(msgs);
	free(lens);
	free(ans);
	free(alens);
	bench_rmdb(dir);
	return bad || ok != (plain ? n : 2 * n) || notifies != (plain ? 0 : n)
	           ? 1
	           : 0;
}
