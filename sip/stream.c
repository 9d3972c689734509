/*
 * sip/stream.c: framing of SIP messages on a byte stream (RFC 3261 18.3):
 * skip keep-alive CRLFs (RFC 5626 4.4.1), find the end of the header section,
 * read Content-Length from it (mandatory on a stream), and say whether the
 * whole message is there. Looks only at [buf, buf + len).
 */
#include "sip/sip_impl.h"

/* Leading keep-alives: whole "\r\n\r\n" pings and lone "\r\n"s before a
 * message. A lone CRLF at the end of the data may be half a ping: it is
 * left for the next call. Returns the count of bytes to skip. */
static size_t
sip_stream_crlf(const char *buf, size_t len, int *pings)
{
	size_t i = 0;

	while (len - i >= 2 && buf[i] == '\r' && buf[i + 1] == '\n') {
		if (len - i >= 4 && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
			(*pings)++;
			i += 4;
		} else if (len - i > 2 && buf[i + 2] != '\r') {
			i += 2; /* a pong, or a stray CRLF */
		} else {
			break; /* "\r\n" or "\r\n\r" so far */
		}
	}
	return i;
}

/* Content-Length (or l) of the header field [p, le): 1 and *cl if it is
 * one, 0 if another field, -1 if malformed. */
static int
sip_stream_cl(const char *p, const char *le, uint64_t max, uint64_t *cl)
{
	const char *n = p, *q;
	sip_str v;

	p = sip_skip_cls(p, le, SIP_C_TOKEN);
	if (sip_hdr_id((sip_str){n, (size_t)(p - n)}) != SIP_HDR_CONTENT_LENGTH)
		return 0;
	q = sip_skip_lws(p, le);
	if (q >= le || *q != ':')
		return -1;
	v = sip_str_trim((sip_str){q + 1, (size_t)(le - q - 1)});
	if (v.len == 0 || sip_parse_num(v.s, v.s + v.len, max, cl) < 0)
		return -1;
	return 1;
}

/* Is there an empty line (LF CRLF or LF LF) in [from, len)? memmem is
 * fast, and with the caller's *scanned nothing is searched twice. */
static int
sip_stream_has_eoh(const char *buf, size_t from, size_t len)
{
	return memmem(buf + from, len - from, "\n\r\n", 3) != NULL ||
	       memmem(buf + from, len - from, "\n\n", 2) != NULL;
}

/* The end of the field at p, folded lines included: the LF ending its last
 * line, or NULL if the data ends before we can tell. */
static const char *
sip_stream_field_end(const char *p, const char *end)
{
	const char *nl;

	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    nl + 1 >= end)
			return NULL;
		if (nl[1] != ' ' && nl[1] != '\t')
			return nl;
		p = nl + 1;
	}
}

/* The header section at buf: its length (up to the end of the empty line)
 * with *cl and *ncl (the number of Content-Length fields, 0 or 1), 0 if
 * incomplete, -1 on a framing error (Content-Length malformed or repeated,
 * headers longer than max). */
static ssize_t
sip_stream_scan(const char *buf, size_t len, size_t max, uint64_t *cl,
                size_t from, int *ncl)
{
	const char *p, *end = buf + len, *nl, *le;
	int r;

	*ncl = 0;
	if (!sip_stream_has_eoh(buf, from, len) ||
	    (nl = memchr(buf, '\n', len)) == NULL)
		return len > max ? -1 : 0;
	for (p = nl + 1; p < end; p = nl + 1) {
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return (ssize_t)(p + (*p == '\n' ? 1 : 2) - buf);
		if ((nl = sip_stream_field_end(p, end)) == NULL)
			break;
		le = nl[-1] == '\r' ? nl - 1 : nl;
		if ((r = sip_stream_cl(p, le, max, cl)) < 0)
			return -1;
		if ((*ncl += r) > 1)
			return -1;
	}
	return len > max ? -1 : 0;
}

/* The header section at buf: its length and *cl, 0 if incomplete, -1 on
 * a framing error (also: no Content-Length, which a stream needs). */
static ssize_t
sip_stream_headers(const char *buf, size_t len, size_t max, uint64_t *cl,
                   size_t from)
{
	int ncl;
	ssize_t hl = sip_stream_scan(buf, len, max, cl, from, &ncl);

	return hl > 0 && ncl != 1 ? -1 : hl;
}

ssize_t
sip_stream_no_cl(const char *buf, size_t len, size_t max)
{
	uint64_t cl = 0;
	int ncl;
	ssize_t hl;

	hl = sip_stream_scan(buf, len, max, &cl, 0, &ncl);
	if (hl <= 0 || ncl != 0 || (size_t)hl > max)
		return 0;
	return hl;
}

ssize_t
sip_stream_frame_r(const char *buf, size_t len, size_t max, size_t *skip,
                   int *pings, size_t *scanned)
{
	uint64_t cl = 0;
	size_t from;
	ssize_t hl;

	*pings = 0;
	*skip = sip_stream_crlf(buf, len, pings);
	from = *scanned > *skip + 3 ? *scanned - *skip - 3 : 0;
	buf += *skip;
	len -= *skip;
	if (len == 0 || (len < 4 && buf[0] == '\r'))
		return 0;
	if (from > len)
		from = 0; /* the caller did not reset *scanned */
	if ((hl = sip_stream_headers(buf, len, max, &cl, from)) <= 0) {
		if (hl == 0)
			*scanned = *skip + len;
		return hl;
	}
	if ((uint64_t)hl + cl > max)
		return -1;
	if ((uint64_t)hl + cl > len)
		return 0;
	return (ssize_t)(hl + (ssize_t)cl);
}

ssize_t
sip_stream_frame(const char *buf, size_t len, size_t max, size_t *skip,
                 int *pings)
{
	size_t scanned = 0;

	return sip_stream_frame_r(buf, len, max, skip, pings, &scanned);
}
