/*
 * t/unit/tdb.c: the temporary-database fixture (see tdb.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "schema/db.h"
#include "t/unit/tdb.h"

int
tdb_setup(struct tdb *t, const char *tag)
{
	char tmpl[128];

	snprintf(tmpl, sizeof(tmpl), "/tmp/afd-%s-XXXXXX", tag);
	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s", tmpl);
	conf_defaults(&t->conf);
	t->saved = log_level;
	log_level = LOG_L_ERROR; /* bad rows on purpose log warnings */
	return 0;
}

int
tdb_teardown(struct tdb *t)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	log_level = t->saved;
	return system(cmd) == 0 ? 0 : -1;
}

sqlite3 *
tdb_fresh(struct tdb *t, const char *name)
{
	sqlite3 *db;

	snprintf(t->conf.database, sizeof(t->conf.database), "%s/%s", t->dir,
	         name);
	unlink(t->conf.database);
	if ((db = db_open(&t->conf)) == NULL)
		return NULL;
	if (db_migrate(db) == -1) {
		db_close(db);
		return NULL;
	}
	return db;
}
