/*
 * workers/regevent.c: the registration event service's pure parts (see
 * regevent.h): SUBSCRIBE checks, the watcher's right, the NOTIFY's
 * headers, and the NOTIFY queue of one subscription. No database, no
 * sockets, no clock of its own.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "workers/regevent.h"

/* ---- SUBSCRIBE ---- */

/* Split an Event value into its type and its id parameter. */
static void
regev_event_split(sip_str v, sip_str *type, sip_str *id)
{
	const char *p = v.s, *end = v.s + v.len, *semi;

	*id = SIP_STR_NULL;
	semi = memchr(p, ';', v.len);
	*type = sip_str_trim((sip_str){p, (size_t)((semi ? semi : end) - p)});
	/* ;name=value params after the type: find id */
	while (semi != NULL && semi < end) {
		const char *n = semi + 1, *next, *eq;
		next = memchr(n, ';', (size_t)(end - n));
		if (next == NULL)
			next = end;
		eq = memchr(n, '=', (size_t)(next - n));
		if (eq != NULL &&
		    sip_str_caseeq_lit(
		        sip_str_trim((sip_str){n, (size_t)(eq - n)}), "id")) {
			*id = sip_str_trim(
			    (sip_str){eq + 1, (size_t)(next - eq - 1)});
			return;
		}
		semi = next < end ? next : NULL;
	}
}

/* A media range's q parameter is 0 ("not acceptable")? */
static int
regev_q_zero(sip_str params)
{
	const char *p = params.s, *end = params.s + params.len;

	while (p != NULL && p < end) {
		const char *n = p, *next, *eq;
		next = memchr(n, ';', (size_t)(end - n));
		if (next == NULL)
			next = end;
		eq = memchr(n, '=', (size_t)(next - n));
		if (eq != NULL &&
		    sip_str_caseeq_lit(
		        sip_str_trim((sip_str){n, (size_t)(eq - n)}), "q")) {
			sip_str v = sip_str_trim(
			    (sip_str){eq + 1, (size_t)(next - eq - 1)});
			size_t i = 0;
			/* "0", "0.", "0.0", "0.00", "0.000" */
			if (v.len == 0 || v.s[0] != '0')
				return 0;
			for (i = 1; i < v.len; i++)
				if (v.s[i] != '.' && v.s[i] != '0')
					return 0;
			return 1;
		}
		p = next < end ? next + 1 : NULL;
	}
	return 0;
}

/* Does the Accept header (every field) accept application/reginfo+xml? */
static int
regev_accepts(const struct sip_hdr *first)
{
	for (const struct sip_hdr *h = first; h != NULL; h = h->next_same) {
		const char *p = h->value.s, *end = p + h->value.len, *q;

		while (p != NULL && p < end) {
			sip_str it, mt;
			const char *semi;

			q = memchr(p, ',', (size_t)(end - p));
			if (q == NULL)
				q = end;
			it = sip_str_trim((sip_str){p, (size_t)(q - p)});
			p = q + 1;
			if (it.len == 0)
				continue;
			semi = memchr(it.s, ';', it.len);
			mt = sip_str_trim((sip_str){
			    it.s,
			    (size_t)((semi ? semi : it.s + it.len) - it.s)});
			if (!sip_str_caseeq_lit(mt,
			                        "application/reginfo+xml") &&
			    !sip_str_caseeq_lit(mt, "application/*") &&
			    !sip_str_caseeq_lit(mt, "*/*"))
				continue;
			if (semi != NULL &&
			    regev_q_zero((sip_str){
			        semi + 1, (size_t)(it.s + it.len - semi - 1)}))
				continue;
			return 1;
		}
	}
	return 0;
}

int
regev_check_subscribe(const struct sip_msg *req, const struct conf *c,
                      struct regev_check *check)
{
	const struct sip_hdr *ev = req->first[SIP_HDR_EVENT];
	const struct sip_hdr *ex = req->first[SIP_HDR_EXPIRES];
	sip_str type;
	uint32_t e;

	memset(check, 0, sizeof(*check));
	if (ev == NULL) {
		check->status = 400;
		check->reason = "Missing Event Header";
		return check->status;
	}
	if (ev->next_same != NULL) {
		check->status = 400;
		check->reason = "Multiple Event Headers";
		return check->status;
	}
	regev_event_split(ev->value, &type, &check->event_id);
	if (!sip_str_eq(type, SIP_STR_LIT("reg"))) {
		check->status = 489;
		snprintf(check->extra, sizeof(check->extra),
		         "Allow-Events: reg\r\n");
		return check->status;
	}
	if (req->first[SIP_HDR_ACCEPT] != NULL &&
	    !regev_accepts(req->first[SIP_HDR_ACCEPT])) {
		check->status = 406;
		snprintf(check->extra, sizeof(check->extra),
		         "Accept: application/reginfo+xml\r\n");
		return check->status;
	}
	if (ex == NULL) {
		check->expires = REGEV_DEFAULT_EXPIRES;
		if (check->expires < c->regev_min_expires)
			check->expires = c->regev_min_expires;
	} else if (ex->next_same != NULL ||
	           sip_str_to_u32(ex->value, &e) == -1) {
		check->status = 400;
		check->reason = "Invalid Expires";
		return check->status;
	} else if (e > 0 && e < (uint32_t)c->regev_min_expires) {
		check->status = 423;
		snprintf(check->extra, sizeof(check->extra),
		         "Min-Expires: %d\r\n", c->regev_min_expires);
		return check->status;
	} else
		check->expires = (long)e;
	if (check->expires > c->regev_max_expires)
		check->expires = c->regev_max_expires;
	check->status = 200;
	return check->status;
}

/* ---- who may watch ---- */

int
regev_may_watch(enum conf_auth mode, const char *target, const char *impu,
                const char *extra_impu)
{
	size_t tl;

	if (mode == CONF_AUTH_NONE)
		return 1;
	if (target == NULL || *target == '\0' || impu == NULL)
		return 0;
	if (strcmp(target, impu) == 0)
		return 1;
	tl = strlen(target);
	for (const char *s = extra_impu, *e; s != NULL && *s != '\0'; s = e) {
		char it[1024];
		size_t n = 0;

		if ((e = strchr(s, ',')) == NULL)
			e = s + strlen(s);
		for (const char *p = s; p < e; p++) {
			if (*p == ' ' || *p == '\t' || *p == '<' || *p == '>')
				continue;
			if (n + 1 >= sizeof(it)) {
				n = sizeof(it); /* too long: no match */
				break;
			}
			it[n++] = *p;
		}
		if (*e == ',')
			e++;
		if (n == tl && memcmp(it, target, n) == 0)
			return 1;
	}
	return 0;
}

/* ---- NOTIFY ---- */

void
regev_substate(struct sip_buf *b, int terminated, int64_t expires_at,
               time_t now, const char *reason)
{
	int64_t left;

	if (terminated) {
		sip_buf_add(b, "terminated", 10);
		if (reason != NULL && *reason != '\0')
			sip_buf_addf(b, ";reason=%s", reason);
		return;
	}
	left = expires_at - (int64_t)now;
	sip_buf_addf(b, "active;expires=%" PRId64, left > 0 ? left : 0);
}

/* A field that may go into a header: not NULL (unless optional), no CR,
 * LF or NUL. */
static int
regev_field_ok(const char *s, int optional)
{
	if (s == NULL)
		return optional;
	return strpbrk(s, "\r\n") == NULL;
}

/* A URI in a name-addr: "<uri>", the brackets added unless there. */
static void
regev_name_addr(struct sip_buf *b, const char *uri)
{
	if (uri[0] == '<')
		sip_buf_add(b, uri, strlen(uri));
	else
		sip_buf_addf(b, "<%s>", uri);
}

int
regev_notify_print(struct sip_buf *b, const struct regev_notify *n)
{
	if (!regev_field_ok(n->target, 0) || !regev_field_ok(n->aor, 0) ||
	    !regev_field_ok(n->local_tag, 0) ||
	    !regev_field_ok(n->watcher, 0) ||
	    !regev_field_ok(n->remote_tag, 0) ||
	    !regev_field_ok(n->call_id, 0) || !regev_field_ok(n->contact, 0) ||
	    !regev_field_ok(n->route, 1) || !regev_field_ok(n->event_id, 1) ||
	    !regev_field_ok(n->reason, 1) || n->vias == NULL || n->cseq <= 0 ||
	    n->cseq > UINT32_MAX)
		return -1;
	sip_buf_addf(b, "NOTIFY %s SIP/2.0\r\n", n->target);
	sip_buf_add(b, n->vias, strlen(n->vias));
	sip_buf_add(b, "Max-Forwards: 70\r\nFrom: ", 24);
	regev_name_addr(b, n->aor);
	sip_buf_addf(b, ";tag=%s\r\nTo: ", n->local_tag);
	regev_name_addr(b, n->watcher);
	sip_buf_addf(b, ";tag=%s\r\n", n->remote_tag);
	sip_buf_hdr(b, "Call-ID", "%s", n->call_id);
	sip_buf_hdr(b, "CSeq", "%" PRId64 " NOTIFY", n->cseq);
	if (n->route != NULL && n->route[0] != '\0')
		sip_buf_hdr(b, "Route", "%s", n->route);
	sip_buf_add(b, "Contact: ", 9);
	regev_name_addr(b, n->contact);
	sip_buf_add(b, "\r\n", 2);
	if (n->event_id != NULL && n->event_id[0] != '\0')
		sip_buf_hdr(b, "Event", "reg;id=%s", n->event_id);
	else
		sip_buf_hdr(b, "Event", "reg");
	sip_buf_add(b, "Subscription-State: ", 20);
	regev_substate(b, n->terminated, n->expires_at, n->now, n->reason);
	sip_buf_add(b, "\r\n", 2);
	sip_buf_hdr(b, "Content-Type", "application/reginfo+xml");
	sip_buf_finish(b, n->body);
	return b->oom ? -1 : 0;
}

/* ---- the document ---- */

/* One binding as a reginfo contact; strings under ctx. 0 or -1. */
static int
regev_contact(TALLOC_CTX *ctx, const struct regev_binding *rb, time_t now,
              struct reginfo_contact *c)
{
	const struct db_binding *b = rb->b;
	struct reginfo_param *prm;
	char *id;
	int np;

	memset(c, 0, sizeof(*c));
	if ((id = talloc_size(ctx, 24)) == NULL)
		return -1;
	reginfo_contact_id(id, b->id);
	c->id = id;
	c->event = rb->event;
	c->state = reginfo_event_state(rb->event);
	c->expires = c->state == REGINFO_CT_ACTIVE && b->expires_at > now
	                 ? b->expires_at - (int64_t)now
	                 : 0;
	c->q = b->q;
	c->has_q = b->has_q;
	c->callid = b->call_id;
	c->cseq = b->cseq;
	c->duration =
	    now > b->registered_at ? (int64_t)now - b->registered_at : 0;
	c->retry_after = -1;
	c->uri = b->contact;
	if (reginfo_params_split(ctx, b->params, &prm, &np) == -1)
		return -1;
	c->params = prm;
	c->nparams = np;
	return 0;
}

int
regev_document(struct sip_buf *out, uint64_t version,
               const struct regev_identity *ids, int n, time_t now)
{
	TALLOC_CTX *tmp;
	struct reginfo_registration *regs;
	struct reginfo_doc d;
	int rc = -1;

	if ((tmp = talloc_new(NULL)) == NULL)
		return -1;
	if ((regs = talloc_zero_array(tmp, struct reginfo_registration,
	                              n > 0 ? n : 1)) == NULL)
		goto done;
	for (int i = 0; i < n; i++) {
		struct reginfo_contact *cs;
		char *rid;
		int active = 0;

		if ((rid = talloc_size(tmp, 16)) == NULL)
			goto done;
		reginfo_aor_id(rid, ids[i].aor);
		cs = talloc_zero_array(tmp, struct reginfo_contact,
		                       ids[i].nbindings > 0 ? ids[i].nbindings
		                                            : 1);
		if (cs == NULL)
			goto done;
		for (int j = 0; j < ids[i].nbindings; j++) {
			if (regev_contact(tmp, &ids[i].bindings[j], now,
			                  &cs[j]) == -1)
				goto done;
			active += cs[j].state == REGINFO_CT_ACTIVE;
		}
		regs[i].aor = ids[i].aor;
		regs[i].id = rid;
		regs[i].contacts = cs;
		regs[i].ncontacts = ids[i].nbindings;
		regs[i].state = active                 ? REGINFO_REG_ACTIVE
		                : ids[i].nbindings > 0 ? REGINFO_REG_TERMINATED
		                                       : REGINFO_REG_INIT;
	}
	d.version = version;
	d.state = REGINFO_FULL;
	d.regs = regs;
	d.nregs = n;
	rc = reginfo_print(out, &d);
done:
	talloc_free(tmp);
	return rc;
}

/* ---- the NOTIFY queue of one subscription ---- */

void
regev_q_init(struct regev_q *q)
{
	memset(q, 0, sizeof(*q));
}

int
regev_status_removes(int status)
{
	return status == 481 || status == 408 || status == 489;
}

enum regev_q_act
regev_q_change(struct regev_q *q, uint64_t now_ms)
{
	if (q->gone)
		return REGEV_Q_NONE;
	q->dirty = 1;
	q->changes++;
	return q->inflight ? REGEV_Q_NONE : REGEV_Q_SEND;
}

enum regev_q_act
regev_q_terminate(struct regev_q *q, const char *reason, uint64_t now_ms)
{
	if (q->gone || q->final)
		return REGEV_Q_NONE;
	q->final = 1;
	q->reason = reason;
	return q->inflight ? REGEV_Q_NONE : REGEV_Q_SEND;
}

void
regev_q_sent(struct regev_q *q, int64_t cseq, uint64_t now_ms)
{
	q->inflight = 1;
	q->cseq = cseq;
	q->sent_ms = now_ms;
	q->final_inflight = q->final;
	q->dirty = 0;
	q->changes = 0;
}

enum regev_q_act
regev_q_answer(struct regev_q *q, int64_t cseq, int status, uint64_t now_ms)
{
	if (q->gone || !q->inflight || cseq != q->cseq || status < 200)
		return REGEV_Q_NONE;
	q->inflight = 0;
	if (regev_status_removes(status) || q->final_inflight) {
		q->gone = 1;
		return REGEV_Q_REMOVE;
	}
	return q->dirty || q->final ? REGEV_Q_SEND : REGEV_Q_NONE;
}

uint64_t
regev_q_deadline(const struct regev_q *q)
{
	if (q->gone || !q->inflight)
		return 0;
	return q->sent_ms + REGEV_Q_ANSWER_MS;
}

enum regev_q_act
regev_q_tick(struct regev_q *q, uint64_t now_ms)
{
	uint64_t d = regev_q_deadline(q);

	if (d == 0 || now_ms < d)
		return REGEV_Q_NONE;
	return regev_q_answer(q, q->cseq, 408, now_ms);
}

/* ---- the queues of one worker ---- */

struct regev_qs_slot {
	int64_t id; /* 0: empty; REGEV_QS_TOMB: deleted */
	struct regev_q q;
};

#define REGEV_QS_TOMB INT64_MIN

struct regev_qs {
	struct regev_qs_slot *slot;
	size_t cap;  /* a power of two */
	size_t n;    /* live */
	size_t used; /* live + tombstones */
};

struct regev_qs *
regev_qs_new(TALLOC_CTX *ctx)
{
	struct regev_qs *qs = talloc_zero(ctx, struct regev_qs);

	if (qs == NULL)
		return NULL;
	qs->cap = 64;
	qs->slot = talloc_zero_array(qs, struct regev_qs_slot, qs->cap);
	if (qs->slot == NULL) {
		talloc_free(qs);
		return NULL;
	}
	return qs;
}

static size_t
regev_qs_hash(int64_t id, size_t cap)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 17) & (cap - 1);
}

/* The slot of id, or with create the slot to put it in; NULL when absent
 * (not create). */
static struct regev_qs_slot *
regev_qs_find(const struct regev_qs *qs, int64_t id, int create)
{
	struct regev_qs_slot *tomb = NULL;

	for (size_t i = regev_qs_hash(id, qs->cap), k = 0; k < qs->cap;
	     i = (i + 1) & (qs->cap - 1), k++) {
		struct regev_qs_slot *s = &qs->slot[i];
		if (s->id == id)
			return s;
		if (s->id == REGEV_QS_TOMB && tomb == NULL)
			tomb = s;
		if (s->id == 0)
			return create ? (tomb ? tomb : s) : NULL;
	}
	return create ? tomb : NULL;
}

/* Rehash into cap slots (drops the tombstones). 0 or -1. */
static int
regev_qs_resize(struct regev_qs *qs, size_t cap)
{
	struct regev_qs_slot *old = qs->slot;
	size_t ocap = qs->cap;

	qs->slot = talloc_zero_array(qs, struct regev_qs_slot, cap);
	if (qs->slot == NULL) {
		qs->slot = old;
		return -1;
	}
	qs->cap = cap;
	qs->used = qs->n;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].id != 0 && old[i].id != REGEV_QS_TOMB)
			*regev_qs_find(qs, old[i].id, 1) = old[i];
	talloc_free(old);
	return 0;
}

struct regev_q *
regev_qs_get(struct regev_qs *qs, int64_t id, int create)
{
	struct regev_qs_slot *s;

	if (id == 0 || id == REGEV_QS_TOMB)
		return NULL;
	if ((s = regev_qs_find(qs, id, 0)) != NULL)
		return &s->q;
	if (!create)
		return NULL;
	/* keep the table at most half used */
	if ((qs->used + 1) * 2 > qs->cap &&
	    regev_qs_resize(qs, qs->n * 4 > qs->cap ? qs->cap * 2 : qs->cap) ==
	        -1)
		return NULL;
	s = regev_qs_find(qs, id, 1);
	if (s->id == 0)
		qs->used++;
	s->id = id;
	regev_q_init(&s->q);
	qs->n++;
	return &s->q;
}

void
regev_qs_drop(struct regev_qs *qs, int64_t id)
{
	struct regev_qs_slot *s;

	if (id == 0 || id == REGEV_QS_TOMB ||
	    (s = regev_qs_find(qs, id, 0)) == NULL)
		return;
	s->id = REGEV_QS_TOMB;
	qs->n--;
}

size_t
regev_qs_count(const struct regev_qs *qs)
{
	return qs->n;
}

uint64_t
regev_qs_deadline(const struct regev_qs *qs)
{
	uint64_t best = 0, d;

	for (size_t i = 0; i < qs->cap; i++) {
		if (qs->slot[i].id == 0 || qs->slot[i].id == REGEV_QS_TOMB)
			continue;
		d = regev_q_deadline(&qs->slot[i].q);
		if (d != 0 && (best == 0 || d < best))
			best = d;
	}
	return best;
}

int
regev_qs_due(const struct regev_qs *qs, uint64_t now_ms, int64_t *ids, int max)
{
	int n = 0;
	uint64_t d;

	for (size_t i = 0; i < qs->cap && n < max; i++) {
		if (qs->slot[i].id == 0 || qs->slot[i].id == REGEV_QS_TOMB)
			continue;
		d = regev_q_deadline(&qs->slot[i].q);
		if (d != 0 && d <= now_ms)
			ids[n++] = qs->slot[i].id;
	}
	return n;
}
