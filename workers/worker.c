/*
 * workers/worker.c: the common life of a worker process after fork():
 * a clean start (its own libuv loop, re-seeded randomness, its own SQLite
 * connections, its title and log name), its control channel to the master,
 * its sibling socket <run_dir>/<slot>.sock, a graceful stop on SIGTERM or
 * when the master goes away, and the routing of SIP outputs that are not
 * for its own transport. A lean spare of the TCP pool makes its SIP
 * service and SQLite connection only when it first needs them
 * (worker_sip_up), and has its workers row written meanwhile by a child
 * process of its own (worker_row_apart).
 *
 * Memory: one talloc tree per worker, rooted at struct worker.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/log.h"
#include "util/proctitle.h"
#include "util/uvh.h"
#include "schema/db.h"
#include "workers/worker.h"

void
worker_addr_str(char *out, size_t outsz, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, outsz, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, outsz, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, outsz, "?");
	}
}

int
worker_to_master(struct worker *w, enum ipc_type type, uint64_t conn_id,
                 const struct ipc_wbuf *wb)
{
	if (w->ctl_fd < 0 || w->ctlq == NULL)
		return -1;
	if (ipc_outq_send(w->ctlq, NULL, type, conn_id, wb, -1,
	                  uv_now(&w->loop)) == -1) {
		if (errno != ENOBUFS) /* the queue said so already */
			log_warn("ipc: send %s to master", ipc_type_name(type));
		return -1;
	}
	return 0;
}

/*
 * The workers row of a lean worker, which has no SQLite connection
 * (worker_sip_up()): written by a child process made for it, which opens
 * the database, writes the row and exits, so that SQLite's code and
 * memory never become pages of this process (its PSS would count them).
 * The worker waits for it: the row is written before what follows (READY
 * to the master, an exit). Before READY, and for the last row
 * ("stopped", when siblings that stop too may hold the lock), the write
 * waits for the lock as a starting worker's does (db_start_wait), else
 * as a serving one's. A row not written is logged.
 */
static void
worker_row_apart(struct worker *w, const char *state, const char *serving)
{
	int starting = !w->ready || strcmp(state, "stopped") == 0;
	pid_t me = getpid(), pid;
	sqlite3 *db;
	int status, rc = 1;

	if ((pid = fork()) == -1) {
		log_warn("fork for the workers row");
		return;
	}
	if (pid == 0) {
		if ((db = db_open(w->conf)) != NULL) {
			/* a starting worker's first write: siblings that
			 * start at once may hold the lock a while */
			db_start_wait(db, starting);
			rc = db_worker_set(db, w->slot, w->ki->kind, (int)me,
			                   state, serving, w->restarts) != 0;
			db_close(db);
		}
		_exit(rc);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("waitpid for the workers row");
			return;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warnx("the workers row (%s) was not written: its process "
		          "%s %d",
		          state,
		          WIFEXITED(status) ? "exited with status"
		                            : "was killed by signal",
		          WIFEXITED(status) ? WEXITSTATUS(status)
		                            : WTERMSIG(status));
}

void
worker_state(struct worker *w, const char *state, const char *serving,
             uint64_t conn_id)
{
	unsigned char buf[256];
	struct ipc_wbuf wb;

	if (w->db != NULL)
		db_worker_set(w->db, w->slot, w->ki->kind, (int)getpid(), state,
		              serving, w->restarts);
	else if (w->lean)
		worker_row_apart(w, state, serving);
	ipc_wbuf_init(&wb, buf, sizeof(buf));
	ipc_put_str(&wb, state);
	ipc_put_str(&wb, serving ? serving : "");
	worker_to_master(w, IPC_STATE, conn_id, &wb);
}

/* A response for another worker's transaction: SIP_FORWARD to its slot,
 * with where it came from. */
static void
worker_forward(struct worker *w, const struct sipd_out *o)
{
	struct sockaddr_un sun;
	struct ipc_wbuf wb;

	if (ipc_slot_addr(&sun, w->conf->run_dir, o->fwd_slot) == -1) {
		log_warnx("route: no socket for slot %s", o->fwd_slot);
		return;
	}
	ipc_wbuf_init(&wb, w->sendbuf, IPC_MAX_PAYLOAD);
	ipc_put_u32(&wb, o->to.tp);
	ipc_put_sockaddr(&wb, (const struct sockaddr *)&o->to.addr,
	                 o->to.addrlen);
	ipc_put_bytes(&wb, o->buf, o->len);
	/* Sent, or queued while that slot is full or being replaced (a
	 * relayed 180 must not be lost); the queue logs what it must drop in
	 * the end. */
	if (w->sibq == NULL)
		log_warnx("ipc: SIP_FORWARD to %s dropped: no sibling socket",
		          o->fwd_slot);
	else if (ipc_outq_send(w->sibq, &sun, IPC_SIP_FORWARD, o->to.conn_id,
	                       &wb, -1, uv_now(&w->loop)) == -1 &&
	         errno != ENOBUFS) /* the queue said so already */
		log_warn("ipc: SIP_FORWARD to %s dropped", o->fwd_slot);
}

static void
worker_on_txn_timer(uv_timer_t *h)
{
	struct worker *w = h->data;

	if (w->sipd == NULL || w->stopping)
		return;
	sipd_batch_begin(w->sipd);
	sipd_timers(w->sipd, sipd_now_ms());
	worker_batch_end(w);
}

void
worker_batch_end(struct worker *w)
{
	const struct sipd_out *out;
	uint64_t next, now;
	int n;

	n = sipd_batch_end(w->sipd, &out);
	if (n > 0)
		w->deliver(w, out, n);
	if (w->txn_timer == NULL || w->stopping)
		return;
	next = sipd_next_deadline(w->sipd);
	if (next == UINT64_MAX) {
		uv_timer_stop(w->txn_timer);
		if (w->quiet != NULL)
			w->quiet(w);
		return;
	}
	now = sipd_now_ms();
	uv_timer_start(w->txn_timer, worker_on_txn_timer,
	               next > now ? next - now : 0, 0);
}

void
worker_quiet_soon(struct worker *w)
{
	if (w->txn_timer == NULL || w->stopping || w->sipd == NULL ||
	    w->quiet == NULL)
		return;
	/* with a deadline pending, its batch's end will find it quiet */
	if (sipd_next_deadline(w->sipd) == UINT64_MAX)
		uv_timer_start(w->txn_timer, worker_on_txn_timer, 0, 0);
}

void
worker_route(struct worker *w, const struct sipd_out *o)
{
	struct sockaddr_un sun;
	struct ipc_wbuf wb;
	ssize_t n;

	if (o->kind == SIPD_OUT_FORWARD) {
		worker_forward(w, o);
		return;
	}
	if (o->kind == SIPD_OUT_KICK) {
		if (ipc_slot_addr(&sun, w->conf->run_dir, o->fwd_slot) == -1 ||
		    w->sibq == NULL)
			return;
		/* a hint: the notifier's sweep finds the debt anyway */
		if (ipc_outq_send(w->sibq, &sun, IPC_REGEV_KICK, 0, NULL, -1,
		                  uv_now(&w->loop)) == -1 &&
		    errno != ENOBUFS)
			log_warn("ipc: REGEV_KICK to %s", o->fwd_slot);
		return;
	}
	if (o->to.tp == SIP_TP_UDP) {
		if (w->udp_fd < 0)
			return;
		n = sendto(w->udp_fd, o->buf, o->len, MSG_DONTWAIT,
		           (const struct sockaddr *)&o->to.addr, o->to.addrlen);
		if (n == -1)
			log_warn("udp: sendto");
		return;
	}
	/* TCP of another worker: its sibling socket. */
	if (o->to.slot[0] == '\0' ||
	    ipc_slot_addr(&sun, w->conf->run_dir, o->to.slot) == -1) {
		log_warnx("route: TCP output without a valid slot, dropped");
		return;
	}
	/* Not ipcbuf: o may point into the message being handled. */
	ipc_wbuf_init(&wb, w->sendbuf, IPC_MAX_PAYLOAD);
	ipc_put_u32(&wb, SIP_TP_TCP);
	ipc_put_sockaddr(&wb, (const struct sockaddr *)&o->to.addr,
	                 o->to.addrlen);
	ipc_put_bytes(&wb, o->buf, o->len);
	/* Sent, or queued while that slot is full or being replaced; the
	 * queue logs what it must drop in the end. */
	if (w->sibq == NULL)
		log_warnx("ipc: SIP_SEND to %s dropped: no sibling socket",
		          o->to.slot);
	else if (ipc_outq_send(w->sibq, &sun, IPC_SIP_SEND, o->to.conn_id, &wb,
	                       -1, uv_now(&w->loop)) == -1 &&
	         errno != ENOBUFS) /* the queue said so already */
		log_warn("ipc: SIP_SEND to %s dropped", o->to.slot);
}

/* Read the common SIP payload of SIP_FORWARD / SIP_SEND. */
static int
worker_get_sip(struct ipc_msg *m, struct sip_peer *p, const void **buf,
               size_t *len)
{
	uint32_t tp;

	memset(p, 0, sizeof(*p));
	if (ipc_get_u32(m, &tp) == -1 || tp > SIP_TP_TCP ||
	    ipc_get_sockaddr(m, &p->addr, &p->addrlen) == -1 ||
	    ipc_get_bytes(m, buf, len) == -1 || ipc_get_end(m) == -1)
		return -1;
	p->tp = (enum sip_transport)tp;
	p->conn_id = m->hdr.conn_id;
	if (p->tp == SIP_TP_TCP)
		snprintf(p->slot, sizeof(p->slot), "%s", m->hdr.slot);
	return 0;
}

/* SIP_FORWARD: a message received by a sibling, for this worker's SIP
 * service (e.g. a response to a request this worker sent). The
 * forwards read in one turn share one batch (worker_sib_readable ends
 * it): one commit for the 180s and 200s of many calls. The bytes are
 * copied into the batch's memory: the service may point into them until
 * the batch ends, and the receive buffer is reused for the next one. */
static int
worker_sip_forward(void *arg, struct ipc_msg *m)
{
	struct worker *w = arg;
	struct sip_peer from;
	const void *buf;
	void *copy;
	size_t len;

	if (worker_get_sip(m, &from, &buf, &len) == -1)
		return -1;
	if (worker_sip_up(w) == -1)
		return 0; /* logged; the worker is stopping */
	if (!w->fwd_batch) {
		sipd_batch_begin(w->sipd);
		w->fwd_batch = 1;
	}
	if ((copy = talloc_memdup(sipd_batch_mem(w->sipd), buf, len)) == NULL) {
		log_warnx("ipc: SIP_FORWARD dropped: out of memory");
		return 0;
	}
	sipd_handle_forwarded(w->sipd, copy, len, &from);
	return 0;
}

/* End the open batch of SIP_FORWARDs: commit, then send its outputs. */
static void
worker_fwd_batch_end(struct worker *w)
{
	if (!w->fwd_batch)
		return;
	w->fwd_batch = 0;
	worker_batch_end(w);
}

/* SIP_SEND: send these bytes on this worker's transport. */
static int
worker_sip_send(void *arg, struct ipc_msg *m)
{
	struct worker *w = arg;
	struct sipd_out o;
	const void *buf;

	memset(&o, 0, sizeof(o));
	if (worker_get_sip(m, &o.to, &buf, &o.len) == -1)
		return -1;
	o.buf = buf;
	if (o.to.tp == SIP_TP_TCP)
		snprintf(o.to.slot, sizeof(o.to.slot), "%s", w->slot);
	w->deliver(w, &o, 1);
	return 0;
}

/* CKPT_DONE: the checkpointer copied the WAL it saw; copy what this
 * worker committed since (between two transactions: now), so that its
 * next transaction starts the WAL over. */
static int
worker_ckpt_done(void *arg, struct ipc_msg *m)
{
	struct worker *w = arg;
	uint32_t frames, copied;
	uint64_t t0 = uv_hrtime();
	int f, c;

	if (ipc_get_u32(m, &frames) == -1 || ipc_get_u32(m, &copied) == -1 ||
	    ipc_get_end(m) == -1)
		return -1;
	if (w->sipd == NULL || db_checkpoint(sipd_db(w->sipd), &f, &c) != 0)
		return 0;
	log_trace("checkpoint after the checkpointer's (%u of %u): %d of %d "
	          "frames, %.2f ms",
	          copied, frames, c, f, (double)(uv_hrtime() - t0) / 1e6);
	return 0;
}

/* REGEV_KICK: a sibling committed a change a reg-event watcher must
 * hear of: send the NOTIFYs owed (the notifier only). */
static int
worker_regev_kick(void *arg, struct ipc_msg *m)
{
	struct worker *w = arg;

	if (ipc_get_end(m) == -1)
		return -1;
	if (w->sipd == NULL || w->stopping)
		return 0;
	sipd_batch_begin(w->sipd);
	sipd_regev_kick(w->sipd);
	worker_batch_end(w);
	return 0;
}

static ipc_handler_fn *const worker_sib_handlers[IPC__COUNT] = {
    [IPC_REGEV_KICK] = worker_regev_kick,
    [IPC_SIP_FORWARD] = worker_sip_forward,
    [IPC_SIP_SEND] = worker_sip_send,
    [IPC_CKPT_DONE] = worker_ckpt_done,
};

static void
worker_sib_readable(uv_poll_t *h, int status, int events)
{
	struct worker *w = h->data;
	ipc_handler_fn *const *table =
	    w->ki->sib_handlers ? w->ki->sib_handlers : worker_sib_handlers;
	struct ipc_msg m;

	if ((events & UV_WRITABLE) && w->sibq != NULL)
		ipc_outq_flush(w->sibq, uv_now(&w->loop));
	/* A bounded number per turn: the loop has other work. */
	for (int i = 0; i < 64 && !w->stopping; i++) {
		int r = ipc_recv(w->sib_fd, w->ipcbuf, IPC_MAX_MSG + 1, &m);
		if (r <= 0)
			break;
		/* anything else runs between two batches, in order */
		if (m.hdr.type != IPC_SIP_FORWARD)
			worker_fwd_batch_end(w);
		ipc_dispatch(table, w, &m);
	}
	worker_fwd_batch_end(w);
}

static void
worker_ctl_readable(uv_poll_t *h, int status, int events)
{
	struct worker *w = h->data;
	struct ipc_msg m;

	if ((events & UV_WRITABLE) && w->ctlq != NULL)
		ipc_outq_flush(w->ctlq, uv_now(&w->loop));
	for (int i = 0; i < 64 && !w->stopping; i++) {
		int r = ipc_recv(w->ctl_fd, w->ipcbuf, IPC_MAX_MSG + 1, &m);
		if (r == 0)
			return;
		if (r == -1) {
			log_info("control channel closed (master gone): "
			         "stopping");
			worker_stop(w);
			return;
		}
		ipc_dispatch(w->ki->ctl_handlers, w, &m);
	}
}

/* The control queue's wait function: poll for writability while the
 * master's channel is full. (A connected channel needs no timer.) */
static void
worker_ctlq_wait(void *arg, int writable, uint64_t at)
{
	struct worker *w = arg;

	if (w->ctl_poll != NULL)
		uv_poll_start(w->ctl_poll,
		              UV_READABLE | UV_DISCONNECT |
		                  (writable ? UV_WRITABLE : 0),
		              worker_ctl_readable);
}

static void
worker_sibq_on_timer(uv_timer_t *t)
{
	struct worker *w = t->data;

	if (w->sibq != NULL)
		ipc_outq_flush(w->sibq, uv_now(&w->loop));
}

/* The sibling queue's wait function: the retry timer (a full or dead
 * slot: sends to an address get no writability wake-up, ipc.h says why),
 * and writability should the queue ever ask for it. */
static void
worker_sibq_wait(void *arg, int writable, uint64_t at)
{
	struct worker *w = arg;
	uint64_t now = uv_now(&w->loop);

	if (w->sib_poll != NULL)
		uv_poll_start(w->sib_poll,
		              UV_READABLE | (writable ? UV_WRITABLE : 0),
		              worker_sib_readable);
	if (w->sibq_timer == NULL)
		return;
	if (at == 0)
		uv_timer_stop(w->sibq_timer);
	else
		uv_timer_start(w->sibq_timer, worker_sibq_on_timer,
		               at > now ? at - now : 0, 0);
}

/* Exiting (the loop has ended, its handles are closed): send what the
 * sockets take now; drop the rest with one log line per destination. */
static void
worker_queues_end(struct worker *w, const char *why)
{
	uint64_t now = uv_now(&w->loop);

	if (w->ctlq != NULL && ipc_outq_flush(w->ctlq, now) > 0)
		ipc_outq_drop(w->ctlq, why);
	if (w->sibq != NULL && ipc_outq_flush(w->sibq, now) > 0)
		ipc_outq_drop(w->sibq, why);
}

static void
worker_on_sigterm(uv_signal_t *h, int signum)
{
	struct worker *w = h->data;

	log_debug("SIGTERM: stopping");
	worker_stop(w);
}

void
worker_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	if (w->stop)
		w->stop(w);
	uvh_close(w->ctl_poll);
	w->ctl_poll = NULL;
	uvh_close(w->sib_poll);
	w->sib_poll = NULL;
	uvh_close(w->sibq_timer);
	w->sibq_timer = NULL;
	uvh_close(w->sigterm);
	w->sigterm = NULL;
	uvh_close(w->txn_timer);
	w->txn_timer = NULL;
}

/* Bind <run_dir>/<slot>.sock; the address belongs to the slot, so a
 * replacement removes what its predecessor left. */
static int
worker_bind_sibling(struct worker *w)
{
	struct sockaddr_un sun;
	int sz = 4 * 1024 * 1024;

	if (ipc_slot_addr(&sun, w->conf->run_dir, w->slot) == -1) {
		log_warnx("run_dir path too long for a socket: %s",
		          w->conf->run_dir);
		return -1;
	}
	w->sib_fd =
	    socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->sib_fd == -1) {
		log_warn("socket");
		return -1;
	}
	if (setsockopt(w->sib_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz,
	               sizeof(sz)) == -1)
		setsockopt(w->sib_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	unlink(sun.sun_path);
	if (bind(w->sib_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("bind %s", sun.sun_path);
		return -1;
	}
	w->sib_poll = uvh_new(w, uv_poll_t);
	if (w->sib_poll == NULL ||
	    uv_poll_init(&w->loop, w->sib_poll, w->sib_fd) != 0)
		return -1;
	w->sib_poll->data = w;
	uv_poll_start(w->sib_poll, UV_READABLE, worker_sib_readable);
	w->sibq_timer = uvh_new(w, uv_timer_t);
	if (w->sibq_timer == NULL ||
	    uv_timer_init(&w->loop, w->sibq_timer) != 0)
		return -1;
	w->sibq_timer->data = w;
	w->sibq =
	    ipc_outq_new(w, w->sib_fd, w->slot, NULL, worker_sibq_wait, w);
	if (w->sibq == NULL)
		return -1;
	return 0;
}

/* The WAL hook's kicker (schema/db.h): ask the checkpointer for a
 * checkpoint. Best-effort, not through the send queue: a kick is a hint,
 * rate-limited by the hook and sent again by the next commit; when the
 * checkpointer is down or full the send fails and the hook's in-line
 * fallback keeps the WAL bounded. */
static void
worker_ckpt_kick(void *arg, int frames)
{
	struct worker *w = arg;
	unsigned char buf[8];
	struct ipc_wbuf wb;

	if (w->sib_fd < 0 || w->ckpt_addr.sun_path[0] == '\0')
		return;
	ipc_wbuf_init(&wb, buf, sizeof(buf));
	ipc_put_u32(&wb, (uint32_t)frames);
	if (ipc_send(w->sib_fd, &w->ckpt_addr, IPC_CKPT_KICK, w->slot, 0, &wb,
	             -1) == -1)
		log_debug("ipc: CKPT_KICK to the checkpointer: %s",
		          strerror(errno));
}

/* A SIP worker's SQL connection kicks the checkpointer. */
static int
worker_ckpt_hooks(struct worker *w)
{
	char slot[8];

	proc_slot_name(slot, sizeof(slot), PROC_CKPT, 0);
	if (ipc_slot_addr(&w->ckpt_addr, w->conf->run_dir, slot) == -1)
		return -1;
	if (db_wal_hook_install(sipd_db(w->sipd), worker_ckpt_kick, w) == -1) {
		log_warnx("db: cannot install the WAL hook");
		return -1;
	}
	return 0;
}

/* Fresh randomness after fork: the parent's generator state is shared. */
static void
worker_reseed(void)
{
	unsigned int seed = 0;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned)time(NULL);
	seed ^= (unsigned)getpid();
	srandom(seed);
	srand(seed);
	srand48(seed);
}

/* The SIP service, its SQLite connection (which also keeps the workers
 * row), its transaction timer and the connection's checkpoint kicks. 0 or
 * -1 (logged). */
static int
worker_sip_open(struct worker *w)
{
	if ((w->sipd = sipd_new(w, w->conf, w->slot)) == NULL) {
		log_warnx("cannot start the SIP service");
		return -1;
	}
	w->db = sipd_db(w->sipd);
	w->txn_timer = uvh_new(w, uv_timer_t);
	if (w->txn_timer == NULL || uv_timer_init(&w->loop, w->txn_timer) != 0)
		return -1;
	w->txn_timer->data = w;
	return worker_ckpt_hooks(w);
}

/* Arm the SIP service's first deadline (the B2BUA looks at the calls of
 * this slot shortly after start: a replacement's recovery). A lean worker
 * has nothing to look at and nothing to arm: no batch either, whose end
 * would find it quiet before the message that woke it is handled. */
static void
worker_sip_arm(struct worker *w)
{
	if (w->lean) {
		sipd_started_lean(w->sipd);
		return;
	}
	sipd_started(w->sipd, w->restarts);
	sipd_batch_begin(w->sipd);
	worker_batch_end(w);
}

int
worker_sip_up(struct worker *w)
{
	if (w->sipd != NULL)
		return 0;
	if (!w->ki->sip || w->stopping)
		return -1;
	if (worker_sip_open(w) == -1 ||
	    (w->sip_up != NULL && w->sip_up(w) == -1)) {
		log_warnx("a lean worker could not start its SIP service: "
		          "exiting (the master replaces it)");
		w->failed = 1;
		worker_stop(w);
		return -1;
	}
	log_debug("SIP service started (the worker was lean)");
	worker_sip_arm(w);
	return 0;
}

static int
worker_start(struct worker *w)
{
	struct ipc_wbuf wb;
	unsigned char buf[16];

	w->ipcbuf = talloc_size(w, IPC_MAX_MSG + 1);
	w->sendbuf = talloc_size(w, IPC_MAX_PAYLOAD);
	if (w->ipcbuf == NULL || w->sendbuf == NULL)
		return -1;
	w->sigterm = uvh_new(w, uv_signal_t);
	if (w->sigterm == NULL || uv_signal_init(&w->loop, w->sigterm) != 0)
		return -1;
	w->sigterm->data = w;
	uv_signal_start(w->sigterm, worker_on_sigterm, SIGTERM);
	w->ctl_poll = uvh_new(w, uv_poll_t);
	if (w->ctl_poll == NULL ||
	    uv_poll_init(&w->loop, w->ctl_poll, w->ctl_fd) != 0)
		return -1;
	w->ctl_poll->data = w;
	uv_poll_start(w->ctl_poll, UV_READABLE | UV_DISCONNECT,
	              worker_ctl_readable);
	w->ctlq =
	    ipc_outq_new(w, w->ctl_fd, w->slot, "master", worker_ctlq_wait, w);
	if (w->ctlq == NULL)
		return -1;

	/* A SIP worker keeps its workers row through the SIP service's
	 * connection: one SQLite connection per process (its schema, page
	 * cache and statements), not two. A pool's spare with nothing of its
	 * slot's to take over (the master says: the slot never ran a
	 * process, or its last one was recycled) starts lean: no SIP service
	 * and no SQLite connection until it needs them (worker_sip_up). */
	w->lean = w->ki->sip && w->ki->pool && w->lean;
	if (w->ki->sip && !w->lean) {
		if (worker_sip_open(w) == -1)
			return -1;
	} else if (!w->ki->sip && (w->db = db_open(w->conf)) == NULL)
		return -1;
	/* Until it is ready the worker serves nothing: its first writes (its
	 * row, what its services set up) may wait for its siblings', which
	 * all start at once, longer than a serving worker would. */
	if (w->db != NULL) {
		db_start_wait(w->db, 1);
		db_worker_set(w->db, w->slot, w->ki->kind, (int)getpid(),
		              "starting", NULL, w->restarts);
	}
	if (worker_bind_sibling(w) == -1)
		return -1;
	if (w->ki->start(w) == -1)
		return -1;
	if (w->sipd != NULL)
		worker_sip_arm(w);
	worker_state(w, "idle", NULL, 0);
	if (w->db != NULL)
		db_start_wait(w->db, 0);
	/* a pool's spare waits, maybe long: the heap's free pages (SQLite's
	 * schema parse, the start's statements) go back now */
	if (w->ki->pool)
		malloc_trim(0);
	ipc_wbuf_init(&wb, buf, sizeof(buf));
	ipc_put_u32(&wb, (uint32_t)getpid());
	ipc_put_u32(&wb, (uint32_t)w->restarts);
	if (worker_to_master(w, IPC_READY, 0, &wb) == -1)
		return -1;
	w->ready = 1;
	return 0;
}

int
worker_main(const struct proc_child *pc, const struct conf *c)
{
	struct worker *w;
	int rc = PROC_EXIT_STARTUP, untouched;

	/* Privileges: the master became [afd] user before it forked any
	 * worker (daemon/master.c, master_setup), so a worker is born
	 * without root and every file it creates (-wal, -shm, its slot
	 * socket) is the user's. Checked, not assumed. */
	if (c->drop && (geteuid() == 0 || getuid() == 0 || getegid() == 0)) {
		log_error("BUG: a worker runs as root though user %s was "
		          "configured",
		          c->user);
		return PROC_EXIT_STARTUP;
	}
	/* Blocks of 128 KiB and more (the IPC buffers, the batch pool, a
	 * grown transaction table) are mapped apart and unmapped when freed:
	 * without this glibc raises the threshold after the first such free
	 * and later ones land in the heap, where they pin its top. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	signal(SIGINT, SIG_IGN); /* the master stops us with SIGTERM */
	signal(SIGPIPE, SIG_IGN);
	worker_reseed();
	w = talloc_zero(NULL, struct worker);
	if (w == NULL)
		return PROC_EXIT_STARTUP;
	w->conf = c;
	w->kind = pc->kind;
	w->ki = &proc_kinds[pc->kind];
	w->index = pc->index;
	w->restarts = pc->restarts;
	w->lean = pc->lean; /* the master's word; worker_start decides */
	w->ctl_fd = pc->ctl_fd;
	w->udp_fd = pc->udp_fd;
	w->sib_fd = -1;
	snprintf(w->slot, sizeof(w->slot), "%s", pc->slot);
	if (w->ki->pool)
		snprintf(w->name, sizeof(w->name), "%s %d", w->ki->title,
		         w->index);
	else
		snprintf(w->name, sizeof(w->name), "%s", w->ki->title);
	log_procname(w->name);
	if (w->ki->nice != 0 && setpriority(PRIO_PROCESS, 0, w->ki->nice) == -1)
		log_warn("setpriority %d", w->ki->nice);
	if (w->ki->pool)
		proctitle_set("afd: %s [idle]", w->name);
	else
		proctitle_set("afd: %s", w->name);

	if (uv_loop_init(&w->loop) != 0) {
		log_warnx("uv_loop_init failed");
		talloc_free(w);
		return PROC_EXIT_STARTUP;
	}
	if (worker_start(w) == 0) {
		rc = PROC_EXIT_DONE;
		log_debug("started (slot %s, restarts %d)", w->slot,
		          w->restarts);
	} else {
		worker_stop(w);
	}
	uv_run(&w->loop, UV_RUN_DEFAULT);

	if (w->failed)
		rc = PROC_EXIT_STARTUP;
	/* a lean worker whose SIP service never started holds nothing of
	 * its slot's: it ends as a recycled one does (the master starts the
	 * next process of the slot lean) */
	untouched = w->lean && w->sipd == NULL;
	if (w->db != NULL) {
		if (rc == PROC_EXIT_DONE) /* recycled too */
			db_worker_set(w->db, w->slot, w->ki->kind,
			              (int)getpid(), "stopped", NULL,
			              w->restarts);
		if (w->sipd == NULL)
			db_close(
			    w->db); /* else the SIP service's: freed below */
		w->db = NULL;
	} else if (w->lean && rc == PROC_EXIT_DONE) {
		worker_row_apart(w, "stopped", NULL);
	}
	talloc_free(w->sipd);
	w->sipd = NULL;
	worker_queues_end(w, "worker exiting");
	/* Anything closed by the frees above finishes here. */
	uv_run(&w->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&w->loop) != 0)
		log_warnx("BUG: handles left open at exit");
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	if (w->udp_fd >= 0)
		close(w->udp_fd);
	if (w->sib_fd >= 0)
		close(w->sib_fd);
	if (rc == PROC_EXIT_DONE && (w->recycle || untouched))
		rc = PROC_EXIT_RECYCLED;
	talloc_free(w);
	if (rc != PROC_EXIT_STARTUP)
		log_debug(rc == PROC_EXIT_RECYCLED ? "stopped: recycled"
		                                   : "stopped");
	return rc;
}
