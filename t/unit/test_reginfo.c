/*
 * t/unit/test_reginfo.c: the RFC 3680 reginfo document (sip/reginfo.c):
 * the exact text of an IMS document, RFC 3680's own examples rebuilt and
 * compared with them (canonical XML), every document validated against the
 * RFC's schema with xmllint (t/xml/, offline through t/xml/catalog.xml),
 * the escaping of every field checked by reading the value back with
 * xmllint's XPath, control octets and bad UTF-8 refused, each contact event
 * and state, versions, qvalues, and the split of stored Contact params.
 * Runs from the repository's top folder (t/run-tests.sh does).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "sip/reginfo.h"

#define XSD "t/xml/rfc3680-reginfo.xsd"
#define XSI " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
#define XMLLINT "XML_CATALOG_FILES=t/xml/catalog.xml xmllint --nonet "

static char file[64];

static int
setup(void)
{
	int fd;

	snprintf(file, sizeof(file), "/tmp/afd-reginfo-XXXXXX");
	if ((fd = mkstemp(file)) == -1)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void)
{
	unlink(file);
	return 0;
}

/* Print d; NULL when reginfo_print failed. The text lives under ctx. */
static char *
print(TALLOC_CTX *ctx, const struct reginfo_doc *d)
{
	struct sip_buf b;

	sip_buf_init(&b, ctx, 256);
	if (reginfo_print(&b, d) == -1)
		return NULL;
	return b.s;
}

static void
put(const char *text)
{
	FILE *f = fopen(file, "w");

	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

/* xmllint's schema validation of text: 1 valid, 0 not. */
static int
valid(const char *text)
{
	char cmd[512];

	put(text);
	snprintf(cmd, sizeof(cmd),
	         XMLLINT "--noout --schema " XSD " %s 2>/dev/null", file);
	return system(cmd) == 0;
}

/* The output of an xmllint command on a file, under ctx ("" on none). */
static char *
run(TALLOC_CTX *ctx, const char *args, const char *path)
{
	char cmd[1024], buf[4096];
	char *out = talloc_strdup(ctx, "");
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), XMLLINT "%s %s 2>/dev/null", args, path);
	CU_ASSERT_FATAL((p = popen(cmd, "r")) != NULL);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		out = talloc_strndup_append(out, buf, n);
	pclose(p);
	return out;
}

/* An XPath string value read back from text by xmllint. */
static char *
xpath(TALLOC_CTX *ctx, const char *text, const char *expr)
{
	char args[512];
	char *v;
	size_t n;

	put(text);
	snprintf(args, sizeof(args), "--xpath '%s'", expr);
	v = run(ctx, args, file);
	/* xmllint ends the value with a newline of its own */
	if ((n = strlen(v)) > 0 && v[n - 1] == '\n')
		v[n - 1] = '\0';
	return v;
}

/* Canonical XML (whitespace-only text dropped) of a file. */
static char *
c14n(TALLOC_CTX *ctx, const char *path)
{
	return run(ctx, "--noblanks --c14n", path);
}

static const struct reginfo_contact ct_defaults = {
    .id = "c1",
    .state = REGINFO_CT_ACTIVE,
    .event = REGINFO_EV_REGISTERED,
    .expires = -1,
    .cseq = -1,
    .duration = -1,
    .retry_after = -1,
    .uri = "sip:u@192.0.2.1",
};

static void
test_names(void)
{
	static const char *const ev[] = {
	    "registered",  "created",   "refreshed",    "shortened", "expired",
	    "deactivated", "probation", "unregistered", "rejected"};

	CU_ASSERT_STRING_EQUAL(reginfo_doc_state_name(REGINFO_FULL), "full");
	CU_ASSERT_STRING_EQUAL(reginfo_doc_state_name(REGINFO_PARTIAL),
	                       "partial");
	CU_ASSERT_STRING_EQUAL(reginfo_reg_state_name(REGINFO_REG_INIT),
	                       "init");
	CU_ASSERT_STRING_EQUAL(reginfo_reg_state_name(REGINFO_REG_ACTIVE),
	                       "active");
	CU_ASSERT_STRING_EQUAL(reginfo_reg_state_name(REGINFO_REG_TERMINATED),
	                       "terminated");
	CU_ASSERT_STRING_EQUAL(reginfo_ct_state_name(REGINFO_CT_ACTIVE),
	                       "active");
	CU_ASSERT_STRING_EQUAL(reginfo_ct_state_name(REGINFO_CT_TERMINATED),
	                       "terminated");
	CU_ASSERT(reginfo_event_name(REGINFO_EV__COUNT) == NULL);
	CU_ASSERT(reginfo_reg_state_name((enum reginfo_reg_state)7) == NULL);
	for (int i = 0; i < REGINFO_EV__COUNT; i++) {
		CU_ASSERT_STRING_EQUAL(reginfo_event_name(i), ev[i]);
		CU_ASSERT(reginfo_event_parse(ev[i]) == i);
		CU_ASSERT(reginfo_event_state(i) ==
		          (i <= REGINFO_EV_SHORTENED ? REGINFO_CT_ACTIVE
		                                     : REGINFO_CT_TERMINATED));
	}
	CU_ASSERT(reginfo_event_parse("Registered") == -1);
	CU_ASSERT(reginfo_event_parse("") == -1);
	CU_ASSERT(reginfo_event_parse(NULL) == -1);
}

/* reginfo_escape of s: the text, or NULL when refused. */
static char *
esc(TALLOC_CTX *ctx, const char *s, size_t n)
{
	struct sip_buf b;

	sip_buf_init(&b, ctx, 16);
	return reginfo_escape(&b, s, n) == 0 ? b.s : NULL;
}

static void
test_escape(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	static const char *const bad[] = {"\x01",
	                                  "a\x1f",
	                                  "\x0b",
	                                  "\x0c",
	                                  "\x7f\x00", /* NUL: n = 2 */
	                                  "\xc3",
	                                  "\xc0\x80",
	                                  "\xed\xa0\x80",
	                                  "\xef\xbf\xbe",
	                                  "\xef\xbf\xbf",
	                                  "\xf4\x90\x80\x80",
	                                  "\xf8\x88\x80\x80\x80",
	                                  "\xe2\x82",
	                                  "\x80"};

	CU_ASSERT_STRING_EQUAL(esc(t, "a&b<c>d\"e'f", 11),
	                       "a&amp;b&lt;c&gt;d&quot;e&apos;f");
	CU_ASSERT_STRING_EQUAL(esc(t, "\t\n\r", 3), "&#9;&#10;&#13;");
	CU_ASSERT_STRING_EQUAL(esc(t, "", 0), "");
	CU_ASSERT_STRING_EQUAL(esc(t, "plain;x=y", 9), "plain;x=y");
	/* UTF-8 goes through as it is; DEL is allowed in XML 1.0 */
	CU_ASSERT_STRING_EQUAL(
	    esc(t, "J\xc3\xb6\xe2\x82\xac\xf0\x9f\x93\x9e\x7f", 11),
	    "J\xc3\xb6\xe2\x82\xac\xf0\x9f\x93\x9e\x7f");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = i == 4 ? 2 : strlen(bad[i]);
		CU_ASSERT(esc(t, bad[i], n) == NULL);
	}
	talloc_free(t);
}

/* The exact text afd sends for an IMS phone (the seed capture's contact),
 * and that it validates. */
static void
test_ims_document(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct reginfo_param *prm;
	int np;
	char *doc, *v;

	CU_ASSERT_FATAL(
	    reginfo_params_split(
	        t,
	        "audio;video;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service."
	        "ims.icsi.mmtel\";+g.3gpp.smsip;+sip.instance=\"<urn:gsma:"
	        "imei:86539405-000273-0>\"",
	        &prm, &np) == 0);
	CU_ASSERT_FATAL(np == 5);
	struct reginfo_contact ct = ct_defaults;
	ct.id = "c42";
	ct.expires = 599999;
	ct.has_q = 1;
	ct.q = 0.5;
	ct.callid = "XP0VHy42Rr8GeaFMRdy@182.0.123.58";
	ct.cseq = 2;
	ct.uri = "sip:13800011103@182.0.123.58:5060";
	ct.params = prm;
	ct.nparams = np;
	struct reginfo_registration regs[2] = {
	    {.aor = "sip:13800011103@one.att.net",
	     .id = "a1",
	     .state = REGINFO_REG_ACTIVE,
	     .contacts = &ct,
	     .ncontacts = 1},
	    {.aor = "tel:+13800011103", .id = "a2", .state = REGINFO_REG_INIT},
	};
	struct reginfo_doc d = {
	    .version = 0, .state = REGINFO_FULL, .regs = regs, .nregs = 2};

	doc = print(t, &d);
	CU_ASSERT_FATAL(doc != NULL);
	CU_ASSERT_STRING_EQUAL(
	    doc,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"0\" "
	    "state=\"full\">\n"
	    "\t<registration aor=\"sip:13800011103@one.att.net\" id=\"a1\" "
	    "state=\"active\">\n"
	    "\t\t<contact id=\"c42\" state=\"active\" event=\"registered\" "
	    "expires=\"599999\" q=\"0.5\" "
	    "callid=\"XP0VHy42Rr8GeaFMRdy@182.0.123.58\" cseq=\"2\">\n"
	    "\t\t\t<uri>sip:13800011103@182.0.123.58:5060</uri>\n"
	    "\t\t\t<unknown-param name=\"audio\"></unknown-param>\n"
	    "\t\t\t<unknown-param name=\"video\"></unknown-param>\n"
	    "\t\t\t<unknown-param name=\"+g.3gpp.icsi-ref\">urn%3Aurn-7%3A"
	    "3gpp-service.ims.icsi.mmtel</unknown-param>\n"
	    "\t\t\t<unknown-param name=\"+g.3gpp.smsip\"></unknown-param>\n"
	    "\t\t\t<unknown-param name=\"+sip.instance\">&lt;urn:gsma:imei:"
	    "86539405-000273-0&gt;</unknown-param>\n"
	    "\t\t</contact>\n"
	    "\t</registration>\n"
	    "\t<registration aor=\"tel:+13800011103\" id=\"a2\" "
	    "state=\"init\"/>\n"
	    "</reginfo>\n");
	CU_ASSERT(valid(doc));
	v = xpath(t, doc,
	          "string(//*[local-name()=\"unknown-param\"]"
	          "[@name=\"+sip.instance\"])");
	CU_ASSERT_STRING_EQUAL(v, "<urn:gsma:imei:86539405-000273-0>");
	talloc_free(t);
}

/* RFC 3680's examples, built from structs: the same canonical XML. */
static void
test_rfc_examples(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	char *doc, *want, *got, *x;

	/* section 6, NOTIFY (3): no registration yet */
	struct reginfo_registration r3 = {.aor = "sip:joe@example.com",
	                                  .id = "a7",
	                                  .state = REGINFO_REG_INIT};
	struct reginfo_doc d3 = {
	    .version = 0, .state = REGINFO_FULL, .regs = &r3, .nregs = 1};
	doc = print(t, &d3);
	CU_ASSERT_FATAL(doc != NULL);
	CU_ASSERT(valid(doc));
	got = c14n(t, file);
	want = c14n(t, "t/xml/rfc3680-notify-3.xml");
	CU_ASSERT(want[0] != '\0');
	CU_ASSERT_STRING_EQUAL(got, want);

	/* section 6, NOTIFY (7): partial, one contact registered */
	struct reginfo_contact c7 = ct_defaults;
	c7.id = "76";
	c7.duration = 0;
	c7.uri = "sip:joe@pc34.example.com";
	struct reginfo_registration r7 = {.aor = "sip:joe@example.com",
	                                  .id = "a7",
	                                  .state = REGINFO_REG_ACTIVE,
	                                  .contacts = &c7,
	                                  .ncontacts = 1};
	struct reginfo_doc d7 = {
	    .version = 1, .state = REGINFO_PARTIAL, .regs = &r7, .nregs = 1};
	doc = print(t, &d7);
	CU_ASSERT_FATAL(doc != NULL);
	CU_ASSERT(valid(doc));
	got = c14n(t, file);
	want = c14n(t, "t/xml/rfc3680-notify-7.xml");
	CU_ASSERT_STRING_EQUAL(got, want);

	/* section 5.3: two contacts, one expired, with q */
	struct reginfo_contact c53[2] = {ct_defaults, ct_defaults};
	c53[0].id = "76";
	c53[0].duration = 7322;
	c53[0].has_q = 1;
	c53[0].q = 0.8;
	c53[0].uri = "sip:user@pc887.example.com";
	c53[1].id = "77";
	c53[1].state = REGINFO_CT_TERMINATED;
	c53[1].event = REGINFO_EV_EXPIRED;
	c53[1].duration = 3600;
	c53[1].has_q = 1;
	c53[1].q = 0.5;
	c53[1].uri = "sip:user@university.edu";
	struct reginfo_registration r53 = {.aor = "sip:user@example.com",
	                                   .id = "as9",
	                                   .state = REGINFO_REG_ACTIVE,
	                                   .contacts = c53,
	                                   .ncontacts = 2};
	struct reginfo_doc d53 = {
	    .version = 0, .state = REGINFO_FULL, .regs = &r53, .nregs = 1};
	doc = print(t, &d53);
	CU_ASSERT_FATAL(doc != NULL);
	CU_ASSERT(valid(doc));
	got = c14n(t, file);
	want = c14n(t, "t/xml/rfc3680-example.xml");
	/* the example declares an xsi prefix it never uses */
	x = strstr(want, XSI);
	CU_ASSERT_FATAL(x != NULL);
	memmove(x, x + strlen(XSI), strlen(x + strlen(XSI)) + 1);
	CU_ASSERT_STRING_EQUAL(got, want);
	talloc_free(t);
}

/* Every text field holding every character XML treats specially: the
 * document validates and each value reads back unchanged. */
static void
test_escape_every_field(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	const char *nasty = "a&b<c>d\"e'f\tg\rh\ni J\xc3\xb6";
	/* xmllint prints the read-back value; a CR or LF in it would be the
	 * same bytes: compare against the value as XML gives it back */
	struct reginfo_param prm[2] = {{.name = nasty, .value = nasty},
	                               {.name = "flag", .value = NULL}};
	struct reginfo_contact ct = ct_defaults;
	ct.id = nasty;
	ct.callid = nasty;
	ct.uri = nasty;
	ct.display_name = nasty;
	ct.params = prm;
	ct.nparams = 2;
	struct reginfo_registration r = {.aor = "sip:x@y",
	                                 .id = nasty,
	                                 .state = REGINFO_REG_ACTIVE,
	                                 .contacts = &ct,
	                                 .ncontacts = 1};
	struct reginfo_doc d = {
	    .version = 3, .state = REGINFO_FULL, .regs = &r, .nregs = 1};
	static const char *const exprs[] = {
	    "string(//*[local-name()=\"registration\"]/@id)",
	    "string(//*[local-name()=\"contact\"]/@id)",
	    "string(//*[local-name()=\"contact\"]/@callid)",
	    "string(//*[local-name()=\"uri\"])",
	    "string(//*[local-name()=\"display-name\"])",
	    "string(//*[local-name()=\"unknown-param\"][1]/@name)",
	    "string(//*[local-name()=\"unknown-param\"][1])",
	};
	char *doc, *v;

	doc = print(t, &d);
	CU_ASSERT_FATAL(doc != NULL);
	/* nothing raw that XML would take as markup or normalise */
	CU_ASSERT(strstr(doc, "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#13;h"
	                      "&#10;i J\xc3\xb6") != NULL);
	CU_ASSERT(valid(doc));
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		v = xpath(t, doc, exprs[i]);
		CU_ASSERT_STRING_EQUAL(v, nasty);
	}
	/* the aor too (anyURI: checked apart, the schema is lax with it) */
	r.aor = "sip:a&b<c>@y";
	doc = print(t, &d);
	CU_ASSERT_FATAL(doc != NULL);
	v = xpath(t, doc, "string(//*[local-name()=\"registration\"]/@aor)");
	CU_ASSERT_STRING_EQUAL(v, "sip:a&b<c>@y");
	talloc_free(t);
}

/* A control octet or bad UTF-8 in any field: no document. */
static void
test_refused(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	const char *ctl = "x\x01y", *utf = "x\xc3(";
	struct reginfo_param prm = {.name = "p", .value = "v"};
	struct reginfo_contact ct = ct_defaults;
	struct reginfo_registration r = {.aor = "sip:x@y",
	                                 .id = "a",
	                                 .state = REGINFO_REG_ACTIVE,
	                                 .contacts = &ct,
	                                 .ncontacts = 1};
	struct reginfo_doc d = {
	    .version = 0, .state = REGINFO_FULL, .regs = &r, .nregs = 1};
	const char **fields[] = {&r.aor,    &r.id,      &ct.id,
	                         &ct.uri,   &ct.callid, &ct.display_name,
	                         &prm.name, &prm.value};

	ct.params = &prm;
	ct.nparams = 1;
	CU_ASSERT(print(t, &d) != NULL);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *keep = *fields[i];
		*fields[i] = ctl;
		CU_ASSERT(print(t, &d) == NULL);
		*fields[i] = utf;
		CU_ASSERT(print(t, &d) == NULL);
		*fields[i] = keep;
	}
	CU_ASSERT(print(t, &d) != NULL);
	/* required fields missing, enums out of range */
	r.aor = NULL;
	CU_ASSERT(print(t, &d) == NULL);
	r.aor = "sip:x@y";
	ct.uri = NULL;
	CU_ASSERT(print(t, &d) == NULL);
	ct.uri = "sip:u@h";
	ct.id = NULL;
	CU_ASSERT(print(t, &d) == NULL);
	ct.id = "c";
	prm.name = NULL;
	CU_ASSERT(print(t, &d) == NULL);
	prm.name = "p";
	ct.event = REGINFO_EV__COUNT;
	CU_ASSERT(print(t, &d) == NULL);
	ct.event = REGINFO_EV_CREATED;
	d.state = (enum reginfo_doc_state)2;
	CU_ASSERT(print(t, &d) == NULL);
	d.state = REGINFO_PARTIAL;
	CU_ASSERT(print(t, &d) != NULL);
	talloc_free(t);
}

/* Every event with its state, all in one document: valid, each one read
 * back. */
static void
test_events(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct reginfo_contact ct[REGINFO_EV__COUNT];
	char ids[REGINFO_EV__COUNT][24], expr[256], *doc, *v;

	for (int i = 0; i < REGINFO_EV__COUNT; i++) {
		ct[i] = ct_defaults;
		reginfo_contact_id(ids[i], i + 1);
		ct[i].id = ids[i];
		ct[i].event = i;
		ct[i].state = reginfo_event_state(i);
		ct[i].expires = ct[i].state == REGINFO_CT_ACTIVE ? 3600 : 0;
		ct[i].retry_after = i == REGINFO_EV_PROBATION ? 30 : -1;
	}
	struct reginfo_registration r = {.aor = "sip:x@y",
	                                 .id = "a",
	                                 .state = REGINFO_REG_ACTIVE,
	                                 .contacts = ct,
	                                 .ncontacts = REGINFO_EV__COUNT};
	struct reginfo_doc d = {
	    .version = 9, .state = REGINFO_PARTIAL, .regs = &r, .nregs = 1};
	doc = print(t, &d);
	CU_ASSERT_FATAL(doc != NULL);
	CU_ASSERT(valid(doc));
	for (int i = 0; i < REGINFO_EV__COUNT; i++) {
		snprintf(expr, sizeof(expr),
		         "concat(//*[local-name()=\"contact\"][@id=\"c%d\"]/"
		         "@state, \" \", //*[local-name()=\"contact\"][@id="
		         "\"c%d\"]/@event)",
		         i + 1, i + 1);
		v = xpath(t, doc, expr);
		CU_ASSERT_STRING_EQUAL(
		    v, talloc_asprintf(t, "%s %s",
		                       reginfo_ct_state_name(ct[i].state),
		                       reginfo_event_name(i)));
	}
	CU_ASSERT(strstr(doc, "event=\"probation\" expires=\"0\" "
	                      "retry-after=\"30\"") != NULL);
	/* every registration state, terminated with its last contact */
	r.state = REGINFO_REG_TERMINATED;
	r.ncontacts = 1;
	ct[0] = ct[REGINFO_EV_UNREGISTERED];
	doc = print(t, &d);
	CU_ASSERT_FATAL(doc != NULL);
	CU_ASSERT(valid(doc));
	CU_ASSERT(strstr(doc, "state=\"terminated\">\n\t\t<contact "
	                      "id=\"c8\" state=\"terminated\" "
	                      "event=\"unregistered\"") != NULL);
	talloc_free(t);
}

static void
test_versions_and_q(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	static const struct {
		double q;
		const char *s;
	} qs[] = {{0.5, "0.5"},     {1, "1"},     {0, "0"},
	          {0.125, "0.125"}, {0.8, "0.8"}, {0.05, "0.05"},
	          {1.5, "1"},       {-1, "0"},    {0.999, "0.999"}};
	struct reginfo_contact ct = ct_defaults;
	struct reginfo_registration r = {.aor = "sip:x@y",
	                                 .id = "a",
	                                 .state = REGINFO_REG_ACTIVE,
	                                 .contacts = &ct,
	                                 .ncontacts = 1};
	struct reginfo_doc d = {.state = REGINFO_FULL, .regs = &r, .nregs = 1};
	static const uint64_t vs[] = {0, 1, 2, 4294967296ULL, UINT64_MAX};
	char want[128], *doc;

	for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		d.version = vs[i];
		doc = print(t, &d);
		CU_ASSERT_FATAL(doc != NULL);
		snprintf(want, sizeof(want), " version=\"%" PRIu64 "\" ",
		         vs[i]);
		CU_ASSERT(strstr(doc, want) != NULL);
		CU_ASSERT(valid(doc));
	}
	ct.has_q = 1;
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		ct.q = qs[i].q;
		doc = print(t, &d);
		CU_ASSERT_FATAL(doc != NULL);
		snprintf(want, sizeof(want), " q=\"%s\">", qs[i].s);
		CU_ASSERT(strstr(doc, want) != NULL);
	}
	/* a registration with no contacts and no registration at all */
	r.ncontacts = 0;
	r.state = REGINFO_REG_INIT;
	doc = print(t, &d);
	CU_ASSERT(doc != NULL && valid(doc));
	d.nregs = 0;
	doc = print(t, &d);
	CU_ASSERT(doc != NULL && valid(doc));
	CU_ASSERT(doc != NULL && strstr(doc, "state=\"full\">\n</reginfo>\n"));
	talloc_free(t);
}

static void
test_params_split(void)
{
	TALLOC_CTX *t = talloc_new(NULL);
	struct reginfo_param *p;
	int n;

	CU_ASSERT(reginfo_params_split(t, "", &p, &n) == 0 && n == 0 &&
	          p == NULL);
	CU_ASSERT(reginfo_params_split(t, NULL, &p, &n) == 0 && n == 0);
	CU_ASSERT_FATAL(
	    reginfo_params_split(t,
	                         "a; b=1 ;c=\"x;y\\\"z\";;d=\"\";=e;"
	                         "+sip.instance=\"<urn:uuid:1>\"",
	                         &p, &n) == 0);
	CU_ASSERT_FATAL(n == 5);
	CU_ASSERT_STRING_EQUAL(p[0].name, "a");
	CU_ASSERT(p[0].value == NULL);
	CU_ASSERT_STRING_EQUAL(p[1].name, "b");
	CU_ASSERT_STRING_EQUAL(p[1].value, "1");
	CU_ASSERT_STRING_EQUAL(p[2].name, "c");
	CU_ASSERT_STRING_EQUAL(p[2].value, "x;y\"z");
	CU_ASSERT_STRING_EQUAL(p[3].name, "d");
	CU_ASSERT_STRING_EQUAL(p[3].value, "");
	CU_ASSERT_STRING_EQUAL(p[4].name, "+sip.instance");
	CU_ASSERT_STRING_EQUAL(p[4].value, "<urn:uuid:1>");
	CU_ASSERT(reginfo_params_split(t, "a=\"open", &p, &n) == -1);
	CU_ASSERT(n == 0 && p == NULL);
	talloc_free(t);
}

static void
test_ids(void)
{
	char a[16], b[16], c[24];

	reginfo_aor_id(a, "sip:alice@example.com");
	reginfo_aor_id(b, "sip:alice@example.com");
	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT(strlen(a) == 9 && a[0] == 'a');
	reginfo_aor_id(b, "sip:bob@example.com");
	CU_ASSERT(strcmp(a, b) != 0);
	reginfo_aor_id(a, ""); /* FNV-1a offset basis */
	CU_ASSERT_STRING_EQUAL(a, "a811c9dc5");
	reginfo_contact_id(c, 17);
	CU_ASSERT_STRING_EQUAL(c, "c17");
}

int
suite_reginfo(void)
{
	CU_pSuite s = CU_add_suite("reginfo", setup, teardown);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "state and event names", test_names) ||
	    !CU_add_test(s, "XML escaping", test_escape) ||
	    !CU_add_test(s, "an IMS document, exact", test_ims_document) ||
	    !CU_add_test(s, "RFC 3680 examples", test_rfc_examples) ||
	    !CU_add_test(s, "every field escaped", test_escape_every_field) ||
	    !CU_add_test(s, "control octets refused", test_refused) ||
	    !CU_add_test(s, "each event and state", test_events) ||
	    !CU_add_test(s, "versions and q", test_versions_and_q) ||
	    !CU_add_test(s, "stored params split", test_params_split) ||
	    !CU_add_test(s, "registration and contact ids", test_ids))
		return -1;
	return 0;
}
