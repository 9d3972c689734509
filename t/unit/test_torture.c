/*
 * t/unit/test_torture.c: the RFC 4475 torture messages, read at run time
 * from the shared test data (manifest.tsv lists them): each valid message
 * parses to the right values, each invalid one is refused by sip_parse()
 * or sip_check_request() with the expected class of status, none crashes;
 * every message also goes through the stream framer and prints back.
 *
 * The shared directory: $AFD_SHARED, else ../shared from the repo root
 * (the tests run there), else /work/shared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <CUnit/CUnit.h>

#include "sip/sip.h"

#define S(lit) SIP_STR_LIT(lit)
#define CU_ASSERT_STR(x, lit) CU_ASSERT(sip_str_eq((x), S(lit)))

/* Path of a file in the shared directory, under ctx. */
static char *
shared_path(TALLOC_CTX *ctx, const char *rel)
{
	const char *dirs[] = {getenv("AFD_SHARED"), "../shared",
	                      "/work/shared"};
	struct stat st;

	for (size_t i = 0; i < 3; i++) {
		if (dirs[i] == NULL || stat(dirs[i], &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		return talloc_asprintf(ctx, "%s/%s", dirs[i], rel);
	}
	return talloc_asprintf(ctx, "/work/shared/%s", rel);
}

/* A whole file of the shared test data, under ctx (NUL added, not counted
 * in *len), or NULL. */
char *sip_test_read_shared(TALLOC_CTX *ctx, const char *rel, size_t *len);

char *
sip_test_read_shared(TALLOC_CTX *ctx, const char *rel, size_t *len)
{
	char *path = shared_path(ctx, rel), *buf = NULL;
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL)
		goto out;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0)
		goto out;
	if ((buf = talloc_size(ctx, (size_t)n + 1)) == NULL)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		talloc_free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	if (f != NULL)
		fclose(f);
	talloc_free(path);
	return buf;
}

/* What afd does with each message: 0 accept, a status to answer, or -1
 * drop silently; and the reason given (NULL: not checked). */
static const struct {
	const char *file;
	int want;
	const char *reason;
} expect[] = {
    {"wsinv.dat", 0, NULL},
    {"intmeth.dat", 0, NULL},
    {"esc01.dat", 0, NULL},
    {"escnull.dat", 0, NULL},
    {"esc02.dat", 0, NULL},
    {"lwsdisp.dat", 0, NULL},
    {"longreq.dat", 0, NULL},
    {"dblreq.dat", 0, NULL},
    {"semiuri.dat", 0, NULL},
    {"transports.dat", 0, NULL},
    {"mpart01.dat", 0, NULL},
    {"unreason.dat", 0, NULL},
    {"noreason.dat", 0, NULL},
    {"badinv01.dat", 400, "Malformed Via"},
    {"clerr.dat", 400, "Content-Length Exceeds Message"},
    {"ncl.dat", 400, "Malformed Content-Length"},
    {"scalar02.dat", 400, "Malformed CSeq"},
    {"scalarlg.dat", -1, "Malformed CSeq"},
    {"quotbal.dat", 400, "Malformed To"},
    {"ltgtruri.dat", 400, "Malformed Request-URI"},
    {"lwsruri.dat", 400, "Malformed Request-URI"},
    {"lwsstart.dat", 400, "Malformed Request-URI"},
    {"trws.dat", 400, "Malformed Request-Line"},
    {"escruri.dat", 400, "Headers In Request-URI"},
    {"baddate.dat", 0, NULL},
    {"regbadct.dat", 400, "Malformed Contact"},
    {"badaspec.dat", 400, "Malformed To"},
    {"baddn.dat", 400, "Malformed From"},
    {"badvers.dat", 505, "Version Not Supported"},
    {"mismatch01.dat", 400, "CSeq Method Mismatch"},
    {"mismatch02.dat", 400, "CSeq Method Mismatch"},
    {"bigcode.dat", -1, "Malformed Status-Line"},
    {"badbranch.dat", 0, NULL},
    {"insuf.dat", 400, "Missing From"},
    {"unkscm.dat", 416, "Unsupported URI Scheme"},
    {"novelsc.dat", 416, "Unsupported URI Scheme"},
    {"unksm2.dat", 0, NULL},
    {"bext01.dat", 0, NULL},
    {"invut.dat", 0, NULL},
    {"regaut01.dat", 0, NULL},
    {"multi01.dat", 400, "Multiple From"},
    {"mcl01.dat", 400, "Multiple Content-Length"},
    {"bcast.dat", 0, NULL},
    {"zeromf.dat", 0, NULL},
    {"cparam01.dat", 0, NULL},
    {"cparam02.dat", 0, NULL},
    {"regescrt.dat", 0, NULL},
    {"sdp01.dat", 0, NULL},
    {"inv2543.dat", 400, "Missing Max-Forwards"},
    {"test.dat", -1, "Malformed Request-Line"},
};

#define NEXPECT (sizeof(expect) / sizeof(expect[0]))

static int
expected(const char *file, const char **reason)
{
	for (size_t i = 0; i < NEXPECT; i++)
		if (strcmp(expect[i].file, file) == 0) {
			*reason = expect[i].reason;
			return expect[i].want;
		}
	return -2;
}

/* Parse and check; returns 0 accepted, the status, or -1 dropped. */
static int
outcome_tp(TALLOC_CTX *ctx, const char *buf, size_t len, enum sip_transport tp,
           struct sip_msg **out, struct sip_err *err)
{
	*out = NULL;
	err->reason[0] = '\0';
	if (sip_parse(ctx, buf, len, tp, SIP_MAX_MSG_DEFAULT, out, err) < 0)
		return err->status == 0 ? -1 : err->status;
	if (sip_check_request(*out, err) < 0)
		return err->status;
	return 0;
}

static int
outcome(TALLOC_CTX *ctx, const char *buf, size_t len, struct sip_msg **out)
{
	struct sip_err err;

	return outcome_tp(ctx, buf, len, SIP_TP_UDP, out, &err);
}

static struct sip_msg *
load(TALLOC_CTX *ctx, const char *file)
{
	char rel[128];
	size_t len;
	char *buf;
	struct sip_msg *m;

	snprintf(rel, sizeof(rel), "testdata/rfc4475/messages/%s", file);
	buf = sip_test_read_shared(ctx, rel, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_EQUAL(outcome(ctx, buf, len, &m), 0);
	return m;
}

/* Every manifest row: the outcome of its message, and no harm done by
 * framing, printing or answering it. */
static void
test_manifest(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	size_t len, mlen, rows = 0;
	char *man =
	    sip_test_read_shared(ctx, "testdata/rfc4475/manifest.tsv", &len);
	char *line, *save = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(man);
	for (line = strtok_r(man, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char file[64], cls[64], rel[128];
		if (strncmp(line, "file\t", 5) == 0)
			continue;
		if (sscanf(line, "%63[^\t]\t%*[^\t]\t%*[^\t]\t%63[^\t]", file,
		           cls) != 2)
			continue;
		rows++;
		const char *reason = NULL;
		int want = expected(file, &reason);
		CU_ASSERT_NOT_EQUAL(want, -2);
		if (strcmp(cls, "invalid-must-reject-with-4xx") == 0)
			CU_ASSERT(want >= 400 && want < 500);
		snprintf(rel, sizeof(rel), "testdata/rfc4475/messages/%s",
		         file);
		char *buf = sip_test_read_shared(ctx, rel, &mlen);
		CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
		struct sip_msg *m;
		struct sip_err err;
		int got = outcome_tp(ctx, buf, mlen, SIP_TP_UDP, &m, &err);
		if (got != want || (reason && strcmp(reason, err.reason)))
			fprintf(stderr, "\n%s: want %d %s, got %d %s\n", file,
			        want, reason ? reason : "", got, err.reason);
		CU_ASSERT_EQUAL(got, want);
		if (reason != NULL)
			CU_ASSERT_STRING_EQUAL(err.reason, reason);
		if (m != NULL) {
			size_t n;
			char *r = sip_resp_simple(ctx, m, 400, NULL, S("t"),
			                          NULL, &n);
			CU_ASSERT_PTR_NOT_NULL(r);
			char *p = sip_msg_print(ctx, m, &n);
			CU_ASSERT_PTR_NOT_NULL(p);
			/* an accepted message prints back as received */
			if (got == 0) {
				CU_ASSERT_EQUAL(n, m->len);
				CU_ASSERT(memcmp(p, m->buf, n) == 0);
			}
		}
		size_t skip;
		int pings;
		ssize_t fr = sip_stream_frame(buf, mlen, SIP_MAX_MSG_DEFAULT,
		                              &skip, &pings);
		CU_ASSERT(fr >= -1 && fr <= (ssize_t)mlen);
		/* what the framer cuts out fares on TCP as on UDP */
		if (fr > 0) {
			struct sip_msg *t;
			struct sip_err terr;
			CU_ASSERT_EQUAL(outcome_tp(ctx, buf + skip, (size_t)fr,
			                           SIP_TP_TCP, &t, &terr),
			                got);
		}
	}
	CU_ASSERT_EQUAL(rows, NEXPECT);
	talloc_free(ctx);
}

static void
test_wsinv(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_msg *m = load(ctx, "wsinv.dat");
	struct sip_addr *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->mid, SIP_M_INVITE);
	CU_ASSERT_EQUAL(m->max_forwards, 68);
	CU_ASSERT_EQUAL(m->cseq.num, 9);
	CU_ASSERT_EQUAL(m->cseq.mid, SIP_M_INVITE);
	CU_ASSERT_STR(m->call_id, "wsinv.ndaksdj@192.0.2.1");
	CU_ASSERT_STR(m->to->tag, "1918181833n");
	CU_ASSERT_STR(m->from->tag, "98asjd8");
	CU_ASSERT_STR(m->from->display, "J Rosenberg \\\\\\\"");
	CU_ASSERT_STR(m->via->host, "192.0.2.2");
	CU_ASSERT_STR(m->via->branch, "390skdjuw");
	CU_ASSERT_STR(m->via->next->transport, "TCP");
	CU_ASSERT_STR(m->via->next->host, "spindle.example.com");
	CU_ASSERT_STR(m->via->next->branch, "z9hG4bK9ikj8");
	CU_ASSERT_STR(m->via->next->next->host, "192.168.255.111");
	CU_ASSERT_STR(m->via->next->next->branch, "z9hG4bK30239");
	CU_ASSERT_PTR_NULL(m->via->next->next->next);
	CU_ASSERT_EQUAL(m->content_length, 150);
	CU_ASSERT_EQUAL(m->body.len, 150);
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_STR(a->display, "Quoted string \\\"\\\"");
	CU_ASSERT_STR(sip_param_find(a->params, "newparam")->value, "newvalue");
	CU_ASSERT_STR(sip_param_find(a->params, "q")->value, "0.33");
	CU_ASSERT_PTR_NOT_NULL(sip_param_find(a->params, "secondparam"));
	talloc_free(ctx);
}

static void
test_valid_values(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);
	struct sip_msg *m;
	struct sip_addr *a;

	m = load(ctx, "intmeth.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->mid, SIP_M_UNKNOWN);
	CU_ASSERT_STR(m->method, "!interesting-Method0123456789_*+`.%indeed'~");
	CU_ASSERT_STR(m->ruri.user,
	              "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
	CU_ASSERT_STR(m->ruri.password,
	              "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
	CU_ASSERT_EQUAL(m->to->display.len, 20);
	CU_ASSERT_STR(m->from->display, "token1~` token2'+_ token3*%!.-");
	CU_ASSERT_STR(m->from->tag, "_token~1'+`*%!-.");
	CU_ASSERT_EQUAL(m->cseq.num, 139122385);

	m = load(ctx, "esc01.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STR(m->ruri.user, "sips%3Auser%40example.com");
	CU_ASSERT_STR(m->to->uri.user, "%75se%72");
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_STR(sip_param_find(a->uri.params, "n%61me")->value,
	              "v%61lue%25%34%31");

	m = load(ctx, "escnull.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_STR(a->uri.user, "%00");
	CU_ASSERT_STR(a->next->uri.user, "%00%00");

	m = load(ctx, "esc02.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->mid, SIP_M_UNKNOWN);
	CU_ASSERT_STR(m->from->display, "%Z%45");
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a->next);
	CU_ASSERT_PTR_NULL(a->next->next);

	m = load(ctx, "lwsdisp.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STR(m->from->display, "caller");

	m = load(ctx, "longreq.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	int nvia = 0;
	for (struct sip_via *v = m->via; v != NULL; v = v->next)
		nvia++;
	CU_ASSERT_EQUAL(nvia, 34);
	CU_ASSERT_STR(m->via->host, "sip33.example.com");
	CU_ASSERT_EQUAL(m->to->display.len > 100, 1);

	m = load(ctx, "dblreq.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->mid, SIP_M_REGISTER);
	CU_ASSERT_EQUAL(m->body.len, 0);
	CU_ASSERT_EQUAL(m->len, 300); /* the REGISTER and its empty line */

	m = load(ctx, "semiuri.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STR(m->ruri.user, "user;par=u%40example.net");
	CU_ASSERT_STR(m->ruri.host, "example.com");
	CU_ASSERT_PTR_NULL(m->ruri.params);

	m = load(ctx, "transports.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STR(m->via->next->next->next->transport, "UNKNOWN");

	m = load(ctx, "mpart01.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->body.len, 553);
	CU_ASSERT(m->via->rport);

	m = load(ctx, "unreason.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->status, 200);

	m = load(ctx, "noreason.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->status, 100);
	CU_ASSERT_EQUAL(m->reason.len, 0);

	m = load(ctx, "cparam01.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_PTR_NULL(a->uri.params);
	CU_ASSERT_PTR_NOT_NULL(sip_param_find(a->params, "unknownparam"));

	m = load(ctx, "cparam02.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_PTR_NOT_NULL(sip_param_find(a->uri.params, "unknownparam"));
	CU_ASSERT_PTR_NULL(a->params);

	m = load(ctx, "regescrt.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sip_msg_addrs(ctx, m->first[SIP_HDR_CONTACT], &a), 0);
	CU_ASSERT_STR(a->uri.headers, "Route=%3Csip:sip.example.com%3E");

	m = load(ctx, "unksm2.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->to->uri.scheme, SIP_SCHEME_OTHER);
	CU_ASSERT_EQUAL(m->from->uri.scheme, SIP_SCHEME_OTHER);

	m = load(ctx, "zeromf.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->max_forwards, 0);

	m = load(ctx, "badbranch.dat");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STR(m->via->branch, "z9hG4bK");
	talloc_free(ctx);
}

int
suite_torture(void)
{
	CU_pSuite s = CU_add_suite("torture", NULL, NULL);

	if (s == NULL ||
	    !CU_add_test(s, "every RFC 4475 message", test_manifest) ||
	    !CU_add_test(s, "wsinv values", test_wsinv) ||
	    !CU_add_test(s, "valid messages' values", test_valid_values))
		return -1;
	return 0;
}
