/*
 * util/conf.h: afd's configuration (the INI file of DESIGN.md).
 * conf_load() reads and checks a file; every later reader uses the struct.
 * Relative paths in the file are made absolute against the file's folder.
 */
#ifndef AFD_CONF_H
#define AFD_CONF_H

#include <sys/types.h>

#include "util/log.h"

enum conf_durability { CONF_DUR_NORMAL, CONF_DUR_FULL };
/* [auth] mode: none (accept every REGISTER), digest, aka, or auto (each
 * subscriber's row says: k means AKA, only a password Digest). */
enum conf_auth {
	CONF_AUTH_NONE,
	CONF_AUTH_DIGEST,
	CONF_AUTH_AKA,
	CONF_AUTH_AUTO
};

struct conf {
	/* [afd] */
	char listen[64]; /* one IPv4/IPv6 address for UDP and TCP */
	int port;
	char domain[256];    /* the home domain afd serves */
	char database[4096]; /* absolute path */
	enum conf_durability durability;
	char run_dir[4096]; /* absolute path */
	enum log_level log_level;
	size_t max_message; /* bytes; [afd] max_message, default 65536 */
	int sip_t1;         /* ms: RFC 3261 T1, default 500 */
	char user[64];      /* [afd] user, default "nobody" */
	/* What conf_load() made of user: when afd runs as root, the user's
	 * ids and drop = 1 (unless the user is root itself); otherwise afd's
	 * own ids and drop = 0 (the key is ignored). */
	uid_t uid;
	gid_t gid;
	int drop;
	/* [workers] */
	int tcp_min_spare;
	int tcp_max;
	int tcp_first_message;   /* s: a new connection's first message */
	int tcp_message_timeout; /* s: a started message must be complete */
	int tcp_idle;            /* s: silence that closes an unbound one */
	int tcp_per_address;     /* connections per source address, 0: any */
	/* [registrar] */
	int default_expires;
	int min_expires;
	int max_expires;
	int max_contacts;
	int ping_interval;       /* s between OPTIONS pings; 0: no pings */
	int ping_remove_after;   /* unanswered pings that remove a binding; 0
	                            never */
	int outbound_require_ob; /* 439 when the first hop's Path lacks ;ob */
	/* [regevent] */
	int regev_min_expires; /* a shorter SUBSCRIBE expiry: 423 */
	int regev_max_expires; /* a longer one is lowered to it */
	/* [calls] */
	int ring_timeout; /* s: no final answer from the callee: 408 + CANCEL */
	int call_max_idle; /* s: a call silent this long is ended by the sweeper
	                    */
	/* [auth] */
	enum conf_auth auth_mode;
	char realm[256];
	int nonce_lifetime; /* s a challenge's nonce (and AKA vector) lives */
	/* where it came from */
	char path[4096];
};

/* Defaults of every key (as in DESIGN.md). */
void conf_defaults(struct conf *c);

/* Read and check the file at path into c. Returns 0, or -1 after writing
 * "FILE:LINE: reason" into err. */
int conf_load(struct conf *c, const char *path, char *err, size_t errsz);

#endif
