/*
 * t/unit/sipd_util.h: helpers for the tests that run sipd on a temporary
 * database (test_sipd.c, test_registrar.c): a service with its own config
 * and database in a fresh folder, one-message batches, SQL peeks through a
 * second connection, and where ../shared is.
 */
#ifndef AFD_T_SIPD_UTIL_H
#define AFD_T_SIPD_UTIL_H

#include <sqlite3.h>
#include <talloc.h>

#include "util/conf.h"
#include "workers/registrar.h"
#include "workers/sipd.h"

struct tsd {
	TALLOC_CTX *ctx;
	struct conf conf;
	char dir[256];
	struct sipd *sd;
	sqlite3 *peek;            /* a second connection, for checks */
	struct sip_peer udp_peer; /* 127.0.0.1:40000 over UDP */
	struct sip_peer tcp_peer; /* 127.0.0.1:40001, slot t3, conn 77 */
	char *last;               /* the last answer, NUL-terminated */
};

/* A service for domain (NULL: "afd.test") on a fresh database. */
struct tsd *tsd_new(const char *domain);
void tsd_free(struct tsd *t);
/* The same with [auth] mode set (realm: the domain). */
struct tsd *tsd_new_auth(const char *domain, enum conf_auth mode);

/* Handle one message in its own batch; the first answer (a NUL-terminated
 * copy valid until the next call) or NULL when none. */
const char *tsd_one(struct tsd *t, const char *msg, enum sip_transport tp);
const char *tsd_onen(struct tsd *t, const char *msg, size_t len,
                     enum sip_transport tp);

/* The integer of "SELECT ... ?1" (arg bound as text; -1 on error). */
long long tsd_count(struct tsd *t, const char *sql, const char *arg);

/* The text of the first column of "SELECT ... ?1" (talloc under t), or
 * NULL. */
char *tsd_text(struct tsd *t, const char *sql, const char *arg);

/* The shared folder: $AFD_SHARED, else ../shared from the current folder
 * (the repository root, where t/run-tests.sh runs), else /work/shared. */
const char *tsd_shared(void);

/* A file of the shared folder, read whole (talloc under ctx), or NULL. */
char *tsd_read_shared(TALLOC_CTX *ctx, const char *rel);

#endif
