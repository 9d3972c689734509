/*
 * util/priv.h: giving up root. afd's master, started as root, binds its
 * sockets, takes its locks and hands the database and run_dir to the
 * configured user ([afd] user), then becomes that user with priv_drop();
 * every worker is forked from it afterwards, so no afd process runs as
 * root once afd has started (daemon/master.c says why nothing later needs
 * root).
 */
#ifndef AFD_PRIV_H
#define AFD_PRIV_H

#include <sys/types.h>

/*
 * Become uid/gid for good: supplementary groups set to gid alone, then the
 * real, effective and saved group, then user ids; then check that root
 * cannot be taken back (setuid(0) must fail). Returns 0, or -1 with the
 * reason in err (nothing is logged). name is the user's name, for err.
 */
int priv_drop(uid_t uid, gid_t gid, const char *name, char *err, size_t errsz);

#endif
