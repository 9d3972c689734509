/*
 * workers/sipd.c: a worker's SIP service, independent of transport (see
 * sipd.h). One struct sipd per worker process: its own database connection,
 * the registrar, the queue of answers of the current batch.
 *
 * Policy for what comes in, in this order (RFC 3261 8.2):
 *   1. unparseable: answered with the parser's status and reason when the
 *      request got far enough (sip_parse fills err), else dropped, counted
 *      and logged with a printable sample. An over-long UDP datagram is 513.
 *   2. responses: counted and dropped (debug log); nothing routes them yet.
 *   3. ACK: never answered.
 *   4. semantic checks: Request-URI scheme (416), CSeq method (400).
 *   5. Max-Forwards: 0 -> 483, for every request (ACK excepted, above).
 *   6. unknown method -> 501 with Allow (RFC 3261 8.2.1). A method afd
 *      recognises but does not serve (today: everything but REGISTER and
 *      OPTIONS; INVITE, BYE, SUBSCRIBE, ... come with later issues) -> 405
 *      with an Allow listing only what works today, so a client learns at
 *      once what it can use.
 *   7. Require / Proxy-Require naming an option tag afd does not support ->
 *      420 with Unsupported listing them. Supported: "path" (RFC 3327) and
 *      "outbound" (RFC 5626), for REGISTER only. sec-agree is not supported
 *      (a UE that *requires* it gets 420; Supported: sec-agree is fine).
 *   8. OPTIONS -> 200 with Allow, Accept, Supported; REGISTER -> registrar.
 *
 * Every answer carries a To tag derived from Call-ID and From tag (so a
 * retransmission gets the same tag, RFC 3261 8.2.6.2) and Server. The top
 * Via of an answer gets received= and a filled-in rport (RFC 3581).
 *
 * Group commit: the batch's first REGISTER starts BEGIN IMMEDIATE; each
 * REGISTER runs in its own SAVEPOINT (registrar.c); sipd_batch_end()
 * commits, and if that fails every answer that depended on the transaction
 * is rebuilt as 500 with Retry-After: 1. No answer leaves before its commit.
 * The registrar's removal hook is told of the batch's removed bindings only
 * after the COMMIT succeeded (reg_txn_end); a failed batch tells it nothing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "schema/db.h"
#include "workers/registrar.h"
#include "workers/sipd.h"

#ifndef AFD_VERSION
#define AFD_VERSION "0.1"
#endif

#define SIPD_SERVER "Server: afd/" AFD_VERSION "\r\n"
/* What works today; later issues add INVITE, BYE, SUBSCRIBE, ... */
#define SIPD_ALLOW "REGISTER, OPTIONS"
#define SIPD_SUPPORTED "path, outbound"
#define SIPD_ACCEPT "application/sdp"

/* The batch pool: a burst of 64 REGISTERs needs about 600 KB. */
#define SIPD_POOL_SIZE (1024 * 1024)

/* One queued answer's history, to rebuild it when the commit fails. */
struct sipd_meta {
	const struct sip_msg *req;
	struct sip_peer from;
	int needs_commit;
};

struct sipd {
	struct conf conf;
	char slot[8];
	sqlite3 *db;
	struct reg *reg;
	TALLOC_CTX *pool;  /* a talloc pool the batches are carved from */
	TALLOC_CTX *batch; /* everything of the current batch */
	struct sipd_out *out;
	struct sipd_meta *meta;
	size_t nout, capout;
	int in_txn;
	struct sipd_stats st;
};

static int
sipd_destroy(struct sipd *sd)
{
	/* The registrar's statements belong to the connection: free the
	 * registrar first, then close. */
	if (sd->in_txn)
		db_rollback(sd->db);
	if (sd->reg != NULL)
		reg_txn_end(sd->reg, 0);
	TALLOC_FREE(sd->reg);
	if (sd->db != NULL)
		db_close(sd->db);
	sd->db = NULL;
	return 0;
}

struct sipd *
sipd_new(TALLOC_CTX *ctx, const struct conf *c, const char *slot)
{
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
	if ((sd->reg = reg_new(sd, &sd->conf, sd->db)) == NULL)
		goto fail;
	return sd;
fail:
	talloc_free(sd);
	return NULL;
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

struct reg *
sipd_reg(struct sipd *sd)
{
	return sd->reg;
}

void
sipd_batch_begin(struct sipd *sd)
{
	if (sd->in_txn) {
		/* The previous batch was never ended: its answers were not
		 * sent, so its changes must not stay either. */
		log_warnx("sipd: batch begun with a transaction open; "
		          "rolling it back");
		db_rollback(sd->db);
		sd->in_txn = 0;
		reg_txn_end(sd->reg, 0);
	}
	/* Freeing the batch empties the pool: the next batch's allocations
	 * are bump allocations in the same block (no malloc per message). */
	TALLOC_FREE(sd->batch);
	sd->batch = talloc_new(sd->pool ? sd->pool : sd);
	sd->out = NULL;
	sd->meta = NULL;
	sd->nout = sd->capout = 0;
}

static TALLOC_CTX *
sipd_mem(struct sipd *sd)
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
static void
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
 * To with our tag, Call-ID, CSeq (the fields as received, so a request that
 * failed to parse part-way is still answered with what it had), Server.
 */
static void
sipd_resp_begin(struct sip_buf *b, const struct sip_msg *req,
                const struct sip_peer *from, int status, const char *reason)
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
	sipd_to_tag(req, tag);
	sip_resp_fields(b, req, (sip_str){tag, status > 100 ? 16 : 0});
	sip_buf_add(b, SIPD_SERVER, sizeof(SIPD_SERVER) - 1);
}

/* Where an answer to a request from `from` goes (RFC 3261 18.2.2, RFC
 * 3581): TCP: the same connection. UDP: the source address; its port when
 * the top Via has rport, else the Via's sent-by port (default 5060). */
static void
sipd_dest(const struct sip_msg *req, const struct sip_peer *from,
          struct sip_peer *to)
{
	uint16_t port;

	*to = *from;
	if (from->tp != SIP_TP_UDP || req->via == NULL || req->via->rport)
		return;
	port = req->via->port ? req->via->port : 5060;
	if (to->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&to->addr)->sin_port = htons(port);
	else if (to->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&to->addr)->sin6_port = htons(port);
}

/* Append an answer to the batch's queue. */
static int
sipd_queue(struct sipd *sd, const struct sip_msg *req,
           const struct sip_peer *from, char *buf, size_t len, int needs_commit)
{
	if (sd->nout == sd->capout) {
		size_t cap = sd->capout ? sd->capout * 2 : 64;
		struct sipd_out *o;
		struct sipd_meta *m;
		o = talloc_realloc(sd->batch, sd->out, struct sipd_out, cap);
		if (o == NULL)
			return -1;
		sd->out = o;
		m = talloc_realloc(sd->batch, sd->meta, struct sipd_meta, cap);
		if (m == NULL)
			return -1;
		sd->meta = m;
		sd->capout = cap;
	}
	sd->out[sd->nout].buf = buf;
	sd->out[sd->nout].len = len;
	sipd_dest(req, from, &sd->out[sd->nout].to);
	sd->meta[sd->nout].req = req;
	sd->meta[sd->nout].from = *from;
	sd->meta[sd->nout].needs_commit = needs_commit;
	sd->nout++;
	if (log_level >= LOG_L_TRACE) {
		char a[80];
		sipd_peer_str(&sd->out[sd->nout - 1].to, a, sizeof(a));
		log_trace("out to %s (%zu bytes):\n%.*s", a, len, (int)len,
		          buf);
	}
	return 0;
}

/* Build and queue an answer with extra header lines (may be NULL). */
static int
sipd_answer(struct sipd *sd, const struct sip_msg *req,
            const struct sip_peer *from, int status, const char *reason,
            const char *extra, size_t extralen, int needs_commit)
{
	struct sip_buf b;

	sip_buf_init(&b, sd->batch, 512 + extralen);
	sipd_resp_begin(&b, req, from, status, reason);
	if (extra != NULL)
		sip_buf_add(&b, extra, extralen);
	sip_buf_finish(&b, SIP_STR_NULL);
	if (b.oom) {
		log_warnx("sipd: out of memory building a %d", status);
		return -1;
	}
	return sipd_queue(sd, req, from, b.s, b.len, needs_commit);
}

static int
sipd_answer_simple(struct sipd *sd, const struct sip_msg *req,
                   const struct sip_peer *from, int status, const char *reason,
                   const char *extra)
{
	return sipd_answer(sd, req, from, status, reason, extra,
	                   extra ? strlen(extra) : 0, 0);
}

static void sipd_fail_batch(struct sipd *sd);

/* Start the batch's transaction if not yet: 0 or -1. */
static int
sipd_txn(struct sipd *sd)
{
	if (sd->in_txn)
		return 0;
	if (db_begin(sd->db) == -1)
		return -1;
	sd->in_txn = 1;
	return 0;
}

/* Option tags afd supports for this method. */
static int
sipd_tag_supported(enum sip_method m, sip_str tag)
{
	if (m != SIP_M_REGISTER)
		return 0;
	return sip_str_caseeq_lit(tag, "path") ||
	       sip_str_caseeq_lit(tag, "outbound");
}

/* 420 check: collects unsupported Require/Proxy-Require tags into b as
 * "Unsupported: a, b\r\n". Returns the number found. Every item of every
 * field is looked at, however many there are. */
static int
sipd_unsupported(const struct sip_msg *req, struct sip_buf *b)
{
	static const enum sip_hdr_id ids[] = {SIP_HDR_REQUIRE,
	                                      SIP_HDR_PROXY_REQUIRE};
	int found = 0;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		for (const struct sip_hdr *h = req->first[ids[i]]; h != NULL;
		     h = h->next_same) {
			const char *p = h->value.s, *end = p + h->value.len;
			while (p != NULL && p < end) {
				const char *q = memchr(p, ',', (size_t)(end - p));
				sip_str it;
				if (q == NULL)
					q = end;
				it = sip_str_trim(
				    (sip_str){p, (size_t)(q - p)});
				p = q + 1;
				if (it.len == 0 ||
				    sipd_tag_supported(req->mid, it))
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

static int
sipd_options(struct sipd *sd, const struct sip_msg *req,
             const struct sip_peer *from)
{
	static const char extra[] = "Allow: " SIPD_ALLOW "\r\n"
	                            "Accept: " SIPD_ACCEPT "\r\n"
	                            "Supported: " SIPD_SUPPORTED "\r\n";

	return sipd_answer(sd, req, from, 200, NULL, extra, sizeof(extra) - 1,
	                   0);
}

static int
sipd_register(struct sipd *sd, const struct sip_msg *req,
              const struct sip_peer *from)
{
	struct reg_result res;

	sd->st.registers++;
	if (sipd_txn(sd) == -1)
		return sipd_answer_simple(sd, req, from, 500, NULL,
		                          "Retry-After: 1\r\n");
	memset(&res, 0, sizeof(res));
	if (reg_register(sd->reg, sd->batch, req, from, time(NULL), &res) ==
	    -1) {
		if (sqlite3_get_autocommit(sd->db)) {
			/* SQLite rolled the whole transaction back (I/O
			 * error, ...): what the batch wrote so far is lost;
			 * its answers become 500s now, the next REGISTER
			 * starts afresh. */
			sd->in_txn = 0;
			reg_txn_end(sd->reg, 0);
			sipd_fail_batch(sd);
		}
		return sipd_answer_simple(sd, req, from, 500, NULL,
		                          "Retry-After: 1\r\n");
	}
	return sipd_answer(sd, req, from, res.status, res.reason, res.hdrs.s,
	                   res.hdrs.s ? res.hdrs.len : 0, res.status == 200);
}

static int
sipd_request(struct sipd *sd, const struct sip_msg *req,
             const struct sip_peer *from)
{
	struct sip_err err;
	struct sip_buf b;
	int status;

	if (req->mid == SIP_M_ACK) {
		/* never answered; nothing to absorb yet (no INVITEs) */
		log_debug("sipd: ACK ignored");
		return 0;
	}
	if ((status = sipd_check_request(req, &err)) != 0) {
		sd->st.bad++;
		return sipd_answer_simple(sd, req, from, status,
		                          err.reason[0] ? err.reason : NULL,
		                          NULL);
	}
	if (req->max_forwards == 0)
		return sipd_answer_simple(sd, req, from, 483, NULL, NULL);
	switch (req->mid) {
	case SIP_M_OPTIONS:
	case SIP_M_REGISTER:
		break;
	case SIP_M_UNKNOWN:
		return sipd_answer_simple(sd, req, from, 501, NULL,
		                          "Allow: " SIPD_ALLOW "\r\n");
	default:
		return sipd_answer_simple(sd, req, from, 405, NULL,
		                          "Allow: " SIPD_ALLOW "\r\n");
	}
	sip_buf_init(&b, sd->batch, 128);
	if (sipd_unsupported(req, &b) > 0 && !b.oom)
		return sipd_answer(sd, req, from, 420, NULL, b.s, b.len, 0);
	if (req->mid == SIP_M_OPTIONS)
		return sipd_options(sd, req, from);
	return sipd_register(sd, req, from);
}

int
sipd_handle(struct sipd *sd, const char *buf, size_t len,
            const struct sip_peer *from)
{
	TALLOC_CTX *mem = sipd_mem(sd);
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
		    msg->mid != SIP_M_ACK && msg->via != NULL) {
			log_debug("sipd: bad request from %s: %d %s",
			          sipd_peer_str(from, a, sizeof(a)), err.status,
			          err.reason);
			if (sipd_answer_simple(
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
		sd->st.responses++;
		log_debug("sipd: response %d from %s dropped (nothing to "
		          "route it to)",
		          msg->status, sipd_peer_str(from, a, sizeof(a)));
		return 0;
	}
	if (sipd_request(sd, msg, from) == -1)
		log_warnx("sipd: could not queue an answer");
	return 0;
}

/* Rebuild the answers that needed the failed commit as 500s. */
static void
sipd_fail_batch(struct sipd *sd)
{
	for (size_t i = 0; i < sd->nout; i++) {
		struct sipd_meta *m = &sd->meta[i];
		struct sip_buf b;

		if (!m->needs_commit)
			continue;
		sip_buf_init(&b, sd->batch, 512);
		sipd_resp_begin(&b, m->req, &m->from, 500, NULL);
		sip_buf_add(&b, "Retry-After: 1\r\n", 16);
		sip_buf_finish(&b, SIP_STR_NULL);
		if (b.oom) {
			/* keep nothing that claims success */
			sd->out[i].len = 0;
			continue;
		}
		sd->out[i].buf = b.s;
		sd->out[i].len = b.len;
		m->needs_commit = 0;
	}
}

int
sipd_batch_end(struct sipd *sd, const struct sipd_out **out)
{
	size_t n = 0;

	if (sd->in_txn) {
		sd->in_txn = 0;
		if (db_commit(sd->db) == -1) {
			log_warnx("sipd: batch commit failed; answering 500");
			db_rollback(sd->db);
			reg_txn_end(sd->reg, 0);
			sipd_fail_batch(sd);
		} else {
			/* the removal hook hears of what is now durable */
			reg_txn_end(sd->reg, 1);
		}
	}
	/* drop the answers that could not be built at all */
	for (size_t i = 0; i < sd->nout; i++) {
		if (sd->out[i].len == 0)
			continue;
		sd->out[n++] = sd->out[i];
	}
	sd->nout = n;
	sd->st.answered += n;
	*out = sd->out;
	return (int)n;
}

int
sipd_sweep(struct sipd *sd)
{
	return reg_sweep(sd->reg, time(NULL));
}
