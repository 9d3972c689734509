/*
 * t/unit/sipd_util.c: see sipd_util.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema/db.h"
#include "t/unit/sipd_util.h"

static void
tsd_peer(struct sip_peer *p, uint16_t port, enum sip_transport tp)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&p->addr;

	memset(p, 0, sizeof(*p));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	p->addrlen = sizeof(*sin);
	p->tp = tp;
	if (tp == SIP_TP_TCP) {
		snprintf(p->slot, sizeof(p->slot), "t3");
		p->conn_id = 77;
	}
}

struct tsd *
tsd_new(const char *domain)
{
	return tsd_new_auth(domain, CONF_AUTH_NONE);
}

struct tsd *
tsd_new_auth(const char *domain, enum conf_auth mode)
{
	struct tsd *t = talloc_zero(NULL, struct tsd);
	sqlite3 *db;
	struct conf *c;

	if (t == NULL)
		return NULL;
	snprintf(t->dir, sizeof(t->dir), "/tmp/afd-unit-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		goto fail;
	c = &t->conf;
	/* afd's defaults, but for the test domain, database and size limit */
	conf_defaults(c);
	snprintf(c->domain, sizeof(c->domain), "%s",
	         domain ? domain : "afd.test");
	snprintf(c->database, sizeof(c->database), "%s/afd.db", t->dir);
	snprintf(c->run_dir, sizeof(c->run_dir), "%s", t->dir);
	c->log_level = LOG_L_WARN;
	c->max_message = 8192;
	snprintf(c->realm, sizeof(c->realm), "%s", c->domain);
	c->auth_mode = mode;
	if ((db = db_open(c)) == NULL)
		goto fail;
	if (db_migrate(db) == -1) {
		db_close(db);
		goto fail;
	}
	db_close(db);
	if ((t->sd = sipd_new(t, c, "u0")) == NULL)
		goto fail;
	if (sqlite3_open(c->database, &t->peek) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(t->peek, 2000);
	tsd_peer(&t->udp_peer, 40000, SIP_TP_UDP);
	tsd_peer(&t->tcp_peer, 40001, SIP_TP_TCP);
	return t;
fail:
	tsd_free(t);
	return NULL;
}

void
tsd_free(struct tsd *t)
{
	char p[300];

	if (t == NULL)
		return;
	if (t->peek != NULL)
		sqlite3_close(t->peek);
	TALLOC_FREE(t->sd);
	if (t->dir[0] != '\0' && strncmp(t->dir, "/tmp/afd-unit-", 14) == 0) {
		static const char *const f[] = {"afd.db", "afd.db-wal",
		                                "afd.db-shm"};
		for (size_t i = 0; i < 3; i++) {
			snprintf(p, sizeof(p), "%s/%s", t->dir, f[i]);
			unlink(p);
		}
		rmdir(t->dir);
	}
	talloc_free(t);
}

const char *
tsd_onen(struct tsd *t, const char *msg, size_t len, enum sip_transport tp)
{
	const struct sipd_out *out;
	int n;

	TALLOC_FREE(t->last);
	sipd_batch_begin(t->sd);
	sipd_handle(t->sd, msg, len,
	            tp == SIP_TP_TCP ? &t->tcp_peer : &t->udp_peer);
	n = sipd_batch_end(t->sd, &out);
	if (n < 1)
		return NULL;
	t->last = talloc_strndup(t, out[0].buf, out[0].len);
	return t->last;
}

const char *
tsd_one(struct tsd *t, const char *msg, enum sip_transport tp)
{
	return tsd_onen(t, msg, strlen(msg), tp);
}

static sqlite3_stmt *
tsd_query(struct tsd *t, const char *sql, const char *arg)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(t->peek, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "tsd: %s: %s\n", sql, sqlite3_errmsg(t->peek));
		return NULL;
	}
	if (arg != NULL)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	return st;
}

long long
tsd_count(struct tsd *t, const char *sql, const char *arg)
{
	sqlite3_stmt *st = tsd_query(t, sql, arg);
	long long v = -1;

	if (st == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

char *
tsd_text(struct tsd *t, const char *sql, const char *arg)
{
	sqlite3_stmt *st = tsd_query(t, sql, arg);
	char *v = NULL;

	if (st == NULL)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0) != NULL)
		v = talloc_strdup(t, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

const char *
tsd_shared(void)
{
	static char dir[4096];
	const char *env = getenv("AFD_SHARED");
	struct stat sb;

	if (env != NULL && *env != '\0')
		return env;
	if (stat("../shared/seeds", &sb) == 0 &&
	    getcwd(dir, sizeof(dir) - 16)) {
		strcat(dir, "/../shared");
		return dir;
	}
	return "/work/shared";
}

char *
tsd_read_shared(TALLOC_CTX *ctx, const char *rel)
{
	char path[4200];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", tsd_shared(), rel);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = talloc_size(ctx, (size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		talloc_free(buf);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}
