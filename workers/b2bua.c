/*
 * workers/b2bua.c: calls between registered phones (see b2bua.h).
 *
 * Shape of every event (a request of a phone, an answer of the callee, a
 * timer): open a unit of work (a savepoint of the batch's transaction),
 * load the dialogs row, decide, save the row, and queue the messages the
 * decision sends as "acts" that run in the unit's after-commit callback.
 * When the change is lost (rollback, failed commit) no act runs; the
 * request that caused it is answered 500 instead.
 *
 * Legs: A is the caller's (afd answers it as a UAS; afd's To tag on it is
 * the one sipd derives for every answer from Call-ID and From tag, so it
 * is the same after a restart; a forked call's fork N is an early dialog
 * of its own, that tag and "-N", b2b_fork_tag), B the callee's (afd's own
 * requests: new Call-ID, afd's From tag, CSeq from 1, Via branches naming
 * this slot).
 *
 * Forking: a callee with several live bindings gets one INVITE per
 * binding (one Call-ID and From tag, a branch each), each a dialog_forks
 * row; the dialogs row's B-leg columns follow the phone heard from last
 * and, once one answers 2xx, the winner (b2b_fork_resp). With one binding
 * there are no fork rows and the B-leg is the dialogs row alone. A pager
 * MESSAGE to several bindings is forked the same way but recorded nowhere
 * (b2b_pager_fork: in memory, as the single MESSAGE's relay is).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "schema/db_dialog.h"
#include "schema/db_reg.h"
#include "schema/db_txn.h"
#include "sip/txn.h"
#include "util/log.h"
#include "workers/b2bua.h"
#include "workers/method.h"
#include "workers/registrar.h"
#include "workers/sipd.h"

#define B2B_RECOVER_MS 300 /* a replacement looks at its calls after this */
#define B2B_SWEEP_LIMIT 64 /* stale dialogs ended per sweep */
#define B2B_TOUCHED 64     /* see b2b_touch */
#define B2B_MAX_FORKS 16   /* bindings of a callee called in parallel */

struct b2bua {
	struct sipd *sd;
	const struct conf *c;
	struct db_txn *dbt;
	struct db_dialog_ctx *dc;
	struct db_reg *dr;
	char host[300]; /* afd's "ip:port" in Via and Contact */
	int recovered;
	uint64_t next_check; /* ms: ring deadlines, recovery */
	struct b2b_rtx *rtx; /* 2xx to phones over UDP, until their ACK */
	int64_t touched[B2B_TOUCHED]; /* dialogs changed before recovery */
	int ntouched;
	int fresh;      /* afd has just started: no predecessor to take over */
	time_t started; /* this worker's start */
	/* branches of forks whose CANCEL waits for a provisional (RFC 3261
	 * 9.1; dialog_forks.state 'cancel_owed' is the record, this only
	 * tells which 100s need a look at it) */
	char **wait;
	int nwait;
};

/*
 * A 2xx to an INVITE of a phone over UDP, sent again until the ACK (RFC
 * 3261 13.3.1.4, RFC 6026 8.1: the TU's job, not the transaction's): T1
 * doubling up to T2, given up after 64*T1: the call then ends with BYE to
 * both phones (RFC 3261 13.3.1.4). In memory only: a replacement worker
 * rebuilds it from the dialogs row of each call of its slot still in
 * stage 'answered' (b2b_rtx_resume).
 */
struct b2b_rtx {
	struct b2b_rtx *next;
	char *call_id;        /* the INVITE's: an ACK with it stops this */
	struct b2b_act *resp; /* the answer, as b2b_act_run sends it */
	uint64_t at, interval, give_up;
};

/* What a decision sends, once it is committed. */
enum b2b_act_kind {
	B2B_ACT_REQ,  /* a client transaction */
	B2B_ACT_RESP, /* an answer to a request received earlier */
	B2B_ACT_RAW   /* a message outside any transaction (ACK of a 2xx) */
};

struct b2b_act {
	enum b2b_act_kind kind;
	struct sip_peer
	    to; /* REQ, RAW: destination; RESP: where req came from */
	char *buf;
	size_t len;
	/* REQ */
	char branch[48];
	char method[16];
	unsigned flags;
	sipd_done_fn *done;
	void *arg;
	/* RESP: buf is the request answered */
	char *tag; /* afd's To tag in the answer (NULL: sipd's own) */
	int status;
	char *reason;
	char *hdrs;
	char *body;
	size_t bodylen;
	char *built; /* RESP: the answer built already (NULL: build it) */
	size_t builtlen;
	int again; /* RESP: a retransmission (b2b_rtx) */
	struct b2b_act *next;
};

struct b2b_acts {
	struct b2bua *b;
	struct b2b_act *head, **tail;
	/* when the change is lost: answer this request 500 */
	char *fail_req;
	size_t fail_len;
	struct sip_peer fail_from;
};

/* A client transaction's argument: what its answers are for. */
struct b2b_tx {
	struct b2bua *b;
	char leg;      /* the leg the request went out on: 'a' or 'b' */
	char *call_id; /* that leg's Call-ID (finds the row) */
	char *orig;    /* the phone's request it relays (NULL: afd's own) */
	size_t origlen;
	struct sip_peer orig_from;
	enum sip_method mid;
	char *branch; /* the B-leg INVITE's (which fork answers) */
};

static void b2b_act_run(struct b2bua *b, struct b2b_act *x);
static void b2b_invite_done(struct sipd *sd, void *arg, int status,
                            const struct sip_msg *resp);
static void b2b_relay_done(struct sipd *sd, void *arg, int status,
                           const struct sip_msg *resp);
static void b2b_ignore_done(struct sipd *sd, void *arg, int status,
                            const struct sip_msg *resp);
static int b2b_cancel_all(struct b2bua *b, struct b2b_acts *acts,
                          struct db_dialog *d, int again, time_t now,
                          int *waiting);
static int b2b_end_both(struct b2bua *b, struct b2b_acts *acts,
                        struct db_dialog *d, const char *reason, int status,
                        time_t now);
static int b2b_unit_begin(struct b2bua *b);
static int b2b_unit_end(struct b2bua *b, int mark, int ok,
                        struct b2b_acts *acts);

struct b2bua *
b2bua_new(TALLOC_CTX *ctx, struct sipd *sd, struct db_txn *dbt)
{
	const struct conf *c = sipd_conf(sd);
	const char *host = c->listen;
	struct b2bua *b;
	int v6;

	if ((b = talloc_zero(ctx, struct b2bua)) == NULL)
		goto oom;
	b->sd = sd;
	b->c = c;
	b->dbt = dbt;
	if ((b->dc = db_dialog_new(b, db_txn_db(dbt))) == NULL ||
	    (b->dr = db_reg_new(b, db_txn_db(dbt))) == NULL)
		goto oom;
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0)
		host = c->domain;
	v6 = strchr(host, ':') != NULL && host[0] != '[';
	snprintf(b->host, sizeof(b->host), "%s%s%s:%d", v6 ? "[" : "", host,
	         v6 ? "]" : "", c->port);
	b->next_check = sipd_now_ms() + B2B_RECOVER_MS;
	b->started = time(NULL);
	return b;
oom:
	log_warnx("b2bua: out of memory");
	talloc_free(b);
	return NULL;
}

/* ------------------------------------------------------------ helpers */

/* Remember that this worker itself changed dialog id (until its
 * recovery pass: what it did itself is not its predecessor's). */
static void
b2b_touch(struct b2bua *b, int64_t id)
{
	if (!b->recovered && b->ntouched < B2B_TOUCHED)
		b->touched[b->ntouched++] = id;
}

/* 1 when this worker changed dialog id since its start (or lost count). */
static int
b2b_touched(const struct b2bua *b, int64_t id)
{
	for (int i = 0; i < b->ntouched; i++)
		if (b->touched[i] == id)
			return 1;
	return b->ntouched >= B2B_TOUCHED; /* too busy to tell: hands off */
}

/* The data layer's writes, with b2b_touch. */
static int
b2b_insert(struct b2bua *b, struct db_dialog *d)
{
	int rc = db_dialog_insert(b->dc, d);

	if (rc == 0)
		b2b_touch(b, d->id);
	return rc;
}

static int
b2b_save(struct b2bua *b, struct db_dialog *d, time_t now)
{
	b2b_touch(b, d->id);
	return db_dialog_save(b->dc, d, now);
}

static int
b2b_end(struct b2bua *b, struct db_dialog *d, const char *reason, time_t now)
{
	b2b_touch(b, d->id);
	return db_dialog_end(b->dc, d, reason, now);
}

/* n random hex digits into out (n + 1 bytes). */
static void
b2b_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[32];

	if (n > 2 * sizeof(rnd))
		n = 2 * sizeof(rnd);
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)random();
	for (size_t i = 0; i < n; i++)
		out[i] = hex[(rnd[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[n] = '\0';
}

/* A peer as stored: "udp ip:port" or "tcp ip:port slot conn_id". */
static char *
b2b_peer_fmt(TALLOC_CTX *ctx, const struct sip_peer *p)
{
	char a[80];

	sipd_peer_str(p, a, sizeof(a));
	if (p->tp == SIP_TP_TCP)
		return talloc_asprintf(ctx, "tcp %s %s %llu", a, p->slot,
		                       (unsigned long long)p->conn_id);
	return talloc_asprintf(ctx, "udp %s", a);
}

/* A stored peer (b2b_peer_fmt) back into p: 0, or -1 when s is NULL or
 * malformed. */
static int
b2b_peer_parse(const char *s, struct sip_peer *p)
{
	char tp[4], addr[80], slot[8];
	unsigned long long id = 0;
	int n;

	if (s == NULL)
		return -1;
	n = sscanf(s, "%3s %79s %7s %llu", tp, addr, slot, &id);
	if (n < 2 || sipd_peer_parse(p, addr) == -1)
		return -1;
	if (strcmp(tp, "tcp") == 0) {
		if (n != 4)
			return -1;
		p->tp = SIP_TP_TCP;
		snprintf(p->slot, sizeof(p->slot), "%s", slot);
		p->conn_id = id;
	}
	return 0;
}

/* Parse a stored message (a_request, b_request) under ctx; NULL when it
 * does not parse (logged). */
static struct sip_msg *
b2b_parse(TALLOC_CTX *ctx, const char *raw)
{
	struct sip_msg *m = NULL;
	struct sip_err err;

	if (raw == NULL || sip_parse(ctx, raw, strlen(raw), SIP_TP_UDP,
	                             SIP_MAX_MSG_DEFAULT, &m, &err) == -1) {
		log_warnx("b2bua: a stored request does not parse");
		return NULL;
	}
	return m;
}

/* A NUL-terminated copy of s under ctx; NULL for an absent s. */
static char *
b2b_dup(TALLOC_CTX *ctx, sip_str s)
{
	return s.s ? sip_str_dup(ctx, s) : NULL;
}

/* 1 when the stored string a is exactly b (NULL a: never). */
static int
b2b_streq(const char *a, sip_str b)
{
	return a != NULL && strlen(a) == b.len && memcmp(a, b.s, b.len) == 0;
}

/* The Via transport of a request to p. */
static const char *
b2b_tp(const struct sip_peer *p)
{
	return p->tp == SIP_TP_TCP ? "TCP" : "UDP";
}

/* The first Contact URI of m, under ctx, or NULL. */
static char *
b2b_contact(TALLOC_CTX *ctx, const struct sip_msg *m)
{
	struct sip_addr *a = NULL;

	if (sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a) == -1 ||
	    a == NULL || a->star)
		return NULL;
	return b2b_dup(ctx, a->uri.raw);
}

/* The values of m's header fields id (Record-Route, Route), in order,
 * comma-separated, under ctx; NULL when it has none. */
static char *
b2b_hdr_join(TALLOC_CTX *ctx, const struct sip_msg *m, enum sip_hdr_id id)
{
	char *s = NULL;

	for (const struct sip_hdr *h = m->first[id]; h != NULL;
	     h = h->next_same)
		s = s ? talloc_asprintf_append(s, ", %.*s",
		                               SIP_STR_FMT(h->value))
		      : b2b_dup(ctx, h->value);
	return s;
}

/*
 * The route set a 1xx with a To tag or a 2xx of the callee gives afd's
 * B-leg as the UAC (RFC 3261 12.1.2): the response's Record-Route values
 * in reverse order, comma-separated, under ctx. NULL when it has none
 * (or they do not parse, which sip/check.c refuses before, or there
 * are more than 64, logged).
 */
static char *
b2b_rr_reversed(TALLOC_CTX *ctx, const struct sip_msg *resp)
{
	struct sip_addr *a, *v[64];
	char *s = NULL;
	int n = 0;

	if (resp->first[SIP_HDR_RECORD_ROUTE] == NULL ||
	    sip_msg_addrs(ctx, resp->first[SIP_HDR_RECORD_ROUTE], &a) == -1)
		return NULL;
	for (; a != NULL && n < (int)(sizeof(v) / sizeof(v[0])); a = a->next)
		v[n++] = a;
	if (a != NULL) {
		log_warnx("b2bua: a %d of the callee has more than %d "
		          "Record-Route values: its route set is not taken",
		          resp->status, n);
		return NULL;
	}
	while (n-- > 0) {
		s = s ? talloc_asprintf_append(s, ", %.*s",
		                               SIP_STR_FMT(v[n]->raw))
		      : talloc_asprintf(ctx, "%.*s", SIP_STR_FMT(v[n]->raw));
		if (s == NULL)
			return NULL;
	}
	return s;
}

/*
 * The B-leg's route set once the callee's 2xx has come, under ctx (RFC
 * 3261 13.2.2.4: recomputed from the 2xx): its Record-Route reversed
 * (b2b_rr_reversed); when it has none, the Route of afd's INVITE
 * (request, as stored: the binding's Path), so that the route set a 1xx
 * gave the early dialog does not outlive it. NULL for none.
 */
static char *
b2b_route_2xx(TALLOC_CTX *ctx, const struct sip_msg *resp, const char *request)
{
	char *rr = b2b_rr_reversed(ctx, resp);
	struct sip_msg *m;

	if (rr != NULL)
		return rr;
	if ((m = b2b_parse(ctx, request)) == NULL)
		return NULL;
	return b2b_hdr_join(ctx, m, SIP_HDR_ROUTE);
}

/* The headers a phone's message carries to the other leg. Renamed ones
 * have the new name second. */
static const char *const b2b_req_hdrs[][2] = {
    {"Accept", NULL},
    {"Accept-Contact", NULL},
    {"Reject-Contact", NULL},
    {"P-Preferred-Service", "P-Asserted-Service"},
    {"Allow", NULL},
    {"Supported", NULL},
    {"Require", NULL},
    {"P-Access-Network-Info", NULL},
    {"P-Early-Media", NULL},
    {"Privacy", NULL},
    {"Session-Expires", NULL},
    {"Min-SE", NULL},
    {"Content-Type", NULL},
    {"Content-Disposition", NULL},
    {"Content-Encoding", NULL},
    {"Subject", NULL},
    {"Event", NULL},
    {"Info-Package", NULL},
    {"Recv-Info", NULL},
    {"Reason", NULL},
    {"RAck", NULL},
    {NULL, NULL},
};

static const char *const b2b_resp_list[][2] = {
    {"Require", NULL},
    {"RSeq", NULL},
    {"Supported", NULL},
    {"Allow", NULL},
    {"Accept", NULL},
    {"Content-Type", NULL},
    {"Content-Disposition", NULL},
    {"Content-Encoding", NULL},
    {"P-Early-Media", NULL},
    {"P-Asserted-Identity", NULL},
    {"Privacy", NULL},
    {"Session-Expires", NULL},
    {"Min-SE", NULL},
    {"Reason", NULL},
    {"Retry-After", NULL},
    {"Warning", NULL},
    {"Unsupported", NULL},
    {"Recv-Info", NULL},
    {NULL, NULL},
};

/* Does field h carry header name? (long and compact names alike) */
static int
b2b_hdr_is(const struct sip_hdr *h, const char *name)
{
	enum sip_hdr_id id;

	if (sip_str_caseeq_lit(h->name, name))
		return 1;
	id = sip_hdr_id((sip_str){name, strlen(name)});
	return id != SIP_HDR_OTHER && h->id == id;
}

/* "Require: ..." without sec-agree (RFC 3329: the P-CSCF's); nothing
 * when no tag is left. */
static void
b2b_add_require(struct sip_buf *b, const char *name, sip_str v)
{
	sip_str it[32];
	int n = sip_split_tokens(v, it, 32), k = 0;

	for (int i = 0; i < n; i++) {
		if (it[i].len == 0 || sip_str_caseeq_lit(it[i], "sec-agree"))
			continue;
		sip_buf_addf(b, "%s%.*s",
		             k++ ? ", " : "Require: ", SIP_STR_FMT(it[i]));
	}
	(void)name;
	if (k > 0)
		sip_buf_add(b, "\r\n", 2);
}

/* Copy the fields of m named in list into b. rack_cseq: not 0, the CSeq
 * number a RAck gets on the other leg (RFC 3262 7.2: RAck names the
 * INVITE of its own leg). */
static void
b2b_copy_hdrs(struct sip_buf *b, const struct sip_msg *m,
              const char *const list[][2], uint32_t rack_cseq)
{
	for (const struct sip_hdr *h = m->hdrs; h != NULL; h = h->next) {
		for (int i = 0; list[i][0] != NULL; i++) {
			const char *out = list[i][1] ? list[i][1] : list[i][0];
			if (!b2b_hdr_is(h, list[i][0]))
				continue;
			if (strcmp(list[i][0], "Require") == 0) {
				b2b_add_require(b, out, h->value);
			} else if (strcmp(list[i][0], "RAck") == 0 &&
			           rack_cseq != 0) {
				unsigned long rseq = 0, cseq = 0;
				char meth[16] = "INVITE";
				char v[96];
				snprintf(v, sizeof(v), "%.*s",
				         SIP_STR_FMT(h->value));
				sscanf(v, "%lu %lu %15s", &rseq, &cseq, meth);
				sip_buf_addf(b, "RAck: %lu %u %s\r\n", rseq,
				             rack_cseq, meth);
			} else {
				sip_buf_addf(b, "%s: ", out);
				sip_buf_add_unfolded(b, h->value);
				sip_buf_add(b, "\r\n", 2);
			}
			break;
		}
	}
}

/* ------------------------------------------------------------ acts */

static struct b2b_acts *
b2b_acts_new(struct b2bua *b, const struct sip_msg *fail_req,
             const struct sip_peer *fail_from)
{
	struct b2b_acts *a = talloc_zero(db_txn_mem(b->dbt), struct b2b_acts);

	if (a == NULL)
		return NULL;
	a->b = b;
	a->tail = &a->head;
	if (fail_req != NULL) {
		a->fail_req = talloc_memdup(a, fail_req->buf, fail_req->len);
		a->fail_len = fail_req->len;
		a->fail_from = *fail_from;
	}
	return a;
}

/* A new act of kind at the end of a; NULL when out of memory. */
static struct b2b_act *
b2b_act_add(struct b2b_acts *a, enum b2b_act_kind kind)
{
	struct b2b_act *x = talloc_zero(a, struct b2b_act);

	if (x == NULL)
		return NULL;
	x->kind = kind;
	*a->tail = x;
	a->tail = &x->next;
	return x;
}

/* Queue: answer the request `req` (raw) received from `from`, with To
 * tag `tag` (NULL: the one sipd derives from req). */
static int
b2b_act_resp(struct b2b_acts *a, const char *req, size_t reqlen,
             const struct sip_peer *from, const char *tag, int status,
             sip_str reason, const char *hdrs, size_t hdrlen, sip_str body)
{
	struct b2b_act *x = b2b_act_add(a, B2B_ACT_RESP);

	if (x == NULL)
		return -1;
	x->to = *from;
	if (tag != NULL && (x->tag = talloc_strdup(x, tag)) == NULL)
		return -1;
	x->buf = talloc_memdup(x, req, reqlen);
	x->len = reqlen;
	x->status = status;
	x->reason = reason.len ? sip_str_dup(x, reason) : NULL;
	x->hdrs = hdrs ? talloc_memdup(x, hdrs, hdrlen + 1) : NULL;
	x->body = body.len ? talloc_memdup(x, body.s, body.len) : NULL;
	x->bodylen = body.len;
	return x->buf == NULL ? -1 : 0;
}

/* Queue: a client transaction (arg: a talloc pointer it takes over). */
static int
b2b_act_req(struct b2b_acts *a, const struct sip_peer *to, const char *branch,
            const char *method, char *buf, size_t len, unsigned flags,
            sipd_done_fn *done, void *arg)
{
	struct b2b_act *x = b2b_act_add(a, B2B_ACT_REQ);

	if (x == NULL) {
		talloc_free(arg);
		return -1;
	}
	x->to = *to;
	x->buf = talloc_steal(x, buf);
	x->len = len;
	snprintf(x->branch, sizeof(x->branch), "%s", branch);
	snprintf(x->method, sizeof(x->method), "%s", method);
	x->flags = flags;
	x->done = done;
	x->arg = arg ? talloc_steal(x, arg) : NULL;
	return 0;
}

/* Queue: buf (taken over) sent to `to` outside any transaction. */
static int
b2b_act_raw(struct b2b_acts *a, const struct sip_peer *to, char *buf,
            size_t len)
{
	struct b2b_act *x = b2b_act_add(a, B2B_ACT_RAW);

	if (x == NULL)
		return -1;
	x->to = *to;
	x->buf = talloc_steal(x, buf);
	x->len = len;
	return 0;
}

/* T1 in ms ([afd] sip_t1). */
static uint64_t
b2b_t1(const struct b2bua *b)
{
	return (uint64_t)(b->c->sip_t1 > 0 ? b->c->sip_t1 : 500);
}

/* Keep a copy of the 2xx act x to send again until its ACK; returns the
 * entry (owned by b), NULL when out of memory. */
static struct b2b_rtx *
b2b_rtx_add(struct b2bua *b, const struct b2b_act *x, sip_str call_id)
{
	struct b2b_rtx *r = talloc_zero(b, struct b2b_rtx);
	uint64_t now = sipd_now_ms();

	if (r == NULL || (r->resp = talloc_zero(r, struct b2b_act)) == NULL ||
	    (r->call_id = sip_str_dup(r, call_id)) == NULL) {
		talloc_free(r);
		return NULL;
	}
	*r->resp = *x;
	r->resp->next = NULL;
	r->resp->again = 1;
	r->resp->buf = talloc_memdup(r, x->buf, x->len);
	r->resp->reason = x->reason ? talloc_strdup(r, x->reason) : NULL;
	r->resp->tag = x->tag ? talloc_strdup(r, x->tag) : NULL;
	r->resp->hdrs = x->hdrs ? talloc_strdup(r, x->hdrs) : NULL;
	r->resp->body = x->body ? talloc_memdup(r, x->body, x->bodylen) : NULL;
	r->resp->built =
	    x->built ? talloc_memdup(r, x->built, x->builtlen) : NULL;
	if (r->resp->buf == NULL ||
	    (x->built != NULL && r->resp->built == NULL)) {
		talloc_free(r);
		return NULL;
	}
	r->interval = b2b_t1(b);
	r->at = now + r->interval;
	r->give_up = now + 64 * b2b_t1(b);
	r->next = b->rtx;
	b->rtx = r;
	return r;
}

/* No ACK came for the 2xx of the caller's INVITE call_id within 64*T1:
 * end its call (still 'answered') with BYE to both phones (RFC 3261
 * 13.3.1.4: the UAS ends the dialog). */
static void
b2b_rtx_expire(struct b2bua *b, const char *call_id)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct b2b_acts *acts;
	struct db_dialog *d;
	int mark, ok;
	char leg;

	if (mem == NULL || (mark = b2b_unit_begin(b)) == -1) {
		talloc_free(mem);
		return;
	}
	if (db_dialog_find(b->dc, mem, call_id, 0, &d, &leg) != 1 ||
	    leg != 'a' || strcmp(d->stage, "answered") != 0 ||
	    (acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
		b2b_unit_end(b, mark, 1, NULL);
		talloc_free(mem);
		return;
	}
	ok = b2b_end_both(b, acts, d, "no ACK from the caller", 503,
	                  time(NULL)) == 0;
	if (b2b_unit_end(b, mark, ok, acts) == 0)
		log_info("b2bua: call %lld: no ACK from the caller within "
		         "64*T1: ended with BYE",
		         (long long)d->id);
	talloc_free(mem);
}

/* The ACK for call_id came: stop sending its 2xx. */
static void
b2b_rtx_stop(struct b2bua *b, sip_str call_id)
{
	struct b2b_rtx **pp = &b->rtx, *r;

	while ((r = *pp) != NULL) {
		if (strlen(r->call_id) == call_id.len &&
		    memcmp(r->call_id, call_id.s, call_id.len) == 0) {
			*pp = r->next;
			talloc_free(r);
		} else {
			pp = &r->next;
		}
	}
}

/* Send again the 2xx that are due; drop those past 64*T1. */
static void
b2b_rtx_run(struct b2bua *b, uint64_t now)
{
	struct b2b_rtx **pp = &b->rtx, *r;
	uint64_t t2 = b2b_t1(b) > 4000 ? b2b_t1(b) : 4000;

	while ((r = *pp) != NULL) {
		if (now >= r->give_up) {
			log_info("b2bua: no ACK for the 2xx of %s within 64*T1",
			         r->call_id);
			*pp = r->next;
			b2b_rtx_expire(b, r->call_id);
			talloc_free(r);
			continue;
		}
		if (now >= r->at) {
			b2b_act_run(b, r->resp);
			r->interval =
			    r->interval * 2 < t2 ? r->interval * 2 : t2;
			r->at = now + r->interval;
		}
		pp = &r->next;
	}
}

/* Run one act. */
static void
b2b_act_run(struct b2bua *b, struct b2b_act *x)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	struct sip_msg *req;

	switch (x->kind) {
	case B2B_ACT_REQ:
		sipd_request_ex(b->sd, &x->to, x->branch, x->method, x->buf,
		                x->len, x->flags, x->done,
		                x->arg ? talloc_steal(NULL, x->arg) : NULL);
		x->arg = NULL;
		break;
	case B2B_ACT_RAW:
		sipd_send(b->sd, &x->to, x->buf, x->len);
		break;
	case B2B_ACT_RESP: {
		char *raw = talloc_size(mem, x->len + 1);
		struct sip_err err;
		if (raw == NULL)
			break;
		memcpy(raw, x->buf, x->len);
		raw[x->len] = '\0';
		if (sip_parse(mem, raw, x->len, SIP_TP_UDP, SIP_MAX_MSG_DEFAULT,
		              &req, &err) == -1)
			break;
		if ((x->built != NULL
		         ? sipd_respond_buf(b->sd, req, &x->to, x->status,
		                            x->built, x->builtlen)
		         : sipd_respond(b->sd, req, &x->to, x->tag, x->status,
		                        x->reason, x->hdrs,
		                        x->hdrs ? strlen(x->hdrs) : 0,
		                        (sip_str){x->body, x->bodylen})) == 0 &&
		    x->status >= 200 && x->status < 300 &&
		    req->mid == SIP_M_INVITE && x->to.tp == SIP_TP_UDP &&
		    !x->again)
			b2b_rtx_add(b, x, req->call_id);
		break;
	}
	}
}

/* The after-commit callback of a decision. */
static void
b2b_acts_commit(void *arg, int committed)
{
	struct b2b_acts *a = arg;

	if (!committed) {
		if (a->fail_req != NULL) {
			struct b2b_act x = {.kind = B2B_ACT_RESP};
			x.to = a->fail_from;
			x.buf = a->fail_req;
			x.len = a->fail_len;
			x.status = 500;
			x.hdrs = "Retry-After: 1\r\n";
			log_warnx("b2bua: a call's change was lost: 500");
			b2b_act_run(a->b, &x);
		}
		return;
	}
	for (struct b2b_act *x = a->head; x != NULL; x = x->next)
		b2b_act_run(a->b, x);
}

/* A unit of work: begin (savepoint), end (release + acts after commit). */
static int
b2b_unit_begin(struct b2bua *b)
{
	struct db_txn *t = sipd_db_txn(b->sd);

	return t == NULL ? -1 : db_txn_savepoint(t);
}

static int
b2b_unit_end(struct b2bua *b, int mark, int ok, struct b2b_acts *acts)
{
	if (ok && acts != NULL &&
	    db_txn_after_commit(b->dbt, b2b_acts_commit, acts) == -1)
		ok = 0;
	if (ok && db_txn_release(b->dbt, mark) == 0)
		return 0;
	if (!ok && acts != NULL)
		talloc_free(acts);
	db_txn_rollback(b->dbt, mark);
	return -1;
}

/* ------------------------------------------------------------ messages */

/* A request of afd on leg `leg` of d: request line, Via, Max-Forwards,
 * Route, From, To, Call-ID, CSeq, Contact; the caller adds the rest and
 * finishes it. to: where it goes. -1 when the row lacks what it needs. */
static int
b2b_leg_request(TALLOC_CTX *ctx, struct b2bua *b, const struct db_dialog *d,
                char leg, const char *method, uint32_t cseq, int maxfwd,
                const char *branch, struct sip_buf *out, struct sip_peer *to)
{
	const char *peer = leg == 'a' ? d->a_peer : d->b_peer;
	const char *target = leg == 'a' ? d->a_contact : d->b_contact;
	const char *route = leg == 'a' ? d->a_route : d->b_route;
	struct sip_msg *m =
	    b2b_parse(ctx, leg == 'a' ? d->a_request : d->b_request);
	sip_str luri, ruri;
	const char *ltag, *rtag;

	if (m == NULL || b2b_peer_parse(peer, to) == -1 || target == NULL)
		return -1;
	if (leg == 'a') { /* afd is the caller's UAS: From/To swap */
		luri = m->to->uri.raw;
		ruri = m->from->uri.raw;
		ltag = d->a_to_tag;
		rtag = d->a_from_tag;
	} else {
		luri = m->from->uri.raw;
		ruri = m->to->uri.raw;
		ltag = d->b_from_tag;
		rtag = d->b_to_tag;
	}
	sip_buf_init(out, ctx, 1024);
	sip_buf_addf(out, "%s %s SIP/2.0\r\n", method, target);
	sip_buf_addf(out, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", b2b_tp(to),
	             b->host, branch);
	sip_buf_addf(out, "Max-Forwards: %d\r\n", maxfwd);
	if (route != NULL && route[0] != '\0')
		sip_buf_addf(out, "Route: %s\r\n", route);
	sip_buf_addf(out, "From: <%.*s>;tag=%s\r\n", SIP_STR_FMT(luri),
	             ltag ? ltag : "");
	if (rtag != NULL)
		sip_buf_addf(out, "To: <%.*s>;tag=%s\r\n", SIP_STR_FMT(ruri),
		             rtag);
	else
		sip_buf_addf(out, "To: <%.*s>\r\n", SIP_STR_FMT(ruri));
	sip_buf_addf(out, "Call-ID: %s\r\n",
	             leg == 'a' ? d->a_call_id : d->b_call_id);
	sip_buf_addf(out, "CSeq: %u %s\r\n", cseq, method);
	if (strcmp(method, "ACK") != 0 && strcmp(method, "CANCEL") != 0)
		sip_buf_addf(out, "Contact: <sip:afd@%s;transport=%s>\r\n",
		             b->host, to->tp == SIP_TP_TCP ? "tcp" : "udp");
	return 0;
}

/* A request of afd's own on leg leg with no body (BYE, ACK). *len set;
 * NULL on failure. */
static char *
b2b_simple_request(TALLOC_CTX *ctx, struct b2bua *b, const struct db_dialog *d,
                   char leg, const char *method, uint32_t cseq,
                   const char *branch, struct sip_peer *to, size_t *len)
{
	struct sip_buf o;

	if (b2b_leg_request(ctx, b, d, leg, method, cseq, 70, branch, &o, to) ==
	    -1)
		return NULL;
	if (strcmp(method, "BYE") == 0 && d->end_reason != NULL)
		sip_buf_addf(&o, "Reason: SIP;text=\"%s\"\r\n", d->end_reason);
	sip_buf_finish(&o, SIP_STR_NULL);
	if (o.oom)
		return NULL;
	*len = o.len;
	return o.s;
}

/* A request on the B-leg INVITE's own branch (RFC 3261 9.1, 17.1.1.3):
 * method (CANCEL or ACK) with the INVITE's Request-URI, top Via, Route,
 * From, Call-ID and CSeq number; To is the INVITE's, or the response's
 * (to, for the ACK of a non-2xx) when given. NULL when out of memory or
 * the stored INVITE does not parse. */
static char *
b2b_same_branch(TALLOC_CTX *ctx, const struct db_dialog *d, const char *method,
                const struct sip_msg *to, size_t *len)
{
	struct sip_msg *m = b2b_parse(ctx, d->b_request);
	const struct sip_hdr *h;
	struct sip_buf o;

	if (m == NULL || m->via == NULL)
		return NULL;
	sip_buf_init(&o, ctx, 512);
	sip_buf_addf(&o, "%s %.*s SIP/2.0\r\n", method,
	             SIP_STR_FMT(m->ruri_raw));
	sip_buf_addf(&o, "Via: %.*s\r\n", SIP_STR_FMT(m->via->raw));
	sip_buf_addf(&o, "Max-Forwards: 70\r\n");
	if ((h = m->first[SIP_HDR_ROUTE]) != NULL)
		sip_buf_addf(&o, "Route: %.*s\r\n", SIP_STR_FMT(h->value));
	sip_buf_addf(&o, "From: %.*s\r\n", SIP_STR_FMT(m->from->raw));
	sip_buf_addf(&o, "To: %.*s\r\n",
	             SIP_STR_FMT(to != NULL ? to->to->raw : m->to->raw));
	sip_buf_addf(&o, "Call-ID: %.*s\r\n", SIP_STR_FMT(m->call_id));
	sip_buf_addf(&o, "CSeq: %u %s\r\n", m->cseq.num, method);
	sip_buf_finish(&o, SIP_STR_NULL);
	if (o.oom)
		return NULL;
	*len = o.len;
	return o.s;
}

/* The CANCEL of the B-leg INVITE (same Via branch, RFC 3261 9.1). */
static char *
b2b_cancel_request(TALLOC_CTX *ctx, const struct db_dialog *d, size_t *len)
{
	return b2b_same_branch(ctx, d, "CANCEL", NULL, len);
}

/* The ACK of a non-2xx final answer to the B-leg INVITE, for an answer
 * no transaction absorbed (RFC 3261 17.1.1.3: same branch, the
 * response's To). */
static char *
b2b_ack_non2xx(TALLOC_CTX *ctx, const struct db_dialog *d,
               const struct sip_msg *resp, size_t *len)
{
	return b2b_same_branch(ctx, d, "ACK", resp, len);
}

/* The header lines of a response relayed to the other leg: afd's Contact
 * (for 1xx/2xx) and the fields the phones need, under ctx. */
static char *
b2b_resp_hdrs(TALLOC_CTX *ctx, struct b2bua *b, const struct sip_msg *resp,
              const struct sip_peer *to, size_t *len)
{
	struct sip_buf o;

	sip_buf_init(&o, ctx, 512);
	/* a target refresh (RFC 3261 12.2; RFC 3311) names afd */
	if (resp->status > 100 && resp->status < 300 &&
	    (resp->cseq.mid == SIP_M_INVITE || resp->cseq.mid == SIP_M_UPDATE))
		sip_buf_addf(&o, "Contact: <sip:afd@%s;transport=%s>\r\n",
		             b->host, to->tp == SIP_TP_TCP ? "tcp" : "udp");
	b2b_copy_hdrs(&o, resp, b2b_resp_list, 0);
	sip_buf_add(&o, "", 1); /* NUL-terminated */
	if (o.oom)
		return NULL;
	*len = o.len - 1;
	return o.s;
}

/* Queue the relay of resp (from the callee) to the caller's INVITE, with
 * afd's tag d->a_to_tag (a forked call's: the early dialog of the fork
 * resp came from, b2b_fork_current). */
static int
b2b_relay_to_a(struct b2bua *b, struct b2b_acts *acts,
               const struct db_dialog *d, const struct sip_msg *resp)
{
	TALLOC_CTX *mem = acts;
	struct sip_peer from;
	char *hdrs;
	size_t hl;

	if (b2b_peer_parse(d->a_peer, &from) == -1 || d->a_request == NULL)
		return -1;
	if ((hdrs = b2b_resp_hdrs(mem, b, resp, &from, &hl)) == NULL)
		return -1;
	return b2b_act_resp(acts, d->a_request, strlen(d->a_request), &from,
	                    d->a_to_tag, resp->status, resp->reason, hdrs, hl,
	                    resp->body);
}

/* 1 when d's caller is over UDP: afd sends its 2xx again until the ACK. */
static int
b2b_caller_udp(const struct db_dialog *d)
{
	return d->a_peer != NULL && strncmp(d->a_peer, "udp ", 4) == 0;
}

/*
 * Queue the relay of resp, the callee's 2xx that answers call d, to the
 * caller's INVITE. For a caller over UDP the answer is built here, whole,
 * and kept in `dialog_answers` in the unit of work that makes the stage
 * 'answered' (the caller's save follows in the same unit): the act sends
 * those bytes, and so does a replacement of this worker until the ACK
 * (b2b_rtx_resume): the callee's SDP, afd's To tag and Contact, byte for
 * byte. 0 or -1.
 */
static int
b2b_answer_to_a(struct b2bua *b, struct b2b_acts *acts,
                const struct db_dialog *d, const struct sip_msg *resp)
{
	struct sip_peer from;
	struct sip_msg *req;
	struct b2b_act *x;
	char *hdrs, *buf;
	size_t hl, len;

	if (!b2b_caller_udp(d))
		return b2b_relay_to_a(b, acts, d, resp);
	if (b2b_peer_parse(d->a_peer, &from) == -1 ||
	    (req = b2b_parse(acts, d->a_request)) == NULL ||
	    (hdrs = b2b_resp_hdrs(acts, b, resp, &from, &hl)) == NULL ||
	    (buf = sipd_response(acts, req, &from, d->a_to_tag, resp->status,
	                         resp->reason.len ? b2b_dup(acts, resp->reason)
	                                          : NULL,
	                         hdrs, hl, resp->body, &len)) == NULL ||
	    db_answer_put(b->dc, d->id, buf, len) == -1 ||
	    (x = b2b_act_add(acts, B2B_ACT_RESP)) == NULL)
		return -1;
	x->to = from;
	x->buf = talloc_strdup(x, d->a_request);
	x->len = strlen(d->a_request);
	x->status = resp->status;
	x->built = talloc_steal(x, buf);
	x->builtlen = len;
	return x->buf == NULL ? -1 : 0;
}

/* Queue a final answer of afd's own to the caller's INVITE. */
static int
b2b_answer_a(struct b2b_acts *acts, const struct db_dialog *d, int status,
             const char *reason)
{
	struct sip_peer from;

	if (b2b_peer_parse(d->a_peer, &from) == -1 || d->a_request == NULL)
		return -1;
	return b2b_act_resp(
	    acts, d->a_request, strlen(d->a_request), &from, NULL, status,
	    reason ? (sip_str){reason, strlen(reason)} : SIP_STR_NULL, NULL, 0,
	    SIP_STR_NULL);
}

/* Queue afd's own request on leg leg (BYE, ...) as a client transaction
 * whose answer nobody waits for. */
static int
b2b_own_request(struct b2bua *b, struct b2b_acts *acts, struct db_dialog *d,
                char leg, const char *method)
{
	struct sip_peer to;
	char branch[48];
	uint32_t cseq;
	size_t len;
	char *buf;

	cseq = leg == 'a' ? ++d->a_out_cseq : ++d->b_cseq;
	if (leg == 'a' && cseq <= 1 && d->a_out_cseq < 1)
		cseq = d->a_out_cseq = 1;
	sipd_branch(b->sd, branch, sizeof(branch));
	buf = b2b_simple_request(acts, b, d, leg, method, cseq, branch, &to,
	                         &len);
	if (buf == NULL)
		return -1;
	return b2b_act_req(acts, &to, branch, method, buf, len, 0,
	                   b2b_ignore_done, NULL);
}

/* Queue the CANCEL of the B-leg INVITE. */
static int
b2b_cancel_b(struct b2bua *b, struct b2b_acts *acts, const struct db_dialog *d)
{
	struct sip_peer to;
	size_t len;
	char *buf;

	if (b2b_peer_parse(d->b_peer, &to) == -1 || d->b_branch == NULL ||
	    (buf = b2b_cancel_request(acts, d, &len)) == NULL)
		return -1;
	return b2b_act_req(acts, &to, d->b_branch, "CANCEL", buf, len, 0,
	                   b2b_ignore_done, NULL);
}

/* Queue the ACK of the B-leg's 2xx (CSeq of afd's last INVITE there). */
static int
b2b_ack_b(struct b2bua *b, struct b2b_acts *acts, const struct db_dialog *d,
          char leg, sip_str body, const struct sip_msg *carry)
{
	struct sip_peer to;
	struct sip_buf o;
	char branch[48];

	sipd_branch(b->sd, branch, sizeof(branch));
	if (b2b_leg_request(acts, b, d, leg, "ACK",
	                    leg == 'a' ? d->a_inv_cseq : d->b_inv_cseq, 70,
	                    branch, &o, &to) == -1)
		return -1;
	if (carry != NULL && body.len > 0)
		b2b_copy_hdrs(&o, carry, b2b_req_hdrs, 0);
	sip_buf_finish(&o, body);
	if (o.oom)
		return -1;
	return b2b_act_raw(acts, &to, o.s, o.len);
}

/* 1 for the stages before an answer: trying, early, ringing. */
static int
b2b_stage_early(const char *stage)
{
	return strcmp(stage, "trying") == 0 || strcmp(stage, "early") == 0 ||
	       strcmp(stage, "ringing") == 0;
}

/* A reason for the CDR from an answer: "486 Busy Here". */
static char *
b2b_reason(TALLOC_CTX *ctx, int status, sip_str reason)
{
	return talloc_asprintf(ctx, "%d %.*s", status, SIP_STR_FMT(reason));
}

/* ------------------------------------------------------ the first INVITE */

/* 1 when one of m's Vias is afd's own (a request that looped back). */
static int
b2b_looped(struct b2bua *b, const struct sip_msg *m)
{
	char slot[8], hp[320];

	for (const struct sip_via *v = m->via; v != NULL; v = v->next) {
		if (sipd_branch_slot(v->branch, slot) == -1)
			continue;
		snprintf(hp, sizeof(hp), "%.*s:%u", SIP_STR_FMT(v->host),
		         v->port ? v->port : 5060);
		if (strcasecmp(hp, b->host) == 0)
			return 1;
	}
	return 0;
}

/* The live binding of aor to call (highest q, then the newest), or NULL;
 * *nlive: how many are live. */
static struct db_binding *
b2b_binding(struct b2bua *b, TALLOC_CTX *ctx, const char *aor, time_t now,
            int *nlive)
{
	struct db_binding *bs, *best = NULL;
	int n;

	*nlive = 0;
	if (db_reg_load(b->dr, ctx, aor, &bs, &n) == -1)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (bs[i].expires_at <= now)
			continue;
		(*nlive)++;
		double q = bs[i].has_q ? bs[i].q : 1.0;
		double bq = best && best->has_q ? best->q : 1.0;
		if (best == NULL || q > bq ||
		    (q == bq && bs[i].updated_at >= best->updated_at))
			best = &bs[i];
	}
	return best;
}

/* Where a request to binding bd goes: its flow (TCP), or its source
 * address (UDP). */
static int
b2b_binding_peer(const struct db_binding *bd, struct sip_peer *to)
{
	if (bd->received == NULL || sipd_peer_parse(to, bd->received) == -1)
		return -1;
	if (bd->transport != NULL && strcmp(bd->transport, "tcp") == 0) {
		if (bd->conn_slot == NULL || bd->conn_id == 0)
			return -1;
		to->tp = SIP_TP_TCP;
		snprintf(to->slot, sizeof(to->slot), "%s", bd->conn_slot);
		to->conn_id = (uint64_t)bd->conn_id;
	}
	return 0;
}

/* qsort order of bindings: the highest q first, then the newest. */
static int
b2b_binding_cmp(const void *x, const void *y)
{
	const struct db_binding *a = x, *c = y;
	double qa = a->has_q ? a->q : 1.0, qc = c->has_q ? c->q : 1.0;

	if (qa != qc)
		return qa > qc ? -1 : 1;
	if (a->updated_at != c->updated_at)
		return a->updated_at > c->updated_at ? -1 : 1;
	return 0;
}

/* The live bindings of aor that afd can reach, best first (b2b_binding's
 * order), at most B2B_MAX_FORKS, into bds[] and their destinations into
 * tos[] (arrays under ctx). *nlive: how many are live at all. 0, or -1 on
 * a database error. */
static int
b2b_bindings(struct b2bua *b, TALLOC_CTX *ctx, const char *aor, time_t now,
             struct db_binding **bds, struct sip_peer **tos, int *n, int *nlive)
{
	struct db_binding *all, *out;
	struct sip_peer *to;
	int k = 0, na;

	*n = *nlive = 0;
	if (db_reg_load(b->dr, ctx, aor, &all, &na) == -1)
		return -1;
	if (na == 0)
		return 0;
	qsort(all, (size_t)na, sizeof(all[0]), b2b_binding_cmp);
	out = talloc_array(ctx, struct db_binding, na);
	to = talloc_zero_array(ctx, struct sip_peer, na);
	if (out == NULL || to == NULL)
		return -1;
	for (int i = 0; i < na; i++) {
		if (all[i].expires_at <= now)
			continue;
		(*nlive)++;
		if (k < B2B_MAX_FORKS && b2b_binding_peer(&all[i], &to[k]) == 0)
			out[k++] = all[i];
	}
	*bds = out;
	*tos = to;
	*n = k;
	return 0;
}

/* Build the B-leg INVITE of d from the caller's INVITE req into d
 * (b_request). */
static int
b2b_build_invite(struct b2bua *b, TALLOC_CTX *ctx, struct db_dialog *d,
                 const struct sip_msg *req, const struct db_binding *bd,
                 const struct sip_peer *to)
{
	struct sip_buf o;

	sip_buf_init(&o, ctx, 1024 + req->len);
	sip_buf_addf(&o, "INVITE %s SIP/2.0\r\n", bd->contact);
	sip_buf_addf(&o, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", b2b_tp(to),
	             b->host, d->b_branch);
	sip_buf_addf(&o, "Max-Forwards: %d\r\n",
	             req->max_forwards > 0 ? req->max_forwards - 1 : 69);
	if (d->b_route != NULL)
		sip_buf_addf(&o, "Route: %s\r\n", d->b_route);
	sip_buf_addf(&o, "From: <%.*s>;tag=%s\r\n",
	             SIP_STR_FMT(req->from->uri.raw), d->b_from_tag);
	sip_buf_addf(&o, "To: <%.*s>\r\n", SIP_STR_FMT(req->to->uri.raw));
	sip_buf_addf(&o, "Call-ID: %s\r\n", d->b_call_id);
	sip_buf_addf(&o, "CSeq: 1 INVITE\r\n");
	sip_buf_addf(&o, "Contact: <sip:afd@%s;transport=%s>\r\n", b->host,
	             to->tp == SIP_TP_TCP ? "tcp" : "udp");
	/* the identity afd vouches for: the caller's registered AOR, never
	 * the P-Preferred-Identity the phone asked for as it is */
	sip_buf_addf(&o, "P-Asserted-Identity: <%s>\r\n", d->caller);
	b2b_copy_hdrs(&o, req, b2b_req_hdrs, 0);
	sip_buf_finish(&o, req->body);
	if (o.oom)
		return -1;
	d->b_request = o.s;
	return 0;
}

/* The caller's first INVITE: 100 at once, the callee looked up, the
 * dialogs row (trying) and, once committed, the B-leg INVITE. */
static int
b2b_invite(struct b2bua *b, struct sipd_req *rq)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	const struct sip_msg *req = rq->msg;
	struct db_dialog *old, d;
	struct db_binding *bd, *bds = NULL;
	struct db_fork *fk = NULL;
	struct b2b_acts *acts;
	struct b2b_tx *tx;
	struct sip_peer to, *tos = NULL;
	const char *why;
	char *callee, *caller, *impu = NULL, *extra = NULL, leg, hex[17], *br0;
	int st, mark, nlive, rc, nf = 0;

	sipd_reply(b->sd, rq, 100, NULL, NULL, 0, 0);
	if (b2b_looped(b, req))
		return sipd_reply(b->sd, rq, 482, NULL, NULL, 0, 0);
	if ((callee = reg_aor(mem, &req->ruri, b->c, &st, &why)) == NULL)
		return sipd_reply(b->sd, rq, st == 403 ? 404 : st,
		                  st == 403 ? "Not Found Here" : why, NULL, 0,
		                  0);
	if ((caller = reg_aor(mem, &req->from->uri, b->c, &st, &why)) == NULL)
		return sipd_reply(b->sd, rq, 403, "Caller Not Served", NULL, 0,
		                  0);
	if ((mark = b2b_unit_begin(b)) == -1)
		return sipd_reply(b->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	/* a retransmission that reached a restarted worker (its server
	 * transaction gone): the call goes on already */
	rc = db_dialog_find(b->dc, mem, b2b_dup(mem, req->call_id), 0, &old,
	                    &leg);
	if (rc == 1 && leg == 'a' &&
	    b2b_streq(old->a_from_tag, req->from->tag)) {
		b2b_unit_end(b, mark, 1, NULL);
		log_debug("b2bua: INVITE %.*s again: the call goes on",
		          SIP_STR_FMT(req->call_id));
		return 0;
	}
	if (b2b_binding(b, mem, caller, rq->now, &nlive) == NULL) {
		b2b_unit_end(b, mark, 1, NULL);
		return sipd_reply(b->sd, rq, 403, "Caller Not Registered", NULL,
		                  0, 0);
	}
	if (b2b_bindings(b, mem, callee, rq->now, &bds, &tos, &nf, &nlive) ==
	        -1 ||
	    nf == 0) {
		if (db_reg_identities(b->dr, mem, callee, &impu, &extra) == -1)
			impu = "?";
		b2b_unit_end(b, mark, 1, NULL);
		log_info("b2bua: %s calls %s: %s", caller, callee,
		         impu ? "not registered" : "unknown");
		return sipd_reply(b->sd, rq, impu || nlive ? 480 : 404, NULL,
		                  NULL, 0, 0);
	}
	bd = &bds[0];
	to = tos[0];
	memset(&d, 0, sizeof(d));
	d.a_call_id = b2b_dup(mem, req->call_id);
	d.a_from_tag = b2b_dup(mem, req->from->tag);
	/* afd's tag on leg A: the one sipd puts in every answer to req */
	d.a_to_tag = talloc_size(mem, 17);
	sipd_to_tag(req, d.a_to_tag);
	d.a_cseq = req->cseq.num;
	d.a_contact = b2b_contact(mem, req);
	d.a_route = b2b_hdr_join(mem, req, SIP_HDR_RECORD_ROUTE);
	d.a_peer = b2b_peer_fmt(mem, &rq->from);
	d.a_request = talloc_strndup(mem, req->buf, req->len);
	b2b_hex(hex, 16);
	d.b_call_id = talloc_asprintf(mem, "%s-b2b@%s", hex, b->c->domain);
	b2b_hex(hex, 12);
	d.b_from_tag = talloc_strdup(mem, hex);
	d.b_cseq = 1;
	d.b_inv_cseq = 1;
	d.b_contact = talloc_strdup(mem, bd->contact);
	d.b_route =
	    bd->path && bd->path[0] ? talloc_strdup(mem, bd->path) : NULL;
	d.b_peer = b2b_peer_fmt(mem, &to);
	d.b_branch = talloc_size(mem, 48);
	sipd_branch(b->sd, d.b_branch, 48);
	d.caller = caller;
	d.callee = callee;
	d.stage = "trying";
	d.owner_slot = talloc_strdup(mem, sipd_slot(b->sd));
	d.created_at = d.updated_at = rq->now;
	d.ring_deadline = rq->now + b->c->ring_timeout;
	d.forks = nf > 1 ? nf : 0;
	if (d.a_contact == NULL) {
		b2b_unit_end(b, mark, 1, NULL);
		return sipd_reply(b->sd, rq, 400, "Missing Contact", NULL, 0,
		                  0);
	}
	if ((acts = b2b_acts_new(b, req, &rq->from)) == NULL ||
	    (fk = talloc_zero_array(mem, struct db_fork, nf)) == NULL) {
		b2b_unit_end(b, mark, 0, NULL);
		return -1;
	}
	/* one INVITE per binding (RFC 3261 16.7 as a B2BUA: one Call-ID
	 * and From tag, a branch each); the row's b_ columns are the first */
	br0 = d.b_branch;
	for (int i = nf - 1; i >= 0; i--) {
		if (i > 0) {
			d.b_branch = talloc_size(mem, 48);
			sipd_branch(b->sd, d.b_branch, 48);
		} else {
			d.b_branch = br0;
		}
		d.b_route = bds[i].path && bds[i].path[0]
		                ? talloc_strdup(mem, bds[i].path)
		                : NULL;
		if (b2b_build_invite(b, mem, &d, req, &bds[i], &tos[i]) == -1) {
			b2b_unit_end(b, mark, 0, acts);
			return -1;
		}
		fk[i].branch = d.b_branch;
		fk[i].target = talloc_strdup(mem, bds[i].contact);
		fk[i].peer = b2b_peer_fmt(mem, &tos[i]);
		fk[i].route = d.b_route;
		fk[i].request = d.b_request;
		fk[i].state = "calling";
	}
	rc = b2b_insert(b, &d);
	for (int i = 0; rc == 0 && i < nf; i++) {
		if (nf > 1) {
			fk[i].dialog_id = d.id;
			if ((rc = db_fork_insert(b->dc, &fk[i], rq->now)) == -1)
				break;
		}
		if ((tx = talloc_zero(NULL, struct b2b_tx)) == NULL) {
			rc = -1;
			break;
		}
		tx->b = b;
		tx->leg = 'b';
		tx->call_id = talloc_strdup(tx, d.b_call_id);
		tx->branch = talloc_strdup(tx, fk[i].branch);
		tx->mid = SIP_M_INVITE;
		rc = b2b_act_req(acts, &tos[i], fk[i].branch, "INVITE",
		                 talloc_strdup(acts, fk[i].request),
		                 strlen(fk[i].request), SIPD_REQ_EVERY,
		                 b2b_invite_done, tx);
	}
	if (b2b_unit_end(b, mark, rc == 0, acts) == -1)
		return sipd_reply(b->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	log_info("b2bua: call %lld: %s -> %s (%s, B-leg %s to %s%s)",
	         (long long)d.id, caller, callee, d.a_call_id, d.b_call_id,
	         d.b_peer, nf > 1 ? " and more: forked" : "");
	for (int i = 1; i < nf; i++)
		log_info("b2bua: call %lld: fork %d to %s (%s)",
		         (long long)d.id, i + 1, fk[i].peer, fk[i].branch);
	if ((uint64_t)b->c->ring_timeout * 1000 + sipd_now_ms() < b->next_check)
		b->next_check =
		    sipd_now_ms() + (uint64_t)b->c->ring_timeout * 1000 + 100;
	return 0;
}

/* ------------------------------------------- the callee's answers (B) */

/* A 2xx of the callee for a call that is over (it answered as afd
 * cancelled, or after the call ended): ACK it and BYE it (RFC 3261 15). */
static void
b2b_late_2xx(struct b2bua *b, struct b2b_acts *acts, struct db_dialog *d,
             const struct sip_msg *resp)
{
	char *c = b2b_contact(acts, resp);

	if (resp->to->tag.len > 0)
		d->b_to_tag = b2b_dup(acts, resp->to->tag);
	if (c != NULL)
		d->b_contact = c;
	b2b_ack_b(b, acts, d, 'b', SIP_STR_NULL, NULL);
	b2b_own_request(b, acts, d, 'b', "BYE");
	log_info("b2bua: call %lld: the callee answered %d after the call "
	         "was over: ACK and BYE",
	         (long long)d->id, resp->status);
}

/* ------------------------------------------------- forking (RFC 3261 16.7) */

/* Is branch among those whose CANCEL waits for a provisional? */
static int
b2b_wait_has(const struct b2bua *b, const char *branch)
{
	for (int i = 0; branch != NULL && i < b->nwait; i++)
		if (strcmp(b->wait[i], branch) == 0)
			return 1;
	return 0;
}

/* Remember branch as one whose CANCEL waits for a provisional. */
static void
b2b_wait_add(struct b2bua *b, const char *branch)
{
	char **w;

	if (b2b_wait_has(b, branch))
		return;
	w = talloc_realloc(b, b->wait, char *, b->nwait + 1);
	if (w == NULL)
		return; /* the row says so; a provisional finds it anyway */
	b->wait = w;
	if ((w[b->nwait] = talloc_strdup(w, branch)) != NULL)
		b->nwait++;
}

/* Forget branch (its CANCEL went, or it ended). */
static void
b2b_wait_drop(struct b2bua *b, const char *branch)
{
	for (int i = 0; i < b->nwait; i++)
		if (strcmp(b->wait[i], branch) == 0) {
			talloc_free(b->wait[i]);
			b->wait[i] = b->wait[--b->nwait];
			return;
		}
}

/* 1 while fork f may still answer with a final response. */
static int
b2b_fork_pending(const struct db_fork *f)
{
	return strcmp(f->state, "calling") == 0 ||
	       strcmp(f->state, "early") == 0 ||
	       strcmp(f->state, "cancel_owed") == 0 ||
	       strcmp(f->state, "cancelled") == 0;
}

/* How many of the n forks are still pending. */
static int
b2b_forks_pending(const struct db_fork *fs, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += b2b_fork_pending(&fs[i]);
	return k;
}

/* How many of the n forks a cancelled call waits for: those whose final
 * answer will come (CANCEL sent, or not cancelled). A fork still owed its
 * CANCEL (it said nothing yet) does not hold the call up: its row and its
 * transaction finish it (a provisional gets the CANCEL, a 2xx ACK and
 * BYE, silence ends with Timer B). */
static int
b2b_forks_waiting(const struct db_fork *fs, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += b2b_fork_pending(&fs[i]) &&
		     strcmp(fs[i].state, "cancel_owed") != 0;
	return k;
}

/* d as seen from fork f: a copy whose B-leg columns are f's (for the
 * CANCEL, ACK and BYE of that branch). Strings shared, not copied. */
static void
b2b_fork_view(const struct db_dialog *d, const struct db_fork *f,
              struct db_dialog *v)
{
	*v = *d;
	v->b_branch = f->branch;
	v->b_request = f->request;
	v->b_peer = f->peer;
	v->b_route = f->route;
	v->b_contact = f->contact ? f->contact : f->target;
	v->b_to_tag = f->to_tag;
	v->b_inv_cseq = 1;
}

/*
 * afd's To tag towards the caller in the early dialog of fork k (0 for the
 * first, in dialog_forks order) of call d, under ctx: the call's own tag
 * (sipd_to_tag's, the part of d->a_to_tag before any '-') and "-<k+1>".
 * Each phone that answers is so an early dialog of its own at the caller,
 * as a forking proxy presents it (RFC 3261 12.1, 13.2.2.4), with the RSeq
 * space of that phone (RFC 3262: per early dialog); derived, not stored,
 * so a replacement worker gives the same tag. NULL when out of memory.
 */
static char *
b2b_fork_tag(TALLOC_CTX *ctx, const struct db_dialog *d, int k)
{
	const char *t = d->a_to_tag ? d->a_to_tag : "";

	return talloc_asprintf(ctx, "%.*s-%d", (int)strcspn(t, "-"), t, k + 1);
}

/* The fork among fs[n] whose early dialog with the caller has afd's tag
 * `tag` (b2b_fork_tag), or NULL. */
static struct db_fork *
b2b_fork_by_tag(const struct db_dialog *d, struct db_fork *fs, int n,
                sip_str tag)
{
	const char *t = d->a_to_tag ? d->a_to_tag : "";
	size_t bl = strcspn(t, "-");
	char num[12], *end;
	long k;

	if (bl == 0 || tag.len <= bl + 1 || tag.len - bl - 1 >= sizeof(num) ||
	    memcmp(tag.s, t, bl) != 0 || tag.s[bl] != '-')
		return NULL;
	memcpy(num, tag.s + bl + 1, tag.len - bl - 1);
	num[tag.len - bl - 1] = '\0';
	k = strtol(num, &end, 10);
	if (*end != '\0' || k < 1 || k > n)
		return NULL;
	return &fs[k - 1];
}

/* Make fork f (the k-th of the call, from 0) the dialog's B-leg, and its
 * early dialog with the caller the A-leg's (afd's tag b2b_fork_tag, under
 * ctx): the requests inside the call go there. It is the fork last heard
 * from (or whose early dialog a phone spoke in), then the winner. 1 when
 * that is another fork than before, 0 when the same, -1 when out of
 * memory. */
static int
b2b_fork_current(TALLOC_CTX *ctx, struct db_dialog *d, const struct db_fork *f,
                 int k)
{
	int other = d->b_branch == NULL || strcmp(d->b_branch, f->branch) != 0;
	char *tag = b2b_fork_tag(ctx, d, k);

	if (tag == NULL)
		return -1;
	if (other)
		d->b_in_cseq = 0; /* another phone: its own CSeq space */
	d->b_branch = f->branch;
	d->b_request = f->request;
	d->b_peer = f->peer;
	d->b_route = f->route;
	d->b_contact = f->contact ? f->contact : f->target;
	d->b_to_tag = f->to_tag;
	d->a_to_tag = tag;
	return other;
}

/*
 * A request of a phone inside forked call d, still early, whose tags name
 * not the row's current early dialog but another fork's (leg 'a': afd's
 * To tag of that fork, b2b_fork_by_tag; leg 'b': the From tag of that
 * fork's phone): that fork becomes the current one (b2b_fork_current), so
 * the request is relayed to (or from) its own phone: a PRACK or UPDATE
 * of the caller reaches the phone whose provisional it answers. 1 when
 * the tags named a fork still early (d changed; *f set), 0 when none, -1
 * on error.
 */
static int
b2b_fork_pick(struct b2bua *b, TALLOC_CTX *ctx, struct db_dialog *d, char leg,
              const struct sip_msg *req, struct db_fork **f,
              struct db_fork **fs, int *n)
{
	*f = NULL;
	if (d->forks == 0 || !b2b_stage_early(d->stage) ||
	    (leg == 'a' && !b2b_streq(d->a_from_tag, req->from->tag)) ||
	    (leg == 'b' && !b2b_streq(d->b_from_tag, req->to->tag)))
		return 0;
	if (db_fork_list(b->dc, ctx, d->id, fs, n) == -1)
		return -1;
	if (leg == 'a')
		*f = b2b_fork_by_tag(d, *fs, *n, req->to->tag);
	else
		for (int i = 0; i < *n && *f == NULL; i++)
			if (b2b_streq((*fs)[i].to_tag, req->from->tag))
				*f = &(*fs)[i];
	if (*f == NULL || strcmp((*f)->state, "early") != 0) {
		*f = NULL;
		return 0;
	}
	return b2b_fork_current(ctx, d, *f, (int)(*f - *fs)) == -1 ? -1 : 1;
}

/* Cancel fork f if it is pending: CANCEL now when it has heard a
 * provisional (or this worker cannot tell: its transaction is not here),
 * else owe it (RFC 3261 9.1). again: send once more for a fork cancelled
 * earlier (its transaction died with a worker). Saves f. 0 or -1. */
static int
b2b_fork_cancel(struct b2bua *b, struct b2b_acts *acts,
                const struct db_dialog *d, struct db_fork *f, int again,
                time_t now)
{
	struct db_dialog v;

	if (strcmp(f->state, "calling") != 0 &&
	    strcmp(f->state, "early") != 0 &&
	    (!again || (strcmp(f->state, "cancel_owed") != 0 &&
	                strcmp(f->state, "cancelled") != 0)))
		return 0;
	if (!again && strcmp(f->state, "calling") == 0 &&
	    sipd_client_calling(b->sd, f->branch)) {
		f->state = "cancel_owed";
		b2b_wait_add(b, f->branch);
		return db_fork_save(b->dc, f, now);
	}
	b2b_wait_drop(b, f->branch);
	f->state = "cancelled";
	b2b_fork_view(d, f, &v);
	if (b2b_cancel_b(b, acts, &v) == -1)
		return -1;
	return db_fork_save(b->dc, f, now);
}

/* Cancel every pending fork of d but `keep` (NULL: all). 0 or -1. */
static int
b2b_forks_cancel(struct b2bua *b, struct b2b_acts *acts,
                 const struct db_dialog *d, struct db_fork *fs, int n,
                 const struct db_fork *keep, int again, time_t now)
{
	for (int i = 0; i < n; i++)
		if (&fs[i] != keep &&
		    b2b_fork_cancel(b, acts, d, &fs[i], again, now) == -1)
			return -1;
	return 0;
}

/* Cancel what leg B has pending: afd's INVITE (one binding) or each
 * pending fork. *waiting (when not NULL): how many answers the call
 * still waits for (b2b_forks_waiting; 1 for one binding). 0 or -1. */
static int
b2b_cancel_all(struct b2bua *b, struct b2b_acts *acts, struct db_dialog *d,
               int again, time_t now, int *waiting)
{
	struct db_fork *fs;
	int n;

	if (waiting != NULL)
		*waiting = 1;
	if (d->forks == 0)
		return b2b_cancel_b(b, acts, d);
	if (db_fork_list(b->dc, acts, d->id, &fs, &n) == -1 ||
	    b2b_forks_cancel(b, acts, d, fs, n, NULL, again, now) == -1)
		return -1;
	if (waiting != NULL)
		*waiting = b2b_forks_waiting(fs, n);
	return 0;
}

/* Cancel every pending fork of forked call d but its current one (the
 * B-leg of the row: a caller's BYE in that early dialog goes there). 0
 * or -1. */
static int
b2b_forks_cancel_but_current(struct b2bua *b, struct b2b_acts *acts,
                             const struct db_dialog *d, time_t now)
{
	const struct db_fork *keep = NULL;
	struct db_fork *fs;
	int n;

	if (db_fork_list(b->dc, acts, d->id, &fs, &n) == -1)
		return -1;
	for (int i = 0; i < n && keep == NULL; i++)
		if (d->b_branch != NULL &&
		    strcmp(fs[i].branch, d->b_branch) == 0)
			keep = &fs[i];
	return b2b_forks_cancel(b, acts, d, fs, n, keep, 0, now);
}

int
b2bua_best_final(const int *status, int n)
{
	static const int pref4[] = {401, 407, 415, 420, 484};
	int best = -1;

	/* RFC 3261 16.7 step 6: a 6xx at once; else the lowest class; in
	 * 4xx the ones that let the caller try again (401, 407, 415, 420,
	 * 484) first */
	for (int i = 0; i < n; i++)
		if (status[i] >= 600 && status[i] < 700)
			return i;
	for (int i = 0; i < n; i++) {
		if (status[i] < 300 || status[i] >= 600)
			continue;
		if (best == -1 || status[i] / 100 < status[best] / 100)
			best = i;
	}
	if (best == -1 || status[best] / 100 != 4)
		return best;
	for (size_t p = 0; p < sizeof(pref4) / sizeof(pref4[0]); p++)
		for (int i = 0; i < n; i++)
			if (status[i] == pref4[p])
				return i;
	return best;
}

/* Every fork failed: relay the best final response (RFC 3261 16.7; a 503
 * as 500) to the caller and end the call. 0 or -1. */
static int
b2b_forks_failed(struct b2bua *b, struct b2b_acts *acts, struct db_dialog *d,
                 const struct db_fork *fs, int n, time_t now)
{
	int *st = talloc_array(acts, int, n), *ix = talloc_array(acts, int, n);
	int k, rc, m_n = 0;
	const struct db_fork *f;
	struct sip_msg *m = NULL;

	if (st == NULL || ix == NULL)
		return -1;
	/* the phones' own answers before the 408s of Timer B, so that a
	 * silent stale binding does not hide the 486 of the phone that is
	 * there (b2bua_best_final takes the first of the best class) */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++) {
			if ((fs[i].response == NULL) != pass)
				continue;
			st[m_n] = fs[i].status;
			ix[m_n++] = i;
		}
	if ((k = b2bua_best_final(st, m_n)) == -1)
		return -1;
	f = &fs[ix[k]];
	if (f->response != NULL)
		m = b2b_parse(acts, f->response);
	if (f->status == 503) {
		d->end_reason = "500 (503 Service Unavailable from the callee)";
		rc = b2b_answer_a(acts, d, 500, NULL);
	} else if (m != NULL) {
		d->end_reason = b2b_reason(acts, m->status, m->reason);
		rc = b2b_relay_to_a(b, acts, d, m);
	} else {
		d->end_reason = f->status == 408
		                    ? "408 no answer from the callee"
		                    : talloc_asprintf(acts, "%d", f->status);
		rc = b2b_answer_a(acts, d, f->status, NULL);
	}
	log_info("b2bua: call %lld: all %d forks failed: %s relayed",
	         (long long)d->id, n, d->end_reason);
	return rc == 0 ? b2b_end(b, d, NULL, now) : -1;
}

/*
 * An answer of one fork (the branch `branch`) of forked call d (resp NULL:
 * no final answer, Timer B). Provisionals are relayed and make that fork
 * the B-leg; the first 2xx wins and the other forks are cancelled; a 2xx
 * that lost is ACKed and BYE'd; when every fork failed, the best failure
 * is relayed (a 6xx at once, the rest cancelled). 0 or -1.
 */
static int
b2b_fork_resp(struct b2bua *b, struct b2b_acts *acts, struct db_dialog *d,
              const char *branch, const struct sip_msg *resp, int status,
              int orphan, time_t now)
{
	struct db_fork *fs, *f = NULL;
	struct db_dialog v;
	struct sip_peer to;
	int n, ok = 1, sw;
	char *c;

	if (branch == NULL || db_fork_list(b->dc, acts, d->id, &fs, &n) == -1)
		return branch == NULL ? 0 : -1;
	for (int i = 0; i < n && f == NULL; i++)
		if (strcmp(fs[i].branch, branch) == 0)
			f = &fs[i];
	if (f == NULL)
		return 0;
	b2b_fork_view(d, f, &v);
	if (orphan && resp != NULL && status >= 300) {
		size_t len;
		char *ack = b2b_ack_non2xx(acts, &v, resp, &len);
		if (ack != NULL && b2b_peer_parse(f->peer, &to) == 0)
			b2b_act_raw(acts, &to, ack, len);
	}
	if (status < 200) {
		if (strcmp(f->state, "cancel_owed") == 0) {
			/* the provisional the CANCEL waited for */
			log_info("b2bua: call %lld: fork %s heard from: CANCEL",
			         (long long)d->id, f->branch);
			return b2b_fork_cancel(b, acts, d, f, 1, now);
		}
		if (status == 100 || !b2b_stage_early(d->stage) ||
		    (strcmp(f->state, "calling") != 0 &&
		     strcmp(f->state, "early") != 0))
			return 0;
		f->state = "early";
		if (resp->to->tag.len > 0)
			f->to_tag = b2b_dup(acts, resp->to->tag);
		if ((c = b2b_contact(acts, resp)) != NULL)
			f->contact = c;
		if ((c = b2b_rr_reversed(acts, resp)) != NULL)
			f->route = c;
		/* relayed in the fork's own early dialog (b2b_fork_tag) */
		if (b2b_fork_current(acts, d, f, (int)(f - fs)) == -1)
			return -1;
		if (status == 180 || strcmp(d->stage, "ringing") == 0)
			d->stage = "ringing";
		else
			d->stage = "early";
		return db_fork_save(b->dc, f, now) == 0 &&
		               b2b_save(b, d, now) == 0 &&
		               b2b_relay_to_a(b, acts, d, resp) == 0
		           ? 0
		           : -1;
	}
	if (status < 300) {
		if (strcmp(f->state, "answered") == 0) {
			/* the winner's 2xx again: our ACK was lost */
			if (strcmp(d->stage, "confirmed") == 0)
				b2b_ack_b(b, acts, d, 'b', SIP_STR_NULL, NULL);
			return 0;
		}
		if (resp->to->tag.len > 0)
			f->to_tag = b2b_dup(acts, resp->to->tag);
		if ((c = b2b_contact(acts, resp)) != NULL)
			f->contact = c;
		f->route = b2b_route_2xx(acts, resp, f->request);
		if (strcmp(f->state, "bye") == 0) {
			/* the loser's 2xx again: ACK again */
			b2b_fork_view(d, f, &v);
			return b2b_ack_b(b, acts, &v, 'b', SIP_STR_NULL, NULL);
		}
		b2b_wait_drop(b, f->branch);
		f->status = status;
		if (b2b_stage_early(d->stage)) {
			/* the first 2xx wins: the others are cancelled; the
			 * call goes on in the winner's early dialog (its tag)
			 */
			f->state = "answered";
			if ((sw = b2b_fork_current(acts, d, f,
			                           (int)(f - fs))) == -1)
				return -1;
			/* the caller may have counted CSeq per early dialog
			 * (RFC 3261 12.1.2): the row's last one may be
			 * another fork's; the next request sets it again */
			if (sw == 1)
				d->a_cseq = 0;
			d->stage = "answered";
			d->answered_at = now;
			d->ring_deadline = 0;
			ok = db_fork_save(b->dc, f, now) == 0 &&
			     b2b_forks_cancel(b, acts, d, fs, n, f, 0, now) ==
			         0 &&
			     b2b_save(b, d, now) == 0 &&
			     b2b_answer_to_a(b, acts, d, resp) == 0;
			log_info("b2bua: call %lld answered (%d) by fork %s",
			         (long long)d->id, status, f->branch);
			return ok ? 0 : -1;
		}
		/* a 2xx after another fork won, or after the call was over:
		 * ACK and BYE (RFC 3261 16.7 step 5 left to the B2BUA) */
		f->state = "bye";
		b2b_fork_view(d, f, &v);
		v.end_reason = NULL;
		ok = db_fork_save(b->dc, f, now) == 0 &&
		     b2b_ack_b(b, acts, &v, 'b', SIP_STR_NULL, NULL) == 0 &&
		     b2b_own_request(b, acts, &v, 'b', "BYE") == 0;
		log_info("b2bua: call %lld: fork %s answered %d too late: ACK "
		         "and BYE",
		         (long long)d->id, f->branch, status);
	} else {
		/* a final failure, or no answer */
		if (!b2b_fork_pending(f))
			return 0;
		b2b_wait_drop(b, f->branch);
		f->state = "failed";
		f->status = status;
		f->response =
		    resp ? talloc_strndup(acts, resp->buf, resp->len) : NULL;
		if (db_fork_save(b->dc, f, now) == -1)
			return -1;
		if (b2b_stage_early(d->stage) && status >= 600) {
			/* a 6xx: the call fails at once, the rest cancelled */
			d->end_reason = b2b_reason(acts, status, resp->reason);
			log_info("b2bua: call %lld: fork %s declined (%d): the "
			         "others cancelled",
			         (long long)d->id, f->branch, status);
			return b2b_forks_cancel(b, acts, d, fs, n, f, 0, now) ==
			                   0 &&
			               b2b_relay_to_a(b, acts, d, resp) == 0 &&
			               b2b_end(b, d, NULL, now) == 0
			           ? 0
			           : -1;
		}
		if (b2b_stage_early(d->stage) && b2b_forks_pending(fs, n) == 0)
			return b2b_forks_failed(b, acts, d, fs, n, now);
	}
	/* the caller cancelled (or a worker died): the call ends when the
	 * last fork it waits for has answered */
	if (ok && strcmp(d->stage, "terminating") == 0 && d->answered_at == 0 &&
	    b2b_forks_waiting(fs, n) == 0)
		ok = b2b_end(b, d, NULL, now) == 0;
	return ok ? 0 : -1;
}

/*
 * An answer of the callee to the B-leg INVITE (resp NULL: no final answer
 * came, Timer B), from the INVITE's client transaction or, orphan, after
 * the transaction was gone (then a non-2xx final is ACKed here). branch:
 * the INVITE's Via branch (which fork of a forked call; may be NULL).
 */
static void
b2b_invite_resp(struct b2bua *b, const char *call_id, const char *branch,
                const struct sip_msg *resp, int orphan)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	int status = resp ? resp->status : 408, mark, ok = 1, rc;
	struct b2b_acts *acts;
	struct db_dialog *d;
	time_t now = time(NULL);
	char leg, *c;

	/* a 100 matters only to a fork whose CANCEL waits for it */
	if (status == 100 && !b2b_wait_has(b, branch))
		return;
	if ((mark = b2b_unit_begin(b)) == -1) {
		log_warnx("b2bua: cannot record an answer %d of %s", status,
		          call_id);
		return;
	}
	rc = db_dialog_find(b->dc, mem, call_id, 1, &d, &leg);
	if (rc != 1 || leg != 'b' ||
	    (acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
		b2b_unit_end(b, mark, 1, NULL);
		return;
	}
	if (d->forks > 0) {
		ok = b2b_fork_resp(b, acts, d, branch, resp, status, orphan,
		                   now) == 0;
		goto done;
	}
	if (status == 100)
		goto done;
	if (orphan && resp != NULL && status >= 300) {
		struct sip_peer to;
		size_t len;
		char *ack = b2b_ack_non2xx(acts, d, resp, &len);
		if (ack != NULL && b2b_peer_parse(d->b_peer, &to) == 0)
			b2b_act_raw(acts, &to, ack, len);
	}
	if (status < 200) {
		if (!b2b_stage_early(d->stage))
			goto done;
		if (resp->to->tag.len > 0)
			d->b_to_tag = b2b_dup(mem, resp->to->tag);
		if ((c = b2b_contact(mem, resp)) != NULL)
			d->b_contact = c;
		if ((c = b2b_rr_reversed(mem, resp)) != NULL)
			d->b_route = c;
		if (status == 180 || strcmp(d->stage, "ringing") == 0)
			d->stage = "ringing";
		else
			d->stage = "early";
		ok = b2b_save(b, d, now) == 0 &&
		     b2b_relay_to_a(b, acts, d, resp) == 0;
	} else if (status < 300) {
		if (b2b_stage_early(d->stage)) {
			if (resp->to->tag.len > 0)
				d->b_to_tag = b2b_dup(mem, resp->to->tag);
			if ((c = b2b_contact(mem, resp)) != NULL)
				d->b_contact = c;
			d->b_route = b2b_route_2xx(mem, resp, d->b_request);
			d->stage = "answered";
			d->answered_at = now;
			d->ring_deadline = 0;
			ok = b2b_save(b, d, now) == 0 &&
			     b2b_answer_to_a(b, acts, d, resp) == 0;
			log_info("b2bua: call %lld answered (%d)",
			         (long long)d->id, status);
		} else if (strcmp(d->stage, "confirmed") == 0) {
			/* our ACK was lost: the callee sends its 2xx again */
			b2b_ack_b(b, acts, d, 'b', SIP_STR_NULL, NULL);
		} else if (strcmp(d->stage, "answered") != 0) {
			b2b_late_2xx(b, acts, d, resp);
			if (strcmp(d->stage, "ended") != 0)
				ok = b2b_end(b, d, NULL, now) == 0;
		}
	} else if (b2b_stage_early(d->stage)) {
		d->end_reason = resp ? b2b_reason(mem, status, resp->reason)
		                     : "408 no answer from the callee";
		ok = b2b_end(b, d, NULL, now) == 0 &&
		     (resp ? b2b_relay_to_a(b, acts, d, resp)
		           : b2b_answer_a(acts, d, 408, NULL)) == 0;
		log_info("b2bua: call %lld failed: %s", (long long)d->id,
		         d->end_reason);
	} else if (strcmp(d->stage, "terminating") == 0 &&
	           d->answered_at == 0) {
		/* the 487 of afd's CANCEL (or a final that crossed it) */
		ok = b2b_end(b, d, NULL, now) == 0;
	}
done:
	if (b2b_unit_end(b, mark, ok, acts) == -1)
		log_warnx("b2bua: an answer %d of %s was not recorded", status,
		          call_id);
}

/* The B-leg INVITE's transaction: every answer (and Timer B). */
static void
b2b_invite_done(struct sipd *sd, void *arg, int status,
                const struct sip_msg *resp)
{
	struct b2b_tx *tx = arg;

	b2b_invite_resp(tx->b, tx->call_id, tx->branch, resp, 0);
}

/* afd's own requests (BYE, CANCEL): their answers change nothing. */
static void
b2b_ignore_done(struct sipd *sd, void *arg, int status,
                const struct sip_msg *resp)
{
	log_debug("b2bua: afd's own request answered %d", status);
}

/* The answer to a request relayed to the other leg: relayed back; a BYE's
 * final answer ends the call. */
static void
b2b_relay_done(struct sipd *sd, void *arg, int status,
               const struct sip_msg *resp)
{
	struct b2b_tx *tx = arg;
	struct b2bua *b = tx->b;
	TALLOC_CTX *mem = sipd_batch_mem(sd);
	struct b2b_acts *acts;
	struct db_dialog *d = NULL;
	char *hdrs = NULL, leg;
	size_t hl = 0;
	int mark, rc = 0, ok = 1;

	if (status == 100 || (status < 200 && tx->mid != SIP_M_INVITE))
		return;
	if ((mark = b2b_unit_begin(b)) == -1)
		return;
	if (tx->call_id != NULL)
		rc = db_dialog_find(b->dc, mem, tx->call_id, 0, &d, &leg);
	if ((acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
		b2b_unit_end(b, mark, 0, NULL);
		return;
	}
	if (resp != NULL &&
	    (hdrs = b2b_resp_hdrs(acts, b, resp, &tx->orig_from, &hl)) == NULL)
		ok = 0;
	if (ok && tx->orig != NULL)
		ok = b2b_act_resp(acts, tx->orig, tx->origlen, &tx->orig_from,
		                  NULL, status,
		                  resp ? resp->reason : SIP_STR_NULL, hdrs, hl,
		                  resp ? resp->body : SIP_STR_NULL) == 0;
	if (ok && tx->branch != NULL && status >= 200)
		ok = db_relay_delete(b->dc, tx->branch) == 0;
	if (ok && rc == 1 && tx->mid == SIP_M_BYE && status >= 200) {
		ok = b2b_end(b, d, NULL, time(NULL)) == 0;
		log_info("b2bua: call %lld ended: %s", (long long)d->id,
		         d->end_reason ? d->end_reason : "BYE");
	}
	b2b_unit_end(b, mark, ok, acts);
}

/*
 * An answer to a request afd relayed inside a call (or to a pager
 * MESSAGE with one binding: a row of dialog_id 0), reaching a worker
 * that has no transaction for it (the relaying worker died and this is
 * its replacement): relayed to the phone that sent the request, from its
 * dialog_relays row; a BYE's final answer ends the call. 1 when branch
 * was such a request, 0 when not, -1 on error.
 */
static int
b2b_relay_orphan(struct b2bua *b, const char *branch,
                 const struct sip_msg *resp)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	struct b2b_acts *acts;
	struct db_dialog *d;
	struct sip_peer from;
	int64_t dialog_id;
	char *request, *peer, *hdrs, leg;
	size_t hl;
	int mark, ok = 1, rc;

	if (branch == NULL || (mark = b2b_unit_begin(b)) == -1)
		return -1;
	rc = db_relay_find(b->dc, mem, branch, &request, &peer, &dialog_id);
	/* a 100, or a 1xx to a request other than INVITE: not relayed */
	if (rc != 1 || resp->status == 100 ||
	    (resp->status < 200 && resp->cseq.mid != SIP_M_INVITE)) {
		b2b_unit_end(b, mark, 1, NULL);
		return rc;
	}
	if ((acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
		b2b_unit_end(b, mark, 0, NULL);
		return -1;
	}
	if (b2b_peer_parse(peer, &from) == -1 ||
	    (hdrs = b2b_resp_hdrs(acts, b, resp, &from, &hl)) == NULL ||
	    b2b_act_resp(acts, request, strlen(request), &from, NULL,
	                 resp->status, resp->reason, hdrs, hl,
	                 resp->body) == -1)
		ok = 0;
	if (ok && resp->status >= 200)
		ok = db_relay_delete(b->dc, branch) == 0;
	if (ok && resp->status >= 200 && resp->cseq.mid == SIP_M_BYE &&
	    db_dialog_find(b->dc, mem, b2b_dup(mem, resp->call_id), 0, &d,
	                   &leg) == 1 &&
	    d->id == dialog_id && strcmp(d->stage, "terminating") == 0)
		ok = b2b_end(b, d, NULL, time(NULL)) == 0;
	if (b2b_unit_end(b, mark, ok, acts) == -1)
		return -1;
	if (dialog_id == 0)
		log_info("b2bua: answer %d to a pager MESSAGE reached a "
		         "restarted worker: relayed from its dialog_relays row",
		         resp->status);
	else
		log_info("b2bua: answer %d to a %.*s relayed in call %lld "
		         "reached a restarted worker: relayed from its "
		         "dialog_relays row",
		         resp->status, SIP_STR_FMT(resp->cseq.method),
		         (long long)dialog_id);
	return 1;
}

/* ------------------------------------------ requests inside the call */

/* Do req's tags name leg `leg` of d (From: the phone's tag, To: afd's)? */
static int
b2b_tags_match(const struct db_dialog *d, char leg, const struct sip_msg *req)
{
	if (leg == 'a')
		return b2b_streq(d->a_from_tag, req->from->tag) &&
		       (req->mid == SIP_M_CANCEL ||
		        b2b_streq(d->a_to_tag, req->to->tag));
	return b2b_streq(d->b_to_tag, req->from->tag) &&
	       b2b_streq(d->b_from_tag, req->to->tag);
}

/* A request of a phone inside its call (BYE, re-INVITE, UPDATE, PRACK,
 * INFO, MESSAGE, ...): relayed to the other leg as afd's own request, its
 * answer relayed back (b2b_relay_done). */
static int
b2b_indialog(struct b2bua *b, struct sipd_req *rq)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	const struct sip_msg *req = rq->msg;
	struct b2b_acts *acts;
	struct db_dialog *d;
	struct db_fork *fs = NULL, *f = NULL;
	struct b2b_tx *tx;
	struct sip_peer to;
	struct sip_buf o;
	char leg, y, branch[48], method[16];
	uint32_t *in, cseq;
	int mark, rc, ok, early_bye, picked = 0, nf = 0;

	if ((mark = b2b_unit_begin(b)) == -1)
		return sipd_reply(b->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	rc =
	    db_dialog_find(b->dc, mem, b2b_dup(mem, req->call_id), 0, &d, &leg);
	/* a forked call: the early dialog of another fork than the row's */
	if (rc == 1 && !b2b_tags_match(d, leg, req) &&
	    (picked = b2b_fork_pick(b, mem, d, leg, req, &f, &fs, &nf)) == -1) {
		b2b_unit_end(b, mark, 0, NULL);
		return sipd_reply(b->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	}
	if (rc != 1 || !b2b_tags_match(d, leg, req)) {
		b2b_unit_end(b, mark, 1, NULL);
		return sipd_reply(b->sd, rq, 481, NULL, NULL, 0, 0);
	}
	if (picked)
		log_debug("b2bua: call %lld: %.*s in the early dialog of fork "
		          "%s",
		          (long long)d->id, SIP_STR_FMT(req->method),
		          f->branch);
	y = leg == 'a' ? 'b' : 'a';
	in = leg == 'a' ? &d->a_cseq : &d->b_in_cseq;
	/* equal: a retransmission its transaction did not absorb (the
	 * worker was restarted since): relayed again. A caller's request
	 * to another fork than the last one may count from that early
	 * dialog's own CSeq (RFC 3261 12.1.2): not compared */
	if (req->cseq.num < *in && !(picked && leg == 'a')) {
		b2b_unit_end(b, mark, 1, NULL);
		return sipd_reply(b->sd, rq, 500, "CSeq Out of Order", NULL, 0,
		                  0);
	}
	if (y == 'b' && d->b_to_tag == NULL) {
		/* nothing to relay to yet: the callee has not answered */
		b2b_unit_end(b, mark, 1, NULL);
		return sipd_reply(b->sd, rq, 500, "Callee Not Reached Yet",
		                  "Retry-After: 1\r\n", 16, 0);
	}
	*in = req->cseq.num;
	/* a BYE of the caller before the answer (RFC 3261 15: in an early
	 * dialog) ends its INVITE too */
	early_bye =
	    req->mid == SIP_M_BYE && leg == 'a' && b2b_stage_early(d->stage);
	if (req->mid == SIP_M_BYE) {
		d->stage = "terminating";
		d->end_reason =
		    leg == 'a' ? "caller hung up" : "callee hung up";
		d->ring_deadline = 0;
	}
	cseq = y == 'a' ? ++d->a_out_cseq : ++d->b_cseq;
	if (req->mid == SIP_M_INVITE) {
		if (y == 'a')
			d->a_inv_cseq = cseq;
		else
			d->b_inv_cseq = cseq;
	}
	snprintf(method, sizeof(method), "%.*s",
	         (int)(req->method.len < 15 ? req->method.len : 15),
	         req->method.s);
	sipd_branch(b->sd, branch, sizeof(branch));
	if ((acts = b2b_acts_new(b, req, &rq->from)) == NULL ||
	    b2b_leg_request(acts, b, d, y, method, cseq,
	                    req->max_forwards > 0 ? req->max_forwards - 1 : 69,
	                    branch, &o, &to) == -1) {
		b2b_unit_end(b, mark, 0, acts);
		return -1;
	}
	b2b_copy_hdrs(&o, req, b2b_req_hdrs,
	              y == 'b' ? d->b_inv_cseq : d->a_inv_cseq);
	sip_buf_finish(&o, req->body);
	if (o.oom || (tx = talloc_zero(NULL, struct b2b_tx)) == NULL) {
		b2b_unit_end(b, mark, 0, acts);
		return -1;
	}
	tx->b = b;
	tx->leg = y;
	tx->call_id = talloc_strdup(tx, y == 'a' ? d->a_call_id : d->b_call_id);
	tx->orig = talloc_memdup(tx, req->buf, req->len);
	tx->origlen = req->len;
	tx->orig_from = rq->from;
	tx->mid = req->mid;
	tx->branch = talloc_strdup(tx, branch);
	if (early_bye && b2b_answer_a(acts, d, 487, NULL) == -1)
		log_warnx("b2bua: call %lld: no 487 for the INVITE",
		          (long long)d->id);
	/* and in a forked call, the other phones' INVITEs */
	if (early_bye && d->forks > 0 &&
	    b2b_forks_cancel_but_current(b, acts, d, rq->now) == -1) {
		talloc_free(tx);
		b2b_unit_end(b, mark, 0, acts);
		return -1;
	}
	/* recorded, so that a replacement worker relays the answer too */
	ok = db_relay_insert(b->dc, d->id, branch, method,
	                     talloc_strndup(acts, req->buf, req->len),
	                     b2b_peer_fmt(acts, &rq->from), rq->now) == 0;
	/* the act takes tx over (and frees it when it fails) */
	if (!ok)
		talloc_free(tx);
	ok = ok &&
	     b2b_act_req(acts, &to, branch, method, o.s, o.len,
	                 req->mid == SIP_M_INVITE ? SIPD_REQ_EVERY : 0,
	                 b2b_relay_done, tx) == 0 &&
	     b2b_save(b, d, rq->now) == 0;
	if (b2b_unit_end(b, mark, ok, acts) == -1)
		return sipd_reply(b->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	if (req->mid == SIP_M_BYE)
		log_info("b2bua: call %lld: %s", (long long)d->id,
		         d->end_reason);
	return 0;
}

/* CANCEL from the caller (RFC 3261 9.2): 200 to the CANCEL; while the
 * callee has not answered, 487 to the INVITE and CANCEL to the callee. */
static int
b2b_cancel(struct b2bua *b, struct sipd_req *rq)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	const struct sip_msg *req = rq->msg;
	struct b2b_acts *acts;
	struct db_dialog *d;
	int mark, rc, ok = 1, waiting = 1;
	char leg;

	if ((mark = b2b_unit_begin(b)) == -1)
		return sipd_reply(b->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	rc =
	    db_dialog_find(b->dc, mem, b2b_dup(mem, req->call_id), 0, &d, &leg);
	if (rc != 1 || leg != 'a' || !b2b_tags_match(d, 'a', req)) {
		b2b_unit_end(b, mark, 1, NULL);
		return sipd_reply(b->sd, rq, 481, NULL, NULL, 0, 0);
	}
	sipd_reply(b->sd, rq, 200, NULL, NULL, 0, 0);
	if (!b2b_stage_early(d->stage)) {
		b2b_unit_end(b, mark, 1, NULL);
		return 0;
	}
	d->stage = "terminating";
	d->end_reason = "cancelled";
	d->ring_deadline = 0;
	if ((acts = b2b_acts_new(b, NULL, NULL)) == NULL)
		ok = 0;
	if (ok)
		ok = b2b_save(b, d, rq->now) == 0 &&
		     b2b_answer_a(acts, d, 487, NULL) == 0 &&
		     b2b_cancel_all(b, acts, d, 0, rq->now, &waiting) == 0;
	/* no fork that will answer: nothing to wait for */
	if (ok && waiting == 0)
		ok = b2b_end(b, d, NULL, rq->now) == 0;
	b2b_unit_end(b, mark, ok, acts);
	log_info("b2bua: call %lld cancelled by the caller", (long long)d->id);
	return 0;
}

void
b2bua_ack(struct b2bua *b, const struct sip_msg *req,
          const struct sip_peer *from)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	struct b2b_acts *acts;
	struct db_dialog *d;
	int mark, rc, ok = 1;
	char leg;

	if (req->to == NULL || req->to->tag.len == 0)
		return;
	b2b_rtx_stop(b, req->call_id);
	if ((mark = b2b_unit_begin(b)) == -1)
		return;
	rc =
	    db_dialog_find(b->dc, mem, b2b_dup(mem, req->call_id), 0, &d, &leg);
	if (rc != 1 || !b2b_tags_match(d, leg, req) ||
	    (acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
		b2b_unit_end(b, mark, 1, NULL);
		log_debug("b2bua: ACK for no call (%.*s): ignored",
		          SIP_STR_FMT(req->call_id));
		return;
	}
	if (leg == 'a' && strcmp(d->stage, "answered") == 0) {
		d->stage = "confirmed";
		/* the 2xx kept for a replacement is not needed any more */
		ok = b2b_save(b, d, time(NULL)) == 0 &&
		     (!b2b_caller_udp(d) || db_answer_drop(b->dc, d->id) == 0);
		log_info("b2bua: call %lld confirmed", (long long)d->id);
	}
	if (ok)
		ok = b2b_ack_b(b, acts, d, leg == 'a' ? 'b' : 'a', req->body,
		               req) == 0;
	b2b_unit_end(b, mark, ok, acts);
}

/* ------------------------------------------- MESSAGE outside a dialog */

/*
 * A pager-mode MESSAGE (RFC 3428) to an AOR with several live bindings is
 * sent to all of them at once (RFC 3261 16.7, as the INVITE forks are),
 * each its own non-INVITE client transaction and branch. The first 2xx is
 * relayed to the sender and later answers are absorbed (a non-INVITE is
 * never cancelled, RFC 3261 9.1); when every branch has failed (a silent
 * one on Timer F: 408) the best answer (b2bua_best_final) is relayed. As
 * for one binding nothing is recorded: this group lives in memory, owned
 * by its branches' transactions (each holds a b2b_pfork; the last one
 * freed frees the group), so a worker that dies takes it along.
 */
struct b2b_pager {
	struct b2bua *b;
	char *orig; /* the sender's MESSAGE, raw */
	size_t origlen;
	struct sip_peer orig_from;
	char *callee;
	int n;        /* branches */
	int refs;     /* b2b_pfork alive, + 1 while being built */
	int answered; /* the sender has its final answer */
	int *status;  /* each branch's final status (0: none yet) */
	int *alive;   /* each branch's transaction still exists */
	char **resp;  /* each branch's final response, raw (NULL: none) */
	char **branch;
};

/* One branch of a b2b_pager: its client transaction's argument. */
struct b2b_pfork {
	struct b2b_pager *pg;
	int i;
};

/* Drop one reference of pg; the last frees it. */
static void
b2b_pager_unref(struct b2b_pager *pg)
{
	if (--pg->refs == 0)
		talloc_free(pg);
}

/* A branch's transaction is gone (answered, timed out, never started, or
 * the worker stops). */
static int
b2b_pfork_free(struct b2b_pfork *pf)
{
	struct b2b_pager *pg = pf->pg;

	pg->alive[pf->i] = 0;
	if (pg->status[pf->i] == 0 && !pg->answered)
		log_info("b2bua: MESSAGE to %s: branch %s ended unanswered",
		         pg->callee, pg->branch[pf->i]);
	b2b_pager_unref(pg);
	return 0;
}

/* Relay status/resp (resp NULL: afd's own answer) to pg's sender, as the
 * answer of a single binding is (b2b_relay_done). */
static void
b2b_pager_answer(struct b2b_pager *pg, int status, const struct sip_msg *resp)
{
	struct b2b_tx tx = {.b = pg->b, .leg = 'b', .mid = SIP_M_MESSAGE};

	tx.orig = pg->orig;
	tx.origlen = pg->origlen;
	tx.orig_from = pg->orig_from;
	pg->answered = 1;
	b2b_relay_done(pg->b->sd, &tx, status, resp);
}

/* Every branch of pg has failed: relay the best answer (RFC 3261 16.7
 * step 6; a branch that never answered counts as 408, after every phone's
 * own answer of the same class: a silent stale binding does not hide the
 * 486 of the phone that is there; a 503 goes as 500). */
static void
b2b_pager_failed(struct b2b_pager *pg)
{
	TALLOC_CTX *mem = sipd_batch_mem(pg->b->sd);
	int *st = talloc_array(mem, int, pg->n),
	    *ix = talloc_array(mem, int, pg->n);
	struct sip_msg *m = NULL;
	int k, n = 0;

	if (st == NULL || ix == NULL)
		return;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < pg->n; i++) {
			/* pass 0: the phones' answers; 1: Timer F (408) */
			if ((pg->resp[i] == NULL) != pass)
				continue;
			st[n] = pg->status[i] ? pg->status[i] : 408;
			ix[n++] = i;
		}
	k = b2bua_best_final(st, n);
	k = ix[k == -1 ? 0 : k];
	for (int i = 0; i < pg->n; i++)
		st[i] = pg->status[i] ? pg->status[i] : 408;
	log_info("b2bua: MESSAGE to %s: all %d branches failed: %d relayed",
	         pg->callee, pg->n, st[k] == 503 ? 500 : st[k]);
	if (st[k] == 503)
		b2b_pager_answer(pg, 500, NULL);
	else if (pg->resp[k] != NULL && (m = b2b_parse(mem, pg->resp[k])))
		b2b_pager_answer(pg, m->status, m);
	else
		b2b_pager_answer(pg, st[k], NULL);
}

/* A branch's final answer (resp NULL: Timer F, 408). */
static void
b2b_pager_done(struct sipd *sd, void *arg, int status,
               const struct sip_msg *resp)
{
	struct b2b_pfork *pf = arg;
	struct b2b_pager *pg = pf->pg;
	int i = pf->i;

	if (status < 200)
		return;
	pg->status[i] = status;
	if (pg->answered) {
		log_info("b2bua: MESSAGE to %s: branch %s answered %d after "
		         "the sender had its answer: absorbed",
		         pg->callee, pg->branch[i], status);
		return;
	}
	if (status < 300) {
		log_info("b2bua: MESSAGE to %s: %d from branch %s relayed",
		         pg->callee, status, pg->branch[i]);
		b2b_pager_answer(pg, status, resp);
		return;
	}
	if (resp != NULL &&
	    (pg->resp[i] = talloc_strndup(pg, resp->buf, resp->len)) == NULL)
		log_warnx("b2bua: out of memory");
	for (int j = 0; j < pg->n; j++)
		if (j != i && pg->alive[j] && pg->status[j] == 0)
			return; /* another branch may still answer */
	b2b_pager_failed(pg);
}

/* The MESSAGE req rewritten as afd's own request to binding bd at `to`
 * (Via branch, Call-ID, From tag given), under ctx; NULL when out of
 * memory. */
static char *
b2b_pager_request(struct b2bua *b, TALLOC_CTX *ctx, const struct sip_msg *req,
                  const struct db_binding *bd, const struct sip_peer *to,
                  const char *branch, const char *call_id, const char *tag,
                  const char *caller, size_t *len)
{
	struct sip_buf o;

	sip_buf_init(&o, ctx, 1024 + req->len);
	sip_buf_addf(&o, "MESSAGE %s SIP/2.0\r\n", bd->contact);
	sip_buf_addf(&o, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", b2b_tp(to),
	             b->host, branch);
	sip_buf_addf(&o, "Max-Forwards: %d\r\n",
	             req->max_forwards > 0 ? req->max_forwards - 1 : 69);
	if (bd->path && bd->path[0])
		sip_buf_addf(&o, "Route: %s\r\n", bd->path);
	sip_buf_addf(&o, "From: <%.*s>;tag=%s\r\n",
	             SIP_STR_FMT(req->from->uri.raw), tag);
	sip_buf_addf(&o, "To: <%.*s>\r\n", SIP_STR_FMT(req->to->uri.raw));
	sip_buf_addf(&o, "Call-ID: %s\r\n", call_id);
	sip_buf_addf(&o, "CSeq: 1 MESSAGE\r\n");
	sip_buf_addf(&o, "P-Asserted-Identity: <%s>\r\n", caller);
	b2b_copy_hdrs(&o, req, b2b_req_hdrs, 0);
	sip_buf_finish(&o, req->body);
	if (o.oom)
		return NULL;
	*len = o.len;
	return o.s;
}

/* Send req to the n bindings bds (at tos) at once as the branches of one
 * b2b_pager. 0, or -1 when nothing was sent. */
static int
b2b_pager_fork(struct b2bua *b, struct sipd_req *rq, const char *caller,
               const char *callee, const struct db_binding *bds,
               const struct sip_peer *tos, int n, const char *call_id,
               const char *tag)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	const struct sip_msg *req = rq->msg;
	struct b2b_pager *pg;
	struct b2b_pfork *pf;
	char branch[48], *buf;
	size_t len;
	int sent = 0;

	if ((pg = talloc_zero(NULL, struct b2b_pager)) == NULL)
		return -1;
	pg->b = b;
	pg->n = n;
	pg->refs = 1; /* ours, while building */
	pg->orig = talloc_memdup(pg, req->buf, req->len);
	pg->origlen = req->len;
	pg->orig_from = rq->from;
	pg->callee = talloc_strdup(pg, callee);
	pg->status = talloc_zero_array(pg, int, n);
	pg->alive = talloc_zero_array(pg, int, n);
	pg->resp = talloc_zero_array(pg, char *, n);
	pg->branch = talloc_zero_array(pg, char *, n);
	if (pg->orig == NULL || pg->callee == NULL || pg->status == NULL ||
	    pg->alive == NULL || pg->resp == NULL || pg->branch == NULL) {
		talloc_free(pg);
		return -1;
	}
	log_info("b2bua: MESSAGE %s -> %s: %d bindings, forked", caller, callee,
	         n);
	for (int i = 0; i < n; i++) {
		sipd_branch(b->sd, branch, sizeof(branch));
		if ((pg->branch[i] = talloc_strdup(pg, branch)) == NULL ||
		    (buf = b2b_pager_request(b, mem, req, &bds[i], &tos[i],
		                             branch, call_id, tag, caller,
		                             &len)) == NULL ||
		    (pf = talloc_zero(NULL, struct b2b_pfork)) == NULL) {
			log_warnx("b2bua: out of memory");
			continue;
		}
		pf->pg = pg;
		pf->i = i;
		pg->alive[i] = 1;
		pg->refs++;
		talloc_set_destructor(pf, b2b_pfork_free);
		log_info("b2bua: MESSAGE to %s: branch %s to %s", callee,
		         branch, bds[i].contact);
		if (sipd_request(b->sd, &tos[i], branch, "MESSAGE", buf, len,
		                 b2b_pager_done, pf) == 0)
			sent++;
	}
	b2b_pager_unref(pg);
	return sent > 0 ? 0 : -1;
}

/* db_relay_same_fn: is the stored request the MESSAGE arg (a struct
 * sip_msg) again, its Call-ID and top Via branch equal? 1 or 0. */
static int
b2b_pager_same(const char *request, void *arg)
{
	const struct sip_msg *req = arg;
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct sip_msg *m = b2b_parse(tmp, request);
	int same = m != NULL && m->via != NULL &&
	           sip_str_eq(m->call_id, req->call_id) &&
	           sip_str_eq(m->via->branch, req->via->branch);

	talloc_free(tmp);
	return same;
}

/* A pager-mode MESSAGE (RFC 3428) to a registered AOR: sent on to its
 * binding as afd's own request, the answer relayed back; to every live
 * binding when there are several (b2b_pager_fork). */
static int
b2b_pager(struct b2bua *b, struct sipd_req *rq)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	const struct sip_msg *req = rq->msg;
	struct db_binding *bds;
	struct sip_peer *tos;
	struct b2b_acts *acts;
	struct b2b_tx *tx;
	const char *why;
	char *callee, *caller, *impu = NULL, *extra = NULL, *buf, *call_id,
	                       branch[48], hex[17], tag[13];
	size_t len;
	int st, n, nlive, mark, ok;

	if (b2b_looped(b, req))
		return sipd_reply(b->sd, rq, 482, NULL, NULL, 0, 0);
	if ((callee = reg_aor(mem, &req->ruri, b->c, &st, &why)) == NULL)
		return sipd_reply(b->sd, rq, st == 403 ? 404 : st,
		                  st == 403 ? "Not Found Here" : why, NULL, 0,
		                  0);
	if ((caller = reg_aor(mem, &req->from->uri, b->c, &st, &why)) == NULL)
		return sipd_reply(b->sd, rq, 403, "Sender Not Served", NULL, 0,
		                  0);
	if (b2b_bindings(b, mem, callee, rq->now, &bds, &tos, &n, &nlive) ==
	        -1 ||
	    n == 0) {
		if (db_reg_identities(b->dr, mem, callee, &impu, &extra) == -1)
			impu = "?";
		return sipd_reply(b->sd, rq, impu || nlive ? 480 : 404, NULL,
		                  NULL, 0, 0);
	}
	/* in a replacement's first 64*T1: a retransmission (over UDP) of a
	 * MESSAGE its predecessor was relaying is not sent again; the answer
	 * comes from the row (b2bua_orphan) */
	if (!b->fresh && req->via != NULL &&
	    (uint64_t)(rq->now - b->started) * 1000 <= 64 * b2b_t1(b) &&
	    db_relay_pager_has(b->dc, b2b_dup(mem, req->call_id),
	                       b2b_dup(mem, req->via->branch), b2b_pager_same,
	                       (void *)req) == 1) {
		log_info("b2bua: MESSAGE %.*s again: its relay goes on",
		         SIP_STR_FMT(req->call_id));
		return 0;
	}
	b2b_hex(hex, 16);
	b2b_hex(tag, 12);
	if ((call_id = talloc_asprintf(mem, "%s-msg@%s", hex, b->c->domain)) ==
	    NULL)
		return -1;
	if (n > 1)
		return b2b_pager_fork(b, rq, caller, callee, bds, tos, n,
		                      call_id, tag);
	sipd_branch(b->sd, branch, sizeof(branch));
	if ((buf = b2b_pager_request(b, mem, req, &bds[0], &tos[0], branch,
	                             call_id, tag, caller, &len)) == NULL ||
	    (tx = talloc_zero(NULL, struct b2b_tx)) == NULL)
		return -1;
	tx->b = b;
	tx->leg = 'b';
	tx->orig = talloc_memdup(tx, req->buf, req->len);
	tx->origlen = req->len;
	tx->orig_from = rq->from;
	tx->mid = SIP_M_MESSAGE;
	tx->branch = talloc_strdup(tx, branch);
	if (tx->orig == NULL || tx->branch == NULL ||
	    (mark = b2b_unit_begin(b)) == -1) {
		talloc_free(tx);
		return -1;
	}
	log_info("b2bua: MESSAGE %s -> %s", caller, callee);
	/* recorded as a relay of no call (dialog_id 0), so that a
	 * replacement of this worker relays the answer too (b2bua_orphan);
	 * the act takes tx over (and frees it when it fails) */
	if ((acts = b2b_acts_new(b, req, &rq->from)) == NULL ||
	    db_relay_insert(b->dc, 0, branch, "MESSAGE",
	                    talloc_strndup(acts, req->buf, req->len),
	                    b2b_peer_fmt(acts, &rq->from), rq->now) == -1) {
		talloc_free(tx);
		b2b_unit_end(b, mark, 0, acts);
		return sipd_reply(b->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	}
	ok = b2b_act_req(acts, &tos[0], branch, "MESSAGE", buf, len, 0,
	                 b2b_relay_done, tx) == 0;
	if (b2b_unit_end(b, mark, ok, acts) == -1)
		return sipd_reply(b->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	return 0;
}

/* ------------------------------------------------------------ entries */

int
b2bua_serve(struct sipd *sd, struct sipd_req *rq)
{
	struct b2bua *b = sipd_b2bua(sd);
	const struct sip_msg *req = rq->msg;

	if (req->mid == SIP_M_CANCEL)
		return b2b_cancel(b, rq);
	if (req->to->tag.len > 0)
		return b2b_indialog(b, rq);
	if (req->mid == SIP_M_INVITE)
		return b2b_invite(b, rq);
	if (req->mid == SIP_M_MESSAGE)
		return b2b_pager(b, rq);
	/* BYE, PRACK, UPDATE, INFO need a dialog (RFC 3261 12.2.2) */
	return sipd_reply(sd, rq, 481, NULL, NULL, 0, 0);
}

int
b2bua_owner(struct b2bua *b, const struct sip_msg *req, char slot[8])
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);

	if (req->mid != SIP_M_ACK && req->mid != SIP_M_CANCEL &&
	    (req->to == NULL || req->to->tag.len == 0))
		return 0;
	if (req->call_id.len == 0)
		return 0;
	return db_dialog_owner(b->dc, b2b_dup(mem, req->call_id), slot) == 1;
}

int
b2bua_orphan(struct b2bua *b, const struct sip_msg *resp,
             const struct sip_peer *from)
{
	TALLOC_CTX *mem = sipd_batch_mem(b->sd);
	char *call_id = b2b_dup(mem, resp->call_id), slot[8];
	struct db_dialog *d;
	int mark;
	char leg;

	/* the answer to a pager MESSAGE (a relay of no call) */
	if (resp->cseq.mid == SIP_M_MESSAGE && resp->via != NULL &&
	    b2b_relay_orphan(b, b2b_dup(mem, resp->via->branch), resp) == 1)
		return 1;
	if (call_id == NULL || db_dialog_owner(b->dc, call_id, slot) != 1)
		return 0;
	/* the answer to a request relayed inside the call (PRACK, UPDATE,
	 * INFO, re-INVITE, BYE, ...) */
	if (resp->via != NULL &&
	    b2b_relay_orphan(b, b2b_dup(mem, resp->via->branch), resp) == 1)
		return 1;
	if (resp->cseq.mid == SIP_M_INVITE) {
		log_info("b2bua: answer %d of %s reached a restarted worker: "
		         "handled from its dialogs row",
		         resp->status, call_id);
		b2b_invite_resp(b, call_id,
		                resp->via ? b2b_dup(mem, resp->via->branch)
		                          : NULL,
		                resp, 1);
		return 1;
	}
	/* the BYE that ended a call, answered after a restart */
	if (resp->cseq.mid == SIP_M_BYE && resp->status >= 200 &&
	    (mark = b2b_unit_begin(b)) != -1) {
		int ok = 1;
		if (db_dialog_find(b->dc, mem, call_id, 0, &d, &leg) == 1 &&
		    strcmp(d->stage, "terminating") == 0)
			ok = b2b_end(b, d, NULL, time(NULL)) == 0;
		b2b_unit_end(b, mark, ok, NULL);
	}
	return 1;
}

/* ------------------------------------------ timers, recovery, sweeper */

/* End call d now from afd's side (a worker died, a ring timeout, the
 * sweeper): the caller gets a final answer or BYE, the callee CANCEL or
 * BYE; stage 'ended' with reason (inside a unit, acts after commit). */
static int
b2b_end_both(struct b2bua *b, struct b2b_acts *acts, struct db_dialog *d,
             const char *reason, int status, time_t now)
{
	if (d->end_reason == NULL || strcmp(d->stage, "terminating") != 0)
		d->end_reason = (char *)reason;
	if (b2b_stage_early(d->stage)) {
		b2b_answer_a(acts, d, status, NULL);
		b2b_cancel_all(b, acts, d, 0, now, NULL);
	} else if (d->answered_at != 0) {
		/* a BYE in flight: only its receiver gets it again (its
		 * sender's BYE is answered by no one: its transaction died) */
		const char *r =
		    strcmp(d->stage, "terminating") == 0 ? d->end_reason : NULL;
		if (r == NULL || strcmp(r, "caller hung up") != 0)
			b2b_own_request(b, acts, d, 'a', "BYE");
		if (r == NULL || strcmp(r, "callee hung up") != 0)
			b2b_own_request(b, acts, d, 'b', "BYE");
	} else {
		/* terminating before an answer: afd's CANCEL again */
		b2b_cancel_all(b, acts, d, 1, now, NULL);
	}
	return b2b_end(b, d, NULL, now);
}

/* After a restart, the forks of d (not terminating) that the dead
 * worker left: an INVITE recorded but maybe never sent goes again (same
 * branch), a CANCEL owed goes now (whether a provisional came is not
 * known any more). 0 or -1. */
static int
b2b_forks_recover(struct b2bua *b, struct b2b_acts *acts, struct db_dialog *d,
                  time_t now)
{
	struct db_fork *fs;
	int n;

	if (db_fork_list(b->dc, acts, d->id, &fs, &n) == -1)
		return -1;
	for (int i = 0; i < n; i++) {
		struct db_fork *f = &fs[i];
		struct b2b_tx *tx;
		struct sip_peer to;

		if (strcmp(f->state, "cancel_owed") == 0) {
			if (b2b_fork_cancel(b, acts, d, f, 1, now) == -1)
				return -1;
			continue;
		}
		if (strcmp(f->state, "calling") != 0 ||
		    !b2b_stage_early(d->stage) || f->request == NULL ||
		    sipd_client_alive(b->sd, f->branch, "INVITE") ||
		    b2b_peer_parse(f->peer, &to) == -1)
			continue;
		if ((tx = talloc_zero(NULL, struct b2b_tx)) == NULL)
			return -1;
		tx->b = b;
		tx->leg = 'b';
		tx->call_id = talloc_strdup(tx, d->b_call_id);
		tx->branch = talloc_strdup(tx, f->branch);
		tx->mid = SIP_M_INVITE;
		if (b2b_act_req(acts, &to, f->branch, "INVITE",
		                talloc_strdup(acts, f->request),
		                strlen(f->request), SIPD_REQ_EVERY,
		                b2b_invite_done, tx) == -1)
			return -1;
		log_info("b2bua: call %lld: fork %s: INVITE sent again after a "
		         "restart",
		         (long long)d->id, f->branch);
	}
	return 0;
}

/* After a restart: call d (stage 'answered', its caller over UDP) had its
 * 2xx sent by the dead worker, whose retransmissions died with it (or
 * maybe never sent at all: the worker died between the commit and the
 * send). Send it again from now on until the ACK, T1 doubling up to T2
 * (b2b_rtx_run): the very bytes the dead worker sent, kept in
 * `dialog_answers` with the stage (b2b_answer_to_a), so a caller that
 * never got the first 2xx gets the callee's SDP. A call answered by an
 * afd older than schema 12 has no such row: its 2xx is rebuilt from the
 * caller's stored INVITE (Via, From, To, Call-ID, CSeq), the row's A-leg
 * tag (a forked call's: the winner's early dialog's) and afd's Contact,
 * without a body. Given up 64*T1 after the
 * answer (at least 2*T1 from now), then the call ends (b2b_rtx_expire). */
static void
b2b_rtx_resume(struct b2bua *b, const struct db_dialog *d)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct b2b_act x;
	struct b2b_rtx *r;
	struct sip_msg *req;
	uint64_t now = sipd_now_ms();
	int64_t left;
	char hdrs[360];
	int kept;

	memset(&x, 0, sizeof(x));
	x.kind = B2B_ACT_RESP;
	if (mem == NULL || d->a_request == NULL ||
	    b2b_peer_parse(d->a_peer, &x.to) == -1 || x.to.tp != SIP_TP_UDP ||
	    (req = b2b_parse(mem, d->a_request)) == NULL)
		goto done;
	x.buf = d->a_request;
	x.len = strlen(d->a_request);
	x.tag = d->a_to_tag; /* a forked call's: the winner's early dialog */
	x.status = 200;
	if ((kept = db_answer_get(b->dc, mem, d->id, &x.built, &x.builtlen)) ==
	    -1)
		goto done;
	if (kept == 1 && sscanf(x.built, "SIP/2.0 %d ", &x.status) != 1)
		x.status = 200;
	if (kept == 0) {
		snprintf(hdrs, sizeof(hdrs),
		         "Contact: <sip:afd@%s;transport=udp>\r\n", b->host);
		x.hdrs = hdrs;
	}
	if ((r = b2b_rtx_add(b, &x, req->call_id)) == NULL)
		goto done;
	r->at = now;
	left = (d->answered_at - (int64_t)time(NULL)) * 1000 +
	       64 * (int64_t)b2b_t1(b);
	if (left < 2 * (int64_t)b2b_t1(b))
		left = 2 * (int64_t)b2b_t1(b);
	r->give_up = now + (uint64_t)left;
	log_info("b2bua: call %lld: answered but not ACKed when this worker's "
	         "predecessor died: 2xx sent again to the caller (%s)",
	         (long long)d->id,
	         kept ? "as sent" : "rebuilt without a body: none kept");
done:
	talloc_free(mem);
}

/* After a restart: the forks of this slot's calls that are over but
 * still owed a CANCEL (their phone had said nothing yet) get it now, so
 * that no phone is left ringing (mem: scratch). */
static void
b2b_owed_recover(struct b2bua *b, TALLOC_CTX *mem)
{
	struct db_dialog none;
	struct db_fork *fs;
	struct b2b_acts *acts;
	time_t now = time(NULL);
	int n, mark, ok = 1;

	if (db_fork_owed(b->dc, mem, sipd_slot(b->sd), &fs, &n) == -1 ||
	    n == 0 || (mark = b2b_unit_begin(b)) == -1)
		return;
	if ((acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
		b2b_unit_end(b, mark, 0, NULL);
		return;
	}
	memset(&none, 0, sizeof(none)); /* a CANCEL needs the fork only */
	for (int i = 0; ok && i < n; i++) {
		ok = b2b_fork_cancel(b, acts, &none, &fs[i], 1, now) == 0;
		/* its INVITE's transaction died: nothing will answer here
		 * any more (the call is over), so the fork is done */
		fs[i].state = "failed";
		ok = ok && db_fork_save(b->dc, &fs[i], now) == 0;
	}
	if (b2b_unit_end(b, mark, ok, acts) == 0)
		log_info("b2bua: %d forks of ended calls owed a CANCEL: sent",
		         n);
}

/* Look at this slot's calls: once after start (recovery), then at ring
 * deadlines. */
static void
b2b_check(struct b2bua *b, uint64_t now_ms)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct db_dialog *ds;
	time_t now = time(NULL);
	int n, mark;

	if (mem == NULL ||
	    db_dialog_owned(b->dc, mem, sipd_slot(b->sd), &ds, &n) == -1) {
		talloc_free(mem);
		b->next_check = now_ms + 1000;
		return;
	}
	for (int i = 0; i < n; i++) {
		struct db_dialog *d = &ds[i];
		struct b2b_acts *acts;
		int ok = 1, changed = 0;

		if (!b->recovered && b2b_touched(b, d->id))
			continue; /* this worker's own since its start */
		if ((mark = b2b_unit_begin(b)) == -1)
			break;
		if ((acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
			b2b_unit_end(b, mark, 0, NULL);
			break;
		}
		if (!b->recovered && strcmp(d->stage, "terminating") == 0) {
			/* the BYE or CANCEL in flight is lost with its
			 * transaction: send them again and end the call */
			ok = b2b_end_both(b, acts, d, "worker died", 503,
			                  now) == 0;
			changed = 1;
			log_info("b2bua: call %lld was ending when this "
			         "worker's predecessor died: ended",
			         (long long)d->id);
		} else if (b2b_stage_early(d->stage) && d->ring_deadline &&
		           d->ring_deadline <= now) {
			ok = b2b_end_both(b, acts, d, "no answer", 408, now) ==
			     0;
			changed = 1;
			log_info("b2bua: call %lld: no answer in %d s: 408 and "
			         "CANCEL",
			         (long long)d->id, b->c->ring_timeout);
		} else if (!b->recovered && d->forks > 0) {
			changed = 1;
			ok = b2b_forks_recover(b, acts, d, now) == 0;
		} else if (!b->recovered && strcmp(d->stage, "trying") == 0 &&
		           d->b_request != NULL && d->b_branch != NULL &&
		           !sipd_client_alive(b->sd, d->b_branch, "INVITE")) {
			/* recorded, maybe never sent: the same INVITE again
			 * (same branch: a copy the callee got is absorbed) */
			struct b2b_tx *tx = talloc_zero(NULL, struct b2b_tx);
			struct sip_peer to;
			if (tx != NULL && b2b_peer_parse(d->b_peer, &to) == 0) {
				tx->b = b;
				tx->leg = 'b';
				tx->call_id = talloc_strdup(tx, d->b_call_id);
				tx->branch = talloc_strdup(tx, d->b_branch);
				tx->mid = SIP_M_INVITE;
				b2b_act_req(acts, &to, d->b_branch, "INVITE",
				            talloc_strdup(acts, d->b_request),
				            strlen(d->b_request),
				            SIPD_REQ_EVERY, b2b_invite_done,
				            tx);
				changed = 1;
				log_info("b2bua: call %lld: B-leg INVITE sent "
				         "again after a restart",
				         (long long)d->id);
			} else {
				talloc_free(tx);
			}
		}
		if (!b->recovered && strcmp(d->stage, "answered") == 0)
			b2b_rtx_resume(b, d);
		if (b2b_stage_early(d->stage) && d->ring_deadline > now) {
			uint64_t at =
			    now_ms + (uint64_t)(d->ring_deadline - now) * 1000 +
			    50;
			if (at < b->next_check)
				b->next_check = at;
		}
		if (!changed) {
			talloc_free(acts);
			acts = NULL;
		}
		b2b_unit_end(b, mark, ok, acts);
	}
	if (!b->recovered)
		b2b_owed_recover(b, mem);
	b->recovered = 1;
	talloc_free(mem);
}

void
b2bua_started(struct b2bua *b, int restarts)
{
	if (b != NULL)
		b->fresh = restarts == 0;
}

void
b2bua_started_lean(struct b2bua *b)
{
	if (b == NULL)
		return;
	b->fresh = 1;
	b->recovered = 1;
	b->next_check = UINT64_MAX; /* a call arms its ring deadline */
}

/* afd has just started (the UDP worker's first check): end every call a
 * previous run of afd left, as well as afd can (BYE, CANCEL, final
 * answers to the addresses in the rows). */
static void
b2b_end_previous_run(struct b2bua *b)
{
	TALLOC_CTX *mem;
	struct db_dialog *ds;
	time_t now = time(NULL);
	int n, mark, ended, total = 0;

	do {
		if ((mem = talloc_new(NULL)) == NULL ||
		    db_dialog_stale(b->dc, mem, now, b->started, b->started,
		                    b->started, B2B_SWEEP_LIMIT, &ds,
		                    &n) == -1) {
			talloc_free(mem);
			return;
		}
		ended = 0;
		for (int i = 0; i < n; i++) {
			struct b2b_acts *acts;
			/* only what was there before afd started: the
			 * workers of this run may have calls already (and
			 * what the previous run left in the same second is
			 * left to the sweeper) */
			if (ds[i].updated_at >= b->started ||
			    b2b_touched(b, ds[i].id) ||
			    (mark = b2b_unit_begin(b)) == -1)
				continue;
			if ((acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
				b2b_unit_end(b, mark, 0, NULL);
				continue;
			}
			if (b2b_unit_end(b, mark,
			                 b2b_end_both(b, acts, &ds[i],
			                              "afd restarted", 503,
			                              now) == 0,
			                 acts) == 0)
				ended++;
		}
		total += ended;
		talloc_free(mem);
	} while (n == B2B_SWEEP_LIMIT && ended > 0);
	if (total > 0)
		log_info("b2bua: %d calls left by afd's previous run ended",
		         total);
}

void
b2bua_timers(struct b2bua *b, uint64_t now_ms)
{
	if (b == NULL)
		return;
	b2b_rtx_run(b, now_ms);
	if (now_ms < b->next_check)
		return;
	b->next_check = UINT64_MAX;
	if (b->fresh && !b->recovered) {
		/* nothing of this slot's to take over */
		if (sipd_slot(b->sd)[0] == 'u')
			b2b_end_previous_run(b);
		b->recovered = 1;
	}
	b2b_check(b, now_ms);
}

uint64_t
b2bua_next_deadline(const struct b2bua *b)
{
	uint64_t t;

	if (b == NULL)
		return UINT64_MAX;
	t = b->next_check;
	for (const struct b2b_rtx *r = b->rtx; r != NULL; r = r->next) {
		uint64_t at = r->at < r->give_up ? r->at : r->give_up;
		if (at < t)
			t = at;
	}
	return t;
}

int
b2bua_sweep(struct b2bua *b, time_t now)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct db_dialog *ds;
	time_t t_term = now - 64 * (time_t)b->c->sip_t1 / 1000 - 1;
	time_t t_setup =
	    now - b->c->ring_timeout - 64 * (time_t)b->c->sip_t1 / 1000 - 1;
	int n, mark, ended = 0;

	if (mem == NULL || db_dialog_stale(b->dc, mem, now, t_term, t_setup,
	                                   now - b->c->call_max_idle,
	                                   B2B_SWEEP_LIMIT, &ds, &n) == -1) {
		talloc_free(mem);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct db_dialog *d = &ds[i];
		struct b2b_acts *acts;
		const char *why;
		int ok;

		if ((mark = b2b_unit_begin(b)) == -1)
			break;
		if ((acts = b2b_acts_new(b, NULL, NULL)) == NULL) {
			b2b_unit_end(b, mark, 0, NULL);
			break;
		}
		if (b2b_stage_early(d->stage))
			why = "worker died";
		else if (strcmp(d->stage, "terminating") == 0)
			why = d->end_reason ? d->end_reason : "worker died";
		else if (d->updated_at < now - b->c->call_max_idle)
			why = "stale";
		else
			why = "de-registered";
		log_info(
		    "b2bua: sweeper: call %lld (%s, %s, silent since %lld) "
		    "ended: %s",
		    (long long)d->id, d->stage, d->owner_slot,
		    (long long)d->updated_at, why);
		ok = b2b_end_both(b, acts, d, why, 503, now) == 0;
		if (b2b_unit_end(b, mark, ok, acts) == 0)
			ended++;
	}
	talloc_free(mem);
	/* pager MESSAGEs whose relaying worker died and whose answer never
	 * came (their senders gave up on Timer F long ago) */
	if (db_relay_pager_expire(b->dc, t_term, 1) == 1 &&
	    (mark = b2b_unit_begin(b)) != -1) {
		int k = db_relay_pager_expire(b->dc, t_term, 0);
		if (b2b_unit_end(b, mark, k != -1, NULL) == 0 && k == 1)
			log_info("b2bua: sweeper: pager MESSAGEs whose answer "
			         "never came forgotten");
	}
	return ended;
}
