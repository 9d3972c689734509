/*
 * daemon/master.c: the master. At start, in this order, so that a second
 * afd or a port clash is found before anything is written: it checks the
 * paths (daemon/startup.h), creates the missing folders, takes the
 * instance locks (one afd per database and per run_dir), binds the UDP
 * and TCP sockets, hands run_dir and the database to the configured user
 * and becomes that user (when started as root), and only then brings the
 * schema up to date (in a child process made for it: the master itself
 * never opens SQLite while it forks workers). It forks the workers (the
 * UDP worker, the checkpointer, the TCP pool) through proc_fork(), and
 * supervises them in its libuv loop (rules in workers/proc.h), recycling
 * a TCP worker that asks for it (RECYCLE: a fresh process in its slot). It
 * accepts TCP connections and hands each to an idle TCP worker over the
 * worker's control channel, keeping its own copy of the descriptor until the
 * worker reports the connection closed, so that a connection whose worker died
 * is handed to the replacement. The master parses no SIP and never blocks on a
 * client.
 *
 * Abuse of the pool (one process per connection makes it a resource to
 * exhaust): at most tcp_per_address connections from one address are
 * served at once (one more is closed at accept). Accepted connections
 * wait in the master's list until a worker is idle (the one with the most
 * bytes pending first; closed after MASTER_BACKLOG_MS); while they wait
 * and every TCP worker is busy, the master evicts (shutdown() of its copy
 * of the descriptor; the worker reads the end) the idlest connections
 * that carry no registration binding, one per waiting connection. The
 * workers say which connections carry a binding or have spoken (STATE
 * "bound" / "active"); the deadlines of a single connection
 * (tcp_first_message, tcp_message_timeout, tcp_idle) are the worker's.
 *
 * Spawning happens only in the loop's check phase (master_on_check), so a
 * new child leaves the master's loop (uv_stop) before any other callback
 * of the iteration could run in it; master_run() then closes the master's
 * loop and descriptors in the child and returns MASTER_CHILD.
 *
 * Reaping: SIGCHLD through a uv_signal_t, then waitpid(WNOHANG) until
 * nothing is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <talloc.h>
#include <uv.h>

#include "util/log.h"
#include "util/priv.h"
#include "daemon/master.h"
#include "daemon/startup.h"
#include "util/proctitle.h"
#include "util/uvh.h"
#include "schema/db.h"
#include "workers/worker.h"

#define MASTER_STOP_MS 2000    /* then SIGKILL */
#define MASTER_BACKLOG_MS 3000 /* a connection waits this long for a worker */
#define MASTER_ACCEPTS_PER_TURN 32
/* The kernel's queue of connections not accepted yet. Deep, so that a
 * burst of connections does not overflow it (the kernel then drops SYNs,
 * a new client's too, and the client retries only after a second): the
 * master evicts or refuses what waits there instead. */
#define MASTER_LISTEN_BACKLOG 1024
#define MASTER_TRIM_MS 5000 /* how often the pool's size is checked */
/* Connections accepted and waiting for a worker, at most (then the rest
 * waits in the kernel's queue). The one with the most bytes pending (a
 * whole request, rather than nothing or a trickle) is served first. */
#define MASTER_WAIT_MAX 256
/* Eviction (pool full, connections waiting), of a connection without a
 * binding: one that sent fewer than MASTER_EVICT_TRICKLE bytes and no
 * complete message, once served MASTER_EVICT_SILENT_MS; one that sent
 * more (a request its worker has not reported on yet), once served
 * MASTER_EVICT_TALK_MS; one that completed a message, once silent
 * MASTER_EVICT_QUIET_MS. */
#define MASTER_EVICT_TRICKLE 64
#define MASTER_EVICT_SILENT_MS 250
#define MASTER_EVICT_TALK_MS 1000
#define MASTER_EVICT_QUIET_MS 5000
#define MASTER_WAIT_TICK_MS 100   /* while connections wait: look again */
#define MASTER_REFUSE_LOG_MS 1000 /* per-address refusals: one line per */
#ifndef MASTER_IDLE_MS
#define MASTER_IDLE_MS 30000 /* idle this long beyond the spares: retired */
#endif

/* glibc's struct tcp_info stops at tcpi_total_retrans; the kernel (since
 * Linux 4.1) goes on with these, in this layout (linux/tcp.h, which
 * cannot be included next to netinet/tcp.h). */
struct master_tcp_info {
	struct tcp_info base;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
};
_Static_assert(offsetof(struct master_tcp_info, bytes_received) == 128,
               "struct tcp_info layout");

enum mslot_state {
	SLOT_EMPTY,    /* no process, none wanted */
	SLOT_NEED,     /* a process is wanted: spawned in the check phase */
	SLOT_WAIT,     /* back-off before the respawn */
	SLOT_STARTING, /* forked, not READY yet */
	SLOT_READY,    /* working (TCP: idle unless it has a connection) */
	SLOT_RETIRING, /* an idle TCP worker told to stop (pool too big) */
	/* an idle TCP worker told to stop: a fresh one takes the slot */
	SLOT_RECYCLING,
};

/* A TCP connection the master holds for a slot. */
struct mconn {
	uint64_t id;
	int fd;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char peer_s[64];
	int resumes; /* times its worker died while serving it */
	int sent;    /* CONN_NEW went to the slot's current process */
	int handed;  /* how many processes it was given to */
	uint64_t accepted_ms;
	uint64_t last_ms; /* the worker's last report of a message */
	int spoke;        /* a complete SIP message came (STATE "active") */
	int bound;        /* a registration binding uses it (STATE "bound") */
	int evicted;      /* shut down by the master, CONN_CLOSED to come */
};

struct mslot {
	struct master *m;
	enum proc_kind kind;
	int index;
	char name[8]; /* "u0", "t3" */
	enum mslot_state state;
	pid_t pid;
	int ctl_fd;
	uv_poll_t *ctl_poll;
	struct ipc_outq *ctlq; /* what the channel did not take yet */
	uv_timer_t *backoff_timer;
	int restarts;
	int dirty; /* its last process died, or stopped, holding what a
	              replacement must take over (not recycled) */
	uint64_t started_ms;
	uint64_t idle_ms; /* TCP: when it last became idle */
	unsigned backoff_ms;
	struct mconn *conn;
	int used; /* a process ran here once (its socket to remove) */
};

struct master {
	uv_loop_t loop;
	const struct conf *conf;
	int udp_fd, tcp_fd;
	uv_poll_t *listen_poll;
	int listening;
	uv_signal_t *sigchld, *sigterm, *sigint;
	uv_check_t *check;
	uv_idle_t *idle; /* keeps the loop from sleeping while spawns wait */
	uv_timer_t *backlog_timer; /* accept failed: pause listening */
	uv_timer_t *stop_timer;
	uv_timer_t *trim_timer; /* retires idle TCP workers beyond the spares */
	uv_timer_t *evict_timer; /* connections wait: dispatch, evict again */
	/* One slot per kind that is not a pool (u0, c0), in proc_kinds'
	 * order, then the TCP pool: [tcp0 + i] is ti. */
	struct mslot *slots;
	int nslots, tcp0;
	uint64_t next_conn_id;
	struct mconn **wait; /* accepted, waiting for a worker (oldest first) */
	int nwait;
	uint64_t refuse_log_ms; /* the last per-address refusal logged */
	unsigned refused_quiet; /* refusals since, not logged */
	int stopping;
	int exit_code;
	struct proc_child *child; /* set in a new worker */
	unsigned char *ipcbuf;
	struct startup_locks locks; /* inherited by every worker */
	int schema_done;            /* the database is afd's to write */
};

static void master_pool(struct master *m);
static void master_refused_flush(struct master *m);
static void master_dispatch(struct master *m);
static void master_listen(struct master *m, int on);

static const char *
master_slot_kind(const struct mslot *s)
{
	return proc_kinds[s->kind].title;
}

static void
master_on_idle(uv_idle_t *h)
{
	/* Nothing: an active idle handle only keeps the loop from sleeping
	 * until the check phase has spawned what is wanted. */
}

static void
master_want(struct mslot *s)
{
	s->state = SLOT_NEED;
	uv_idle_start(s->m->idle, master_on_idle);
}

/* An idle READY TCP slot (lowest index first), or NULL. */
static struct mslot *
master_idle_tcp(struct master *m)
{
	for (int i = m->tcp0; i < m->nslots; i++)
		if (m->slots[i].state == SLOT_READY && m->slots[i].conn == NULL)
			return &m->slots[i];
	return NULL;
}

static void
master_conn_free(struct mslot *s)
{
	if (s->conn == NULL)
		return;
	close(s->conn->fd);
	talloc_free(s->conn);
	s->conn = NULL;
}

/* Send the slot's held connection to its process, if it is ready. */
static void
master_give(struct mslot *s)
{
	struct mconn *c = s->conn;
	unsigned char buf[256];
	struct ipc_wbuf wb;

	if (c == NULL || c->sent || s->state != SLOT_READY)
		return;
	ipc_wbuf_init(&wb, buf, sizeof(buf));
	ipc_put_u8(&wb, c->handed > 0);
	ipc_put_sockaddr(&wb, (struct sockaddr *)&c->peer, c->peerlen);
	/* Sent, or queued (with a dup of the descriptor) while the channel
	 * is full: sent in order when it is writable. */
	if (s->ctlq == NULL ||
	    ipc_outq_send(s->ctlq, NULL, IPC_CONN_NEW, c->id, &wb, c->fd,
	                  uv_now(&s->m->loop)) == -1) {
		/* The worker is gone or stuck: its death hands the
		 * connection to the replacement. */
		log_warn("ipc: CONN_NEW %llu to %s", (unsigned long long)c->id,
		         s->name);
		return;
	}
	c->sent = 1;
	c->handed++;
	log_debug("connection %llu from %s to %s (pid %d)",
	          (unsigned long long)c->id, c->peer_s, s->name, (int)s->pid);
}

/* --- messages from workers ------------------------------------------- */

static int
master_on_ready(void *arg, struct ipc_msg *msg)
{
	struct mslot *s = arg;
	uint32_t pid, restarts;

	if (ipc_get_u32(msg, &pid) == -1 || ipc_get_u32(msg, &restarts) == -1 ||
	    ipc_get_end(msg) == -1)
		return -1;
	if (s->state != SLOT_STARTING)
		return 0;
	s->state = SLOT_READY;
	s->idle_ms = uv_now(&s->m->loop);
	log_debug("%s %s ready (pid %u)", master_slot_kind(s), s->name, pid);
	if (s->conn != NULL)
		master_give(s);
	else if (s->kind == PROC_TCP && !s->m->stopping)
		master_dispatch(s->m);
	return 0;
}

static int
master_on_state(void *arg, struct ipc_msg *msg)
{
	struct mslot *s = arg;
	char state[16], serving[64];

	if (ipc_get_str(msg, state, sizeof(state)) == -1 ||
	    ipc_get_str(msg, serving, sizeof(serving)) == -1 ||
	    ipc_get_end(msg) == -1)
		return -1;
	log_trace("%s: %s %s", s->name, state, serving);
	/* What the connection is, for eviction. */
	if (s->conn != NULL && s->conn->id == msg->hdr.conn_id &&
	    (strcmp(state, "active") == 0 || strcmp(state, "bound") == 0)) {
		s->conn->spoke = 1;
		s->conn->bound = state[0] == 'b';
		s->conn->last_ms = uv_now(&s->m->loop);
	}
	return 0;
}

static int
master_on_conn_closed(void *arg, struct ipc_msg *msg)
{
	struct mslot *s = arg;
	struct master *m = s->m;

	if (ipc_get_end(msg) == -1)
		return -1;
	if (s->conn == NULL || s->conn->id != msg->hdr.conn_id) {
		log_warnx("%s closed connection %llu it does not hold", s->name,
		          (unsigned long long)msg->hdr.conn_id);
		return 0;
	}
	log_debug("connection %llu closed by %s",
	          (unsigned long long)s->conn->id, s->name);
	master_conn_free(s);
	s->idle_ms = uv_now(&m->loop);
	if (!m->stopping)
		master_dispatch(m);
	return 0;
}

/*
 * RECYCLE: a TCP worker whose connection closed waits for nothing (what
 * serving grew, its SQLite cache and heap, is still its own): stop it and
 * fork a fresh one in its slot, which costs a spare's memory (the
 * README's "Memory"). Only an idle READY slot: one handed a connection
 * meanwhile serves it, and asks again when it is quiet again.
 */
static int
master_on_recycle(void *arg, struct ipc_msg *msg)
{
	struct mslot *s = arg;

	if (ipc_get_end(msg) == -1)
		return -1;
	if (s->kind != PROC_TCP || s->state != SLOT_READY || s->conn != NULL ||
	    s->m->stopping || s->pid <= 0)
		return 0;
	log_debug("recycling %s (pid %d)", s->name, (int)s->pid);
	s->state = SLOT_RECYCLING;
	kill(s->pid, SIGTERM);
	return 0;
}

static ipc_handler_fn *const master_handlers[IPC__COUNT] = {
    [IPC_READY] = master_on_ready,
    [IPC_STATE] = master_on_state,
    [IPC_CONN_CLOSED] = master_on_conn_closed,
    [IPC_RECYCLE] = master_on_recycle,
};

static void
master_on_ctl(uv_poll_t *h, int status, int events)
{
	struct mslot *s = h->data;
	struct ipc_msg msg;

	if ((events & UV_WRITABLE) && s->ctlq != NULL)
		ipc_outq_flush(s->ctlq, uv_now(&s->m->loop));
	for (int i = 0; i < 64; i++) {
		int r =
		    ipc_recv(s->ctl_fd, s->m->ipcbuf, IPC_MAX_MSG + 1, &msg);
		if (r <= 0) {
			if (r == -1) /* the worker is gone: SIGCHLD says how */
				uv_poll_stop(h);
			return;
		}
		if (strcmp(msg.hdr.slot, s->name) != 0) {
			log_warnx("ipc: %s claims to be %s", s->name,
			          msg.hdr.slot);
			if (msg.fd >= 0)
				close(msg.fd);
			continue;
		}
		ipc_dispatch(master_handlers, s, &msg);
	}
}

/* The slot's queue's wait function: poll for writability while its
 * channel is full. (A connected channel needs no timer.) */
static void
master_ctlq_wait(void *arg, int writable, uint64_t at)
{
	struct mslot *s = arg;

	if (s->ctl_poll != NULL)
		uv_poll_start(s->ctl_poll,
		              UV_READABLE | UV_DISCONNECT |
		                  (writable ? UV_WRITABLE : 0),
		              master_on_ctl);
}

/* The slot's process is gone: what its channel did not take is dropped
 * (logged); a held connection goes to the replacement anyway. */
static void
master_ctlq_free(struct mslot *s, const char *why)
{
	if (s->ctlq == NULL)
		return;
	if (why != NULL && ipc_outq_pending(s->ctlq) > 0)
		ipc_outq_drop(s->ctlq, why);
	talloc_free(s->ctlq); /* closes the descriptors it held */
	s->ctlq = NULL;
}

/* --- spawning and reaping -------------------------------------------- */

static void
master_on_backoff(uv_timer_t *t)
{
	struct mslot *s = t->data;

	if (s->state == SLOT_WAIT && !s->m->stopping)
		master_want(s);
}

/* Fork the slot's process. Returns 1 in the child, else 0. */
static int
master_spawn(struct mslot *s)
{
	struct master *m = s->m;
	struct proc_child pc;
	pid_t pid;
	int fd = -1;

	memset(&pc, 0, sizeof(pc));
	pc.kind = s->kind;
	pc.index = s->index;
	snprintf(pc.slot, sizeof(pc.slot), "%s", s->name);
	pc.restarts = s->restarts;
	pc.lean = s->kind == PROC_TCP && !s->dirty && s->conn == NULL;
	pc.udp_fd = m->udp_fd;
	s->state = SLOT_STARTING; /* reserved before fork() */
	s->started_ms = uv_now(&m->loop);
	pid = proc_fork(&pc, &fd);
	if (pid == 0) {
		*m->child = pc;
		uv_stop(&m->loop);
		return 1;
	}
	if (pid == -1) {
		s->state = SLOT_WAIT;
		uv_timer_start(s->backoff_timer, master_on_backoff,
		               PROC_BACKOFF_MAX_MS, 0);
		return 0;
	}
	s->pid = pid;
	s->ctl_fd = fd;
	s->used = 1;
	s->ctl_poll = uvh_new(m, uv_poll_t);
	if (s->ctl_poll == NULL || uv_poll_init(&m->loop, s->ctl_poll, fd)) {
		/* No way to talk to it: stop it, SIGCHLD replaces it. */
		kill(pid, SIGKILL);
		return 0;
	}
	s->ctl_poll->data = s;
	uv_poll_start(s->ctl_poll, UV_READABLE | UV_DISCONNECT, master_on_ctl);
	s->ctlq = ipc_outq_new(m, fd, "master", s->name, master_ctlq_wait, s);
	if (s->ctlq == NULL) {
		kill(pid, SIGKILL);
		return 0;
	}
	if (s->conn != NULL)
		s->conn->sent = 0;
	log_info("started %s %s (pid %d%s)", master_slot_kind(s), s->name,
	         (int)pid, s->restarts ? ", a replacement" : "");
	return 0;
}

/* The check phase: spawn every slot that wants a process. */
static void
master_on_check(uv_check_t *h)
{
	struct master *m = h->data;

	uv_idle_stop(m->idle);
	if (m->stopping)
		return;
	for (int i = 0; i < m->nslots; i++) {
		struct mslot *s = &m->slots[i];

		if (s->state != SLOT_NEED)
			continue;
		if (master_spawn(s))
			return; /* in the child: leave at once */
	}
}

static void
master_finish(struct master *m)
{
	uvh_close(m->listen_poll);
	m->listen_poll = NULL;
	uvh_close(m->sigchld);
	m->sigchld = NULL;
	uvh_close(m->sigterm);
	m->sigterm = NULL;
	uvh_close(m->sigint);
	m->sigint = NULL;
	uvh_close(m->check);
	m->check = NULL;
	uvh_close(m->idle);
	m->idle = NULL;
	uvh_close(m->backlog_timer);
	m->backlog_timer = NULL;
	uvh_close(m->stop_timer);
	m->stop_timer = NULL;
	uvh_close(m->trim_timer);
	m->trim_timer = NULL;
	uvh_close(m->evict_timer);
	m->evict_timer = NULL;
	for (int i = 0; i < m->nslots; i++) {
		uvh_close(m->slots[i].backoff_timer);
		m->slots[i].backoff_timer = NULL;
	}
}

static int
master_all_gone(const struct master *m)
{
	for (int i = 0; i < m->nslots; i++)
		if (m->slots[i].pid > 0)
			return 0;
	return 1;
}

/* A worker died: log it, and replace it by the rules of proc.h. */
static void
master_reaped(struct master *m, struct mslot *s, int status)
{
	uint64_t lived = uv_now(&m->loop) - s->started_ms;
	char how[64];
	int startup_err = 0;

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d (%s)",
		         WTERMSIG(status), strsignal(WTERMSIG(status)));
	else {
		snprintf(how, sizeof(how), "exited with status %d",
		         WEXITSTATUS(status));
		startup_err = WEXITSTATUS(status) == PROC_EXIT_STARTUP;
	}
	uvh_close(s->ctl_poll);
	s->ctl_poll = NULL;
	master_ctlq_free(s, "worker gone");
	close(s->ctl_fd);
	s->ctl_fd = -1;
	if (m->stopping || s->state == SLOT_RETIRING) {
		/* a retired worker that held something of its slot's (it
		 * did not end as a recycled one) leaves the next process of
		 * the slot to start whole and take it over */
		if (!m->stopping &&
		    !(WIFEXITED(status) &&
		      WEXITSTATUS(status) == PROC_EXIT_RECYCLED))
			s->dirty = 1;
		log_info("%s %s (pid %d) %s%s", master_slot_kind(s), s->name,
		         (int)s->pid, how,
		         m->stopping ? ""
		                     : " (retired: more idle than needed)");
		s->pid = 0;
		s->state = SLOT_EMPTY;
		master_conn_free(s);
		if (m->stopping && master_all_gone(m))
			master_finish(m);
		return;
	}
	if (s->state == SLOT_RECYCLING && s->conn == NULL &&
	    WIFEXITED(status) && WEXITSTATUS(status) == PROC_EXIT_RECYCLED) {
		/* nothing to take over: a fresh start, no restart counted */
		log_info("%s %s (pid %d) recycled after its connection: a "
		         "fresh process takes the slot",
		         master_slot_kind(s), s->name, (int)s->pid);
		s->pid = 0;
		s->backoff_ms = 0;
		s->dirty = 0;
		master_want(s);
		return;
	}
	if (s->conn != NULL) {
		s->conn->sent = 0;
		/* Only a crash counts against the connection. */
		if ((WIFSIGNALED(status) || WEXITSTATUS(status) != 0) &&
		    ++s->conn->resumes >= PROC_MAX_RESUMES) {
			log_warnx("closing connection %llu from %s: %d workers "
			          "died serving it",
			          (unsigned long long)s->conn->id,
			          s->conn->peer_s, s->conn->resumes);
			master_conn_free(s);
		}
	}
	if (startup_err || lived < PROC_MIN_LIFE_MS) {
		s->backoff_ms = s->backoff_ms == 0 ? PROC_BACKOFF_MIN_MS
		                                   : s->backoff_ms * 2;
		if (s->backoff_ms > PROC_BACKOFF_MAX_MS)
			s->backoff_ms = PROC_BACKOFF_MAX_MS;
	} else {
		s->backoff_ms = 0;
	}
	if (s->backoff_ms)
		log_warnx("%s %s (pid %d) %s after %llu ms%s; replacing it in "
		          "%u ms (back-off)",
		          master_slot_kind(s), s->name, (int)s->pid, how,
		          (unsigned long long)lived,
		          s->conn ? " while serving a connection" : "",
		          s->backoff_ms);
	else
		log_warnx("%s %s (pid %d) %s after %llu ms%s; replacing it now",
		          master_slot_kind(s), s->name, (int)s->pid, how,
		          (unsigned long long)lived,
		          s->conn ? " while serving a connection" : "");
	s->pid = 0;
	s->restarts++;
	s->dirty = 1;
	if (s->backoff_ms) {
		s->state = SLOT_WAIT;
		uv_timer_start(s->backoff_timer, master_on_backoff,
		               s->backoff_ms, 0);
	} else {
		master_want(s);
	}
}

static void
master_on_sigchld(uv_signal_t *h, int signum)
{
	struct master *m = h->data;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct mslot *s = NULL;

		for (int i = 0; i < m->nslots; i++)
			if (m->slots[i].pid == pid)
				s = &m->slots[i];
		if (s == NULL) {
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		master_reaped(m, s, status);
	}
	if (!m->stopping)
		master_pool(m);
}

/* Keep tcp_min_spare idle TCP workers (counting those on their way),
 * never more than tcp_max in all. */
static void
master_pool(struct master *m)
{
	int spare = 0, total = 0;

	if (m->stopping)
		return;
	for (int i = m->tcp0; i < m->nslots; i++) {
		struct mslot *s = &m->slots[i];

		if (s->state == SLOT_EMPTY)
			continue;
		total++;
		if (s->conn == NULL && s->state != SLOT_RETIRING)
			spare++;
	}
	for (int i = m->tcp0; i < m->nslots && spare < m->conf->tcp_min_spare &&
	                      total < m->conf->tcp_max;
	     i++) {
		if (m->slots[i].state != SLOT_EMPTY)
			continue;
		master_want(&m->slots[i]);
		spare++;
		total++;
	}
}

/*
 * Every MASTER_TRIM_MS: when more TCP workers are idle than tcp_min_spare,
 * retire one (the highest slot) that has been idle for MASTER_IDLE_MS, so
 * that the pool shrinks back after a burst of connections. Also logs the
 * per-address refusals not logged yet.
 */
static void
master_on_trim(uv_timer_t *t)
{
	struct master *m = t->data;
	uint64_t now = uv_now(&m->loop);
	int idle = 0;

	if (m->stopping)
		return;
	master_refused_flush(m);
	for (int i = m->tcp0; i < m->nslots; i++)
		if (m->slots[i].state == SLOT_READY && m->slots[i].conn == NULL)
			idle++;
	for (int i = m->nslots - 1;
	     i >= m->tcp0 && idle > m->conf->tcp_min_spare; i--) {
		struct mslot *s = &m->slots[i];

		if (s->state != SLOT_READY || s->conn != NULL ||
		    now - s->idle_ms < MASTER_IDLE_MS)
			continue;
		log_debug("retiring idle %s (pid %d)", s->name, (int)s->pid);
		s->state = SLOT_RETIRING;
		kill(s->pid, SIGTERM);
		break;
	}
}

/* --- accepting ------------------------------------------------------- */

static void master_on_listen(uv_poll_t *h, int status, int events);
static void master_on_backlog(uv_timer_t *t);

static void
master_listen(struct master *m, int on)
{
	if (on == m->listening || m->listen_poll == NULL)
		return;
	m->listening = on;
	if (on) {
		uv_poll_start(m->listen_poll, UV_READABLE, master_on_listen);
	} else {
		uv_poll_stop(m->listen_poll);
	}
}

/* Whether a and b hold the same IP address (ports aside). */
static int
master_same_host(const struct sockaddr_storage *a,
                 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr,
		              sizeof(struct in6_addr)) == 0;
	return 0;
}

/* How many connections (served, not being evicted, or waiting) the
 * master holds from the address of ss. */
static int
master_from_host(const struct master *m, const struct sockaddr_storage *ss)
{
	int n = 0;

	for (int i = m->tcp0; i < m->nslots; i++) {
		const struct mconn *c = m->slots[i].conn;

		if (c != NULL && !c->evicted && master_same_host(&c->peer, ss))
			n++;
	}
	for (int i = 0; i < m->nwait; i++)
		if (master_same_host(&m->wait[i]->peer, ss))
			n++;
	return n;
}

/* Log the refusals not logged one by one (master_refuse), if any. */
static void
master_refused_flush(struct master *m)
{
	if (m->refused_quiet == 0)
		return;
	log_warnx("refused %u more TCP connections by tcp_per_address",
	          m->refused_quiet);
	m->refused_quiet = 0;
}

/* Close a connection beyond tcp_per_address. One log line per
 * MASTER_REFUSE_LOG_MS at most; the others are counted and logged in one
 * line, by the next refusal logged or by the trim timer. */
static void
master_refuse(struct master *m, int fd, const struct sockaddr_storage *ss,
              int held)
{
	uint64_t now = uv_now(&m->loop);
	char peer[64];

	close(fd);
	if (m->refuse_log_ms != 0 &&
	    now - m->refuse_log_ms < MASTER_REFUSE_LOG_MS) {
		m->refused_quiet++;
		return;
	}
	master_refused_flush(m);
	worker_addr_str(peer, sizeof(peer), (const struct sockaddr *)ss);
	log_warnx("refused the TCP connection from %s: %d connections from "
	          "that address already (tcp_per_address)",
	          peer, held);
	m->refuse_log_ms = now;
}

/*
 * Whether slot s's connection may be evicted, and how much: -1 not (none,
 * not handed yet, its worker not ready, a binding uses it, already
 * evicted, or too fresh: see MASTER_EVICT_*); 0 it sent (almost) nothing;
 * 1 it may. *since: when it last did something useful.
 */
static int
master_evict_rank(const struct mslot *s, uint64_t now, uint64_t *since)
{
	const struct mconn *c = s->conn;
	struct master_tcp_info ti;
	socklen_t len = sizeof(ti);
	uint64_t bytes = MASTER_EVICT_TRICKLE; /* unknown: a talker */

	if (c == NULL || !c->sent || c->bound || c->evicted ||
	    s->state != SLOT_READY)
		return -1;
	if (c->spoke) {
		*since = c->last_ms;
		return now - c->last_ms >= MASTER_EVICT_QUIET_MS ? 1 : -1;
	}
	*since = c->accepted_ms;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    len >= offsetof(struct master_tcp_info, bytes_received) +
	               sizeof(ti.bytes_received))
		bytes = ti.bytes_received;
	if (bytes < MASTER_EVICT_TRICKLE)
		return now - c->accepted_ms >= MASTER_EVICT_SILENT_MS ? 0 : -1;
	return now - c->accepted_ms >= MASTER_EVICT_TALK_MS ? 1 : -1;
}

/*
 * Every TCP worker is busy and connections wait: end the idlest
 * connections that carry no registration binding (those that sent
 * nothing first), one per waiting connection (counting those under
 * way). The master shuts its copy down; the worker reads the end,
 * reports CONN_CLOSED and takes a waiting connection. Returns how many
 * evictions are under way.
 */
static int
master_evict(struct master *m)
{
	uint64_t now = uv_now(&m->loop);
	int under_way = 0, want;

	for (int i = m->tcp0; i < m->nslots; i++)
		if (m->slots[i].conn != NULL && m->slots[i].conn->evicted)
			under_way++;
	for (want = m->nwait - under_way; want > 0; want--) {
		struct mslot *v = NULL;
		uint64_t v_since = 0, since = 0;
		int v_rank = 2, rank;
		struct mconn *c;

		for (int i = m->tcp0; i < m->nslots; i++) {
			rank = master_evict_rank(&m->slots[i], now, &since);
			if (rank < 0)
				continue;
			if (v == NULL || rank < v_rank ||
			    (rank == v_rank && since < v_since)) {
				v = &m->slots[i];
				v_rank = rank;
				v_since = since;
			}
		}
		if (v == NULL)
			break;
		c = v->conn;
		c->evicted = 1;
		shutdown(c->fd, SHUT_RDWR);
		log_info("evicted connection %llu from %s (%s for %llu ms, no "
		         "registration binding): all %d TCP workers busy and a "
		         "new connection waits",
		         (unsigned long long)c->id, c->peer_s,
		         v_rank == 0 ? "hardly a byte"
		         : c->spoke  ? "no message"
		                     : "no complete message",
		         (unsigned long long)(now - v_since), m->conf->tcp_max);
		under_way++;
	}
	return under_way;
}

/* Whether a TCP worker without a connection is on its way (a slot being
 * recycled gets a fresh process within milliseconds). */
static int
master_tcp_coming(const struct master *m)
{
	for (int i = m->tcp0; i < m->nslots; i++) {
		const struct mslot *s = &m->slots[i];

		if (s->conn == NULL &&
		    (s->state == SLOT_NEED || s->state == SLOT_STARTING ||
		     s->state == SLOT_RECYCLING))
			return 1;
	}
	return 0;
}

/* Take waiting connection i out of the list; the caller owns it. */
static struct mconn *
master_wait_take(struct master *m, int i)
{
	struct mconn *c = m->wait[i];

	memmove(&m->wait[i], &m->wait[i + 1],
	        (size_t)(m->nwait - i - 1) * sizeof(*m->wait));
	m->nwait--;
	return c;
}

/* The waiting connection to serve first: the most bytes pending, then
 * the oldest. */
static int
master_wait_best(const struct master *m)
{
	int best = 0, best_n = -1;

	for (int i = 0; i < m->nwait; i++) {
		int n = 0;

		if (ioctl(m->wait[i]->fd, FIONREAD, &n) == -1)
			n = 0;
		if (n > best_n) {
			best = i;
			best_n = n;
		}
	}
	return best;
}

/* Close the waiting connections (afd stops). */
static void
master_wait_clear(struct master *m)
{
	while (m->nwait > 0) {
		struct mconn *c = master_wait_take(m, m->nwait - 1);

		close(c->fd);
		talloc_free(c);
	}
}

static void
master_on_wait_timer(uv_timer_t *t)
{
	master_dispatch(t->data);
}

/*
 * Serve what waits: close the connections that waited MASTER_BACKLOG_MS,
 * give the best waiting ones to idle workers, and when connections still
 * wait, grow the pool or evict for them (and look again in
 * MASTER_WAIT_TICK_MS). Listens while the list has room.
 */
static void
master_dispatch(struct master *m)
{
	uint64_t now = uv_now(&m->loop);
	struct mslot *s;

	if (m->stopping)
		return;
	for (int i = 0; i < m->nwait;) {
		struct mconn *c = m->wait[i];

		if (now - c->accepted_ms < MASTER_BACKLOG_MS) {
			i++;
			continue;
		}
		log_warnx("all %d TCP workers busy for %d ms: closed the "
		          "connection from %s",
		          m->conf->tcp_max, MASTER_BACKLOG_MS, c->peer_s);
		master_wait_take(m, i);
		close(c->fd);
		talloc_free(c);
	}
	while (m->nwait > 0 && (s = master_idle_tcp(m)) != NULL) {
		s->conn = master_wait_take(m, master_wait_best(m));
		master_give(s);
	}
	master_pool(m);
	if (m->nwait > 0) {
		if (!master_tcp_coming(m))
			master_evict(m);
		if (!uv_is_active((uv_handle_t *)m->evict_timer))
			uv_timer_start(m->evict_timer, master_on_wait_timer,
			               MASTER_WAIT_TICK_MS, 0);
	}
	if (m->nwait >= MASTER_WAIT_MAX)
		master_listen(m, 0);
	else if (!uv_is_active((uv_handle_t *)m->backlog_timer))
		master_listen(m, 1);
}

/* Accept what the kernel has (while the waiting list has room), refuse
 * what is beyond tcp_per_address, then serve. */
static void
master_on_listen(uv_poll_t *h, int status, int events)
{
	struct master *m = h->data;

	for (int i = 0;
	     i < MASTER_ACCEPTS_PER_TURN && m->nwait < MASTER_WAIT_MAX; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct mconn *c;
		int fd, held;

		fd = accept4(m->tcp_fd, (struct sockaddr *)&ss, &sl,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				break;
			/* Out of descriptors or memory: the socket stays
			 * readable, so pause a second instead of spinning. */
			log_warn("accept (pausing 1 s)");
			master_listen(m, 0);
			uv_timer_start(m->backlog_timer, master_on_backlog,
			               1000, 0);
			break;
		}
		if (m->conf->tcp_per_address > 0 &&
		    (held = master_from_host(m, &ss)) >=
		        m->conf->tcp_per_address) {
			master_refuse(m, fd, &ss, held);
			continue;
		}
		c = talloc_zero(m, struct mconn);
		if (c == NULL) {
			close(fd);
			break;
		}
		c->id = ++m->next_conn_id;
		c->accepted_ms = uv_now(&m->loop);
		c->fd = fd;
		memcpy(&c->peer, &ss, sizeof(ss));
		c->peerlen = sl;
		worker_addr_str(c->peer_s, sizeof(c->peer_s),
		                (struct sockaddr *)&ss);
		m->wait[m->nwait++] = c;
	}
	master_dispatch(m);
}

/* The pause after a failed accept is over: listen again. */
static void
master_on_backlog(uv_timer_t *t)
{
	struct master *m = t->data;

	if (!m->stopping)
		master_dispatch(m);
}

/* --- stopping -------------------------------------------------------- */

static void
master_on_stop_timer(uv_timer_t *t)
{
	struct master *m = t->data;

	for (int i = 0; i < m->nslots; i++) {
		struct mslot *s = &m->slots[i];

		if (s->pid > 0) {
			log_warnx("%s (pid %d) still running after %d ms: "
			          "SIGKILL",
			          s->name, (int)s->pid, MASTER_STOP_MS);
			kill(s->pid, SIGKILL);
		}
	}
}

static void
master_stop(struct master *m, int signum)
{
	if (m->stopping)
		return;
	m->stopping = 1;
	log_info("%s: stopping", strsignal(signum));
	master_listen(m, 0);
	uv_timer_stop(m->backlog_timer);
	uv_timer_stop(m->evict_timer);
	master_wait_clear(m);
	for (int i = 0; i < m->nslots; i++) {
		struct mslot *s = &m->slots[i];

		uv_timer_stop(s->backoff_timer);
		if (s->pid > 0)
			kill(s->pid, SIGTERM);
		else
			s->state = SLOT_EMPTY;
	}
	if (master_all_gone(m)) {
		master_finish(m);
		return;
	}
	uv_timer_start(m->stop_timer, master_on_stop_timer, MASTER_STOP_MS, 0);
}

static void
master_on_signal(uv_signal_t *h, int signum)
{
	master_stop(h->data, signum);
}

/* --- start ----------------------------------------------------------- */

/*
 * Bring the schema up to date and reset the workers table, in a child
 * process made for it that exits when done: the master's heap, which
 * every worker inherits, never holds SQLite's blocks (a migration's
 * schema parse leaves hundreds of KiB of freed and cached chunks among
 * the master's own, and a worker's first writes there would make those
 * pages its own copies). 0, or -1 (the reason logged: by the child, or
 * here when it was killed).
 */
static int
master_schema(const struct conf *c)
{
	sqlite3 *db;
	pid_t pid;
	int rc = -1, status;

	if ((pid = fork()) == -1) {
		log_warn("fork for the schema");
		return -1;
	}
	if (pid == 0) {
		if ((db = db_open(c)) != NULL) {
			if (db_migrate(db) == 0 && db_workers_reset(db) == 0)
				rc = 0;
			db_close(db);
		}
		_exit(rc == 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("waitpid for the schema");
			return -1;
		}
	if (WIFSIGNALED(status)) {
		log_warnx("db: the schema's process was killed by signal %d",
		          WTERMSIG(status));
		return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
master_socket(const struct conf *c, int type)
{
	struct addrinfo hints, *ai = NULL;
	char port[16];
	int fd = -1, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", c->port);
	if ((rc = getaddrinfo(c->listen, port, &hints, &ai)) != 0) {
		log_error("cannot start: listen %s: %s", c->listen,
		          gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_error("cannot start: socket: %s", strerror(errno));
		goto fail;
	}
	/* TCP only: a restart must not wait for old connections' TIME_WAIT.
	 * On a UDP socket SO_REUSEADDR lets a second afd bind the same port
	 * and take half of the first one's datagrams. */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_DGRAM) {
		int sz = 4 * 1024 * 1024;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz,
		               sizeof(sz)) == -1)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz,
		               sizeof(sz)) == -1)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		int saved = errno;

		log_error("cannot start: bind %s port %d (%s): %s (%s)",
		          c->listen, c->port,
		          type == SOCK_DGRAM ? "udp" : "tcp", strerror(saved),
		          saved == EADDRINUSE
		              ? "another program has this port: stop it, or "
		                "set another port in [afd]"
		          : saved == EACCES
		              ? "ports below 1024 need root: start afd as "
		                "root, or set a port of 1024 or more in [afd]"
		              : "set listen in [afd] to an address of this "
		                "machine");
		goto fail;
	}
	if (type == SOCK_STREAM && listen(fd, MASTER_LISTEN_BACKLOG) == -1) {
		log_error("cannot start: listen: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(ai);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

/* A handle of the master, initialised; NULL on failure. */
#define MASTER_HANDLE(m, type, init)                                           \
	({                                                                     \
		type *h_ = uvh_new((m), type);                                 \
		if (h_ != NULL && init(&(m)->loop, h_) != 0) {                 \
			talloc_free(h_);                                       \
			h_ = NULL;                                             \
		}                                                              \
		if (h_ != NULL)                                                \
			h_->data = (m);                                        \
		h_;                                                            \
	})

/*
 * The start, in the order that writes nothing before a second afd or a
 * port clash is found: check the paths, create the missing folders, lock,
 * bind, hand the files to the user and become it, then the schema.
 *
 * Privileges: a master started as root becomes [afd] user before it
 * writes the database, so that every file SQLite creates from then on
 * (the database, -wal, -shm) and every slot socket belongs to that user;
 * what existed already was given to it by startup_chown(). The master
 * drops root too, not only the workers: after this point nothing needs
 * it. The sockets are bound (a port below 1024 needs root only for
 * bind()), the locks are held on open descriptors, the master only
 * forks, signals its own children (same user), unlinks slot sockets in
 * run_dir (the user's) and writes the database; afd re-binds nothing
 * while it runs (a new port or address needs a restart). Every worker is
 * forked afterwards, so it starts as the user and can never get root.
 */
static int
master_setup(struct master *m)
{
	const struct conf *c = m->conf;
	char err[1024];

	if (startup_check(c, err, sizeof(err)) == -1 ||
	    startup_mkdirs(c, err, sizeof(err)) == -1 ||
	    startup_lock(c, &m->locks, err, sizeof(err)) == -1) {
		log_error("cannot start: %s", err);
		return -1;
	}
	if ((m->udp_fd = master_socket(c, SOCK_DGRAM)) == -1 ||
	    (m->tcp_fd = master_socket(c, SOCK_STREAM)) == -1)
		return -1;
	if (c->drop &&
	    (startup_chown(c, err, sizeof(err)) == -1 ||
	     priv_drop(c->uid, c->gid, c->user, err, sizeof(err)) == -1)) {
		log_error("cannot start: %s", err);
		return -1;
	}
	if (c->drop)
		log_info("running as user %s (uid %u, gid %u)", c->user,
		         (unsigned)c->uid, (unsigned)c->gid);
	if (master_schema(c) == -1) {
		log_error(
		    "cannot start: database %s: the schema could not be "
		    "brought up to date (the reason is in the line above)",
		    c->database);
		return -1;
	}
	m->schema_done = 1;
	if ((m->ipcbuf = talloc_size(m, IPC_MAX_MSG + 1)) == NULL ||
	    (m->wait = talloc_array(m, struct mconn *, MASTER_WAIT_MAX)) ==
	        NULL)
		return -1;
	m->tcp0 = 0;
	for (int k = 0; k < PROC__COUNT; k++)
		if (!proc_kinds[k].pool)
			m->tcp0++;
	m->nslots = m->tcp0 + c->tcp_max;
	m->slots = talloc_zero_array(m, struct mslot, m->nslots);
	if (m->slots == NULL)
		return -1;
	for (int i = 0, k = 0; i < m->nslots; i++) {
		struct mslot *s = &m->slots[i];

		s->m = m;
		if (i < m->tcp0) {
			while (proc_kinds[k].pool)
				k++;
			s->kind = (enum proc_kind)k++;
			s->index = 0;
		} else {
			s->kind = PROC_TCP;
			s->index = i - m->tcp0;
		}
		s->ctl_fd = -1;
		proc_slot_name(s->name, sizeof(s->name), s->kind, s->index);
		s->backoff_timer = MASTER_HANDLE(m, uv_timer_t, uv_timer_init);
		if (s->backoff_timer == NULL)
			return -1;
		s->backoff_timer->data = s;
	}
	if ((m->sigchld = MASTER_HANDLE(m, uv_signal_t, uv_signal_init)) ==
	        NULL ||
	    (m->sigterm = MASTER_HANDLE(m, uv_signal_t, uv_signal_init)) ==
	        NULL ||
	    (m->sigint = MASTER_HANDLE(m, uv_signal_t, uv_signal_init)) ==
	        NULL ||
	    (m->check = MASTER_HANDLE(m, uv_check_t, uv_check_init)) == NULL ||
	    (m->idle = MASTER_HANDLE(m, uv_idle_t, uv_idle_init)) == NULL ||
	    (m->backlog_timer = MASTER_HANDLE(m, uv_timer_t, uv_timer_init)) ==
	        NULL ||
	    (m->stop_timer = MASTER_HANDLE(m, uv_timer_t, uv_timer_init)) ==
	        NULL ||
	    (m->trim_timer = MASTER_HANDLE(m, uv_timer_t, uv_timer_init)) ==
	        NULL ||
	    (m->evict_timer = MASTER_HANDLE(m, uv_timer_t, uv_timer_init)) ==
	        NULL)
		return -1;
	m->listen_poll = uvh_new(m, uv_poll_t);
	if (m->listen_poll == NULL ||
	    uv_poll_init(&m->loop, m->listen_poll, m->tcp_fd) != 0)
		return -1;
	m->listen_poll->data = m;
	uv_signal_start(m->sigchld, master_on_sigchld, SIGCHLD);
	uv_signal_start(m->sigterm, master_on_signal, SIGTERM);
	uv_signal_start(m->sigint, master_on_signal, SIGINT);
	uv_check_start(m->check, master_on_check);
	uv_timer_start(m->trim_timer, master_on_trim, MASTER_TRIM_MS,
	               MASTER_TRIM_MS);
	for (int i = 0; i < m->tcp0; i++)
		master_want(&m->slots[i]);
	master_pool(m);
	return 0;
}

/* In a new worker: drop everything of the master (its loop, descriptors
 * and memory); only the proc_child survives. */
static void
master_child_cleanup(struct master *m)
{
	uv_loop_fork(&m->loop);
	master_finish(m);
	for (int i = 0; i < m->nslots; i++) {
		struct mslot *s = &m->slots[i];

		uvh_close(s->ctl_poll);
		s->ctl_poll = NULL;
		master_ctlq_free(s, NULL); /* silently: not this process's */
		if (s->ctl_fd >= 0)
			close(s->ctl_fd);
		if (s->conn != NULL) {
			close(s->conn->fd);
			s->conn = NULL;
		}
	}
	master_wait_clear(m); /* a worker must hold no waiting connection */
	uv_run(&m->loop, UV_RUN_DEFAULT);
	uv_loop_close(&m->loop);
	close(m->tcp_fd);
}

static void
master_cleanup(struct master *m)
{
	struct sockaddr_un sun;
	sqlite3 *db;

	master_wait_clear(m);
	for (int i = 0; i < m->nslots; i++) {
		struct mslot *s = &m->slots[i];

		master_conn_free(s);
		if (s->used &&
		    ipc_slot_addr(&sun, m->conf->run_dir, s->name) == 0)
			unlink(sun.sun_path);
	}
	if (m->udp_fd >= 0)
		close(m->udp_fd);
	if (m->tcp_fd >= 0)
		close(m->tcp_fd);
	if (m->schema_done && (db = db_open(m->conf)) != NULL) {
		db_workers_stopped(db);
		db_close(db);
	}
	startup_unlock(&m->locks);
}

int
master_run(const struct conf *c, struct proc_child *child)
{
	struct master *m;
	int rc;

	m = talloc_zero(NULL, struct master);
	if (m == NULL)
		return 1;
	m->conf = c;
	m->child = child;
	m->udp_fd = m->tcp_fd = -1;
	m->locks.run_fd = m->locks.db_fd = -1;
	log_procname("master");
	proctitle_set("afd: master");
	if (uv_loop_init(&m->loop) != 0) {
		talloc_free(m);
		return 1;
	}
	if (master_setup(m) == -1) {
		/* master_setup() logged the reason, once. */
		master_finish(m);
		uv_run(&m->loop, UV_RUN_DEFAULT);
		uv_loop_close(&m->loop);
		master_cleanup(m);
		talloc_free(m);
		return 1;
	}
	log_info("listening on %s port %d (udp, tcp); database %s", c->listen,
	         c->port, c->database);
	master_listen(m, 1);
	uv_run(&m->loop, UV_RUN_DEFAULT);
	if (child->slot[0] != '\0') {
		/* A new worker left the master's loop. */
		int keep_udp = m->udp_fd;

		master_child_cleanup(m);
		talloc_free(m);
		child->udp_fd = keep_udp;
		return MASTER_CHILD;
	}
	uv_loop_close(&m->loop);
	master_cleanup(m);
	rc = m->exit_code;
	talloc_free(m);
	log_info("stopped");
	return rc;
}
