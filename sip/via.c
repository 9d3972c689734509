/*
 * sip/via.c: Via values (RFC 3261 20.42): sent-protocol, sent-by and the
 * via-params, with SWS allowed around '/', ':' and ';' as the grammar says.
 */
#include "sip/sip_impl.h"

/* token SWS "/" SWS token SWS "/" SWS token; the last token is the
 * transport. */
static const char *
sip_via_proto(const char *p, const char *end, sip_str *transport)
{
	const char *t = p;

	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			p = sip_skip_lws(p, end);
			if (p >= end || *p != '/')
				return NULL;
			p = sip_skip_lws(p + 1, end);
		}
		t = p;
		p = sip_skip_cls(p, end, SIP_C_TOKEN);
		if (p == t)
			return NULL;
	}
	*transport = (sip_str){t, (size_t)(p - t)};
	return p;
}

/* The params Via gives meaning to. */
static int
sip_via_known_params(struct sip_via *v)
{
	const struct sip_param *prm;

	if ((prm = sip_param_find(v->params, "branch")) != NULL)
		v->branch = prm->value;
	if ((prm = sip_param_find(v->params, "received")) != NULL)
		v->received = prm->value;
	if ((prm = sip_param_find(v->params, "rport")) != NULL) {
		v->rport = 1;
		if (prm->value.s != NULL &&
		    sip_parse_port(prm->value.s, prm->value.s + prm->value.len,
		                   &v->rport_value) !=
		        prm->value.s + prm->value.len)
			return -1;
	}
	return 0;
}

/* One via-parm at p. The sent-by is filled in as soon as it is parsed, so
 * that a caller can still answer a Via whose params are malformed (to the
 * source: v->usable is set only when all of it parsed). */
static const char *
sip_parse_via_parm(struct sip_mem *m, const char *p, const char *end,
                   struct sip_via *v)
{
	const char *start = p, *q;
	int port0 = 0;

	if ((p = sip_via_proto(p, end, &v->transport)) == NULL)
		return NULL;
	q = sip_skip_lws(p, end);
	if (q == p)
		return NULL;
	if ((p = sip_parse_host(q, end, &v->host)) == NULL)
		return NULL;
	q = sip_skip_lws(p, end);
	if (q < end && *q == ':') {
		q = sip_skip_lws(q + 1, end);
		if ((p = sip_parse_port(q, end, &v->port)) == NULL)
			return NULL;
		port0 = v->port == 0;
	}
	v->raw = (sip_str){start, (size_t)(p - start)};
	if ((p = sip_parse_hparams(m, p, end, &v->params)) == NULL)
		return NULL;
	if (sip_via_known_params(v) < 0)
		return NULL;
	v->raw = sip_str_trim((sip_str){start, (size_t)(p - start)});
	v->usable = !port0;
	return p;
}

int
sip_parse_via_list(struct sip_mem *m, sip_str in, struct sip_via ***tail,
                   int *count, int max)
{
	const char *p = in.s, *end = in.s + in.len;
	struct sip_via *v;

	if (in.s == NULL)
		return -1;
	for (;;) {
		if (++*count > max)
			return -1;
		p = sip_skip_lws(p, end);
		if ((v = SIP_MEM_NEW(m, struct sip_via)) == NULL)
			return -1;
		p = sip_parse_via_parm(m, p, end, v);
		if (p != NULL && p < end && *p != ',')
			v->usable = 0; /* junk after it: not usable either */
		if (p != NULL || v->host.len > 0) {
			**tail = v;
			*tail = &v->next;
		}
		if (p == NULL)
			return -1;
		if (p >= end)
			return 0;
		if (*p != ',')
			return -1;
		p++;
	}
}
