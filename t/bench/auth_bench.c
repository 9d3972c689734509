/*
 * t/bench/auth_bench.c: micro-benchmark of full authenticated
 * registrations through sipd, no network: for each batch of BATCH new
 * AORs, their first REGISTERs through sipd_handle() in one batch (one
 * commit, as the UDP worker does), the 401s answered here (Digest MD5 with
 * password "bench-pw", or AKAv1-MD5 with RES from the SIM maths of
 * sip/aka.h, K/OPc of TS 35.208 test set 1, as regload -A does), then
 * the answers in a second batch; every answer must be a 200. The
 * subscribers are provisioned first as t/bench/bench.sh does.
 *
 * It reports the CPU time per registration of the sipd calls alone
 * (CLOCK_THREAD_CPUTIME_ID around sipd_batch_begin .. sipd_batch_end:
 * parsing, the gate, the registrar, SQLite and its commits, not the
 * kernel's UDP path nor the building of the requests here), the bytes
 * they wrote (the WAL's frames: /proc/self/io wchar), and the median, p99
 * and max wall time of a batch. A busy machine slows the
 * wall time, much less the CPU time: use it to compare two builds.
 *
 * Checkpoints are made as afd's make them: the worker connection's WAL
 * hook kicks (schema/db.h) a checkpointer child process (as
 * workers/ckpt.c: PASSIVE passes while the batches go on); once the WAL
 * held DB_WAL_RESTART_FRAMES it says so, and the worker's connection
 * copies the rest before its next batch (measured, as the UDP worker does
 * on CKPT_DONE), so that the WAL starts over.
 *
 *   build/t/bench/auth_bench digest|aka [N [BATCH]]   defaults 20000 32
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "schema/db.h"
#include "sip/aka.h"
#include "sip/digest.h"
#include "workers/sipd.h"
#include "t/bench/benchauth.h"
#include "t/bench/inproc.h"

#define AB_DOMAIN "ims.mnc001.mcc001.3gppnetwork.org"
#define AB_MSG_MAX 2048
#define AB_IMSI0 1010000000000ull

static int ab_aka;                           /* 0: Digest, 1: AKAv1-MD5 */
static int ab_kick_fd = -1, ab_done_fd = -1; /* to and from the checkpointer */

/* The WAL hook's kick: the checkpointer is asked to run (IPC_CKPT_KICK). */
static void
ab_kick(void *arg, int frames)
{
	(void)arg;
	(void)frames;
	(void)write(ab_kick_fd, "k", 1);
}

/*
 * The checkpointer (a child process, as workers/ckpt.c): on a kick, or
 * every second, PASSIVE passes back to back until the tail is short; when
 * the WAL held DB_WAL_RESTART_FRAMES, one byte to done (IPC_CKPT_DONE).
 * Exits when kick is closed.
 */
static void
ab_checkpointer(const struct conf *c, int kick, int done)
{
	sqlite3 *db = db_open(c);
	struct pollfd p = {kick, POLLIN, 0};
	char buf[256];
	int frames, copied, prev;

	if (db == NULL)
		_exit(1);
	for (;;) {
		if (poll(&p, 1, 1000) == 1 && read(kick, buf, sizeof(buf)) <= 0)
			break;
		prev = 0;
		for (int pass = 1; pass <= 4; pass++) {
			if (db_checkpoint(db, &frames, &copied) != 0 ||
			    frames <= 0 || copied < frames ||
			    frames - prev <= 32)
				break;
			prev = copied;
		}
		if (frames >= DB_WAL_RESTART_FRAMES)
			(void)write(done, "d", 1);
	}
	db_close(db);
	_exit(0);
}

/* REGISTER of AOR index i into buf (nonce/resp NULL: the first one). Its
 * length, or -1. */
static int
ab_build(char *buf, size_t size, uint64_t i, const char *nonce,
         const char *resp)
{
	unsigned long long imsi = AB_IMSI0 + i;
	char authz[512];

	authz[0] = '\0';
	if (nonce != NULL)
		snprintf(authz, sizeof(authz),
		         "Authorization: Digest username=\"%015llu%s\", "
		         "realm=\"" AB_DOMAIN "\", nonce=\"%s\", "
		         "uri=\"sip:" AB_DOMAIN "\", response=\"%s\", "
		         "algorithm=%s, qop=auth, nc=00000001, "
		         "cnonce=\"ab\"%s\r\n",
		         imsi, ab_aka ? "@" AB_DOMAIN : "", nonce, resp,
		         ab_aka ? "AKAv1-MD5" : "MD5",
		         ab_aka ? ", integrity-protected=\"no\"" : "");
	else if (ab_aka)
		snprintf(authz, sizeof(authz),
		         "Authorization: Digest username=\"%015llu@" AB_DOMAIN
		         "\", realm=\"" AB_DOMAIN "\", nonce=\"\", "
		         "uri=\"sip:" AB_DOMAIN "\", response=\"\", "
		         "integrity-protected=\"no\"\r\n",
		         imsi);
	return snprintf(
	    buf, size,
	    "REGISTER sip:" AB_DOMAIN " SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-ab-%" PRIu64
	    "%s;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%015llu@" AB_DOMAIN ">;tag=ab%" PRIx64 "\r\n"
	    "To: <sip:%015llu@" AB_DOMAIN ">\r\n"
	    "Call-ID: ab-%" PRIu64 "@127.0.0.1\r\n"
	    "CSeq: %d REGISTER\r\n"
	    "Contact: <sip:%015llu@127.0.0.1:5070>;+sip.instance=\"<urn:gsma:"
	    "imei:35209900-%06llu-0>\";+g.3gpp.icsi-ref=\"urn%%3Aurn-7%%3A3gpp-"
	    "service.ims.icsi.mmtel\";+g.3gpp.smsip;audio;video\r\n"
	    "Expires: 600000\r\n"
	    "Supported: path,sec-agree\r\n"
	    "P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp="
	    "0010100010019B01\r\n"
	    "User-Agent: auth_bench VoLTE UE/1.0\r\n"
	    "%s"
	    "Content-Length: 0\r\n\r\n",
	    i, nonce ? ".2" : "", imsi, i, imsi, i, nonce ? 2 : 1, imsi,
	    (unsigned long long)(i % 1000000), authz);
}

/* The AOR index of an answer (its Call-ID), or -1. */
static int64_t
ab_index(const char *p, size_t len)
{
	const char *c = memmem(p, len, "Call-ID: ab-", 12);

	return c == NULL ? -1 : (int64_t)strtoull(c + 12, NULL, 10);
}

/* The answer to the 401 p[0..len) of AOR index i: nonce (room for 256)
 * and resp (room for DIGEST_HEX_LEN + 1). 0 or -1. */
static int
ab_answer(const char *p, size_t len, uint64_t i, char *nonce, char *resp)
{
	char user[128];
	sip_str dom = {AB_DOMAIN, sizeof(AB_DOMAIN) - 1}, un, nn;
	const sip_str uri = {"sip:" AB_DOMAIN, sizeof("sip:" AB_DOMAIN) - 1};
	const char *n, *e;

	if (len < 12 || memcmp(p, "SIP/2.0 401 ", 12) != 0 ||
	    (n = memmem(p, len, "nonce=\"", 7)) == NULL)
		return -1;
	n += 7;
	if ((e = memchr(n, '"', len - (size_t)(n - p))) == NULL || e - n >= 256)
		return -1;
	memcpy(nonce, n, (size_t)(e - n));
	nonce[e - n] = '\0';
	nn = (sip_str){nonce, (size_t)(e - n)};
	snprintf(user, sizeof(user), "%015llu%s",
	         (unsigned long long)(AB_IMSI0 + i),
	         ab_aka ? "@" AB_DOMAIN : "");
	un = (sip_str){user, strlen(user)};
	return bench_auth_response(ab_aka, un, dom, uri, nn, (sip_str){"ab", 2},
	                           resp);
}

/* Provision subscribers 0..n-1 as bench.sh does. 0 or -1. */
static int
ab_provision(const char *path, long n)
{
	sqlite3 *db;
	char sql[1024];
	int rc;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	snprintf(sql, sizeof(sql),
	         "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 "
	         "FROM c WHERE i < %ld) INSERT INTO subscribers (impi, impu, "
	         "password, k, opc) SELECT printf('%%015d@" AB_DOMAIN
	         "', %llu + i), printf('sip:%%015d@" AB_DOMAIN
	         "', %llu + i), 'bench-pw', "
	         "'465b5ce8b199b49faa5f0a2ee238a6bc', "
	         "'cd63cb71954a9f4e48a5994e37a02baf' FROM c; "
	         "PRAGMA wal_checkpoint(TRUNCATE);",
	         n - 1, AB_IMSI0, AB_IMSI0);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "auth_bench: provision: %s\n",
		        sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Bytes this process has written so far (/proc/self/io wchar), 0 when
 * unknown. */
static unsigned long long
ab_wchar(void)
{
	unsigned long long v = 0;
	char line[128];
	FILE *f = fopen("/proc/self/io", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static unsigned long long ab_written; /* by the batches (the WAL) */
static long ab_restarts;              /* the worker copied the WAL's tail */
static double ab_restart_max;         /* its longest, s */

/* One batch of the k requests in msgs through sd; the answers in *out.
 * Adds its CPU time to *cpu; its wall time into bt[(*nb)++]. */
static int
ab_batch(struct sipd *sd, char (*msgs)[AB_MSG_MAX], const int *lens, int k,
         const struct sip_peer *peer, const struct sipd_out **out, double *cpu,
         double *bt, long *nb)
{
	double c0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
	double w0 = bench_clock(CLOCK_MONOTONIC);
	unsigned long long b0 = ab_wchar();
	int m, f, c;
	char d[64];

	if (read(ab_done_fd, d, sizeof(d)) > 0) {
		/* CKPT_DONE (workers/worker.c): the worker copies what it
		 * committed since, between two transactions */
		double r0 = bench_clock(CLOCK_MONOTONIC);
		(void)db_checkpoint(sipd_db(sd), &f, &c);
		ab_restarts++;
		if (bench_clock(CLOCK_MONOTONIC) - r0 > ab_restart_max)
			ab_restart_max = bench_clock(CLOCK_MONOTONIC) - r0;
	}
	sipd_batch_begin(sd);
	for (int j = 0; j < k; j++)
		sipd_handle(sd, msgs[j], (size_t)lens[j], peer);
	m = sipd_batch_end(sd, out);
	*cpu += bench_clock(CLOCK_THREAD_CPUTIME_ID) - c0;
	bt[(*nb)++] = bench_clock(CLOCK_MONOTONIC) - w0;
	ab_written += ab_wchar() - b0;
	return m;
}

int
main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 20000, nb = 0, ok = 0, bad = 0;
	int batch = argc > 3 ? atoi(argv[3]) : 32;
	char dir[] = "/tmp/afd-authbench-XXXXXX";
	char(*msgs)[AB_MSG_MAX], (*nonces)[256], (*resps)[DIGEST_HEX_LEN + 1];
	struct sip_peer peer;
	const struct sipd_out *out;
	struct sipd *sd;
	struct conf c;
	sqlite3 *db;
	int kick[2], done[2];
	pid_t ckpt;
	double cpu = 0, *bt, t0;
	int *lens;

	if (argc < 2 ||
	    (strcmp(argv[1], "digest") != 0 && strcmp(argv[1], "aka") != 0)) {
		fprintf(stderr, "usage: auth_bench digest|aka [N [BATCH]]\n");
		return 2;
	}
	ab_aka = strcmp(argv[1], "aka") == 0;
	if (n <= 0 || batch <= 0 || mkdtemp(dir) == NULL)
		return 2;
	bench_conf(&c, dir, AB_DOMAIN);
	c.auth_mode = ab_aka ? CONF_AUTH_AKA : CONF_AUTH_DIGEST;
	snprintf(c.realm, sizeof(c.realm), AB_DOMAIN);
	c.nonce_lifetime = 300;
	if ((db = db_open(&c)) == NULL || db_migrate(db) == -1)
		return 1;
	db_close(db);
	if (ab_provision(c.database, n) == -1)
		return 1;
	if (pipe(kick) == -1 || pipe(done) == -1)
		return 1;
	if ((ckpt = fork()) == -1)
		return 1;
	if (ckpt == 0) {
		close(kick[1]);
		close(done[0]);
		ab_checkpointer(&c, kick[0], done[1]);
	}
	close(kick[0]);
	close(done[1]);
	ab_kick_fd = kick[1];
	ab_done_fd = done[0];
	(void)fcntl(ab_kick_fd, F_SETFL, O_NONBLOCK);
	(void)fcntl(ab_done_fd, F_SETFL, O_NONBLOCK);
	if ((sd = sipd_new(NULL, &c, "u0")) == NULL)
		return 1;
	if (db_wal_hook_install(sipd_db(sd), ab_kick, NULL) == -1)
		return 1;
	bench_peer(&peer);

	msgs = calloc((size_t)batch, sizeof(*msgs));
	nonces = calloc((size_t)batch, sizeof(*nonces));
	resps = calloc((size_t)batch, sizeof(*resps));
	lens = calloc((size_t)batch, sizeof(*lens));
	bt = calloc((size_t)(2 * (n / batch + 2)), sizeof(*bt));
	if (msgs == NULL || nonces == NULL || resps == NULL || lens == NULL ||
	    bt == NULL)
		return 1;
	t0 = bench_clock(CLOCK_MONOTONIC);
	for (long i0 = 0; i0 < n; i0 += batch) {
		int k = (int)(n - i0 < batch ? n - i0 : batch), m;

		for (int j = 0; j < k; j++)
			lens[j] = ab_build(msgs[j], AB_MSG_MAX,
			                   (uint64_t)(i0 + j), NULL, NULL);
		m = ab_batch(sd, msgs, lens, k, &peer, &out, &cpu, bt, &nb);
		for (int j = 0; j < m; j++) {
			int64_t i = ab_index(out[j].buf, out[j].len);
			if (i < i0 || i >= i0 + k ||
			    ab_answer(out[j].buf, out[j].len, (uint64_t)i,
			              nonces[i - i0], resps[i - i0]) == -1) {
				fprintf(stderr,
				        "auth_bench: not a 401: %.40s\n",
				        out[j].buf);
				return 1;
			}
		}
		for (int j = 0; j < k; j++)
			lens[j] =
			    ab_build(msgs[j], AB_MSG_MAX, (uint64_t)(i0 + j),
			             nonces[j], resps[j]);
		m = ab_batch(sd, msgs, lens, k, &peer, &out, &cpu, bt, &nb);
		for (int j = 0; j < m; j++) {
			if (bench_is_200(&out[j]))
				ok++;
			else
				bad++;
		}
	}
	qsort(bt, (size_t)nb, sizeof(*bt), bench_cmp_double);
	printf("auth_bench %s: %ld registrations (batches of %d) in %.2f s: "
	       "%.1f us CPU and %.1f KiB written (WAL) each in sipd; batch "
	       "wall time median %.2f ms, p99 %.2f ms, max %.2f ms; %ld WAL "
	       "restarts (the worker's copy: up to %.1f ms); %ld x 200, %ld "
	       "other\n",
	       argv[1], n, batch, bench_clock(CLOCK_MONOTONIC) - t0,
	       cpu * 1e6 / (double)n, (double)ab_written / 1024 / (double)n,
	       bt[nb / 2] * 1e3, bt[nb * 99 / 100] * 1e3, bt[nb - 1] * 1e3,
	       ab_restarts, ab_restart_max * 1e3, ok, bad);
	free(bt);
	free(msgs);
	free(nonces);
	free(resps);
	free(lens);
	talloc_free(sd);
	close(ab_kick_fd);
	(void)waitpid(ckpt, NULL, 0);
	bench_rmdb(dir);
	return bad || ok != n ? 1 : 0;
}
