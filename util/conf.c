/*
 * util/conf.c: read and check afd's INI file (inih). Every key of
 * DESIGN.md is known here with its check; an unknown section or key, a bad
 * value, a repeated key or a missing file is an error "FILE:LINE: reason".
 * Relative paths are made absolute against the config file's folder and
 * normalised once (no "etc/../var/afd.db" in any later log line).
 * Lines are counted by our own reader so that every error names its line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "util/conf.h"
#include "ipc/ipc.h"

struct conf_parse {
	struct conf *c;
	FILE *f;
	int lineno;
	int errline; /* first error's line, 0 when none */
	char why[256];
	char dir[PATH_MAX]; /* the config file's folder, absolute */
	unsigned seen[32];  /* line of each key seen (index into keys) */
};

static void conf_fail(struct conf_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
conf_fail(struct conf_parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->errline)
		return; /* the first error is the one reported */
	p->errline = p->lineno > 0 ? p->lineno : 1;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1");
	c->port = 5060;
	snprintf(c->domain, sizeof(c->domain),
	         "ims.mnc001.mcc001.3gppnetwork.org");
	snprintf(c->database, sizeof(c->database), "var/afd.db");
	c->durability = CONF_DUR_NORMAL;
	snprintf(c->run_dir, sizeof(c->run_dir), "var/run");
	snprintf(c->user, sizeof(c->user), "nobody");
	c->uid = geteuid();
	c->gid = getegid();
	c->log_level = LOG_L_INFO;
	c->max_message = 65536;
	c->tcp_min_spare = 2;
	c->tcp_max = 64;
	c->tcp_first_message = 10;
	c->tcp_message_timeout = 10;
	c->tcp_idle = 30;
	c->tcp_per_address = 16;
	c->default_expires = 3600;
	c->min_expires = 60;
	c->max_expires = 600000;
	c->max_contacts = 10;
	c->sip_t1 = 500;
	c->outbound_require_ob = 1;
	c->regev_min_expires = 60;
	c->regev_max_expires = 600000;
	c->ring_timeout = 60;
	c->call_max_idle = 86400;
	c->auth_mode = CONF_AUTH_NONE;
	c->nonce_lifetime = 300;
	snprintf(c->realm, sizeof(c->realm),
	         "ims.mnc001.mcc001.3gppnetwork.org");
}

/* A whole decimal integer in [lo, hi]. */
static int
conf_int(struct conf_parse *p, const char *key, const char *v, long lo, long hi,
         long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < lo || n > hi) {
		conf_fail(p, "%s: \"%s\" is not a number from %ld to %ld", key,
		          v, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

static int
conf_str(struct conf_parse *p, const char *key, const char *v, char *out,
         size_t outsz)
{
	if (*v == '\0') {
		conf_fail(p, "%s: empty value", key);
		return -1;
	}
	if (strlen(v) >= outsz) {
		conf_fail(p, "%s: value longer than %zu characters", key,
		          outsz - 1);
		return -1;
	}
	snprintf(out, outsz, "%s", v);
	return 0;
}

/*
 * Normalise the absolute path in into out: no "//", "." or "..", so that
 * every log line shows one spelling of it. A ".." after a symbolic link
 * goes up from where the link points (as the kernel would), not lexically.
 * Returns 0, or -1 when the result does not fit or a link cannot be
 * resolved.
 */
static int
conf_normpath(char *out, size_t outsz, const char *in)
{
	char res[PATH_MAX], real[PATH_MAX], *slash;
	const char *p = in, *e;
	size_t rl = 0, n;
	struct stat st;

	res[0] = '\0';
	while (*p != '\0') {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 1 && p[0] == '.') {
			p = e;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (rl > 0 && lstat(res, &st) == 0 &&
			    S_ISLNK(st.st_mode)) {
				if (realpath(res, real) == NULL)
					return -1;
				snprintf(res, sizeof(res), "%s",
				         strcmp(real, "/") == 0 ? "" : real);
			}
			if ((slash = strrchr(res, '/')) != NULL)
				*slash = '\0';
			rl = strlen(res);
			p = e;
			continue;
		}
		if (rl + 1 + n >= sizeof(res))
			return -1;
		res[rl++] = '/';
		memcpy(res + rl, p, n);
		rl += n;
		res[rl] = '\0';
		p = e;
	}
	if ((size_t)snprintf(out, outsz, "%s", rl == 0 ? "/" : res) >= outsz)
		return -1;
	return 0;
}

/* A path; relative ones are taken from the config file's folder; the
 * result is normalised (conf_normpath). */
static int
conf_path(struct conf_parse *p, const char *key, const char *v, char *out,
          size_t outsz)
{
	char joined[PATH_MAX * 2];
	int n;

	if (*v == '\0') {
		conf_fail(p, "%s: empty path", key);
		return -1;
	}
	if (v[0] == '/')
		n = snprintf(joined, sizeof(joined), "%s", v);
	else
		n = snprintf(joined, sizeof(joined), "%s/%s", p->dir, v);
	if (n < 0 || (size_t)n >= sizeof(joined) ||
	    conf_normpath(out, outsz, joined) == -1) {
		conf_fail(p, "%s: path too long", key);
		return -1;
	}
	return 0;
}

enum conf_key_id {
	K_LISTEN,
	K_PORT,
	K_DOMAIN,
	K_DATABASE,
	K_DURABILITY,
	K_RUN_DIR,
	K_LOG_LEVEL,
	K_MAX_MESSAGE,
	K_SIP_T1,
	K_USER,
	K_TCP_MIN_SPARE,
	K_TCP_MAX,
	K_TCP_FIRST_MESSAGE,
	K_TCP_MESSAGE_TIMEOUT,
	K_TCP_IDLE,
	K_TCP_PER_ADDRESS,
	K_DEFAULT_EXPIRES,
	K_MIN_EXPIRES,
	K_MAX_EXPIRES,
	K_MAX_CONTACTS,
	K_PING_INTERVAL,
	K_PING_REMOVE_AFTER,
	K_OUTBOUND_REQUIRE_OB,
	K_REGEV_MIN_EXPIRES,
	K_REGEV_MAX_EXPIRES,
	K_RING_TIMEOUT,
	K_CALL_MAX_IDLE,
	K_AUTH_MODE,
	K_REALM,
	K_NONCE_LIFETIME
};

static const struct {
	const char *section, *name;
	enum conf_key_id id;
} conf_keys[] = {
    {"afd", "listen", K_LISTEN},
    {"afd", "port", K_PORT},
    {"afd", "domain", K_DOMAIN},
    {"afd", "database", K_DATABASE},
    {"afd", "durability", K_DURABILITY},
    {"afd", "run_dir", K_RUN_DIR},
    {"afd", "log_level", K_LOG_LEVEL},
    {"afd", "max_message", K_MAX_MESSAGE},
    {"afd", "sip_t1", K_SIP_T1},
    {"afd", "user", K_USER},
    {"workers", "tcp_min_spare", K_TCP_MIN_SPARE},
    {"workers", "tcp_max", K_TCP_MAX},
    {"workers", "tcp_first_message", K_TCP_FIRST_MESSAGE},
    {"workers", "tcp_message_timeout", K_TCP_MESSAGE_TIMEOUT},
    {"workers", "tcp_idle", K_TCP_IDLE},
    {"workers", "tcp_per_address", K_TCP_PER_ADDRESS},
    {"registrar", "default_expires", K_DEFAULT_EXPIRES},
    {"registrar", "min_expires", K_MIN_EXPIRES},
    {"registrar", "max_expires", K_MAX_EXPIRES},
    {"registrar", "max_contacts", K_MAX_CONTACTS},
    {"registrar", "ping_interval", K_PING_INTERVAL},
    {"registrar", "ping_remove_after", K_PING_REMOVE_AFTER},
    {"registrar", "outbound_require_ob", K_OUTBOUND_REQUIRE_OB},
    {"regevent", "min_expires", K_REGEV_MIN_EXPIRES},
    {"regevent", "max_expires", K_REGEV_MAX_EXPIRES},
    {"calls", "ring_timeout", K_RING_TIMEOUT},
    {"calls", "max_idle", K_CALL_MAX_IDLE},
    {"auth", "mode", K_AUTH_MODE},
    {"auth", "realm", K_REALM},
    {"auth", "nonce_lifetime", K_NONCE_LIFETIME},
};
#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

static int
conf_set(struct conf_parse *p, enum conf_key_id id, const char *name,
         const char *v)
{
	struct conf *c = p->c;
	long n;

	switch (id) {
	case K_LISTEN: {
		unsigned char a[sizeof(struct in6_addr)];

		if (inet_pton(AF_INET, v, a) != 1 &&
		    inet_pton(AF_INET6, v, a) != 1) {
			conf_fail(p,
			          "listen: \"%s\" is not an IPv4 or IPv6 "
			          "address",
			          v);
			return -1;
		}
		return conf_str(p, name, v, c->listen, sizeof(c->listen));
	}
	case K_PORT:
		if (conf_int(p, name, v, 1, 65535, &n) == -1)
			return -1;
		c->port = (int)n;
		return 0;
	case K_DOMAIN:
		return conf_str(p, name, v, c->domain, sizeof(c->domain));
	case K_DATABASE:
		return conf_path(p, name, v, c->database, sizeof(c->database));
	case K_DURABILITY:
		if (strcmp(v, "normal") == 0)
			c->durability = CONF_DUR_NORMAL;
		else if (strcmp(v, "full") == 0)
			c->durability = CONF_DUR_FULL;
		else {
			conf_fail(p, "durability: \"%s\" is not normal or full",
			          v);
			return -1;
		}
		return 0;
	case K_RUN_DIR:
		return conf_path(p, name, v, c->run_dir, sizeof(c->run_dir));
	case K_LOG_LEVEL:
		if (log_level_parse(v, &c->log_level) == -1) {
			conf_fail(p,
			          "log_level: \"%s\" is not error, warn, "
			          "info, debug or trace",
			          v);
			return -1;
		}
		return 0;
	case K_MAX_MESSAGE:
		if (conf_int(p, name, v, 1024, IPC_MAX_SIP, &n) == -1)
			return -1;
		c->max_message = (size_t)n;
		return 0;
	case K_SIP_T1:
		if (conf_int(p, name, v, 50, 5000, &n) == -1)
			return -1;
		c->sip_t1 = (int)n;
		return 0;
	case K_USER:
		return conf_str(p, name, v, c->user, sizeof(c->user));
	case K_TCP_MIN_SPARE:
		if (conf_int(p, name, v, 0, 1024, &n) == -1)
			return -1;
		c->tcp_min_spare = (int)n;
		return 0;
	case K_TCP_MAX:
		if (conf_int(p, name, v, 1, 1024, &n) == -1)
			return -1;
		c->tcp_max = (int)n;
		return 0;
	case K_TCP_FIRST_MESSAGE:
	case K_TCP_MESSAGE_TIMEOUT:
	case K_TCP_IDLE:
		/* seconds: at least 1, at most a day */
		if (conf_int(p, name, v, 1, 86400, &n) == -1)
			return -1;
		if (id == K_TCP_FIRST_MESSAGE)
			c->tcp_first_message = (int)n;
		else if (id == K_TCP_MESSAGE_TIMEOUT)
			c->tcp_message_timeout = (int)n;
		else
			c->tcp_idle = (int)n;
		return 0;
	case K_TCP_PER_ADDRESS:
		if (conf_int(p, name, v, 0, 1024, &n) == -1)
			return -1;
		c->tcp_per_address = (int)n;
		return 0;
	case K_DEFAULT_EXPIRES:
	case K_MIN_EXPIRES:
	case K_MAX_EXPIRES:
		if (conf_int(p, name, v, 1, 100000000, &n) == -1)
			return -1;
		if (id == K_DEFAULT_EXPIRES)
			c->default_expires = (int)n;
		else if (id == K_MIN_EXPIRES)
			c->min_expires = (int)n;
		else
			c->max_expires = (int)n;
		return 0;
	case K_MAX_CONTACTS:
		if (conf_int(p, name, v, 1, 1000, &n) == -1)
			return -1;
		c->max_contacts = (int)n;
		return 0;
	case K_PING_INTERVAL:
		if (conf_int(p, name, v, 0, 86400, &n) == -1)
			return -1;
		c->ping_interval = (int)n;
		return 0;
	case K_PING_REMOVE_AFTER:
		if (conf_int(p, name, v, 0, 1000, &n) == -1)
			return -1;
		c->ping_remove_after = (int)n;
		return 0;
	case K_OUTBOUND_REQUIRE_OB:
		if (strcmp(v, "yes") == 0)
			c->outbound_require_ob = 1;
		else if (strcmp(v, "no") == 0)
			c->outbound_require_ob = 0;
		else {
			conf_fail(p,
			          "outbound_require_ob: \"%s\" is not yes "
			          "or no",
			          v);
			return -1;
		}
		return 0;
	case K_REGEV_MIN_EXPIRES:
	case K_REGEV_MAX_EXPIRES:
		if (conf_int(p, name, v, 1, 100000000, &n) == -1)
			return -1;
		if (id == K_REGEV_MIN_EXPIRES)
			c->regev_min_expires = (int)n;
		else
			c->regev_max_expires = (int)n;
		return 0;
	case K_RING_TIMEOUT:
		if (conf_int(p, name, v, 1, 3600, &n) == -1)
			return -1;
		c->ring_timeout = (int)n;
		return 0;
	case K_CALL_MAX_IDLE:
		if (conf_int(p, name, v, 10, 7 * 86400, &n) == -1)
			return -1;
		c->call_max_idle = (int)n;
		return 0;
	case K_AUTH_MODE:
		if (strcmp(v, "none") == 0)
			c->auth_mode = CONF_AUTH_NONE;
		else if (strcmp(v, "digest") == 0)
			c->auth_mode = CONF_AUTH_DIGEST;
		else if (strcmp(v, "aka") == 0)
			c->auth_mode = CONF_AUTH_AKA;
		else if (strcmp(v, "auto") == 0)
			c->auth_mode = CONF_AUTH_AUTO;
		else {
			conf_fail(
			    p, "mode: \"%s\" is not none, digest, aka or auto",
			    v);
			return -1;
		}
		return 0;
	case K_REALM:
		return conf_str(p, name, v, c->realm, sizeof(c->realm));
	case K_NONCE_LIFETIME:
		if (conf_int(p, name, v, 1, 86400, &n) == -1)
			return -1;
		c->nonce_lifetime = (int)n;
		return 0;
	}
	return -1;
}

static int
conf_handler(void *user, const char *section, const char *name,
             const char *value)
{
	struct conf_parse *p = user;
	int known_section = 0;

	if (p->errline)
		return 0;
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		if (strcmp(section, conf_keys[i].section) != 0)
			continue;
		known_section = 1;
		if (strcmp(name, conf_keys[i].name) != 0)
			continue;
		if (p->seen[i]) {
			conf_fail(p, "%s: already set on line %u", name,
			          p->seen[i]);
			return 0;
		}
		p->seen[i] = (unsigned)p->lineno;
		return conf_set(p, conf_keys[i].id, name, value) == 0;
	}
	if (!known_section)
		conf_fail(p, "unknown section [%s]", section);
	else
		conf_fail(p, "unknown key \"%s\" in [%s]", name, section);
	return 0;
}

/* inih's reader: one line per call, counted; a line longer than inih's
 * buffer is an error rather than two lines. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	size_t len;
	int ch;

	if (fgets(str, num, p->f) == NULL)
		return NULL;
	p->lineno++;
	len = strlen(str);
	if (len > 0 && str[len - 1] != '\n' && !feof(p->f)) {
		conf_fail(p, "line longer than %d characters", num - 2);
		while ((ch = fgetc(p->f)) != EOF && ch != '\n')
			;
	}
	return str;
}

/*
 * [afd] user: only a master started as root changes user; it looks the
 * user up now, so that a wrong name is a config error with its line.
 * Otherwise the key is ignored: afd runs as whoever started it.
 */
static void
conf_user(struct conf_parse *p)
{
	struct conf *c = p->c;
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	p->lineno = p->seen[K_USER] ? (int)p->seen[K_USER] : 1;
	errno = 0;
	if ((pw = getpwnam(c->user)) == NULL) {
		conf_fail(p,
		          "user: no user \"%s\"%s (afd started as root runs "
		          "its processes as this user)",
		          c->user, p->seen[K_USER] ? "" : " (the default)");
		return;
	}
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	c->drop = pw->pw_uid != 0;
}

/* Cross-key checks, after the whole file. */
static void
conf_check(struct conf_parse *p)
{
	struct conf *c = p->c;

	p->lineno =
	    p->seen[K_MIN_EXPIRES] ? (int)p->seen[K_MIN_EXPIRES] : p->lineno;
	if (c->min_expires > c->max_expires)
		conf_fail(p, "min_expires (%d) is larger than max_expires (%d)",
		          c->min_expires, c->max_expires);
	p->lineno = p->seen[K_DEFAULT_EXPIRES] ? (int)p->seen[K_DEFAULT_EXPIRES]
	                                       : p->lineno;
	if (c->default_expires < c->min_expires ||
	    c->default_expires > c->max_expires)
		conf_fail(p,
		          "default_expires (%d) is not within min_expires "
		          "(%d) and max_expires (%d)",
		          c->default_expires, c->min_expires, c->max_expires);
	p->lineno = p->seen[K_REGEV_MIN_EXPIRES]
	                ? (int)p->seen[K_REGEV_MIN_EXPIRES]
	                : p->lineno;
	if (c->regev_min_expires > c->regev_max_expires)
		conf_fail(p,
		          "[regevent] min_expires (%d) is larger than "
		          "max_expires (%d)",
		          c->regev_min_expires, c->regev_max_expires);
	p->lineno = p->seen[K_TCP_MIN_SPARE] ? (int)p->seen[K_TCP_MIN_SPARE]
	                                     : p->lineno;
	if (c->tcp_min_spare > c->tcp_max)
		conf_fail(p, "tcp_min_spare (%d) is larger than tcp_max (%d)",
		          c->tcp_min_spare, c->tcp_max);
	conf_user(p);
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errsz)
{
	struct conf_parse *p;
	char *slash;
	int r, ret = -1;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		return -1;
	}
	conf_defaults(c);
	p->c = c;
	if ((p->f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: cannot open: %s", path,
		         strerror(errno));
		goto done;
	}
	if (realpath(path, c->path) == NULL) {
		snprintf(err, errsz, "%s:0: %s", path, strerror(errno));
		goto done;
	}
	snprintf(p->dir, sizeof(p->dir), "%s", c->path);
	if ((slash = strrchr(p->dir, '/')) != NULL)
		*(slash == p->dir ? slash + 1 : slash) = '\0';
	/* Defaults are relative to the file too. */
	conf_path(p, "database", "var/afd.db", c->database,
	          sizeof(c->database));
	conf_path(p, "run_dir", "var/run", c->run_dir, sizeof(c->run_dir));

	r = ini_parse_stream(conf_reader, p, conf_handler, p);
	if (r > 0 && !p->errline) {
		p->errline = r;
		snprintf(p->why, sizeof(p->why),
		         "syntax error (expected "
		         "[section] or key = value)");
	} else if (r < 0 && !p->errline) {
		p->errline = 1;
		snprintf(p->why, sizeof(p->why), "cannot read the file");
	}
	if (!p->errline)
		conf_check(p);
	if (p->errline) {
		snprintf(err, errsz, "%s:%d: %s", path, p->errline, p->why);
		goto done;
	}
	ret = 0;
done:
	if (p->f)
		fclose(p->f);
	free(p);
	return ret;
}
