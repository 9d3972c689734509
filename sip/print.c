/*
 * sip/print.c: output: the growing buffer (struct sip_buf), printing a
 * parsed message back, reason phrases, and responses built from a request
 * (RFC 3261 8.2.6). The buffer always keeps a NUL after its contents.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sip/sip_impl.h"

void
sip_buf_init(struct sip_buf *b, TALLOC_CTX *ctx, size_t cap)
{
	if (cap < 64)
		cap = 64;
	b->len = 0;
	b->oom = 0;
	b->cap = cap;
	if ((b->s = talloc_size(ctx, cap)) == NULL) {
		b->oom = 1;
		b->cap = 0;
		return;
	}
	b->s[0] = '\0';
}

/* Room for n more bytes and the NUL. */
static int
sip_buf_grow(struct sip_buf *b, size_t n)
{
	size_t cap;
	char *s;

	if (b->oom)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap * 2;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((s = talloc_realloc_size(NULL, b->s, cap)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void
sip_buf_add(struct sip_buf *b, const char *s, size_t n)
{
	if (n == 0 || sip_buf_grow(b, n) < 0)
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
sip_buf_adds(struct sip_buf *b, sip_str s)
{
	sip_buf_add(b, s.s, s.len);
}

static void
sip_buf_vaddf(struct sip_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	if (b->oom)
		return;
	va_copy(ap2, ap);
	n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (sip_buf_grow(b, (size_t)n) < 0)
			return;
		vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void
sip_buf_addf(struct sip_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sip_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void
sip_buf_hdr(struct sip_buf *b, const char *name, const char *fmt, ...)
{
	va_list ap;

	sip_buf_add(b, name, strlen(name));
	sip_buf_add(b, ": ", 2);
	va_start(ap, fmt);
	sip_buf_vaddf(b, fmt, ap);
	va_end(ap);
	sip_buf_add(b, "\r\n", 2);
}

/* A header value with its folding undone (CR and LF dropped: RFC 3261
 * folding always leaves the whitespace that follows). */
void
sip_buf_add_unfolded(struct sip_buf *b, sip_str v)
{
	const char *p = v.s, *end = v.s + v.len, *q;

	while (p < end) {
		for (q = p; q < end && *q != '\r' && *q != '\n'; q++)
			;
		sip_buf_add(b, p, (size_t)(q - p));
		while (q < end && (*q == '\r' || *q == '\n'))
			q++;
		p = q;
	}
}

static void
sip_buf_field(struct sip_buf *b, const char *name, sip_str v)
{
	sip_buf_add(b, name, strlen(name));
	sip_buf_add(b, ": ", 2);
	sip_buf_add_unfolded(b, v);
	sip_buf_add(b, "\r\n", 2);
}

/* Was the field changed since it was parsed? */
static int
sip_hdr_pristine(const struct sip_hdr *h)
{
	return h->raw.s != NULL && h->name.s == h->raw.s &&
	       h->value.s >= h->raw.s &&
	       h->value.s + h->value.len <= h->raw.s + h->raw.len;
}

char *
sip_msg_print(TALLOC_CTX *ctx, const struct sip_msg *msg, size_t *len)
{
	struct sip_buf b;

	sip_buf_init(&b, ctx, msg->len + 64);
	if (msg->start.s != NULL)
		sip_buf_adds(&b, msg->start);
	else if (msg->is_request)
		sip_buf_addf(&b, "%.*s %.*s SIP/2.0\r\n",
		             SIP_STR_FMT(msg->method),
		             SIP_STR_FMT(msg->ruri_raw));
	else
		sip_buf_addf(&b, "SIP/2.0 %03d %.*s\r\n", msg->status,
		             SIP_STR_FMT(msg->reason));
	for (const struct sip_hdr *h = msg->hdrs; h != NULL; h = h->next) {
		if (sip_hdr_pristine(h)) {
			sip_buf_adds(&b, h->raw);
		} else {
			sip_buf_adds(&b, h->name);
			sip_buf_add(&b, ": ", 2);
			sip_buf_adds(&b, h->value);
			sip_buf_add(&b, "\r\n", 2);
		}
	}
	if (msg->eoh.s != NULL)
		sip_buf_adds(&b, msg->eoh);
	else
		sip_buf_add(&b, "\r\n", 2);
	sip_buf_adds(&b, msg->body);
	if (b.oom) {
		talloc_free(b.s);
		return NULL;
	}
	*len = b.len;
	return b.s;
}

void
sip_resp_fields(struct sip_buf *b, const struct sip_msg *req, sip_str to_tag)
{
	const struct sip_hdr *h;

	for (h = req->first[SIP_HDR_FROM]; h != NULL; h = h->next_same)
		sip_buf_field(b, "From", h->value);
	for (h = req->first[SIP_HDR_TO]; h != NULL; h = h->next_same) {
		sip_buf_add(b, "To: ", 4);
		sip_buf_add_unfolded(b, h->value);
		if (h == req->first[SIP_HDR_TO] && req->to != NULL &&
		    req->to->tag.len == 0 &&
		    sip_param_find(req->to->params, "tag") == NULL &&
		    to_tag.len > 0) {
			sip_buf_add(b, ";tag=", 5);
			sip_buf_adds(b, to_tag);
		}
		sip_buf_add(b, "\r\n", 2);
	}
	for (h = req->first[SIP_HDR_CALL_ID]; h != NULL; h = h->next_same)
		sip_buf_field(b, "Call-ID", h->value);
	for (h = req->first[SIP_HDR_CSEQ]; h != NULL; h = h->next_same)
		sip_buf_field(b, "CSeq", h->value);
}

void
sip_resp_start(struct sip_buf *b, const struct sip_msg *req, int status,
               const char *reason, sip_str to_tag)
{
	const struct sip_hdr *h;

	if (reason == NULL)
		reason = sip_reason(status);
	sip_buf_addf(b, "SIP/2.0 %03d %s\r\n", status, reason);
	for (h = req->first[SIP_HDR_VIA]; h != NULL; h = h->next_same)
		sip_buf_field(b, "Via", h->value);
	sip_resp_fields(b, req, to_tag);
}

void
sip_buf_finish(struct sip_buf *b, sip_str body)
{
	sip_buf_addf(b, "Content-Length: %zu\r\n\r\n", body.len);
	sip_buf_adds(b, body);
}

char *
sip_resp_simple(TALLOC_CTX *ctx, const struct sip_msg *req, int status,
                const char *reason, sip_str to_tag, const char *extra,
                size_t *len)
{
	struct sip_buf b;

	sip_buf_init(&b, ctx, 512);
	sip_resp_start(&b, req, status, reason, to_tag);
	if (extra != NULL)
		sip_buf_add(&b, extra, strlen(extra));
	sip_buf_finish(&b, SIP_STR_NULL);
	if (b.oom) {
		talloc_free(b.s);
		return NULL;
	}
	*len = b.len;
	return b.s;
}

const char *
sip_reason(int status)
{
	static const struct {
		int code;
		const char *reason;
	} tab[] = {
	    {100, "Trying"},
	    {180, "Ringing"},
	    {181, "Call Is Being Forwarded"},
	    {182, "Queued"},
	    {183, "Session Progress"},
	    {199, "Early Dialog Terminated"},
	    {200, "OK"},
	    {202, "Accepted"},
	    {204, "No Notification"},
	    {300, "Multiple Choices"},
	    {301, "Moved Permanently"},
	    {302, "Moved Temporarily"},
	    {305, "Use Proxy"},
	    {380, "Alternative Service"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {402, "Payment Required"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {406, "Not Acceptable"},
	    {407, "Proxy Authentication Required"},
	    {408, "Request Timeout"},
	    {410, "Gone"},
	    {412, "Conditional Request Failed"},
	    {413, "Request Entity Too Large"},
	    {414, "Request-URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {416, "Unsupported URI Scheme"},
	    {417, "Unknown Resource-Priority"},
	    {420, "Bad Extension"},
	    {421, "Extension Required"},
	    {422, "Session Interval Too Small"},
	    {423, "Interval Too Brief"},
	    {428, "Use Identity Header"},
	    {429, "Provide Referrer Identity"},
	    {433, "Anonymity Disallowed"},
	    {436, "Bad Identity-Info"},
	    {437, "Unsupported Certificate"},
	    {438, "Invalid Identity Header"},
	    {439, "First Hop Lacks Outbound Support"},
	    {440, "Max-Breadth Exceeded"},
	    {469, "Bad Info Package"},
	    {470, "Consent Needed"},
	    {480, "Temporarily Unavailable"},
	    {481, "Call/Transaction Does Not Exist"},
	    {482, "Loop Detected"},
	    {483, "Too Many Hops"},
	    {484, "Address Incomplete"},
	    {485, "Ambiguous"},
	    {486, "Busy Here"},
	    {487, "Request Terminated"},
	    {488, "Not Acceptable Here"},
	    {489, "Bad Event"},
	    {491, "Request Pending"},
	    {493, "Undecipherable"},
	    {494, "Security Agreement Required"},
	    {500, "Server Internal Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Server Time-out"},
	    {505, "Version Not Supported"},
	    {513, "Message Too Large"},
	    {580, "Precondition Failure"},
	    {600, "Busy Everywhere"},
	    {603, "Decline"},
	    {604, "Does Not Exist Anywhere"},
	    {606, "Not Acceptable"},
	    {607, "Unwanted"},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].code == status)
			return tab[i].reason;
	if (status >= 100 && status < 700) {
		static const char *const cls[] = {
		    "Provisional",           "OK",
		    "Redirection",           "Bad Request",
		    "Server Internal Error", "Global Failure"};
		return cls[status / 100 - 1];
	}
	return "Unknown";
}
