/*
 * workers/method.h: the one method table (after pjsip's module table). A
 * row says which service serves a method, where it may be served, and the
 * option tags its service supports; Allow and Supported are printed from
 * the table and nowhere else. Adding a method is a row here and the
 * service's file.
 *
 * The pipeline (workers/sipd.c) walks a request through: parse, checks,
 * routing, server transaction, the authentication gate (rows with
 * METHOD_AUTH), then the row's serve function.
 */
#ifndef AFD_METHOD_H
#define AFD_METHOD_H

#include "sip/sip.h"

struct sipd;
struct sipd_req;

/* Serve one request: answer it with sipd_reply() (now or, for work that
 * needs the database, after the batch's commit). 0, or -1 when no answer
 * could be queued (logged; the pipeline answers 500). */
typedef int method_serve_fn(struct sipd *sd, struct sipd_req *rq);

/* Where a method may be served: by the worker that received it over that
 * transport. A request that arrives where its method may not be served is
 * answered 405 (none today: every row serves both). */
#define METHOD_UDP 0x01
#define METHOD_TCP 0x02
#define METHOD_ANY (METHOD_UDP | METHOD_TCP)

/* Flags. */
#define METHOD_AUTH 0x01   /* behind the authentication gate */
#define METHOD_WRITES 0x02 /* its service changes the database */
/* sec-agree (RFC 3329) in Require/Proxy-Require is the P-CSCF's to consume:
 * afd stands in its place for calls and never answers it 420 */
#define METHOD_SECAGREE 0x04

struct method {
	enum sip_method mid;
	method_serve_fn *serve;
	unsigned where;
	unsigned flags;
	/* Option tags the service supports for this method (Require of a
	 * request is checked against them, 420 otherwise), NULL-terminated. */
	const char *const *tags;
};

/* The row of a method, or NULL when afd does not serve it. */
const struct method *method_find(enum sip_method mid);

/* 1 when m's service supports option tag tag (case-insensitive). */
int method_tag_supported(const struct method *m, sip_str tag);

/* "Allow: REGISTER, OPTIONS\r\n": every method of the table, in order. */
const char *method_allow_hdr(void);

/* "Supported: path, outbound\r\n": every tag of the table, once each. */
const char *method_supported_hdr(void);

/* The services of the table (each in its own file). */
method_serve_fn options_serve; /* workers/options.c */
method_serve_fn reg_serve;     /* workers/registrar.c */
method_serve_fn regn_serve;    /* workers/regnotify.c */
method_serve_fn b2bua_serve;   /* workers/b2bua.c */

#endif
