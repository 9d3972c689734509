/*
 * t/unit/tdb.h: the temporary-database fixture of the data-layer suites:
 * a scratch folder for the suite, quiet logs while it runs, and fresh
 * database files with afd's schema in it.
 */
#ifndef AFD_T_TDB_H
#define AFD_T_TDB_H

#include <stddef.h>

#include <sqlite3.h>

#include "util/conf.h"

struct tdb {
	char dir[256];        /* the suite's scratch folder */
	struct conf conf;     /* defaults; conf.database set by tdb_fresh */
	enum log_level saved; /* the log level before the suite */
};

/* Make /tmp/afd-<tag>-XXXXXX, default config, logs at error only.
 * 0 or -1. */
int tdb_setup(struct tdb *t, const char *tag);

/* Remove the folder, restore the log level. 0 or -1. */
int tdb_teardown(struct tdb *t);

/* A fresh database file <dir>/<name> (any old one removed) opened with
 * db_open() and brought to the schema. NULL on failure. */
sqlite3 *tdb_fresh(struct tdb *t, const char *name);

#endif
