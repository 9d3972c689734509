/*
 * ipc/outq.c: the send queue of ipc.h (after OpenBSD imsg's msgbuf): one
 * FIFO per destination of messages the socket did not take, copied with
 * a dup of their descriptor, sent in order when the owner says the socket
 * is writable or its timer fires; a dead destination's messages are kept
 * for IPC_OUTQ_DEAD_MS and then dropped with one log line. The fast path
 * (nothing waits, the socket takes it) is one ipc_send().
 *
 * Memory: ipc_outq -> ipc_outq_dest -> ipc_outq_msg (talloc); a message
 * holding a descriptor closes it in its destructor. Destinations with
 * nothing waiting are freed, so the list holds only congested ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <talloc.h>

#include "util/log.h"
#include "ipc/ipc.h"

struct ipc_outq_msg {
	struct ipc_outq_msg *next;
	enum ipc_type type;
	uint64_t conn_id;
	int fd;
	size_t len;
	unsigned char payload[];
};

struct ipc_outq_dest {
	struct ipc_outq_dest *next;
	int addressed; /* to is an address (else the connected peer) */
	struct sockaddr_un to;
	char name[32]; /* for logs: "t3", "master" */
	struct ipc_outq_msg *head, **tail;
	size_t n, bytes;
	uint64_t dead_since; /* first refused (ECONNREFUSED/ENOENT), or 0 */
	uint64_t retry_at;   /* flush then; 0: wait for writability */
	unsigned busy_ms;    /* the next busy retry's delay (backs off) */
	int refusing;        /* a bound hit: refusing until it empties */
	size_t refused;
};

struct ipc_outq {
	int sock;
	char slot[8];
	char peer[16];
	ipc_outq_wait_fn *wait;
	void *arg;
	struct ipc_outq_dest *dests;
	size_t n, bytes;
	int refusing; /* the total bound hit: until it falls below half */
	size_t refused;
	int told, want_w;
	uint64_t want_at;
};

enum outq_err { OUTQ_BUSY, OUTQ_DEAD, OUTQ_GONE, OUTQ_OTHER };

/* What a failed send means for the destination. */
static enum outq_err
outq_classify(int addressed, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS)
		return OUTQ_BUSY;
	if (addressed && (err == ECONNREFUSED || err == ENOENT))
		return OUTQ_DEAD;
	if (!addressed && (err == EPIPE || err == ECONNREFUSED ||
	                   err == ECONNRESET || err == ENOTCONN))
		return OUTQ_GONE;
	return OUTQ_OTHER;
}

static int
outq_msg_destructor(struct ipc_outq_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	return 0;
}

struct ipc_outq *
ipc_outq_new(void *ctx, int sock, const char *slot, const char *peer,
             ipc_outq_wait_fn *wait, void *arg)
{
	struct ipc_outq *q;

	if ((q = talloc_zero(ctx, struct ipc_outq)) == NULL)
		return NULL;
	q->sock = sock;
	snprintf(q->slot, sizeof(q->slot), "%s", slot ? slot : "");
	snprintf(q->peer, sizeof(q->peer), "%s", peer ? peer : "peer");
	q->wait = wait;
	q->arg = arg;
	return q;
}

static struct ipc_outq_dest *
outq_find(struct ipc_outq *q, const struct sockaddr_un *to)
{
	for (struct ipc_outq_dest *d = q->dests; d != NULL; d = d->next) {
		if (to == NULL ? !d->addressed
		               : d->addressed &&
		                     strcmp(d->to.sun_path, to->sun_path) == 0)
			return d;
	}
	return NULL;
}

/* The slot a path names: "<run_dir>/t3.sock" -> "t3". */
static void
outq_name(char *out, size_t outsz, const char *path)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 5 && strcmp(b + n - 5, ".sock") == 0)
		n -= 5;
	snprintf(out, outsz, "%.*s", (int)n, b);
}

static struct ipc_outq_dest *
outq_dest_new(struct ipc_outq *q, const struct sockaddr_un *to)
{
	struct ipc_outq_dest *d;

	if ((d = talloc_zero(q, struct ipc_outq_dest)) == NULL)
		return NULL;
	d->tail = &d->head;
	if (to != NULL) {
		d->addressed = 1;
		d->to = *to;
		outq_name(d->name, sizeof(d->name), to->sun_path);
	} else {
		snprintf(d->name, sizeof(d->name), "%s", q->peer);
	}
	d->next = q->dests;
	q->dests = d;
	return d;
}

/* Tell the owner what to wait for, when it changed. */
static void
outq_tell(struct ipc_outq *q)
{
	int want_w = 0;
	uint64_t at = 0;

	for (struct ipc_outq_dest *d = q->dests; d != NULL; d = d->next) {
		if (d->n == 0)
			continue;
		if (d->retry_at == 0)
			want_w = 1;
		else if (at == 0 || d->retry_at < at)
			at = d->retry_at;
	}
	if (q->told && want_w == q->want_w && at == q->want_at)
		return;
	q->told = 1;
	q->want_w = want_w;
	q->want_at = at;
	if (q->wait != NULL)
		q->wait(q->arg, want_w, at);
}

static void
outq_pop(struct ipc_outq *q, struct ipc_outq_dest *d)
{
	struct ipc_outq_msg *m = d->head;

	d->head = m->next;
	if (d->head == NULL)
		d->tail = &d->head;
	d->n--;
	d->bytes -= m->len;
	q->n--;
	q->bytes -= m->len;
	talloc_free(m);
}

/* Drop what waits for d with one log line: the slot, the count, the
 * types. Returns the count. */
static size_t
outq_drop_dest(struct ipc_outq *q, struct ipc_outq_dest *d, const char *why)
{
	unsigned count[IPC__COUNT] = {0};
	char types[256];
	size_t n = d->n, off = 0;

	if (n == 0)
		return 0;
	for (struct ipc_outq_msg *m = d->head; m != NULL; m = m->next)
		count[m->type < IPC__COUNT ? m->type : IPC_NONE]++;
	types[0] = '\0';
	for (unsigned t = 0; t < IPC__COUNT && off < sizeof(types); t++) {
		int k;

		if (count[t] == 0)
			continue;
		k = snprintf(types + off, sizeof(types) - off, "%s%s x%u",
		             off ? ", " : "", ipc_type_name(t), count[t]);
		if (k > 0)
			off += (size_t)k;
	}
	while (d->head != NULL)
		outq_pop(q, d);
	log_warnx("ipc: dropped %zu message%s to %s (%s): %s", n,
	          n == 1 ? "" : "s", d->name, types, why);
	return n;
}

/* Unlink and free a destination with nothing waiting. */
static void
outq_dest_free(struct ipc_outq *q, struct ipc_outq_dest *d)
{
	struct ipc_outq_dest **pp;

	for (pp = &q->dests; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	if (d->refusing)
		log_warnx("ipc: the queue to %s is empty again; %zu message%s "
		          "refused meanwhile",
		          d->name, d->refused, d->refused == 1 ? "" : "s");
	talloc_free(d);
}

/* After a failed send to d at now: set when to try again. Returns -1
 * when d was dropped (gone or dead too long). */
static int
outq_failed(struct ipc_outq *q, struct ipc_outq_dest *d, enum outq_err e,
            int err, uint64_t now)
{
	char why[96];

	switch (e) {
	case OUTQ_BUSY:
		/* A receiver that takes nothing between two tries is tried
		 * half as often, down to every IPC_OUTQ_RETRY_MS. */
		d->dead_since = 0;
		d->busy_ms =
		    d->busy_ms == 0 ? IPC_OUTQ_BUSY_MS : d->busy_ms * 2;
		if (d->busy_ms > IPC_OUTQ_RETRY_MS)
			d->busy_ms = IPC_OUTQ_RETRY_MS;
		d->retry_at = d->addressed ? now + d->busy_ms : 0;
		return 0;
	case OUTQ_DEAD:
		if (d->dead_since == 0) {
			d->dead_since = now;
			log_info("ipc: %s is down (%s): keeping its messages "
			         "for up to %d ms",
			         d->name, strerror(err), IPC_OUTQ_DEAD_MS);
		}
		if (now - d->dead_since >= IPC_OUTQ_DEAD_MS) {
			snprintf(why, sizeof(why), "%s down for %llu ms",
			         d->name,
			         (unsigned long long)(now - d->dead_since));
			outq_drop_dest(q, d, why);
			return -1;
		}
		d->retry_at = now + IPC_OUTQ_RETRY_MS;
		return 0;
	case OUTQ_GONE:
	default:
		snprintf(why, sizeof(why), "%s", strerror(err));
		outq_drop_dest(q, d, why);
		return -1;
	}
}

int
ipc_outq_send(struct ipc_outq *q, const struct sockaddr_un *to,
              enum ipc_type type, uint64_t conn_id, const struct ipc_wbuf *w,
              int fd, uint64_t now)
{
	struct ipc_outq_dest *d = NULL;
	struct ipc_outq_msg *m;
	size_t len = w ? w->len : 0;
	enum outq_err e = OUTQ_BUSY;
	int err = 0, fresh = 0, rerr;

	if ((w != NULL && w->overflow) || len > IPC_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	if (q->n > 0)
		d = outq_find(q, to);
	if (d == NULL) {
		/* The fast path: nothing waits for this destination. */
		if (ipc_send(q->sock, to, type, q->slot, conn_id, w, fd) == 0)
			return 0;
		err = errno;
		e = outq_classify(to != NULL, err);
		if (e == OUTQ_OTHER)
			return -1;
		if (e == OUTQ_GONE) {
			errno = EPIPE;
			return -1;
		}
		if ((d = outq_dest_new(q, to)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		fresh = 1;
	}
	if (d->n >= IPC_OUTQ_MAX_MSGS || d->bytes + len > IPC_OUTQ_MAX_BYTES) {
		if (!d->refusing)
			log_warnx("ipc: the queue to %s is full (%zu messages, "
			          "%zu bytes): refusing %s and what follows "
			          "until it empties",
			          d->name, d->n, d->bytes, ipc_type_name(type));
		d->refusing = 1;
		d->refused++;
		rerr = ENOBUFS;
		goto fail;
	}
	if (q->bytes + len > IPC_OUTQ_MAX_TOTAL) {
		if (!q->refusing)
			log_warnx(
			    "ipc: the send queues are full (%zu messages, "
			    "%zu bytes): refusing %s to %s and what "
			    "follows until they drain",
			    q->n, q->bytes, ipc_type_name(type), d->name);
		q->refusing = 1;
		q->refused++;
		rerr = ENOBUFS;
		goto fail;
	}
	rerr = ENOMEM;
	if ((m = talloc_size(d, sizeof(*m) + len)) == NULL)
		goto fail;
	talloc_set_name_const(m, "struct ipc_outq_msg");
	m->next = NULL;
	m->type = type;
	m->conn_id = conn_id;
	m->len = len;
	m->fd = -1;
	if (len > 0)
		memcpy(m->payload, w->buf, len);
	if (fd >= 0) {
		if ((m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("ipc: cannot keep a descriptor for %s to %s",
			         ipc_type_name(type), d->name);
			talloc_free(m);
			goto fail;
		}
		talloc_set_destructor(m, outq_msg_destructor);
	}
	*d->tail = m;
	d->tail = &m->next;
	d->n++;
	d->bytes += len;
	q->n++;
	q->bytes += len;
	if (fresh)
		outq_failed(q, d, e, err, now);
	outq_tell(q);
	return 0;
fail:
	if (d->n == 0)
		outq_dest_free(q, d);
	errno = rerr;
	return -1;
}

size_t
ipc_outq_flush(struct ipc_outq *q, uint64_t now)
{
	struct ipc_outq_dest *d, *next;

	for (d = q->dests; d != NULL; d = next) {
		next = d->next;
		while (d->head != NULL) {
			struct ipc_outq_msg *m = d->head;
			struct ipc_wbuf w;
			enum outq_err e;
			int err;

			ipc_wbuf_init(&w, m->payload, m->len);
			w.len = m->len;
			if (ipc_send(q->sock, d->addressed ? &d->to : NULL,
			             m->type, q->slot, m->conn_id, &w,
			             m->fd) == 0) {
				d->dead_since = 0;
				d->busy_ms = 0; /* it takes messages again */
				outq_pop(q, d);
				continue;
			}
			err = errno;
			e = outq_classify(d->addressed, err);
			if (e == OUTQ_OTHER) {
				log_warnx("ipc: dropped %s to %s: %s",
				          ipc_type_name(m->type), d->name,
				          strerror(err));
				outq_pop(q, d);
				continue;
			}
			outq_failed(q, d, e, err, now);
			break;
		}
		if (d->n == 0)
			outq_dest_free(q, d);
	}
	if (q->refusing && q->bytes <= IPC_OUTQ_MAX_TOTAL / 2) {
		log_warnx("ipc: the send queues drained; %zu message%s refused "
		          "meanwhile",
		          q->refused, q->refused == 1 ? "" : "s");
		q->refusing = 0;
		q->refused = 0;
	}
	outq_tell(q);
	return q->n;
}

size_t
ipc_outq_pending(const struct ipc_outq *q)
{
	return q->n;
}

size_t
ipc_outq_drop(struct ipc_outq *q, const char *why)
{
	size_t n = 0;

	while (q->dests != NULL) {
		struct ipc_outq_dest *d = q->dests;

		n += outq_drop_dest(q, d, why);
		outq_dest_free(q, d);
	}
	outq_tell(q);
	return n;
}
