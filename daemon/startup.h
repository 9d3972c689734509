/*
 * daemon/startup.h: what the master does before it writes anything: check
 * that the database and run_dir can be created and written by the user
 * afd's processes will run as (also "afd -t"), create the missing
 * folders, take the instance locks, and hand the files to that user.
 *
 * One instance per database and per run_dir: the master holds an
 * exclusive flock(2) on <run_dir>/afd.pid and on <database>.lock, each
 * holding its pid, from before it touches the database until it exits.
 * Two files because either alone lets a second afd in: one on the same
 * database with another run_dir, or on the same run_dir (whose slot
 * sockets it would take over) with another database. The lock, not the
 * file's existence, is what counts: the files stay (emptied at a clean
 * stop), so a stale one after a crash never blocks a start. The lock is
 * on a file of its own rather than on the database because SQLite's own
 * fcntl locks on the database are dropped when any descriptor of the file
 * in the process is closed.
 *
 * Workers inherit the locked descriptors across fork(): the instance
 * holds its locks until its last process has gone, so a new afd cannot
 * start beside workers of a master killed by SIGKILL.
 */
#ifndef AFD_STARTUP_H
#define AFD_STARTUP_H

#include <stddef.h>

#include "util/conf.h"

struct startup_locks {
	int run_fd; /* <run_dir>/afd.pid */
	int db_fd;  /* <database>.lock */
};

/*
 * Check, without creating anything lasting, that afd can start with c's
 * paths: the master can create what is missing of run_dir and of the
 * database's folder, and the user afd's processes will run as (c->uid,
 * checked in a child process that becomes that user) can reach run_dir
 * and create files beside the database; an existing database is a
 * writable regular file. Returns 0, or -1 with one line in err: the path
 * as configured, the reason, what to do.
 */
int startup_check(const struct conf *c, char *err, size_t errsz);

/* Create run_dir and the database's folder where missing; folders it
 * creates belong to c's user. 0, or -1 with err. */
int startup_mkdirs(const struct conf *c, char *err, size_t errsz);

/* Take both locks (l's descriptors, -1 when not held). 0, or -1 with err
 * naming the pid that holds a lock. */
int startup_lock(const struct conf *c, struct startup_locks *l, char *err,
                 size_t errsz);

/* At the master's clean exit: empty the lock files and close them. */
void startup_unlock(struct startup_locks *l);

/* When afd changes user (c->drop): give run_dir, the lock files, the
 * database and its -wal and -shm files to that user. 0, or -1 with err. */
int startup_chown(const struct conf *c, char *err, size_t errsz);

#endif
