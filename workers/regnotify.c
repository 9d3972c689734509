/*
 * workers/regnotify.c: the reg-event service (see regnotify.h): SUBSCRIBE
 * served by the worker that received it, the registrar's unit hook, and
 * the notifier that sends NOTIFYs from the database (the UDP worker). All
 * database work runs in units (savepoints) of the batch's transaction
 * (schema/db_txn.h); a NOTIFY leaves only after the commit that took its
 * version and CSeq.
 */
#include <stdio.h>
#include <string.h>

#include "schema/db_reg.h"
#include "schema/db_sub.h"
#include "schema/db_txn.h"
#include "util/log.h"
#include "workers/method.h"
#include "workers/regevent.h"
#include "workers/regnotify.h"
#include "workers/registrar.h"
#include "workers/sipd.h"

#define REGN_PER_RUN 256 /* NOTIFYs started per pass */

struct regn {
	struct sipd *sd;
	const struct conf *c;
	sqlite3 *db;
	struct db_txn *txn;
	struct db_sub *ds;
	struct db_reg *dr;
	struct regev_qs *qs; /* notifier only */
	int notifier;
	int recovered;
	int kick;
	/* NOTIFYs whose take is committed, to send after the batch's
	 * answers (regn_flush) */
	struct regn_sent **ready;
	size_t nready;
	sqlite3_stmt *flow_up;
	char via_host[300];
};

/* A NOTIFY about to leave (after-commit argument) or in flight (client
 * transaction argument). */
struct regn_sent {
	struct regn *rn;
	int64_t id, cseq;
	int64_t upto; /* the last reg_sub_events id it carried */
	int final;
	struct sip_peer to;
	char branch[48];
	char *buf;
	size_t len;
};

static int
regn_destroy(struct regn *rn)
{
	if (rn->flow_up != NULL)
		sqlite3_finalize(rn->flow_up);
	rn->flow_up = NULL;
	return 0;
}

/* ---------------------------------------------------------- unit hook */

/* Does the implicit registration set of aor still have a live binding?
 * 1, 0, or -1. */
static int
regn_set_alive(struct regn *rn, TALLOC_CTX *tmp, const char *aor, time_t now)
{
	struct db_binding *cur;
	char **ids;
	int nids, ncur;

	if (db_sub_identities(rn->ds, tmp, aor, &ids, &nids) == -1)
		return -1;
	for (int i = 0; i < nids; i++) {
		if (db_reg_load(rn->dr, tmp, ids[i], &cur, &ncur) == -1)
			return -1;
		for (int j = 0; j < ncur; j++)
			if (cur[j].expires_at > now)
				return 1;
	}
	return 0;
}

/*
 * Inside the registrar's unit: binding b changed (why); every active
 * subscription watching its AOR owes a NOTIFY with this event. A network
 * de-registration (deactivated, rejected) that leaves the registration set
 * without a binding also ends the subscriptions watching it, as an S-CSCF
 * does (3GPP TS 24.228 6.5, TS 24.229 5.4.1.4): their NOTIFY carries
 * "Subscription-State: terminated;reason=deactivated" (subscribe again,
 * RFC 6665 4.1.3) or "reason=rejected" (do not).
 */
static int
regn_unit(void *arg, const struct db_binding *b, enum reg_why why, time_t now)
{
	struct regn *rn = arg;
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct db_sub_row *rows;
	int n, rc = -1, ends = 0;

	if (tmp == NULL)
		return -1;
	/* the common case of a registrar without watchers: one lookup */
	if ((rc = db_sub_any(rn->ds)) != 1)
		goto done;
	rc = -1;
	if (db_sub_watching(rn->ds, tmp, b->aor, &rows, &n) == -1)
		goto done;
	if (n > 0 && (why == REG_WHY_DEACTIVATED || why == REG_WHY_REJECTED)) {
		if ((ends = regn_set_alive(rn, tmp, b->aor, now)) == -1)
			goto done;
		ends = !ends;
	}
	for (int i = 0; i < n; i++) {
		/* a terminated one still hears changes until its final
		 * NOTIFY is taken (several bindings de-registered at once) */
		if (rows[i].terminated && rows[i].pending != 2)
			continue;
		if (db_sub_event_add(rn->ds, rows[i].id, b, reg_why_event(why),
		                     now) == -1 ||
		    db_sub_mark_pending(rn->ds, &rows[i].id, 1, now) == -1)
			goto done;
		if (ends && !rows[i].terminated &&
		    db_sub_terminate(rn->ds, rows[i].id, reg_why_event(why),
		                     now) == -1)
			goto done;
		rn->kick = 1;
	}
	rc = 0;
done:
	talloc_free(tmp);
	return rc;
}

struct regn *
regn_new(TALLOC_CTX *ctx, struct sipd *sd, struct db_txn *txn)
{
	sqlite3 *db = db_txn_db(txn);
	const struct conf *c = sipd_conf(sd);
	const char *host = c->listen;
	struct regn *rn;
	int v6;

	if ((rn = talloc_zero(ctx, struct regn)) == NULL)
		return NULL;
	talloc_set_destructor(rn, regn_destroy);
	rn->sd = sd;
	rn->txn = txn;
	rn->c = c;
	rn->db = db;
	if ((rn->ds = db_sub_new(rn, db)) == NULL ||
	    (rn->dr = db_reg_new(rn, db)) == NULL)
		goto fail;
	rn->notifier = strcmp(sipd_slot(sd), REGN_NOTIFIER_SLOT) == 0;
	if (rn->notifier && (rn->qs = regev_qs_new(rn)) == NULL)
		goto fail;
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0)
		host = c->domain;
	v6 = strchr(host, ':') != NULL && host[0] != '[';
	snprintf(rn->via_host, sizeof(rn->via_host), "%s%s%s:%d", v6 ? "[" : "",
	         host, v6 ? "]" : "", c->port);
	reg_set_unit_hook(sipd_reg(sd), regn_unit, rn);
	return rn;
fail:
	talloc_free(rn);
	return NULL;
}

int
regn_is_notifier(const struct regn *rn)
{
	return rn != NULL && rn->notifier;
}

int
regn_kick_take(struct regn *rn)
{
	int k = rn != NULL && rn->kick;

	if (rn != NULL)
		rn->kick = 0;
	return k;
}

/* ---------------------------------------------------------- SUBSCRIBE */

static int regn_build(struct regn *rn, struct db_txn *t,
                      const struct db_sub_row *s, int64_t version, int64_t cseq,
                      int fresh, time_t now);

/* afd's Contact header line for a request that came over tp. */
static void
regn_contact(struct regn *rn, struct sip_buf *b, enum sip_transport tp)
{
	sip_buf_addf(b, "Contact: <sip:afd@%s;transport=%s>\r\n", rn->via_host,
	             tp == SIP_TP_TCP ? "tcp" : "udp");
}

/* The route set of a UAS (RFC 3261 12.1.1): the Record-Route values in
 * order, comma-separated; NULL when none. */
static char *
regn_route(TALLOC_CTX *mem, const struct sip_msg *req)
{
	char *s = NULL;

	for (const struct sip_hdr *h = req->first[SIP_HDR_RECORD_ROUTE];
	     h != NULL; h = h->next_same) {
		s = s == NULL
		        ? talloc_asprintf(mem, "%.*s", SIP_STR_FMT(h->value))
		        : talloc_asprintf_append(s, ", %.*s",
		                                 SIP_STR_FMT(h->value));
		if (s == NULL)
			return NULL;
	}
	return s;
}

/* A unit of work of the batch's transaction (begun: BEGIN IMMEDIATE, for
 * a request whose answer waits for the commit): *t, the mark; -1 when the
 * transaction cannot begin. */
static int
regn_unit_begin(struct regn *rn, struct db_txn **t)
{
	if ((*t = sipd_db_txn(rn->sd)) == NULL)
		return -1;
	return db_txn_savepoint(*t);
}

/* A unit of the notifier's own work, in the transaction regn_own_begin()
 * made sure of. */
static int
regn_unit_own(struct regn *rn, struct db_txn **t)
{
	*t = rn->txn;
	return db_txn_savepoint(*t);
}

/*
 * The notifier's work reads a row and then writes it (the take): in a
 * deferred transaction SQLite would refuse the write (SQLITE_BUSY, no busy
 * wait) when another worker committed in between, so it runs in a BEGIN
 * IMMEDIATE transaction: the batch's when one is open, else one of its own
 * that regn_own_end() commits (its NOTIFYs leave then, after-commit). *opened
 * says which. 0 or -1 (logged).
 */
static int
regn_own_begin(struct regn *rn, int *opened)
{
	*opened = !db_txn_open(rn->txn);
	return db_txn_begin(rn->txn);
}

static void
regn_own_end(struct regn *rn, int opened)
{
	if (opened && db_txn_open(rn->txn) && db_txn_commit(rn->txn) == -1)
		log_warnx("regevent: commit failed");
}

static int
regn_unit_end(struct db_txn *t, int mark, int ok)
{
	if (ok && db_txn_release(t, mark) == 0)
		return 0;
	db_txn_rollback(t, mark);
	return -1;
}

/* A SUBSCRIBE inside a dialog: a refresh, or an unsubscribe (Expires 0).
 * 481 when afd has no such subscription. */
static int
regn_resubscribe(struct regn *rn, struct sipd_req *rq,
                 const struct regev_check *chk, struct sip_buf *hdrs)
{
	const struct sip_msg *req = rq->msg;
	TALLOC_CTX *mem = sipd_batch_mem(rn->sd);
	struct db_sub_row *row;
	struct db_txn *t;
	char *call_id, *ftag, *ttag, *contact = NULL;
	int mark, rc;

	call_id = sip_str_dup(mem, req->call_id);
	ftag = sip_str_dup(mem, req->from->tag);
	ttag = sip_str_dup(mem, req->to->tag);
	if (call_id == NULL || ftag == NULL || ttag == NULL)
		return -1;
	if (req->first[SIP_HDR_CONTACT] != NULL) {
		struct sip_addr *a;
		if (sip_msg_addrs(mem, req->first[SIP_HDR_CONTACT], &a) == 0 &&
		    a != NULL && !a->star)
			contact = sip_str_dup(mem, a->uri.raw);
	}
	if ((mark = regn_unit_begin(rn, &t)) == -1)
		return sipd_reply(rn->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	if (db_sub_load_dialog(rn->ds, mem, call_id, ftag, ttag, &row) == -1)
		goto fail;
	if (row == NULL || row->terminated) {
		regn_unit_end(t, mark, 1);
		log_debug("regevent: SUBSCRIBE for no subscription (%s)",
		          call_id);
		return sipd_reply(rn->sd, rq, 481,
		                  "Subscription Does Not Exist", NULL, 0, 0);
	}
	if (chk->expires == 0) {
		rc = db_sub_terminate(rn->ds, row->id, "timeout", rq->now);
		log_info("regevent: %s unsubscribed from %s", row->watcher,
		         row->aor);
	} else {
		rc = db_sub_refresh(rn->ds, row->id, rq->now + chk->expires,
		                    contact, rq->now);
	}
	if (rc == -1 || regn_unit_end(t, mark, 1) == -1)
		return sipd_reply(rn->sd, rq, 500, NULL, "Retry-After: 1\r\n",
		                  16, 0);
	rn->kick = 1;
	regn_contact(rn, hdrs, rq->from.tp);
	sip_buf_addf(hdrs, "Expires: %ld\r\n", chk->expires);
	if (hdrs->oom)
		return -1;
	return sipd_reply(rn->sd, rq, 200, NULL, hdrs->s, hdrs->len, 1);
fail:
	regn_unit_end(t, mark, 0);
	return sipd_reply(rn->sd, rq, 500, NULL, "Retry-After: 1\r\n", 16, 0);
}

int
regn_dialog(struct regn *rn, const struct sip_msg *req)
{
	TALLOC_CTX *tmp;
	struct db_sub_row *row = NULL;
	char *call_id, *ftag, *ttag;
	int rc = -1;

	if (rn == NULL || req->to == NULL || req->to->tag.len == 0 ||
	    req->from == NULL)
		return 0;
	if ((tmp = talloc_new(NULL)) == NULL)
		return -1;
	call_id = sip_str_dup(tmp, req->call_id);
	ftag = sip_str_dup(tmp, req->from->tag);
	ttag = sip_str_dup(tmp, req->to->tag);
	if (call_id != NULL && ftag != NULL && ttag != NULL &&
	    db_sub_load_dialog(rn->ds, tmp, call_id, ftag, ttag, &row) == 0)
		rc = row != NULL;
	talloc_free(tmp);
	return rc;
}

/* The SUBSCRIBE service of the method table (workers/method.h). */
int
regn_serve(struct sipd *sd, struct sipd_req *rq)
{
	struct regn *rn = sipd_regn(sd);
	const struct sip_msg *req = rq->msg;
	TALLOC_CTX *mem = sipd_batch_mem(sd);
	const struct conf *c = sipd_conf(sd);
	struct regev_check chk;
	struct db_sub_row row;
	struct sip_addr *ct = NULL;
	struct sip_buf hdrs;
	struct db_txn *t;
	const char *reason = NULL;
	char *aor, *impu = NULL, *extra = NULL, *watcher, tag[17], addr[80];
	int st, mark, rc, take;

	if (rn == NULL)
		return -1;
	if (regev_check_subscribe(req, c, &chk) != 200) {
		/* inside no dialog of afd: that first (RFC 3261 12.2.2) */
		if (req->to != NULL && req->to->tag.len > 0 &&
		    regn_dialog(rn, req) == 0)
			return sipd_reply(sd, rq, 481,
			                  "Subscription Does Not Exist", NULL,
			                  0, 0);
		return sipd_reply(sd, rq, chk.status, chk.reason, chk.extra,
		                  strlen(chk.extra), 0);
	}
	sip_buf_init(&hdrs, mem, 256);
	if (req->to != NULL && req->to->tag.len > 0)
		return regn_resubscribe(rn, rq, &chk, &hdrs);
	if (req->from == NULL || req->from->tag.len == 0)
		return sipd_reply(sd, rq, 400, "Missing From Tag", NULL, 0, 0);
	if (req->first[SIP_HDR_CONTACT] == NULL ||
	    sip_msg_addrs(mem, req->first[SIP_HDR_CONTACT], &ct) == -1 ||
	    ct == NULL || ct->star || ct->next != NULL)
		return sipd_reply(sd, rq, 400, "Missing or Bad Contact", NULL,
		                  0, 0);
	if ((aor = reg_aor(mem, &req->to->uri, c, &st, &reason)) == NULL)
		return sipd_reply(sd, rq, st, reason, NULL, 0, 0);
	/* the watcher: the identity the authentication gate checked (its
	 * source check: P-Preferred-Identity, else From), else From */
	if (rq->auth.impu != NULL)
		watcher = talloc_strdup(mem, rq->auth.impu);
	else if ((watcher = reg_aor(mem, &req->from->uri, c, &st, &reason)) ==
	         NULL)
		watcher = sip_str_dup(mem, req->from->uri.raw);
	if (watcher == NULL)
		return -1;
	if ((mark = regn_unit_begin(rn, &t)) == -1)
		return sipd_reply(sd, rq, 500, NULL, "Retry-After: 1\r\n", 16,
		                  0);
	if (c->auth_mode != CONF_AUTH_NONE &&
	    db_reg_identities(rn->dr, mem, watcher, &impu, &extra) == -1)
		goto fail;
	if (!regev_may_watch(c->auth_mode, aor, impu, extra)) {
		regn_unit_end(t, mark, 1);
		return sipd_reply(sd, rq, 403, NULL, NULL, 0, 0);
	}
	sipd_local_tag(req, tag);
	memset(&row, 0, sizeof(row));
	row.aor = aor;
	row.watcher = watcher;
	row.call_id = sip_str_dup(mem, req->call_id);
	row.from_tag = sip_str_dup(mem, req->from->tag);
	row.to_tag = tag;
	row.contact = sip_str_dup(mem, ct->uri.raw);
	row.route = regn_route(mem, req);
	row.received =
	    talloc_strdup(mem, sipd_peer_str(&rq->from, addr, sizeof(addr)));
	row.transport = rq->from.tp == SIP_TP_TCP ? "tcp" : "udp";
	if (rq->from.tp == SIP_TP_TCP) {
		row.conn_slot =
		    talloc_strndup(mem, rq->from.slot, sizeof(rq->from.slot));
		row.conn_id = (int64_t)rq->from.conn_id;
	}
	row.event_id = chk.event_id.len ? sip_str_dup(mem, chk.event_id) : NULL;
	row.expires_at = rq->now + chk.expires;
	if (row.call_id == NULL || row.from_tag == NULL ||
	    row.contact == NULL || row.received == NULL)
		goto fail;
	/* The notifier takes the first NOTIFY with the row and builds it
	 * now, in this unit: one statement instead of an insert, then the
	 * look-up, load and take of regn_run(); it leaves after the batch's
	 * commit and answers (so after this 200). Elsewhere, and for a fetch
	 * (its one NOTIFY is the final one), the NOTIFY is owed. */
	take = rn->notifier && chk.expires != 0;
	if ((rc = take ? db_sub_insert_take(rn->ds, &row, rq->now)
	               : db_sub_insert(rn->ds, &row, rq->now)) == -1)
		goto fail;
	if (rc == 0 && take &&
	    regn_build(rn, t, &row, row.version, row.cseq, 1, rq->now) == -1)
		goto fail;
	if (rc == 0 && chk.expires == 0 &&
	    db_sub_terminate(rn->ds, row.id, "timeout", rq->now) == -1)
		goto fail; /* a fetch: one NOTIFY, then nothing */
	if (regn_unit_end(t, mark, 1) == -1)
		return sipd_reply(sd, rq, 500, NULL, "Retry-After: 1\r\n", 16,
		                  0);
	if (rc == 0) {
		if (!take)
			rn->kick = 1;
		log_info("regevent: %s subscribed to %s for %ld s (%s)",
		         watcher, aor, chk.expires, row.received);
	}
	regn_contact(rn, &hdrs, rq->from.tp);
	sip_buf_addf(&hdrs, "Expires: %ld\r\n", chk.expires);
	if (hdrs.oom)
		return -1;
	return sipd_reply(sd, rq, 200, NULL, hdrs.s, hdrs.len, 1);
fail:
	regn_unit_end(t, mark, 0);
	return sipd_reply(sd, rq, 500, NULL, "Retry-After: 1\r\n", 16, 0);
}

/* ---------------------------------------------------------- the document */

/* The bindings of identity aor to report: the current ones (event
 * "registered", or the latest created/refreshed/shortened owed), then the
 * removed ones owed (their latest event). Array under mem. */
static int
regn_bindings(struct regn *rn, TALLOC_CTX *mem, const char *aor,
              const struct db_sub_event *ev, int nev, time_t now,
              struct regev_binding **out, int *nout)
{
	struct db_binding *cur;
	struct regev_binding *v;
	int ncur, n = 0;

	if (db_reg_load(rn->dr, mem, aor, &cur, &ncur) == -1)
		return -1;
	if ((v = talloc_zero_array(mem, struct regev_binding,
	                           ncur + nev + 1)) == NULL)
		return -1;
	for (int i = 0; i < ncur; i++) {
		enum reginfo_event e = REGINFO_EV_REGISTERED;
		if (cur[i].expires_at <= now)
			continue; /* the sweeper reports it as expired */
		for (int j = 0; j < nev; j++) {
			int w = reginfo_event_parse(ev[j].event);
			if (ev[j].b.id == cur[i].id && w >= 0 &&
			    reginfo_event_state(w) == REGINFO_CT_ACTIVE)
				e = (enum reginfo_event)w;
		}
		v[n].b = &cur[i];
		v[n++].event = e;
	}
	/* removed: the latest event of each binding no longer current */
	for (int j = nev - 1; j >= 0; j--) {
		int w = reginfo_event_parse(ev[j].event), seen = 0;
		if (strcmp(ev[j].b.aor, aor) != 0 || w < 0)
			continue;
		for (int i = 0; i < ncur && !seen; i++)
			seen =
			    cur[i].id == ev[j].b.id && cur[i].expires_at > now;
		for (int k = j + 1; k < nev && !seen; k++)
			seen = ev[k].b.id == ev[j].b.id &&
			       strcmp(ev[k].b.aor, aor) == 0;
		if (seen || reginfo_event_state(w) != REGINFO_CT_TERMINATED)
			continue;
		v[n].b = &ev[j].b;
		v[n++].event = (enum reginfo_event)w;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* The full-state document of subscription s at version, into body; *upto
 * the last event it carries (fresh: a row inserted in this unit, which no
 * event can be owed to yet). 0 or -1. */
static int
regn_document(struct regn *rn, TALLOC_CTX *mem, const struct db_sub_row *s,
              int64_t version, int fresh, time_t now, struct sip_buf *body,
              int64_t *upto)
{
	struct db_sub_event *ev = NULL;
	struct regev_identity *ids;
	char **aors;
	int nev = 0, naors;

	*upto = 0;
	if ((!fresh && db_sub_events(rn->ds, mem, s->id, &ev, &nev) == -1) ||
	    db_sub_identities(rn->ds, mem, s->aor, &aors, &naors) == -1)
		return -1;
	if (nev > 0)
		*upto = ev[nev - 1].id;
	if ((ids = talloc_zero_array(mem, struct regev_identity, naors)) ==
	    NULL)
		return -1;
	for (int i = 0; i < naors; i++) {
		struct regev_binding *bs;
		int nb;
		if (regn_bindings(rn, mem, aors[i], ev, nev, now, &bs, &nb) ==
		    -1)
			return -1;
		ids[i].aor = aors[i];
		ids[i].bindings = bs;
		ids[i].nbindings = nb;
	}
	return regev_document(body, (uint64_t)version, ids, naors, now);
}

/* ---------------------------------------------------------- the notifier */

/* Is TCP connection conn_id of slot still served (the workers table)? */
static int
regn_flow_up(struct regn *rn, const char *slot, const char *received)
{
	int up = 0;

	if (rn->flow_up == NULL &&
	    sqlite3_prepare_v2(rn->db,
	                       "SELECT 1 FROM workers WHERE slot = ?1 AND "
	                       "state = 'busy' AND serving = ?2",
	                       -1, &rn->flow_up, NULL) != SQLITE_OK) {
		log_warnx("regevent: %s", sqlite3_errmsg(rn->db));
		return 0;
	}
	sqlite3_bind_text(rn->flow_up, 1, slot, -1, SQLITE_STATIC);
	sqlite3_bind_text(rn->flow_up, 2, received, -1, SQLITE_STATIC);
	up = sqlite3_step(rn->flow_up) == SQLITE_ROW;
	sqlite3_reset(rn->flow_up);
	sqlite3_clear_bindings(rn->flow_up);
	return up;
}

/* Where a NOTIFY of s goes: its TCP flow while served, else the
 * SUBSCRIBE's source address over UDP. 0 or -1. */
static int
regn_dest(struct regn *rn, const struct db_sub_row *s, struct sip_peer *to)
{
	memset(to, 0, sizeof(*to));
	if (s->received == NULL || sipd_peer_parse(to, s->received) == -1)
		return -1;
	if (s->transport != NULL && strcmp(s->transport, "tcp") == 0 &&
	    s->conn_slot != NULL && s->conn_id != 0 &&
	    regn_flow_up(rn, s->conn_slot, s->received)) {
		to->tp = SIP_TP_TCP;
		snprintf(to->slot, sizeof(to->slot), "%s", s->conn_slot);
		to->conn_id = (uint64_t)s->conn_id;
	}
	return 0;
}

/* The Via branch of the NOTIFY of CSeq cseq of s: derived from the dialog
 * and the CSeq, so a notifier that sends it again after a restart sends
 * the same branch (the watcher's transaction layer absorbs a copy it
 * already answered). */
static void
regn_branch(struct regn *rn, const struct db_sub_row *s, int64_t cseq,
            char *out, size_t outsz)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[3] = {s->call_id, s->from_tag, s->to_tag};

	for (int i = 0; i < 3; i++) {
		for (const char *p = parts[i]; p && *p; p++) {
			h ^= (unsigned char)*p;
			h *= 0x100000001b3ULL;
		}
		h ^= 0xff;
		h *= 0x100000001b3ULL;
	}
	h ^= (uint64_t)cseq;
	h *= 0x100000001b3ULL;
	snprintf(out, outsz, "z9hG4bK-%s-%016llx%llx", sipd_slot(rn->sd),
	         (unsigned long long)h, (unsigned long long)cseq);
}

static void regn_done(struct sipd *sd, void *arg, int status,
                      const struct sip_msg *resp);

/* The NOTIFY of subscription id that regn_send() counted in flight did not
 * leave (its take was rolled back, or it could not be sent): its queue
 * owes one again. */
static void
regn_unsent(struct regn *rn, int64_t id)
{
	struct regev_q *q = regev_qs_get(rn->qs, id, 0);

	if (q != NULL) {
		q->inflight = 0;
		q->dirty = 1;
	}
}

/* After the commit that took the NOTIFY's version and CSeq: it is ready
 * to leave, after the batch's answers (regn_flush). The transaction frees
 * arg after this call: it is taken over instead. */
static void
regn_committed(void *arg, int committed)
{
	struct regn_sent *x = arg, **v;
	struct regn *rn = x->rn;

	if (!committed) {
		regn_unsent(rn, x->id);
		return;
	}
	v = talloc_realloc(rn, rn->ready, struct regn_sent *, rn->nready + 1);
	if (v == NULL) {
		log_warnx("regevent: out of memory");
		return;
	}
	rn->ready = v;
	/* a new block that takes the message over: arg itself is freed
	 * after us */
	if ((v[rn->nready] = talloc_memdup(v, x, sizeof(*x))) == NULL) {
		log_warnx("regevent: out of memory");
		regn_unsent(rn, x->id);
		return;
	}
	talloc_steal(v[rn->nready], x->buf);
	talloc_set_name_const(v[rn->nready], "struct regn_sent");
	rn->nready++;
}

int
regn_flush(struct regn *rn)
{
	size_t n;

	if (rn == NULL || rn->nready == 0)
		return 0;
	for (size_t i = 0; i < rn->nready; i++) {
		struct regn_sent *c = rn->ready[i];
		char *buf = c->buf;
		int64_t id = c->id;

		/* the transaction takes c over; the bytes it copies */
		talloc_steal(rn->ready, buf);
		c->buf = NULL;
		log_debug("regevent: NOTIFY %lld of subscription %lld (%s)",
		          (long long)c->cseq, (long long)c->id, c->branch);
		/* (on failure, logged, the row keeps the NOTIFY unanswered:
		 * the next notifier of the slot sends it again) */
		if (sipd_request(rn->sd, &c->to, c->branch, "NOTIFY", buf,
		                 c->len, regn_done,
		                 talloc_steal(NULL, c)) == -1)
			regn_unsent(rn, id);
	}
	n = rn->nready;
	TALLOC_FREE(rn->ready);
	rn->nready = 0;
	return (int)n;
}

/*
 * Build the NOTIFY of subscription s with version and cseq (taken by the
 * caller in the current unit of t) and have it leave after the commit
 * (regn_committed, then regn_flush after the batch's answers); its queue
 * counts it in flight from now on (a change found before it leaves waits
 * for its answer; a rollback of the unit makes it owed again). fresh: the
 * row was inserted in this unit, so no event can be owed to it yet (the
 * events look-up is skipped). 0 or -1 (logged; nothing queued).
 */
static int
regn_build(struct regn *rn, struct db_txn *t, const struct db_sub_row *s,
           int64_t version, int64_t cseq, int fresh, time_t now)
{
	TALLOC_CTX *mem = sipd_batch_mem(rn->sd);
	struct regn_sent *x;
	struct regev_q *q;
	struct regev_notify n;
	struct sip_buf body, msg;
	char via[400], contact[340];

	if ((x = talloc_zero(NULL, struct regn_sent)) == NULL)
		return -1;
	x->rn = rn;
	x->id = s->id;
	x->cseq = cseq;
	x->final = s->terminated;
	if (regn_dest(rn, s, &x->to) == -1) {
		log_warnx("regevent: subscription %lld has no address (%s)",
		          (long long)s->id, s->received ? s->received : "none");
		goto fail;
	}
	regn_branch(rn, s, cseq, x->branch, sizeof(x->branch));
	snprintf(via, sizeof(via), "Via: SIP/2.0/%s %s;branch=%s;rport\r\n",
	         x->to.tp == SIP_TP_TCP ? "TCP" : "UDP", rn->via_host,
	         x->branch);
	sip_buf_init(&body, mem, 2048);
	if (regn_document(rn, mem, s, version, fresh, now, &body, &x->upto) ==
	        -1 ||
	    body.oom) {
		log_warnx("regevent: cannot build the document of "
		          "subscription %lld",
		          (long long)s->id);
		goto fail;
	}
	memset(&n, 0, sizeof(n));
	n.target = s->contact;
	n.vias = via;
	n.aor = s->aor;
	n.local_tag = s->to_tag;
	n.watcher = s->watcher ? s->watcher : s->aor;
	n.remote_tag = s->from_tag;
	n.call_id = s->call_id;
	n.cseq = cseq;
	n.route = s->route;
	snprintf(contact, sizeof(contact), "sip:afd@%s;transport=%s",
	         rn->via_host, x->to.tp == SIP_TP_TCP ? "tcp" : "udp");
	n.contact = contact;
	n.event_id = s->event_id;
	n.terminated = s->terminated;
	n.reason = s->reason;
	n.expires_at = s->expires_at;
	n.now = now;
	n.body = (sip_str){body.s, body.len};
	sip_buf_init(&msg, x, 1024 + body.len);
	if (regev_notify_print(&msg, &n) == -1 || msg.oom) {
		log_warnx("regevent: cannot print the NOTIFY of subscription "
		          "%lld",
		          (long long)s->id);
		goto fail;
	}
	x->buf = msg.s;
	x->len = msg.len;
	/* (on failure x is freed by db_txn_after_commit) */
	if (db_txn_after_commit(t, regn_committed, x) == -1)
		return -1;
	if ((q = regev_qs_get(rn->qs, s->id, 1)) != NULL)
		regev_q_sent(q, cseq, sipd_now_ms());
	return 0;
fail:
	talloc_free(x);
	return -1;
}

/* Take (or, resend: keep) the version and CSeq of the next NOTIFY of
 * subscription id and build it, in a unit; it leaves after the commit. 1
 * sent, 0 nothing to send (the row is gone), -1 on error. */
static int
regn_send(struct regn *rn, int64_t id, int resend, time_t now)
{
	TALLOC_CTX *mem = sipd_batch_mem(rn->sd);
	struct db_sub_row *s;
	struct db_txn *t;
	int64_t version, cseq;
	int mark;

	if ((mark = regn_unit_own(rn, &t)) == -1)
		return -1;
	if (db_sub_load(rn->ds, mem, id, &s) == -1)
		goto fail;
	if (s == NULL) {
		regev_qs_drop(rn->qs, id);
		regn_unit_end(t, mark, 1);
		return 0;
	}
	if (resend) {
		version = s->version;
		cseq = s->cseq;
	} else if (db_sub_take(rn->ds, id, now, &version, &cseq) != 0)
		goto fail;
	if (regn_build(rn, t, s, version, cseq, 0, now) == -1)
		goto fail;
	/* (a release that fails rolls back: regn_committed hears 0) */
	return regn_unit_end(t, mark, 1) == -1 ? -1 : 1;
fail:
	regn_unit_end(t, mark, 0);
	return -1;
}

/* The client transaction of a NOTIFY ended with status (408: no final
 * answer). */
static void
regn_done(struct sipd *sd, void *arg, int status, const struct sip_msg *resp)
{
	struct regn_sent *x = arg;
	struct regn *rn = x->rn;
	struct regev_q *q = regev_qs_get(rn->qs, x->id, 0);
	enum regev_q_act act;
	struct db_txn *t;
	time_t now = time(NULL);
	int mark, ok, opened;

	if (q == NULL)
		return;
	act = regev_q_answer(q, x->cseq, status, sipd_now_ms());
	if (status >= 300)
		log_info("regevent: NOTIFY %lld of subscription %lld answered "
		         "%d%s",
		         (long long)x->cseq, (long long)x->id, status,
		         act == REGEV_Q_REMOVE ? ": subscription removed" : "");
	/* inside the batch that received the answer: its commit (one for a
	 * burst of answers) sends what follows */
	if (regn_own_begin(rn, &opened) == -1) {
		log_warnx("regevent: cannot record the answer to NOTIFY %lld",
		          (long long)x->cseq);
		return;
	}
	if (act != REGEV_Q_REMOVE && x->upto == 0) {
		/* the common answer: one statement, no unit of its own (a
		 * statement that fails changes nothing) */
		if (db_sub_answered(rn->ds, x->id, x->cseq, status,
		                    q->dirty || q->final, now) != -1 &&
		    act == REGEV_Q_SEND)
			regn_send(rn, x->id, 0, now);
		regn_own_end(rn, 0);
		return;
	}
	if ((mark = regn_unit_own(rn, &t)) == -1) {
		log_warnx("regevent: cannot record the answer to NOTIFY %lld",
		          (long long)x->cseq);
		regn_own_end(rn, 0);
		return;
	}
	if (act == REGEV_Q_REMOVE) {
		ok = db_sub_delete(rn->ds, x->id) == 0;
		regev_qs_drop(rn->qs, x->id);
	} else {
		ok = db_sub_answered(rn->ds, x->id, x->cseq, status,
		                     q->dirty || q->final, now) != -1 &&
		     (x->upto == 0 ||
		      db_sub_events_done(rn->ds, x->id, x->upto) == 0);
	}
	if (regn_unit_end(t, mark, ok) == 0 && act == REGEV_Q_SEND)
		regn_send(rn, x->id, 0, now);
	regn_own_end(rn, 0);
}

/* Take over what a predecessor left: every pending row gets a queue; the
 * NOTIFY that was in flight is sent again as it was (version, CSeq,
 * branch), the others owed are sent by regn_run(); a change that came
 * while one was in flight (pending 2) follows its answer. */
static int
regn_recover(struct regn *rn, time_t now)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct db_sub_row *rows;
	int n, rc = 0;

	if (tmp == NULL || db_sub_pending(rn->ds, tmp, &rows, &n) == -1) {
		talloc_free(tmp);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct regev_q *q;
		/* in flight: taken (cseq), not answered (last_status NULL),
		 * whether or not another change came since (pending 2) */
		if (rows[i].cseq <= 0 || rows[i].last_status != 0)
			continue;
		/* one this worker sent itself (its SUBSCRIBE came before
		 * the first run) is in flight already */
		if ((q = regev_qs_get(rn->qs, rows[i].id, 0)) != NULL &&
		    q->inflight)
			continue;
		if ((q = regev_qs_get(rn->qs, rows[i].id, 1)) == NULL)
			break;
		if (rows[i].terminated)
			regev_q_terminate(q, "timeout", sipd_now_ms());
		else
			regev_q_change(q, sipd_now_ms());
		log_info("regevent: sending again NOTIFY %lld (version %lld) "
		         "of subscription %lld (in flight when this worker's "
		         "predecessor stopped)",
		         (long long)rows[i].cseq, (long long)rows[i].version,
		         (long long)rows[i].id);
		if (regn_send(rn, rows[i].id, 1, now) == -1)
			rc = -1;
	}
	talloc_free(tmp);
	return rc;
}

int
regn_run(struct regn *rn, time_t now)
{
	TALLOC_CTX *tmp;
	struct db_sub_row *rows;
	int n, sent = 0, opened;

	if (rn == NULL || !rn->notifier)
		return 0;
	if (regn_own_begin(rn, &opened) == -1)
		return -1;
	if (!rn->recovered) {
		if (regn_recover(rn, now) == -1) {
			regn_own_end(rn, opened);
			return -1;
		}
		rn->recovered = 1;
	}
	if ((tmp = talloc_new(NULL)) == NULL ||
	    db_sub_owed(rn->ds, tmp, &rows, &n) == -1) {
		talloc_free(tmp);
		regn_own_end(rn, opened);
		return -1;
	}
	for (int i = 0; i < n && sent < REGN_PER_RUN; i++) {
		struct regev_q *q = regev_qs_get(rn->qs, rows[i].id, 1);
		enum regev_q_act act;

		if (q == NULL)
			break;
		/* a CSeq only grows: a row behind its queue is another
		 * subscription that reused the id of one deleted meanwhile */
		if (rows[i].cseq < q->cseq)
			regev_q_init(q);
		act = rows[i].terminated
		          ? regev_q_terminate(q, "timeout", sipd_now_ms())
		          : regev_q_change(q, sipd_now_ms());
		/* owed and nothing in flight: send (a send that failed
		 * before is tried again) */
		if (act == REGEV_Q_NONE && !q->inflight && !q->gone)
			act = REGEV_Q_SEND;
		if (act != REGEV_Q_SEND)
			continue;
		if (regn_send(rn, rows[i].id, 0, now) == 1)
			sent++;
	}
	talloc_free(tmp);
	regn_own_end(rn, opened);
	return sent;
}

int
regn_tick(struct regn *rn, time_t now)
{
	TALLOC_CTX *tmp;
	struct db_sub_row *ended;
	struct db_txn *t;
	int n, mark, rc, opened = 0;

	if (rn == NULL || !rn->notifier)
		return 0;
	if ((tmp = talloc_new(NULL)) == NULL)
		return -1;
	if (regn_own_begin(rn, &opened) == -1 ||
	    (mark = regn_unit_own(rn, &t)) == -1) {
		talloc_free(tmp);
		regn_own_end(rn, opened);
		return -1;
	}
	rc = db_sub_sweep(rn->ds, tmp, now, &ended, &n);
	for (int i = 0; rc != -1 && i < n; i++)
		log_info("regevent: subscription of %s to %s expired",
		         ended[i].watcher ? ended[i].watcher : "?",
		         ended[i].aor);
	talloc_free(tmp);
	if (regn_unit_end(t, mark, rc != -1) == -1) {
		regn_own_end(rn, opened);
		return -1;
	}
	rc = regn_run(rn, now);
	regn_own_end(rn, opened);
	return rc;
}
