/*
 * t/fuzz/fuzz_sipd.c: libFuzzer target for the SIP service the workers run
 * (workers/sipd.c: policy, OPTIONS; the registrar workers/registrar.c and
 * its data layer schema/db_reg.c; the reg event workers/regnotify.c, its
 * SUBSCRIBEs and the NOTIFYs of the notifier (slot u0) with
 * schema/db_sub.c; the SIP library under them), through its
 * public API (workers/sipd.h) on a real SQLite database.
 *
 * One database per process, made in LLVMFuzzerInitialize() in a mkdtemp()
 * folder under /tmp (db_open + db_migrate, durability normal, as afd runs)
 * and removed at exit. Each input starts from empty tables (so an input
 * reproduces alone) and is cut into at most FZ_MAX_PARTS parts at every
 * FZ_SEP ("\n====\n"); the parts go through one batch
 * (sipd_batch_begin, sipd_handle per message, sipd_batch_end), the peers
 * taking turns: UDP 127.0.0.1, TCP 127.0.0.1, UDP [::1], TCP [2001:db8::1].
 * A UDP part is one datagram; a TCP part is cut with sip_stream_frame() as
 * the TCP worker does (CRLF keep-alives are the worker's; a connection the
 * service closes gets nothing more). Control parts end the batch and start
 * another: "!batch"; "!aging" first makes every binding expired (an
 * expired row a REGISTER meets before the sweeper); "!sweep" first runs
 * sipd_sweep() (the sweeper, the removal hook).
 *
 * Invariants (abort on violation): sipd_handle() never asks to close a UDP
 * "connection"; never more final answers than messages; afd's own requests
 * (NOTIFY) have no bare CR or LF, one Content-Length equal to the body and
 * parse as requests; a kick of the notifier carries no bytes; every
 * answer has a
 * status line, no bare CR or LF in its header section, exactly one
 * Content-Length equal to the length of its body, and parses with
 * sip_parse() as that response over its transport (except an answer to a
 * request that did not parse: it copies the broken field, e.g. "CSeq: x
 * OPTIONS", and its status is the parser's); the talloc block count
 * under the service returns to its baseline at each batch's start, once
 * the transactions afd started (NOTIFYs, nobody answers them here) are
 * run to their end by timers an hour later (Timer F: 408, which removes
 * the subscription); the
 * removal hook only sees bindings with an AOR and a contact.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

#include "util/log.h"
#include "schema/db.h"
#include "sip/sip.h"
#include "workers/registrar.h"
#include "workers/sipd.h"

#define FZ_SEP "\n====\n"
#define FZ_MAX_PARTS 8
#define FZ_DOMAIN "ims.mnc000.mcc000.3gppnetwork.org"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct conf fz_conf;
static char fz_dir[64];
static struct sipd *fz_sd;
static struct sip_peer fz_peers[4];
static size_t fz_base; /* talloc blocks under fz_sd at a batch's start */
static unsigned long fz_removed;

/* Remove the database files and their folder (at exit, and on a crash:
 * the reproducer does not need them). */
static void
fz_rmdir(void)
{
	static const char *const f[] = {"afd.db", "afd.db-wal", "afd.db-shm"};
	char p[128];

	if (fz_dir[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fz_dir, f[i]);
		unlink(p);
	}
	rmdir(fz_dir);
	fz_dir[0] = '\0';
}

static void
fz_fail(const char *what, const char *buf, size_t len)
{
	fprintf(stderr, "fuzz_sipd: %s\n", what);
	if (buf != NULL)
		fprintf(stderr, "---\n%.*s\n---\n", (int)len, buf);
	fz_rmdir();
	abort();
}

static void
fz_peer(struct sip_peer *p, int v6, const char *ip, uint16_t port,
        enum sip_transport tp, const char *slot, uint64_t conn)
{
	memset(p, 0, sizeof(*p));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->addr;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		p->addrlen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&p->addr;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		p->addrlen = sizeof(*s4);
	}
	p->tp = tp;
	if (slot != NULL)
		snprintf(p->slot, sizeof(p->slot), "%s", slot);
	p->conn_id = conn;
}

static void
fz_removal(void *arg, const struct db_binding *b, enum reg_why why)
{
	if (b->aor == NULL || b->contact == NULL)
		fz_fail("removal hook: binding without AOR or contact", NULL,
		        0);
	if (reg_why_event(why) == NULL)
		fz_fail("removal hook: no event", NULL, 0);
	fz_removed++;
}

static void
fz_cleanup(void)
{
	TALLOC_FREE(fz_sd);
	fz_rmdir();
}

/* End every transaction the service holds (their timers run an hour
 * ahead): the server transactions of a UDP batch live 32 s, and the
 * memory check compares what is left with the baseline. What their timers
 * send (none: no client transactions here) is checked like any output. */
static void fz_check_out(const struct sipd_out *o);

static void
fz_expire_txns(void)
{
	const struct sipd_out *out;
	int n;

	sipd_batch_begin(fz_sd);
	sipd_timers(fz_sd, sipd_now_ms() + 3600 * 1000);
	n = sipd_batch_end(fz_sd, &out);
	for (int i = 0; i < n; i++)
		fz_check_out(&out[i]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conf *c = &fz_conf;
	sqlite3 *db;

	log_level = getenv("FUZZ_SIPD_LOG") ? LOG_L_TRACE : LOG_L_ERROR;
	snprintf(fz_dir, sizeof(fz_dir), "/tmp/afd-fuzz-XXXXXX");
	if (mkdtemp(fz_dir) == NULL) {
		fz_dir[0] = '\0';
		fz_fail("mkdtemp failed", NULL, 0);
	}
	atexit(fz_cleanup);
	__sanitizer_set_death_callback(fz_rmdir);
	/* afd's defaults, but for the capture's domain and a temporary
	 * database */
	conf_defaults(c);
	snprintf(c->domain, sizeof(c->domain), "%s", FZ_DOMAIN);
	snprintf(c->database, sizeof(c->database), "%s/afd.db", fz_dir);
	snprintf(c->run_dir, sizeof(c->run_dir), "%s", fz_dir);
	c->log_level = log_level;
	c->max_message = 8192;
	snprintf(c->realm, sizeof(c->realm), "%s", c->domain);
	if ((db = db_open(c)) == NULL || db_migrate(db) == -1)
		fz_fail("cannot create the database", NULL, 0);
	db_close(db);
	if ((fz_sd = sipd_new(NULL, c, "u0")) == NULL)
		fz_fail("sipd_new failed", NULL, 0);
	reg_set_removal_hook(sipd_reg(fz_sd), fz_removal, NULL);
	fz_peer(&fz_peers[0], 0, "127.0.0.1", 40000, SIP_TP_UDP, NULL, 0);
	fz_peer(&fz_peers[1], 0, "127.0.0.1", 40001, SIP_TP_TCP, "t3", 77);
	fz_peer(&fz_peers[2], 1, "::1", 40002, SIP_TP_UDP, NULL, 0);
	fz_peer(&fz_peers[3], 1, "2001:db8::1", 40003, SIP_TP_TCP, "t1", 78);
	/* A warm-up binding, made and removed, and the end of its
	 * transactions: what the service keeps for its life (the transaction
	 * table's heap, the transaction object's callback array) exists
	 * before the baseline. Then a warm-up subscription, its NOTIFY run
	 * to Timer F (the NOTIFY queues' table, afd's client transactions). */
#define FZ_WARM(b, cseq, exp)                                                  \
	"REGISTER sip:" FZ_DOMAIN " SIP/2.0\r\n"                               \
	"Via: SIP/2.0/UDP 127.0.0.1:40000;rport;branch=z9hG4bK-" b "\r\n"      \
	"Max-Forwards: 70\r\nFrom: <sip:warm@" FZ_DOMAIN ">;tag=w\r\n"         \
	"To: <sip:warm@" FZ_DOMAIN ">\r\nCall-ID: warm\r\n"                    \
	"CSeq: " cseq " REGISTER\r\nContact: <sip:warm@127.0.0.1:40000>\r\n"   \
	"Expires: " exp "\r\nContent-Length: 0\r\n\r\n"
	static const char *const warm[] = {
	    FZ_WARM("warm1", "1", "3600"), FZ_WARM("warm2", "2", "0"),
	    "SUBSCRIBE sip:w@" FZ_DOMAIN " SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKwarm\r\n"
	    "Max-Forwards: 70\r\nFrom: <sip:w@" FZ_DOMAIN ">;tag=w\r\n"
	    "To: <sip:w@" FZ_DOMAIN ">\r\nCall-ID: warm\r\n"
	    "CSeq: 1 SUBSCRIBE\r\nContact: <sip:w@10.0.0.9>\r\n"
	    "Event: reg\r\nContent-Length: 0\r\n\r\n"};
	const struct sipd_out *out;
	for (int i = 0; i < 3; i++) {
		sipd_batch_begin(fz_sd);
		sipd_handle(fz_sd, warm[i], strlen(warm[i]), &fz_peers[0]);
		sipd_batch_end(fz_sd, &out);
	}
	fz_expire_txns();
	sipd_batch_begin(fz_sd);
	fz_base = talloc_total_blocks(fz_sd);
	return 0;
}

/* The statuses of the batch's requests that failed sip_parse() but are
 * answered (the parser's 400, 505, ...). Such an answer copies the broken
 * field (RFC 3261 8.2.6.2; RFC 4475 wants 400s for them), so it may not
 * parse itself. */
static int fz_lenient[64];
static int fz_nlenient;

/* The answer's own structure, without the parser: "SIP/2.0 NNN ", no bare
 * CR or LF in the header section, exactly one Content-Length equal to the
 * length of the body. Returns the status. */
static int
fz_check_shape(const struct sipd_out *o)
{
	const char *p = o->buf, *end = o->buf + o->len, *eoh, *line;
	int status, ncl = 0;
	unsigned long cl = 0;

	if (o->len < 14 || memcmp(p, "SIP/2.0 ", 8) != 0 ||
	    sscanf(p + 8, "%3d", &status) != 1 || status < 100 ||
	    status > 699 || p[11] != ' ')
		fz_fail("answer without a status line", o->buf, o->len);
	if ((eoh = memmem(p, o->len, "\r\n\r\n", 4)) == NULL)
		fz_fail("answer without an empty line", o->buf, o->len);
	for (const char *q = p; q < eoh + 2; q++) {
		if ((*q == '\r' && q[1] != '\n') ||
		    (*q == '\n' && (q == p || q[-1] != '\r')))
			fz_fail("bare CR or LF in an answer", o->buf, o->len);
	}
	for (line = memchr(p, '\n', (size_t)(eoh + 2 - p)) + 1; line < eoh + 2;
	     line = memchr(line, '\n', (size_t)(end - line)) + 1) {
		if (strncasecmp(line, "Content-Length:", 15) == 0 ||
		    strncasecmp(line, "l:", 2) == 0) {
			ncl++;
			cl = strtoul(strchr(line, ':') + 1, NULL, 10);
		}
	}
	if (ncl != 1 || cl != (unsigned long)(end - (eoh + 4)))
		fz_fail("not one Content-Length equal to the body", o->buf,
		        o->len);
	return status;
}

/* One answer: its shape, and it parses as a response over its transport
 * (unless it answers a request that did not parse, see fz_lenient). */
static void
fz_check_out(const struct sipd_out *o)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct sip_msg *m = NULL;
	struct sip_err err;
	int status, i;

	if (o->kind == SIPD_OUT_KICK) {
		if (o->len != 0)
			fz_fail("a kick with bytes", o->buf, o->len);
		goto done;
	}
	if (o->buf == NULL || o->len == 0)
		fz_fail("empty answer", NULL, 0);
	if (o->len > 7 && memcmp(o->buf, "NOTIFY ", 7) == 0) {
		/* afd's own request: its shape, and it parses */
		const char *eoh = memmem(o->buf, o->len, "\r\n\r\n", 4);
		if (eoh == NULL)
			fz_fail("NOTIFY without an empty line", o->buf, o->len);
		for (const char *q = o->buf; q < eoh + 2; q++)
			if ((*q == '\r' && q[1] != '\n') ||
			    (*q == '\n' && q[-1] != '\r'))
				fz_fail("bare CR or LF in a NOTIFY", o->buf,
				        o->len);
		if (sip_parse(tmp, o->buf, o->len, o->to.tp, o->len + 1, &m,
		              &err) != 0 ||
		    m == NULL || !m->is_request || m->mid != SIP_M_NOTIFY ||
		    m->content_length < 0 ||
		    (size_t)m->content_length != m->body.len)
			fz_fail("NOTIFY does not parse", o->buf, o->len);
		goto done;
	}
	if (o->to.tp != SIP_TP_UDP && o->to.tp != SIP_TP_TCP)
		fz_fail("answer without a transport", o->buf, o->len);
	if (o->len == 2 && memcmp(o->buf, "\r\n", 2) == 0)
		goto done; /* a keep-alive pong */
	status = fz_check_shape(o);
	if (sip_parse(tmp, o->buf, o->len, o->to.tp, o->len + 1, &m, &err) !=
	        0 ||
	    m == NULL) {
		for (i = 0; i < fz_nlenient && fz_lenient[i] != status; i++)
			;
		if (i < fz_nlenient)
			goto done;
		fprintf(stderr, "fuzz_sipd: answer does not parse: %d %s\n",
		        err.status, err.reason);
		fz_fail("answer does not parse", o->buf, o->len);
	}
	if (m->is_request || m->status != status)
		fz_fail("answer is not that response", o->buf, o->len);
	if (m->content_length < 0 || (size_t)m->content_length != m->body.len ||
	    m->body.s + m->body.len != o->buf + o->len)
		fz_fail("Content-Length differs from the body", o->buf, o->len);
done:
	talloc_free(tmp);
}

/* Hand one message to the service; note the status of a bad request. */
static int
fz_handle(const char *buf, size_t len, const struct sip_peer *p)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct sip_msg *m = NULL;
	struct sip_err err;

	memset(&err, 0, sizeof(err));
	if (sip_parse(tmp, buf, len, p->tp, fz_conf.max_message, &m, &err) ==
	        -1 &&
	    err.status != 0 && fz_nlenient < 64)
		fz_lenient[fz_nlenient++] = err.status;
	talloc_free(tmp);
	return sipd_handle(fz_sd, buf, len, p);
}

/* Is output o a final answer (not a 1xx such as an INVITE's 100 Trying,
 * not afd's own request, not a kick)? */
static int
fz_is_answer(const struct sipd_out *o)
{
	return o->kind == SIPD_OUT_SEND && o->len >= 9 &&
	       memcmp(o->buf, "SIP/2.0 ", 8) == 0 && o->buf[8] != '1';
}

static void
fz_batch_end(int nmsg)
{
	const struct sipd_out *out;
	int n = sipd_batch_end(fz_sd, &out), answers = 0;

	for (int i = 0; i < n; i++)
		answers += fz_is_answer(&out[i]);
	if (n < 0 || answers > nmsg)
		fz_fail("more answers than messages", NULL, 0);
	for (int i = 0; i < n; i++)
		fz_check_out(&out[i]);
	fz_nlenient = 0;
	/* the transactions afd started end by their timers (an hour on) */
	fz_expire_txns();
	sipd_batch_begin(fz_sd);
	if (talloc_total_blocks(fz_sd) != fz_base) {
		fprintf(stderr, "fuzz_sipd: %zu talloc blocks, baseline %zu\n",
		        talloc_total_blocks(fz_sd), fz_base);
		fz_fail("memory did not return after a batch", NULL, 0);
	}
}

/* Hand one part to the service as peer p; returns the messages handed. */
static int
fz_part(const char *buf, size_t len, const struct sip_peer *p)
{
	size_t skip;
	int pings, n = 0;
	ssize_t r;

	if (p->tp == SIP_TP_UDP) {
		if (fz_handle(buf, len, p) != 0)
			fz_fail("sipd_handle asked to close UDP", buf, len);
		return 1;
	}
	while (len > 0) {
		r = sip_stream_frame(buf, len, fz_conf.max_message, &skip,
		                     &pings);
		if (r < 0)
			break; /* the worker closes the connection */
		if (r == 0) {
			if (skip == 0)
				break; /* an incomplete message: wait */
			buf += skip;
			len -= skip;
			continue;
		}
		n++;
		if (fz_handle(buf + skip, (size_t)r, p) != 0)
			break; /* the service closed the connection */
		buf += skip + (size_t)r;
		len -= skip + (size_t)r;
	}
	return n;
}

/* A control part: end the batch, then "!batch" nothing more, "!aging" age
 * every binding past its expiry (expired rows a REGISTER meets before the
 * sweeper), "!sweep" run the sweeper. 1 if it was one. */
static int
fz_control(const char *buf, size_t len, int *nmsg)
{
	int n;

	if (len != 6 ||
	    (memcmp(buf, "!batch", 6) != 0 && memcmp(buf, "!sweep", 6) != 0 &&
	     memcmp(buf, "!aging", 6) != 0))
		return 0;
	fz_batch_end(*nmsg);
	*nmsg = 0;
	if (buf[1] == 'a' &&
	    sqlite3_exec(sipd_db(fz_sd),
	                 "UPDATE registrations SET expires_at = "
	                 "expires_at - 1000000",
	                 NULL, NULL, NULL) != SQLITE_OK)
		fz_fail("cannot age the bindings", NULL, 0);
	if (buf[1] == 's') {
		if ((n = sipd_sweep(fz_sd)) < 0)
			fz_fail("sipd_sweep failed", NULL, 0);
		/* its NOTIFYs leave, and memory returns (checked there) */
		fz_batch_end(0);
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data, *end = buf + size;
	const size_t seplen = sizeof(FZ_SEP) - 1;
	int nparts = 0, nmsg = 0;

	/* every input from empty tables: it reproduces alone */
	if (sqlite3_exec(sipd_db(fz_sd),
	                 "DELETE FROM registrations; "
	                 "DELETE FROM reg_subscriptions; "
	                 "DELETE FROM reg_sub_events;",
	                 NULL, NULL, NULL) != SQLITE_OK)
		fz_fail("cannot empty the tables", NULL, 0);
	while (buf <= end && nparts < FZ_MAX_PARTS) {
		const char *q =
		    memmem(buf, (size_t)(end - buf), FZ_SEP, seplen);
		size_t len;

		if (q == NULL || nparts == FZ_MAX_PARTS - 1)
			q = end;
		len = (size_t)(q - buf);
		if (!fz_control(buf, len, &nmsg))
			nmsg += fz_part(buf, len, &fz_peers[nparts % 4]);
		nparts++;
		buf = q + seplen;
	}
	fz_batch_end(nmsg);
	return 0;
}
