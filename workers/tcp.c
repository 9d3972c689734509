/*
 * workers/tcp.c: the TCP worker's transport. The worker serves one
 * connection at a time for the connection's whole life: the master passes
 * it (CONN_NEW, descriptor attached), the worker reads into a growing
 * buffer, cuts messages with sip_stream_frame_r() (answering each CRLFCRLF
 * keep-alive ping with CRLF), hands the messages of one read to the SIP
 * service as one batch and writes the answers back. A framing error, a message
 * larger than max_message, or the service's verdict closes the connection (with
 * a short printable sample of what came in); when the connection is gone the
 * worker tells the master (CONN_CLOSED) and waits for the next one.
 *
 * The master keeps its own copy of the descriptor, so closing ours does
 * not end the connection: shutdown() does. (The master, too, ends a
 * connection it evicts with shutdown(): this worker then reads the end.)
 *
 * Deadlines (one timer per connection, re-armed to the nearest one):
 *  - tcp_first_message: the first complete SIP message must arrive within
 *    this many seconds of the hand-over (keep-alive CRLFs do not count);
 *  - tcp_message_timeout: a message whose first byte came must be complete
 *    within this many seconds;
 *  - tcp_idle: a connection that carries no registration binding and no
 *    live call and has had no complete message for this long is closed.
 * A connection "carries a binding" when a live row of `registrations`
 * names this slot, this connection id and its peer; the worker asks the
 * database after each REGISTER on the connection, when it is resumed, and
 * every tcp_idle seconds while it believes so (a binding may expire or be
 * replaced elsewhere). Such a connection is never closed for silence.
 * A connection whose caller has a live call owned by this worker (a
 * `dialogs` row not ended whose a_peer is this connection) is kept the
 * same way while the call lives.
 * The worker tells the master (STATE "active" / "bound", at most once a
 * second while nothing changes) so that, when the pool is full, the master
 * evicts a connection that carries no binding, never one that does.
 *
 * Memory: worker -> tcp_worker -> connection -> buffer, handle; the block
 * count under tcp_worker returns to its baseline after each connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/proctitle.h"
#include "util/uvh.h"
#include "schema/db.h"
#include "schema/db_dialog.h"
#include "schema/db_reg.h"
#include "workers/worker.h"

#define TCP_BUF_INIT 4096
#define TCP_WQUEUE_MAX (4 * 1024 * 1024) /* bytes waiting to be written */
#define TCP_DRAIN_MS 1000                /* stopping: wait for queued writes */
#define TCP_REPORT_MS 1000    /* activity reports to the master, at most */
#define TCP_DB_CACHE_KIB 1024 /* SQLite page cache of a TCP worker */
#define TCP_WRITEV_MAX 64     /* answers gathered into one write */
/* An idle worker with more private memory than this is recycled. 0: every
 * worker that served is. Measured (README, "Call load"): one kept after a
 * single OPTIONS (~300 KiB private) had 1,062 KiB PSS with afd alone on a
 * quiet machine (SQLite's code pages shared by few processes), over the
 * 1 MiB target; a recycled one, a lean spare, ~100 KiB private. */
#define TCP_KEEP_KIB 0

struct tcp_conn {
	struct tcp_worker *tw;
	uint64_t id;
	uv_tcp_t *h;
	struct sip_peer peer;
	char peer_s[64];
	char *buf;
	size_t len, cap, limit;
	size_t scanned; /* bytes at buf already searched for the end of the
	                   headers (sip_stream_frame_r); 0 after a consume */
	size_t queued;  /* bytes in pending uv_write()s */
	int closing;
	int busy;     /* > 0: in use up the stack, freed when it drops to 0 */
	int draining; /* stopping: released once its writes are done */
	/* Deadlines (uv_now() milliseconds; see the top of the file). */
	uv_timer_t *timer;
	uint64_t start_ms;     /* handed to this worker */
	uint64_t msg_start_ms; /* the first byte of the pending message */
	uint64_t last_msg_ms;  /* the last complete message */
	uint64_t checked_ms;   /* the last look for a binding */
	uint64_t reported_ms;  /* the last STATE to the master */
	int spoke;             /* a complete message came */
	int bound;             /* a registration binding (1) or a live
	                          call (2) uses it */
	int reported;          /* 0 none, 1 "active", 2 "bound" told */
	int registered;        /* a REGISTER was handled: look again */
};

struct tcp_worker {
	struct worker *w;
	struct tcp_conn *conn;
	int released;      /* memory given back since the last connection */
	struct db_reg *dr; /* the look for a binding (on w->db) */
	struct db_dialog_ctx *dc; /* the look for a live call */
	size_t baseline;          /* talloc blocks under tcp_worker when idle */
	uv_timer_t *drain; /* stopping: the longest wait for queued writes */
};

/* A write that did not complete at once. It hangs off the handle, not
 * the connection: libuv calls it back (ECANCELED) when the handle closes,
 * which may be after the connection is freed (then h->data is NULL). */
struct tcp_wreq {
	uv_write_t req;
	size_t len;
	char buf[];
};

static void tcp_conn_close(struct tcp_conn *c, const char *why);
static void tcp_conn_release(struct tcp_conn *c);

/* This process's private memory in KiB (Private_Clean + Private_Dirty of
 * /proc/self/smaps_rollup: the pages no other process shares), or -1. */
static long
tcp_private_kib(void)
{
	char buf[2048], *p;
	long kib = 0, v;
	ssize_t n;
	int fd;

	if ((fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, "Private_")) != NULL; p++)
		if ((strncmp(p, "Private_Clean:", 14) == 0 ||
		     strncmp(p, "Private_Dirty:", 14) == 0) &&
		    sscanf(p + 14, "%ld", &v) == 1)
			kib += v;
	return kib;
}

/*
 * The worker's quiet hook (struct worker): with no connection and no
 * transaction or timer left (the last calls' Timer L/M, up to 64*T1
 * after the connection closed), give back what serving grew and can be
 * given (the SIP service's batch pool and page cache, the heap's free
 * pages). What is left is its own memory (private: pages no other
 * process shares). Up to TCP_KEEP_KIB the worker stays as it is: the next
 * connection costs no new process nor SQLite start. Beyond (what many
 * calls leave: a heap in pieces, statements of every service), it asks
 * the master for a fresh process in its slot (RECYCLE), a lean spare
 * again, whatever this one served. Nothing is lost: the worker holds
 * nothing that is not in the database, and the master stops it only
 * while it holds no connection (tcp_stop says whether it was still quiet
 * then).
 */
static void
tcp_quiet(struct worker *w)
{
	struct tcp_worker *tw = w->priv;
	long kib;

	if (tw == NULL || tw->conn != NULL || tw->released || w->stopping ||
	    w->sipd == NULL)
		return;
	tw->released = 1;
	sipd_release_memory(w->sipd);
	malloc_trim(0);
	kib = tcp_private_kib();
	if (kib >= 0 && kib <= TCP_KEEP_KIB) {
		log_info("idle and quiet: memory given back (%ld KiB private)",
		         kib);
		return;
	}
	if (!w->recycle && worker_to_master(w, IPC_RECYCLE, 0, NULL) == 0) {
		w->recycle = 1;
		log_info("idle and quiet: %ld KiB private: asking for a fresh "
		         "process",
		         kib);
		return;
	}
	log_info("idle and quiet: memory given back (%ld KiB private)", kib);
}

static void
tcp_idle(struct tcp_worker *tw)
{
	struct worker *w = tw->w;

	proctitle_set("afd: %s [idle]", w->name);
	if (!w->stopping)
		worker_state(w, "idle", NULL, 0);
	/* from the loop, not here: an answer being written may be what
	 * closed the connection, and the batch it belongs to still lives */
	worker_quiet_soon(w);
}

static void
tcp_written(uv_write_t *req, int status)
{
	struct tcp_wreq *wr = req->data;
	struct tcp_conn *c = req->handle->data;

	if (c != NULL) {
		c->queued -= wr->len;
		if (status < 0 && status != UV_ECANCELED)
			tcp_conn_close(c, uv_strerror(status));
		else if (c->draining && c->queued == 0)
			tcp_conn_release(c);
	}
	talloc_free(wr);
}

/* Write nb buffers to the connection in one go (writev): what the socket
 * takes now, the rest queued (copied). */
static void
tcp_writev(struct tcp_conn *c, const uv_buf_t *bufs, unsigned nb)
{
	struct tcp_wreq *wr;
	size_t total = 0, skip = 0, off = 0;
	uv_buf_t b;
	int n;

	for (unsigned i = 0; i < nb; i++)
		total += bufs[i].len;
	if (c->closing || total == 0)
		return;
	if (c->queued == 0) {
		n = uv_try_write((uv_stream_t *)c->h, bufs, nb);
		if (n == UV_EAGAIN)
			n = 0;
		if (n < 0) {
			tcp_conn_close(c, uv_strerror(n));
			return;
		}
		if ((size_t)n == total)
			return;
		skip = (size_t)n;
	}
	if (c->queued + (total - skip) > TCP_WQUEUE_MAX) {
		tcp_conn_close(c, "peer does not read its answers");
		return;
	}
	/* The request lives under the handle: libuv may call back after the
	 * connection is freed, but never after the handle's close. */
	wr = talloc_size(c->h, sizeof(*wr) + total - skip);
	if (wr == NULL) {
		tcp_conn_close(c, "out of memory");
		return;
	}
	talloc_set_name_const(wr, "struct tcp_wreq");
	wr->len = total - skip;
	for (unsigned i = 0; i < nb; i++) {
		size_t len = bufs[i].len;
		const char *p = bufs[i].base;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(wr->buf + off, p + skip, len - skip);
		off += len - skip;
		skip = 0;
	}
	wr->req.data = wr;
	b = uv_buf_init(wr->buf, (unsigned)wr->len);
	if (uv_write(&wr->req, (uv_stream_t *)c->h, &b, 1, tcp_written) != 0) {
		talloc_free(wr);
		tcp_conn_close(c, "write failed");
		return;
	}
	c->queued += wr->len;
}

/* Write len bytes at buf to the connection (tcp_writev of one). */
static void
tcp_write(struct tcp_conn *c, const char *buf, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);

	tcp_writev(c, &b, 1);
}

/* The worker's deliver: answers on this worker's connection are written,
 * the rest is routed. */
static void
tcp_deliver(struct worker *w, const struct sipd_out *out, int n)
{
	struct tcp_worker *tw = w->priv;
	struct tcp_conn *c = tw->conn;

	uv_buf_t mine[TCP_WRITEV_MAX];
	unsigned nmine = 0;

	if (c != NULL)
		c->busy++;
	for (int i = 0; i < n; i++) {
		const struct sipd_out *o = &out[i];

		if (o->kind == SIPD_OUT_SEND && o->to.tp == SIP_TP_TCP &&
		    (o->to.slot[0] == '\0' ||
		     strcmp(o->to.slot, w->slot) == 0)) {
			if (c != NULL && !c->closing &&
			    (o->to.conn_id == 0 || o->to.conn_id == c->id)) {
				/* the batch's answers leave in one write */
				if (nmine == TCP_WRITEV_MAX) {
					tcp_writev(c, mine, nmine);
					nmine = 0;
				}
				mine[nmine++] = uv_buf_init((char *)o->buf,
				                            (unsigned)o->len);
			} else
				log_debug("answer for a closed connection "
				          "%llu dropped",
				          (unsigned long long)o->to.conn_id);
			continue;
		}
		worker_route(w, o);
	}
	if (nmine > 0)
		tcp_writev(c, mine, nmine);
	if (c != NULL && --c->busy == 0 && c->closing)
		talloc_free(c);
}

/*
 * Ask the database whether a live binding, or else a live call of this
 * worker's, uses c; sets c->bound (kept as it was when the database
 * cannot say) and logs a change.
 */
static void
tcp_check_bound(struct tcp_conn *c, uint64_t now)
{
	static const char *const what[] = {
	    NULL, /* what it no longer carries: below */
	    "carries a registration binding: kept while it lives",
	    "carries a live call: kept while it lasts",
	};
	struct tcp_worker *tw = c->tw;
	char peer[64], *flow;
	int r;

	c->checked_ms = now;
	if (tw->dr == NULL)
		return;
	sipd_peer_str(&c->peer, peer, sizeof(peer));
	r = db_reg_conn_bound(tw->dr, tw->w->slot, (int64_t)c->id, peer,
	                      time(NULL));
	if (r == 0 && tw->dc != NULL) {
		/* the form of dialogs.a_peer (workers/b2bua.c) */
		flow = talloc_asprintf(NULL, "tcp %s %s %llu", peer,
		                       tw->w->slot, (unsigned long long)c->id);
		r = flow ? db_dialog_conn_live(tw->dc, tw->w->slot, flow) : -1;
		talloc_free(flow);
		if (r == 1)
			r = 2;
	}
	if (r == -1 || r == c->bound)
		return;
	log_info("connection %llu from %s %s", (unsigned long long)c->id,
	         c->peer_s,
	         r != 0          ? what[r]
	         : c->bound == 2 ? "carries no live call any more"
	                         : "carries no registration binding any more");
	c->bound = r;
}

/*
 * Tell the master what c is ("active": it spoke, no binding; "bound"):
 * when that changed, or at most every TCP_REPORT_MS after a message, so
 * that the master knows how long each connection has been silent.
 */
static void
tcp_report(struct tcp_conn *c, uint64_t now)
{
	int want = c->bound ? 2 : c->spoke ? 1 : 0;
	unsigned char buf[128];
	struct ipc_wbuf wb;

	if (want == 0 ||
	    (want == c->reported && now - c->reported_ms < TCP_REPORT_MS))
		return;
	ipc_wbuf_init(&wb, buf, sizeof(buf));
	ipc_put_str(&wb, want == 2 ? "bound" : "active");
	ipc_put_str(&wb, c->peer_s);
	worker_to_master(c->tw->w, IPC_STATE, c->id, &wb);
	c->reported = want;
	c->reported_ms = now;
}

enum tcp_due {
	TCP_DUE_NONE,
	TCP_DUE_FIRST,
	TCP_DUE_MESSAGE,
	TCP_DUE_IDLE,
	TCP_DUE_CHECK
};

/* c's nearest deadline into *at (uv_now() ms) and what it is. */
static enum tcp_due
tcp_due(const struct tcp_conn *c, uint64_t *at)
{
	const struct conf *cf = c->tw->w->conf;
	enum tcp_due due = TCP_DUE_NONE;
	struct {
		int on;
		uint64_t at;
		enum tcp_due due;
	} d[] = {
	    {!c->spoke, c->start_ms + 1000 * (uint64_t)cf->tcp_first_message,
	     TCP_DUE_FIRST},
	    {c->msg_start_ms != 0,
	     c->msg_start_ms + 1000 * (uint64_t)cf->tcp_message_timeout,
	     TCP_DUE_MESSAGE},
	    {c->spoke && !c->bound,
	     c->last_msg_ms + 1000 * (uint64_t)cf->tcp_idle, TCP_DUE_IDLE},
	    {c->bound, c->checked_ms + 1000 * (uint64_t)cf->tcp_idle,
	     TCP_DUE_CHECK},
	};

	*at = UINT64_MAX;
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i].on && d[i].at < *at) {
			*at = d[i].at;
			due = d[i].due;
		}
	return due;
}

static void tcp_on_timer(uv_timer_t *t);

/* Arm c's timer for its nearest deadline. */
static void
tcp_arm(struct tcp_conn *c)
{
	uint64_t now = uv_now(&c->tw->w->loop), at;

	if (c->closing || c->timer == NULL)
		return;
	if (tcp_due(c, &at) == TCP_DUE_NONE) {
		uv_timer_stop(c->timer);
		return;
	}
	uv_timer_start(c->timer, tcp_on_timer, at > now ? at - now : 0, 0);
}

/* A deadline: close the connection, or look for its binding again. */
static void
tcp_on_timer(uv_timer_t *t)
{
	struct tcp_conn *c = t->data;
	const struct conf *cf;
	uint64_t now, at;
	enum tcp_due due;
	char why[128];

	if (c == NULL || c->closing)
		return;
	cf = c->tw->w->conf;
	now = uv_now(&c->tw->w->loop);
	due = tcp_due(c, &at);
	if (due == TCP_DUE_NONE || at > now) {
		tcp_arm(c);
		return;
	}
	switch (due) {
	case TCP_DUE_FIRST:
		snprintf(why, sizeof(why),
		         "no complete SIP message within %d s "
		         "(tcp_first_message)",
		         cf->tcp_first_message);
		break;
	case TCP_DUE_MESSAGE:
		snprintf(why, sizeof(why),
		         "a message still incomplete after %d s "
		         "(tcp_message_timeout, %zu bytes pending)",
		         cf->tcp_message_timeout, c->len);
		break;
	case TCP_DUE_IDLE:
		tcp_check_bound(c, now);
		if (c->bound) {
			tcp_report(c, now);
			tcp_arm(c);
			return;
		}
		snprintf(why, sizeof(why),
		         "no SIP message for %d s and no registration binding "
		         "(tcp_idle)",
		         cf->tcp_idle);
		break;
	default: /* TCP_DUE_CHECK */
		tcp_check_bound(c, now);
		tcp_report(c, now);
		tcp_arm(c);
		return;
	}
	tcp_conn_close(c, why);
}

/* Whether the n bytes at p are only CRs and LFs (a keep-alive's start). */
static int
tcp_only_crlf(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

/* A framing error at buf + off: a complete header section without
 * Content-Length is handed to the service as it is, which answers it
 * "400 Missing Content-Length" (the parser's verdict on a stream), so the
 * phone learns why before the connection closes. */
static void
tcp_answer_no_cl(struct tcp_conn *c, size_t off)
{
	struct worker *w = c->tw->w;
	const struct sipd_out *out;
	ssize_t hl;
	int n;

	hl = sip_stream_no_cl(c->buf + off, c->len - off, w->conf->max_message);
	if (hl <= 0)
		return;
	sipd_batch_begin(w->sipd);
	(void)sipd_handle(w->sipd, c->buf + off, (size_t)hl, &c->peer);
	n = sipd_batch_end(w->sipd, &out);
	if (n > 0)
		tcp_deliver(w, out, n);
}

/*
 * Cut and handle every complete message in the buffer, all in one batch of
 * the SIP service (one transaction, committed before any of their answers
 * leaves, as the UDP worker does with a burst of datagrams): a phone that
 * sends ACK and BYE back to back, or several calls' messages that arrived
 * together, cost one commit, not one each.
 */
static void
tcp_process(struct tcp_conn *c)
{
	struct worker *w = c->tw->w;
	size_t off = 0;
	int batch = 0;

	while (!c->closing && off < c->len) {
		size_t skip = 0;
		int pings = 0, rc;
		ssize_t r;

		r = sip_stream_frame_r(c->buf + off, c->len - off,
		                       w->conf->max_message, &skip, &pings,
		                       &c->scanned);
		for (int i = 0; i < pings; i++)
			tcp_write(c, "\r\n", 2);
		if (skip > c->len - off)
			skip = c->len - off;
		off += skip;
		if (skip > 0)
			c->scanned = 0;
		if (r == 0)
			break;
		if (r < 0 || (size_t)r > c->len - off) {
			char s[80];

			log_warnx("tcp: framing error from %s: \"%s\"",
			          c->peer_s,
			          log_sample(s, sizeof(s), c->buf + off,
			                     c->len - off));
			if (batch)
				worker_batch_end(w);
			tcp_answer_no_cl(c, off);
			tcp_conn_close(c, "framing error");
			return;
		}
		if (!batch) {
			sipd_batch_begin(w->sipd);
			batch = 1;
		}
		rc = sipd_handle(w->sipd, c->buf + off, (size_t)r, &c->peer);
		if (rc == -1 && !c->closing) {
			char s[80];

			log_warnx(
			    "tcp: bad message from %s: \"%s\"", c->peer_s,
			    log_sample(s, sizeof(s), c->buf + off, (size_t)r));
			/* what came before it is answered first */
			worker_batch_end(w);
			tcp_conn_close(c, "bad message");
			return;
		}
		c->spoke = 1;
		c->last_msg_ms = uv_now(&w->loop);
		c->msg_start_ms = 0;
		if (r >= 9 && memcmp(c->buf + off, "REGISTER ", 9) == 0)
			c->registered = 1;
		off += (size_t)r;
		c->scanned = 0;
	}
	if (batch)
		worker_batch_end(w);
	if (c->closing)
		return;
	if (off > 0) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
}

static void
tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct tcp_conn *c = h->data;

	if (c->cap - c->len < 2048 && c->cap < c->limit) {
		size_t ncap = c->cap * 2;
		char *nb;

		if (ncap > c->limit)
			ncap = c->limit;
		nb = talloc_realloc(c, c->buf, char, ncap);
		if (nb != NULL) {
			c->buf = nb;
			c->cap = ncap;
		}
	}
	*b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

/*
 * Who ended the connection we read the end of: the peer (its FIN came:
 * CLOSE_WAIT), or the master, which shuts its copy down when it evicts
 * the connection (our FIN went first: FIN_WAIT and after).
 */
static const char *
tcp_eof_why(struct tcp_conn *c)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	uv_os_fd_t fd = -1;

	if (uv_fileno((uv_handle_t *)c->h, &fd) == 0 && fd >= 0 &&
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    ti.tcpi_state != TCP_CLOSE_WAIT && ti.tcpi_state != TCP_ESTABLISHED)
		return "evicted by the master (all TCP workers busy)";
	return "closed by peer";
}

static void
tcp_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct tcp_conn *c = s->data;

	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS) {
		tcp_conn_close(c, "message larger than max_message");
		return;
	}
	if (nread < 0) {
		tcp_conn_close(c, nread == UV_EOF ? tcp_eof_why(c)
		                                  : uv_strerror((int)nread));
		return;
	}
	c->len += (size_t)nread;
	c->busy++;
	tcp_process(c);
	if (!c->closing && c->len == c->limit)
		tcp_conn_close(c, "message larger than max_message");
	if (!c->closing) {
		uint64_t now = uv_now(&c->tw->w->loop);

		if (c->len == 0 || tcp_only_crlf(c->buf, c->len))
			c->msg_start_ms = 0;
		else if (c->msg_start_ms == 0)
			c->msg_start_ms = now;
		if (c->registered) {
			c->registered = 0;
			tcp_check_bound(c, now);
		}
		if (c->last_msg_ms == now || c->reported == 0)
			tcp_report(c, now);
		tcp_arm(c);
	}
	if (--c->busy == 0 && c->closing)
		talloc_free(c);
}

static int
tcp_conn_destructor(struct tcp_conn *c)
{
	if (c->h != NULL)
		c->h->data = NULL; /* late callbacks see no connection */
	if (c->timer != NULL)
		c->timer->data = NULL;
	return 0;
}

/*
 * End the connection: shut the socket down (the master holds another
 * descriptor, so closing ours would not end it), free the connection with
 * its handle, tell the master, go idle.
 */
static void
tcp_conn_close(struct tcp_conn *c, const char *why)
{
	struct tcp_worker *tw = c->tw;
	struct worker *w = tw->w;
	uint64_t id = c->id;
	uv_os_fd_t fd = -1;

	if (c->closing)
		return;
	c->closing = 1;
	log_info("connection %llu from %s closed: %s", (unsigned long long)id,
	         c->peer_s, why);
	uv_read_stop((uv_stream_t *)c->h);
	if (c->timer != NULL)
		uv_timer_stop(c->timer);
	if (uv_fileno((uv_handle_t *)c->h, &fd) == 0 && fd >= 0)
		shutdown(fd, SHUT_RDWR);
	tw->conn = NULL;
	if (c->busy == 0)
		talloc_free(c);
	worker_to_master(w, IPC_CONN_CLOSED, id, NULL);
	tcp_idle(tw);
}

/* CONN_NEW from the master: a connection to serve. */
static int
tcp_conn_new(void *arg, struct ipc_msg *m)
{
	struct worker *w = arg;
	struct tcp_worker *tw = w->priv;
	struct tcp_conn *c;
	uint8_t resumed;
	struct sockaddr_storage ss;
	socklen_t sslen;
	size_t blocks;

	if (ipc_get_u8(m, &resumed) == -1 ||
	    ipc_get_sockaddr(m, &ss, &sslen) == -1 || ipc_get_end(m) == -1 ||
	    m->fd < 0)
		return -1;
	if (tw->conn != NULL || w->stopping) {
		log_warnx("BUG: CONN_NEW %llu while busy: refused",
		          (unsigned long long)m->hdr.conn_id);
		worker_to_master(w, IPC_CONN_CLOSED, m->hdr.conn_id, NULL);
		return 0;
	}
	/* A lean spare makes its SIP service now; if it cannot, it exits
	 * and the master hands the connection to its replacement. */
	if (worker_sip_up(w) == -1)
		return 0;
	blocks = talloc_total_blocks(tw);
	if (blocks != tw->baseline)
		log_warnx("memory: %zu blocks while idle, expected %zu", blocks,
		          tw->baseline);
	c = talloc_zero(tw, struct tcp_conn);
	if (c == NULL)
		return 0;
	c->tw = tw;
	c->id = m->hdr.conn_id;
	memcpy(&c->peer.addr, &ss, sizeof(ss));
	c->peer.addrlen = sslen;
	c->peer.tp = SIP_TP_TCP;
	c->peer.conn_id = c->id;
	snprintf(c->peer.slot, sizeof(c->peer.slot), "%s", w->slot);
	worker_addr_str(c->peer_s, sizeof(c->peer_s), (struct sockaddr *)&ss);
	c->limit = w->conf->max_message + 4096;
	c->cap = TCP_BUF_INIT;
	c->buf = talloc_size(c, c->cap);
	c->h = uvh_new(c, uv_tcp_t);
	if (c->buf == NULL || c->h == NULL ||
	    uv_tcp_init(&w->loop, c->h) != 0) {
		talloc_free(c);
		return 0;
	}
	c->h->data = c;
	c->timer = uvh_new(c, uv_timer_t);
	if (c->timer == NULL || uv_timer_init(&w->loop, c->timer) != 0) {
		c->timer = NULL;
		talloc_free(c);
		return 0;
	}
	c->timer->data = c;
	if (uv_tcp_open(c->h, m->fd) != 0) {
		log_warnx("tcp: cannot use connection %llu",
		          (unsigned long long)c->id);
		talloc_free(c);
		worker_to_master(w, IPC_CONN_CLOSED, m->hdr.conn_id, NULL);
		return 0;
	}
	m->fd = -1; /* the handle owns it now */
	talloc_set_destructor(c, tcp_conn_destructor);
	tw->conn = c;
	tw->released = 0;
	w->recycle = 0; /* a RECYCLE asked before this came was refused */
	uv_tcp_nodelay(c->h, 1);
	uv_read_start((uv_stream_t *)c->h, tcp_alloc, tcp_on_read);
	log_info("connection %llu from %s%s", (unsigned long long)c->id,
	         c->peer_s,
	         resumed ? " (resumed from this slot's previous worker)" : "");
	proctitle_set("afd: %s [%s]", w->name, c->peer_s);
	worker_state(w, "busy", c->peer_s, c->id);
	c->start_ms = uv_now(&w->loop);
	if (resumed) {
		/* A phone's flow survives its worker: no first-message
		 * deadline when a binding uses it. */
		tcp_check_bound(c, c->start_ms);
		if (c->bound) {
			c->spoke = 1;
			c->last_msg_ms = c->start_ms;
			tcp_report(c, c->start_ms);
		}
	}
	tcp_arm(c);
	return 0;
}

ipc_handler_fn *const tcp_ctl_handlers[IPC__COUNT] = {
    [IPC_CONN_NEW] = tcp_conn_new,
};

/*
 * Stopping: leave the connection without ending it. The master holds its
 * own descriptor: when afd stops it closes that (the peer sees the end);
 * when only this worker was stopped, the replacement in this slot gets the
 * connection. Answers already queued are written first (for at most
 * TCP_DRAIN_MS).
 */
static void
tcp_conn_release(struct tcp_conn *c)
{
	struct tcp_worker *tw = c->tw;

	if (c->closing)
		return;
	c->closing = 1;
	log_info("connection %llu from %s left to the master",
	         (unsigned long long)c->id, c->peer_s);
	uv_read_stop((uv_stream_t *)c->h);
	if (c->timer != NULL)
		uv_timer_stop(c->timer);
	tw->conn = NULL;
	if (c->busy == 0)
		talloc_free(c);
	uvh_close(tw->drain);
	tw->drain = NULL;
}

static void
tcp_on_drain(uv_timer_t *t)
{
	struct tcp_worker *tw = t->data;

	if (tw->conn != NULL) {
		log_warnx("connection %llu: answers unwritten after %d ms",
		          (unsigned long long)tw->conn->id, TCP_DRAIN_MS);
		tcp_conn_release(tw->conn);
	}
}

static void
tcp_stop(struct worker *w)
{
	struct tcp_worker *tw = w->priv;
	struct tcp_conn *c = tw->conn;

	/* Recycled only if still quiet: a message forwarded to this slot
	 * after RECYCLE may have started a transaction, or left a sibling
	 * send queued; then this is a plain stop, and the replacement
	 * recovers what the database says (a restart). */
	if (w->recycle &&
	    (c != NULL ||
	     (w->sipd != NULL && sipd_next_deadline(w->sipd) != UINT64_MAX) ||
	     (w->sibq != NULL && ipc_outq_pending(w->sibq) > 0) ||
	     (w->ctlq != NULL && ipc_outq_pending(w->ctlq) > 0)))
		w->recycle = 0;
	if (c == NULL || c->closing)
		return;
	uv_read_stop((uv_stream_t *)c->h);
	if (c->timer != NULL)
		uv_timer_stop(c->timer); /* no deadline ends it now */
	if (c->queued > 0) {
		tw->drain = uvh_new(tw, uv_timer_t);
		if (tw->drain != NULL &&
		    uv_timer_init(&w->loop, tw->drain) == 0) {
			tw->drain->data = tw;
			c->draining = 1;
			uv_timer_start(tw->drain, tcp_on_drain, TCP_DRAIN_MS,
			               0);
			return;
		}
	}
	tcp_conn_release(c);
}

/* The worker's sip_up hook (worker.h): its looks for a binding and a
 * live call on the SIP service's connection, and that connection's
 * cache. 0 or -1. */
static int
tcp_sip_up(struct worker *w)
{
	struct tcp_worker *tw = w->priv;

	if ((tw->dr = db_reg_new(tw, w->db)) == NULL ||
	    (tw->dc = db_dialog_new(tw, w->db)) == NULL)
		return -1;
	/* One phone's connection: the registrar's 32 MiB cache (db_reg_new)
	 * is for the UDP worker. Another process's commit empties a WAL
	 * reader's cache anyway; what one call reads again fits in this. */
	(void)db_cache_kib(w->db, TCP_DB_CACHE_KIB);
	tw->baseline = talloc_total_blocks(tw);
	/* made for a forwarded message or a connection: once quiet with no
	 * connection, it asks to be recycled (lean again) */
	if (w->lean)
		tw->released = 0;
	return 0;
}

int
tcp_start(struct worker *w)
{
	struct tcp_worker *tw;

	tw = talloc_zero(w, struct tcp_worker);
	if (tw == NULL)
		return -1;
	tw->w = w;
	tw->released = 1; /* a spare has nothing to give back */
	w->priv = tw;
	w->stop = tcp_stop;
	w->deliver = tcp_deliver;
	w->quiet = tcp_quiet;
	w->sip_up = tcp_sip_up;
	/* a lean spare (worker.h) makes them with its SIP service */
	if (w->db != NULL && tcp_sip_up(w) == -1)
		return -1;
	tw->baseline = talloc_total_blocks(tw);
	return 0;
}
