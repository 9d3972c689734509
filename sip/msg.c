/*
 * sip/msg.c: sip_parse(): the start line, the split of the header section
 * into fields (folded lines included), the core headers every request and
 * response must carry, and the body framed by Content-Length.
 *
 * One pass over the bytes. The message and its first SIP_HDR_POOL header
 * fields and small parts live in one allocation (struct sip_msg_impl); only
 * unusually large messages allocate more. Every error is recorded (the first
 * one wins) and parsing goes on, so that a request that can be answered is
 * answered with the most useful reason.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sip/sip_impl.h"

#define SIP_HDR_POOL 40
#define SIP_ARENA 3072
#define SIP_MAX_CONTENT_LENGTH (1L << 30)

struct sip_msg_impl {
	struct sip_msg m; /* first: the impl's address is the message's */
	struct sip_hdr pool[SIP_HDR_POOL];
	union {
		max_align_t align;
		char b[SIP_ARENA];
	} arena;
};

struct sip_parser {
	struct sip_msg *m;
	struct sip_msg_impl *impl;
	struct sip_mem mem;
	struct sip_err *err;
	enum sip_transport tp;
	const char *end;       /* end of the input */
	const char *body;      /* where the body starts */
	struct sip_hdr **tail; /* where the next field is linked */
	unsigned npool;
	int full; /* SIP_MAX_HEADERS reached: stop splitting */
	struct sip_hdr *last[SIP_HDR__COUNT];
};

/* Record an error; the first one wins. */
static void sip_fail(struct sip_parser *ps, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sip_fail(struct sip_parser *ps, int status, const char *fmt, ...)
{
	va_list ap;

	if (ps->err->reason[0] != '\0')
		return;
	ps->err->status = status;
	va_start(ap, fmt);
	vsnprintf(ps->err->reason, sizeof(ps->err->reason), fmt, ap);
	va_end(ap);
	if (ps->err->reason[0] == '\0')
		snprintf(ps->err->reason, sizeof(ps->err->reason), "Error");
}

/* "SIP/" 1*DIGIT "." 1*DIGIT */
static int
sip_version_ok(sip_str v)
{
	const char *p = v.s + 4, *end = v.s + v.len, *d;

	if (v.len < 7 || !sip_str_caseeq_lit((sip_str){v.s, 4}, "SIP/"))
		return 0;
	for (d = p; p < end && *p >= '0' && *p <= '9'; p++)
		;
	if (p == d || p >= end || *p != '.')
		return 0;
	for (d = ++p; p < end && *p >= '0' && *p <= '9'; p++)
		;
	return p > d && p == end;
}

/* Method SP Request-URI SP SIP-Version, exactly one SP between. */
static void
sip_parse_request_line(struct sip_parser *ps, const char *p, const char *le,
                       const char *sp1)
{
	struct sip_msg *m = ps->m;
	const char *sp2, *q;

	m->is_request = 1;
	m->method = (sip_str){p, (size_t)(sp1 - p)};
	if (sip_skip_cls(p, sp1, SIP_C_TOKEN) != sp1 || sp1 == p)
		sip_fail(ps, 400, "Malformed Request-Line");
	m->mid = sip_method_id(m->method);
	sp2 = memrchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
	if (sp2 == NULL) {
		sip_fail(ps, 400, "Malformed Request-Line");
		return;
	}
	m->version = (sip_str){sp2 + 1, (size_t)(le - sp2 - 1)};
	if (!sip_version_ok(m->version))
		sip_fail(ps, 400, "Malformed Request-Line");
	m->ruri_raw = (sip_str){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
	for (q = sp1 + 1; q < sp2; q++)
		if (SIP_IS(*q, SIP_C_LWS))
			break;
	if (q < sp2 || sip_parse_uri_mem(&ps->mem, m->ruri_raw, &m->ruri) < 0)
		sip_fail(ps, 400, "Malformed Request-URI");
}

/* SIP-Version SP Status-Code SP Reason-Phrase; -1 if malformed. */
static int
sip_parse_status_line(struct sip_parser *ps, const char *p, const char *le)
{
	struct sip_msg *m = ps->m;
	const char *sp = memchr(p, ' ', (size_t)(le - p));
	uint64_t code;

	if (sp == NULL || le - sp < 4)
		return -1;
	m->version = (sip_str){p, (size_t)(sp - p)};
	if (!sip_str_eq(m->version, SIP_STR_LIT("SIP/2.0")))
		return -1;
	if (sip_parse_num(sp + 1, sp + 4, 999, &code) < 0 || code < 100 ||
	    code > 699 || (sp + 4 < le && sp[4] != ' '))
		return -1;
	m->status = (int)code;
	if (sp + 4 < le)
		m->reason = (sip_str){sp + 5, (size_t)(le - sp - 5)};
	else
		m->reason = (sip_str){le, 0};
	return 0;
}

/* The start line; *next gets the start of the headers. -1: not a SIP
 * message at all (nothing to answer). */
static int
sip_parse_start(struct sip_parser *ps, const char *p, const char **next)
{
	const char *nl, *le, *sp;

	if ((nl = memchr(p, '\n', (size_t)(ps->end - p))) == NULL) {
		sip_fail(ps, 0, "Truncated Start Line");
		return -1;
	}
	le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	ps->m->start = (sip_str){p, (size_t)(nl + 1 - p)};
	*next = nl + 1;
	if (le - p >= 4 && sip_str_caseeq_lit((sip_str){p, 4}, "SIP/")) {
		if (sip_parse_status_line(ps, p, le) == 0)
			return 0;
		sip_fail(ps, 0, "Malformed Status-Line");
		return -1;
	}
	if ((sp = memchr(p, ' ', (size_t)(le - p))) == NULL) {
		sip_fail(ps, 0, "Malformed Request-Line");
		return -1;
	}
	sip_parse_request_line(ps, p, le, sp);
	return 0;
}

/* The end of the field at p (folded lines included): *le the end of its
 * last line without the line break, returns where the next field starts. */
static const char *
sip_field_end(const char *p, const char *end, const char **le)
{
	const char *nl;

	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			*le = end;
			return end;
		}
		if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
			p = nl + 1;
			continue;
		}
		*le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		return nl + 1;
	}
}

static struct sip_hdr *
sip_hdr_new(struct sip_parser *ps)
{
	if (ps->npool < SIP_HDR_POOL) {
		struct sip_hdr *h = &ps->impl->pool[ps->npool++];
		memset(h, 0, sizeof(*h));
		return h;
	}
	return SIP_MEM_NEW(&ps->mem, struct sip_hdr);
}

/* One header field [p, le), next the start of the following one. */
static void
sip_add_header(struct sip_parser *ps, const char *p, const char *le,
               const char *next)
{
	struct sip_msg *m = ps->m;
	struct sip_hdr *h;
	const char *n = p, *q, *cr;

	p = sip_skip_cls(p, le, SIP_C_TOKEN);
	q = sip_skip_lws(p, le);
	if (p == n || q >= le || *q != ':') {
		sip_fail(ps, 400, "Malformed Header Line");
		return;
	}
	/* A CR inside a field must end a (folded) line: a bare one is not
	 * LWS (RFC 3261 25.1) and would be echoed or dropped downstream,
	 * changing the value ("CSeq: 70<CR>OPTIONS"). The field is kept so
	 * the 400 can still carry it. */
	for (cr = memchr(n, '\r', (size_t)(le - n)); cr != NULL;
	     cr = memchr(cr + 1, '\r', (size_t)(le - cr - 1))) {
		if (cr + 1 >= le || cr[1] != '\n') {
			sip_fail(ps, 400, "Malformed Header Line");
			break;
		}
	}
	if (m->nhdrs >= SIP_MAX_HEADERS) {
		sip_fail(ps, 400, "Too Many Headers");
		ps->full = 1;
		return;
	}
	if ((h = sip_hdr_new(ps)) == NULL) {
		sip_fail(ps, 500, "Out Of Memory");
		return;
	}
	h->name = (sip_str){n, (size_t)(p - n)};
	h->value = sip_str_trim((sip_str){q + 1, (size_t)(le - q - 1)});
	h->raw = (sip_str){n, (size_t)(next - n)};
	h->id = sip_hdr_id(h->name);
	*ps->tail = h;
	ps->tail = &h->next;
	m->nhdrs++;
	if (h->id != SIP_HDR_OTHER) {
		if (ps->last[h->id] != NULL)
			ps->last[h->id]->next_same = h;
		else
			m->first[h->id] = h;
		ps->last[h->id] = h;
	}
}

/* Every field up to the empty line; ps->body is set to what follows it. */
static void
sip_split_headers(struct sip_parser *ps, const char *p)
{
	const char *end = ps->end, *le, *next;

	ps->tail = &ps->m->hdrs;
	for (;;) {
		if (p >= end || ps->full) {
			p = end;
			ps->m->eoh = (sip_str){p, 0};
			break;
		}
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
			size_t n = *p == '\n' ? 1 : 2;
			ps->m->eoh = (sip_str){p, n};
			p += n;
			break;
		}
		next = sip_field_end(p, end, &le);
		if (le - p > SIP_MAX_HDR_LEN)
			sip_fail(ps, 400, "Header Too Long");
		else
			sip_add_header(ps, p, le, next);
		p = next;
	}
	ps->body = p;
}

/* The one field of a single-valued core header, or NULL (error set). */
static const struct sip_hdr *
sip_core_one(struct sip_parser *ps, enum sip_hdr_id id, const char *name)
{
	const struct sip_hdr *h = ps->m->first[id];

	if (h == NULL)
		sip_fail(ps, 400, "Missing %s", name);
	else if (h->next_same != NULL)
		sip_fail(ps, 400, "Multiple %s", name);
	else
		return h;
	return NULL;
}

static void
sip_core_via(struct sip_parser *ps)
{
	struct sip_via **tail = &ps->m->via;
	int count = 0;

	if (ps->m->first[SIP_HDR_VIA] == NULL) {
		sip_fail(ps, 400, "Missing Via");
		return;
	}
	for (const struct sip_hdr *h = ps->m->first[SIP_HDR_VIA]; h != NULL;
	     h = h->next_same) {
		if (sip_parse_via_list(&ps->mem, h->value, &tail, &count,
		                       SIP_MAX_VIAS) < 0) {
			sip_fail(ps, 400,
			         count > SIP_MAX_VIAS ? "Too Many Via"
			                              : "Malformed Via");
			return;
		}
	}
}

/* From or To: exactly one name-addr/addr-spec. */
static void
sip_core_addr(struct sip_parser *ps, enum sip_hdr_id id, const char *name,
              struct sip_addr **out)
{
	const struct sip_hdr *h;
	struct sip_addr *a;

	if ((h = sip_core_one(ps, id, name)) == NULL)
		return;
	if (sip_parse_addr_list_mem(&ps->mem, h->value, &a) < 0 ||
	    a->next != NULL || a->star)
		sip_fail(ps, 400, "Malformed %s", name);
	else
		*out = a;
}

/* callid = word [ "@" word ] */
static void
sip_core_call_id(struct sip_parser *ps)
{
	const struct sip_hdr *h;
	const char *p, *end, *at;

	if ((h = sip_core_one(ps, SIP_HDR_CALL_ID, "Call-ID")) == NULL)
		return;
	p = h->value.s;
	end = p + h->value.len;
	at = memchr(p, '@', h->value.len);
	if (at == NULL)
		at = end;
	if (at == p || sip_skip_cls(p, at, SIP_C_WORD) != at ||
	    (at < end &&
	     (at + 1 == end || sip_skip_cls(at + 1, end, SIP_C_WORD) != end))) {
		sip_fail(ps, 400, "Malformed Call-ID");
		return;
	}
	ps->m->call_id = h->value;
}

/* CSeq = 1*DIGIT LWS Method */
static void
sip_core_cseq(struct sip_parser *ps)
{
	struct sip_msg *m = ps->m;
	const struct sip_hdr *h;
	const char *p, *end, *d, *q;
	uint64_t num;

	if ((h = sip_core_one(ps, SIP_HDR_CSEQ, "CSeq")) == NULL)
		return;
	p = h->value.s;
	end = p + h->value.len;
	for (d = p; p < end && *p >= '0' && *p <= '9'; p++)
		;
	q = sip_skip_lws(p, end);
	if (sip_parse_num(d, p, UINT32_MAX, &num) < 0 || q == p ||
	    sip_skip_cls(q, end, SIP_C_TOKEN) != end || q == end) {
		sip_fail(ps, 400, "Malformed CSeq");
		return;
	}
	m->cseq.num = (uint32_t)num;
	m->cseq.method = (sip_str){q, (size_t)(end - q)};
	m->cseq.mid = sip_method_id(m->cseq.method);
	if (m->is_request && m->method.len > 0 &&
	    !sip_str_eq(m->method, m->cseq.method))
		sip_fail(ps, 400, "CSeq Method Mismatch");
}

static void
sip_core_max_forwards(struct sip_parser *ps)
{
	const struct sip_hdr *h;
	uint64_t v;

	if ((h = sip_core_one(ps, SIP_HDR_MAX_FORWARDS, "Max-Forwards")) ==
	    NULL)
		return;
	if (sip_parse_num(h->value.s, h->value.s + h->value.len, 255, &v) < 0)
		sip_fail(ps, 400, "Malformed Max-Forwards");
	else
		ps->m->max_forwards = (int)v;
}

static void
sip_core_content_length(struct sip_parser *ps)
{
	const struct sip_hdr *h = ps->m->first[SIP_HDR_CONTENT_LENGTH];
	uint64_t v;

	if (h == NULL)
		return;
	if (h->next_same != NULL) {
		sip_fail(ps, 400, "Multiple Content-Length");
		return;
	}
	if (sip_parse_num(h->value.s, h->value.s + h->value.len,
	                  SIP_MAX_CONTENT_LENGTH, &v) < 0)
		sip_fail(ps, 400, "Malformed Content-Length");
	else
		ps->m->content_length = (long)v;
}

/* The headers RFC 3261 8.1.1 requires, in the order of the reasons. */
static void
sip_parse_core(struct sip_parser *ps)
{
	struct sip_msg *m = ps->m;

	sip_core_via(ps);
	sip_core_addr(ps, SIP_HDR_FROM, "From", &m->from);
	sip_core_addr(ps, SIP_HDR_TO, "To", &m->to);
	sip_core_call_id(ps);
	sip_core_cseq(ps);
	if (m->is_request)
		sip_core_max_forwards(ps);
	sip_core_content_length(ps);
}

/* The body: Content-Length octets after the headers; without it, the rest
 * of a datagram. Octets after the body are not part of the message. */
static void
sip_frame_body(struct sip_parser *ps)
{
	struct sip_msg *m = ps->m;
	size_t avail = (size_t)(ps->end - ps->body);

	m->body = (sip_str){ps->body, avail};
	if (m->content_length >= 0) {
		if ((size_t)m->content_length > avail)
			sip_fail(ps, 400, "Content-Length Exceeds Message");
		else
			m->body.len = (size_t)m->content_length;
	} else if (ps->tp == SIP_TP_TCP &&
	           m->first[SIP_HDR_CONTENT_LENGTH] == NULL) {
		sip_fail(ps, 400, "Missing Content-Length");
	}
	m->len = (size_t)(m->body.s + m->body.len - m->buf);
}

int
sip_parse(TALLOC_CTX *ctx, const char *buf, size_t len, enum sip_transport tp,
          size_t max, struct sip_msg **out, struct sip_err *err)
{
	struct sip_parser ps;
	struct sip_msg_impl *impl;
	const char *p = buf, *end = buf + len, *hp;

	*out = NULL;
	err->status = 0;
	err->reason[0] = '\0';
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if (buf == NULL || p == end) {
		snprintf(err->reason, sizeof(err->reason), "Empty Message");
		return -1;
	}
	if ((impl = talloc_size(ctx, sizeof(*impl))) == NULL) {
		snprintf(err->reason, sizeof(err->reason), "Out Of Memory");
		return -1;
	}
	talloc_set_name_const(impl, "struct sip_msg");
	memset(&impl->m, 0, sizeof(impl->m));
	memset(&ps, 0, sizeof(ps));
	ps = (struct sip_parser){
	    .m = &impl->m, .impl = impl, .err = err, .tp = tp, .end = end};
	ps.mem =
	    (struct sip_mem){impl, impl->arena.b, impl->arena.b + SIP_ARENA, 1};
	impl->m.buf = p;
	impl->m.len = (size_t)(end - p);
	impl->m.max_forwards = -1;
	impl->m.content_length = -1;

	if (len > max)
		sip_fail(&ps, 513, "Message Too Large");
	if (sip_parse_start(&ps, p, &hp) < 0)
		goto drop;
	sip_split_headers(&ps, hp);
	sip_parse_core(&ps);
	sip_frame_body(&ps);
	if (err->reason[0] == '\0') {
		*out = &impl->m;
		return 0;
	}
	if (impl->m.is_request && impl->m.via != NULL && err->status != 0) {
		*out = &impl->m;
		return -1;
	}
drop:
	if (err->reason[0] == '\0')
		snprintf(err->reason, sizeof(err->reason), "Not A SIP Message");
	err->status = 0;
	talloc_free(impl);
	return -1;
}
