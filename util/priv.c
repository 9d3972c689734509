/*
 * util/priv.c: see priv.h. Linux: setgroups, setresgid, setresuid.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/priv.h"

/* Sanitizer builds: LeakSanitizer inspects the process at exit through a
 * ptrace-like helper, which the kernel refuses in a process that changed
 * its user (it is no longer "dumpable"). Only those builds make it
 * dumpable again; a normal afd keeps the kernel's protection. */
#if defined(__SANITIZE_ADDRESS__)
#define PRIV_DUMPABLE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PRIV_DUMPABLE 1
#endif
#endif

int
priv_drop(uid_t uid, gid_t gid, const char *name, char *err, size_t errsz)
{
	if (setgroups(1, &gid) == -1) {
		snprintf(err, errsz, "setgroups(%u) for user %s: %s",
		         (unsigned)gid, name, strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1) {
		snprintf(err, errsz, "setresgid(%u) for user %s: %s",
		         (unsigned)gid, name, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) == -1) {
		snprintf(err, errsz, "setresuid(%u) for user %s: %s",
		         (unsigned)uid, name, strerror(errno));
		return -1;
	}
	/* Proof that it is for good. */
	if (uid != 0 && (setuid(0) != -1 || geteuid() == 0 || getuid() == 0)) {
		snprintf(err, errsz,
		         "still able to become root after switching to user %s",
		         name);
		return -1;
	}
#ifdef PRIV_DUMPABLE
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	return 0;
}
