/*
 * workers/worker.h: what every worker process shares: the bootstrap after
 * fork (worker_main), its control channel to the master, its sibling
 * socket <run_dir>/<slot>.sock, its SIP service, its row in the workers
 * table, and the routing of outputs that are not for its own transport.
 * The UDP worker (udp.c) and the TCP worker (tcp.c) add their transport;
 * the checkpointer (ckpt.c) runs no SIP service, only checkpoints.
 */
#ifndef AFD_WORKER_H
#define AFD_WORKER_H

#include <stdint.h>
#include <sys/un.h>

#include <talloc.h>
#include <uv.h>

#include "util/conf.h"
#include "workers/proc.h"
#include "ipc/ipc.h"
#include "workers/sipd.h"

struct worker {
	uv_loop_t loop;
	const struct conf *conf;
	const struct proc_kind_info *ki;
	enum proc_kind kind;
	int index;
	char slot[8];  /* "u0", "t3" */
	char name[32]; /* "udp worker", "tcp worker 3" */
	int restarts;
	int ctl_fd, udp_fd, sib_fd;
	uv_poll_t *ctl_poll, *sib_poll;
	/* What the master and the siblings did not take yet (ipc.h's send
	 * queue): ctl_poll / sib_poll wait for writability and sibq_timer
	 * retries while something waits. */
	struct ipc_outq *ctlq, *sibq;
	uv_timer_t *sibq_timer;
	uv_signal_t *sigterm;
	uv_timer_t *txn_timer; /* the SIP service's earliest deadline */
	struct sqlite3 *db;    /* the workers row: a SIP worker's is sipd's */
	struct sipd *sipd;
	unsigned char *ipcbuf;  /* receive: IPC_MAX_MSG + 1 */
	unsigned char *sendbuf; /* send payloads: IPC_MAX_PAYLOAD */
	int stopping;
	int lean;      /* started without its SIP service (worker_sip_up) */
	int failed;    /* a lean worker could not start it: exits 1 */
	int ready;     /* READY sent */
	int recycle;   /* asked the master for a fresh process (RECYCLE);
	                  the kind's stop clears it if work came meanwhile */
	int fwd_batch; /* a batch of SIP_FORWARDs is open (worker.c) */
	struct sockaddr_un ckpt_addr; /* <run_dir>/c0.sock, for kicks */
	/* The kind's part. */
	void *priv;
	void (*stop)(struct worker *w); /* begin a graceful stop */
	/* Send n outputs of the SIP service (the kind's own transport,
	 * everything else through worker_route()). */
	void (*deliver)(struct worker *w, const struct sipd_out *out, int n);
	/* May be NULL: a batch ended with nothing left for the SIP service
	 * to wait for (no transaction, no timer). */
	void (*quiet)(struct worker *w);
	/* May be NULL: the kind's part of worker_sip_up() (its own
	 * statements on the new connection). 0 or -1. */
	int (*sip_up)(struct worker *w);
};

/*
 * A lean worker (a spare of the TCP pool with nothing of its slot's to
 * take over, restarts 0) starts without its SIP service and SQLite
 * connection, and makes them here when it first needs them (a connection,
 * a message forwarded to its slot): until then it maps none of SQLite's
 * pages and holds none of its memory. 0 (also when it has them already)
 * or -1 (logged: the worker cannot serve).
 */
int worker_sip_up(struct worker *w);

/* Call the kind's quiet hook from the loop shortly, when the SIP service
 * waits for nothing (else the batch that ends its last wait will). */
void worker_quiet_soon(struct worker *w);

/* The child's life after proc_fork(): returns its exit status. */
int worker_main(const struct proc_child *pc, const struct conf *c);

/* Stop gracefully: finish what is in flight, close every handle; the loop
 * then ends and the worker exits 0. */
void worker_stop(struct worker *w);

/* Record the worker's state: its row in the workers table and a STATE
 * message to the master. serving: "addr:port" or NULL. (A lean worker
 * writes its row from a child process made for it: worker.c.) */
void worker_state(struct worker *w, const char *state, const char *serving,
                  uint64_t conn_id);

/* A message to the master (payload wb may be NULL), sent or queued in
 * order when the channel is full. 0 or -1 (logged). */
int worker_to_master(struct worker *w, enum ipc_type type, uint64_t conn_id,
                     const struct ipc_wbuf *wb);

/* Send an output that is not for the worker's own transport: UDP through
 * the shared UDP socket, TCP of another slot as SIP_SEND to that slot, a
 * response for another worker's transaction as SIP_FORWARD to it (both
 * queued while that slot is full or being replaced: see ipc_outq). */
void worker_route(struct worker *w, const struct sipd_out *o);

/* End the SIP service's batch: commit, send what it queued (the kind's
 * deliver), and arm the transaction timer for the earliest deadline. */
void worker_batch_end(struct worker *w);

/* "addr:port" of a socket address ("[v6]:port"). */
void worker_addr_str(char *out, size_t outsz, const struct sockaddr *sa);

/* The kinds (proc.c's table). */
int udp_start(struct worker *w);
int tcp_start(struct worker *w);
int ckpt_start(struct worker *w);
extern ipc_handler_fn *const udp_ctl_handlers[IPC__COUNT];
extern ipc_handler_fn *const tcp_ctl_handlers[IPC__COUNT];
extern ipc_handler_fn *const ckpt_ctl_handlers[IPC__COUNT];
extern ipc_handler_fn *const ckpt_sib_handlers[IPC__COUNT];
/* The checkpointer's nice value. Measured (t/bench, everything on one
 * core): nice 5 let the UDP worker win the core but the checkpointer fell
 * behind above ~22,500 REGISTER/s (the in-line fallback's stalls cost the
 * held rate), and gave no better p99 at 10,000/s than nice 0. */
#define CKPT_NICE 0

#endif
