/*
 * sip/addr.c: name-addr and addr-spec values with their header parameters
 * (From, To, Contact, Route, Path, ...), and lists of them. In addr-spec
 * form every ";param" belongs to the header, not the URI, and a URI with
 * headers ('?') must be in angle brackets (RFC 3261 20.10).
 */
#include "sip/sip_impl.h"

/* The display name before '<', if any: a quoted string or tokens and LWS.
 * Returns the position of '<' (or p when there is no display name), NULL
 * if malformed. */
static const char *
sip_addr_display(const char *p, const char *end, struct sip_addr *a)
{
	const char *q;

	if (*p == '"') {
		if ((q = sip_skip_quoted(p, end)) == NULL)
			return NULL;
		a->display = (sip_str){p + 1, (size_t)(q - p - 2)};
		q = sip_skip_lws(q, end);
		return q < end && *q == '<' ? q : NULL;
	}
	for (q = p; q < end && SIP_IS(*q, SIP_C_TOKEN | SIP_C_LWS); q++)
		;
	if (q < end && *q == '<' && q > p) {
		a->display = sip_str_trim((sip_str){p, (size_t)(q - p)});
		return q;
	}
	return p;
}

/* The URI: "<" uri ">" or a bare addr-spec. */
static const char *
sip_addr_uri(struct sip_mem *m, const char *p, const char *end,
             struct sip_addr *a)
{
	const char *q;

	if (*p == '<') {
		a->angle = 1;
		q = memchr(p + 1, '>', (size_t)(end - p - 1));
		if (q == NULL)
			return NULL;
		if (sip_parse_uri_mem(m, (sip_str){p + 1, (size_t)(q - p - 1)},
		                      &a->uri) < 0)
			return NULL;
		return q + 1;
	}
	for (q = p; q < end && *q != ';' && *q != ',' && !SIP_IS(*q, SIP_C_LWS);
	     q++)
		if (*q == '?')
			return NULL;
	if (sip_parse_uri_mem(m, (sip_str){p, (size_t)(q - p)}, &a->uri) < 0)
		return NULL;
	return q;
}

/* One value at p (not at LWS); returns the position after it and its
 * trailing LWS, or NULL if malformed. */
static const char *
sip_parse_addr(struct sip_mem *m, const char *p, const char *end,
               struct sip_addr *a)
{
	const char *start = p;
	const struct sip_param *tag;

	if (p >= end)
		return NULL;
	if (*p == '*') {
		a->star = 1;
		a->raw = (sip_str){p, 1};
		return sip_skip_lws(p + 1, end);
	}
	if ((p = sip_addr_display(p, end, a)) == NULL)
		return NULL;
	if ((p = sip_addr_uri(m, p, end, a)) == NULL)
		return NULL;
	if ((p = sip_parse_hparams(m, p, end, &a->params)) == NULL)
		return NULL;
	if ((tag = sip_param_find(a->params, "tag")) != NULL)
		a->tag = tag->value;
	a->raw = sip_str_trim((sip_str){start, (size_t)(p - start)});
	return p;
}

int
sip_parse_addr_list_mem(struct sip_mem *m, sip_str in, struct sip_addr **out)
{
	const char *p = in.s, *end = in.s + in.len;
	struct sip_addr **tail = out, *a;
	int n = 0, star = 0;

	*out = NULL;
	if (in.s == NULL)
		return -1;
	for (;;) {
		p = sip_skip_lws(p, end);
		if ((a = SIP_MEM_NEW(m, struct sip_addr)) == NULL)
			return -1;
		if ((p = sip_parse_addr(m, p, end, a)) == NULL)
			return -1;
		*tail = a;
		tail = &a->next;
		n++;
		star |= a->star;
		if (p >= end)
			break;
		if (*p != ',')
			return -1;
		p++;
	}
	return star && n > 1 ? -1 : 0;
}

int
sip_parse_addr_list(TALLOC_CTX *ctx, sip_str in, struct sip_addr **out)
{
	struct sip_mem m = {ctx, NULL, NULL, 0};

	return sip_parse_addr_list_mem(&m, in, out);
}

int
sip_msg_addrs(TALLOC_CTX *ctx, const struct sip_hdr *first,
              struct sip_addr **out)
{
	struct sip_addr **tail = out;

	*out = NULL;
	for (const struct sip_hdr *h = first; h != NULL; h = h->next_same) {
		if (sip_parse_addr_list(ctx, h->value, tail) < 0)
			return -1;
		while (*tail != NULL)
			tail = &(*tail)->next;
	}
	return 0;
}
