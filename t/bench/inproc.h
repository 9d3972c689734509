/*
 * t/bench/inproc.h: what the in-process benchmarks (reg_bench, regev_bench,
 * auth_bench) share: they run requests through sipd_handle() with no
 * network, on a temporary database, and time it. Header-only: each is one
 * program of its own.
 */
#ifndef AFD_BENCH_INPROC_H
#define AFD_BENCH_INPROC_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/conf.h"
#include "util/log.h"
#include "workers/sipd.h"

/* Clock id now, in seconds. */
static inline double
bench_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* qsort's comparison of two doubles. */
static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The configuration of the UDP worker under test: domain, its database
 * dir/afd.db, durability normal, warnings only (the process's log level
 * too), the registrar's limits of etc/afd.conf; auth and reg event off
 * (the caller sets what it tests). */
static inline void
bench_conf(struct conf *c, const char *dir, const char *domain)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1");
	c->port = 5060;
	snprintf(c->domain, sizeof(c->domain), "%s", domain);
	snprintf(c->database, sizeof(c->database), "%s/afd.db", dir);
	c->durability = CONF_DUR_NORMAL;
	c->log_level = LOG_L_WARN;
	log_level = LOG_L_WARN;
	c->max_message = 65536;
	c->default_expires = 3600;
	c->min_expires = 60;
	c->max_expires = 600000;
	c->max_contacts = 10;
}

/* The phone every request comes from: UDP 127.0.0.1:5070. */
static inline void
bench_peer(struct sip_peer *p)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&p->addr;

	memset(p, 0, sizeof(*p));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(5070);
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	p->addrlen = sizeof(*sin);
	p->tp = SIP_TP_UDP;
}

/* Whether an answer a batch sent is a 200. */
static inline int
bench_is_200(const struct sipd_out *o)
{
	return o->len > 12 && memcmp(o->buf, "SIP/2.0 200 ", 12) == 0;
}

/* Remove the database bench_conf put in dir (and its WAL and shm), then
 * dir. */
static inline void
bench_rmdb(const char *dir)
{
	static const char *const ext[] = {"", "-wal", "-shm"};
	char path[300];

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(path, sizeof(path), "%s/afd.db%s", dir, ext[i]);
		unlink(path);
	}
	rmdir(dir);
}

#endif
