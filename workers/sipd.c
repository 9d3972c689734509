/*
 * workers/sipd.c: a worker's SIP service, independent of transport (see
 * sipd.h): the request pipeline, the transaction layer's owner, the
 * queue of what must be sent.
 *
 * The pipeline, in this order (RFC 3261 8.2, 16.3, 17):
 *   1. parse: unparseable input is answered with the parser's status and
 *      reason when the request got far enough (sip_parse fills err), else
 *      dropped, counted and logged with a printable sample. An over-long
 *      UDP datagram is 513.
 *   2. route: a response goes to the worker its top Via branch names
 *      (z9hG4bK-<slot>-...: SIPD_OUT_FORWARD, IPC SIP_FORWARD), or to this
 *      worker's client transaction; one of this worker's branches that no
 *      transaction owns (the worker was restarted) is offered to the
 *      services that keep their requests in the database (pings), else
 *      dropped. An ACK goes to the server transaction it acknowledges.
 *   3. checks: Request-URI scheme (416), CSeq method (400), Max-Forwards 0
 *      (483); a method afd does not know is 501, one it knows but does not
 *      serve (or not over this transport) 405, both with Allow printed
 *      from the method table; but either inside a dialog afd does not
 *      have (a To tag that is no call's and no subscription's) is 481.
 *   4. the server transaction: a retransmission is absorbed (the last
 *      answer sent again), a new request goes on.
 *   5. Require / Proxy-Require naming an option tag the method's service
 *      does not support (the table's tags): 420 with Unsupported.
 *   6. the authentication gate, for the rows marked METHOD_AUTH
 *      (workers/auth.h: Digest, IMS AKA; [auth] mode).
 *   7. the method's service (workers/method.h).
 * Answers to bad input (1, 3) are stateless: the same request gets the
 * same bytes, To tag included.
 *
 * Every answer carries a To tag derived from Call-ID and From tag (so a
 * retransmission gets the same tag, RFC 3261 8.2.6.2) and Server. The top
 * Via of an answer gets received= and a filled-in rport (RFC 3581).
 *
 * Group commit: the services work in the batch's transaction object
 * (schema/db_txn.h); sipd_batch_end() commits it, and the answers that
 * reported a change (after_commit) leave only then, through their server
 * transactions; if the commit fails (or SQLite rolled the transaction back
 * on its own) they become 500 with Retry-After: 1. After-commit callbacks
 * (the removal hook, the pings' sends) run inside sipd_batch_end().
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "schema/db.h"
#include "schema/db_txn.h"
#include "sip/txn.h"
#include "util/log.h"
#include "workers/auth.h"
#include "workers/b2bua.h"
#include "workers/method.h"
#include "workers/ping.h"
#include "workers/registrar.h"
#include "workers/regnotify.h"
#include "workers/sipd.h"

#ifndef AFD_VERSION
#define AFD_VERSION "0.1"
#endif

#define SIPD_SERVER "Server: afd/" AFD_VERSION "\r\n"

/* The batch pool: a burst of 64 REGISTERs needs about 600 KB. */
#define SIPD_POOL_SIZE (1024 * 1024)

/* An answer of a service, waiting for the batch's end. */
struct sipd_pending {
	struct sipd_req *rq;
	int status;
	char *buf;
	size_t len;
	int after_commit; /* reports a change of the batch's transaction */
	int failed;       /* that change is lost: send 500 instead */
};

/*
 * What sipd keeps with a client transaction or an INVITE server transaction
 * (txn_data; a talloc child of it): where it sends, since it retransmits on
 * its timers. A non-INVITE server transaction keeps nothing here: it sends
 * only in answer to something that says where (the TU's answer,
 * sipd_respond_out and sipd_send_pending; a retransmission of its request,
 * sipd_route_request), through sd->sending_to. Over UDP it lives 32 s
 * (Timer J) and a registrar at 10,000 REGISTERs/s holds 320,000 of them:
 * this struct (176 bytes and a talloc chunk) was a fifth of each.
 */
struct sipd_tx {
	struct sip_peer to; /* where it sends */
	/* client transactions */
	sipd_done_fn *done;
	void *arg;
	int finished;   /* done was called */
	unsigned flags; /* SIPD_REQ_* */
};

struct sipd {
	struct conf conf;
	char slot[8];
	sqlite3 *db;
	struct db_txn *dbt;
	struct reg *reg;
	struct auth *auth;
	struct ping *ping;
	struct regn *regn;
	struct b2bua *b2bua;
	struct txn_table *tt;
	/* where a transaction without a sipd_tx sends, during the call
	 * that makes it send (sipd_sending_to) */
	const struct sip_peer *sending_to;
	TALLOC_CTX *pool;  /* a talloc pool the batches are carved from */
	TALLOC_CTX *batch; /* everything of the current batch */
	struct sipd_out *out;
	size_t nout, capout;
	struct sipd_pending *pend;
	size_t npend, cappend;
	struct sipd_stats st;
};

static int sipd_tx_send(void *arg, struct txn *t, const char *buf, size_t len);
static void sipd_tx_response(void *arg, struct txn *t,
                             const struct sip_msg *resp);
static void sipd_tx_timeout(void *arg, struct txn *t);
static void sipd_tx_terminated(void *arg, struct txn *t);

static int
sipd_destroy(struct sipd *sd)
{
	/* Transactions first (their callbacks use the batch and the
	 * services), then the services' statements, then the connection. */
	TALLOC_FREE(sd->tt);
	if (sd->dbt != NULL)
		db_txn_abort(sd->dbt);
	TALLOC_FREE(sd->b2bua);
	TALLOC_FREE(sd->ping);
	TALLOC_FREE(sd->regn);
	TALLOC_FREE(sd->auth);
	TALLOC_FREE(sd->reg);
	TALLOC_FREE(sd->dbt);
	if (sd->db != NULL)
		db_close(sd->db);
	sd->db = NULL;
	return 0;
}

struct sipd *
sipd_new(TALLOC_CTX *ctx, const struct conf *c, const char *slot)
{
	static const struct txn_cb cb = {
	    .send = sipd_tx_send,
	    .on_response = sipd_tx_response,
	    .on_timeout = sipd_tx_timeout,
	    .on_terminated = sipd_tx_terminated,
	};
	struct txn_timers tm;
	struct sipd *sd;

	if ((sd = talloc_zero(ctx, struct sipd)) == NULL) {
		log_warnx("sipd: out of memory");
		return NULL;
	}
	sd->conf = *c;
	if (sd->conf.max_message == 0)
		sd->conf.max_message = SIP_MAX_MSG_DEFAULT;
	snprintf(sd->slot, sizeof(sd->slot), "%s", slot ? slot : "?");
	talloc_set_destructor(sd, sipd_destroy);
	/* Beyond the pool talloc falls back to malloc: big batches work. */
	if ((sd->pool = talloc_pool(sd, SIPD_POOL_SIZE)) == NULL)
		goto fail;
	if ((sd->db = db_open(c)) == NULL)
		goto fail;
	if ((sd->dbt = db_txn_new(sd, sd->db)) == NULL)
		goto fail;
	if ((sd->reg = reg_new(sd, &sd->conf, sd->dbt)) == NULL)
		goto fail;
	if ((sd->auth = auth_new(sd, &sd->conf, sd->db)) == NULL)
		goto fail;
	if ((sd->ping = ping_new(sd, sd, sd->db)) == NULL)
		goto fail;
	if ((sd->regn = regn_new(sd, sd, sd->dbt)) == NULL)
		goto fail;
	if ((sd->b2bua = b2bua_new(sd, sd, sd->dbt)) == NULL)
		goto fail;
	/* T1 from the config (a closed lab network may use less, RFC 3261
	 * 17.1.1.1); T2 and T4 as the RFC gives them, T2 at least T1. */
	tm.t1 = (uint64_t)(sd->conf.sip_t1 > 0 ? sd->conf.sip_t1 : 500);
	tm.t2 = tm.t1 > 4000 ? tm.t1 : 4000;
	tm.t4 = 5000;
	if ((sd->tt = txn_table_new(sd, &tm, &cb, sd)) == NULL)
		goto fail;
	return sd;
fail:
	talloc_free(sd);
	return NULL;
}

void
sipd_release_memory(struct sipd *sd)
{
	if (sd->dbt != NULL && db_txn_open(sd->dbt))
		return; /* a batch is open: not quiet */
	TALLOC_FREE(sd->batch);
	sd->out = NULL;
	sd->nout = sd->capout = 0;
	sd->pend = NULL;
	sd->npend = sd->cappend = 0;
	/* a new pool: its pages are not touched until a batch needs them */
	TALLOC_FREE(sd->pool);
	sd->pool = talloc_pool(sd, SIPD_POOL_SIZE);
	if (sd->tt != NULL)
		txn_table_compact(sd->tt);
	if (sd->db != NULL)
		sqlite3_db_release_memory(sd->db);
}

const struct sipd_stats *
sipd_stats(const struct sipd *sd)
{
	return &sd->st;
}

sqlite3 *
sipd_db(struct sipd *sd)
{
	return sd->db;
}

struct auth *
sipd_auth(struct sipd *sd)
{
	return sd->auth;
}

void
sipd_started(struct sipd *sd, int restarts)
{
	b2bua_started(sd->b2bua, restarts);
}

void
sipd_started_lean(struct sipd *sd)
{
	b2bua_started_lean(sd->b2bua);
}

struct b2bua *
sipd_b2bua(struct sipd *sd)
{
	return sd->b2bua;
}

struct reg *
sipd_reg(struct sipd *sd)
{
	return sd->reg;
}

struct regn *
sipd_regn(struct sipd *sd)
{
	return sd->regn;
}

void
sipd_regev_kick(struct sipd *sd)
{
	(void)sipd_batch_mem(sd);
	/* a failure is logged below; the sweep retries within 500 ms */
	(void)regn_run(sd->regn, time(NULL));
}

const struct conf *
sipd_conf(const struct sipd *sd)
{
	return &sd->conf;
}

const char *
sipd_slot(const struct sipd *sd)
{
	return sd->slot;
}

uint64_t
sipd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
sipd_batch_begin(struct sipd *sd)
{
	if (sd->dbt != NULL && db_txn_open(sd->dbt)) {
		/* The previous batch was never ended: its answers were not
		 * sent, so its changes must not stay either. */
		log_warnx("sipd: batch begun with a transaction open; "
		          "rolling it back");
		db_txn_abort(sd->dbt);
	}
	/* Freeing the batch empties the pool: the next batch's allocations
	 * are bump allocations in the same block (no malloc per message). */
	TALLOC_FREE(sd->batch);
	sd->batch = talloc_new(sd->pool ? sd->pool : sd);
	sd->out = NULL;
	sd->nout = sd->capout = 0;
	sd->pend = NULL;
	sd->npend = sd->cappend = 0;
}

TALLOC_CTX *
sipd_batch_mem(struct sipd *sd)
{
	if (sd->batch == NULL)
		sipd_batch_begin(sd);
	return sd->batch;
}

/* The printable "ip:port" of a socket address into buf. */
static const char *
sipd_addr_str(const struct sockaddr_storage *ss, char *buf, size_t bufsz,
              char *ip, size_t ipsz, uint16_t *port)
{
	char tmp[INET6_ADDRSTRLEN];

	tmp[0] = '\0';
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, tmp, sizeof(tmp));
		*port = ntohs(sin->sin_port);
		snprintf(buf, bufsz, "%s:%u", tmp, *port);
		if (ip != NULL)
			snprintf(ip, ipsz, "%s", tmp);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, tmp, sizeof(tmp));
		*port = ntohs(sin6->sin6_port);
		snprintf(buf, bufsz, "[%s]:%u", tmp, *port);
		if (ip != NULL)
			snprintf(ip, ipsz, "[%s]", tmp);
	} else {
		snprintf(buf, bufsz, "?");
		if (ip != NULL)
			snprintf(ip, ipsz, "?");
	}
	return buf;
}

const char *
sipd_peer_str(const struct sip_peer *p, char *buf, size_t bufsz)
{
	uint16_t port;

	return sipd_addr_str(&p->addr, buf, bufsz, NULL, 0, &port);
}

/* A stable To tag for req: FNV-1a of Call-ID and From tag, 16 hex. */
void
sipd_to_tag(const struct sip_msg *req, char tag[17])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = 0xcbf29ce484222325ULL;
	sip_str parts[2] = {req->call_id,
	                    req->from ? req->from->tag : SIP_STR_NULL};

	for (int i = 0; i < 2; i++) {
		for (size_t k = 0; k < parts[i].len; k++) {
			h ^= (unsigned char)parts[i].s[k];
			h *= 0x100000001b3ULL;
		}
		h ^= 0xff; /* separator */
		h *= 0x100000001b3ULL;
	}
	for (int i = 15; i >= 0; i--) {
		tag[i] = hex[h & 15];
		h >>= 4;
	}
	tag[16] = '\0';
}

void
sipd_local_tag(const struct sip_msg *req, char tag[17])
{
	sipd_to_tag(req, tag);
}

/* Part of a received field into an answer, unfolded (sip/print.c). */
static void
sipd_add_value(struct sip_buf *b, const char *s, size_t len)
{
	sip_buf_add_unfolded(b, (sip_str){s, len});
}

/* "Via: " and the top via-parm with received= and rport=PORT (RFC 3581),
 * without the line end. received and rport are always ours: a value the
 * client put there is replaced by the real source address and port (RFC
 * 3261 18.2.1, RFC 3581 4), in place; received is added at the end when
 * absent and the sent-by host differs from the source (or rport asks). */
static void
sipd_top_via(struct sip_buf *b, const struct sip_via *v,
             const struct sip_peer *from)
{
	char addr[80], ip[64], num[16];
	uint16_t port;
	const char *p = v->raw.s, *end = v->raw.s + v->raw.len;
	const char *bare;
	size_t barelen;
	int have_received = 0;

	sipd_addr_str(&from->addr, addr, sizeof(addr), ip, sizeof(ip), &port);
	/* received carries the bare address, without brackets */
	bare = ip[0] == '[' ? ip + 1 : ip;
	barelen = ip[0] == '[' ? strlen(ip) - 2 : strlen(ip);
	sip_buf_add(b, "Via: ", 5);
	for (const struct sip_param *prm = v->params; prm; prm = prm->next) {
		int rport = sip_str_caseeq_lit(prm->name, "rport");
		const char *ne = prm->name.s + prm->name.len;
		const char *ve =
		    prm->value.s ? prm->value.s + prm->value.len : ne;

		if (!rport && !sip_str_caseeq_lit(prm->name, "received"))
			continue;
		if (prm->name.s < p || ve > end)
			continue; /* outside the via-parm we echo */
		sipd_add_value(b, p, (size_t)(ne - p));
		if (rport) {
			int n = snprintf(num, sizeof(num), "=%u", port);
			sip_buf_add(b, num, (size_t)n);
		} else {
			sip_buf_add(b, "=", 1);
			sip_buf_add(b, bare, barelen);
			have_received = 1;
		}
		p = ve;
	}
	sipd_add_value(b, p, (size_t)(end - p));
	if (!have_received && (v->rport || !sip_str_caseeq_lit(v->host, ip))) {
		sip_buf_add(b, ";received=", 10);
		sip_buf_add(b, bare, barelen);
	}
}

/*
 * Start the answer to req: status line, Vias (the top one amended), From,
 * To with our tag (to_tag, or when NULL the one sipd_to_tag derives),
 * Call-ID, CSeq (the fields as received, so a request that failed to parse
 * part-way is still answered with what it had), Server.
 */
static void
sipd_resp_begin(struct sip_buf *b, const struct sip_msg *req,
                const struct sip_peer *from, int status, const char *reason,
                const char *to_tag)
{
	const struct sip_hdr *h;
	const struct sip_via *top = req->via;
	char tag[17];
	char line[160];
	int n;

	n = snprintf(line, sizeof(line), "SIP/2.0 %d %s\r\n", status,
	             reason ? reason : sip_reason(status));
	sip_buf_add(b, line, (size_t)n);
	for (h = req->first[SIP_HDR_VIA]; h != NULL; h = h->next_same) {
		const char *vs = h->value.s, *ve = h->value.s + h->value.len;
		if (h == req->first[SIP_HDR_VIA] && top != NULL &&
		    top->raw.s >= vs && top->raw.s + top->raw.len <= ve) {
			/* the top via-parm amended, then the rest of the
			 * field (", SIP/2.0/UDP ...") as received */
			const char *rest = top->raw.s + top->raw.len;
			sipd_top_via(b, top, from);
			sipd_add_value(b, rest, (size_t)(ve - rest));
			sip_buf_add(b, "\r\n", 2);
			continue;
		}
		sip_buf_add(b, "Via: ", 5);
		sip_buf_add_unfolded(b, h->value);
		sip_buf_add(b, "\r\n", 2);
	}
	/* a 100 Trying gets no To tag (RFC 3261 8.2.6.2) */
	if (to_tag == NULL) {
		sipd_to_tag(req, tag);
		to_tag = tag;
	}
	sip_resp_fields(b, req,
	                (sip_str){to_tag, status > 100 ? strlen(to_tag) : 0});
	/* a response that makes a dialog (an early one too) carries the
	 * request's Record-Route as it came (RFC 3261 12.1.1) */
	if (status > 100 && status < 300 &&
	    (req->mid == SIP_M_INVITE || req->mid == SIP_M_SUBSCRIBE))
		for (h = req->first[SIP_HDR_RECORD_ROUTE]; h != NULL;
		     h = h->next_same) {
			sip_buf_add(b, "Record-Route: ", 14);
			sip_buf_add_unfolded(b, h->value);
			sip_buf_add(b, "\r\n", 2);
		}
	sip_buf_add(b, SIPD_SERVER, sizeof(SIPD_SERVER) - 1);
}

/* Where an answer to a request from `from` goes (RFC 3261 18.2.2, RFC
 * 3581): TCP: the same connection. UDP: the source address; its port when
 * the top Via has rport or is unusable (did not parse whole, port 0),
 * else the Via's sent-by port (default 5060). */
static void
sipd_dest(const struct sip_msg *req, const struct sip_peer *from,
          struct sip_peer *to)
{
	uint16_t port;

	*to = *from;
	if (from->tp != SIP_TP_UDP || req->via == NULL || req->via->rport ||
	    !req->via->usable)
		return;
	port = req->via->port ? req->via->port : 5060;
	if (to->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&to->addr)->sin_port = htons(port);
	else if (to->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&to->addr)->sin6_port = htons(port);
}

int
sipd_peer_parse(struct sip_peer *p, const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t hl;
	long port;
	char *end;

	memset(p, 0, sizeof(*p));
	p->tp = SIP_TP_UDP;
	if (colon == NULL || colon == s)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535)
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			return -1;
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->addr;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		p->addrlen = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&p->addr;
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		p->addrlen = sizeof(*in);
	}
	return 0;
}

/* ------------------------------------------------------------ outputs */

/* Queue len bytes of buf (copied into the batch when copy) to `to`. */
static int
sipd_out_add(struct sipd *sd, const char *buf, size_t len,
             const struct sip_peer *to, int kind, const char *fwd_slot,
             int copy)
{
	TALLOC_CTX *mem = sipd_batch_mem(sd);
	struct sipd_out *o;

	if (sd->nout == sd->capout) {
		size_t cap = sd->capout ? sd->capout * 2 : 64;
		o = talloc_realloc(mem, sd->out, struct sipd_out, cap);
		if (o == NULL)
			return -1;
		sd->out = o;
		sd->capout = cap;
	}
	if (copy && (buf = talloc_memdup(mem, buf, len)) == NULL)
		return -1;
	o = &sd->out[sd->nout++];
	memset(o, 0, sizeof(*o));
	o->buf = buf;
	o->len = len;
	o->to = *to;
	o->kind = kind;
	if (fwd_slot != NULL)
		snprintf(o->fwd_slot, sizeof(o->fwd_slot), "%s", fwd_slot);
	if (log_level >= LOG_L_TRACE && kind == SIPD_OUT_SEND) {
		char a[80];
		sipd_peer_str(to, a, sizeof(a));
		log_trace("out to %s (%zu bytes):\n%.*s", a, len, (int)len,
		          buf);
	}
	return 0;
}

/* ------------------------------------------------------- transactions */

/* The transaction layer transmits: into the batch's queue. */
static int
sipd_tx_send(void *arg, struct txn *t, const char *buf, size_t len)
{
	struct sipd *sd = arg;
	struct sipd_tx *x = txn_data(t);
	const struct sip_peer *to = x ? &x->to : sd->sending_to;

	if (to == NULL) {
		log_warnx("BUG: sipd: a transaction sends with no destination");
		return -1;
	}
	/* copied: a transaction that ends now frees its buffer */
	if (sipd_out_add(sd, buf, len, to, SIPD_OUT_SEND, NULL, 1) == -1) {
		log_warnx("sipd: out of memory queueing a message");
		return -1;
	}
	return 0;
}

/* Tell a client transaction's owner how it ended (once). */
static void
sipd_tx_finish(struct sipd *sd, struct sipd_tx *x, int status,
               const struct sip_msg *resp)
{
	if (x == NULL || x->finished || x->done == NULL)
		return;
	x->finished = 1;
	x->done(sd, x->arg, status, resp);
}

static void
sipd_tx_response(void *arg, struct txn *t, const struct sip_msg *resp)
{
	struct sipd_tx *x = txn_data(t);

	/* SIPD_REQ_EVERY (the B2BUA): every provisional and every 2xx
	 * (retransmissions in ICT Accepted too) reach the owner; the
	 * transaction is its owner's until a non-2xx final or a timeout */
	if (x != NULL && (x->flags & SIPD_REQ_EVERY) && !x->finished &&
	    x->done != NULL && resp->status < 300) {
		x->done(arg, x->arg, resp->status, resp);
		return;
	}
	if (resp->status >= 200)
		sipd_tx_finish(arg, x, resp->status, resp);
}

static void
sipd_tx_timeout(void *arg, struct txn *t)
{
	struct sipd_tx *x = txn_data(t);

	if (txn_kind(t) == TXN_IST || txn_kind(t) == TXN_NIST) {
		log_debug("sipd: no ACK for the final answer of %s",
		          txn_branch(t));
		return;
	}
	sipd_tx_finish(arg, x, 408, NULL);
}

static void
sipd_tx_terminated(void *arg, struct txn *t)
{
	/* x and its arg are children of t: freed with it. A client
	 * transaction freed with the table (the worker stops) tells its owner
	 * nothing: what it did is in the database (a ping in flight), for
	 * the next worker of the slot to take over. */
}

int
sipd_request(struct sipd *sd, const struct sip_peer *to, const char *branch,
             const char *method, const char *buf, size_t len,
             sipd_done_fn *done, void *arg)
{
	return sipd_request_ex(sd, to, branch, method, buf, len, 0, done, arg);
}

int
sipd_request_ex(struct sipd *sd, const struct sip_peer *to, const char *branch,
                const char *method, const char *buf, size_t len, unsigned flags,
                sipd_done_fn *done, void *arg)
{
	struct sipd_tx *x;
	struct txn *t;

	sd->sending_to = to;
	t = txn_client_new(sd->tt, branch, method, to->tp != SIP_TP_UDP, buf,
	                   len, sipd_now_ms());
	sd->sending_to = NULL;
	if (t == NULL) {
		log_warnx("sipd: cannot start a %s transaction (%s)", method,
		          branch);
		talloc_free(arg);
		return -1;
	}
	if ((x = talloc_zero(t, struct sipd_tx)) == NULL) {
		/* it was sent: it will time out unheard */
		log_warnx("sipd: out of memory");
		talloc_free(arg);
		return -1;
	}
	x->to = *to;
	x->flags = flags;
	x->done = done;
	x->arg = arg ? talloc_steal(x, arg) : NULL;
	txn_set_data(t, x);
	return 0;
}

int
sipd_client_alive(struct sipd *sd, const char *branch, const char *method)
{
	return txn_find_client(sd->tt, branch, method) != NULL;
}

int
sipd_client_calling(struct sipd *sd, const char *branch)
{
	struct txn *t = txn_find_client(sd->tt, branch, "INVITE");

	return t != NULL && txn_state(t) == TXN_CALLING;
}

void
sipd_branch(const struct sipd *sd, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[8];
	char id[17];

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		uint64_t v = sipd_now_ms() ^ ((uint64_t)random() << 20);
		memcpy(rnd, &v, sizeof(rnd));
	}
	for (int i = 0; i < 8; i++) {
		id[2 * i] = hex[rnd[i] >> 4];
		id[2 * i + 1] = hex[rnd[i] & 15];
	}
	id[16] = '\0';
	snprintf(out, outsz, "z9hG4bK-%s-%s", sd->slot, id);
}

int
sipd_branch_slot(sip_str branch, char slot[8])
{
	static const char magic[] = "z9hG4bK-";
	const char *p, *end;
	size_t n;

	/* (an absent branch is a NULL slice: no arithmetic on it) */
	if (branch.s == NULL || branch.len <= sizeof(magic) ||
	    memcmp(branch.s, magic, sizeof(magic) - 1) != 0)
		return -1;
	end = branch.s + branch.len;
	p = branch.s + sizeof(magic) - 1;
	/* a slot: one letter, one to five digits, then '-' */
	if (p >= end || *p < 'a' || *p > 'z')
		return -1;
	for (n = 1; p + n < end && n < 6 && p[n] >= '0' && p[n] <= '9'; n++)
		;
	if (n < 2 || p + n >= end || p[n] != '-')
		return -1;
	memcpy(slot, p, n);
	slot[n] = '\0';
	return 0;
}

void
sipd_timers(struct sipd *sd, uint64_t now_ms)
{
	(void)sipd_batch_mem(sd);
	txn_run_timers(sd->tt, now_ms);
	b2bua_timers(sd->b2bua, now_ms);
}

uint64_t
sipd_next_deadline(const struct sipd *sd)
{
	uint64_t t = txn_next_deadline(sd->tt);
	uint64_t b = b2bua_next_deadline(sd->b2bua);

	return b < t ? b : t;
}

int
sipd_send(struct sipd *sd, const struct sip_peer *to, const char *buf,
          size_t len)
{
	return sipd_out_add(sd, buf, len, to, SIPD_OUT_SEND, NULL, 1);
}

/* ------------------------------------------------------------ answers */

static void sipd_send_pending(struct sipd *sd, struct sipd_pending *p);

/* Append a stateless answer (bad input, before any transaction). */
static int
sipd_answer_stateless(struct sipd *sd, const struct sip_msg *req,
                      const struct sip_peer *from, int status,
                      const char *reason, const char *extra)
{
	struct sip_buf b;
	struct sip_peer to;

	sip_buf_init(&b, sipd_batch_mem(sd), 512);
	sipd_resp_begin(&b, req, from, status, reason, NULL);
	if (extra != NULL)
		sip_buf_add(&b, extra, strlen(extra));
	sip_buf_finish(&b, SIP_STR_NULL);
	if (b.oom) {
		log_warnx("sipd: out of memory building a %d", status);
		return -1;
	}
	sipd_dest(req, from, &to);
	return sipd_out_add(sd, b.s, b.len, &to, SIPD_OUT_SEND, NULL, 0);
}

int
sipd_reply(struct sipd *sd, struct sipd_req *rq, int status, const char *reason,
           const char *hdrs, size_t hdrlen, int after_commit)
{
	TALLOC_CTX *mem = sipd_batch_mem(sd);
	struct sipd_pending *p;
	struct sip_buf b;

	sip_buf_init(&b, mem, 512 + hdrlen);
	sipd_resp_begin(&b, rq->msg, &rq->from, status, reason, NULL);
	if (hdrs != NULL)
		sip_buf_add(&b, hdrs, hdrlen);
	sip_buf_finish(&b, SIP_STR_NULL);
	if (b.oom) {
		log_warnx("sipd: out of memory building a %d", status);
		return -1;
	}
	if (sd->npend == sd->cappend) {
		size_t cap = sd->cappend ? sd->cappend * 2 : 64;
		p = talloc_realloc(mem, sd->pend, struct sipd_pending, cap);
		if (p == NULL)
			return -1;
		sd->pend = p;
		sd->cappend = cap;
	}
	p = &sd->pend[sd->npend++];
	p->rq = rq;
	p->status = status;
	p->buf = b.s;
	p->len = b.len;
	p->after_commit = after_commit;
	p->failed = 0;
	if (status == 100 && !after_commit) {
		/* 100 Trying leaves at once, before the service's database
		 * work and whatever it sends (RFC 3261 16.2 / 17.2.1) */
		sipd_send_pending(sd, p);
		sd->npend--;
	}
	return 0;
}

char *
sipd_response(TALLOC_CTX *ctx, const struct sip_msg *req,
              const struct sip_peer *from, const char *to_tag, int status,
              const char *reason, const char *hdrs, size_t hdrlen, sip_str body,
              size_t *len)
{
	struct sip_buf b;

	sip_buf_init(&b, ctx, 512 + hdrlen + body.len);
	sipd_resp_begin(&b, req, from, status, reason, to_tag);
	if (hdrs != NULL)
		sip_buf_add(&b, hdrs, hdrlen);
	sip_buf_finish(&b, body);
	if (b.oom) {
		log_warnx("sipd: out of memory building a %d", status);
		return NULL;
	}
	*len = b.len;
	return b.s;
}

/* txn_server_respond on t, to where its request came from (to, through
 * sd->sending_to, unless t keeps its own: struct sipd_tx). 0 or -1. */
static int
sipd_server_respond(struct sipd *sd, struct txn *t, const struct sip_peer *to,
                    int status, const char *buf, size_t len)
{
	const struct sip_peer *prev = sd->sending_to;
	int rc;

	sd->sending_to = to;
	rc = txn_server_respond(t, status, buf, len, sipd_now_ms());
	sd->sending_to = prev;
	return rc;
}

/* sipd_respond_buf; copy: buf is not the batch's (copied when queued
 * outside a transaction). */
static int
sipd_respond_out(struct sipd *sd, const struct sip_msg *req,
                 const struct sip_peer *from, int status, const char *buf,
                 size_t len, int copy)
{
	struct sip_peer to;
	struct txn *t;
	int rc;

	if ((t = txn_server_match(sd->tt, req)) != NULL &&
	    txn_kind(t) != TXN_ICT && txn_kind(t) != TXN_NICT) {
		sipd_dest(req, from, &to);
		rc = sipd_server_respond(sd, t, &to, status, buf, len);
		if (rc == -1) {
			log_debug("sipd: %d not sent: its transaction (%s) is "
			          "%s",
			          status, txn_branch(t),
			          txn_state_name(txn_state(t)));
			return -1;
		}
		return 0;
	}
	/* its server transaction is gone (the worker was restarted): the
	 * answer goes as it is, where the request came from */
	sipd_dest(req, from, &to);
	return sipd_out_add(sd, buf, len, &to, SIPD_OUT_SEND, NULL, copy);
}

int
sipd_respond_buf(struct sipd *sd, const struct sip_msg *req,
                 const struct sip_peer *from, int status, const char *buf,
                 size_t len)
{
	return sipd_respond_out(sd, req, from, status, buf, len, 1);
}

int
sipd_respond(struct sipd *sd, const struct sip_msg *req,
             const struct sip_peer *from, const char *to_tag, int status,
             const char *reason, const char *hdrs, size_t hdrlen, sip_str body)
{
	size_t len;
	char *buf = sipd_response(sipd_batch_mem(sd), req, from, to_tag, status,
	                          reason, hdrs, hdrlen, body, &len);

	if (buf == NULL)
		return -1;
	return sipd_respond_out(sd, req, from, status, buf, len, 0);
}

/* The changes the answers so far reported are lost: they will say 500. */
static void
sipd_fail_pending(struct sipd *sd)
{
	for (size_t i = 0; i < sd->npend; i++) {
		if (sd->pend[i].after_commit) {
			sd->pend[i].after_commit = 0;
			sd->pend[i].failed = 1;
		}
	}
}

struct db_txn *
sipd_db_txn(struct sipd *sd)
{
	if (db_txn_lost(sd->dbt))
		sipd_fail_pending(sd);
	if (db_txn_begin(sd->dbt) == -1)
		return NULL;
	return sd->dbt;
}

/* Send a pending answer: through its server transaction, or as it is. */
static void
sipd_send_pending(struct sipd *sd, struct sipd_pending *p)
{
	struct sipd_req *rq = p->rq;

	if (p->failed) {
		struct sip_buf b;
		sip_buf_init(&b, sipd_batch_mem(sd), 512);
		sipd_resp_begin(&b, rq->msg, &rq->from, 500, NULL, NULL);
		sip_buf_add(&b, "Retry-After: 1\r\n", 16);
		sip_buf_finish(&b, SIP_STR_NULL);
		if (b.oom)
			return; /* keep nothing that claims success */
		p->buf = b.s;
		p->len = b.len;
		p->status = 500;
	}
	struct sip_peer to;
	sipd_dest(rq->msg, &rq->from, &to);
	if (rq->stx != NULL) {
		(void)sipd_server_respond(sd, rq->stx, &to, p->status, p->buf,
		                          p->len);
		return;
	}
	sipd_out_add(sd, p->buf, p->len, &to, SIPD_OUT_SEND, NULL, 0);
}

int
sipd_batch_end(struct sipd *sd, const struct sipd_out **out)
{
	int kick;

	(void)sipd_batch_mem(sd);
	/* The reg event: what this batch made owed. The notifier takes its
	 * NOTIFYs in this very transaction (they leave after the answers);
	 * another worker kicks it after its answers. */
	kick = regn_kick_take(sd->regn);
	if (kick && regn_is_notifier(sd->regn)) {
		(void)regn_run(sd->regn, time(NULL));
		kick = 0;
	}
	/* Callbacks of a commit may start new work: commit that too. */
	for (int round = 0; round < 4 && db_txn_open(sd->dbt); round++) {
		if (db_txn_lost(sd->dbt))
			sipd_fail_pending(sd);
		if (db_txn_commit(sd->dbt) == -1) {
			log_warnx("sipd: batch commit failed; answering 500");
			sipd_fail_pending(sd);
		}
	}
	if (db_txn_lost(sd->dbt))
		sipd_fail_pending(sd);
	for (size_t i = 0; i < sd->npend; i++)
		sipd_send_pending(sd, &sd->pend[i]);
	sd->npend = 0;
	/* after the answers: a SUBSCRIBE's 200 leaves before its NOTIFY */
	regn_flush(sd->regn);
	if (kick) {
		struct sip_peer none;
		memset(&none, 0, sizeof(none));
		sipd_out_add(sd, "", 0, &none, SIPD_OUT_KICK,
		             REGN_NOTIFIER_SLOT, 0);
	}
	sd->st.answered += sd->nout;
	*out = sd->out;
	return (int)sd->nout;
}

/* ------------------------------------------------------------ pipeline */

/* 420 check: collects unsupported Require/Proxy-Require tags into b as
 * "Unsupported: a, b\r\n". Returns the number found. Every item of every
 * field is looked at, however many there are. */
static int
sipd_unsupported(const struct method *m, const struct sip_msg *req,
                 struct sip_buf *b)
{
	static const enum sip_hdr_id ids[] = {SIP_HDR_REQUIRE,
	                                      SIP_HDR_PROXY_REQUIRE};
	int found = 0;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		for (const struct sip_hdr *h = req->first[ids[i]]; h != NULL;
		     h = h->next_same) {
			const char *p = h->value.s, *end = p + h->value.len;
			while (p != NULL && p < end) {
				const char *q =
				    memchr(p, ',', (size_t)(end - p));
				sip_str it;
				if (q == NULL)
					q = end;
				it =
				    sip_str_trim((sip_str){p, (size_t)(q - p)});
				p = q + 1;
				/* sec-agree (RFC 3329) is the P-CSCF's to
				 * consume: for calls afd, in its place,
				 * never refuses it (nor passes it on) */
				if (it.len == 0 ||
				    method_tag_supported(m, it) ||
				    ((m->flags & METHOD_SECAGREE) &&
				     sip_str_caseeq_lit(it, "sec-agree")))
					continue;
				if (found)
					sip_buf_add(b, ", ", 2);
				else
					sip_buf_add(b, "Unsupported: ", 13);
				sip_buf_adds(b, it);
				found++;
			}
		}
	}
	if (found)
		sip_buf_add(b, "\r\n", 2);
	return found;
}

/* Semantic checks the parser leaves to us (sip_check_request: 505, 416,
 * 400 for bad URIs and lists), plus a CSeq method that differs from the
 * request's (400). 0, or the status with its reason in err. */
static int
sipd_check_request(const struct sip_msg *req, struct sip_err *err)
{
	memset(err, 0, sizeof(*err));
	if (sip_check_request(req, err) == -1)
		return err->status ? err->status : 400;
	if (!sip_str_eq(req->cseq.method, req->method)) {
		snprintf(err->reason, sizeof(err->reason),
		         "CSeq Method Does Not Match");
		return 400;
	}
	return 0;
}

/*
 * The authentication gate, for the methods marked METHOD_AUTH. Returns 0
 * when the request may go on to its service, 1 when the gate answered it
 * (a challenge, 403, ...). See workers/auth.h.
 */
static int
sipd_auth_gate(struct sipd *sd, struct sipd_req *rq)
{
	return auth_gate(sd->auth, sd, rq);
}

/* Step 2 for a response: to the worker or transaction that owns it. */
static int
sipd_route_response(struct sipd *sd, const struct sip_msg *msg, const char *buf,
                    size_t len, const struct sip_peer *from, int forwarded)
{
	char slot[8], a[80];

	sd->st.responses++;
	if (msg->via != NULL && sipd_branch_slot(msg->via->branch, slot) == 0 &&
	    strcmp(slot, sd->slot) != 0) {
		if (forwarded) {
			log_info("sipd: response %d for slot %s forwarded to "
			         "%s: dropped",
			         msg->status, slot, sd->slot);
			return 0;
		}
		sd->st.forwarded++;
		log_debug("sipd: response %d for %s handed to %s", msg->status,
		          msg->via->branch.s ? "a sibling" : "?", slot);
		return sipd_out_add(sd, buf, len, from, SIPD_OUT_FORWARD, slot,
		                    1) == -1
		           ? -1
		           : 0;
	}
	if (txn_client_recv(sd->tt, msg, sipd_now_ms()))
		return 0;
	if (ping_orphan(sd->ping, msg, time(NULL)))
		return 0;
	if (b2bua_orphan(sd->b2bua, msg, from))
		return 0;
	sd->st.unmatched++;
	log_debug("sipd: response %d from %s matches no transaction: dropped",
	          msg->status, sipd_peer_str(from, a, sizeof(a)));
	return 0;
}

/* Steps 3 to 7 for a request. forwarded: a sibling handed it here (the
 * call it belongs to is this worker's); never handed on again. */
static int
sipd_route_request(struct sipd *sd, const struct sip_msg *req,
                   const struct sip_peer *from, int forwarded)
{
	const struct method *m;
	struct sipd_req *rq;
	struct sip_err err;
	struct sip_buf b;
	struct txn *stx = NULL;
	struct sip_peer dest;
	const struct sip_peer *prev;
	enum txn_rx rx;
	int reliable = from->tp != SIP_TP_UDP, status, in_call = forwarded;
	char owner[8];

	/* a request inside a call goes to the worker that owns the call
	 * (its dialogs row says which): the ACK that arrives over UDP for a
	 * call of a TCP worker, the callee's BYE, ... */
	if (!forwarded && (in_call = b2bua_owner(sd->b2bua, req, owner)) &&
	    strcmp(owner, sd->slot) != 0) {
		sd->st.forwarded++;
		log_debug("sipd: %s for a call of %s handed there",
		          sip_method_name(req->mid), owner);
		return sipd_out_add(sd, req->buf, req->len, from,
		                    SIPD_OUT_FORWARD, owner, 1);
	}
	if (req->mid == SIP_M_ACK) {
		/* never answered; the ACK of a non-2xx ends its INVITE
		 * server transaction, any other goes to the call it
		 * acknowledges (the B2BUA) */
		rx =
		    txn_server_recv(sd->tt, req, reliable, sipd_now_ms(), NULL);
		if (rx != TXN_RX_ACK)
			b2bua_ack(sd->b2bua, req, from);
		return 0;
	}
	if ((status = sipd_check_request(req, &err)) != 0) {
		sd->st.bad++;
		return sipd_answer_stateless(sd, req, from, status,
		                             err.reason[0] ? err.reason : NULL,
		                             NULL);
	}
	if (req->max_forwards == 0)
		return sipd_answer_stateless(sd, req, from, 483, NULL, NULL);
	m = method_find(req->mid);
	if (m == NULL || !(m->where & (reliable ? METHOD_TCP : METHOD_UDP))) {
		/* inside a dialog afd does not have (neither a call's nor a
		 * subscription's): 481 (RFC 3261 12.2.2), whatever the
		 * method; the methods afd serves hear the same from their
		 * services (workers/b2bua.c, workers/regnotify.c) */
		if (!in_call && req->to != NULL && req->to->tag.len > 0 &&
		    regn_dialog(sd->regn, req) == 0)
			return sipd_answer_stateless(sd, req, from, 481, NULL,
			                             NULL);
		return sipd_answer_stateless(
		    sd, req, from, req->mid == SIP_M_UNKNOWN ? 501 : 405, NULL,
		    method_allow_hdr());
	}
	/* a retransmission is answered again where this one came from */
	sipd_dest(req, from, &dest);
	prev = sd->sending_to;
	sd->sending_to = &dest;
	rx = txn_server_recv(sd->tt, req, reliable, sipd_now_ms(), &stx);
	sd->sending_to = prev;
	if (rx == TXN_RX_RETRANS) {
		sd->st.absorbed++;
		return 0;
	}
	if (rx != TXN_RX_NEW)
		stx = NULL; /* no usable Via for a transaction: stateless */
	if (stx != NULL && txn_kind(stx) == TXN_IST) {
		/* it retransmits its answer on Timer G: it keeps where to */
		struct sipd_tx *x = talloc_zero(stx, struct sipd_tx);
		if (x == NULL)
			return -1;
		x->to = dest;
		txn_set_data(stx, x);
	}
	if ((rq = talloc_zero(sipd_batch_mem(sd), struct sipd_req)) == NULL)
		return -1;
	rq->msg = req;
	rq->from = *from;
	rq->m = m;
	rq->stx = stx;
	rq->now = time(NULL);
	sip_buf_init(&b, sipd_batch_mem(sd), 128);
	if (sipd_unsupported(m, req, &b) > 0 && !b.oom)
		return sipd_reply(sd, rq, 420, NULL, b.s, b.len, 0);
	if ((m->flags & METHOD_AUTH) && sipd_auth_gate(sd, rq) != 0)
		return 0;
	if (req->mid == SIP_M_REGISTER)
		sd->st.registers++;
	if (m->serve(sd, rq) == -1)
		return sipd_reply(sd, rq, 500, NULL, "Retry-After: 1\r\n", 16,
		                  0);
	return 0;
}

/* Step 1 and the dispatch. */
static int
sipd_handle1(struct sipd *sd, const char *buf, size_t len,
             const struct sip_peer *from, int forwarded)
{
	TALLOC_CTX *mem = sipd_batch_mem(sd);
	struct sip_msg *msg = NULL;
	struct sip_err err;
	char a[80];

	sd->st.received++;
	if (log_level >= LOG_L_TRACE) {
		sipd_peer_str(from, a, sizeof(a));
		log_trace("in from %s (%zu bytes):\n%.*s", a, len, (int)len,
		          buf);
	}
	memset(&err, 0, sizeof(err));
	if (sip_parse(mem, buf, len, from->tp, sd->conf.max_message, &msg,
	              &err) == -1) {
		sd->st.bad++;
		if (err.status != 0 && msg != NULL && msg->is_request &&
		    msg->mid != SIP_M_ACK && msg->via != NULL && !forwarded) {
			log_debug("sipd: bad request from %s: %d %s",
			          sipd_peer_str(from, a, sizeof(a)), err.status,
			          err.reason);
			if (sipd_answer_stateless(
			        sd, msg, from, err.status,
			        err.reason[0] ? err.reason : NULL, NULL) == -1)
				return from->tp == SIP_TP_UDP ? 0 : -1;
			return 0;
		}
		char sample[128];
		sd->st.dropped++;
		log_info("sipd: dropped unanswerable message from %s (%s): %s",
		         sipd_peer_str(from, a, sizeof(a)),
		         err.reason[0] ? err.reason : "malformed",
		         log_sample(sample, sizeof(sample), buf,
		                    len < 96 ? len : 96));
		return from->tp == SIP_TP_UDP ? 0 : -1;
	}
	if (!msg->is_request) {
		if (sipd_route_response(sd, msg, buf, len, from, forwarded) ==
		    -1)
			log_warnx("sipd: could not route a response");
		return 0;
	}
	if (sipd_route_request(sd, msg, from, forwarded) == -1)
		log_warnx("sipd: could not queue an answer");
	return 0;
}

int
sipd_handle(struct sipd *sd, const char *buf, size_t len,
            const struct sip_peer *from)
{
	return sipd_handle1(sd, buf, len, from, 0);
}

int
sipd_handle_forwarded(struct sipd *sd, const char *buf, size_t len,
                      const struct sip_peer *from)
{
	return sipd_handle1(sd, buf, len, from, 1);
}

int
sipd_sweep(struct sipd *sd)
{
	time_t now = time(NULL);
	int n;

	(void)sipd_batch_mem(sd);
	n = reg_sweep(sd->reg, now);
	if (auth_sweep(sd->auth, sd, now) == -1)
		log_warnx("auth: expiring old challenges failed");
	if (ping_tick(sd->ping, now) == -1)
		log_warnx("ping: this round failed");
	if (b2bua_sweep(sd->b2bua, now) == -1)
		log_warnx("b2bua: the sweep failed");
	/* (a failure, e.g. the write lock held by a tester's sqlite3, is
	 * logged by the data layer once per episode; the next round retries) */
	(void)reg_deregister(sd->reg, now);
	(void)regn_tick(sd->regn, now);
	return n;
}
