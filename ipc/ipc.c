/*
 * ipc/ipc.c: the message codec, send and receive with descriptor passing,
 * and handler dispatch. See ipc.h for the catalogue. Every message is one
 * datagram (SOCK_SEQPACKET or SOCK_DGRAM), so a receive gets exactly one
 * message or reports that it was truncated.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/log.h"
#include "ipc/ipc.h"

/* The tables below are generated from the one list, IPC_TYPES. */
static const char *const ipc_names[IPC__COUNT] = {[IPC_NONE] = "NONE",
#define IPC_NAME_(name, fd, payload) [IPC_##name] = #name,
                                                  IPC_TYPES(IPC_NAME_)
#undef IPC_NAME_
};

static const char *const ipc_payloads[IPC__COUNT] = {
#define IPC_PAYLOAD_(name, fd, payload) [IPC_##name] = payload,
    IPC_TYPES(IPC_PAYLOAD_)
#undef IPC_PAYLOAD_
};

static const unsigned char ipc_takes_fd[IPC__COUNT] = {
#define IPC_FD_(name, fd, payload) [IPC_##name] = (fd),
    IPC_TYPES(IPC_FD_)
#undef IPC_FD_
};

const char *
ipc_type_name(unsigned type)
{
	if (type >= IPC__COUNT || ipc_names[type] == NULL)
		return "?";
	return ipc_names[type];
}

const char *
ipc_type_payload(unsigned type)
{
	if (type >= IPC__COUNT || ipc_payloads[type] == NULL)
		return "";
	return ipc_payloads[type];
}

int
ipc_type_takes_fd(unsigned type)
{
	return type < IPC__COUNT && ipc_takes_fd[type];
}

void
ipc_wbuf_init(struct ipc_wbuf *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = 0;
}

static void
ipc_put(struct ipc_wbuf *w, const void *p, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void
ipc_put_u8(struct ipc_wbuf *w, uint8_t v)
{
	ipc_put(w, &v, sizeof(v));
}

void
ipc_put_u32(struct ipc_wbuf *w, uint32_t v)
{
	ipc_put(w, &v, sizeof(v));
}

void
ipc_put_u64(struct ipc_wbuf *w, uint64_t v)
{
	ipc_put(w, &v, sizeof(v));
}

void
ipc_put_bytes(struct ipc_wbuf *w, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		w->overflow = 1;
		return;
	}
	ipc_put_u32(w, (uint32_t)n);
	ipc_put(w, p, n);
}

void
ipc_put_str(struct ipc_wbuf *w, const char *s)
{
	ipc_put_bytes(w, s, strlen(s));
}

void
ipc_put_sockaddr(struct ipc_wbuf *w, const struct sockaddr *sa, socklen_t len)
{
	ipc_put_bytes(w, sa, len);
}

static int
ipc_get(struct ipc_msg *m, void *p, size_t n)
{
	if (n > m->hdr.len - m->off)
		return -1;
	memcpy(p, m->payload + m->off, n);
	m->off += n;
	return 0;
}

int
ipc_get_u8(struct ipc_msg *m, uint8_t *v)
{
	return ipc_get(m, v, sizeof(*v));
}

int
ipc_get_u32(struct ipc_msg *m, uint32_t *v)
{
	return ipc_get(m, v, sizeof(*v));
}

int
ipc_get_u64(struct ipc_msg *m, uint64_t *v)
{
	return ipc_get(m, v, sizeof(*v));
}

int
ipc_get_bytes(struct ipc_msg *m, const void **p, size_t *n)
{
	uint32_t len;
	size_t save = m->off;

	if (ipc_get_u32(m, &len) == -1)
		return -1;
	if (len > m->hdr.len - m->off) {
		m->off = save;
		return -1;
	}
	*p = m->payload + m->off;
	*n = len;
	m->off += len;
	return 0;
}

int
ipc_get_str(struct ipc_msg *m, char *out, size_t outsz)
{
	const void *p;
	size_t n, save = m->off;

	if (ipc_get_bytes(m, &p, &n) == -1)
		return -1;
	if (n >= outsz || memchr(p, '\0', n) != NULL) {
		m->off = save;
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
ipc_get_sockaddr(struct ipc_msg *m, struct sockaddr_storage *ss, socklen_t *len)
{
	const void *p;
	size_t n, save = m->off;
	sa_family_t fam;

	if (ipc_get_bytes(m, &p, &n) == -1)
		return -1;
	if (n < sizeof(fam))
		goto bad;
	memcpy(&fam, p, sizeof(fam));
	if (!(fam == AF_INET && n == sizeof(struct sockaddr_in)) &&
	    !(fam == AF_INET6 && n == sizeof(struct sockaddr_in6)))
		goto bad;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, p, n);
	*len = (socklen_t)n;
	return 0;
bad:
	m->off = save;
	return -1;
}

int
ipc_get_end(const struct ipc_msg *m)
{
	return m->off == m->hdr.len ? 0 : -1;
}

int
ipc_send(int sock, const struct sockaddr_un *to, enum ipc_type type,
         const char *slot, uint64_t conn_id, const struct ipc_wbuf *w, int fd)
{
	struct ipc_hdr hdr;
	struct iovec iov[2];
	struct msghdr mh;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	size_t plen = w ? w->len : 0;
	ssize_t n;

	if ((w && w->overflow) || plen > IPC_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = (uint16_t)type;
	hdr.version = IPC_VERSION;
	hdr.len = (uint32_t)plen;
	hdr.conn_id = conn_id;
	snprintf(hdr.slot, sizeof(hdr.slot), "%s", slot ? slot : "");

	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = w ? w->buf : NULL;
	iov[1].iov_len = plen;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = (void *)to;
	mh.msg_namelen = to ? sizeof(*to) : 0;
	mh.msg_iov = iov;
	mh.msg_iovlen = plen ? 2 : 1;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(hdr) + plen) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Close every descriptor a control message brought; returns the first one
 * (and closes the rest) when keep is set, else -1. */
static int
ipc_take_fds(struct msghdr *mh, int keep)
{
	int first = -1;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
	     c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
			if (keep && first == -1)
				first = fd;
			else
				close(fd);
		}
	}
	return first;
}

/* Check one received datagram of n bytes; 0 if good, else -1 with why. */
static int
ipc_check(const struct ipc_hdr *hdr, size_t n, int flags, int nfd,
          const char **why)
{
	if (flags & MSG_TRUNC) {
		*why = "message larger than the limit";
		return -1;
	}
	if (flags & MSG_CTRUNC) {
		*why = "descriptors truncated";
		return -1;
	}
	if (n < sizeof(*hdr)) {
		*why = "short header";
		return -1;
	}
	if (hdr->version != IPC_VERSION) {
		*why = "wrong catalogue version";
		return -1;
	}
	if (hdr->len > IPC_MAX_PAYLOAD) {
		*why = "length beyond the limit";
		return -1;
	}
	if (hdr->len != n - sizeof(*hdr)) {
		*why = "length does not match what came";
		return -1;
	}
	if (hdr->type == IPC_NONE || hdr->type >= IPC__COUNT) {
		*why = "unknown type";
		return -1;
	}
	if (nfd > 0 && !ipc_type_takes_fd(hdr->type)) {
		*why = "unexpected descriptor";
		return -1;
	}
	if (hdr->slot[sizeof(hdr->slot) - 1] != '\0') {
		*why = "bad sender slot";
		return -1;
	}
	return 0;
}

static int
ipc_count_fds(struct msghdr *mh)
{
	int n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
	     c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			n += (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	return n;
}

int
ipc_recv(int sock, void *buf, size_t bufsz, struct ipc_msg *m)
{
	for (;;) {
		struct iovec iov = {buf, bufsz};
		struct msghdr mh;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(4 * sizeof(int))];
		} cm;
		struct ipc_hdr hdr;
		const char *why = NULL;
		ssize_t n;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			log_warn("ipc: recvmsg");
			return -1;
		}
		if (n == 0 && mh.msg_controllen == 0) {
			/* SOCK_SEQPACKET: the peer closed. (An empty
			 * datagram has no header: dropped below.) */
			int type = 0;
			socklen_t tl = sizeof(type);

			if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) ==
			        0 &&
			    type == SOCK_SEQPACKET)
				return -1;
		}
		memset(&hdr, 0, sizeof(hdr));
		memcpy(&hdr, buf,
		       (size_t)n < sizeof(hdr) ? (size_t)n : sizeof(hdr));
		if ((size_t)n > bufsz - 1 && !(mh.msg_flags & MSG_TRUNC))
			mh.msg_flags |= MSG_TRUNC; /* no room to tell */
		if (ipc_check(&hdr, (size_t)n, mh.msg_flags, ipc_count_fds(&mh),
		              &why) == -1) {
			ipc_take_fds(&mh, 0);
			hdr.slot[sizeof(hdr.slot) - 1] = '\0';
			log_warnx("ipc: dropped a message (type %u %s, %zd "
			          "bytes, from \"%s\"): %s",
			          hdr.type, ipc_type_name(hdr.type), n,
			          hdr.slot, why);
			continue;
		}
		m->hdr = hdr;
		m->payload = (const unsigned char *)buf + sizeof(hdr);
		m->off = 0;
		m->fd = ipc_take_fds(&mh, 1);
		return 1;
	}
}

int
ipc_dispatch(ipc_handler_fn *const table[IPC__COUNT], void *arg,
             struct ipc_msg *m)
{
	int r = -1;

	if (m->hdr.type >= IPC__COUNT || table[m->hdr.type] == NULL) {
		log_warnx("ipc: BUG: unexpected %s from %s, dropped",
		          ipc_type_name(m->hdr.type), m->hdr.slot);
	} else if ((r = table[m->hdr.type](arg, m)) == -1) {
		log_warnx("ipc: malformed %s from %s (%u bytes; expected: %s), "
		          "dropped",
		          ipc_type_name(m->hdr.type), m->hdr.slot, m->hdr.len,
		          ipc_type_payload(m->hdr.type));
	}
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
	return r;
}

int
ipc_slot_addr(struct sockaddr_un *sun, const char *run_dir, const char *slot)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s.sock",
	             run_dir, slot);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path))
		return -1;
	return 0;
}
