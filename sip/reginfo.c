/*
 * sip/reginfo.c: the RFC 3680 application/reginfo+xml document (see
 * reginfo.h for its shape, escaping and unknown-param rules). Output goes
 * into a struct sip_buf; nothing here allocates except through it and
 * reginfo_params_split().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sip/reginfo.h"

static const char *const reginfo_events[REGINFO_EV__COUNT] = {
    "registered",  "created",   "refreshed",    "shortened", "expired",
    "deactivated", "probation", "unregistered", "rejected",
};

const char *
reginfo_doc_state_name(enum reginfo_doc_state s)
{
	switch (s) {
	case REGINFO_FULL:
		return "full";
	case REGINFO_PARTIAL:
		return "partial";
	}
	return NULL;
}

const char *
reginfo_reg_state_name(enum reginfo_reg_state s)
{
	switch (s) {
	case REGINFO_REG_INIT:
		return "init";
	case REGINFO_REG_ACTIVE:
		return "active";
	case REGINFO_REG_TERMINATED:
		return "terminated";
	}
	return NULL;
}

const char *
reginfo_ct_state_name(enum reginfo_ct_state s)
{
	switch (s) {
	case REGINFO_CT_ACTIVE:
		return "active";
	case REGINFO_CT_TERMINATED:
		return "terminated";
	}
	return NULL;
}

const char *
reginfo_event_name(enum reginfo_event e)
{
	if ((unsigned)e >= REGINFO_EV__COUNT)
		return NULL;
	return reginfo_events[e];
}

int
reginfo_event_parse(const char *word)
{
	for (int i = 0; i < REGINFO_EV__COUNT; i++)
		if (word != NULL && strcmp(word, reginfo_events[i]) == 0)
			return i;
	return -1;
}

enum reginfo_ct_state
reginfo_event_state(enum reginfo_event e)
{
	switch (e) {
	case REGINFO_EV_REGISTERED:
	case REGINFO_EV_CREATED:
	case REGINFO_EV_REFRESHED:
	case REGINFO_EV_SHORTENED:
		return REGINFO_CT_ACTIVE;
	default:
		return REGINFO_CT_TERMINATED;
	}
}

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80) that
 * XML 1.0 allows (no surrogates, nothing above U+10FFFF, not U+FFFE or
 * U+FFFF), or 0. */
static size_t
reginfo_utf8(const unsigned char *p, const unsigned char *end)
{
	uint32_t cp;
	size_t n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe ||
	    cp == 0xffff)
		return 0;
	return n;
}

int
reginfo_escape(struct sip_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	const unsigned char *run = p;
	const char *ent;
	size_t u;

	while (p < end) {
		switch (*p) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&apos;";
			break;
		case '\t':
			ent = "&#9;";
			break;
		case '\n':
			ent = "&#10;";
			break;
		case '\r':
			ent = "&#13;";
			break;
		default:
			if (*p < 0x20)
				goto bad;
			if (*p < 0x80) {
				p++;
				continue;
			}
			if ((u = reginfo_utf8(p, end)) == 0)
				goto bad;
			p += u;
			continue;
		}
		sip_buf_add(b, (const char *)run, (size_t)(p - run));
		sip_buf_add(b, ent, strlen(ent));
		run = ++p;
	}
	sip_buf_add(b, (const char *)run, (size_t)(p - run));
	return b->oom ? -1 : 0;
bad:
	sip_buf_add(b, (const char *)run, (size_t)(p - run));
	return -1;
}

/* The NUL-terminated s appended to b (no format to parse: a NOTIFY's
 * document is a few dozen pieces). */
static void
reginfo_add(struct sip_buf *b, const char *s)
{
	sip_buf_add(b, s, strlen(s));
}

/* The decimal digits of v (>= 0) appended to b. */
static void
reginfo_add_num(struct sip_buf *b, int64_t v)
{
	char d[24];
	size_t i = sizeof(d);
	uint64_t u = v < 0 ? 0 : (uint64_t)v;

	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	sip_buf_add(b, d + i, sizeof(d) - i);
}

/* ' name="value"' with value escaped; 0 or -1. */
static int
reginfo_attr(struct sip_buf *b, const char *name, const char *value)
{
	sip_buf_add(b, " ", 1);
	reginfo_add(b, name);
	sip_buf_add(b, "=\"", 2);
	if (reginfo_escape(b, value, strlen(value)) == -1)
		return -1;
	sip_buf_add(b, "\"", 1);
	return 0;
}

/* ' name="N"' for N >= 0. */
static void
reginfo_attr_num(struct sip_buf *b, const char *name, int64_t v)
{
	if (v < 0)
		return;
	sip_buf_add(b, " ", 1);
	reginfo_add(b, name);
	sip_buf_add(b, "=\"", 2);
	reginfo_add_num(b, v);
	sip_buf_add(b, "\"", 1);
}

/* A qvalue as RFC 3261 writes it: at most 3 decimals, trailing zeros
 * dropped ("0.5", "1", "0.125"); q is clamped to 0..1. */
static void
reginfo_attr_q(struct sip_buf *b, double q)
{
	char s[16];
	size_t n;

	if (!(q >= 0)) /* NaN too */
		q = 0;
	if (q > 1)
		q = 1;
	n = (size_t)snprintf(s, sizeof(s), "%.3f", q);
	while (n > 1 && s[n - 1] == '0')
		n--;
	if (n > 1 && s[n - 1] == '.')
		n--;
	s[n] = '\0';
	sip_buf_addf(b, " q=\"%s\"", s);
}

/* <element>text</element> on its own line at depth tabs, or with an
 * attribute name="aname" when aname is set. 0 or -1. */
static int
reginfo_elem(struct sip_buf *b, int depth, const char *elem, const char *aname,
             const char *aval, const char *text)
{
	for (int i = 0; i < depth; i++)
		sip_buf_add(b, "\t", 1);
	sip_buf_add(b, "<", 1);
	reginfo_add(b, elem);
	if (aname != NULL && reginfo_attr(b, aname, aval) == -1)
		return -1;
	sip_buf_add(b, ">", 1);
	if (text != NULL && reginfo_escape(b, text, strlen(text)) == -1)
		return -1;
	sip_buf_add(b, "</", 2);
	reginfo_add(b, elem);
	sip_buf_add(b, ">\n", 2);
	return 0;
}

static int
reginfo_print_contact(struct sip_buf *b, const struct reginfo_contact *c)
{
	const char *st = reginfo_ct_state_name(c->state);
	const char *ev = reginfo_event_name(c->event);

	if (c->id == NULL || c->uri == NULL || st == NULL || ev == NULL)
		return -1;
	sip_buf_add(b, "\t\t<contact", 10);
	if (reginfo_attr(b, "id", c->id) == -1)
		return -1;
	sip_buf_add(b, " state=\"", 8);
	reginfo_add(b, st);
	sip_buf_add(b, "\" event=\"", 9);
	reginfo_add(b, ev);
	sip_buf_add(b, "\"", 1);
	reginfo_attr_num(b, "expires", c->expires);
	if (c->has_q)
		reginfo_attr_q(b, c->q);
	if (c->callid != NULL && reginfo_attr(b, "callid", c->callid) == -1)
		return -1;
	reginfo_attr_num(b, "cseq", c->cseq);
	reginfo_attr_num(b, "duration-registered", c->duration);
	reginfo_attr_num(b, "retry-after", c->retry_after);
	sip_buf_add(b, ">\n", 2);
	/* the schema's order: uri, display-name, unknown-param */
	if (reginfo_elem(b, 3, "uri", NULL, NULL, c->uri) == -1)
		return -1;
	if (c->display_name != NULL &&
	    reginfo_elem(b, 3, "display-name", NULL, NULL, c->display_name) ==
	        -1)
		return -1;
	for (int i = 0; i < c->nparams; i++) {
		const struct reginfo_param *p = &c->params[i];
		if (p->name == NULL ||
		    reginfo_elem(b, 3, "unknown-param", "name", p->name,
		                 p->value) == -1)
			return -1;
	}
	sip_buf_add(b, "\t\t</contact>\n", 13);
	return 0;
}

static int
reginfo_print_reg(struct sip_buf *b, const struct reginfo_registration *r)
{
	const char *st = reginfo_reg_state_name(r->state);

	if (r->aor == NULL || r->id == NULL || st == NULL)
		return -1;
	sip_buf_add(b, "\t<registration", 14);
	if (reginfo_attr(b, "aor", r->aor) == -1 ||
	    reginfo_attr(b, "id", r->id) == -1)
		return -1;
	sip_buf_add(b, " state=\"", 8);
	reginfo_add(b, st);
	sip_buf_add(b, "\"", 1);
	if (r->ncontacts == 0) {
		sip_buf_add(b, "/>\n", 3);
		return 0;
	}
	sip_buf_add(b, ">\n", 2);
	for (int i = 0; i < r->ncontacts; i++)
		if (reginfo_print_contact(b, &r->contacts[i]) == -1)
			return -1;
	sip_buf_add(b, "\t</registration>\n", 17);
	return 0;
}

int
reginfo_print(struct sip_buf *b, const struct reginfo_doc *d)
{
	const char *st = reginfo_doc_state_name(d->state);

	if (st == NULL || d->nregs < 0 || (d->nregs > 0 && d->regs == NULL))
		return -1;
	sip_buf_addf(b,
	             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	             "<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" "
	             "version=\"%" PRIu64 "\" state=\"%s\">\n",
	             d->version, st);
	for (int i = 0; i < d->nregs; i++) {
		const struct reginfo_registration *r = &d->regs[i];
		if (r->ncontacts < 0 ||
		    (r->ncontacts > 0 && r->contacts == NULL))
			return -1;
		for (int j = 0; j < r->ncontacts; j++)
			if (r->contacts[j].nparams < 0 ||
			    (r->contacts[j].nparams > 0 &&
			     r->contacts[j].params == NULL))
				return -1;
		if (reginfo_print_reg(b, r) == -1)
			return -1;
	}
	sip_buf_add(b, "</reginfo>\n", 11);
	return b->oom ? -1 : 0;
}

/* The value of one stored parameter, unquoted: under ctx, NULL on OOM or
 * an unterminated quote (*bad set). */
static char *
reginfo_unquote(TALLOC_CTX *ctx, const char *v, size_t n, int *bad)
{
	char *out, *o;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0 || v[0] != '"')
		return talloc_strndup(ctx, v, n);
	if (n < 2 || v[n - 1] != '"') {
		*bad = 1;
		return NULL;
	}
	if ((out = o = talloc_size(ctx, n)) == NULL)
		return NULL;
	for (size_t i = 1; i < n - 1; i++) {
		if (v[i] == '\\' && i + 1 < n - 1)
			i++;
		*o++ = v[i];
	}
	*o = '\0';
	return out;
}

int
reginfo_params_split(TALLOC_CTX *ctx, const char *params,
                     struct reginfo_param **out, int *n)
{
	struct reginfo_param *v = NULL;
	const char *p = params, *e, *eq;
	int cnt = 0, bad = 0;

	*out = NULL;
	*n = 0;
	while (p != NULL && *p != '\0') {
		int inq = 0;
		size_t nl;

		/* the end of this parameter: ';' outside quotes */
		for (e = p; *e != '\0' && (inq || *e != ';'); e++) {
			if (inq && *e == '\\' && e[1] != '\0')
				e++;
			else if (*e == '"')
				inq = !inq;
		}
		if (inq)
			goto fail;
		eq = memchr(p, '=', (size_t)(e - p));
		nl = (size_t)((eq ? eq : e) - p);
		while (nl > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			nl--;
		}
		while (nl > 0 && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
			nl--;
		if (nl > 0) {
			struct reginfo_param *prm;

			v = talloc_realloc(ctx, v, struct reginfo_param,
			                   cnt + 1);
			if (v == NULL)
				goto fail;
			prm = &v[cnt];
			prm->value = NULL;
			if ((prm->name = talloc_strndup(v, p, nl)) == NULL)
				goto fail;
			if (eq != NULL && (prm->value = reginfo_unquote(
			                       v, eq + 1, (size_t)(e - eq - 1),
			                       &bad)) == NULL)
				goto fail;
			cnt++;
		}
		p = *e == ';' ? e + 1 : e;
	}
	*out = v;
	*n = cnt;
	return 0;
fail:
	talloc_free(v);
	return -1;
}

void
reginfo_aor_id(char out[16], const char *aor)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)aor; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	snprintf(out, 16, "a%08" PRIx32, h);
}

void
reginfo_contact_id(char out[24], int64_t row_id)
{
	snprintf(out, 24, "c%" PRId64, row_id);
}
