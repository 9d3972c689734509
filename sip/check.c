/*
 * sip/check.c: sip_check_request(), the checks on a parsed request that
 * RFC 4475 expects a server to make beyond syntax (version, Request-URI
 * scheme and headers, the address headers sip_parse() leaves unparsed).
 * Service policy (methods, Require, Max-Forwards 0) is not here.
 */
#include <stdio.h>

#include "sip/sip_impl.h"

static int
sip_check_fail(struct sip_err *err, int status, const char *reason)
{
	err->status = status;
	snprintf(err->reason, sizeof(err->reason), "%s", reason);
	return -1;
}

/* Do all fields with this id parse as address lists? */
static int
sip_check_addrs(const struct sip_hdr *first)
{
	struct sip_addr *a;
	TALLOC_CTX *tmp;
	int rc;

	if (first == NULL)
		return 0;
	if ((tmp = talloc_new(NULL)) == NULL)
		return -1;
	rc = sip_msg_addrs(tmp, first, &a);
	talloc_free(tmp);
	return rc;
}

int
sip_check_request(const struct sip_msg *m, struct sip_err *err)
{
	if (!m->is_request)
		return 0;
	if (!sip_str_eq(m->version, SIP_STR_LIT("SIP/2.0")))
		return sip_check_fail(err, 505, "Version Not Supported");
	if (m->ruri.scheme == SIP_SCHEME_OTHER)
		return sip_check_fail(err, 416, "Unsupported URI Scheme");
	if (m->ruri.headers.len > 0 || m->ruri.headers.s != NULL)
		return sip_check_fail(err, 400, "Headers In Request-URI");
	if (sip_check_addrs(m->first[SIP_HDR_CONTACT]) < 0)
		return sip_check_fail(err, 400, "Malformed Contact");
	if (sip_check_addrs(m->first[SIP_HDR_ROUTE]) < 0)
		return sip_check_fail(err, 400, "Malformed Route");
	if (sip_check_addrs(m->first[SIP_HDR_RECORD_ROUTE]) < 0)
		return sip_check_fail(err, 400, "Malformed Record-Route");
	return 0;
}
