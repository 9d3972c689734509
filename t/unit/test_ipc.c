/*
 * t/unit/test_ipc.c: the IPC codec and its checks, over real sockets: a
 * round trip with a passed descriptor (SOCK_SEQPACKET), a datagram to a
 * slot address (SOCK_DGRAM), truncated and oversized messages, unknown
 * types, leftover bytes, a descriptor where none belongs, and end of file;
 * the send queue (ipc_outq) under a full receiver, to a dead slot that
 * comes back or does not, at its bound, and with descriptors (none leak).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <talloc.h>

#include "util/log.h"
#include "ipc/ipc.h"

static unsigned char rbuf[IPC_MAX_MSG + 1];

static int
pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv);
}

static void
test_round_trip(void)
{
	int sv[2], pfd[2];
	unsigned char buf[512];
	struct ipc_wbuf w;
	struct ipc_msg m;
	struct sockaddr_in sin, *got;
	struct sockaddr_storage ss;
	socklen_t sl;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	char str[32];
	const void *p;
	size_t n;

	CU_ASSERT_FATAL(pair(sv) == 0);
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40512);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_u8(&w, 1);
	ipc_put_sockaddr(&w, (struct sockaddr *)&sin, sizeof(sin));
	ipc_put_u32(&w, 0xdeadbeef);
	ipc_put_u64(&w, 0x0102030405060708ULL);
	ipc_put_str(&w, "hello");
	ipc_put_bytes(&w, "\0\1\2", 3);
	CU_ASSERT(
	    ipc_send(sv[0], NULL, IPC_CONN_NEW, "master", 42, &w, pfd[1]) == 0);
	close(pfd[1]);

	CU_ASSERT_FATAL(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	CU_ASSERT(m.hdr.type == IPC_CONN_NEW);
	CU_ASSERT(m.hdr.conn_id == 42);
	CU_ASSERT_STRING_EQUAL(m.hdr.slot, "master");
	CU_ASSERT(m.fd >= 0);
	CU_ASSERT(ipc_get_u8(&m, &u8) == 0 && u8 == 1);
	CU_ASSERT(ipc_get_sockaddr(&m, &ss, &sl) == 0);
	got = (struct sockaddr_in *)&ss;
	CU_ASSERT(sl == sizeof(sin) && got->sin_port == htons(40512) &&
	          got->sin_addr.s_addr == htonl(0x7f000001));
	CU_ASSERT(ipc_get_u32(&m, &u32) == 0 && u32 == 0xdeadbeef);
	CU_ASSERT(ipc_get_u64(&m, &u64) == 0 && u64 == 0x0102030405060708ULL);
	CU_ASSERT(ipc_get_str(&m, str, sizeof(str)) == 0);
	CU_ASSERT_STRING_EQUAL(str, "hello");
	CU_ASSERT(ipc_get_bytes(&m, &p, &n) == 0 && n == 3 &&
	          memcmp(p, "\0\1\2", 3) == 0);
	CU_ASSERT(ipc_get_end(&m) == 0);
	/* The passed descriptor is the pipe's write end: closing it and
	 * ours gives end of file on the read end. */
	if (m.fd >= 0) {
		CU_ASSERT(write(m.fd, "x", 1) == 1);
		close(m.fd);
	}
	char c;
	CU_ASSERT(read(pfd[0], &c, 1) == 1 && c == 'x');
	CU_ASSERT(read(pfd[0], &c, 1) == 0);
	close(pfd[0]);
	/* nothing more */
	CU_ASSERT(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 0);
	/* the other end closed: -1 */
	close(sv[0]);
	CU_ASSERT(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == -1);
	close(sv[1]);
}

static void
test_truncated_payload(void)
{
	int sv[2];
	unsigned char buf[64];
	struct ipc_wbuf w;
	struct ipc_msg m;
	uint32_t u32;
	uint64_t u64;
	char str[8];
	struct sockaddr_storage ss;
	socklen_t sl;

	CU_ASSERT_FATAL(pair(sv) == 0);
	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_u32(&w, 7);
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_READY, "t1", 0, &w, -1) == 0);
	CU_ASSERT_FATAL(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	/* READY wants two u32: the second read runs out */
	CU_ASSERT(ipc_get_u32(&m, &u32) == 0 && u32 == 7);
	CU_ASSERT(ipc_get_u32(&m, &u32) == -1);
	CU_ASSERT(ipc_get_u64(&m, &u64) == -1);
	CU_ASSERT(ipc_get_end(&m) == 0);

	/* a string whose length says more than is there */
	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_u32(&w, 1000);
	ipc_put_u32(&w, 0x41414141);
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_STATE, "t1", 0, &w, -1) == 0);
	CU_ASSERT_FATAL(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	CU_ASSERT(ipc_get_str(&m, str, sizeof(str)) == -1);
	CU_ASSERT(m.off == 0); /* a failed read consumes nothing */
	/* a string too long for the caller, one with a NUL in it */
	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_str(&w, "much too long");
	ipc_put_bytes(&w, "a\0b", 3);
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_STATE, "t1", 0, &w, -1) == 0);
	CU_ASSERT_FATAL(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	CU_ASSERT(ipc_get_str(&m, str, sizeof(str)) == -1);
	CU_ASSERT(ipc_get_str(&m, str, 64 > sizeof(str) ? sizeof(str) : 64) ==
	          -1);
	/* a sockaddr that is not one */
	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_bytes(&w, "\2\0\0\0", 4);
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_SIP_SEND, "u0", 0, &w, -1) == 0);
	CU_ASSERT_FATAL(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	CU_ASSERT(ipc_get_sockaddr(&m, &ss, &sl) == -1);

	/* a writer that runs out of room refuses to send */
	ipc_wbuf_init(&w, buf, 6);
	ipc_put_u32(&w, 1);
	ipc_put_u32(&w, 2);
	CU_ASSERT(w.overflow == 1);
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_READY, "t1", 0, &w, -1) == -1);

	/* a datagram shorter than a header is dropped */
	CU_ASSERT(send(sv[0], "abc", 3, 0) == 3);
	CU_ASSERT(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 0);
	close(sv[0]);
	close(sv[1]);
}

/* Send a raw header + payload, bypassing ipc_send()'s own checks. */
static void
raw_send(int fd, uint16_t type, uint32_t len, size_t real, int pass)
{
	struct ipc_hdr h;
	struct iovec iov[2];
	struct msghdr mh;
	char cbuf[CMSG_SPACE(sizeof(int))];
	static unsigned char payload[IPC_MAX_MSG + 64];

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.version = IPC_VERSION;
	h.len = len;
	strcpy(h.slot, "t9");
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = payload;
	iov[1].iov_len = real;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	if (pass >= 0) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass, sizeof(int));
	}
	CU_ASSERT(sendmsg(fd, &mh, 0) == (ssize_t)(sizeof(h) + real));
}

static void
test_oversize(void)
{
	int sv[2], sz = 1 << 20;
	struct ipc_msg m;
	struct ipc_wbuf w;
	static unsigned char big[IPC_MAX_PAYLOAD + 16];

	CU_ASSERT_FATAL(pair(sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	/* a header that claims more than the limit */
	raw_send(sv[0], IPC_STATE, IPC_MAX_PAYLOAD + 1, 8, -1);
	/* a header whose length does not match what came */
	raw_send(sv[0], IPC_STATE, 100, 8, -1);
	/* a datagram larger than the limit (truncated on receive) */
	raw_send(sv[0], IPC_STATE, IPC_MAX_PAYLOAD + 8, IPC_MAX_PAYLOAD + 8,
	         -1);
	CU_ASSERT(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 0);
	/* ipc_send refuses a payload over the limit */
	ipc_wbuf_init(&w, big, sizeof(big));
	w.len = IPC_MAX_PAYLOAD + 1;
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_STATE, "t1", 0, &w, -1) == -1);
	/* exactly the limit passes */
	w.len = IPC_MAX_PAYLOAD;
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_STATE, "t1", 0, &w, -1) == 0);
	CU_ASSERT(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	CU_ASSERT(m.hdr.len == IPC_MAX_PAYLOAD);
	close(sv[0]);
	close(sv[1]);
}

static int handled;

static int
h_ready(void *arg, struct ipc_msg *m)
{
	uint32_t a, b;

	if (ipc_get_u32(m, &a) == -1 || ipc_get_u32(m, &b) == -1 ||
	    ipc_get_end(m) == -1)
		return -1;
	handled++;
	return 0;
}

static void
test_unknown_and_dispatch(void)
{
	static ipc_handler_fn *const table[IPC__COUNT] = {
	    [IPC_READY] = h_ready,
	};
	int sv[2], pfd[2];
	unsigned char buf[64];
	struct ipc_wbuf w;
	struct ipc_msg m;

	CU_ASSERT_FATAL(pair(sv) == 0);
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	/* unknown types (0, beyond the catalogue) are dropped on receive */
	raw_send(sv[0], IPC_NONE, 0, 0, -1);
	raw_send(sv[0], IPC__COUNT, 0, 0, -1);
	raw_send(sv[0], 999, 4, 4, -1);
	/* a descriptor on a type that takes none: dropped, fd closed */
	raw_send(sv[0], IPC_READY, 8, 8, pfd[1]);
	close(pfd[1]);
	CU_ASSERT(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 0);
	/* the pipe's only write end was closed by the receiver */
	char c;
	CU_ASSERT(read(pfd[0], &c, 1) == 0);
	close(pfd[0]);

	/* a known type nobody handles here: dispatch drops it */
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_STATE, "t1", 0, NULL, -1) == 0);
	CU_ASSERT_FATAL(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	CU_ASSERT(ipc_dispatch(table, NULL, &m) == -1);
	/* leftover bytes: the handler's end check makes it malformed */
	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_u32(&w, 1);
	ipc_put_u32(&w, 2);
	ipc_put_u8(&w, 3);
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_READY, "t1", 0, &w, -1) == 0);
	CU_ASSERT_FATAL(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	handled = 0;
	CU_ASSERT(ipc_dispatch(table, NULL, &m) == -1);
	CU_ASSERT(handled == 0);
	/* and the well-formed one is handled */
	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_u32(&w, 1);
	ipc_put_u32(&w, 2);
	CU_ASSERT(ipc_send(sv[0], NULL, IPC_READY, "t1", 0, &w, -1) == 0);
	CU_ASSERT_FATAL(ipc_recv(sv[1], rbuf, sizeof(rbuf), &m) == 1);
	CU_ASSERT(ipc_dispatch(table, NULL, &m) == 0);
	CU_ASSERT(handled == 1);
	CU_ASSERT_STRING_EQUAL(ipc_type_name(IPC_CONN_NEW), "CONN_NEW");
	CU_ASSERT_STRING_EQUAL(ipc_type_name(999), "?");
	close(sv[0]);
	close(sv[1]);
}

static void
test_dgram_slot(void)
{
	char dir[] = "/tmp/afd-ipc-XXXXXX";
	struct sockaddr_un sun;
	struct ipc_wbuf w;
	struct ipc_msg m;
	unsigned char buf[64];
	int a, b;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	CU_ASSERT_FATAL(ipc_slot_addr(&sun, dir, "t7") == 0);
	CU_ASSERT(strstr(sun.sun_path, "/t7.sock") != NULL);
	a = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	b = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(bind(b, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_str(&w, "x");
	CU_ASSERT(ipc_send(a, &sun, IPC_STATE, "u0", 5, &w, -1) == 0);
	CU_ASSERT(ipc_recv(b, rbuf, sizeof(rbuf), &m) == 1);
	CU_ASSERT(m.hdr.conn_id == 5 && strcmp(m.hdr.slot, "u0") == 0);
	/* an empty datagram is no end of file on a datagram socket */
	CU_ASSERT(sendto(a, "", 0, 0, (struct sockaddr *)&sun, sizeof(sun)) ==
	          0);
	CU_ASSERT(ipc_recv(b, rbuf, sizeof(rbuf), &m) == 0);
	close(a);
	close(b);
	unlink(sun.sun_path);
	rmdir(dir);
	/* a path too long for sun_path */
	char longdir[200];
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	CU_ASSERT(ipc_slot_addr(&sun, longdir, "t1") == -1);
}

/* --- the send queue ------------------------------------------------- */

static int wait_calls, wait_w;
static uint64_t wait_at;

static void
on_wait(void *arg, int writable, uint64_t at)
{
	wait_calls++;
	wait_w = writable;
	wait_at = at;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The log lines written between cap_start() and cap_end() (util/log
 * writes to descriptor 2), at level info. */
static int cap_saved = -1;
static FILE *cap_file;

static void
cap_start(void)
{
	cap_file = tmpfile();
	CU_ASSERT_FATAL(cap_file != NULL);
	cap_saved = dup(2);
	dup2(fileno(cap_file), 2);
	log_level = LOG_L_INFO;
}

static char *
cap_end(char *out, size_t outsz)
{
	size_t n;

	log_level = LOG_L_ERROR;
	dup2(cap_saved, 2);
	close(cap_saved);
	rewind(cap_file);
	n = fread(out, 1, outsz - 1, cap_file);
	out[n] = '\0';
	fclose(cap_file);
	return out;
}

/* How many lines of text contain s. */
static int
count_lines(const char *text, const char *s)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, s)) != NULL; p++)
		n++;
	return n;
}

/* Send message i (a u32 payload) through q to to. */
static int
q_send(struct ipc_outq *q, const struct sockaddr_un *to, uint32_t i, int fd,
       uint64_t now)
{
	unsigned char buf[8];
	struct ipc_wbuf w;

	ipc_wbuf_init(&w, buf, sizeof(buf));
	ipc_put_u32(&w, i);
	return ipc_outq_send(q, to, fd >= 0 ? IPC_CONN_NEW : IPC_SIP_SEND, i,
	                     &w, fd, now);
}

/* Receive every waiting message, checking they are next, next+1, ...;
 * returns the next expected number. */
static uint32_t
q_drain(int sock, uint32_t next, int *fds_seen)
{
	struct ipc_msg m;
	uint32_t v;

	while (ipc_recv(sock, rbuf, sizeof(rbuf), &m) == 1) {
		CU_ASSERT(ipc_get_u32(&m, &v) == 0 && ipc_get_end(&m) == 0);
		CU_ASSERT(v == next);
		CU_ASSERT(m.hdr.conn_id == next);
		if (m.fd >= 0) {
			if (fds_seen)
				(*fds_seen)++;
			close(m.fd);
		}
		next = v + 1;
	}
	return next;
}

/* A connected channel (SOCK_SEQPACKET) filled until EAGAIN: the queue
 * keeps the rest in order, asks for writability, and a flush after the
 * receiver read delivers every message once. */
static void
test_outq_full_channel(void)
{
	int sv[2], sz = 4096;
	struct ipc_outq *q;
	uint32_t i, next = 0;
	int rounds = 0;

	CU_ASSERT_FATAL(pair(sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	wait_calls = wait_w = 0;
	q = ipc_outq_new(NULL, sv[0], "t1", "master", on_wait, NULL);
	CU_ASSERT_FATAL(q != NULL);
	/* the fast path until the socket is full: nothing queued */
	for (i = 0; ipc_outq_pending(q) == 0 && i < 100000; i++)
		CU_ASSERT(q_send(q, NULL, i, -1, 0) == 0);
	CU_ASSERT_FATAL(ipc_outq_pending(q) == 1);
	CU_ASSERT(wait_calls == 1 && wait_w == 1 && wait_at == 0);
	for (uint32_t k = 0; k < 500; k++, i++)
		CU_ASSERT(q_send(q, NULL, i, -1, 0) == 0);
	CU_ASSERT(ipc_outq_pending(q) == 501);
	/* still full: nothing moves, no message lost */
	CU_ASSERT(ipc_outq_flush(q, 1) == 501);
	while (ipc_outq_pending(q) > 0 && rounds++ < 10000) {
		next = q_drain(sv[1], next, NULL);
		ipc_outq_flush(q, 2);
	}
	next = q_drain(sv[1], next, NULL);
	CU_ASSERT(next == i);
	CU_ASSERT(wait_w == 0 && wait_at == 0);
	/* the peer gone: what waited is dropped, the send says EPIPE */
	close(sv[1]);
	errno = 0;
	CU_ASSERT(q_send(q, NULL, i, -1, 3) == -1 && errno == EPIPE);
	CU_ASSERT(ipc_outq_pending(q) == 0);
	talloc_free(q);
	close(sv[0]);
}

/* A datagram receiver whose queue is full (net.unix.max_dgram_qlen): the
 * queue retries on its timer (IPC_OUTQ_BUSY_MS), in order. */
static void
test_outq_full_dgram(void)
{
	char dir[] = "/tmp/afd-outq-XXXXXX";
	struct sockaddr_un sun;
	struct ipc_outq *q;
	int a, b, rounds = 0;
	uint32_t i, next = 0;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	CU_ASSERT_FATAL(ipc_slot_addr(&sun, dir, "t4") == 0);
	a = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	b = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(bind(b, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	q = ipc_outq_new(NULL, a, "u0", NULL, on_wait, NULL);
	for (i = 0; ipc_outq_pending(q) == 0 && i < 100000; i++)
		CU_ASSERT(q_send(q, &sun, i, -1, 100) == 0);
	CU_ASSERT_FATAL(ipc_outq_pending(q) == 1);
	CU_ASSERT(wait_w == 0 && wait_at == 100 + IPC_OUTQ_BUSY_MS);
	for (uint32_t k = 0; k < 300; k++, i++)
		CU_ASSERT(q_send(q, &sun, i, -1, 101) == 0);
	/* a receiver that takes nothing is tried half as often */
	CU_ASSERT(ipc_outq_flush(q, 102) == 301);
	CU_ASSERT(wait_at == 102 + 2 * IPC_OUTQ_BUSY_MS);
	CU_ASSERT(ipc_outq_flush(q, 106) == 301);
	CU_ASSERT(wait_at == 106 + 4 * IPC_OUTQ_BUSY_MS);
	while (ipc_outq_pending(q) > 0 && rounds++ < 10000) {
		next = q_drain(b, next, NULL);
		ipc_outq_flush(q, 110 + (uint64_t)rounds);
	}
	next = q_drain(b, next, NULL);
	CU_ASSERT(next == i);
	CU_ASSERT(wait_at == 0);
	talloc_free(q);
	close(a);
	close(b);
	unlink(sun.sun_path);
	rmdir(dir);
}

/* A dead slot (its path not bound, then bound by a replacement within
 * IPC_OUTQ_DEAD_MS): delivered; a slot that stays dead: dropped, one
 * count. */
static void
test_outq_dead_slot(void)
{
	char dir[] = "/tmp/afd-outq-XXXXXX";
	struct sockaddr_un sun;
	struct ipc_outq *q;
	int a, b, c, nul;
	uint32_t next;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	CU_ASSERT_FATAL(ipc_slot_addr(&sun, dir, "t5") == 0);
	a = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	q = ipc_outq_new(NULL, a, "u0", NULL, on_wait, NULL);
	/* the killed worker's socket file is still there: ECONNREFUSED */
	c = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(bind(c, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(c);
	for (uint32_t i = 0; i < 5; i++)
		CU_ASSERT(q_send(q, &sun, i, -1, 1000) == 0);
	CU_ASSERT(ipc_outq_pending(q) == 5);
	CU_ASSERT(wait_w == 0 && wait_at == 1000 + IPC_OUTQ_RETRY_MS);
	CU_ASSERT(ipc_outq_flush(q, 1050) == 5);
	CU_ASSERT(wait_at == 1050 + IPC_OUTQ_RETRY_MS);
	/* the replacement binds the slot's path */
	unlink(sun.sun_path);
	b = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(bind(b, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CU_ASSERT(ipc_outq_flush(q, 1100) == 0);
	CU_ASSERT(wait_at == 0);
	next = q_drain(b, 0, NULL);
	CU_ASSERT(next == 5);
	/* it dies for good (no file at all: ENOENT) */
	close(b);
	unlink(sun.sun_path);
	cap_start();
	for (uint32_t i = 0; i < 3; i++)
		CU_ASSERT(q_send(q, &sun, i, -1, 2000) == 0);
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CU_ASSERT(q_send(q, &sun, 3, nul, 2000) == 0); /* the queue dups it */
	close(nul);
	CU_ASSERT(ipc_outq_flush(q, 2000 + IPC_OUTQ_DEAD_MS - 1) == 4);
	CU_ASSERT(ipc_outq_flush(q, 2000 + IPC_OUTQ_DEAD_MS) == 0);
	{
		char logbuf[4096];

		cap_end(logbuf, sizeof(logbuf));
		/* one line says it is down, one that its messages went */
		CU_ASSERT(count_lines(logbuf, "t5 is down") == 1);
		CU_ASSERT(count_lines(logbuf, "dropped") == 1);
		CU_ASSERT(strstr(logbuf, "dropped 4 messages to t5 "
		                         "(CONN_NEW x1, SIP_SEND x3)") != NULL);
	}
	CU_ASSERT(wait_at == 0 && wait_w == 0);
	talloc_free(q);
	close(a);
	rmdir(dir);
}

/* The bound: the queue refuses (-1 ENOBUFS) once a destination holds
 * IPC_OUTQ_MAX_MSGS, and takes messages again once it drained. */
static void
test_outq_bound(void)
{
	char dir[] = "/tmp/afd-outq-XXXXXX";
	struct sockaddr_un sun;
	struct ipc_outq *q;
	int a, b;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	CU_ASSERT_FATAL(ipc_slot_addr(&sun, dir, "t6") == 0);
	a = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	q = ipc_outq_new(NULL, a, "u0", NULL, on_wait, NULL);
	for (uint32_t i = 0; i < IPC_OUTQ_MAX_MSGS; i++)
		CU_ASSERT(q_send(q, &sun, i, -1, 0) == 0);
	CU_ASSERT(ipc_outq_pending(q) == IPC_OUTQ_MAX_MSGS);
	cap_start();
	errno = 0;
	CU_ASSERT(q_send(q, &sun, 99999, -1, 0) == -1 && errno == ENOBUFS);
	for (int k = 0; k < 10; k++)
		CU_ASSERT(q_send(q, &sun, 99999, -1, 0) == -1);
	{
		char logbuf[4096];

		cap_end(logbuf, sizeof(logbuf));
		CU_ASSERT(count_lines(logbuf, "the queue to t6 is full") == 1);
	}
	CU_ASSERT(ipc_outq_pending(q) == IPC_OUTQ_MAX_MSGS);
	/* an oversized payload is refused whatever the queue holds */
	{
		static unsigned char big[IPC_MAX_PAYLOAD + 1];
		struct ipc_wbuf w;

		ipc_wbuf_init(&w, big, sizeof(big));
		w.len = sizeof(big);
		errno = 0;
		CU_ASSERT(ipc_outq_send(q, &sun, IPC_SIP_SEND, 0, &w, -1, 0) ==
		              -1 &&
		          errno == EMSGSIZE);
	}
	/* the slot comes up: everything queued arrives, then new sends go
	 * through again (the receiver reads as the queue flushes) */
	b = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(bind(b, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	{
		uint32_t next = 0;
		int rounds = 0;

		while (ipc_outq_flush(q, 10) > 0 && rounds++ < 100000)
			next = q_drain(b, next, NULL);
		next = q_drain(b, next, NULL);
		CU_ASSERT(next == IPC_OUTQ_MAX_MSGS);
	}
	CU_ASSERT(q_send(q, &sun, 0, -1, 20) == 0);
	CU_ASSERT(ipc_outq_pending(q) == 0);
	CU_ASSERT(q_drain(b, 0, NULL) == 1);
	talloc_free(q);
	close(a);
	close(b);
	unlink(sun.sun_path);
	rmdir(dir);
}

/* Descriptors through the queue: each arrives with its message; none is
 * left open in the sender, whether delivered or dropped. */
static void
test_outq_fds(void)
{
	int sv[2], pfd[2], sz = 4096, before, seen = 0, rounds = 0;
	struct ipc_outq *q;
	uint32_t i, next = 0;

	before = count_fds();
	CU_ASSERT_FATAL(pair(sv) == 0);
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	q = ipc_outq_new(NULL, sv[0], "master", "t1", on_wait, NULL);
	for (i = 0; ipc_outq_pending(q) < 20 && i < 100000; i++)
		CU_ASSERT(q_send(q, NULL, i, pfd[1], 0) == 0);
	CU_ASSERT(count_fds() > before + 2 + 2); /* the queue holds dups */
	while (ipc_outq_pending(q) > 0 && rounds++ < 10000) {
		next = q_drain(sv[1], next, &seen);
		ipc_outq_flush(q, 1);
	}
	next = q_drain(sv[1], next, &seen);
	CU_ASSERT(next == i && seen == (int)i);
	CU_ASSERT(count_fds() == before + 4);
	/* queued and then dropped (freed): the dups are closed too */
	for (i = 0; ipc_outq_pending(q) < 10 && i < 100000; i++)
		CU_ASSERT(q_send(q, NULL, i, pfd[1], 0) == 0);
	CU_ASSERT(ipc_outq_drop(q, "test") == 10);
	talloc_free(q);
	close(sv[0]);
	close(sv[1]);
	close(pfd[0]);
	close(pfd[1]);
	CU_ASSERT(count_fds() == before);
}

static enum log_level saved_level;

static int
quiet(void)
{
	saved_level = log_level;
	log_level = LOG_L_ERROR; /* the drops are expected here */
	return 0;
}

static int
loud(void)
{
	log_level = saved_level;
	return 0;
}

int
suite_ipc(void)
{
	CU_pSuite s = CU_add_suite("ipc", quiet, loud);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "round trip with a descriptor", test_round_trip) ||
	    !CU_add_test(s, "truncated payloads", test_truncated_payload) ||
	    !CU_add_test(s, "oversize and length mismatch", test_oversize) ||
	    !CU_add_test(s, "unknown types, dispatch, leftovers",
	                 test_unknown_and_dispatch) ||
	    !CU_add_test(s, "datagram to a slot address", test_dgram_slot) ||
	    !CU_add_test(s, "queue: full channel", test_outq_full_channel) ||
	    !CU_add_test(s, "queue: full datagram receiver",
	                 test_outq_full_dgram) ||
	    !CU_add_test(s, "queue: dead slot", test_outq_dead_slot) ||
	    !CU_add_test(s, "queue: bound", test_outq_bound) ||
	    !CU_add_test(s, "queue: descriptors", test_outq_fds))
		return -1;
	return 0;
}
