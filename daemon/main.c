/*
 * daemon/main.c: afd's command line. "afd -f FILE" runs the master in the
 * foreground (logs on stderr); "-t" checks the config, and that the
 * database and run_dir can be created and written by the user afd's
 * processes will run as, and exits 0 or 1 with the reason; "-V" prints the
 * version; "-h" the usage. A worker process forked by the master comes back out
 * of master_run() here and runs worker_main().
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/conf.h"
#include "util/log.h"
#include "daemon/master.h"
#include "daemon/startup.h"
#include "schema/db.h"
#include "util/proctitle.h"
#include "workers/worker.h"

#ifndef AFD_VERSION
#define AFD_VERSION "0.1"
#endif

static void
usage(FILE *f)
{
	fprintf(f, "usage: afd [-t] -f FILE\n"
	           "       afd -V | -h\n"
	           "  -f FILE  run with this config, in the foreground, "
	           "logging to stderr\n"
	           "  -t       check the config, the database and run_dir, "
	           "and exit\n"
	           "           (0: good, 1: the reason is printed)\n"
	           "  -V       print the version\n"
	           "  -h       print this help\n");
}

int
main(int argc, char **argv)
{
	static struct conf conf; /* lives as long as every process */
	struct proc_child child;
	char path[4096] = "", err[4400];
	int ch, check = 0, rc;

	while ((ch = getopt(argc, argv, "f:thV")) != -1) {
		switch (ch) {
		case 'f':
			snprintf(path, sizeof(path), "%s", optarg);
			break;
		case 't':
			check = 1;
			break;
		case 'V':
			printf("afd %s\n", AFD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc || path[0] == '\0') {
		usage(stderr);
		return 1;
	}
	if (conf_load(&conf, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "afd: %s\n", err);
		return 1;
	}
	if (check) {
		if (startup_check(&conf, err, sizeof(err)) == -1) {
			fprintf(stderr, "afd: %s: %s\n", path, err);
			return 1;
		}
		printf("afd: %s: configuration ok\n", path);
		return 0;
	}
	log_level = conf.log_level;
	/* No first bulk allocation of 20 pages per connection (87 KiB): a
	 * page is allocated when it is needed, so a spare TCP worker holds
	 * only the few pages its start read. Must precede any open. */
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	/* Every transaction's end without a walk of the whole page cache
	 * (schema/db_pcache.c). Must precede any open too. */
	(void)db_pcache_setup();
	signal(SIGPIPE, SIG_IGN);
	proctitle_init(argc, argv);

	memset(&child, 0, sizeof(child));
	rc = master_run(&conf, &child);
	if (rc == MASTER_CHILD)
		rc = worker_main(&child, &conf);
	return rc;
}
