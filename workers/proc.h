/*
 * workers/proc.h: the kinds of afd process, in one table, and the one
 * function that forks a worker.
 *
 * Supervision rules (the master applies them in daemon/master.c; the
 * README repeats them):
 *  - exit 0: done. A worker exits 0 when told to stop (SIGTERM from the
 *    master, or its control channel closed because the master is gone).
 *    While afd is stopping this is the expected end; otherwise the worker
 *    is replaced like any other.
 *  - exit 1: configuration or startup error (database, socket, memory):
 *    replaced with back-off, never in a tight loop.
 *  - exit 2 (PROC_EXIT_RECYCLED): a TCP worker that asked to be recycled
 *    (RECYCLE: its connection closed, it waits for nothing) and still
 *    waited for nothing when the master's SIGTERM came: a fresh process
 *    takes its slot at once, not counted as a restart. (Anything else
 *    from a worker being recycled is handled as below.) A lean spare
 *    whose SIP service never started ends so too, at any SIGTERM; a
 *    retired worker that ends otherwise makes the next process of its
 *    slot start whole, to take over what it held.
 *  - killed by a signal: a crash (or kill -9): replaced at once in the
 *    same slot; its connection (TCP) is handed to the replacement.
 *  - back-off: a worker that lived less than PROC_MIN_LIFE_MS, or exited 1,
 *    is replaced after a delay that starts at PROC_BACKOFF_MIN_MS and
 *    doubles each time, up to PROC_BACKOFF_MAX_MS; a worker that lived
 *    longer resets it and is replaced at once.
 *  - a TCP connection whose worker crashed PROC_MAX_RESUMES times while
 *    serving it is closed (it is probably what kills them).
 *  - the checkpointer (c0) is one slot like u0: replaced at once after a
 *    crash; while it is down the workers checkpoint in-line (schema/db.h).
 *  - the TCP pool: tcp_min_spare idle workers are kept ready (a new one
 *    is forked as soon as a connection takes one), never more than
 *    tcp_max in all; beyond that connections wait (accepted by the
 *    master, closed after 3 s) and the master evicts, for each, one
 *    connection that carries no registration binding
 *    (daemon/master.c). At most tcp_per_address
 *    connections from one address. When more than tcp_min_spare are
 *    idle, one that has been idle for 30 s is stopped (SIGTERM) every 5 s
 *    and not replaced. The deadlines of one connection
 *    (tcp_first_message, tcp_message_timeout, tcp_idle) are the TCP
 *    worker's (workers/tcp.c).
 */
#ifndef AFD_PROC_H
#define AFD_PROC_H

#include <sys/types.h>

#include "util/conf.h"
#include "ipc/ipc.h"

#define PROC_EXIT_DONE 0
#define PROC_EXIT_STARTUP 1
#define PROC_EXIT_RECYCLED 2
#define PROC_MIN_LIFE_MS 1000
#define PROC_BACKOFF_MIN_MS 250
#define PROC_BACKOFF_MAX_MS 10000
#define PROC_MAX_RESUMES 3

enum proc_kind { PROC_UDP, PROC_TCP, PROC_CKPT, PROC__COUNT };

struct worker;

struct proc_kind_info {
	const char *kind;  /* the workers table's kind: "udp", "tcp" */
	const char *title; /* "udp worker" (+ " N" for a pool) */
	char prefix;       /* slot names: 'u' -> "u0" */
	int pool;          /* several of this kind, numbered */
	/* The kind's start in the child (after the common bootstrap):
	 * 0, or -1 (the worker exits PROC_EXIT_STARTUP). */
	int (*start)(struct worker *w);
	/* Its handlers for messages from the master. */
	ipc_handler_fn *const *ctl_handlers;
	/* It runs the SIP service (and takes SIP_FORWARD / SIP_SEND on its
	 * sibling socket); else sib_handlers are its sibling handlers. */
	int sip;
	ipc_handler_fn *const *sib_handlers;
	/* nice value (setpriority) for the kind, 0: unchanged */
	int nice;
};

extern const struct proc_kind_info proc_kinds[PROC__COUNT];

/* What a child takes from the master across fork(). */
struct proc_child {
	enum proc_kind kind;
	int index;
	char slot[8]; /* "u0", "t3" */
	int restarts;
	int lean;   /* a TCP worker whose slot holds nothing to take over
	               (never run, or its last process was recycled): it
	               starts lean (workers/worker.h, worker_sip_up) */
	int ctl_fd; /* its end of the control socketpair */
	int udp_fd; /* the UDP socket: u0 reads it, everyone may send */
};

/* "u0", "t3" */
void proc_slot_name(char *out, size_t outsz, enum proc_kind kind, int index);

/*
 * Fork a worker: make the control socketpair, fork. In the parent returns
 * the pid and *master_fd (its end, non-blocking). In the child returns 0
 * with pc->ctl_fd set (the caller leaves its loop and runs worker_main).
 * -1 on failure (logged).
 */
pid_t proc_fork(struct proc_child *pc, int *master_fd);

#endif
