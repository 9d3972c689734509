/*
 * workers/method.c: the method table (see method.h) and the header lines
 * printed from it. The lines are built once, on first use, into static
 * buffers: the table is constant for the program's life.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "workers/method.h"

static const char *const reg_tags[] = {"path", "outbound", NULL};
/* what the B2BUA passes between the legs: the phones do the work */
static const char *const call_tags[] = {"100rel", "timer", "precondition",
                                        NULL};

static const struct method methods[] = {
    /* sec-agree accepted without IPsec (workers/auth.h), not advertised */
    {SIP_M_REGISTER, reg_serve, METHOD_ANY,
     METHOD_AUTH | METHOD_WRITES | METHOD_SECAGREE, reg_tags},
    {SIP_M_OPTIONS, options_serve, METHOD_ANY, 0, NULL},
    {SIP_M_SUBSCRIBE, regn_serve, METHOD_ANY,
     METHOD_AUTH | METHOD_WRITES | METHOD_SECAGREE, NULL},
    /* calls (workers/b2bua.c); ACK never reaches a row: sipd hands it to
     * the B2BUA */
    {SIP_M_INVITE, b2bua_serve, METHOD_ANY,
     METHOD_AUTH | METHOD_WRITES | METHOD_SECAGREE, call_tags},
    {SIP_M_ACK, b2bua_serve, METHOD_ANY, 0, NULL},
    {SIP_M_BYE, b2bua_serve, METHOD_ANY, METHOD_WRITES | METHOD_SECAGREE, NULL},
    {SIP_M_CANCEL, b2bua_serve, METHOD_ANY, METHOD_WRITES | METHOD_SECAGREE,
     NULL},
    {SIP_M_PRACK, b2bua_serve, METHOD_ANY, METHOD_WRITES | METHOD_SECAGREE,
     call_tags},
    {SIP_M_UPDATE, b2bua_serve, METHOD_ANY, METHOD_WRITES | METHOD_SECAGREE,
     call_tags},
    {SIP_M_INFO, b2bua_serve, METHOD_ANY, METHOD_WRITES | METHOD_SECAGREE,
     NULL},
    {SIP_M_MESSAGE, b2bua_serve, METHOD_ANY,
     METHOD_AUTH | METHOD_WRITES | METHOD_SECAGREE, NULL},
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

const struct method *
method_find(enum sip_method mid)
{
	for (size_t i = 0; i < NMETHODS; i++)
		if (methods[i].mid == mid)
			return &methods[i];
	return NULL;
}

int
method_tag_supported(const struct method *m, sip_str tag)
{
	if (m == NULL || m->tags == NULL)
		return 0;
	for (const char *const *t = m->tags; *t != NULL; t++)
		if (sip_str_caseeq_lit(tag, *t))
			return 1;
	return 0;
}

/* Append s to buf (size sz) at *len, with ", " before all but the first. */
static void
method_list_add(char *buf, size_t sz, size_t *len, int *n, const char *s)
{
	int k = snprintf(buf + *len, sz - *len, "%s%s", *n ? ", " : "", s);

	if (k > 0 && (size_t)k < sz - *len) {
		*len += (size_t)k;
		(*n)++;
	}
}

const char *
method_allow_hdr(void)
{
	static char line[256];
	size_t len;
	int n = 0;

	if (line[0] != '\0')
		return line;
	len = (size_t)snprintf(line, sizeof(line), "Allow: ");
	for (size_t i = 0; i < NMETHODS; i++)
		method_list_add(line, sizeof(line) - 2, &len, &n,
		                sip_method_name(methods[i].mid));
	memcpy(line + len, "\r\n", 3);
	return line;
}

/* 1 when a row before row i lists tag. */
static int
method_tag_before(size_t i, const char *tag)
{
	for (size_t j = 0; j < i; j++)
		for (const char *const *t = methods[j].tags; t && *t; t++)
			if (strcasecmp(*t, tag) == 0)
				return 1;
	return 0;
}

const char *
method_supported_hdr(void)
{
	static char line[256];
	size_t len;
	int n = 0;

	if (line[0] != '\0')
		return line;
	len = (size_t)snprintf(line, sizeof(line), "Supported: ");
	for (size_t i = 0; i < NMETHODS; i++) {
		for (const char *const *t = methods[i].tags; t && *t; t++)
			if (!method_tag_before(i, *t))
				method_list_add(line, sizeof(line) - 2, &len,
				                &n, *t);
	}
	memcpy(line + len, "\r\n", 3);
	return line;
}
