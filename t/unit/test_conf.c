/*
 * t/unit/test_conf.c: the config reader: a good file with every key, the
 * defaults, relative paths taken from the file's folder, and the errors
 * that stop afd ("FILE:LINE: reason"): unknown section or key, bad values,
 * a repeated key, a syntax error, cross-key checks, a missing file; paths
 * normalised once; [afd] user; the [auth] modes.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "util/conf.h"

static char dir[PATH_MAX];
static char file[PATH_MAX + 16];

static int
setup(void)
{
	char tmpl[] = "/tmp/afd-conf-XXXXXX";

	if (mkdtemp(tmpl) == NULL || realpath(tmpl, dir) == NULL)
		return -1;
	snprintf(file, sizeof(file), "%s/afd.conf", dir);
	return 0;
}

static int
teardown(void)
{
	unlink(file);
	rmdir(dir);
	return 0;
}

static void
put(const char *text)
{
	FILE *f = fopen(file, "w");

	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

/* Load the text; returns conf_load's result, the error in err. */
static int
load(const char *text, struct conf *c, char *err, size_t errsz)
{
	put(text);
	err[0] = '\0';
	return conf_load(c, file, err, errsz);
}

static void
test_good(void)
{
	struct conf c;
	char err[512], want[PATH_MAX + 64];

	CU_ASSERT_FATAL(load("; a comment\n"
	                     "[afd]\n"
	                     "listen = ::1            ; inline comment\n"
	                     "port = 5070\n"
	                     "domain = example.org\n"
	                     "database = db/afd.db\n"
	                     "durability = full\n"
	                     "run_dir = /tmp/afd-run\n"
	                     "log_level = debug\n"
	                     "max_message = 4096\n"
	                     "\n[workers]\n"
	                     "tcp_min_spare = 3\n"
	                     "tcp_max = 9\n"
	                     "tcp_first_message = 4\n"
	                     "tcp_message_timeout = 5\n"
	                     "tcp_idle = 6\n"
	                     "tcp_per_address = 0\n"
	                     "[registrar]\n"
	                     "default_expires = 120\n"
	                     "min_expires = 30\n"
	                     "max_expires = 7200\n"
	                     "max_contacts = 4\n"
	                     "[regevent]\n"
	                     "min_expires = 90\n"
	                     "max_expires = 86400\n"
	                     "[auth]\n"
	                     "mode = none\n"
	                     "realm = r.example.org\n",
	                     &c, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(c.listen, "::1");
	CU_ASSERT(c.port == 5070);
	CU_ASSERT_STRING_EQUAL(c.domain, "example.org");
	snprintf(want, sizeof(want), "%s/db/afd.db", dir);
	CU_ASSERT_STRING_EQUAL(c.database, want);
	CU_ASSERT(c.durability == CONF_DUR_FULL);
	CU_ASSERT_STRING_EQUAL(c.run_dir, "/tmp/afd-run");
	CU_ASSERT(c.log_level == LOG_L_DEBUG);
	CU_ASSERT(c.max_message == 4096);
	CU_ASSERT(c.tcp_min_spare == 3 && c.tcp_max == 9);
	CU_ASSERT(c.tcp_first_message == 4 && c.tcp_message_timeout == 5 &&
	          c.tcp_idle == 6 && c.tcp_per_address == 0);
	CU_ASSERT(c.default_expires == 120 && c.min_expires == 30 &&
	          c.max_expires == 7200 && c.max_contacts == 4);
	CU_ASSERT(c.regev_min_expires == 90 && c.regev_max_expires == 86400);
	CU_ASSERT(c.auth_mode == CONF_AUTH_NONE);
	CU_ASSERT_STRING_EQUAL(c.realm, "r.example.org");
	CU_ASSERT_STRING_EQUAL(c.path, file);
}

/* Every [auth] mode is read into its value. */
static void
test_auth_modes(void)
{
	static const struct {
		const char *text;
		enum conf_auth want;
	} t[] = {
	    {"[auth]\nmode = none\n", CONF_AUTH_NONE},
	    {"[auth]\nmode = digest\n", CONF_AUTH_DIGEST},
	    {"[auth]\nmode = aka\n", CONF_AUTH_AKA},
	    {"[auth]\nmode = auto\n", CONF_AUTH_AUTO},
	};
	struct conf c;
	char err[512];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CU_ASSERT_FATAL(load(t[i].text, &c, err, sizeof(err)) == 0);
		CU_ASSERT(c.auth_mode == t[i].want);
	}
}

static void
test_defaults_relative(void)
{
	struct conf c;
	char err[512], want[PATH_MAX + 64], cwd[PATH_MAX], rel[PATH_MAX];

	CU_ASSERT_FATAL(load("[afd]\nport = 5999\n", &c, err, sizeof(err)) ==
	                0);
	CU_ASSERT_STRING_EQUAL(c.listen, "127.0.0.1");
	CU_ASSERT(c.max_message == 65536);
	CU_ASSERT(c.tcp_min_spare == 2 && c.tcp_max == 64);
	CU_ASSERT(c.tcp_first_message == 10 && c.tcp_message_timeout == 10 &&
	          c.tcp_idle == 30 && c.tcp_per_address == 16);
	CU_ASSERT(c.auth_mode == CONF_AUTH_NONE);
	CU_ASSERT(c.regev_min_expires == 60 && c.regev_max_expires == 600000);
	CU_ASSERT(c.durability == CONF_DUR_NORMAL);
	CU_ASSERT(c.log_level == LOG_L_INFO);
	/* default paths are relative to the file too */
	snprintf(want, sizeof(want), "%s/var/afd.db", dir);
	CU_ASSERT_STRING_EQUAL(c.database, want);
	snprintf(want, sizeof(want), "%s/var/run", dir);
	CU_ASSERT_STRING_EQUAL(c.run_dir, want);

	/* the file named by a relative path: still its own folder */
	CU_ASSERT_FATAL(getcwd(cwd, sizeof(cwd)) != NULL);
	CU_ASSERT_FATAL(chdir(dir) == 0);
	put("[afd]\ndatabase = ../x/afd.db\n");
	snprintf(rel, sizeof(rel), "./afd.conf");
	CU_ASSERT(conf_load(&c, rel, err, sizeof(err)) == 0);
	/* normalised: no "/../" left (dir is /tmp/afd-conf-XXXXXX) */
	snprintf(want, sizeof(want), "%.*s/x/afd.db",
	         (int)(strrchr(dir, '/') - dir), dir);
	CU_ASSERT_STRING_EQUAL(c.database, want);
	CU_ASSERT(chdir(cwd) == 0);
}

/* Paths are given once, normalised: no "//", "." or ".."; a ".." after a
 * symbolic link goes up from the link's target, as the kernel does. */
static void
test_paths(void)
{
	struct conf c;
	char err[512], want[PATH_MAX + 64], link[PATH_MAX + 16];
	char sub[PATH_MAX + 32];

	CU_ASSERT_FATAL(load("[afd]\ndatabase = .//a/./b/../c.db\n"
	                     "run_dir = /no-afd//run/../run/./afd/\n",
	                     &c, err, sizeof(err)) == 0);
	snprintf(want, sizeof(want), "%s/a/c.db", dir);
	CU_ASSERT_STRING_EQUAL(c.database, want);
	CU_ASSERT_STRING_EQUAL(c.run_dir, "/no-afd/run/afd");
	CU_ASSERT_FATAL(
	    load("[afd]\nrun_dir = /../..\n", &c, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(c.run_dir, "/");

	/* dir/l -> dir/s/t: "l/../x.db" is dir/s/x.db */
	snprintf(sub, sizeof(sub), "%s/s", dir);
	CU_ASSERT_FATAL(mkdir(sub, 0755) == 0);
	snprintf(sub, sizeof(sub), "%s/s/t", dir);
	CU_ASSERT_FATAL(mkdir(sub, 0755) == 0);
	snprintf(link, sizeof(link), "%s/l", dir);
	CU_ASSERT_FATAL(symlink(sub, link) == 0);
	CU_ASSERT(load("[afd]\ndatabase = l/../x.db\n", &c, err, sizeof(err)) ==
	          0);
	snprintf(want, sizeof(want), "%s/s/x.db", dir);
	CU_ASSERT_STRING_EQUAL(c.database, want);
	unlink(link);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/s", dir);
	rmdir(sub);
}

/* [afd] user: looked up only when afd runs as root; otherwise ignored. */
static void
test_user(void)
{
	struct passwd *pw = getpwnam("nobody");
	struct conf c;
	char err[512], prefix[PATH_MAX + 64];

	CU_ASSERT_FATAL(load("[afd]\nport = 5999\n", &c, err, sizeof(err)) ==
	                0);
	CU_ASSERT_STRING_EQUAL(c.user, "nobody");
	if (geteuid() != 0) {
		CU_ASSERT(c.drop == 0 && c.uid == geteuid());
		CU_ASSERT(load("[afd]\nuser = no-such-user-here\n", &c, err,
		               sizeof(err)) == 0);
		CU_ASSERT(c.drop == 0);
		return;
	}
	CU_ASSERT_FATAL(pw != NULL);
	CU_ASSERT(c.drop == 1 && c.uid == pw->pw_uid && c.gid == pw->pw_gid);
	CU_ASSERT(load("[afd]\nuser = root\n", &c, err, sizeof(err)) == 0);
	CU_ASSERT(c.drop == 0 && c.uid == 0);
	CU_ASSERT(load("[afd]\nport = 5999\nuser = no-such-user-here\n", &c,
	               err, sizeof(err)) == -1);
	snprintf(prefix, sizeof(prefix), "%s:3: user: no user", file);
	CU_ASSERT(strncmp(err, prefix, strlen(prefix)) == 0);
}

/* The text must fail with "FILE:LINE: ..." containing what. */
static void
bad(const char *text, int line, const char *what)
{
	struct conf c;
	char err[512], prefix[PATH_MAX + 32];

	CU_ASSERT(load(text, &c, err, sizeof(err)) == -1);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	CU_ASSERT(strncmp(err, prefix, strlen(prefix)) == 0);
	CU_ASSERT(strstr(err, what) != NULL);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, what) == NULL)
		fprintf(stderr, "\n  got \"%s\", want %d and \"%s\"\n", err,
		        line, what);
}

static void
test_errors(void)
{
	bad("[afd]\nport = 5060\nlisten_on = 1.2.3.4\n", 3,
	    "unknown key \"listen_on\"");
	bad("[afd]\n[fun]\nx = 1\n", 3, "unknown section [fun]");
	bad("[afd]\nport = 70000\n", 2, "port");
	bad("[afd]\nport = 50x\n", 2, "not a number");
	bad("[afd]\nport =\n", 2, "port");
	bad("[afd]\nlisten = localhost\n", 2, "not an IPv4 or IPv6");
	bad("[afd]\ndurability = sometimes\n", 2, "durability");
	bad("[afd]\nlog_level = loud\n", 2, "log_level");
	bad("[afd]\nmax_message = 10\n", 2, "max_message");
	bad("\n[auth]\nmode = kerberos\n", 3, "mode");
	bad("[auth]\nmode = Digest\n", 2,
	    "mode: \"Digest\" is not none, digest, aka or auto");
	bad("[afd]\nuser =\n", 2, "user: empty value");
	bad("[afd]\nport = 1\nport = 2\n", 3, "already set on line 2");
	bad("[afd]\nthis line is wrong\n", 2, "syntax error");
	bad("[workers]\ntcp_min_spare = 5\ntcp_max = 4\n", 2,
	    "tcp_min_spare (5) is larger than tcp_max (4)");
	bad("[workers]\ntcp_first_message = 0\n", 2, "tcp_first_message");
	bad("[workers]\ntcp_idle = 1d\n", 2, "not a number");
	bad("[workers]\ntcp_message_timeout = 86401\n", 2,
	    "tcp_message_timeout");
	bad("[workers]\ntcp_per_address = -1\n", 2, "tcp_per_address");
	bad("[registrar]\nmin_expires = 100\nmax_expires = 50\n"
	    "default_expires = 70\n",
	    2, "min_expires");
	bad("[regevent]\nmax_expires = 50\nmin_expires = 100\n", 3,
	    "[regevent] min_expires (100) is larger than max_expires (50)");
	bad("[regevent]\nmin_expires = 0\n", 2, "min_expires");
	bad("[regevent]\ndefault_expires = 100\n", 2,
	    "unknown key \"default_expires\" in [regevent]");
	bad("key = before any section\n", 1, "unknown section");
}

static void
test_missing(void)
{
	struct conf c;
	char err[512], path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	CU_ASSERT(conf_load(&c, path, err, sizeof(err)) == -1);
	CU_ASSERT(strncmp(err, path, strlen(path)) == 0);
	CU_ASSERT(strstr(err, "No such file") != NULL);
}

int
suite_conf(void)
{
	CU_pSuite s = CU_add_suite("conf", setup, teardown);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "a good file", test_good) ||
	    !CU_add_test(s, "defaults and relative paths",
	                 test_defaults_relative) ||
	    !CU_add_test(s, "paths normalised once", test_paths) ||
	    !CU_add_test(s, "user", test_user) ||
	    !CU_add_test(s, "auth modes", test_auth_modes) ||
	    !CU_add_test(s, "errors name file and line", test_errors) ||
	    !CU_add_test(s, "missing file", test_missing))
		return -1;
	return 0;
}
