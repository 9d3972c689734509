/*
 * sip/params.c: header parameters (";name=value" after a name-addr, in Via,
 * Contact, ...) and their lookup. Values are slices of the input; a quoted
 * value keeps its quotes.
 */
#include "sip/sip_impl.h"

/* May this octet be in an unquoted header parameter value? Liberal: token,
 * host and IPv6 characters and more, but never a delimiter. */
static int
sip_hvalue_char(unsigned char c)
{
	if (c <= 0x20 || c == 0x7f)
		return 0;
	switch (c) {
	case ';':
	case ',':
	case '"':
	case '<':
	case '>':
		return 0;
	}
	return 1;
}

/* One "name [= value]" at p (after ';' and SWS). */
static const char *
sip_parse_hparam(struct sip_mem *m, const char *p, const char *end,
                 struct sip_param **out)
{
	struct sip_param *prm;
	const char *n = p, *q, *v;

	p = sip_skip_cls(p, end, SIP_C_TOKEN);
	if (p == n)
		return NULL;
	if ((prm = SIP_MEM_NEW(m, struct sip_param)) == NULL)
		return NULL;
	prm->name = (sip_str){n, (size_t)(p - n)};
	q = sip_skip_lws(p, end);
	if (q < end && *q == '=') {
		p = v = sip_skip_lws(q + 1, end);
		if (p < end && *p == '"') {
			if ((p = sip_skip_quoted(p, end)) == NULL)
				return NULL;
		} else {
			while (p < end && sip_hvalue_char((unsigned char)*p))
				p++;
		}
		if (p == v)
			return NULL;
		prm->value = (sip_str){v, (size_t)(p - v)};
	}
	*out = prm;
	return p;
}

const char *
sip_parse_hparams(struct sip_mem *m, const char *p, const char *end,
                  struct sip_param **list)
{
	struct sip_param **tail = list, *prm;
	int n = 0;

	while (*tail != NULL)
		tail = &(*tail)->next;
	for (;;) {
		p = sip_skip_lws(p, end);
		if (p >= end || *p != ';')
			return p;
		if (++n > SIP_MAX_PARAMS)
			return NULL;
		p = sip_skip_lws(p + 1, end);
		if ((p = sip_parse_hparam(m, p, end, &prm)) == NULL)
			return NULL;
		*tail = prm;
		tail = &prm->next;
	}
}

const struct sip_param *
sip_param_find(const struct sip_param *list, const char *name)
{
	for (; list != NULL; list = list->next)
		if (sip_str_caseeq_lit(list->name, name))
			return list;
	return NULL;
}
