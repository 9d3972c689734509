/*
 * regload: a REGISTER load generator for afd's benchmark (t/bench/bench.sh).
 *
 * One thread, one connected UDP socket on loopback, sendmmsg/recvmmsg and
 * ppoll.  Every request is a VoLTE-UE-shaped REGISTER (IMS AKA first
 * REGISTER: +sip.instance, ICSI tags, P-Access-Network-Info, about 690
 * bytes; no Authorization, the benchmark runs with auth = none).  Request
 * number k goes to address of record (base + k mod N); a later round on the
 * same AOR keeps its Call-ID and raises the CSeq.
 *
 * Two modes:
 *   -r RATE   open loop: RATE new requests per second, paced in 1 ms slices
 *   -r 0      closed loop: keep -w WINDOW requests outstanding ("as fast as
 *             the server answers")
 * Either mode stops by itself: after -d SECONDS or -c COUNT requests, then a
 * grace period (-g) for the last answers.
 *
 * A request's state lives in a ring indexed by k.  An answer is tied to its
 * request by its Call-ID (run id and AOR) and CSeq number (the round), as a
 * UAC matches a response to its transaction; its top Via must carry the
 * request's branch (run id and k).  A final answer counts as success only
 * when it is the right 200 for that request: status 200, a To tag, and a
 * Contact listing the binding the request registered; any other final
 * answer (another 2xx, a 200 without To tag or without the binding) is a
 * failure ("bad").  Anything that names no request of this run is "stray".
 * -I RUNID and -K FIRST let a later run refresh the bindings of an earlier
 * one (same Call-IDs, higher CSeqs): the re-registration load.  Unanswered
 * requests are retransmitted as RFC 3261 17.1.2.2 says (Timer E: T1, 2T1,
 * 4T1, then T2 = 4 s) and each retransmission is counted.  A request with no
 * final answer 64*T1 after its first send (Timer F), or at the end of the
 * grace period, is a failure; so is a final answer other than 2xx.
 * Latency is first send to final answer (kernel receive timestamp), kept in
 * a log-linear histogram (1 us resolution below 128 us, 1/64 above).
 *
 * -A digest|aka: full authenticated registrations (afd with [auth] mode
 * digest / aka / auto, subscribers provisioned as bench.sh does: impi
 * IMSI@domain, password "bench-pw" or K/OPc of TS 35.208 test set 1;
 * the Digest username is the IMSI alone, as a softphone sends its user
 * part and as Kamailio's auth_db looks it up, AKA's the IMPI).
 * Each request is then REGISTER (CSeq 1), 401, REGISTER with the answer
 * (CSeq 2, branch "<k>.2"), 200; the response is computed here (Digest
 * MD5, or RES from the SIM maths of sip/aka.h for AKAv1-MD5) when the 401
 * arrives; latency is first send to the 200, and its two legs (first
 * send to 401, 401 to 200) are reported too (c50_us c99_us a50_us a99_us
 * with -k). Needs one AOR per request (no -n).
 *
 * Only 127.0.0.0/8 targets are accepted: this is a benchmark, not a flood
 * tool.  Output: a readable report, or one key=value line with -k.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sip/aka.h"
#include "sip/digest.h"
#include "t/bench/benchauth.h"

#define RL_BATCH 32      /* datagrams per sendmmsg / recvmmsg */
#define RL_MSG_MAX 2048  /* one REGISTER */
#define RL_RECV_MAX 8192 /* one answer */
#define RL_HIST_SUB 64   /* sub-buckets per power of two */
#define RL_HIST_N (128 + 40 * RL_HIST_SUB)
#define RL_LEVELS 4 /* retransmission queues: T1, 2T1, 4T1, T2 */

enum rl_state { RL_FREE = 0, RL_PENDING, RL_DONE };

/* One request in flight, found at ring[k & mask]. */
struct rl_req {
	uint32_t k; /* request number */
	uint32_t pad;
	uint64_t t_first; /* first send, ns */
	uint8_t state;    /* enum rl_state */
	uint8_t level;    /* retransmission queue it sits in */
	uint16_t retrans; /* retransmissions sent */
	uint64_t due;     /* the deadline of its live queue entry */
	uint64_t t_chal;  /* -A: when its 401 arrived, ns */
	uint8_t phase;    /* -A: 0 first REGISTER, 1 the answer */
	char nonce[64];   /* -A: the challenge's nonce */
	char resp[DIGEST_HEX_LEN + 1]; /* -A: the response */
};

/* A FIFO of request numbers; deadlines in one queue are in FIFO order. */
struct rl_queue {
	uint32_t *k;
	uint64_t *due;
	size_t head, tail, mask;
};

struct rl_opts {
	struct sockaddr_in dst;
	uint64_t aors;        /* N */
	uint64_t base;        /* first AOR index */
	double rate;          /* 0: closed loop */
	unsigned window;      /* closed loop: outstanding requests */
	double seconds;       /* sending time bound */
	uint64_t count;       /* request count bound (0: none) */
	double warmup;        /* seconds left out of "held" */
	double grace;         /* seconds to wait for the last answers */
	unsigned t1_ms;       /* RFC 3261 T1 */
	unsigned max_retrans; /* retransmissions per request */
	int cpu;              /* -1: no pinning */
	const char *domain;
	int kv; /* one key=value line */
	int quiet;
	int print;         /* print request 0 and exit */
	int respond;       /* -R: be a do-nothing registrar */
	int echo;          /* -E: with -R, a wrong one (no To tag, no
	                    * Contact: what a mere echo of the request
	                    * gives); regload must not count its 200s */
	uint64_t first_k;  /* -K: the first request number */
	uint64_t slow_us;  /* -Z: print answers slower than this (0: no) */
	const char *runid; /* -I: the run id (default: random) */
	int auth;          /* -A: 0 none, 1 digest, 2 aka */
};

struct rl_stats {
	uint64_t sent, retrans, answers, dup, prov, stray, challenges;
	uint64_t cls[7]; /* final answers by class 2..6 */
	uint64_t fail_status, fail_timeout;
	uint64_t fail_bad;  /* final answers that were not the right 200 */
	uint64_t ok;        /* the right 200s */
	uint64_t ok_steady; /* 2xx received in the steady window */
	uint64_t send_errors, recv_errors;
	uint64_t hist[RL_HIST_N];
	uint64_t lat_max, lat_sum, lat_n;
	/* -A: the two legs of the right 200s: first send to 401 (the
	 * challenge), 401 to 200 (the answer, regload's turn included) */
	uint64_t hist_c[RL_HIST_N], hist_a[RL_HIST_N], legs_n;
};

static struct rl_opts opts;
static struct rl_stats st;
static struct rl_req *ring;
static uint64_t ring_mask;
static struct rl_queue queues[RL_LEVELS];
static char runid[9];
static uint16_t lport;
static volatile sig_atomic_t stop_req;
static uint64_t mono_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC */

static uint64_t
rl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
rl_usage(void)
{
	fprintf(
	    stderr,
	    "usage: regload [-k] [-q] [-s 127.0.0.1:5060] [-n aors] [-b base]\n"
	    "               [-r rate | -r 0 -w window] [-d seconds] [-c "
	    "count]\n"
	    "               [-W warmup] [-g grace] [-t t1_ms] [-m "
	    "max_retrans]\n"
	    "               [-C cpu] [-D domain] [-I runid] [-K first]\n"
	    "  -s  server (127.0.0.0/8 only)       -n  distinct AORs "
	    "(default:\n"
	    "  -r  REGISTER/s, 0 = closed loop          one per request)\n"
	    "  -w  closed loop window (100)        -b  first AOR index (0)\n"
	    "  -d  sending time, s (10)            -c  stop after COUNT "
	    "requests\n"
	    "  -W  warm-up left out of held (1 s)  -g  grace for last answers "
	    "(5 s)\n"
	    "  -t  T1 in ms (500)                  -m  retransmissions (10)\n"
	    "  -C  pin to this CPU                 -D  domain\n"
	    "  -I  run id (hex, default random)    -K  first request number "
	    "(0)\n"
	    "      (-I and -K: refresh the AORs of an earlier run with -n)\n"
	    "  -Z  print \"#slow T_RX LAT_MS K\" on stderr for every answer\n"
	    "      slower than this many us (T_RX: CLOCK_MONOTONIC, s; a\n"
	    "      first line \"#clock REALTIME MONOTONIC\" relates the two)\n"
	    "  -R ADDR [-E]  be a do-nothing registrar on ADDR for -d seconds\n"
	    "      (-E: a wrong one, echoing the request without To tag or\n"
	    "      Contact)\n"
	    "  -A digest|aka  full authenticated registrations (REGISTER,\n"
	    "      401, REGISTER with the answer, 200); needs no -n\n"
	    "  -k  one key=value summary line      -q  no progress lines\n");
	exit(2);
}

static int
rl_parse_dst(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon;
	long port = 5060;
	char *end;

	colon = strrchr(s, ':');
	if (colon != NULL) {
		if ((size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, colon - s);
		host[colon - s] = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port <= 0 || port > 65535)
			return -1;
	} else {
		if (strlen(s) >= sizeof(host))
			return -1;
		strcpy(host, s);
	}
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	return 0;
}

/* Histogram bucket of a latency in microseconds. */
static unsigned
rl_hist_idx(uint64_t us)
{
	unsigned msb, shift, idx;

	if (us < 128)
		return (unsigned)us;
	msb = 63 - (unsigned)__builtin_clzll(us);
	shift = msb - 6;
	idx = 128 + (msb - 7) * RL_HIST_SUB + (unsigned)((us >> shift) - 64);
	return idx < RL_HIST_N ? idx : RL_HIST_N - 1;
}

/* The upper bound (us) of a bucket. */
static uint64_t
rl_hist_val(unsigned idx)
{
	unsigned msb, shift;

	if (idx < 128)
		return idx;
	msb = (idx - 128) / RL_HIST_SUB + 7;
	shift = msb - 6;
	return ((uint64_t)((idx - 128) % RL_HIST_SUB + 64 + 1) << shift) - 1;
}

/* The p-quantile (us) of histogram h of n entries, at most max. */
static uint64_t
rl_quantile(const uint64_t *h, uint64_t n, uint64_t max, double p)
{
	uint64_t want, acc = 0;
	unsigned i;

	if (n == 0)
		return 0;
	want = (uint64_t)(p * (double)n + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < RL_HIST_N; i++) {
		acc += h[i];
		if (acc >= want) {
			uint64_t v = rl_hist_val(i);
			return v < max ? v : max;
		}
	}
	return max;
}

static uint64_t
rl_percentile(double p)
{
	return rl_quantile(st.hist, st.lat_n, st.lat_max, p);
}

static int
rl_queue_init(struct rl_queue *q, size_t size)
{
	q->k = calloc(size, sizeof(*q->k));
	q->due = calloc(size, sizeof(*q->due));
	if (q->k == NULL || q->due == NULL)
		return -1;
	q->head = q->tail = 0;
	q->mask = size - 1;
	return 0;
}

static void
rl_queue_push(struct rl_queue *q, uint32_t k, uint64_t due)
{
	if (q->tail - q->head > q->mask) {
		/* Full: the ring is smaller than what is in flight; the oldest
		 * entry is dropped (its request will time out). */
		q->head++;
	}
	q->k[q->tail & q->mask] = k;
	q->due[q->tail & q->mask] = due;
	q->tail++;
	ring[k & ring_mask].due = due;
}

/* Build REGISTER number k into buf; returns its length. */
static int
rl_build(char *buf, size_t size, uint64_t k)
{
	uint64_t aor = opts.base + (opts.aors ? k % opts.aors : k);
	uint64_t round = opts.aors ? k / opts.aors : 0;
	unsigned long long imsi = 1010000000000ull + aor;
	const struct rl_req *r = &ring[k & ring_mask];
	int n, second = opts.auth && r->k == (uint32_t)k && r->phase == 1;
	char authz[512];

	authz[0] = '\0';
	if (second)
		snprintf(
		    authz, sizeof(authz),
		    "Authorization: Digest username=\"%015llu%s%s\", "
		    "realm=\"%s\", nonce=\"%s\", uri=\"sip:%s\", "
		    "response=\"%s\", algorithm=%s, qop=auth, nc=00000001, "
		    "cnonce=\"rl%s\"%s\r\n",
		    imsi, opts.auth == 2 ? "@" : "",
		    opts.auth == 2 ? opts.domain : "", opts.domain, r->nonce,
		    opts.domain, r->resp, opts.auth == 2 ? "AKAv1-MD5" : "MD5",
		    runid,
		    opts.auth == 2 ? ", integrity-protected=\"no\"" : "");
	else if (opts.auth == 2)
		snprintf(authz, sizeof(authz),
		         "Authorization: Digest username=\"%015llu@%s\", "
		         "realm=\"%s\", nonce=\"\", uri=\"sip:%s\", "
		         "response=\"\", integrity-protected=\"no\"\r\n",
		         imsi, opts.domain, opts.domain, opts.domain);
	n = snprintf(
	    buf, size,
	    "REGISTER sip:%s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-rl%s-%" PRIu64
	    "%s;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%015llu@%s>;tag=%s%" PRIx64 "\r\n"
	    "To: <sip:%015llu@%s>\r\n"
	    "Call-ID: rl%s-%" PRIu64 "@127.0.0.1\r\n"
	    "CSeq: %" PRIu64 " REGISTER\r\n"
	    "Contact: "
	    "<sip:%015llu@127.0.0.1:%u>;+sip.instance=\"<urn:gsma:imei:"
	    "35209900-%06llu-0>\";+g.3gpp.icsi-ref=\"urn%%3Aurn-7%%3A3gpp-"
	    "service"
	    ".ims.icsi.mmtel\";+g.3gpp.smsip;audio;video\r\n"
	    "Expires: 600000\r\n"
	    "Supported: path,sec-agree\r\n"
	    "P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp="
	    "0010100010019B01\r\n"
	    "User-Agent: regload VoLTE UE/1.0\r\n"
	    "%s"
	    "Content-Length: 0\r\n"
	    "\r\n",
	    opts.domain, lport, runid, k, second ? ".2" : "", imsi, opts.domain,
	    runid, k, imsi, opts.domain, runid, aor,
	    round + 1 + (uint64_t)second, imsi, lport,
	    (unsigned long long)(aor % 1000000), authz);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* Send the requests numbered ks[0..n) (new or retransmitted). */
static void
rl_send(int fd, const uint64_t *ks, unsigned n)
{
	static char bufs[RL_BATCH][RL_MSG_MAX];
	struct mmsghdr msgs[RL_BATCH];
	struct iovec iov[RL_BATCH];
	unsigned i, done = 0;
	int len, r;

	memset(msgs, 0, sizeof(msgs[0]) * n);
	for (i = 0; i < n; i++) {
		len = rl_build(bufs[i], RL_MSG_MAX, ks[i]);
		if (len < 0) {
			fprintf(stderr, "regload: message too long\n");
			exit(1);
		}
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = (size_t)len;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (done < n) {
		r = sendmmsg(fd, msgs + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS ||
			    errno == ECONNREFUSED) {
				/* Lost on our side: the retransmission timer
				 * covers it, as it would a lost datagram. */
				st.send_errors += n - done;
				return;
			}
			perror("regload: sendmmsg");
			exit(1);
		}
		done += (unsigned)r;
	}
}

/* The value of the first header line named name (or its compact form
 * cname) in the message p[0..len), up to its line end; NULL when none. */
static const char *
rl_hdr(const char *p, size_t len, const char *name, char cname, size_t *vlen)
{
	const char *l = p, *end = p + len, *e, *v;
	size_t nl = strlen(name);

	while (l < end) {
		e = memchr(l, '\n', (size_t)(end - l));
		if (e == NULL)
			e = end;
		if (e - l <= 1 || (e - l == 2 && *l == '\r'))
			return NULL; /* the end of the headers */
		v = NULL;
		if ((size_t)(e - l) > nl && strncasecmp(l, name, nl) == 0)
			v = l + nl;
		else if (cname != '\0' && (*l == cname || *l == cname - 32))
			v = l + 1;
		if (v != NULL) {
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			if (v < e && *v == ':') {
				v++;
				while (v < e && (*v == ' ' || *v == '\t'))
					v++;
				*vlen = (size_t)(e - v);
				if (*vlen > 0 && v[*vlen - 1] == '\r')
					(*vlen)--;
				return v;
			}
		}
		l = e + 1;
	}
	return NULL;
}

/* A decimal number at p[0..len) ending at a non-digit; 0 or -1. */
static int
rl_num(const char *p, const char *end, uint64_t *v, const char **after)
{
	*v = 0;
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9')
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	*after = p;
	return 0;
}

/*
 * Tie an answer to its request: its status, and k from its Call-ID
 * ("rl<runid>-<aor>@...") and CSeq number (round + 1, method REGISTER).
 * *ok: it is the right final answer for request k (status 200, top Via with
 * k's branch, a To tag, a Contact naming the binding). 0, or -1 when the
 * answer names no request of this run.
 */
static int
rl_parse_answer(const char *p, size_t len, unsigned *code, uint64_t *k, int *ok,
                uint64_t *cseqp)
{
	const char *v, *vend, *q;
	char tag[48];
	size_t vl, tl;
	uint64_t aor, cseq, bk;

	*ok = 0;
	if (len < 12 || memcmp(p, "SIP/2.0 ", 8) != 0)
		return -1;
	if (p[8] < '1' || p[8] > '6' || p[9] < '0' || p[9] > '9' ||
	    p[10] < '0' || p[10] > '9')
		return -1;
	*code =
	    (unsigned)((p[8] - '0') * 100 + (p[9] - '0') * 10 + (p[10] - '0'));
	/* Call-ID: our run, the AOR */
	if ((v = rl_hdr(p, len, "Call-ID", 'i', &vl)) == NULL)
		return -1;
	vend = v + vl;
	tl = (size_t)snprintf(tag, sizeof(tag), "rl%s-", runid);
	if (vl <= tl || memcmp(v, tag, tl) != 0 ||
	    rl_num(v + tl, vend, &aor, &q) == -1 || q >= vend || *q != '@' ||
	    aor < opts.base)
		return -1;
	/* CSeq: the round */
	if ((v = rl_hdr(p, len, "CSeq", '\0', &vl)) == NULL)
		return -1;
	vend = v + vl;
	if (rl_num(v, vend, &cseq, &q) == -1 || cseq == 0)
		return -1;
	while (q < vend && (*q == ' ' || *q == '\t'))
		q++;
	if ((size_t)(vend - q) != 8 || memcmp(q, "REGISTER", 8) != 0)
		return -1;
	if (opts.aors) {
		if (aor - opts.base >= opts.aors)
			return -1;
		*k = (cseq - 1) * opts.aors + (aor - opts.base);
	} else {
		if (cseq != 1 && !(opts.auth && cseq == 2))
			return -1;
		*k = aor - opts.base;
	}
	*cseqp = cseq;
	if (*code != 200)
		return 0;
	/* The right 200: the top Via is the request's (branch of k)... */
	if ((v = rl_hdr(p, len, "Via", 'v', &vl)) == NULL)
		return 0;
	vend = v + vl;
	tl = (size_t)snprintf(tag, sizeof(tag), "branch=z9hG4bK-rl%s-", runid);
	if ((q = memmem(v, vl, tag, tl)) == NULL ||
	    rl_num(q + tl, vend, &bk, &q) == -1 || bk != *k)
		return 0;
	if (opts.auth && cseq == 2) {
		if (vend - q < 2 || memcmp(q, ".2", 2) != 0)
			return 0;
		q += 2;
	}
	if (q < vend && *q != ';' && *q != ',' && *q != ' ')
		return 0;
	/* ... To has a tag ... */
	if ((v = rl_hdr(p, len, "To", 't', &vl)) == NULL ||
	    memmem(v, vl, ";tag=", 5) == NULL)
		return 0;
	/* ... and a Contact lists the binding (its user, the IMSI). */
	tl = (size_t)snprintf(tag, sizeof(tag), "<sip:%015llu@",
	                      (unsigned long long)(1010000000000ull + aor));
	if ((v = rl_hdr(p, len, "Contact", 'm', &vl)) == NULL ||
	    memmem(v, vl, tag, tl) == NULL)
		return 0;
	*ok = 1;
	return 0;
}

/*
 * -A: the answer to the 401 of request k (its WWW-Authenticate in the
 * response p[0..len)) into r->nonce and r->resp. 0, or -1 when the
 * challenge cannot be answered.
 */
static int
rl_challenge(struct rl_req *r, uint64_t k, const char *p, size_t len)
{
	char user[128];
	const char *v, *n, *e;
	size_t vl;
	uint64_t aor = opts.base + k;
	sip_str dom = {opts.domain, strlen(opts.domain)};
	sip_str uri, un, nonce;
	char ubuf[160], cn[16];

	if ((v = rl_hdr(p, len, "WWW-Authenticate", '\0', &vl)) == NULL ||
	    (n = memmem(v, vl, "nonce=\"", 7)) == NULL)
		return -1;
	n += 7;
	if ((e = memchr(n, '"', (size_t)(v + vl - n))) == NULL ||
	    (size_t)(e - n) >= sizeof(r->nonce))
		return -1;
	memcpy(r->nonce, n, (size_t)(e - n));
	r->nonce[e - n] = '\0';
	nonce = (sip_str){r->nonce, (size_t)(e - n)};
	/* Digest: the user part, as softphones send it; AKA: the IMPI */
	snprintf(user, sizeof(user), "%015llu%s%s",
	         1010000000000ull + (unsigned long long)aor,
	         opts.auth == 2 ? "@" : "", opts.auth == 2 ? opts.domain : "");
	un = (sip_str){user, strlen(user)};
	snprintf(ubuf, sizeof(ubuf), "sip:%s", opts.domain);
	uri = (sip_str){ubuf, strlen(ubuf)};
	snprintf(cn, sizeof(cn), "rl%s", runid);
	return bench_auth_response(opts.auth == 2, un, dom, uri, nonce,
	                           (sip_str){cn, strlen(cn)}, r->resp);
}

/* Handle one answer. Returns 1 when request k must be sent now (-A: the
 * answer to its challenge), else 0. */
static int
rl_answer(const char *p, size_t len, uint64_t t_rx, uint64_t t_steady0,
          uint64_t t_steady1, uint64_t *kout)
{
	struct rl_req *r;
	unsigned code;
	uint64_t k, us, cseq = 1;
	int ok;

	if (rl_parse_answer(p, len, &code, &k, &ok, &cseq) == -1) {
		st.stray++;
		return 0;
	}
	r = &ring[k & ring_mask];
	if (r->k != k || r->state != RL_PENDING ||
	    (opts.auth && cseq != (uint64_t)r->phase + 1)) {
		if (code >= 200)
			st.dup++;
		return 0;
	}
	if (code < 200) {
		st.prov++;
		return 0;
	}
	if (opts.auth && code == 401 && r->phase == 0 &&
	    rl_challenge(r, k, p, len) == 0) {
		st.challenges++;
		r->phase = 1;
		r->t_chal = t_rx;
		r->level = 0;
		r->retrans = 0;
		rl_queue_push(&queues[0], (uint32_t)k,
		              rl_now() + (uint64_t)opts.t1_ms * 1000000ull);
		*kout = k;
		return 1;
	}
	st.answers++;
	st.cls[code / 100]++;
	if (code >= 300)
		st.fail_status++;
	else if (!ok)
		st.fail_bad++;
	else {
		st.ok++;
		if (t_rx >= t_steady0 && t_rx < t_steady1)
			st.ok_steady++;
		if (opts.auth && r->t_chal > r->t_first && t_rx > r->t_chal) {
			st.hist_c[rl_hist_idx((r->t_chal - r->t_first) /
			                      1000)]++;
			st.hist_a[rl_hist_idx((t_rx - r->t_chal) / 1000)]++;
			st.legs_n++;
		}
	}
	r->state = RL_DONE;
	us = t_rx > r->t_first ? (t_rx - r->t_first) / 1000 : 0;
	st.hist[rl_hist_idx(us)]++;
	if (opts.slow_us > 0 && us >= opts.slow_us)
		fprintf(stderr, "#slow %.6f %.3f %" PRIu64 "\n",
		        (double)(t_rx - mono_off) / 1e9, us / 1000.0, k);
	st.lat_sum += us;
	st.lat_n++;
	if (us > st.lat_max)
		st.lat_max = us;
	return 0;
}

/* Read every answer waiting on the socket. */
static void
rl_recv(int fd, uint64_t t_steady0, uint64_t t_steady1)
{
	static char bufs[RL_BATCH][RL_RECV_MAX];
	static char ctl[RL_BATCH][CMSG_SPACE(sizeof(struct timespec))];
	struct mmsghdr msgs[RL_BATCH];
	struct iovec iov[RL_BATCH];
	struct cmsghdr *c;
	struct timespec ts;
	uint64_t now, t, again[RL_BATCH];
	int i, n;
	unsigned nagain;

	for (;;) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < RL_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = RL_RECV_MAX;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctl[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		n = recvmmsg(fd, msgs, RL_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ECONNREFUSED) {
				st.recv_errors++;
				continue;
			}
			perror("regload: recvmmsg");
			exit(1);
		}
		now = rl_now();
		nagain = 0;
		for (i = 0; i < n; i++) {
			t = now;
			for (c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != NULL;
			     c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
				if (c->cmsg_level == SOL_SOCKET &&
				    c->cmsg_type == SCM_TIMESTAMPNS) {
					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					t = (uint64_t)ts.tv_sec *
					        1000000000ull +
					    (uint64_t)ts.tv_nsec;
				}
			}
			if (rl_answer(bufs[i], msgs[i].msg_len, t, t_steady0,
			              t_steady1, &again[nagain]))
				nagain++;
		}
		if (nagain > 0)
			rl_send(fd, again, nagain);
		if (n < RL_BATCH)
			return;
	}
}

/* Retransmit what is due, move on to the next Timer E interval, and give up
 * on requests past Timer F or out of retransmissions. */
static void
rl_timers(int fd, uint64_t now)
{
	uint64_t t1 = (uint64_t)opts.t1_ms * 1000000ull;
	uint64_t ivl[RL_LEVELS] = {t1, 2 * t1, 4 * t1, 4000000000ull};
	uint64_t ks[RL_BATCH];
	unsigned n = 0, lv;
	struct rl_queue *q;
	struct rl_req *r;
	uint32_t k;

	if (ivl[2] > ivl[3])
		ivl[2] = ivl[3];
	for (lv = 0; lv < RL_LEVELS; lv++) {
		q = &queues[lv];
		while (q->head != q->tail && q->due[q->head & q->mask] <= now) {
			k = q->k[q->head & q->mask];
			q->head++;
			r = &ring[k & ring_mask];
			if (r->k != k || r->state != RL_PENDING ||
			    r->level != lv ||
			    r->due != q->due[(q->head - 1) & q->mask])
				continue;
			if (now - r->t_first >= 64 * t1 ||
			    r->retrans >= opts.max_retrans) {
				/* Timer F: the transaction failed.  Left
				 * PENDING so a late answer is still seen as
				 * one, but no longer retransmitted. */
				r->level = RL_LEVELS;
				continue;
			}
			r->retrans++;
			st.retrans++;
			r->level = lv + 1 < RL_LEVELS ? lv + 1 : RL_LEVELS - 1;
			rl_queue_push(&queues[r->level], k,
			              now + ivl[r->level]);
			ks[n++] = k;
			if (n == RL_BATCH) {
				rl_send(fd, ks, n);
				n = 0;
			}
		}
	}
	if (n > 0)
		rl_send(fd, ks, n);
}

/* Start request k: ring entry, first timer, send. */
static void
rl_start(uint64_t k, uint64_t now)
{
	struct rl_req *r = &ring[k & ring_mask];

	if (r->state == RL_PENDING)
		st.fail_timeout++; /* overwritten while never answered */
	r->k = (uint32_t)k;
	r->t_first = now;
	r->state = RL_PENDING;
	r->level = 0;
	r->retrans = 0;
	r->phase = 0;
	r->t_chal = 0;
	rl_queue_push(&queues[0], (uint32_t)k,
	              now + (uint64_t)opts.t1_ms * 1000000ull);
	st.sent++;
}

/* Copy the header line starting with name (or its compact form) from the
 * request p..end to out; returns the bytes written. */
static size_t
rl_copy_hdr(const char *p, const char *end, const char *name, char cname,
            char *out, size_t room)
{
	const char *l = p, *e;
	size_t nl = strlen(name), len;

	while (l < end) {
		e = memchr(l, '\n', (size_t)(end - l));
		if (e == NULL)
			return 0;
		e++;
		if ((((size_t)(e - l) > nl && strncasecmp(l, name, nl) == 0) ||
		     ((size_t)(e - l) > 2 && l[0] == cname &&
		      (l[1] == ':' || l[1] == ' '))) &&
		    memchr(l, ':', (size_t)(e - l)) != NULL) {
			len = (size_t)(e - l);
			if (len > room)
				return 0;
			memcpy(out, l, len);
			return len;
		}
		if (e - l <= 2)
			return 0; /* end of headers */
		l = e;
	}
	return 0;
}

/* -R: a do-nothing registrar that answers every request 200 OK at once,
 * echoing Via, From, To (with a tag), Call-ID, CSeq and Contact; it measures
 * the harness's own ceiling (regload plus the kernel's UDP path). */
static int
rl_responder(void)
{
	static char in[RL_BATCH][RL_RECV_MAX], out[RL_BATCH][RL_RECV_MAX];
	struct sockaddr_in from[RL_BATCH];
	struct mmsghdr rm[RL_BATCH], sm[RL_BATCH];
	struct iovec riov[RL_BATCH], siov[RL_BATCH];
	struct pollfd pfd;
	uint64_t t_stop, answered = 0;
	int fd, n, i, m, buf = 8 << 20;
	size_t len, c;
	char *o, *to;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd == -1 ||
	    bind(fd, (struct sockaddr *)&opts.dst, sizeof(opts.dst)) == -1) {
		perror("regload: responder socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	t_stop = rl_now() + (uint64_t)(opts.seconds * 1e9);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!stop_req && rl_now() < t_stop) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		memset(rm, 0, sizeof(rm));
		for (i = 0; i < RL_BATCH; i++) {
			riov[i].iov_base = in[i];
			riov[i].iov_len = RL_RECV_MAX;
			rm[i].msg_hdr.msg_iov = &riov[i];
			rm[i].msg_hdr.msg_iovlen = 1;
			rm[i].msg_hdr.msg_name = &from[i];
			rm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(fd, rm, RL_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		memset(sm, 0, sizeof(sm));
		for (i = 0, m = 0; i < n; i++) {
			const char *p = in[i], *end = in[i] + rm[i].msg_len;

			if (rm[i].msg_len < 8 || memcmp(p, "SIP/2.0", 7) == 0)
				continue;
			o = out[m];
			len = (size_t)snprintf(o, RL_RECV_MAX,
			                       "SIP/2.0 200 OK\r\n");
			len += rl_copy_hdr(p, end, "Via:", 'v', o + len,
			                   RL_RECV_MAX - len);
			len += rl_copy_hdr(p, end, "From:", 'f', o + len,
			                   RL_RECV_MAX - len);
			c = rl_copy_hdr(p, end, "To:", 't', o + len,
			                RL_RECV_MAX - len - 16);
			to = o + len;
			if (!opts.echo && c > 2 &&
			    memmem(to, c, "tag=", 4) == NULL) {
				memcpy(to + c - 2, ";tag=rl\r\n", 9);
				c += 7;
			}
			len += c;
			len += rl_copy_hdr(p, end, "Call-ID:", 'i', o + len,
			                   RL_RECV_MAX - len);
			len += rl_copy_hdr(p, end, "CSeq:", '\0', o + len,
			                   RL_RECV_MAX - len);
			if (!opts.echo)
				len += rl_copy_hdr(p, end, "Contact:", 'm',
				                   o + len, RL_RECV_MAX - len);
			if (len + 24 > RL_RECV_MAX)
				continue;
			len += (size_t)snprintf(o + len, RL_RECV_MAX - len,
			                        "Content-Length: 0\r\n\r\n");
			siov[m].iov_base = o;
			siov[m].iov_len = len;
			sm[m].msg_hdr.msg_iov = &siov[m];
			sm[m].msg_hdr.msg_iovlen = 1;
			sm[m].msg_hdr.msg_name = &from[i];
			sm[m].msg_hdr.msg_namelen = rm[i].msg_hdr.msg_namelen;
			m++;
		}
		if (m > 0 && sendmmsg(fd, sm, (unsigned)m, 0) > 0)
			answered += (uint64_t)m;
	}
	if (!opts.kv)
		fprintf(stderr, "regload: responder answered %" PRIu64 "\n",
		        answered);
	close(fd);
	return 0;
}

static void
rl_onsig(int sig)
{
	(void)sig;
	stop_req = 1;
}

/* This process's CPU time and run-queue wait, ns (/proc/self/schedstat). */
static void
rl_self_sched(uint64_t *cpu, uint64_t *wait)
{
	unsigned long long c = 0, w = 0;
	FILE *f = fopen("/proc/self/schedstat", "r");

	if (f != NULL) {
		if (fscanf(f, "%llu %llu", &c, &w) != 2)
			c = w = 0;
		fclose(f);
	}
	*cpu = c;
	*wait = w;
}

static uint64_t gen_cpu0, gen_wait0;

static void
rl_report(double elapsed, double steady)
{
	uint64_t gen_cpu, gen_wait;
	double gcpu, gwait;
	uint64_t p50 = rl_percentile(0.50), p99 = rl_percentile(0.99);
	uint64_t p999 = rl_percentile(0.999);
	uint64_t fails = st.fail_status + st.fail_timeout + st.fail_bad;
	double held = steady > 0 ? (double)st.ok_steady / steady : 0;
	double avg = st.lat_n ? (double)st.lat_sum / (double)st.lat_n : 0;

	rl_self_sched(&gen_cpu, &gen_wait);
	gcpu = elapsed > 0 ? (double)(gen_cpu - gen_cpu0) / 1e7 / elapsed : 0;
	gwait =
	    elapsed > 0 ? (double)(gen_wait - gen_wait0) / 1e7 / elapsed : 0;
	if (opts.kv) {
		printf("rate=%.0f sent=%" PRIu64 " ok=%" PRIu64 " fail=%" PRIu64
		       " timeout=%" PRIu64 " bad=%" PRIu64 " retrans=%" PRIu64
		       " held=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64
		       " p999_us=%" PRIu64 " max_us=%" PRIu64 " avg_us=%.0f"
		       " c2xx=%" PRIu64 " c3xx=%" PRIu64 " c4xx=%" PRIu64
		       " c5xx=%" PRIu64 " c6xx=%" PRIu64 " prov=%" PRIu64
		       " dup=%" PRIu64 " stray=%" PRIu64 " senderr=%" PRIu64
		       " gen_cpu=%.0f gen_wait=%.0f elapsed=%.2f"
		       " challenges=%" PRIu64,
		       opts.rate, st.sent, st.ok, fails, st.fail_timeout,
		       st.fail_bad, st.retrans, held, p50, p99, p999,
		       st.lat_max, avg, st.cls[2], st.cls[3], st.cls[4],
		       st.cls[5], st.cls[6], st.prov, st.dup, st.stray,
		       st.send_errors, gcpu, gwait, elapsed, st.challenges);
		if (opts.auth)
			printf(
			    " c50_us=%" PRIu64 " c99_us=%" PRIu64
			    " a50_us=%" PRIu64 " a99_us=%" PRIu64,
			    rl_quantile(st.hist_c, st.legs_n, st.lat_max, .5),
			    rl_quantile(st.hist_c, st.legs_n, st.lat_max, .99),
			    rl_quantile(st.hist_a, st.legs_n, st.lat_max, .5),
			    rl_quantile(st.hist_a, st.legs_n, st.lat_max, .99));
		printf("\n");
		return;
	}
	printf("target      %s:%u, %s\n", inet_ntoa(opts.dst.sin_addr),
	       ntohs(opts.dst.sin_port),
	       opts.rate > 0 ? "open loop" : "closed loop");
	if (opts.rate > 0)
		printf("offered     %.0f REGISTER/s\n", opts.rate);
	else
		printf("window      %u outstanding\n", opts.window);
	printf("sent        %" PRIu64 " REGISTER (+%" PRIu64
	       " retransmissions)\n",
	       st.sent, st.retrans);
	if (opts.auth)
		printf("challenged  %" PRIu64 " (401 answered with %s)\n",
		       st.challenges,
		       opts.auth == 2 ? "AKAv1-MD5" : "Digest MD5");
	printf("answered    %" PRIu64 " final: 2xx %" PRIu64 ", 3xx %" PRIu64
	       ", 4xx %" PRIu64 ", 5xx %" PRIu64 ", 6xx %" PRIu64 "; %" PRIu64
	       " provisional, %" PRIu64 " duplicate\n",
	       st.answers, st.cls[2], st.cls[3], st.cls[4], st.cls[5],
	       st.cls[6], st.prov, st.dup);
	printf("failures    %" PRIu64 " (%" PRIu64 " non-2xx, %" PRIu64
	       " not the right 200, %" PRIu64 " never answered)\n",
	       fails, st.fail_status, st.fail_bad, st.fail_timeout);
	printf("held        %.0f REGISTER/s (right 200s per second, steady "
	       "%.1f s)\n",
	       held, steady);
	printf("latency     p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, "
	       "max %.3f ms, mean %.3f ms\n",
	       p50 / 1000.0, p99 / 1000.0, p999 / 1000.0, st.lat_max / 1000.0,
	       avg / 1000.0);
	if (st.stray || st.send_errors || st.recv_errors)
		printf("other       %" PRIu64 " stray answers, %" PRIu64
		       " send errors, %" PRIu64 " ICMP errors\n",
		       st.stray, st.send_errors, st.recv_errors);
	printf("regload     %.0f%% of a core, %.0f%% waiting for it\n", gcpu,
	       gwait);
	printf("elapsed     %.2f s\n", elapsed);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in lsin;
	socklen_t slen;
	struct sigaction sa;
	struct timespec tmo;
	struct pollfd pfd;
	uint64_t t0, now, t_end, t_stop, t_steady0, t_steady1, next;
	uint64_t ks[RL_BATCH], limit, due, inflight_cap, ring_size;
	uint64_t last_prog;
	int fd, ch, one = 1, buf = 8 << 20;
	unsigned n;
	char *end;

	opts.rate = 0;
	opts.window = 100;
	opts.seconds = 10;
	opts.warmup = 1;
	opts.grace = 5;
	opts.t1_ms = 500;
	opts.max_retrans = 10;
	opts.cpu = -1;
	opts.domain = "ims.mnc001.mcc001.3gppnetwork.org";
	rl_parse_dst("127.0.0.1:5060", &opts.dst);

	while ((ch = getopt(argc, argv,
	                    "s:n:b:r:w:d:c:W:g:t:m:C:D:kqPR:EI:K:Z:A:h")) !=
	       -1) {
		switch (ch) {
		case 's':
			if (rl_parse_dst(optarg, &opts.dst) == -1) {
				fprintf(stderr, "regload: bad address %s\n",
				        optarg);
				return 2;
			}
			break;
		case 'n':
			opts.aors = strtoull(optarg, &end, 10);
			break;
		case 'b':
			opts.base = strtoull(optarg, &end, 10);
			break;
		case 'r':
			opts.rate = strtod(optarg, &end);
			break;
		case 'w':
			opts.window = (unsigned)strtoul(optarg, &end, 10);
			break;
		case 'd':
			opts.seconds = strtod(optarg, &end);
			break;
		case 'c':
			opts.count = strtoull(optarg, &end, 10);
			break;
		case 'W':
			opts.warmup = strtod(optarg, &end);
			break;
		case 'g':
			opts.grace = strtod(optarg, &end);
			break;
		case 't':
			opts.t1_ms = (unsigned)strtoul(optarg, &end, 10);
			break;
		case 'm':
			opts.max_retrans = (unsigned)strtoul(optarg, &end, 10);
			break;
		case 'C':
			opts.cpu = (int)strtol(optarg, &end, 10);
			break;
		case 'D':
			opts.domain = optarg;
			break;
		case 'I':
			opts.runid = optarg;
			break;
		case 'E':
			opts.echo = 1;
			break;
		case 'K':
			opts.first_k = strtoull(optarg, &end, 10);
			break;
		case 'Z':
			opts.slow_us = strtoull(optarg, &end, 10);
			break;
		case 'A':
			if (strcmp(optarg, "digest") == 0)
				opts.auth = 1;
			else if (strcmp(optarg, "aka") == 0)
				opts.auth = 2;
			else
				rl_usage();
			break;
		case 'k':
			opts.kv = 1;
			break;
		case 'q':
			opts.quiet = 1;
			break;
		case 'P':
			opts.print = 1;
			break;
		case 'R':
			opts.respond = 1;
			if (rl_parse_dst(optarg, &opts.dst) == -1) {
				fprintf(stderr, "regload: bad address %s\n",
				        optarg);
				return 2;
			}
			break;
		default:
			rl_usage();
		}
		if (ch != 'D' && ch != 's' && ch != 'R' && ch != 'k' &&
		    ch != 'q' && ch != 'P' && ch != 'I' && ch != 'E' &&
		    ch != 'A' && *end != '\0') {
			fprintf(stderr, "regload: bad number for -%c: %s\n", ch,
			        optarg);
			return 2;
		}
	}
	if (optind != argc)
		rl_usage();
	if ((ntohl(opts.dst.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr,
		        "regload: %s is not a loopback address "
		        "(127.0.0.0/8 only)\n",
		        inet_ntoa(opts.dst.sin_addr));
		return 2;
	}
	if (opts.auth && opts.aors != 0) {
		fprintf(stderr,
		        "regload: -A needs one AOR per request (no -n)\n");
		exit(2);
	}
	if (opts.respond) {
		struct sigaction rsa;

		memset(&rsa, 0, sizeof(rsa));
		rsa.sa_handler = rl_onsig;
		sigaction(SIGINT, &rsa, NULL);
		sigaction(SIGTERM, &rsa, NULL);
		if (opts.cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(opts.cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		return rl_responder();
	}
	if (opts.rate < 0 || opts.seconds <= 0 || opts.t1_ms == 0 ||
	    opts.t1_ms > 10000 || opts.seconds > 3600 || opts.grace < 0 ||
	    (opts.rate == 0 && opts.window == 0) || opts.rate > 10000000 ||
	    strlen(opts.domain) > 200 || opts.warmup < 0) {
		fprintf(stderr, "regload: option out of range\n");
		return 2;
	}
	if (opts.runid != NULL &&
	    (strlen(opts.runid) == 0 || strlen(opts.runid) > 8 ||
	     strspn(opts.runid, "0123456789abcdef") != strlen(opts.runid))) {
		fprintf(stderr, "regload: -I takes 1 to 8 hex digits\n");
		return 2;
	}
	if (opts.first_k > UINT32_MAX / 2) {
		fprintf(stderr, "regload: -K too large\n");
		return 2;
	}
	if (opts.warmup >= opts.seconds)
		opts.warmup = 0;
	if (opts.count == 0)
		opts.count = UINT32_MAX;

	if (opts.print) {
		char msg[RL_MSG_MAX];
		int len;

		strcpy(runid, "00000000");
		lport = 40000;
		len = rl_build(msg, sizeof(msg), 0);
		if (len < 0)
			return 1;
		fwrite(msg, 1, (size_t)len, stdout);
		fprintf(stderr, "regload: %d bytes\n", len);
		return 0;
	}

	if (opts.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opts.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == -1)
			perror("regload: sched_setaffinity");
	}

	/* Requests in flight at most: the window, or what the rate sends
	 * during Timer F (64*T1) plus the grace; the ring holds them all. */
	inflight_cap =
	    opts.rate > 0
	        ? (uint64_t)(opts.rate * (64.0 * opts.t1_ms / 1000.0 + 2))
	        : opts.window;
	if (opts.rate > 0 && inflight_cap > opts.rate * opts.seconds + 1)
		inflight_cap = (uint64_t)(opts.rate * opts.seconds + 1);
	if (inflight_cap > opts.count)
		inflight_cap = opts.count;
	for (ring_size = 1024;
	     ring_size < inflight_cap && ring_size < (1u << 24);
	     ring_size <<= 1)
		;
	ring = calloc(ring_size, sizeof(*ring));
	if (ring == NULL)
		goto nomem;
	ring_mask = ring_size - 1;
	for (n = 0; n < RL_LEVELS; n++)
		if (rl_queue_init(&queues[n], ring_size) == -1)
			goto nomem;

	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		srandom((unsigned)(ts.tv_nsec ^ getpid()));
		snprintf(runid, sizeof(runid), "%08lx",
		         (unsigned long)random() & 0xffffffffUL);
		if (opts.runid != NULL)
			snprintf(runid, sizeof(runid), "%s", opts.runid);
	}

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		perror("regload: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	memset(&lsin, 0, sizeof(lsin));
	lsin.sin_family = AF_INET;
	lsin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&lsin, sizeof(lsin)) == -1 ||
	    connect(fd, (struct sockaddr *)&opts.dst, sizeof(opts.dst)) == -1) {
		perror("regload: bind/connect");
		return 1;
	}
	slen = sizeof(lsin);
	getsockname(fd, (struct sockaddr *)&lsin, &slen);
	lport = ntohs(lsin.sin_port);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rl_onsig;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rl_self_sched(&gen_cpu0, &gen_wait0);
	if (opts.slow_us > 0) {
		struct timespec mt;

		clock_gettime(CLOCK_MONOTONIC, &mt);
		mono_off = rl_now() - ((uint64_t)mt.tv_sec * 1000000000ull +
		                       (uint64_t)mt.tv_nsec);
		fprintf(stderr, "#clock %.6f %.6f\n", (double)rl_now() / 1e9,
		        (double)(rl_now() - mono_off) / 1e9);
	}
	t0 = rl_now();
	t_stop = t0 + (uint64_t)(opts.seconds * 1e9);
	t_steady0 = t0 + (uint64_t)(opts.warmup * 1e9);
	t_steady1 = t_stop;
	t_end = 0;
	last_prog = t0;
	next = opts.first_k;
	pfd.fd = fd;
	pfd.events = POLLIN;

	for (;;) {
		now = rl_now();
		if (t_end == 0 &&
		    (now >= t_stop || next - opts.first_k >= opts.count ||
		     stop_req)) {
			/* Sending is over; the steady window ends here. */
			if (now < t_steady1)
				t_steady1 = now;
			t_end = now + (uint64_t)(opts.grace * 1e9);
		}
		if (t_end == 0) {
			if (opts.rate > 0) {
				due = (uint64_t)((double)(now - t0) / 1e9 *
				                 opts.rate) +
				      1;
				limit = due < opts.count ? due : opts.count;
			} else {
				limit = st.answers + opts.window;
				if (limit > opts.count)
					limit = opts.count;
			}
			limit += opts.first_k;
			while (next < limit) {
				for (n = 0; n < RL_BATCH && next < limit; n++) {
					rl_start(next, now);
					ks[n] = next++;
				}
				rl_send(fd, ks, n);
				now = rl_now();
			}
		} else if (st.answers + st.fail_timeout >= st.sent ||
		           now >= t_end || stop_req > 1) {
			break;
		}
		rl_timers(fd, now);
		rl_recv(fd, t_steady0, t_steady1);

		if (!opts.quiet && !opts.kv &&
		    now - last_prog >= 1000000000ull) {
			fprintf(stderr,
			        "regload: %.0f s sent %" PRIu64 " ok %" PRIu64
			        " retrans %" PRIu64 "\n",
			        (double)(now - t0) / 1e9, st.sent, st.ok,
			        st.retrans);
			last_prog = now;
		}

		/* Sleep until the next 1 ms slice, or an answer. */
		tmo.tv_sec = 0;
		tmo.tv_nsec = opts.rate > 0 || t_end
		                  ? 1000000 - (long)((rl_now() - t0) % 1000000)
		                  : 1000000;
		if (ppoll(&pfd, 1, &tmo, NULL) == -1 && errno != EINTR) {
			perror("regload: ppoll");
			return 1;
		}
		if (stop_req && t_end != 0)
			stop_req = 2;
	}
	now = rl_now();
	/* Whatever is still pending never got a final answer. */
	{
		uint64_t k, first = next > ring_size ? next - ring_size : 0;

		if (first < opts.first_k)
			first = opts.first_k;

		for (k = first; k < next; k++) {
			struct rl_req *r = &ring[k & ring_mask];
			if (r->k == (uint32_t)k && r->state == RL_PENDING)
				st.fail_timeout++;
		}
	}
	rl_report((double)(now - t0) / 1e9,
	          (double)(t_steady1 - t_steady0) / 1e9);
	close(fd);
	free(ring);
	for (n = 0; n < RL_LEVELS; n++) {
		free(queues[n].k);
		free(queues[n].due);
	}
	return (st.fail_status + st.fail_timeout + st.fail_bad) ? 3 : 0;
nomem:
	fprintf(stderr, "regload: out of memory\n");
	return 1;
}
