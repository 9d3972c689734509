/*
 * workers/options.c: the OPTIONS service (RFC 3261 11): afd answers for
 * itself with 200 and what it can do, Allow and Supported printed from the
 * method table. Needs no database.
 */
#include <stdio.h>

#include "workers/method.h"
#include "workers/sipd.h"

#define OPTIONS_ACCEPT "Accept: application/sdp\r\n"

int
options_serve(struct sipd *sd, struct sipd_req *rq)
{
	char hdrs[600];
	int n;

	n = snprintf(hdrs, sizeof(hdrs), "%s" OPTIONS_ACCEPT "%s",
	             method_allow_hdr(), method_supported_hdr());
	if (n < 0 || (size_t)n >= sizeof(hdrs))
		return -1;
	return sipd_reply(sd, rq, 200, NULL, hdrs, (size_t)n, 0);
}
