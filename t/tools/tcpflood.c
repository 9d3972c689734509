/*
 * t/tools/tcpflood.c: the abusive TCP clients of the pool tests (e2e 60):
 * connections to afd on 127.0.0.1 that never send a byte ("idle") and
 * connections that send a SIP request one byte at a time ("slow"), and
 * how long afd lets each live.
 *
 *   tcpflood -p PORT [-n IDLE] [-s SLOW] [-i MS] [-t SECONDS]
 *
 * Opens IDLE + SLOW connections at once (non-blocking), sends on each slow
 * one a byte every MS milliseconds (default 100), and watches every
 * connection until afd closes it or SECONDS (default 20, at most 60) have
 * passed; then closes what is left and prints one line per kind:
 *
 *   idle opened=300 connected=300 closed=300 open=0 failed=0 max_ms=2104
 *
 * (max_ms: the longest life, from the connection's establishment to its
 * end as this side saw it, of those afd closed). "#connected" is printed
 * once every connection is established or failed, so a script can go on.
 * Bounded: at most 1000 connections, 127.0.0.1 only. Exit 0, or 2 on bad
 * usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOD_MAX 1000
#define FLOOD_MAX_SECONDS 60

enum flood_state { F_CONNECTING, F_OPEN, F_CLOSED, F_FAILED };

struct flood_conn {
	int fd;
	int slow;
	enum flood_state state;
	int64_t up_ms, down_ms, next_ms;
	size_t sent;
};

static const char flood_msg[] =
    "OPTIONS sip:ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-slow\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:slow@127.0.0.1>;tag=slow\r\n"
    "To: <sip:ims.mnc001.mcc001.3gppnetwork.org>\r\n"
    "Call-ID: slow@127.0.0.1\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Content-Length: 0\r\n\r\n";

static int64_t
flood_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
flood_down(struct flood_conn *c, int64_t now)
{
	close(c->fd);
	c->fd = -1;
	c->state = F_CLOSED;
	c->down_ms = now;
}

static void
flood_report(const struct flood_conn *cs, int n, int slow)
{
	int opened = 0, connected = 0, closed = 0, open = 0, failed = 0;
	int64_t max = 0;

	for (int i = 0; i < n; i++) {
		const struct flood_conn *c = &cs[i];

		if (c->slow != slow)
			continue;
		opened++;
		if (c->state == F_FAILED) {
			failed++;
			continue;
		}
		if (c->up_ms != 0)
			connected++;
		if (c->state == F_CLOSED) {
			closed++;
			if (c->down_ms - c->up_ms > max)
				max = c->down_ms - c->up_ms;
		} else {
			open++;
		}
	}
	printf("%s opened=%d connected=%d closed=%d open=%d failed=%d "
	       "max_ms=%lld\n",
	       slow ? "slow" : "idle", opened, connected, closed, open, failed,
	       (long long)max);
}

int
main(int argc, char **argv)
{
	struct flood_conn *cs;
	struct pollfd *pfd;
	struct sockaddr_in sin;
	int port = 0, nidle = 0, nslow = 0, every = 100, seconds = 20, n, o;
	int announced = 0;
	int64_t start, end;

	while ((o = getopt(argc, argv, "p:n:s:i:t:")) != -1) {
		switch (o) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			nidle = atoi(optarg);
			break;
		case 's':
			nslow = atoi(optarg);
			break;
		case 'i':
			every = atoi(optarg);
			break;
		case 't':
			seconds = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	n = nidle + nslow;
	if (port <= 0 || port > 65535 || nidle < 0 || nslow < 0 || n < 1 ||
	    n > FLOOD_MAX || every < 1 || seconds < 1 ||
	    seconds > FLOOD_MAX_SECONDS)
		goto usage;
	cs = calloc((size_t)n, sizeof(*cs));
	pfd = calloc((size_t)n, sizeof(*pfd));
	if (cs == NULL || pfd == NULL)
		return 1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	start = flood_now();
	end = start + 1000 * (int64_t)seconds;
	for (int i = 0; i < n; i++) {
		struct flood_conn *c = &cs[i];

		c->slow = i >= nidle;
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (c->fd == -1) {
			c->state = F_FAILED;
			continue;
		}
		if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			c->state = F_OPEN;
			c->up_ms = c->next_ms = flood_now();
		} else if (errno == EINPROGRESS) {
			c->state = F_CONNECTING;
		} else {
			close(c->fd);
			c->fd = -1;
			c->state = F_FAILED;
		}
	}
	for (;;) {
		int64_t now = flood_now();
		int live = 0, connecting = 0;

		for (int i = 0; i < n; i++) {
			struct flood_conn *c = &cs[i];

			pfd[i].fd = -1;
			pfd[i].events = 0;
			if (c->state == F_CONNECTING) {
				pfd[i].fd = c->fd;
				pfd[i].events = POLLOUT;
				connecting++;
				live++;
			} else if (c->state == F_OPEN) {
				if (c->slow && now >= c->next_ms &&
				    c->sent < sizeof(flood_msg) - 1) {
					if (send(c->fd, flood_msg + c->sent, 1,
					         MSG_NOSIGNAL) == 1)
						c->sent++;
					else if (errno != EAGAIN) {
						flood_down(c, now);
						continue;
					}
					c->next_ms = now + every;
				}
				pfd[i].fd = c->fd;
				pfd[i].events = POLLIN;
				live++;
			}
		}
		if (!announced && connecting == 0) {
			printf("#connected\n");
			fflush(stdout);
			announced = 1;
		}
		if (live == 0 || now >= end)
			break;
		if (poll(pfd, (nfds_t)n, 10) == -1 && errno != EINTR)
			break;
		now = flood_now();
		for (int i = 0; i < n; i++) {
			struct flood_conn *c = &cs[i];
			char buf[512];
			ssize_t r;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (c->state == F_CONNECTING) {
				int err = 0;
				socklen_t len = sizeof(err);

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
				           &len);
				if (err != 0) {
					close(c->fd);
					c->fd = -1;
					c->state = F_FAILED;
				} else {
					c->state = F_OPEN;
					c->up_ms = c->next_ms = now;
				}
				continue;
			}
			r = recv(c->fd, buf, sizeof(buf), 0);
			if (r == 0 ||
			    (r == -1 && errno != EAGAIN && errno != EINTR))
				flood_down(c, now);
		}
	}
	flood_report(cs, n, 0);
	flood_report(cs, n, 1);
	for (int i = 0; i < n; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	free(cs);
	free(pfd);
	return 0;
usage:
	fprintf(stderr,
	        "usage: tcpflood -p PORT [-n IDLE] [-s SLOW] [-i MS] "
	        "[-t SECONDS]   (at most %d connections, %d s)\n",
	        FLOOD_MAX, FLOOD_MAX_SECONDS);
	return 2;
}
