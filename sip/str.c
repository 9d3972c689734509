/*
 * sip/str.c: slices, character classes, method and header names, and the
 * small allocator of parsed parts. Nothing here reads outside (s, len).
 */
#include <string.h>

#include "sip/sip_impl.h"

/* Generated from RFC 3261 25.1; bits are the SIP_C_* classes. */
const unsigned char sip_ctype[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x85, 0x80, 0x00,
    0x18, 0x81, 0x18, 0x85, 0x84, 0x84, 0x85, 0x99, 0x08, 0xa5, 0xa5, 0x98,
    0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0x90, 0x08,
    0x80, 0x08, 0x80, 0x88, 0x00, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xa5,
    0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
    0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0x90, 0x80, 0x90, 0x00, 0xa5,
    0x81, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
    0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
    0xa5, 0xa5, 0xa5, 0x80, 0x00, 0x80, 0x85, 0x00,
    /* 0x80-0xff: none */
};

int
sip_str_eq(sip_str a, sip_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}

/* ASCII lower case, whatever the locale. */
static inline unsigned char
sip_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive comparison of n bytes (NUL is an ordinary byte). */
static int
sip_memcaseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i] && sip_lower((unsigned char)a[i]) !=
		                        sip_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

int
sip_str_caseeq(sip_str a, sip_str b)
{
	return a.len == b.len && sip_memcaseeq(a.s, b.s, a.len);
}

int
sip_str_caseeq_lit(sip_str a, const char *lit)
{
	size_t n = strlen(lit);

	return a.len == n && sip_memcaseeq(a.s, lit, n);
}

char *
sip_str_dup(TALLOC_CTX *ctx, sip_str s)
{
	return talloc_strndup(ctx, s.len ? s.s : "", s.len);
}

sip_str
sip_str_trim(sip_str s)
{
	if (s.s == NULL)
		return s;
	while (s.len > 0 && SIP_IS(s.s[0], SIP_C_LWS)) {
		s.s++;
		s.len--;
	}
	while (s.len > 0 && SIP_IS(s.s[s.len - 1], SIP_C_LWS))
		s.len--;
	return s;
}

void *
sip_mem_zalloc(struct sip_mem *m, size_t n)
{
	void *r;

	n = (n + 15) & ~(size_t)15;
	if ((size_t)(m->end - m->p) >= n) {
		r = m->p;
		m->p += n;
		memset(r, 0, n);
		return r;
	}
	if (m->grow && n <= SIP_MEM_BLOCK / 4) {
		if ((r = talloc_size(m->ctx, SIP_MEM_BLOCK)) == NULL)
			return NULL;
		m->p = (char *)r + n;
		m->end = (char *)r + SIP_MEM_BLOCK;
		memset(r, 0, n);
		return r;
	}
	return talloc_zero_size(m->ctx, n);
}

const char *
sip_skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			/* quoted-pair: any octet but CR and LF */
			if (p + 1 >= end || p[1] == '\r' || p[1] == '\n')
				return NULL;
			p++;
		}
	}
	return NULL;
}

int
sip_parse_num(const char *p, const char *end, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (p >= end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static const char *const sip_method_names[SIP_M__COUNT] = {
    [SIP_M_UNKNOWN] = "UNKNOWN",   [SIP_M_INVITE] = "INVITE",
    [SIP_M_ACK] = "ACK",           [SIP_M_BYE] = "BYE",
    [SIP_M_CANCEL] = "CANCEL",     [SIP_M_OPTIONS] = "OPTIONS",
    [SIP_M_REGISTER] = "REGISTER", [SIP_M_SUBSCRIBE] = "SUBSCRIBE",
    [SIP_M_NOTIFY] = "NOTIFY",     [SIP_M_PRACK] = "PRACK",
    [SIP_M_UPDATE] = "UPDATE",     [SIP_M_INFO] = "INFO",
    [SIP_M_MESSAGE] = "MESSAGE",   [SIP_M_REFER] = "REFER",
    [SIP_M_PUBLISH] = "PUBLISH",
};

enum sip_method
sip_method_id(sip_str name)
{
	for (int i = 1; i < SIP_M__COUNT; i++) {
		const char *n = sip_method_names[i];
		if (strlen(n) == name.len && memcmp(n, name.s, name.len) == 0)
			return (enum sip_method)i;
	}
	return SIP_M_UNKNOWN;
}

const char *
sip_method_name(enum sip_method m)
{
	if ((int)m < 0 || m >= SIP_M__COUNT)
		return "UNKNOWN";
	return sip_method_names[m];
}

/* Header names, long and compact, all lower case. */
static const struct {
	const char *name;
	unsigned char len;
	unsigned char id;
} sip_hdr_names[] = {
#define H(n, id)                                                               \
	{                                                                      \
		n, sizeof(n) - 1, id                                           \
	}
    H("via", SIP_HDR_VIA),
    H("v", SIP_HDR_VIA),
    H("from", SIP_HDR_FROM),
    H("f", SIP_HDR_FROM),
    H("to", SIP_HDR_TO),
    H("t", SIP_HDR_TO),
    H("call-id", SIP_HDR_CALL_ID),
    H("i", SIP_HDR_CALL_ID),
    H("cseq", SIP_HDR_CSEQ),
    H("max-forwards", SIP_HDR_MAX_FORWARDS),
    H("contact", SIP_HDR_CONTACT),
    H("m", SIP_HDR_CONTACT),
    H("content-length", SIP_HDR_CONTENT_LENGTH),
    H("l", SIP_HDR_CONTENT_LENGTH),
    H("content-type", SIP_HDR_CONTENT_TYPE),
    H("c", SIP_HDR_CONTENT_TYPE),
    H("expires", SIP_HDR_EXPIRES),
    H("min-expires", SIP_HDR_MIN_EXPIRES),
    H("require", SIP_HDR_REQUIRE),
    H("proxy-require", SIP_HDR_PROXY_REQUIRE),
    H("supported", SIP_HDR_SUPPORTED),
    H("k", SIP_HDR_SUPPORTED),
    H("unsupported", SIP_HDR_UNSUPPORTED),
    H("allow", SIP_HDR_ALLOW),
    H("accept", SIP_HDR_ACCEPT),
    H("route", SIP_HDR_ROUTE),
    H("record-route", SIP_HDR_RECORD_ROUTE),
    H("path", SIP_HDR_PATH),
    H("service-route", SIP_HDR_SERVICE_ROUTE),
    H("authorization", SIP_HDR_AUTHORIZATION),
    H("www-authenticate", SIP_HDR_WWW_AUTHENTICATE),
    H("user-agent", SIP_HDR_USER_AGENT),
    H("server", SIP_HDR_SERVER),
    H("event", SIP_HDR_EVENT),
    H("o", SIP_HDR_EVENT),
    H("subscription-state", SIP_HDR_SUBSCRIPTION_STATE),
    H("p-associated-uri", SIP_HDR_P_ASSOCIATED_URI),
    H("p-charging-vector", SIP_HDR_P_CHARGING_VECTOR),
    H("date", SIP_HDR_DATE),
    H("rseq", SIP_HDR_RSEQ),
    H("rack", SIP_HDR_RACK),
#undef H
};

#define SIP_NHDR_NAMES (sizeof(sip_hdr_names) / sizeof(sip_hdr_names[0]))

/*
 * The names by first letter: for each of 'a'..'z', the indexes into
 * sip_hdr_names[] of names starting with it, ending with 0xff. Built once.
 */
static unsigned char sip_hdr_index[26][8];
static int sip_hdr_index_ready;

static void
sip_hdr_index_build(void)
{
	unsigned char fill[26] = {0};

	memset(sip_hdr_index, 0xff, sizeof(sip_hdr_index));
	for (size_t i = 0; i < SIP_NHDR_NAMES; i++) {
		int c = sip_hdr_names[i].name[0] - 'a';
		if (fill[c] < 7)
			sip_hdr_index[c][fill[c]++] = (unsigned char)i;
	}
	sip_hdr_index_ready = 1;
}

enum sip_hdr_id
sip_hdr_id(sip_str name)
{
	int c;

	if (name.len == 0 || name.len > 32)
		return SIP_HDR_OTHER;
	c = sip_lower((unsigned char)name.s[0]);
	if (c < 'a' || c > 'z')
		return SIP_HDR_OTHER;
	if (!sip_hdr_index_ready)
		sip_hdr_index_build();
	for (const unsigned char *ix = sip_hdr_index[c - 'a']; *ix != 0xff;
	     ix++) {
		if (sip_hdr_names[*ix].len == name.len &&
		    sip_memcaseeq(sip_hdr_names[*ix].name, name.s, name.len))
			return (enum sip_hdr_id)sip_hdr_names[*ix].id;
	}
	return SIP_HDR_OTHER;
}

int
sip_split_tokens(sip_str in, sip_str *items, int max)
{
	const char *p = in.s, *end = in.s + in.len, *q;
	int n = 0;

	if (in.s == NULL)
		return 0;
	while (p < end && n < max) {
		q = memchr(p, ',', (size_t)(end - p));
		if (q == NULL)
			q = end;
		sip_str it = sip_str_trim((sip_str){p, (size_t)(q - p)});
		if (it.len > 0)
			items[n++] = it;
		p = q + 1;
	}
	return n;
}

int
sip_hdr_has_token(const struct sip_hdr *first, const char *tok)
{
	for (const struct sip_hdr *h = first; h != NULL; h = h->next_same) {
		const char *p = h->value.s, *end = p + h->value.len, *q;
		while (p != NULL && p < end) {
			q = memchr(p, ',', (size_t)(end - p));
			if (q == NULL)
				q = end;
			if (sip_str_caseeq_lit(
			        sip_str_trim((sip_str){p, (size_t)(q - p)}),
			        tok))
				return 1;
			p = q + 1;
		}
	}
	return 0;
}

int
sip_str_to_u32(sip_str s, uint32_t *out)
{
	uint64_t v;

	s = sip_str_trim(s);
	if (s.s == NULL || sip_parse_num(s.s, s.s + s.len, UINT32_MAX, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

const char *
sip_skip_escaped(const char *p, const char *end, unsigned cls)
{
	while (p < end) {
		if (SIP_IS(*p, cls)) {
			p++;
		} else if (*p == '%') {
			if (end - p < 3 || !SIP_IS(p[1], SIP_C_HEX) ||
			    !SIP_IS(p[2], SIP_C_HEX))
				return NULL;
			p += 3;
		} else {
			break;
		}
	}
	return p;
}
