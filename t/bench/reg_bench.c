/*
 * t/bench/reg_bench.c: micro-benchmark of the registrar through sipd, no
 * network: N REGISTERs (USERS distinct users, each registering, then
 * refreshing with a higher CSeq) through sipd_handle() in batches of 64 on
 * a temporary database (WAL, synchronous=NORMAL, one commit per batch, as
 * the UDP worker does). Prints REGISTER/s and checks every answer is 200.
 *
 *   build/t/bench/reg_bench [N [USERS [BATCH]]]   defaults 100000 10000 64
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

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	long users = argc > 2 ? atol(argv[2]) : 10000;
	int batch = argc > 3 ? atoi(argv[3]) : 64;
	char dir[] = "/tmp/afd-bench-XXXXXX";
	struct conf c;
	struct sip_peer peer;
	struct sipd *sd;
	sqlite3 *db;
	char(*msgs)[700];
	size_t *lens;
	long ok = 0, bad = 0, nb = 0;
	double *bt;
	double t0, t1, c0, c1;

	if (n <= 0 || users <= 0 || batch <= 0 || mkdtemp(dir) == NULL)
		return 2;
	bench_conf(&c, dir, "bench.test");
	if ((db = db_open(&c)) == NULL || db_migrate(db) == -1)
		return 1;
	db_close(db);
	if ((sd = sipd_new(NULL, &c, "u0")) == NULL)
		return 1;
	if (getenv("WAL_AUTOCHECKPOINT") != NULL) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %s",
		         getenv("WAL_AUTOCHECKPOINT"));
		sqlite3_exec(sipd_db(sd), sql, NULL, NULL, NULL);
	}
	bench_peer(&peer);

	msgs = malloc((size_t)batch * sizeof(*msgs));
	lens = malloc((size_t)batch * sizeof(*lens));
	bt = malloc(sizeof(*bt) * (size_t)(n / batch + 2));
	t0 = bench_clock(CLOCK_MONOTONIC);
	c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
	for (long i = 0; i < n;) {
		int k = 0;
		const struct sipd_out *out;
		double b0 = bench_clock(CLOCK_MONOTONIC);
		sipd_batch_begin(sd);
		for (; k < batch && i < n; k++, i++) {
			long u = i % users, round = i / users;
			int len = snprintf(
			    msgs[k], sizeof(msgs[k]),
			    "REGISTER sip:bench.test SIP/2.0\r\n"
			    "Via: SIP/2.0/UDP 127.0.0.1:5070;rport;"
			    "branch=z9hG4bK-%ld-%ld\r\n"
			    "Max-Forwards: 70\r\n"
			    "From: <sip:u%ld@bench.test>;tag=f%ld\r\n"
			    "To: <sip:u%ld@bench.test>\r\n"
			    "Call-ID: c%ld@bench\r\n"
			    "CSeq: %ld REGISTER\r\n"
			    "Contact: <sip:u%ld@127.0.0.1:5070>;"
			    "+sip.instance=\"<urn:uuid:%08ld-0000-1000-8000-"
			    "000000000000>\";reg-id=1\r\n"
			    "Expires: 3600\r\n"
			    "User-Agent: reg_bench\r\n"
			    "Content-Length: 0\r\n\r\n",
			    u, round, u, u, u, u, round + 1, u, u);
			lens[k] = (size_t)len;
			sipd_handle(sd, msgs[k], lens[k], &peer);
		}
		int m = sipd_batch_end(sd, &out);
		bt[nb++] = bench_clock(CLOCK_MONOTONIC) - b0;
		for (int j = 0; j < m; j++) {
			if (bench_is_200(&out[j]))
				ok++;
			else
				bad++;
		}
	}
	t1 = bench_clock(CLOCK_MONOTONIC);
	c1 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
	printf("reg_bench: %ld REGISTERs (%ld users, batches of %d) in "
	       "%.3f s: %.0f REGISTER/s (%.0f per CPU second), %ld x 200, "
	       "%ld other\n",
	       n, users, batch, t1 - t0, (double)n / (t1 - t0),
	       (double)n / (c1 - c0), ok, bad);
	qsort(bt, (size_t)nb, sizeof(*bt), bench_cmp_double);
	printf("reg_bench: batch time (includes building the requests): "
	       "median %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       bt[nb / 2] * 1e3, bt[nb * 99 / 100] * 1e3, bt[nb - 1] * 1e3);
	free(bt);
	talloc_free(sd);
	free(msgs);
	free(lens);
	bench_rmdb(dir);
	return bad ? 1 : 0;
}
