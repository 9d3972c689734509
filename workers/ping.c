/*
 * workers/ping.c: afd's OPTIONS pings of registered contacts (see
 * ping.h). Every change of a binding's ping state is one unit of work in
 * the batch's transaction (schema/db_txn.h); a ping leaves only after the
 * commit that records it in flight.
 */
#include <stdio.h>
#include <string.h>

#include "schema/db_ping.h"
#include "schema/db_txn.h"
#include "util/log.h"
#include "workers/ping.h"
#include "workers/registrar.h"
#include "workers/sipd.h"

#define PING_PER_TICK 64 /* pings started per sweep (500 ms) */

struct ping {
	struct sipd *sd;
	const struct conf *c;
	struct db_ping *dp;
	int recovered; /* the predecessor's pings in flight were taken over */
	char via_host[300];
	char prefix[16]; /* "z9hG4bK-u0-": this worker's branches */
};

/* A ping about to leave (an after-commit argument) or in flight (a
 * client transaction's argument). */
struct ping_req {
	struct ping *p;
	struct db_ping_row row; /* strings under this block */
	char branch[48];
};

struct ping *
ping_new(TALLOC_CTX *ctx, struct sipd *sd, struct sqlite3 *db)
{
	struct ping *p;
	const struct conf *c = sipd_conf(sd);
	const char *host = c->listen;
	int v6;

	if ((p = talloc_zero(ctx, struct ping)) == NULL)
		return NULL;
	p->sd = sd;
	p->c = c;
	if ((p->dp = db_ping_new(p, db)) == NULL) {
		talloc_free(p);
		return NULL;
	}
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0)
		host = c->domain;
	v6 = strchr(host, ':') != NULL && host[0] != '[';
	snprintf(p->via_host, sizeof(p->via_host), "%s%s%s:%d", v6 ? "[" : "",
	         host, v6 ? "]" : "", c->port);
	snprintf(p->prefix, sizeof(p->prefix), "z9hG4bK-%s-", sipd_slot(sd));
	return p;
}

/* The OPTIONS of a ping, under mem. Its Call-ID and From tag derive from
 * the branch, so the same ping is the same bytes when sent again after a
 * restart. NULL when out of memory. */
static char *
ping_build(struct ping *p, TALLOC_CTX *mem, const struct db_ping_row *r,
           const char *branch, size_t *len)
{
	const char *tp =
	    r->transport && strcmp(r->transport, "tcp") == 0 ? "TCP" : "UDP";
	const char *id = branch + strlen(p->prefix);
	struct sip_buf b;

	sip_buf_init(&b, mem, 512);
	sip_buf_addf(&b, "OPTIONS %s SIP/2.0\r\n", r->contact);
	sip_buf_addf(&b, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", tp,
	             p->via_host, branch);
	sip_buf_addf(&b, "Max-Forwards: 70\r\n");
	if (r->path != NULL && r->path[0] != '\0')
		sip_buf_addf(&b, "Route: %s\r\n", r->path);
	sip_buf_addf(&b, "From: <sip:afd@%s>;tag=%s\r\n", p->c->domain, id);
	sip_buf_addf(&b, "To: <%s>\r\n", r->aor);
	sip_buf_addf(&b, "Call-ID: ping-%s@%s\r\n", id, p->c->domain);
	sip_buf_addf(&b, "CSeq: 1 OPTIONS\r\n");
	sip_buf_addf(&b, "Contact: <sip:afd@%s;transport=%s>\r\n", p->via_host,
	             r->transport ? r->transport : "udp");
	sip_buf_addf(&b, "Accept: application/sdp\r\n");
	sip_buf_addf(&b, "Content-Length: 0\r\n\r\n");
	if (b.oom)
		return NULL;
	*len = b.len;
	return b.s;
}

/* Where a ping goes: a UDP binding's source address, or a TCP binding's
 * flow (the worker of its slot). 0, or -1 when the row has neither. */
static int
ping_dest(const struct db_ping_row *r, struct sip_peer *to)
{
	memset(to, 0, sizeof(*to));
	if (r->received == NULL || sipd_peer_parse(to, r->received) == -1)
		return -1;
	if (r->transport != NULL && strcmp(r->transport, "tcp") == 0) {
		if (r->conn_slot == NULL || r->conn_id == 0)
			return -1;
		to->tp = SIP_TP_TCP;
		snprintf(to->slot, sizeof(to->slot), "%s", r->conn_slot);
		to->conn_id = (uint64_t)r->conn_id;
	}
	return 0;
}

static void ping_done(struct sipd *sd, void *arg, int status,
                      const struct sip_msg *resp);

/* Send ping q now (its client transaction takes q over). */
static void
ping_send(struct ping_req *q)
{
	struct ping *p = q->p;
	struct sip_peer to;
	char *buf;
	size_t len;

	if (ping_dest(&q->row, &to) == -1) {
		log_info("ping: binding %s -> %s has no usable address (%s)",
		         q->row.aor, q->row.contact,
		         q->row.received ? q->row.received : "none");
		talloc_free(q);
		return;
	}
	buf = ping_build(p, sipd_batch_mem(p->sd), &q->row, q->branch, &len);
	if (buf == NULL) {
		log_warnx("ping: out of memory");
		talloc_free(q);
		return;
	}
	log_debug("ping: OPTIONS to %s (%s) branch %s", q->row.contact,
	          q->row.aor, q->branch);
	sipd_request(p->sd, &to, q->branch, "OPTIONS", buf, len, ping_done, q);
}

/* A copy of row r as a ping_req (strings under it), or NULL. */
static struct ping_req *
ping_req_new(struct ping *p, const struct db_ping_row *r, const char *branch)
{
	struct ping_req *q = talloc_zero(NULL, struct ping_req);

	if (q == NULL)
		return NULL;
	q->p = p;
	q->row = *r;
	q->row.aor = talloc_strdup(q, r->aor);
	q->row.contact = talloc_strdup(q, r->contact);
	q->row.path = r->path ? talloc_strdup(q, r->path) : NULL;
	q->row.received = r->received ? talloc_strdup(q, r->received) : NULL;
	q->row.transport = r->transport ? talloc_strdup(q, r->transport) : NULL;
	q->row.conn_slot = r->conn_slot ? talloc_strdup(q, r->conn_slot) : NULL;
	q->row.branch = NULL;
	snprintf(q->branch, sizeof(q->branch), "%s", branch);
	if (q->row.aor == NULL || q->row.contact == NULL) {
		talloc_free(q);
		return NULL;
	}
	return q;
}

/* After the commit that recorded the ping in flight: send it. The
 * transaction frees arg after this call, so a copy travels on. */
static void
ping_committed(void *arg, int committed)
{
	struct ping_req *q = arg, *c;

	if (!committed)
		return;
	if ((c = ping_req_new(q->p, &q->row, q->branch)) != NULL)
		ping_send(c);
}

/* One unit of work: run fn on the ping data layer inside a savepoint. */
static int
ping_unit_begin(struct ping *p, struct db_txn **t)
{
	if ((*t = sipd_db_txn(p->sd)) == NULL)
		return -1;
	return db_txn_savepoint(*t);
}

static int
ping_unit_end(struct db_txn *t, int mark, int ok)
{
	if (ok && db_txn_release(t, mark) == 0)
		return 0;
	db_txn_rollback(t, mark);
	return -1;
}

/* The ping with branch went unanswered (inside a unit). */
static int
ping_unanswered(struct ping *p, const char *branch, time_t now)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	int64_t id = 0;
	int failures = 0, rc;
	char *aor = NULL;

	rc = db_ping_failed(p->dp, tmp, branch, now + p->c->ping_interval, &id,
	                    &failures, &aor);
	if (rc == 1) {
		log_info("ping: %s did not answer (%d in a row)", aor,
		         failures);
		if (p->c->ping_remove_after > 0 &&
		    failures >= p->c->ping_remove_after) {
			log_info("ping: binding %lld of %s removed after %d "
			         "unanswered pings",
			         (long long)id, aor, failures);
			rc = reg_remove(sipd_reg(p->sd), aor, id,
			                REG_WHY_UNREACHABLE, now);
		}
	}
	talloc_free(tmp);
	return rc == -1 ? -1 : 0;
}

/* The client transaction of a ping ended. */
static void
ping_done(struct sipd *sd, void *arg, int status, const struct sip_msg *resp)
{
	struct ping_req *q = arg;
	struct ping *p = q->p;
	struct db_txn *t;
	time_t now = time(NULL);
	int mark, rc;

	if ((mark = ping_unit_begin(p, &t)) == -1) {
		log_warnx("ping: cannot record the result of %s", q->branch);
		return;
	}
	if (resp != NULL) {
		log_debug("ping: %s answered %d", q->row.contact, status);
		rc = db_ping_answered(p->dp, q->branch, now,
		                      now + p->c->ping_interval);
	} else {
		rc = ping_unanswered(p, q->branch, now);
	}
	ping_unit_end(t, mark, rc != -1);
}

int
ping_orphan(struct ping *p, const struct sip_msg *resp, time_t now)
{
	struct db_txn *t;
	char branch[64];
	int mark, rc;

	if (resp->via == NULL || resp->status < 200 ||
	    resp->cseq.mid != SIP_M_OPTIONS || resp->via->branch.len == 0 ||
	    resp->via->branch.len >= sizeof(branch))
		return 0;
	memcpy(branch, resp->via->branch.s, resp->via->branch.len);
	branch[resp->via->branch.len] = '\0';
	if (strncmp(branch, p->prefix, strlen(p->prefix)) != 0)
		return 0;
	if ((mark = ping_unit_begin(p, &t)) == -1)
		return 0;
	rc = db_ping_answered(p->dp, branch, now, now + p->c->ping_interval);
	ping_unit_end(t, mark, rc != -1);
	if (rc == 1)
		log_info("ping: answer %d for %s reached a restarted worker: "
		         "recorded",
		         resp->status, branch);
	return rc == 1;
}

/* Take over what a predecessor of this slot left in flight: send again
 * the young pings (same branch, same bytes), count the old ones as
 * unanswered. */
static int
ping_recover(struct ping *p, time_t now)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct db_ping_row *rows;
	struct db_txn *t;
	int n, mark, rc = 0;

	if (tmp == NULL)
		return -1;
	if (db_ping_inflight(p->dp, tmp, p->prefix, &rows, &n) == -1) {
		talloc_free(tmp);
		return -1;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		/* older than Timer F (64*T1): unanswered */
		if ((now - rows[i].sent_at) * 1000 >= 64 * p->c->sip_t1) {
			if ((mark = ping_unit_begin(p, &t)) == -1) {
				rc = -1;
				break;
			}
			rc = ping_unit_end(
			    t, mark,
			    ping_unanswered(p, rows[i].branch, now) == 0);
			continue;
		}
		struct ping_req *q = ping_req_new(p, &rows[i], rows[i].branch);
		if (q == NULL) {
			rc = -1;
			break;
		}
		log_info("ping: sending again %s to %s (in flight when this "
		         "worker's predecessor stopped)",
		         q->branch, q->row.contact);
		ping_send(q);
	}
	talloc_free(tmp);
	return rc;
}

int
ping_tick(struct ping *p, time_t now)
{
	TALLOC_CTX *tmp;
	struct db_ping_row *rows;
	struct db_txn *t;
	int n, mark, sent = 0;

	if (p->c->ping_interval <= 0)
		return 0;
	if (!p->recovered) {
		if (ping_recover(p, now) == -1)
			return -1;
		p->recovered = 1;
	}
	if ((tmp = talloc_new(NULL)) == NULL)
		return -1;
	if (db_ping_due(p->dp, tmp, now, p->c->ping_interval, PING_PER_TICK,
	                &rows, &n) == -1) {
		talloc_free(tmp);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char branch[48];
		struct ping_req *q;

		sipd_branch(p->sd, branch, sizeof(branch));
		if ((q = ping_req_new(p, &rows[i], branch)) == NULL)
			break;
		if ((mark = ping_unit_begin(p, &t)) == -1) {
			talloc_free(q);
			break;
		}
		if (db_ping_sent(p->dp, rows[i].id, branch, now) == -1 ||
		    db_txn_after_commit(t, ping_committed, q) == -1) {
			ping_unit_end(t, mark, 0);
			break;
		}
		if (ping_unit_end(t, mark, 1) == -1)
			break;
		sent++;
	}
	talloc_free(tmp);
	return sent;
}
