/*
 * workers/registrar.c: the registrar (see registrar.h for the contract and
 * the status codes chosen).
 *
 * One REGISTER costs: one indexed SELECT of the AOR's bindings, the
 * decisions in C (reg_plan, no database), then only the INSERT / UPDATE /
 * DELETE statements needed, all prepared, inside a SAVEPOINT of the
 * batch's transaction; the 200 is built from the in-memory result. Memory
 * comes from the caller's per-batch context.
 *
 * Choices written down here:
 * - AOR: the To URI as "sip:user@domain" (sips: kept). Every host afd
 *   serves (the [afd] domain, any case, and the listen address) names the
 *   same domain, so the AOR always carries the configured domain: Alice
 *   registering as sip:alice@127.0.0.1 and as sip:alice@DOMAIN is one user.
 * - Request-URI (RFC 3261 10.2, 10.3 step 1): sip:, no user part, a host
 *   afd serves; a sips: Request-URI or To is refused, afd having no TLS.
 * - Expiry: a binding registered at Unix second t with expiry N has
 *   expires_at = t + N; it is live while now < expires_at (the
 *   active_registrations view uses the same rule) and the sweeper removes
 *   it once expires_at <= now.
 * - A binding is identified by (AOR, +sip.instance, reg-id) when it has an
 *   instance (RFC 5626 6 and 7; an instance without reg-id is the same
 *   instance without reg-id, as RFC 5627 does), else by (AOR, contact
 *   URI) (RFC 3261 10.3). Two flows of one phone, or two phones, may
 *   register one contact URI: separate bindings, each with the connection
 *   it came over. A matched instance binding takes the new contact URI; a
 *   binding without instance at that URI is replaced (the same UA, now
 *   naming its instance). A contact without instance never refreshes an
 *   instance binding, but its expires=0 removes every binding at its URI
 *   (a UA that leaves its instance out when it unregisters). URIs are
 *   compared by RFC 3261 19.1.4 (host and parameter case, escapes,
 *   parameter order), so the same contact written otherwise refreshes its
 *   binding and takes the new spelling.
 * - RFC 5626 6: an outbound REGISTER through a proxy whose first hop's
 *   Path lacks ;ob gets 439 (unless [registrar] outbound_require_ob = no).
 * - Expired rows not yet swept do not count and are not listed; a Contact
 *   matching one renews it as a fresh registration.
 * - Path is stored always; echoed in the 200 only when the UE supports it
 *   (Supported or Require has "path", RFC 3327 5.3).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "schema/db.h"
#include "schema/db_txn.h"
#include "workers/registrar.h"

#define REG_MAX_CONTACTS_REQ 64 /* Contact values in one REGISTER */

/* A removal held for the hook until its transaction commits (an
 * after-commit callback's argument, schema/db_txn.h). */
struct reg_gone {
	struct reg *r;
	struct db_binding b; /* strings under this block */
	enum reg_why why;
};

struct reg {
	const struct conf *c;
	struct db_txn *txn;
	struct db_reg *dr;
	reg_removal_fn removal;
	void *removal_arg;
	reg_removal_fn change;
	void *change_arg;
	reg_unit_fn unit;
	void *unit_arg;
	time_t unit_now; /* the time of the unit being written */
	int gone_oom;    /* the sweeper could not hold one */
	time_t date_t;
	char date[40];           /* "Date: ...\r\n" for date_t */
	char service_route[600]; /* "Service-Route: <...>\r\n" */
};

struct reg *
reg_new(TALLOC_CTX *ctx, const struct conf *c, struct db_txn *txn)
{
	struct reg *r;
	const char *host = c->listen;
	int v6;

	if ((r = talloc_zero(ctx, struct reg)) == NULL)
		goto oom;
	r->c = c;
	r->txn = txn;
	if ((r->dr = db_reg_new(r, db_txn_db(txn))) == NULL)
		goto oom;
	/* RFC 3608: later requests of the UE come back to afd itself. */
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0)
		host = c->domain;
	v6 = strchr(host, ':') != NULL && host[0] != '[';
	snprintf(r->service_route, sizeof(r->service_route),
	         "Service-Route: <sip:orig@%s%s%s:%d;lr>\r\n", v6 ? "[" : "",
	         host, v6 ? "]" : "", c->port);
	return r;
oom:
	log_warnx("registrar: out of memory");
	talloc_free(r);
	return NULL;
}

void
reg_set_removal_hook(struct reg *r, reg_removal_fn fn, void *arg)
{
	r->removal = fn;
	r->removal_arg = arg;
}

void
reg_set_change_hook(struct reg *r, reg_removal_fn fn, void *arg)
{
	r->change = fn;
	r->change_arg = arg;
}

void
reg_set_unit_hook(struct reg *r, reg_unit_fn fn, void *arg)
{
	r->unit = fn;
	r->unit_arg = arg;
}

int
reg_why_removes(enum reg_why why)
{
	return why == REG_WHY_EXPIRED || why == REG_WHY_UNREGISTERED ||
	       why == REG_WHY_REPLACED || why == REG_WHY_UNREACHABLE ||
	       why == REG_WHY_DEACTIVATED || why == REG_WHY_REJECTED;
}

const char *
reg_why_event(enum reg_why why)
{
	switch (why) {
	case REG_WHY_EXPIRED:
		return "expired";
	case REG_WHY_UNREGISTERED:
	case REG_WHY_REPLACED:
		return "unregistered";
	case REG_WHY_UNREACHABLE:
	case REG_WHY_DEACTIVATED:
		return "deactivated";
	case REG_WHY_REJECTED:
		return "rejected";
	case REG_WHY_CREATED:
		return "created";
	case REG_WHY_REFRESHED:
		return "refreshed";
	case REG_WHY_SHORTENED:
		return "shortened";
	}
	return "unregistered";
}

/* A string copy under ctx that keeps NULL; *oom set on failure. */
static const char *
reg_keep(TALLOC_CTX *ctx, const char *s, int *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = talloc_strdup(ctx, s)) == NULL)
		*oom = 1;
	return d;
}

/* The held removal's transaction ended: tell the hook when committed. */
static void
reg_gone_fire(void *arg, int committed)
{
	struct reg_gone *g = arg;

	if (!committed)
		return;
	log_debug("registrar: binding %s -> %s %s", g->b.aor, g->b.contact,
	          reg_why_event(g->why));
	if (g->r->removal != NULL && reg_why_removes(g->why))
		g->r->removal(g->r->removal_arg, &g->b, g->why);
	if (g->r->change != NULL)
		g->r->change(g->r->change_arg, &g->b, g->why);
}

/* Hold binding b (removed for why) for the hook until the enclosing
 * transaction ends (an after-commit callback). Nothing is held without a
 * hook. 0, or -1 when out of memory. */
static int
reg_hold(struct reg *r, const struct db_binding *b, enum reg_why why)
{
	struct reg_gone *g;
	struct db_binding *c;
	int oom = 0;

	/* inside the unit: what the hook writes commits with the change */
	if (r->unit != NULL &&
	    r->unit(r->unit_arg, b, why,
	            r->unit_now ? r->unit_now : time(NULL)) == -1)
		return -1;
	if (r->change == NULL && (r->removal == NULL || !reg_why_removes(why)))
		return 0;
	if ((g = talloc_zero(NULL, struct reg_gone)) == NULL)
		goto oom;
	g->r = r;
	g->why = why;
	c = &g->b;
	*c = *b;
	c->aor = reg_keep(g, b->aor, &oom);
	c->contact = reg_keep(g, b->contact, &oom);
	c->params = reg_keep(g, b->params ? b->params : "", &oom);
	c->call_id = reg_keep(g, b->call_id, &oom);
	c->branch = reg_keep(g, b->branch, &oom);
	c->path = reg_keep(g, b->path, &oom);
	c->received = reg_keep(g, b->received, &oom);
	c->transport = reg_keep(g, b->transport, &oom);
	c->conn_slot = reg_keep(g, b->conn_slot, &oom);
	c->instance = reg_keep(g, b->instance, &oom);
	c->user_agent = reg_keep(g, b->user_agent, &oom);
	if (oom) {
		talloc_free(g);
		goto oom;
	}
	return db_txn_after_commit(r->txn, reg_gone_fire, g);
oom:
	log_warnx("registrar: out of memory");
	return -1;
}

/* ---------------------------------------------------------------- AOR */

static int
reg_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* May this byte stand unescaped in a canonical user part (RFC 3261
 * unreserved / user-unreserved)? */
static int
reg_user_plain(int c)
{
	return isalnum(c) || (c != 0 && strchr("-_.!~*'()&=+$,;?/", c) != NULL);
}

/* The user part with %HH decoded where the byte may stand plain; other
 * bytes (CTLs, %00, '@', ':', space, non-ASCII ...) stay as "%HH". */
static char *
reg_user_unescape(TALLOC_CTX *ctx, sip_str u)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = talloc_size(ctx, u.len * 3 + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < u.len; i++) {
		int c = (unsigned char)u.s[i];
		if (c == '%' && i + 2 < u.len && reg_hexval(u.s[i + 1]) >= 0 &&
		    reg_hexval(u.s[i + 2]) >= 0) {
			c = reg_hexval(u.s[i + 1]) * 16 +
			    reg_hexval(u.s[i + 2]);
			i += 2;
		}
		if (reg_user_plain(c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* If s (NUL-terminated) is a telephone number (global "+digits" or
 * digits, with visual separators - . ( ) allowed), rewrite it in place
 * without the separators and return 1; else 0. With force (user=phone, tel:)
 * anything after the first ';' (phone params) is dropped first. */
static int
reg_phone(char *s, int force)
{
	char *p, *o;
	int digits = 0;

	if (force && (p = strchr(s, ';')) != NULL)
		*p = '\0';
	p = s;
	if (*p == '+')
		p++;
	for (char *q = p; *q; q++) {
		if (isdigit((unsigned char)*q))
			digits++;
		else if (strchr("-.()", *q) == NULL)
			return 0;
	}
	if (digits == 0)
		return 0;
	for (o = p; *p; p++)
		if (isdigit((unsigned char)*p))
			*o++ = *p;
	*o = '\0';
	return 1;
}

/* Is host (a URI host, IPv6 in brackets) one afd serves? */
static int
reg_host_served(sip_str host, const struct conf *c)
{
	size_t ll = strlen(c->listen);

	if (host.len == 0)
		return 0;
	if (sip_str_caseeq_lit(host, c->domain))
		return 1;
	if (ll == 0)
		return 0;
	if (host.s[0] == '[' && host.len == ll + 2 &&
	    strncasecmp(host.s + 1, c->listen, ll) == 0)
		return 1;
	return sip_str_caseeq_lit(host, c->listen);
}

char *
reg_aor(TALLOC_CTX *ctx, const struct sip_uri *to, const struct conf *c,
        int *status, const char **reason)
{
	const char *scheme = "sip:";
	char *user, *aor, *dom;
	const struct sip_param *up;

	switch (to->scheme) {
	case SIP_SCHEME_TEL:
		user = reg_user_unescape(ctx, to->user);
		if (user == NULL)
			goto oom;
		if (!reg_phone(user, 1)) {
			*status = 400;
			*reason = "Malformed tel URI in To";
			return NULL;
		}
		break;
	case SIP_SCHEME_SIPS:
		scheme = "sips:";
		/* FALLTHROUGH */
	case SIP_SCHEME_SIP:
		if (to->user.len == 0) {
			*status = 400;
			*reason = "No User in To URI";
			return NULL;
		}
		if (!reg_host_served(to->host, c)) {
			*status = 403;
			*reason = "Domain Not Served";
			return NULL;
		}
		if ((user = reg_user_unescape(ctx, to->user)) == NULL)
			goto oom;
		up = sip_param_find(to->params, "user");
		reg_phone(user, up != NULL && up->value.s != NULL &&
		                    sip_str_caseeq_lit(up->value, "phone"));
		break;
	default:
		*status = 416;
		*reason = "Unsupported URI Scheme in To";
		return NULL;
	}
	if ((dom = talloc_strdup(ctx, c->domain)) == NULL)
		goto oom;
	for (char *p = dom; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	aor = talloc_asprintf(ctx, "%s%s@%s", scheme, user, dom);
	if (aor == NULL)
		goto oom;
	return aor;
oom:
	*status = 500;
	*reason = NULL;
	return NULL;
}

/* ------------------------------------------------------------ decisions */

long
reg_expiry(long param, long header, const struct conf *c)
{
	long e = param >= 0 ? param : header >= 0 ? header : c->default_expires;

	if (e == 0)
		return 0;
	/* RFC 3261 10.3 step 7: 423 "if and only if" the interval is below
	 * one hour (and min_expires); a longer one under a min_expires above
	 * an hour is raised to it (the 200 says so). */
	if (e < c->min_expires)
		return e < 3600 ? -1 : c->min_expires;
	if (e > c->max_expires)
		e = c->max_expires;
	return e;
}

enum reg_cseq
reg_cseq_check(const struct db_binding *b, const char *call_id, uint32_t cseq,
               const char *branch)
{
	if (b->call_id == NULL || strcmp(b->call_id, call_id) != 0)
		return REG_CSEQ_OK;
	if (cseq > b->cseq)
		return REG_CSEQ_OK;
	if (cseq == b->cseq && branch != NULL && branch[0] != '\0' &&
	    b->branch != NULL && strcmp(branch, b->branch) == 0)
		return REG_CSEQ_RETRANS;
	return REG_CSEQ_STALE;
}

static int
reg_streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Are two contact URIs the same contact (RFC 3261 10.3 step 7: the URI
 * comparison rules of 19.1.4)? Byte-equal ones are; others are parsed. */
static int
reg_contact_eq(const char *a, const char *b)
{
	TALLOC_CTX *tmp;
	struct sip_uri ua, ub;
	int eq = 0;

	if (a == NULL || b == NULL)
		return 0;
	if (strcmp(a, b) == 0)
		return 1;
	if ((tmp = talloc_new(NULL)) == NULL)
		return 0;
	if (sip_parse_uri(tmp, (sip_str){a, strlen(a)}, &ua) == 0 &&
	    sip_parse_uri(tmp, (sip_str){b, strlen(b)}, &ub) == 0)
		eq = sip_uri_eq(&ua, &ub);
	talloc_free(tmp);
	return eq;
}

/*
 * The working-set entry a contact refers to, or -1 (RFC 5626 6 and 7,
 * RFC 5627): a contact with +sip.instance is the binding of the same
 * (instance, reg-id), reg-id 0 meaning none; never another instance's or
 * another flow's, even when the contact URIs are equal. A contact without
 * an instance is the binding without an instance that has an equal URI
 * (RFC 3261 10.3 step 7).
 */
static int
reg_match(const struct reg_plan *p, const struct reg_contact *k)
{
	for (int j = 0; j < p->n; j++) {
		if (p->op[j] == REG_OP_DELETE)
			continue;
		if (k->instance != NULL) {
			if (reg_streq(p->b[j].instance, k->instance) &&
			    p->b[j].reg_id == k->reg_id)
				return j;
		} else if (p->b[j].instance == NULL &&
		           reg_contact_eq(p->b[j].contact, k->uri)) {
			return j;
		}
	}
	return -1;
}

/* Give binding b the request's facts for contact k. */
static void
reg_fill(struct db_binding *b, const struct reg_req *rq,
         const struct reg_contact *k, long e, time_t now, int fresh)
{
	b->contact = k->uri;
	b->params = k->params ? k->params : "";
	b->expires_at = (int64_t)now + e;
	b->q = k->q;
	b->has_q = k->has_q;
	b->call_id = rq->call_id;
	b->cseq = rq->cseq;
	b->branch = rq->branch;
	b->instance = k->instance;
	b->reg_id = k->reg_id;
	b->updated_at = now;
	if (fresh)
		b->registered_at = now;
}

static int
reg_plan_star(const struct reg_req *rq, struct reg_plan *p, time_t now,
              const char **reason)
{
	if (rq->ncontacts > 0) {
		*reason = "Contact * Must Be Alone";
		return 400;
	}
	if (rq->expires_hdr != 0) {
		*reason = "Contact * Needs Expires: 0";
		return 400;
	}
	for (int j = 0; j < p->n; j++) {
		if (p->b[j].expires_at <= now)
			continue;
		switch (reg_cseq_check(&p->b[j], rq->call_id, rq->cseq,
		                       rq->branch)) {
		case REG_CSEQ_OK:
			break;
		case REG_CSEQ_RETRANS:
			p->retrans = 1;
			return 200;
		case REG_CSEQ_STALE:
			*reason = "Out of Order CSeq";
			return 500;
		}
	}
	for (int j = 0; j < p->n; j++) {
		p->op[j] = REG_OP_DELETE;
		p->why[j] = REG_WHY_UNREGISTERED;
	}
	return 200;
}

/*
 * "Contact: <uri>;expires=0" matched no binding without an instance: a UA
 * that leaves its +sip.instance out when it unregisters still removes its
 * URI (RFC 3261 10.3 compares URIs), so every binding at uri goes. 200, or
 * 500 when one of them has a newer CSeq of the same Call-ID.
 */
static int
reg_plan_unbind_uri(const struct reg_req *rq, const struct db_binding *cur,
                    int ncur, struct reg_plan *p, const char *uri, time_t now,
                    const char **reason)
{
	for (int x = 0; x < p->n; x++) {
		if (p->op[x] == REG_OP_DELETE ||
		    !reg_contact_eq(p->b[x].contact, uri))
			continue;
		if (x < ncur && p->b[x].expires_at > now &&
		    reg_cseq_check(&cur[x], rq->call_id, rq->cseq,
		                   rq->branch) == REG_CSEQ_STALE) {
			*reason = "Out of Order CSeq";
			return 500;
		}
		p->op[x] = REG_OP_DELETE;
		p->why[x] = REG_WHY_UNREGISTERED;
	}
	return 200;
}

int
reg_plan(TALLOC_CTX *ctx, const struct reg_req *rq, struct db_binding *cur,
         int ncur, const struct conf *c, time_t now, struct reg_plan *p,
         const char **reason)
{
	int cap = ncur + rq->ncontacts, live = 0;

	memset(p, 0, sizeof(*p));
	*reason = NULL;
	p->b = talloc_array(ctx, struct db_binding, cap ? cap : 1);
	p->op = talloc_zero_array(ctx, enum reg_op, cap ? cap : 1);
	p->why = talloc_zero_array(ctx, enum reg_why, cap ? cap : 1);
	if (p->b == NULL || p->op == NULL || p->why == NULL) {
		*reason = "Out of Memory";
		return 500;
	}
	if (ncur > 0)
		memcpy(p->b, cur, sizeof(*cur) * (size_t)ncur);
	p->n = ncur;
	if (rq->star)
		return reg_plan_star(rq, p, now, reason);

	/* Expiry first: a 423 changes nothing. */
	for (int i = 0; i < rq->ncontacts; i++) {
		if (reg_expiry(rq->contacts[i].expires, rq->expires_hdr, c) <
		    0) {
			*reason = "Interval Too Brief";
			return 423;
		}
	}
	for (int i = 0; i < rq->ncontacts; i++) {
		const struct reg_contact *k = &rq->contacts[i];
		long e = reg_expiry(k->expires, rq->expires_hdr, c);
		int j = reg_match(p, k);
		int existed = j >= 0 && j < ncur && p->op[j] != REG_OP_INSERT;
		int live_before = j >= 0 && p->b[j].expires_at > now;

		if (existed && live_before) {
			switch (reg_cseq_check(&cur[j], rq->call_id, rq->cseq,
			                       rq->branch)) {
			case REG_CSEQ_OK:
				break;
			case REG_CSEQ_RETRANS:
				/* answer the state as it is */
				for (int x = 0; x < p->n; x++)
					p->op[x] = REG_OP_KEEP;
				p->n = ncur;
				memcpy(p->b, cur, sizeof(*cur) * (size_t)ncur);
				p->retrans = 1;
				return 200;
			case REG_CSEQ_STALE:
				*reason = "Out of Order CSeq";
				return 500;
			}
		}
		if (k->instance != NULL && e > 0) {
			/* the UA now names its instance: a binding without
			 * one at the same URI was this UA (another instance's
			 * or flow's binding at that URI stays) */
			for (int x = 0; x < p->n; x++) {
				if (x != j && p->op[x] != REG_OP_DELETE &&
				    p->b[x].instance == NULL &&
				    reg_contact_eq(p->b[x].contact, k->uri)) {
					p->op[x] = REG_OP_DELETE;
					p->why[x] = REG_WHY_REPLACED;
				}
			}
		}
		if (e == 0) {
			if (j >= 0) {
				p->op[j] = REG_OP_DELETE;
				p->why[j] = REG_WHY_UNREGISTERED;
			} else if (k->instance == NULL) {
				int st = reg_plan_unbind_uri(
				    rq, cur, ncur, p, k->uri, now, reason);
				if (st != 200)
					return st;
			}
			continue;
		}
		if (j < 0) {
			j = p->n++;
			memset(&p->b[j], 0, sizeof(p->b[j]));
			p->op[j] = REG_OP_INSERT;
			reg_fill(&p->b[j], rq, k, e, now, 1);
			continue;
		}
		reg_fill(&p->b[j], rq, k, e, now, !live_before);
		if (p->op[j] != REG_OP_INSERT)
			p->op[j] = REG_OP_UPDATE;
	}
	for (int j = 0; j < p->n; j++)
		if (p->op[j] != REG_OP_DELETE && p->b[j].expires_at > now)
			live++;
	if (c->max_contacts > 0 && live > c->max_contacts) {
		*reason = "Too Many Registered Contacts";
		return 503;
	}
	return 200;
}

/* ------------------------------------------------------ request reading */

/* delta-seconds: digits only, clamped at 2^32-1 (RFC 3261 20.19). Returns
 * 0 with *out, or -1. */
static int
reg_delta(sip_str s, long *out)
{
	unsigned long long v = 0;

	s = sip_str_trim(s);
	if (s.len == 0)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (!isdigit((unsigned char)s.s[i]))
			return -1;
		if (v < 0xffffffffULL)
			v = v * 10 + (unsigned)(s.s[i] - '0');
	}
	*out = v > 0xffffffffULL ? 0xffffffffL : (long)v;
	return 0;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 * (RFC 3261 25.1), exactly: 0 with *out, or -1. A looser reading would
 * store values it cannot echo ("0.99999" printed as 1.0). */
static int
reg_qvalue(sip_str s, double *out)
{
	int thousandths = 0, digits = 0;

	s = sip_str_trim(s);
	if (s.len == 0 || (s.s[0] != '0' && s.s[0] != '1'))
		return -1;
	if (s.len > 1 && (s.s[1] != '.' || s.len > 5))
		return -1;
	for (size_t i = 2; i < s.len; i++) {
		if (s.s[i] < '0' || s.s[i] > '9')
			return -1;
		thousandths = thousandths * 10 + (s.s[i] - '0');
		digits++;
	}
	while (digits++ < 3)
		thousandths *= 10;
	if (s.s[0] == '1' && thousandths != 0)
		return -1;
	*out = s.s[0] == '1' ? 1.0 : thousandths / 1000.0;
	return 0;
}

/* Does s hold a control octet (NUL, CR, LF, ...; HTAB is fine)? Such an
 * octet is not SIP inside a parameter (qdtext and token have none), would
 * truncate the stored text at a NUL and be echoed raw into the 200. */
static int
reg_has_ctl(sip_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 1;
	}
	return 0;
}

/* One Contact value into k: 0, or 400 with *reason. */
static int
reg_contact_read(TALLOC_CTX *ctx, const struct sip_addr *a,
                 struct reg_contact *k, const char **reason)
{
	struct sip_buf pb;

	memset(k, 0, sizeof(*k));
	k->expires = -1;
	if ((k->uri = sip_str_dup(ctx, a->uri.raw)) == NULL)
		return 500;
	sip_buf_init(&pb, ctx, 128);
	for (const struct sip_param *prm = a->params; prm; prm = prm->next) {
		if (reg_has_ctl(prm->value)) {
			*reason = "Invalid Contact Parameter";
			return 400;
		}
		if (sip_str_caseeq_lit(prm->name, "expires")) {
			if (prm->value.s == NULL ||
			    reg_delta(prm->value, &k->expires) == -1) {
				*reason = "Invalid expires Parameter";
				return 400;
			}
			continue;
		}
		if (sip_str_caseeq_lit(prm->name, "q")) {
			if (prm->value.s == NULL ||
			    reg_qvalue(prm->value, &k->q) == -1) {
				*reason = "Invalid q Parameter";
				return 400;
			}
			k->has_q = 1;
			continue;
		}
		if (sip_str_caseeq_lit(prm->name, "+sip.instance") &&
		    prm->value.s != NULL) {
			sip_str v = sip_str_trim(prm->value);
			if (v.len >= 2 && v.s[0] == '"' &&
			    v.s[v.len - 1] == '"') {
				v.s++;
				v.len -= 2;
			}
			if (v.len > 0 &&
			    (k->instance = sip_str_dup(ctx, v)) == NULL)
				return 500;
		} else if (sip_str_caseeq_lit(prm->name, "reg-id") &&
		           prm->value.s != NULL) {
			long id;
			/* RFC 5626: 1 to 2^31-1; no clamping, which would
			 * make two flows one */
			if (reg_delta(prm->value, &id) == -1 || id == 0 ||
			    id > 2147483647L) {
				*reason = "Invalid reg-id Parameter";
				return 400;
			}
			k->reg_id = id;
		}
		if (pb.len > 0)
			sip_buf_add(&pb, ";", 1);
		sip_buf_adds(&pb, prm->name);
		if (prm->value.s != NULL) {
			sip_buf_add(&pb, "=", 1);
			sip_buf_adds(&pb, prm->value);
		}
	}
	sip_buf_add(&pb, "", 1); /* NUL */
	if (pb.oom)
		return 500;
	k->params = pb.s;
	/* RFC 5626 6: reg-id without an instance is ignored */
	if (k->instance == NULL)
		k->reg_id = 0;
	return 0;
}

/* The request-level facts of a REGISTER: 0, or a status with *reason. */
static int
reg_req_read(TALLOC_CTX *ctx, const struct sip_msg *req, struct reg_req *rq,
             const char **reason)
{
	struct sip_addr *list = NULL;
	const struct sip_hdr *eh = req->first[SIP_HDR_EXPIRES];
	int n = 0, st;

	memset(rq, 0, sizeof(*rq));
	rq->expires_hdr = -1;
	rq->cseq = req->cseq.num;
	if ((rq->call_id = sip_str_dup(ctx, req->call_id)) == NULL)
		return 500;
	rq->branch = "";
	if (req->via != NULL && req->via->branch.len > 0 &&
	    (rq->branch = sip_str_dup(ctx, req->via->branch)) == NULL)
		return 500;
	if (eh != NULL && reg_delta(eh->value, &rq->expires_hdr) == -1) {
		*reason = "Malformed Expires";
		return 400;
	}
	if (sip_msg_addrs(ctx, req->first[SIP_HDR_CONTACT], &list) == -1) {
		*reason = "Malformed Contact";
		return 400;
	}
	for (const struct sip_addr *a = list; a != NULL; a = a->next)
		n++;
	if (n > REG_MAX_CONTACTS_REQ) {
		*reason = "Too Many Contacts in Request";
		return 400;
	}
	rq->contacts = talloc_array(ctx, struct reg_contact, n ? n : 1);
	if (rq->contacts == NULL)
		return 500;
	for (const struct sip_addr *a = list; a != NULL; a = a->next) {
		if (a->star) {
			rq->star = 1;
			continue;
		}
		st = reg_contact_read(ctx, a, &rq->contacts[rq->ncontacts],
		                      reason);
		if (st != 0)
			return st;
		rq->ncontacts++;
	}
	return 0;
}

/* ------------------------------------------------------ request checks */

/*
 * The Request-URI of a REGISTER names the domain (RFC 3261 10.2): sip: or
 * sips:, no user part (400), a host afd serves (403, as for To), and afd
 * has no TLS, so a sips: Request-URI or AOR cannot have come over a secure
 * hop (RFC 3261 26.2.2): 416, the status RFC 3261 8.2.2.1 gives a scheme
 * the server does not support. 0, or the status with *reason.
 */
static int
reg_check_uris(const struct sip_msg *req, const struct conf *c,
               const char **reason)
{
	const struct sip_uri *ru = &req->ruri;

	if (ru->scheme == SIP_SCHEME_SIPS ||
	    (req->to != NULL && req->to->uri.scheme == SIP_SCHEME_SIPS)) {
		*reason = "SIPS Requires TLS";
		return 416;
	}
	if (ru->scheme != SIP_SCHEME_SIP) {
		*reason = "Request-URI Must Be a SIP URI";
		return 416;
	}
	if (ru->user.len > 0) {
		*reason = "User Part in Request-URI";
		return 400;
	}
	if (!reg_host_served(ru->host, c)) {
		*reason = "Domain Not Served";
		return 403;
	}
	return 0;
}

/*
 * RFC 5626 6: a REGISTER that asks for outbound (a contact with
 * +sip.instance and reg-id) and did not come straight from the UA (more
 * than one Via, or a Path) needs a first hop that supports outbound: the
 * last Path value (the first hop's; each proxy adds its own on top) must
 * carry the URI parameter "ob". Otherwise 439, unless outbound_require_ob
 * is off. 0, or the status with *reason.
 */
static int
reg_check_first_hop(TALLOC_CTX *ctx, const struct sip_msg *req,
                    const struct reg_req *rq, const struct conf *c,
                    const char **reason)
{
	struct sip_addr *path = NULL, *last = NULL;
	int outbound = 0;

	for (int i = 0; i < rq->ncontacts; i++)
		if (rq->contacts[i].reg_id != 0)
			outbound = 1;
	if (!outbound || !c->outbound_require_ob)
		return 0;
	if ((req->via == NULL || req->via->next == NULL) &&
	    req->first[SIP_HDR_PATH] == NULL)
		return 0; /* afd is the first hop */
	if (sip_msg_addrs(ctx, req->first[SIP_HDR_PATH], &path) == -1) {
		*reason = "Malformed Path";
		return 400;
	}
	for (last = path; last != NULL && last->next != NULL; last = last->next)
		;
	if (last == NULL || sip_param_find(last->uri.params, "ob") == NULL) {
		*reason = "First Hop Lacks Outbound Support";
		return 439;
	}
	return 0;
}

/* ------------------------------------------------------------- answering */

static int
reg_has_tag(const struct sip_msg *req, const char *tag)
{
	return sip_hdr_has_token(req->first[SIP_HDR_SUPPORTED], tag) ||
	       sip_hdr_has_token(req->first[SIP_HDR_REQUIRE], tag);
}

static void
reg_add_date(struct reg *r, struct sip_buf *b, time_t now)
{
	if (r->date_t != now) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(r->date, sizeof(r->date),
		         "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		r->date_t = now;
	}
	sip_buf_add(b, r->date, strlen(r->date));
}

/* "q=0.5": at most 3 decimals, at least one. */
static void
reg_add_q(struct sip_buf *b, double q)
{
	char s[16];
	int n = snprintf(s, sizeof(s), "%.3f", q);

	while (n > 0 && s[n - 1] == '0' && s[n - 2] != '.')
		n--;
	sip_buf_add(b, ";q=", 3);
	sip_buf_add(b, s, (size_t)n);
}

static void
reg_add_contacts(struct sip_buf *b, const struct reg_plan *p, time_t now,
                 int *count)
{
	char num[24];

	*count = 0;
	for (int j = 0; j < p->n; j++) {
		const struct db_binding *x = &p->b[j];
		if (p->op[j] == REG_OP_DELETE || x->expires_at <= now)
			continue;
		sip_buf_add(b, "Contact: <", 10);
		sip_buf_add(b, x->contact, strlen(x->contact));
		sip_buf_add(b, ">", 1);
		if (x->params != NULL && x->params[0] != '\0') {
			sip_buf_add(b, ";", 1);
			sip_buf_add(b, x->params, strlen(x->params));
		}
		if (x->has_q)
			reg_add_q(b, x->q);
		int n = snprintf(num, sizeof(num), ";expires=%lld\r\n",
		                 (long long)(x->expires_at - now));
		sip_buf_add(b, num, (size_t)n);
		(*count)++;
	}
}

/* "Supported:" with the option tags afd supports on REGISTER (path,
 * outbound) that the UE's Supported names too, as in the RFC 5626
 * examples; nothing when there are none. */
static void
reg_add_supported(struct sip_buf *b, const struct sip_msg *req)
{
	static const char *const tags[] = {"path", "outbound"};
	const struct sip_hdr *sup = req->first[SIP_HDR_SUPPORTED];
	int n = 0;

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (!sip_hdr_has_token(sup, tags[i]))
			continue;
		sip_buf_adds(b,
		             (sip_str){n ? ", " : "Supported: ", n ? 2 : 11});
		sip_buf_add(b, tags[i], strlen(tags[i]));
		n++;
	}
	if (n > 0)
		sip_buf_add(b, "\r\n", 2);
}

/* P-Associated-URI: the identities of the subscriber whose impu is the
 * AOR, else the AOR. The row the authentication gate read (auth, may be
 * NULL) is that subscriber's when its impu is the AOR: no second read. */
static int
reg_add_pau(struct reg *r, TALLOC_CTX *ctx, struct sip_buf *b, const char *aor,
            const struct sipd_auth *auth)
{
	const char *impu, *extra;
	char *qimpu, *qextra;

	if (auth != NULL && auth->row_impu != NULL &&
	    strcmp(auth->row_impu, aor) == 0) {
		impu = auth->row_impu;
		extra = auth->row_extra_impu;
	} else {
		if (db_reg_identities(r->dr, ctx, aor, &qimpu, &qextra) == -1)
			return -1;
		impu = qimpu;
		extra = qextra;
	}
	sip_buf_add(b, "P-Associated-URI: <", 19);
	if (impu == NULL) {
		sip_buf_add(b, aor, strlen(aor));
		sip_buf_add(b, ">\r\n", 3);
		return 0;
	}
	sip_buf_add(b, impu, strlen(impu));
	sip_buf_add(b, ">", 1);
	for (const char *s = extra, *e; s != NULL && *s; s = e) {
		sip_str it;
		if ((e = strchr(s, ',')) == NULL)
			e = s + strlen(s);
		it = sip_str_trim((sip_str){s, (size_t)(e - s)});
		if (*e == ',')
			e++;
		if (it.len >= 2 && it.s[0] == '<' && it.s[it.len - 1] == '>') {
			it.s++;
			it.len -= 2;
		}
		if (it.len == 0)
			continue;
		sip_buf_add(b, ", <", 3);
		sip_buf_adds(b, it);
		sip_buf_add(b, ">", 1);
	}
	sip_buf_add(b, "\r\n", 2);
	return 0;
}

/* All Path values of the request, comma-joined (NULL when none). */
static char *
reg_path(TALLOC_CTX *ctx, const struct sip_msg *req)
{
	struct sip_buf b;

	if (req->first[SIP_HDR_PATH] == NULL)
		return NULL;
	sip_buf_init(&b, ctx, 256);
	for (const struct sip_hdr *h = req->first[SIP_HDR_PATH]; h;
	     h = h->next_same) {
		if (b.len > 0)
			sip_buf_add(&b, ", ", 2);
		sip_buf_adds(&b, sip_str_trim(h->value));
	}
	sip_buf_add(&b, "", 1);
	return b.oom ? NULL : b.s;
}

/* The headers of a 200 from the plan. */
static int
reg_answer_200(struct reg *r, TALLOC_CTX *mem, const struct sip_msg *req,
               const char *aor, const char *path, const struct reg_plan *p,
               const struct reg_req *rq, const struct sipd_auth *auth,
               time_t now, struct reg_result *res)
{
	struct sip_buf *b = &res->hdrs;
	const struct sip_hdr *pcv = req->first[SIP_HDR_P_CHARGING_VECTOR];
	int ob = 0, req_path;

	reg_add_contacts(b, p, now, &res->nbindings);
	if (path != NULL && reg_has_tag(req, "path")) {
		sip_buf_add(b, "Path: ", 6);
		sip_buf_add(b, path, strlen(path));
		sip_buf_add(b, "\r\n", 2);
	}
	for (int i = 0; i < rq->ncontacts; i++)
		if (rq->contacts[i].reg_id != 0)
			ob = reg_has_tag(req, "outbound");
	/* The capture's registrar echoes "Require: path" to a UE that
	 * required it; RFC 5626 6 asks for "Require: outbound" when the
	 * registrar used reg-id. */
	req_path = path != NULL &&
	           sip_hdr_has_token(req->first[SIP_HDR_REQUIRE], "path");
	if (req_path && ob)
		sip_buf_add(b, "Require: path, outbound\r\n", 25);
	else if (req_path)
		sip_buf_add(b, "Require: path\r\n", 15);
	else if (ob)
		sip_buf_add(b, "Require: outbound\r\n", 19);
	reg_add_supported(b, req);
	sip_buf_add(b, r->service_route, strlen(r->service_route));
	if (reg_add_pau(r, mem, b, aor, auth) == -1)
		return -1;
	if (pcv != NULL) {
		sip_str v = sip_str_trim(pcv->value);
		sip_buf_add(b, "P-Charging-Vector: ", 19);
		sip_buf_adds(b, v);
		if (memmem(v.s, v.len, "term-ioi=", 9) == NULL) {
			sip_buf_add(b, ";term-ioi=", 10);
			sip_buf_add(b, r->c->domain, strlen(r->c->domain));
		}
		sip_buf_add(b, "\r\n", 2);
	}
	reg_add_date(r, b, now);
	return 0;
}

/* Write the plan: deletes first (they may free a contact URI an update
 * takes), then updates, then inserts. 0 or -1. */
static int
reg_apply(struct reg *r, struct reg_plan *p)
{
	for (int j = 0; j < p->n; j++)
		if (p->op[j] == REG_OP_DELETE && p->b[j].id != 0 &&
		    db_reg_delete(r->dr, p->b[j].id) == -1)
			return -1;
	for (int j = 0; j < p->n; j++)
		if (p->op[j] == REG_OP_UPDATE &&
		    db_reg_update(r->dr, &p->b[j]) == -1)
			return -1;
	for (int j = 0; j < p->n; j++)
		if (p->op[j] == REG_OP_INSERT &&
		    db_reg_insert(r->dr, &p->b[j]) == -1)
			return -1;
	return 0;
}

/* Hold for the hooks every change the plan makes: a deleted row; a row
 * updated in place that had expired (renewed as a fresh binding: expired,
 * then created) or whose contact URI changed (an RFC 5626 instance moved
 * to a new URI: the old contact replaced, the new one created), or that
 * was refreshed or shortened; a new row (created). cur is the AOR's rows
 * as loaded; plan entries below ncur are those rows, the rest are new.
 * 0 or -1. */
static int
reg_hold_plan(struct reg *r, const struct reg_plan *p,
              const struct db_binding *cur, int ncur, time_t now)
{
	for (int j = 0; j < p->n; j++) {
		const struct db_binding *old = j < ncur ? &cur[j] : NULL;
		const struct db_binding *b = &p->b[j];
		int expired = old != NULL && old->expires_at <= now;
		enum reg_why why;

		if (p->op[j] == REG_OP_INSERT) {
			if (reg_hold(r, b, REG_WHY_CREATED) == -1)
				return -1;
			continue;
		}
		if (old == NULL || old->id == 0)
			continue;
		if (p->op[j] == REG_OP_DELETE) {
			if (reg_hold(r, old,
			             expired ? REG_WHY_EXPIRED : p->why[j]) ==
			    -1)
				return -1;
		} else if (p->op[j] == REG_OP_UPDATE) {
			if (expired ||
			    !reg_contact_eq(old->contact, b->contact)) {
				why = expired ? REG_WHY_EXPIRED
				              : REG_WHY_REPLACED;
				if (reg_hold(r, old, why) == -1 ||
				    reg_hold(r, b, REG_WHY_CREATED) == -1)
					return -1;
				continue;
			}
			why = b->expires_at < old->expires_at
			          ? REG_WHY_SHORTENED
			          : REG_WHY_REFRESHED;
			if (reg_hold(r, b, why) == -1)
				return -1;
		}
	}
	return 0;
}

static void
reg_fail(struct reg_result *res, int status, const char *reason)
{
	res->status = status;
	res->reason = reason;
}

int
reg_register(struct reg *r, TALLOC_CTX *mem, const struct sip_msg *req,
             const struct sip_peer *from, time_t now, struct reg_result *res)
{
	return reg_register_auth(r, mem, req, from, NULL, now, res);
}

int
reg_register_auth(struct reg *r, TALLOC_CTX *mem, const struct sip_msg *req,
                  const struct sip_peer *from, const struct sipd_auth *auth,
                  time_t now, struct reg_result *res)
{
	struct reg_req rq;
	struct reg_plan plan;
	struct db_binding *cur;
	const char *reason = NULL;
	char *aor, *path, *received, *ua = NULL, *slot = NULL;
	char addr[80];
	int st, ncur, wrote = 0, mark;

	memset(res, 0, sizeof(*res));
	sip_buf_init(&res->hdrs, mem, 1024);
	if (req->to == NULL) {
		reg_fail(res, 400, "Missing To");
		return 0;
	}
	if ((st = reg_check_uris(req, r->c, &reason)) != 0) {
		reg_fail(res, st, reason);
		return 0;
	}
	if ((aor = reg_aor(mem, &req->to->uri, r->c, &st, &reason)) == NULL) {
		reg_fail(res, st, reason);
		return 0;
	}
	/* Only an authenticated REGISTER changes bindings (the gate of
	 * workers/auth.h lets no other through; this keeps it so). */
	if (r->c->auth_mode != CONF_AUTH_NONE &&
	    (auth == NULL || auth->impi == NULL)) {
		reg_fail(res, 403, "Not Authenticated");
		return 0;
	}
	if ((st = reg_req_read(mem, req, &rq, &reason)) != 0 ||
	    (st = reg_check_first_hop(mem, req, &rq, r->c, &reason)) != 0) {
		reg_fail(res, st, reason);
		return 0;
	}
	path = reg_path(mem, req);
	received = talloc_strdup(mem, sipd_peer_str(from, addr, sizeof(addr)));
	if (req->first[SIP_HDR_USER_AGENT] != NULL)
		ua = sip_str_dup(mem, req->first[SIP_HDR_USER_AGENT]->value);
	if (from->tp == SIP_TP_TCP)
		slot = talloc_strndup(mem, from->slot, sizeof(from->slot));

	r->unit_now = now;
	if ((mark = db_txn_savepoint(r->txn)) == -1)
		goto dbfail;
	if (db_reg_load(r->dr, mem, aor, &cur, &ncur) == -1)
		goto rollback;
	st = reg_plan(mem, &rq, cur, ncur, r->c, now, &plan, &reason);
	if (st != 200) {
		reg_fail(res, st, reason);
		if (st == 423)
			sip_buf_addf(&res->hdrs, "Min-Expires: %d\r\n",
			             r->c->min_expires);
		if (db_txn_release(r->txn, mark) == -1)
			goto rollback;
		return 0;
	}
	for (int j = 0; j < plan.n; j++) {
		struct db_binding *b = &plan.b[j];
		if (plan.op[j] != REG_OP_INSERT && plan.op[j] != REG_OP_UPDATE)
			continue;
		b->aor = aor;
		b->path = path;
		b->received = received;
		b->transport = from->tp == SIP_TP_TCP ? "tcp" : "udp";
		b->conn_slot = slot;
		b->conn_id =
		    from->tp == SIP_TP_TCP ? (int64_t)from->conn_id : 0;
		b->user_agent = ua;
		if (auth != NULL) {
			b->impi = auth->impi;
			b->integrity = auth->integrity;
			b->security_client = auth->security_client;
		}
		wrote = 1;
	}
	for (int j = 0; j < plan.n; j++)
		if (plan.op[j] == REG_OP_DELETE && plan.b[j].id != 0)
			wrote = 1;
	if (wrote && reg_apply(r, &plan) == -1)
		goto rollback;
	if (wrote && reg_hold_plan(r, &plan, cur, ncur, now) == -1)
		goto rollback;
	res->status = 200;
	res->wrote = wrote;
	if (reg_answer_200(r, mem, req, aor, path, &plan, &rq, auth, now,
	                   res) == -1)
		goto rollback;
	if (res->hdrs.oom) {
		log_warnx("registrar: out of memory");
		goto rollback;
	}
	if (db_txn_release(r->txn, mark) == -1)
		goto rollback;
	return 0;
rollback:
	db_txn_rollback(r->txn, mark);
dbfail:
	memset(res, 0, sizeof(*res));
	res->status = 500;
	return -1;
}

/*
 * The REGISTER service (workers/method.h): the registrar's decision inside
 * the batch's transaction, answered after the commit when it changed
 * anything. A database failure is 500 with Retry-After: 1.
 */
int
reg_serve(struct sipd *sd, struct sipd_req *rq)
{
	struct reg_result res;
	static const char retry[] = "Retry-After: 1\r\n";

	if (sipd_db_txn(sd) == NULL)
		return sipd_reply(sd, rq, 500, NULL, retry, sizeof(retry) - 1,
		                  0);
	if (reg_register_auth(sipd_reg(sd), sipd_batch_mem(sd), rq->msg,
	                      &rq->from, &rq->auth, rq->now, &res) == -1)
		return sipd_reply(sd, rq, 500, NULL, retry, sizeof(retry) - 1,
		                  0);
	return sipd_reply(sd, rq, res.status, res.reason, res.hdrs.s,
	                  res.hdrs.s ? res.hdrs.len : 0, res.status == 200);
}

int
reg_remove(struct reg *r, const char *aor, int64_t id, enum reg_why why,
           time_t now)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	struct db_binding *cur;
	int n, mark, rc = 0;

	r->unit_now = now;
	if (tmp == NULL || (mark = db_txn_savepoint(r->txn)) == -1) {
		talloc_free(tmp);
		return -1;
	}
	if (db_reg_load(r->dr, tmp, aor, &cur, &n) == -1)
		goto fail;
	for (int i = 0; i < n; i++) {
		if (cur[i].id != id)
			continue;
		if (db_reg_delete(r->dr, id) == -1 ||
		    reg_hold(r, &cur[i],
		             cur[i].expires_at <= now ? REG_WHY_EXPIRED
		                                      : why) == -1)
			goto fail;
		rc = 1;
	}
	if (db_txn_release(r->txn, mark) == -1)
		goto fail;
	talloc_free(tmp);
	return rc;
fail:
	db_txn_rollback(r->txn, mark);
	talloc_free(tmp);
	return -1;
}

/* ---------------------------------------------------------------- sweep */

static void
reg_swept(void *arg, const struct db_binding *b)
{
	struct reg *r = arg;

	if (reg_hold(r, b, REG_WHY_EXPIRED) == -1)
		r->gone_oom = 1;
}

int
reg_sweep(struct reg *r, time_t now)
{
	int n, mark;

	r->gone_oom = 0;
	r->unit_now = now;
	if ((mark = db_txn_savepoint(r->txn)) == -1)
		return -1;
	if ((n = db_reg_expire(r->dr, now, reg_swept, r)) == -1 || r->gone_oom)
		goto rollback;
	if (db_txn_release(r->txn, mark) == -1)
		goto rollback;
	return n;
rollback:
	db_txn_rollback(r->txn, mark);
	return -1;
}

/* A binding the tester marked for de-registration went (db_reg_deregister's
 * callback, inside reg_deregister's unit). */
static void
reg_dereg_one(void *arg, const struct db_binding *b, const char *event)
{
	struct reg *r = arg;
	enum reg_why why = event != NULL && strcmp(event, "rejected") == 0
	                       ? REG_WHY_REJECTED
	                       : REG_WHY_DEACTIVATED;

	log_info("registrar: binding %s -> %s de-registered by the network "
	         "(%s)",
	         b->aor, b->contact, reg_why_event(why));
	if (reg_hold(r, b, why) == -1)
		r->gone_oom = 1;
}

int
reg_deregister(struct reg *r, time_t now)
{
	int n, mark;

	r->gone_oom = 0;
	r->unit_now = now;
	if ((mark = db_txn_savepoint(r->txn)) == -1)
		return -1;
	if ((n = db_reg_deregister(r->dr, reg_dereg_one, r)) == -1 ||
	    r->gone_oom)
		goto rollback;
	if (db_txn_release(r->txn, mark) == -1)
		goto rollback;
	return n;
rollback:
	db_txn_rollback(r->txn, mark);
	return -1;
}
