/*
 * sip/uri.c: SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966), kept as
 * slices of the input with escapes left in place. Any other scheme is
 * checked only for its shape (scheme ":" visible characters) and kept raw.
 */
#include "sip/sip_impl.h"

#define SIP_C_UPARAM (SIP_C_UNRES | SIP_C_PARAM)

const char *
sip_parse_uparams(struct sip_mem *m, const char *p, const char *end,
                  struct sip_param **list)
{
	struct sip_param **tail = list, *prm;
	const char *n, *v;
	int count = 0;

	while (*tail != NULL)
		tail = &(*tail)->next;
	while (p < end && *p == ';') {
		if (++count > SIP_MAX_PARAMS)
			return NULL;
		n = ++p;
		p = sip_skip_escaped(p, end, SIP_C_UPARAM);
		if (p == NULL || p == n)
			return NULL;
		if ((prm = SIP_MEM_NEW(m, struct sip_param)) == NULL)
			return NULL;
		prm->name = (sip_str){n, (size_t)(p - n)};
		if (p < end && *p == '=') {
			v = ++p;
			if ((p = sip_skip_escaped(p, end, SIP_C_UPARAM)) ==
			    NULL)
				return NULL;
			prm->value = (sip_str){v, (size_t)(p - v)};
		}
		*tail = prm;
		tail = &prm->next;
	}
	return p;
}

/* userinfo "user[:password]@" when the URI has an '@'; returns the start of
 * the host part, or NULL if malformed. */
static const char *
sip_uri_userinfo(const char *p, const char *end, struct sip_uri *u)
{
	const char *at, *colon, *ue, *q;

	if ((at = memchr(p, '@', (size_t)(end - p))) == NULL)
		return p;
	colon = memchr(p, ':', (size_t)(at - p));
	ue = colon != NULL ? colon : at;
	q = sip_skip_escaped(p, ue, SIP_C_UNRES | SIP_C_USER);
	if (q != ue || ue == p)
		return NULL;
	u->user = (sip_str){p, (size_t)(ue - p)};
	if (colon != NULL) {
		q = sip_skip_escaped(colon + 1, at, SIP_C_UNRES | SIP_C_USER);
		if (q != at)
			return NULL;
		u->password = (sip_str){colon + 1, (size_t)(at - colon - 1)};
	}
	return at + 1;
}

const char *
sip_parse_host(const char *p, const char *end, sip_str *host)
{
	const char *h = p;

	if (p < end && *p == '[') {
		for (p++; p < end &&
		          (SIP_IS(*p, SIP_C_HEX) || *p == ':' || *p == '.');
		     p++)
			;
		if (p >= end || *p != ']' || p == h + 1)
			return NULL;
		p++;
	} else {
		p = sip_skip_cls(p, end, SIP_C_HOST);
		if (p == h)
			return NULL;
	}
	*host = (sip_str){h, (size_t)(p - h)};
	return p;
}

const char *
sip_parse_port(const char *p, const char *end, uint16_t *port)
{
	const char *d = p;
	uint64_t v;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (sip_parse_num(d, p, 65535, &v) < 0)
		return NULL;
	*port = (uint16_t)v;
	return p;
}

/* host [":" port]; returns the position after it or NULL. */
static const char *
sip_uri_hostport(const char *p, const char *end, sip_str *host, uint16_t *port)
{
	*port = 0;
	if ((p = sip_parse_host(p, end, host)) == NULL)
		return NULL;
	if (p < end && *p == ':')
		p = sip_parse_port(p + 1, end, port);
	return p;
}

static int
sip_parse_sip_uri(struct sip_mem *m, const char *p, const char *end,
                  struct sip_uri *u)
{
	const char *q;

	if ((p = sip_uri_userinfo(p, end, u)) == NULL)
		return -1;
	if ((p = sip_uri_hostport(p, end, &u->host, &u->port)) == NULL)
		return -1;
	if ((p = sip_parse_uparams(m, p, end, &u->params)) == NULL)
		return -1;
	if (p < end && *p == '?') {
		q = sip_skip_escaped(p + 1, end,
		                     SIP_C_UNRES | SIP_C_PARAM | SIP_C_USER);
		if (q != end)
			return -1;
		u->headers = (sip_str){p + 1, (size_t)(end - p - 1)};
		p = end;
	}
	return p == end ? 0 : -1;
}

static int
sip_parse_tel_uri(struct sip_mem *m, const char *p, const char *end,
                  struct sip_uri *u)
{
	const char *n = p;

	p = sip_skip_escaped(p, end, SIP_C_UPARAM);
	if (p == NULL || p == n)
		return -1;
	u->user = (sip_str){n, (size_t)(p - n)};
	if ((p = sip_parse_uparams(m, p, end, &u->params)) == NULL)
		return -1;
	return p == end ? 0 : -1;
}

/* Any other scheme: at least one visible character, no delimiters. */
static int
sip_parse_other_uri(const char *p, const char *end)
{
	if (p >= end)
		return -1;
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"')
			return -1;
	}
	return 0;
}

int
sip_parse_uri_mem(struct sip_mem *m, sip_str in, struct sip_uri *out)
{
	const char *p = in.s, *end = in.s + in.len, *s = in.s;
	sip_str scheme;

	memset(out, 0, sizeof(*out));
	out->raw = in;
	if (in.s == NULL || in.len == 0 ||
	    !((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
		return -1;
	while (p < end && *p != ':') {
		if (!SIP_IS(*p, SIP_C_HOST) && *p != '+')
			return -1;
		p++;
	}
	if (p >= end)
		return -1;
	scheme = (sip_str){s, (size_t)(p - s)};
	p++;
	if (sip_str_caseeq_lit(scheme, "sip")) {
		out->scheme = SIP_SCHEME_SIP;
		return sip_parse_sip_uri(m, p, end, out);
	}
	if (sip_str_caseeq_lit(scheme, "sips")) {
		out->scheme = SIP_SCHEME_SIPS;
		return sip_parse_sip_uri(m, p, end, out);
	}
	if (sip_str_caseeq_lit(scheme, "tel")) {
		out->scheme = SIP_SCHEME_TEL;
		return sip_parse_tel_uri(m, p, end, out);
	}
	out->scheme = SIP_SCHEME_OTHER;
	return sip_parse_other_uri(p, end);
}

int
sip_parse_uri(TALLOC_CTX *ctx, sip_str in, struct sip_uri *out)
{
	struct sip_mem m = {ctx, NULL, NULL, 0};

	return sip_parse_uri_mem(&m, in, out);
}

/* ------------------------------------------------ RFC 3261 19.1.4 */

static int
sip_hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The octet at *p (an %HH escape decoded), advancing *p. */
static int
sip_uri_octet(const char **p, const char *end)
{
	const char *q = *p;

	if (*q == '%' && end - q >= 3 && sip_hexv(q[1]) >= 0 &&
	    sip_hexv(q[2]) >= 0) {
		*p = q + 3;
		return sip_hexv(q[1]) * 16 + sip_hexv(q[2]);
	}
	*p = q + 1;
	return (unsigned char)*q;
}

/* a and b equal once escapes are decoded; caseless: ASCII case folded. */
static int
sip_uri_part_eq(sip_str a, sip_str b, int caseless)
{
	const char *p, *pe, *q, *qe;

	if (a.len == 0 || b.len == 0) /* absent parts are NULL slices */
		return a.len == b.len;
	p = a.s;
	pe = a.s + a.len;
	q = b.s;
	qe = b.s + b.len;
	while (p < pe && q < qe) {
		int x = sip_uri_octet(&p, pe), y = sip_uri_octet(&q, qe);
		if (caseless) {
			if (x >= 'A' && x <= 'Z')
				x += 32;
			if (y >= 'A' && y <= 'Z')
				y += 32;
		}
		if (x != y)
			return 0;
	}
	return p == pe && q == qe;
}

/* Parameters that must be in both URIs or in neither (19.1.4). */
static int
sip_uri_param_strict(sip_str name)
{
	static const char *const names[] = {"user", "ttl", "method", "maddr",
	                                    "transport"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (sip_str_caseeq_lit(name, names[i]))
			return 1;
	return 0;
}

/* Every parameter of a: equal in b when b has it, and present in b when
 * it is one of the strict ones. */
static int
sip_uri_params_sub(const struct sip_param *a, const struct sip_param *b)
{
	for (; a != NULL; a = a->next) {
		const struct sip_param *o = NULL;
		for (const struct sip_param *x = b; x != NULL; x = x->next)
			if (sip_uri_part_eq(x->name, a->name, 1)) {
				o = x;
				break;
			}
		if (o == NULL) {
			if (sip_uri_param_strict(a->name))
				return 0;
			continue;
		}
		if ((a->value.s == NULL) != (o->value.s == NULL) ||
		    !sip_uri_part_eq(a->value, o->value, 1))
			return 0;
	}
	return 1;
}

int
sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	if (a->scheme != b->scheme)
		return 0;
	if (a->scheme != SIP_SCHEME_SIP && a->scheme != SIP_SCHEME_SIPS)
		return sip_str_eq(a->raw, b->raw);
	return sip_uri_part_eq(a->user, b->user, 0) &&
	       (a->password.s == NULL) == (b->password.s == NULL) &&
	       sip_uri_part_eq(a->password, b->password, 0) &&
	       sip_uri_part_eq(a->host, b->host, 1) && a->port == b->port &&
	       sip_uri_params_sub(a->params, b->params) &&
	       sip_uri_params_sub(b->params, a->params) &&
	       sip_uri_part_eq(a->headers, b->headers, 1);
}
