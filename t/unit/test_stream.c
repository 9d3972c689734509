/*
 * t/unit/test_stream.c: TCP framing with sip_stream_frame(): a message
 * split at every byte, several messages in one read, RFC 5626 CRLF
 * keep-alives before and between messages, and the framing errors that
 * close a connection.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "sip/sip.h"

static const char msg1[] =
    "OPTIONS sip:u@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
    "From: <sip:a@b>;tag=1\r\nTo: <sip:u@example.com>\r\n"
    "Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
    "Content-Length: 5\r\n\r\nhello";
static const char msg2[] =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
    "From: <sip:a@b>;tag=1\r\nTo: <sip:u@example.com>;tag=2\r\n"
    "Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";

static ssize_t
frame(const char *buf, size_t len, size_t *skip, int *pings)
{
	return sip_stream_frame(buf, len, SIP_MAX_MSG_DEFAULT, skip, pings);
}

static void
test_every_split(void)
{
	size_t n = strlen(msg1), skip;
	int pings;

	for (size_t i = 0; i < n; i++) {
		/* a copy of exactly i bytes, so that reading past is caught */
		char *p = talloc_memdup(NULL, msg1, i ? i : 1);
		CU_ASSERT_EQUAL(frame(p, i, &skip, &pings), 0);
		CU_ASSERT_EQUAL(skip, 0);
		talloc_free(p);
	}
	CU_ASSERT_EQUAL(frame(msg1, n, &skip, &pings), (ssize_t)n);
	CU_ASSERT_EQUAL(pings, 0);
}

/* The same with the *scanned hint kept across calls, as a connection
 * does; the data starts with a lone CRLF whose skip appears only later. */
static void
test_every_split_r(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char *all = talloc_asprintf(ctx, "\r\n%s%s", msg2, msg1);
	size_t n = strlen(all), off = 0, scanned = 0, skip;
	int pings, got = 0;

	for (size_t i = 0; i <= n; i++) {
		char *p = talloc_memdup(ctx, all + off, i - off + 1);
		ssize_t r = sip_stream_frame_r(p, i - off, SIP_MAX_MSG_DEFAULT,
		                               &skip, &pings, &scanned);
		CU_ASSERT(r >= 0);
		talloc_free(p);
		if (r > 0) {
			CU_ASSERT_EQUAL(off + skip + (size_t)r, i);
			CU_ASSERT_EQUAL((size_t)r,
			                strlen(got == 0 ? msg2 : msg1));
			off = i;
			scanned = 0;
			got++;
		}
	}
	CU_ASSERT_EQUAL(got, 2);
	talloc_free(ctx);
}

static void
test_several(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	char *buf = talloc_asprintf(ctx, "\r\n\r\n%s\r\n%s\r\n\r\n\r\n\r\n%s",
	                            msg1, msg2, msg1);
	size_t len = strlen(buf), off = 0, skip;
	int pings, total_pings = 0, nmsg = 0;
	ssize_t r;

	while ((r = frame(buf + off, len - off, &skip, &pings)) > 0) {
		total_pings += pings;
		off += skip;
		struct sip_msg *m;
		struct sip_err err;
		CU_ASSERT_EQUAL(sip_parse(ctx, buf + off, (size_t)r, SIP_TP_TCP,
		                          SIP_MAX_MSG_DEFAULT, &m, &err),
		                0);
		CU_ASSERT_EQUAL(m->len, (size_t)r);
		off += (size_t)r;
		nmsg++;
	}
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(nmsg, 3);
	CU_ASSERT_EQUAL(total_pings, 3);
	CU_ASSERT_EQUAL(off, len);
	talloc_free(ctx);
}

static void
test_keepalive(void)
{
	size_t skip;
	int pings;

	CU_ASSERT_EQUAL(frame("\r\n\r\n", 4, &skip, &pings), 0);
	CU_ASSERT_EQUAL(skip, 4);
	CU_ASSERT_EQUAL(pings, 1);
	CU_ASSERT_EQUAL(frame("\r\n\r\n\r\n\r\n\r\n", 10, &skip, &pings), 0);
	CU_ASSERT_EQUAL(skip, 8);
	CU_ASSERT_EQUAL(pings, 2);
	/* half a ping waits for the rest */
	CU_ASSERT_EQUAL(frame("\r\n", 2, &skip, &pings), 0);
	CU_ASSERT_EQUAL(skip, 0);
	CU_ASSERT_EQUAL(frame("\r\n\r", 3, &skip, &pings), 0);
	CU_ASSERT_EQUAL(skip, 0);
	CU_ASSERT_EQUAL(pings, 0);
	CU_ASSERT_EQUAL(frame("\r", 1, &skip, &pings), 0);
	/* a folded Content-Length, bare LF line ends */
	const char *fold = "OPTIONS sip:a SIP/2.0\r\nContent-Length:\r\n 3\r\n"
	                   "X: y\r\n\r\nabcZ";
	CU_ASSERT_EQUAL(frame(fold, strlen(fold), &skip, &pings),
	                (ssize_t)strlen(fold) - 1);
	const char *lf = "OPTIONS sip:a SIP/2.0\nl: 2\n\nab";
	CU_ASSERT_EQUAL(frame(lf, strlen(lf), &skip, &pings),
	                (ssize_t)strlen(lf));
	CU_ASSERT_EQUAL(frame("", 0, &skip, &pings), 0);
	/* a lone CRLF before a message is skipped, not a ping */
	char buf[512];
	snprintf(buf, sizeof(buf), "\r\n%s", msg2);
	CU_ASSERT_EQUAL(frame(buf, strlen(buf), &skip, &pings),
	                (ssize_t)strlen(msg2));
	CU_ASSERT_EQUAL(skip, 2);
	CU_ASSERT_EQUAL(pings, 0);
}

/* sip_stream_no_cl(): after a framing error, is it a whole header block
 * without Content-Length (answerable: 400 Missing Content-Length)? */
static void
test_no_cl(void)
{
	static const char nocl[] = "OPTIONS sip:u@example.com SIP/2.0\r\n"
	                           "Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
	                           "Call-ID: c1\r\n\r\nbody?";
	static const char two[] = "OPTIONS sip:u SIP/2.0\r\nl: 1\r\n"
	                          "Content-Length: 2\r\n\r\nab";
	static const char bad[] = "OPTIONS sip:u SIP/2.0\r\n"
	                          "Content-Length: x\r\n\r\n";
	size_t hl = strlen(nocl) - strlen("body?"), skip;
	int pings;

	CU_ASSERT_EQUAL(frame(nocl, strlen(nocl), &skip, &pings), -1);
	CU_ASSERT_EQUAL(
	    sip_stream_no_cl(nocl, strlen(nocl), SIP_MAX_MSG_DEFAULT),
	    (ssize_t)hl);
	/* every prefix: not yet a whole header block, or exactly it */
	for (size_t i = 0; i < hl; i++)
		CU_ASSERT_EQUAL(sip_stream_no_cl(nocl, i, SIP_MAX_MSG_DEFAULT),
		                0);
	/* over max: not answered */
	CU_ASSERT_EQUAL(sip_stream_no_cl(nocl, strlen(nocl), 40), 0);
	/* two or a malformed Content-Length: another framing error */
	CU_ASSERT_EQUAL(sip_stream_no_cl(two, strlen(two), SIP_MAX_MSG_DEFAULT),
	                0);
	CU_ASSERT_EQUAL(sip_stream_no_cl(bad, strlen(bad), SIP_MAX_MSG_DEFAULT),
	                0);
	/* a message with its Content-Length is no such case */
	CU_ASSERT_EQUAL(
	    sip_stream_no_cl(msg1, strlen(msg1), SIP_MAX_MSG_DEFAULT), 0);
}

static void
test_errors(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	size_t skip;
	int pings;
	const char *bad[] = {
	    "OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n", /* no Content-Length */
	    "OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n",
	    "OPTIONS sip:a SIP/2.0\r\nContent-Length: 1x\r\n\r\n",
	    "OPTIONS sip:a SIP/2.0\r\nContent-Length: \r\n\r\n",
	    "OPTIONS sip:a SIP/2.0\r\nl: 1\r\nl: 1\r\n\r\nx",
	    "OPTIONS sip:a SIP/2.0\r\nl: 99999999999999999999\r\n\r\n",
	    "OPTIONS sip:a SIP/2.0\r\nContent-Length: 70000\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(frame(bad[i], strlen(bad[i]), &skip, &pings),
		                -1);
	/* a header section that never ends */
	size_t n = SIP_MAX_MSG_DEFAULT + 100;
	char *big = talloc_size(ctx, n);
	memcpy(big, "OPTIONS sip:a SIP/2.0\r\n", 23);
	for (size_t i = 23; i < n; i++)
		big[i] = (i % 40 == 39) ? '\n' : 'X';
	CU_ASSERT_EQUAL(frame(big, 1000, &skip, &pings), 0);
	CU_ASSERT_EQUAL(frame(big, n, &skip, &pings), -1);
	/* no start line within max */
	memset(big, 'A', n);
	CU_ASSERT_EQUAL(frame(big, n, &skip, &pings), -1);
	/* max counts the body too */
	CU_ASSERT_EQUAL(sip_stream_frame(msg1, strlen(msg1), strlen(msg1) - 1,
	                                 &skip, &pings),
	                -1);
	talloc_free(ctx);
}

int
suite_stream(void)
{
	CU_pSuite s = CU_add_suite("stream", NULL, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "split at every byte", test_every_split) ||
	    !CU_add_test(s, "split at every byte, with the scan hint",
	                 test_every_split_r) ||
	    !CU_add_test(s, "several messages and pings", test_several) ||
	    !CU_add_test(s, "CRLF keep-alives", test_keepalive) ||
	    !CU_add_test(s, "framing errors", test_errors) ||
	    !CU_add_test(s, "no Content-Length", test_no_cl))
		return -1;
	return 0;
}
