/*
 * t/tools/ipcflood.c: a load test of afd's lossless IPC (ipc/outq.c) for
 * the end-to-end scenarios. It opens a TCP connection to afd, finds the
 * TCP worker that serves it (its process title names the peer), and sends
 * that worker's slot socket N IPC_SIP_SEND messages as fast as it can,
 * the way one worker relays to another; the worker writes each on the
 * connection, where this tool reads them back. Every message must arrive
 * once and in order although the worker's socket takes only
 * net.unix.max_dgram_qlen datagrams at a time.
 *
 *   ipcflood -p PORT -r RUN_DIR [-n N] [-k] [-Q] [-w MS] [-d DATABASE]
 *
 *   -n N   messages (default 2000)
 *   -k     kill -9 the worker after N/2 messages: the master gives the
 *          connection to the replacement, which binds the same slot path;
 *          the queue keeps what is sent meanwhile and delivers it
 *   -Q     no queue: plain ipc_send(), dropping what the socket refuses
 *          (the behaviour before the queue; shows the scenario can fail)
 *   -w MS  how long to wait for the last message (default 10000)
 *   -d DB  find the serving worker in DB's workers table too (afd under
 *          valgrind: the process titles are valgrind's)
 *
 * Prints "#slot tN pid P", then "#sent N received R missing M last L
 * order ok|bad queued_max Q pending P" (L: the last number that came, Q:
 * the most messages queued at once, P: still queued at the end); exits 0 when
 * it ran (the scenario judges the numbers), 2 on a usage or set-up error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sqlite3.h>
#include <talloc.h>

#include "ipc/ipc.h"
#include "sip/sip.h"
#include "util/log.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wake_at;

static void
on_wait(void *arg, int writable, uint64_t at)
{
	wake_at = at;
}

/* The TCP worker whose title names 127.0.0.1:lport: its slot and pid. */
static int
find_worker(int lport, char *slot, size_t slotsz, pid_t *pid)
{
	char want[64], path[300], buf[256];
	struct dirent *e;
	DIR *d;
	int found = 0;

	snprintf(want, sizeof(want), "[127.0.0.1:%d]", lport);
	if ((d = opendir("/proc")) == NULL)
		return -1;
	while (!found && (e = readdir(d)) != NULL) {
		ssize_t n;
		int fd, idx;
		char *p;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, want) == NULL ||
		    (p = strstr(buf, "afd: tcp worker ")) == NULL ||
		    sscanf(p, "afd: tcp worker %d", &idx) != 1)
			continue;
		snprintf(slot, slotsz, "t%d", idx);
		*pid = (pid_t)atoi(e->d_name);
		found = 1;
	}
	closedir(d);
	return found ? 0 : -1;
}

/* The same from the workers table of database db (its serving column):
 * for afd under valgrind, whose process titles are valgrind's. */
static int
find_worker_db(const char *db, int lport, char *slot, size_t slotsz, pid_t *pid)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	char want[64];
	int rc = -1;

	if (db == NULL)
		return -1;
	snprintf(want, sizeof(want), "127.0.0.1:%d", lport);
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(
	        h,
	        "SELECT slot, pid FROM workers WHERE serving = ? "
	        "AND state = 'busy'",
	        -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, want, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(slot, slotsz, "%s",
			         (const char *)sqlite3_column_text(st, 0));
			*pid = (pid_t)sqlite3_column_int(st, 1);
			rc = 0;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc;
}

struct reader {
	char buf[65536];
	size_t len;
	long next; /* the number expected next */
	long received;
	int order_bad;
};

/* Read what the connection has; count the lines "ipcflood <i>". */
static int
read_lines(int fd, struct reader *r)
{
	for (;;) {
		ssize_t n = read(fd, r->buf + r->len, sizeof(r->buf) - r->len);
		char *p, *nl;

		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		r->len += (size_t)n;
		p = r->buf;
		while ((nl = memchr(p, '\n', r->len - (size_t)(p - r->buf)))) {
			long v;
			char c;

			*nl = '\0';
			if (sscanf(p, "ipcflood %ld%c", &v, &c) == 2 &&
			    c == '\r') {
				if (v < r->next)
					r->order_bad = 1;
				r->next = v + 1;
				r->received++;
			}
			p = nl + 1;
		}
		r->len -= (size_t)(p - r->buf);
		memmove(r->buf, p, r->len);
		if (r->len == sizeof(r->buf))
			r->len = 0; /* garbage without an end: drop it */
	}
}

int
main(int argc, char **argv)
{
	const char *run_dir = NULL;
	long n = 2000, wait_ms = 10000;
	const char *db = NULL;
	int port = 0, kill_it = 0, no_queue = 0, opt, tcp, sock, lport;
	struct sockaddr_in sin, me;
	socklen_t melen = sizeof(me);
	struct sockaddr_un sun;
	struct ipc_outq *q = NULL;
	static struct reader r;
	char slot[8];
	pid_t pid = 0;
	size_t qmax = 0;
	uint64_t t0;

	while ((opt = getopt(argc, argv, "p:r:n:kQw:d:")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'r':
			run_dir = optarg;
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 'k':
			kill_it = 1;
			break;
		case 'Q':
			no_queue = 1;
			break;
		case 'w':
			wait_ms = atol(optarg);
			break;
		case 'd':
			db = optarg;
			break;
		default:
			return 2;
		}
	}
	if (port <= 0 || run_dir == NULL || n <= 0) {
		fprintf(stderr, "usage: ipcflood -p PORT -r RUN_DIR [-n N] "
		                "[-k] [-Q] [-w MS] [-d DATABASE]\n");
		return 2;
	}
	log_procname("ipcflood");
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	if (tcp == -1 ||
	    connect(tcp, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(tcp, (struct sockaddr *)&me, &melen) == -1) {
		perror("connect");
		return 2;
	}
	fcntl(tcp, F_SETFL, O_NONBLOCK);
	lport = ntohs(me.sin_port);
	printf("#lport %d\n", lport);
	t0 = now_ms();
	while (find_worker(lport, slot, sizeof(slot), &pid) == -1 &&
	       find_worker_db(db, lport, slot, sizeof(slot), &pid) == -1) {
		if (now_ms() - t0 > (uint64_t)wait_ms) {
			fprintf(stderr, "no TCP worker serves port %d\n",
			        lport);
			return 2;
		}
		usleep(10000);
	}
	printf("#slot %s pid %d\n", slot, (int)pid);
	fflush(stdout);
	if (ipc_slot_addr(&sun, run_dir, slot) == -1)
		return 2;
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock == -1 ||
	    (q = ipc_outq_new(NULL, sock, "u0", NULL, on_wait, NULL)) == NULL)
		return 2;

	for (long i = 0; i < n; i++) {
		static unsigned char buf[256];
		char line[64];
		struct ipc_wbuf wb;
		int len;

		if (kill_it && i == n / 2) {
			kill(pid, SIGKILL);
			printf("#killed %d after %ld messages\n", (int)pid, i);
		}
		len = snprintf(line, sizeof(line), "ipcflood %ld\r\n", i);
		ipc_wbuf_init(&wb, buf, sizeof(buf));
		ipc_put_u32(&wb, SIP_TP_TCP);
		ipc_put_sockaddr(&wb, (struct sockaddr *)&me, melen);
		ipc_put_bytes(&wb, line, (size_t)len);
		if (no_queue)
			ipc_send(sock, &sun, IPC_SIP_SEND, "u0", 0, &wb, -1);
		else if (ipc_outq_send(q, &sun, IPC_SIP_SEND, 0, &wb, -1,
		                       now_ms()) == -1)
			fprintf(stderr, "refused %ld: %s\n", i,
			        strerror(errno));
		if (ipc_outq_pending(q) > qmax)
			qmax = ipc_outq_pending(q);
		if (wake_at != 0 && now_ms() >= wake_at)
			ipc_outq_flush(q, now_ms());
		if (read_lines(tcp, &r) == -1)
			break;
	}
	/* Until the last one came, or nothing waits and nothing came for a
	 * second (what is missing then is lost), or the time is up. */
	t0 = now_ms();
	for (uint64_t last = t0;
	     r.next < n && now_ms() - t0 < (uint64_t)wait_ms;) {
		long before = r.received;

		struct pollfd pfd = {tcp, POLLIN, 0};
		int timeout = 100;

		if (wake_at != 0) {
			uint64_t now = now_ms();
			timeout = wake_at > now ? (int)(wake_at - now) : 0;
		}
		poll(&pfd, 1, timeout);
		if (wake_at != 0 && now_ms() >= wake_at)
			ipc_outq_flush(q, now_ms());
		if (read_lines(tcp, &r) == -1)
			break;
		if (r.received != before)
			last = now_ms();
		else if (ipc_outq_pending(q) == 0 && now_ms() - last > 1000)
			break;
	}
	printf("#sent %ld received %ld missing %ld last %ld order %s "
	       "queued_max %zu pending %zu\n",
	       n, r.received, n - r.received, r.next - 1,
	       r.order_bad ? "bad" : "ok", qmax, ipc_outq_pending(q));
	ipc_outq_drop(q, "ipcflood ends");
	talloc_free(q);
	close(sock);
	close(tcp);
	return 0;
}
