/*
 * daemon/startup.c: see startup.h. Every error is one line: the path as
 * the config gave it (already normalised by util/conf.c), the reason, and
 * what to do.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/startup.h"
#include "util/priv.h"

/* path's parent folder into out ("/" for "/x"); out may be path. */
static void
startup_dirname(char *out, size_t outsz, const char *path)
{
	char *slash;

	if (out != path) /* in place is allowed */
		snprintf(out, outsz, "%s", path);
	if ((slash = strrchr(out, '/')) == NULL)
		snprintf(out, outsz, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
}

/* The deepest folder of dir that exists (dir itself when it does), into
 * out. 0, or -1 with errno (a component is not a folder, or is
 * unreadable). */
static int
startup_existing(const char *dir, char *out, size_t outsz)
{
	struct stat st;

	snprintf(out, outsz, "%s", dir);
	for (;;) {
		if (stat(out, &st) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				errno = ENOTDIR;
				return -1;
			}
			return 0;
		}
		if (errno != ENOENT || strcmp(out, "/") == 0)
			return -1;
		startup_dirname(out, outsz, out);
	}
}

/* Can this process create a file in dir? Tried for real (a scratch file,
 * removed at once), so that read-only mounts and /proc are caught too.
 * 0, or -1 with errno. */
static int
startup_can_create(const char *dir)
{
	char tmp[PATH_MAX + 32];
	int fd, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.afd-check-XXXXXX", dir) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	saved = errno;
	close(fd);
	unlink(tmp);
	errno = saved;
	return 0;
}

/* The checks made as the master (root when it changes user). */
static int
startup_check_master(const struct conf *c, char *err, size_t errsz)
{
	char dir[PATH_MAX], have[PATH_MAX];
	struct stat st;
	int fd;

	/* run_dir: the master creates what is missing. */
	if (startup_existing(c->run_dir, have, sizeof(have)) == -1) {
		snprintf(err, errsz,
		         "run_dir %s: %s (set run_dir in [afd] to a folder "
		         "afd can create)",
		         c->run_dir, strerror(errno));
		return -1;
	}
	if (strcmp(have, c->run_dir) != 0 && startup_can_create(have) == -1) {
		snprintf(err, errsz,
		         "run_dir %s: cannot create it in %s: %s (create it, "
		         "or set run_dir in [afd] to a folder afd can create)",
		         c->run_dir, have, strerror(errno));
		return -1;
	}
	if (!c->drop && strcmp(have, c->run_dir) == 0 &&
	    startup_can_create(have) == -1) {
		snprintf(err, errsz,
		         "run_dir %s: cannot create files in it: %s (make it "
		         "writable, or set run_dir in [afd] elsewhere)",
		         c->run_dir, strerror(errno));
		return -1;
	}
	/* The database's folder: the master creates it when missing. */
	startup_dirname(dir, sizeof(dir), c->database);
	if (startup_existing(dir, have, sizeof(have)) == -1) {
		snprintf(err, errsz,
		         "database %s: %s (set database in [afd] to a path "
		         "afd can create)",
		         c->database, strerror(errno));
		return -1;
	}
	if (strcmp(have, dir) != 0 && startup_can_create(have) == -1) {
		snprintf(err, errsz,
		         "database %s: cannot create its folder in %s: %s "
		         "(create it, or set database in [afd] to a path afd "
		         "can create)",
		         c->database, have, strerror(errno));
		return -1;
	}
	/* An existing database must be a file afd can write. */
	if (stat(c->database, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			snprintf(
			    err, errsz,
			    "database %s: not a regular file (set database "
			    "in [afd] to a file's path)",
			    c->database);
			return -1;
		}
		/* The user will own it (startup_chown): its owner's bit. */
		if (c->drop && !(st.st_mode & S_IWUSR)) {
			snprintf(
			    err, errsz,
			    "database %s is read-only (mode %04o): make it "
			    "writable (chmod u+w %s) or set database in "
			    "[afd] to another file",
			    c->database, (unsigned)(st.st_mode & 07777),
			    c->database);
			return -1;
		}
		if ((fd = open(c->database, O_RDWR | O_CLOEXEC)) == -1) {
			snprintf(
			    err, errsz,
			    "database %s is read-only: %s (mode %04o; make "
			    "it writable, or set database in [afd] to "
			    "another file)",
			    c->database, strerror(errno),
			    (unsigned)(st.st_mode & 07777));
			return -1;
		}
		close(fd);
	} else if (errno != ENOENT) {
		snprintf(err, errsz, "database %s: %s", c->database,
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* The first folder on the way to path that this process cannot search,
 * into bad: -1 with errno then; 0 when it can go as far as path exists. */
static int
startup_unreachable(const char *path, char *bad, size_t badsz)
{
	char tmp[PATH_MAX];
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1;; p++) {
		int last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (stat(tmp, &st) == -1) {
			if (errno == ENOENT)
				return 0; /* the rest is created */
			snprintf(bad, badsz, "%s", tmp);
			return -1;
		}
		if (S_ISDIR(st.st_mode) && access(tmp, X_OK) == -1) {
			snprintf(bad, badsz, "%s", tmp);
			return -1;
		}
		if (last)
			return 0;
		*p = '/';
	}
}

/* The checks made as the user afd's processes run as. */
static int
startup_check_user(const struct conf *c, char *err, size_t errsz)
{
	char dir[PATH_MAX], bad[PATH_MAX];
	struct stat st;

	/* run_dir will belong to the user: it must be reachable. */
	if (startup_unreachable(c->run_dir, bad, sizeof(bad)) == -1) {
		snprintf(err, errsz,
		         "run_dir %s: user %s cannot reach %s: %s (every "
		         "folder above run_dir must be searchable by %s: set "
		         "run_dir in [afd] elsewhere, or set user in [afd] to "
		         "one that can reach it)",
		         c->run_dir, c->user, bad, strerror(errno), c->user);
		return -1;
	}
	startup_dirname(dir, sizeof(dir), c->database);
	if (startup_unreachable(dir, bad, sizeof(bad)) == -1) {
		snprintf(err, errsz,
		         "database %s: user %s cannot reach %s: %s (every "
		         "folder above the database must be searchable by %s: "
		         "set database in [afd] elsewhere, or set user in "
		         "[afd] to one that can reach it)",
		         c->database, c->user, bad, strerror(errno), c->user);
		return -1;
	}
	/* SQLite creates <database>-wal and -shm beside the database; a
	 * folder the master creates will be the user's. */
	if (stat(dir, &st) == 0 && startup_can_create(dir) == -1) {
		snprintf(err, errsz,
		         "database %s: user %s cannot create files in %s: %s "
		         "(SQLite keeps the database's -wal and -shm files "
		         "there: chown %s %s, or set database in [afd] to a "
		         "folder of its own)",
		         c->database, c->user, dir, strerror(errno), c->user,
		         dir);
		return -1;
	}
	return 0;
}

/* startup_check_user() in a child that becomes the user; its error line
 * comes back through a pipe. */
static int
startup_check_as_user(const struct conf *c, char *err, size_t errsz)
{
	char buf[1024];
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int rc = 0;

		close(pfd[0]);
		buf[0] = '\0';
		if (priv_drop(c->uid, c->gid, c->user, buf, sizeof(buf)) ==
		        -1 ||
		    startup_check_user(c, buf, sizeof(buf)) == -1)
			rc = 1;
		if (rc && write(pfd[1], buf, strlen(buf)) == -1)
			rc = 2;
		_exit(rc);
	}
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	buf[n > 0 ? n : 0] = '\0';
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errsz, "%s",
	         buf[0] ? buf : "the check as the configured user failed");
	return -1;
}

int
startup_check(const struct conf *c, char *err, size_t errsz)
{
	if (startup_check_master(c, err, errsz) == -1)
		return -1;
	if (c->drop)
		return startup_check_as_user(c, err, errsz);
	return startup_check_user(c, err, errsz);
}

/* mkdir -p, the folders it creates given to c's user. */
static int
startup_mkdir_p(const struct conf *c, const char *what, const char *path,
                char *err, size_t errsz)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1;; p++) {
		int last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) == 0) {
			if (c->drop && chown(tmp, c->uid, c->gid) == -1) {
				snprintf(err, errsz, "%s %s: chown %s: %s",
				         what, path, tmp, strerror(errno));
				return -1;
			}
		} else if (errno != EEXIST) {
			snprintf(err, errsz, "%s %s: cannot create %s: %s",
			         what, path, tmp, strerror(errno));
			return -1;
		}
		if (last)
			break;
		*p = '/';
	}
	return 0;
}

int
startup_mkdirs(const struct conf *c, char *err, size_t errsz)
{
	char dir[PATH_MAX];

	if (startup_mkdir_p(c, "run_dir", c->run_dir, err, errsz) == -1)
		return -1;
	startup_dirname(dir, sizeof(dir), c->database);
	return startup_mkdir_p(c, "database", c->database[0] ? dir : ".", err,
	                       errsz);
}

/* Lock path for what (the run_dir or the database) and write our pid in
 * it. The descriptor into *fdp. 0, or -1 with err. */
static int
startup_lock_file(const char *path, const char *what, const char *wpath,
                  int *fdp, char *err, size_t errsz)
{
	char pid[32];
	ssize_t n;
	int fd, len;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		snprintf(err, errsz, "%s %s: cannot open the lock file %s: %s",
		         what, wpath, path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int saved = errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (saved != EWOULDBLOCK) {
			snprintf(err, errsz, "%s %s: cannot lock %s: %s", what,
			         wpath, path, strerror(saved));
			return -1;
		}
		snprintf(
		    err, errsz,
		    "%s %s is in use by another afd (pid %s, which holds "
		    "%s): stop it first, or give this afd its own database "
		    "and run_dir",
		    what, wpath, pid[0] ? pid : "unknown", path);
		return -1;
	}
	len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)len, 0) != len) {
		snprintf(err, errsz, "%s %s: cannot write %s: %s", what, wpath,
		         path, strerror(errno));
		close(fd);
		return -1;
	}
	*fdp = fd;
	return 0;
}

int
startup_lock(const struct conf *c, struct startup_locks *l, char *err,
             size_t errsz)
{
	char path[PATH_MAX + 16];

	l->run_fd = l->db_fd = -1;
	snprintf(path, sizeof(path), "%s/afd.pid", c->run_dir);
	if (startup_lock_file(path, "run_dir", c->run_dir, &l->run_fd, err,
	                      errsz) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s.lock", c->database);
	if (startup_lock_file(path, "database", c->database, &l->db_fd, err,
	                      errsz) == -1) {
		startup_unlock(l);
		return -1;
	}
	return 0;
}

void
startup_unlock(struct startup_locks *l)
{
	int fds[2] = {l->run_fd, l->db_fd};

	for (int i = 0; i < 2; i++) {
		if (fds[i] < 0)
			continue;
		/* Emptied, so that nobody reads a stale pid; the lock
		 * itself goes with the close. */
		int r = ftruncate(fds[i], 0);
		(void)r;
		close(fds[i]);
	}
	l->run_fd = l->db_fd = -1;
}

int
startup_chown(const struct conf *c, char *err, size_t errsz)
{
	static const char *const suffix[] = {"", "-wal", "-shm", ".lock"};
	char path[PATH_MAX + 16];

	if (!c->drop)
		return 0;
	snprintf(path, sizeof(path), "%s/afd.pid", c->run_dir);
	if (chown(c->run_dir, c->uid, c->gid) == -1 ||
	    chown(path, c->uid, c->gid) == -1) {
		snprintf(err, errsz, "run_dir %s: chown to user %s: %s",
		         c->run_dir, c->user, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", c->database, suffix[i]);
		if (chown(path, c->uid, c->gid) == -1 && errno != ENOENT) {
			snprintf(err, errsz,
			         "database %s: chown %s to user %s: %s",
			         c->database, path, c->user, strerror(errno));
			return -1;
		}
	}
	return 0;
}
