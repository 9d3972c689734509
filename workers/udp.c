/*
 * workers/udp.c: the UDP worker's transport. The UDP socket (bound by the
 * master) is polled in the worker's loop; when readable, bursts of up to
 * UDP_BURST datagrams are read with one recvmmsg() into buffers reused for
 * the worker's life, handed to the SIP service as one batch (one database
 * transaction), and every answer of the batch leaves with sendmmsg().
 * Answers the socket cannot take now (EAGAIN) are copied into a queue that
 * is flushed when the socket is writable again. Every 500 ms the service's
 * sweeper runs.
 *
 * Under load a burst is gathered (udp_gather): when the socket held fewer
 * than UDP_GATHER_BURST datagrams but they come at UDP_GATHER_RATE a
 * second or more, the worker waits up to UDP_GATHER_US for more before it
 * handles them, as PostgreSQL's commit_delay does: a batch's commit and
 * its system calls cost about the same for 3 datagrams as for 30. At
 * 10,000 Digest registrations a second the bursts were 2.8 datagrams, and
 * a registration in batches of 1 costs twice what it does in batches of
 * 32 (t/bench/auth_bench); gathered, the worker's share of its core fell
 * from 75-78% to 52-60%, for about a millisecond more per answer. On a
 * quiet server (a lab's few phones) nothing waits. The wait is a blocking
 * ppoll, not a timer of the loop: libuv's timers count milliseconds, and
 * a millisecond per wait cost more latency than it saved; what the loop
 * owes meanwhile (IPC, timers) waits at most UDP_GATHER_US.
 *
 * A datagram is read into max_message + 1 bytes, so one larger than
 * max_message arrives truncated but longer than the limit, and the service
 * answers it 513.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/log.h"
#include "util/uvh.h"
#include "workers/worker.h"

#define UDP_BURST 64          /* datagrams per recvmmsg / sendmmsg */
#define UDP_BURSTS_PER_TURN 8 /* then yield to the loop */
#define UDP_QUEUE_MAX 8192    /* answers waiting for a writable socket */
#define UDP_SWEEP_MS 500
#define UDP_GATHER_US 500    /* the longest a burst waits for more */
#define UDP_GATHER_BURST 16  /* datagrams it waits for */
#define UDP_GATHER_RATE 4000 /* datagrams a second from which it waits */
#define UDP_RATE_MS 100      /* the window the rate is counted over */
/* The UDP worker's heap: free memory at its top is given back to the
 * kernel only past UDP_TRIM (glibc's default, 128 KB, made every AKA
 * challenge's savepoint release (SQLite frees its savepoint bitmaps) shrink
 * the heap with brk and the next one grow it again, page faults and TLB
 * flushes included: 6% of the worker); blocks from UDP_MMAP up are mapped
 * on their own. */
#define UDP_TRIM (64 * 1024 * 1024)
#define UDP_MMAP (4 * 1024 * 1024)

struct udp_qent {
	struct udp_qent *next;
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	char buf[];
};

struct udp_worker {
	struct worker *w;
	uv_poll_t *poll;
	uv_timer_t *sweep;
	size_t bufsz; /* max_message + 1 */
	char *bufs;   /* UDP_BURST * bufsz */
	struct mmsghdr in[UDP_BURST];
	struct iovec iniov[UDP_BURST];
	struct sip_peer peers[UDP_BURST];
	struct mmsghdr out[UDP_BURST];
	struct iovec outiov[UDP_BURST];
	struct udp_qent *qhead, **qtail;
	size_t qlen;
	uint64_t qdropped;
	int writing; /* polling for UV_WRITABLE */
	/* the arrival rate: datagrams in the current and the last window */
	uint64_t rate_start; /* ms, monotonic */
	unsigned rate_now, rate_last;
	int gathering; /* the last window's rate >= UDP_GATHER_RATE */
};

ipc_handler_fn *const udp_ctl_handlers[IPC__COUNT] = {NULL};

static void udp_on_poll(uv_poll_t *h, int status, int events);

static void
udp_poll_update(struct udp_worker *uw)
{
	int want = uw->qhead != NULL;

	if (uw->poll == NULL || want == uw->writing)
		return;
	uw->writing = want;
	uv_poll_start(uw->poll, UV_READABLE | (want ? UV_WRITABLE : 0),
	              udp_on_poll);
}

/* Copy one answer into the queue (it must outlive the batch). */
static void
udp_enqueue(struct udp_worker *uw, const struct sipd_out *o)
{
	struct udp_qent *q;

	if (uw->qlen >= UDP_QUEUE_MAX) {
		if (uw->qdropped++ % 1000 == 0)
			log_warnx("udp: send queue full (%d): dropped %llu "
			          "answers so far",
			          UDP_QUEUE_MAX,
			          (unsigned long long)uw->qdropped);
		return;
	}
	q = talloc_size(uw, sizeof(*q) + o->len);
	if (q == NULL)
		return;
	talloc_set_name_const(q, "struct udp_qent");
	q->next = NULL;
	memcpy(&q->to, &o->to.addr, sizeof(q->to));
	q->tolen = o->to.addrlen;
	q->len = o->len;
	memcpy(q->buf, o->buf, o->len);
	*uw->qtail = q;
	uw->qtail = &q->next;
	uw->qlen++;
}

/*
 * One sendmmsg() of k prepared messages. Returns how many left (>= 0;
 * a message the kernel refused for good counts as gone, logged), or -1 when
 * the socket is full (EAGAIN).
 */
static int
udp_sendmmsg(struct udp_worker *uw, int k)
{
	int n;

	do
		n = sendmmsg(uw->w->udp_fd, uw->out, (unsigned)k, MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
		return -1;
	/* The first message cannot be sent (bad address, no route): skip
	 * it, the rest go on the next call. */
	char to[64];
	worker_addr_str(to, sizeof(to), uw->out[0].msg_hdr.msg_name);
	log_warn("udp: send to %s", to);
	return 1;
}

static void
udp_prep(struct udp_worker *uw, int i, const void *buf, size_t len,
         const void *to, socklen_t tolen)
{
	uw->outiov[i].iov_base = (void *)buf;
	uw->outiov[i].iov_len = len;
	memset(&uw->out[i], 0, sizeof(uw->out[i]));
	uw->out[i].msg_hdr.msg_name = (void *)to;
	uw->out[i].msg_hdr.msg_namelen = tolen;
	uw->out[i].msg_hdr.msg_iov = &uw->outiov[i];
	uw->out[i].msg_hdr.msg_iovlen = 1;
}

/* Send what waits in the queue; stops at EAGAIN. */
static void
udp_flush(struct udp_worker *uw)
{
	while (uw->qhead != NULL) {
		struct udp_qent *q = uw->qhead;
		int k = 0, n;

		for (; q != NULL && k < UDP_BURST; q = q->next, k++)
			udp_prep(uw, k, q->buf, q->len, &q->to, q->tolen);
		if ((n = udp_sendmmsg(uw, k)) == -1)
			break;
		while (n-- > 0) {
			q = uw->qhead;
			uw->qhead = q->next;
			uw->qlen--;
			talloc_free(q);
		}
		if (uw->qhead == NULL)
			uw->qtail = &uw->qhead;
	}
	udp_poll_update(uw);
}

/* The worker's deliver: UDP answers go out here, the rest is routed. */
static void
udp_deliver(struct worker *w, const struct sipd_out *out, int n)
{
	struct udp_worker *uw = w->priv;
	const struct sipd_out *udp[UDP_BURST];
	int i = 0;

	while (i < n) {
		int k = 0, sent;

		/* Collect up to UDP_BURST UDP answers, route the others. */
		for (; i < n && k < UDP_BURST; i++) {
			if (out[i].kind != SIPD_OUT_SEND ||
			    out[i].to.tp != SIP_TP_UDP) {
				worker_route(w, &out[i]);
				continue;
			}
			udp[k++] = &out[i];
		}
		if (k == 0)
			break;
		sent = 0;
		if (uw->qhead == NULL) {
			for (int j = 0; j < k; j++)
				udp_prep(uw, j, udp[j]->buf, udp[j]->len,
				         &udp[j]->to.addr, udp[j]->to.addrlen);
			while (sent < k) {
				int r = udp_sendmmsg(uw, k - sent);
				if (r == -1)
					break;
				sent += r;
				/* shift the rest to the front */
				for (int j = 0; j < k - sent; j++)
					udp_prep(uw, j, udp[sent + j]->buf,
					         udp[sent + j]->len,
					         &udp[sent + j]->to.addr,
					         udp[sent + j]->to.addrlen);
			}
		}
		for (int j = sent; j < k; j++)
			udp_enqueue(uw, udp[j]);
	}
	udp_poll_update(uw);
}

/* Count n datagrams in the rate window; whether the last full window's
 * rate, in datagrams a second, calls for gathering (a change is logged at
 * debug). */
static int
udp_rate(struct udp_worker *uw, unsigned n)
{
	uint64_t now = uv_hrtime() / 1000000;
	int busy;

	if (now - uw->rate_start >= UDP_RATE_MS) {
		/* a quiet window in between: nothing came in the last */
		uw->rate_last = now - uw->rate_start >= 2 * UDP_RATE_MS
		                    ? 0
		                    : uw->rate_now * (1000 / UDP_RATE_MS);
		uw->rate_now = 0;
		uw->rate_start = now - (now - uw->rate_start) % UDP_RATE_MS;
		busy = uw->rate_last >= UDP_GATHER_RATE;
		if (busy != uw->gathering)
			log_debug("udp: %u datagrams/s: %s", uw->rate_last,
			          busy ? "short bursts wait for more (group "
			                 "commit)"
			               : "bursts handled at once");
		uw->gathering = busy;
	}
	uw->rate_now += n;
	return uw->gathering;
}

/*
 * The burst in uw->in[0..n) is short of UDP_GATHER_BURST and datagrams
 * come fast (udp_rate): wait up to UDP_GATHER_US for more (ppoll) and read
 * them into the rest of the burst, until it holds UDP_GATHER_BURST or more.
 * Returns the burst's length.
 */
static int
udp_gather(struct udp_worker *uw, int n)
{
	struct pollfd pfd = {.fd = uw->w->udp_fd, .events = POLLIN};
	uint64_t deadline, now;
	struct timespec ts;
	int m;

	deadline = uv_hrtime() + UDP_GATHER_US * 1000ull;
	while (n < UDP_GATHER_BURST && (now = uv_hrtime()) < deadline) {
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(deadline - now);
		if (ppoll(&pfd, 1, &ts, NULL) <= 0)
			break;
		m = recvmmsg(uw->w->udp_fd, uw->in + n, UDP_BURST - n,
		             MSG_DONTWAIT, NULL);
		if (m <= 0)
			break;
		udp_rate(uw, (unsigned)m);
		n += m;
	}
	return n;
}

/* Read and handle up to UDP_BURSTS_PER_TURN bursts. */
static void
udp_read(struct udp_worker *uw)
{
	struct worker *w = uw->w;

	for (int turn = 0; turn < UDP_BURSTS_PER_TURN && !w->stopping; turn++) {
		int n;

		for (int i = 0; i < UDP_BURST; i++) {
			uw->iniov[i].iov_base =
			    uw->bufs + (size_t)i * uw->bufsz;
			uw->iniov[i].iov_len = uw->bufsz;
			uw->in[i].msg_hdr.msg_name = &uw->peers[i].addr;
			uw->in[i].msg_hdr.msg_namelen =
			    sizeof(uw->peers[i].addr);
			uw->in[i].msg_hdr.msg_iov = &uw->iniov[i];
			uw->in[i].msg_hdr.msg_iovlen = 1;
			uw->in[i].msg_hdr.msg_control = NULL;
			uw->in[i].msg_hdr.msg_controllen = 0;
			uw->in[i].msg_hdr.msg_flags = 0;
			uw->in[i].msg_len = 0;
		}
		n = recvmmsg(w->udp_fd, uw->in, UDP_BURST, MSG_DONTWAIT, NULL);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("udp: recvmmsg");
			return;
		}
		if (n == 0)
			return;
		if (udp_rate(uw, (unsigned)n) && n < UDP_GATHER_BURST)
			n = udp_gather(uw, n);
		sipd_batch_begin(w->sipd);
		for (int i = 0; i < n; i++) {
			struct sip_peer *p = &uw->peers[i];

			p->addrlen = uw->in[i].msg_hdr.msg_namelen;
			p->tp = SIP_TP_UDP;
			p->slot[0] = '\0';
			p->conn_id = 0;
			/* A truncated datagram reads as bufsz bytes: longer
			 * than max_message, so the service answers 513. */
			sipd_handle(w->sipd, uw->iniov[i].iov_base,
			            uw->in[i].msg_len, p);
		}
		worker_batch_end(w);
		if (n < UDP_BURST)
			return;
	}
}

static void
udp_on_poll(uv_poll_t *h, int status, int events)
{
	struct udp_worker *uw = h->data;

	if (status < 0) {
		log_warnx("udp: poll: %s", uv_strerror(status));
		return;
	}
	if (events & UV_WRITABLE)
		udp_flush(uw);
	if (events & UV_READABLE)
		udp_read(uw);
}

static void
udp_on_sweep(uv_timer_t *h)
{
	struct udp_worker *uw = h->data;
	int n;

	sipd_batch_begin(uw->w->sipd);
	n = sipd_sweep(uw->w->sipd);
	worker_batch_end(uw->w);
	if (n > 0)
		log_debug("sweep: %d expired rows removed", n);
}

static void
udp_stop(struct worker *w)
{
	struct udp_worker *uw = w->priv;

	/* Answers already computed leave if the socket takes them now. */
	if (uw->qhead != NULL)
		udp_flush(uw);
	if (uw->qhead != NULL)
		log_warnx("udp: %zu answers unsent at stop", uw->qlen);
	uvh_close(uw->poll);
	uw->poll = NULL;
	uvh_close(uw->sweep);
	uw->sweep = NULL;
}

int
udp_start(struct worker *w)
{
	struct udp_worker *uw;

	(void)mallopt(M_TRIM_THRESHOLD, UDP_TRIM);
	(void)mallopt(M_MMAP_THRESHOLD, UDP_MMAP);
	uw = talloc_zero(w, struct udp_worker);
	if (uw == NULL)
		return -1;
	uw->w = w;
	uw->qtail = &uw->qhead;
	w->priv = uw;
	w->stop = udp_stop;
	w->deliver = udp_deliver;
	uw->bufsz = w->conf->max_message + 1;
	uw->bufs = talloc_size(uw, UDP_BURST * uw->bufsz);
	if (uw->bufs == NULL)
		return -1;
	uw->poll = uvh_new(uw, uv_poll_t);
	if (uw->poll == NULL || uv_poll_init(&w->loop, uw->poll, w->udp_fd))
		return -1;
	uw->poll->data = uw;
	uv_poll_start(uw->poll, UV_READABLE, udp_on_poll);
	uw->sweep = uvh_new(uw, uv_timer_t);
	if (uw->sweep == NULL || uv_timer_init(&w->loop, uw->sweep))
		return -1;
	uw->sweep->data = uw;
	uv_timer_start(uw->sweep, udp_on_sweep, UDP_SWEEP_MS, UDP_SWEEP_MS);
	return 0;
}
