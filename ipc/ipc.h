/*
 * ipc/ipc.h: the one catalogue of messages between afd's processes (after
 * OpenBSD imsg and OpenSMTPD mproc).
 *
 * Two carriers, one format:
 *  - master <-> worker: a SOCK_SEQPACKET socketpair per worker, made before
 *    fork(); it also carries descriptors (SCM_RIGHTS);
 *  - worker <-> worker: each worker binds a SOCK_DGRAM Unix socket at
 *    <run_dir>/<slot>.sock; the address belongs to the slot, not the pid.
 * Every message is one datagram: a fixed header, then the payload, written
 * and read field by field with the ipc_put_* / ipc_get_* helpers (native byte
 * order: both ends are the same program on the same host). Never send a
 * struct that holds pointers. Bump IPC_VERSION when the catalogue changes.
 */
#ifndef AFD_IPC_H
#define AFD_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* 2: the catalogue became one X-macro list (IPC_TYPES); no type moved,
 * but a peer built from another list must not be trusted. */
/* 3: REGEV_KICK. */
/* 4: RECYCLE. */
#define IPC_VERSION 4
/* The largest payload: a SIP message of the largest max_message plus its
 * addresses. conf.c keeps max_message at most IPC_MAX_SIP. */
#define IPC_MAX_SIP (128 * 1024)
#define IPC_MAX_PAYLOAD (IPC_MAX_SIP + 1024)
#define IPC_MAX_MSG (sizeof(struct ipc_hdr) + IPC_MAX_PAYLOAD)

/*
 * The catalogue: every message type, grouped by receiver, in one list.
 * X(NAME, FD, PAYLOAD): IPC_NAME in enum ipc_type, FD 1 when the type may
 * carry a passed descriptor (ipc_recv() drops a descriptor on any other
 * type), PAYLOAD the payload's fields in order (hdr = carried in the
 * header), which ipc_type_payload() returns for logs. ipc_type_name() and
 * the descriptor check are generated from this list; nothing else names
 * the types. Append within a group; bump IPC_VERSION on any change.
 */
#define IPC_TYPES(X)                                                           \
	/* master -> tcp worker */                                             \
	X(CONN_NEW, 1, "hdr conn_id; u8 resumed, sockaddr peer; + the fd")     \
	/* worker -> master */                                                 \
	X(READY, 0, "u32 pid, u32 restarts: started, ready for work")          \
	X(STATE, 0,                                                            \
	  "str state (\"idle\"|\"busy\"; a TCP worker also \"active\": its "   \
	  "connection sent a complete message, \"bound\": a registration "     \
	  "binding uses it, these two at most once a second when "             \
	  "unchanged), str serving (\"\" or \"addr:port\"); hdr conn_id of "   \
	  "what it serves")                                                    \
	X(CONN_CLOSED, 0, "hdr conn_id; (empty): the connection is gone")      \
	X(RECYCLE, 0,                                                          \
	  "(empty): a TCP worker whose connection closed waits for nothing "   \
	  "(no transaction, no timer): replace it with a fresh process in "    \
	  "its slot (SIGTERM, then it exits PROC_EXIT_RECYCLED)")              \
	/* worker -> worker (over <run_dir>/<slot>.sock) */                    \
	X(SIP_FORWARD, 0,                                                      \
	  "u32 transport, sockaddr from, bytes sip: a message received "       \
	  "elsewhere, for this worker to handle; hdr conn_id of the flow it "  \
	  "came on (TCP)")                                                     \
	X(SIP_SEND, 0,                                                         \
	  "u32 transport, sockaddr to, bytes sip: send this on the "           \
	  "receiver's transport; hdr conn_id names the TCP connection")        \
	/* worker <-> checkpointer (over <run_dir>/c0.sock, <slot>.sock) */    \
	X(CKPT_KICK, 0,                                                        \
	  "u32 frames: the sender's commit left this many frames in the "      \
	  "WAL; checkpoint soon (rate-limited by the sender, coalesced by "    \
	  "the receiver)")                                                     \
	X(CKPT_DONE, 0,                                                        \
	  "u32 frames, u32 copied: checkpointer -> the worker that kicked: "   \
	  "done; copy the rest yourself between two transactions so that "     \
	  "the WAL restarts (schema/db.h, db_checkpoint)")                     \
	/* worker -> the reg-event notifier (the UDP worker, u0.sock) */       \
	X(REGEV_KICK, 0,                                                       \
	  "(empty): a NOTIFY became owed in the sender's commit; send what "   \
	  "reg_subscriptions owes (workers/regnotify.h)")

enum ipc_type {
	IPC_NONE = 0,
#define IPC_ENUM_(name, fd, payload) IPC_##name,
	IPC_TYPES(IPC_ENUM_)
#undef IPC_ENUM_
	    IPC__COUNT
};

/* The fixed header; len counts the payload bytes that follow. */
struct ipc_hdr {
	uint16_t type;    /* enum ipc_type */
	uint16_t version; /* IPC_VERSION */
	uint32_t len;     /* payload bytes */
	uint64_t conn_id; /* the TCP connection concerned, or 0 */
	char slot[8];     /* the sender's slot ("master", "u0", "t3") */
};

/* The name of a type for logs ("CONN_NEW"; "?" when unknown). */
const char *ipc_type_name(unsigned type);
/* The payload's fields of a type, from IPC_TYPES ("" when unknown). */
const char *ipc_type_payload(unsigned type);
/* 1 when the type may carry a passed descriptor, else 0. */
int ipc_type_takes_fd(unsigned type);

/* A payload being written into a caller's buffer. A put that does not fit
 * sets overflow; ipc_send() refuses an overflowed payload. */
struct ipc_wbuf {
	unsigned char *buf;
	size_t cap, len;
	int overflow;
};

void ipc_wbuf_init(struct ipc_wbuf *w, void *buf, size_t cap);
void ipc_put_u8(struct ipc_wbuf *w, uint8_t v);
void ipc_put_u32(struct ipc_wbuf *w, uint32_t v);
void ipc_put_u64(struct ipc_wbuf *w, uint64_t v);
void ipc_put_bytes(struct ipc_wbuf *w, const void *p, size_t n); /* u32 n + n */
void ipc_put_str(struct ipc_wbuf *w, const char *s);             /* bytes */
void ipc_put_sockaddr(struct ipc_wbuf *w, const struct sockaddr *sa,
                      socklen_t len); /* bytes of an AF_INET/AF_INET6 addr */

/* A received message. payload points into the receive buffer; fd is a
 * passed descriptor or -1 (whoever keeps it sets fd to -1). */
struct ipc_msg {
	struct ipc_hdr hdr;
	const unsigned char *payload;
	size_t off; /* read cursor in payload */
	int fd;
};

/* Readers: 0, or -1 when the payload has too few bytes or the value is not
 * valid (then the message is malformed). */
int ipc_get_u8(struct ipc_msg *m, uint8_t *v);
int ipc_get_u32(struct ipc_msg *m, uint32_t *v);
int ipc_get_u64(struct ipc_msg *m, uint64_t *v);
/* Zero-copy: *p points into the payload. */
int ipc_get_bytes(struct ipc_msg *m, const void **p, size_t *n);
/* A copy NUL-terminated into out; -1 when longer than outsz-1 or it holds
 * a NUL. */
int ipc_get_str(struct ipc_msg *m, char *out, size_t outsz);
/* An AF_INET or AF_INET6 address of the right length. */
int ipc_get_sockaddr(struct ipc_msg *m, struct sockaddr_storage *ss,
                     socklen_t *len);
/* 0 when every payload byte was read, -1 when some are left over. */
int ipc_get_end(const struct ipc_msg *m);

/*
 * Send one message on sock (to: the receiver's address for a SOCK_DGRAM
 * socket, NULL on a connected one), with payload w (NULL: empty) and a
 * descriptor to pass (fd, or -1). Never blocks (MSG_DONTWAIT).
 * Returns 0, or -1 with errno set (EAGAIN: the receiver is full; EPIPE:
 * it is gone; EMSGSIZE: payload overflowed or too large).
 */
int ipc_send(int sock, const struct sockaddr_un *to, enum ipc_type type,
             const char *slot, uint64_t conn_id, const struct ipc_wbuf *w,
             int fd);

/*
 * Receive and check one message from non-blocking sock into buf (at least
 * IPC_MAX_MSG + 1 bytes). A message that fails the checks (short header,
 * wrong version, length beyond IPC_MAX_PAYLOAD or not matching what came,
 * unknown type, truncated, a descriptor where none belongs) is logged and
 * dropped (its descriptors closed), and the next one is read.
 * Returns 1 with *m filled, 0 when nothing is waiting, -1 when the peer
 * closed the channel (SOCK_SEQPACKET end of file) or on a socket error.
 */
int ipc_recv(int sock, void *buf, size_t bufsz, struct ipc_msg *m);

/* A receiver's handler for one type: 0, or -1 when the payload is
 * malformed (dispatch logs and drops it). */
typedef int ipc_handler_fn(void *arg, struct ipc_msg *m);

/*
 * Call table[m->hdr.type] (a table of IPC__COUNT entries). A type with no
 * handler is a bug in a sibling: logged loudly and dropped. A descriptor
 * the handler did not keep is closed. Returns the handler's result, or -1.
 */
int ipc_dispatch(ipc_handler_fn *const table[IPC__COUNT], void *arg,
                 struct ipc_msg *m);

/* "<run_dir>/<slot>.sock" into sun; -1 when the path is too long. */
int ipc_slot_addr(struct sockaddr_un *sun, const char *run_dir,
                  const char *slot);

/*
 * A send queue (after OpenBSD imsg's msgbuf), so that no message is lost
 * because its receiver is slow or being replaced. One queue per sending
 * socket: the worker's sibling socket (many destinations, by address) or
 * a SOCK_SEQPACKET control channel (one destination, NULL). It takes time
 * ("now", milliseconds of any monotonic clock) and readiness from its
 * owner and knows nothing of the owner's event loop.
 *
 * ipc_outq_send() sends at once when nothing waits for that destination
 * and the socket takes it (no copy, no allocation: as cheap as
 * ipc_send()). Otherwise it copies the message (and dups its descriptor)
 * to the tail of that destination's FIFO, so order is kept:
 *  - EAGAIN (the receiver is full): on a connected socket the owner
 *    waits for writability; on a datagram socket to an address it retries
 *    after IPC_OUTQ_BUSY_MS (doubling while the receiver takes nothing,
 *    up to IPC_OUTQ_RETRY_MS), because Linux says "writable" to an
 *    unconnected sender whose receiver's queue is full (its limit is
 *    net.unix.max_dgram_qlen datagrams, 10 by default) and never wakes it;
 *  - ECONNREFUSED / ENOENT on a datagram socket (the slot's worker is
 *    dead, its replacement will bind the same path): retried every
 *    IPC_OUTQ_RETRY_MS for IPC_OUTQ_DEAD_MS, then dropped with one log
 *    line naming the slot, the types and the count;
 *  - EPIPE / ECONNREFUSED / ECONNRESET on a connected socket: the peer is
 *    gone for good: what waited is dropped with one log line, -1 EPIPE.
 * The owner is told what to wait for through its wait function, called
 * whenever that changes: writable (poll the socket for writability) and
 * at (call ipc_outq_flush() at this time; 0: no timer). It calls
 * ipc_outq_flush() when either comes.
 *
 * Memory: talloc, under the owner's context; freeing the queue closes
 * the descriptors it holds, silently (ipc_outq_drop() first to log).
 */
#define IPC_OUTQ_BUSY_MS 2   /* EAGAIN on a datagram socket: first retry */
#define IPC_OUTQ_RETRY_MS 50 /* a dead destination: retry every */
/* A dead destination's messages are kept this long: a killed worker is
 * replaced at once (PROC_BACKOFF_MIN_MS when it keeps dying), so 5 s
 * covers a replacement's start; a slot that stays down longer is down. */
#define IPC_OUTQ_DEAD_MS 5000
/* Bounds: beyond them a send is refused (-1, ENOBUFS), with one log line
 * per episode (it ends when that destination's queue empties). */
#define IPC_OUTQ_MAX_MSGS 4096                /* per destination */
#define IPC_OUTQ_MAX_BYTES (8 * 1024 * 1024)  /* per destination */
#define IPC_OUTQ_MAX_TOTAL (32 * 1024 * 1024) /* bytes, all destinations */

struct ipc_outq;

/* The owner's wait function: see above. */
typedef void ipc_outq_wait_fn(void *arg, int writable, uint64_t at);

/* A queue sending on sock as slot (the header's sender slot); peer names
 * the other end of a connected socket in logs ("master", "t3"; NULL for
 * a socket that sends to addresses, whose slot comes from the path);
 * wait and arg: the owner's. NULL when out of memory. Freed with
 * talloc_free(). */
struct ipc_outq *ipc_outq_new(void *ctx, int sock, const char *slot,
                              const char *peer, ipc_outq_wait_fn *wait,
                              void *arg);

/*
 * Send or queue one message (arguments as ipc_send(); the caller keeps
 * its fd, the queue holds a dup). Returns 0 when sent or queued; -1 with
 * errno when refused: ENOBUFS (a bound; logged once per episode), EPIPE
 * (a connected peer is gone), or what ipc_send() said (EMSGSIZE, ...).
 */
int ipc_outq_send(struct ipc_outq *q, const struct sockaddr_un *to,
                  enum ipc_type type, uint64_t conn_id,
                  const struct ipc_wbuf *w, int fd, uint64_t now);

/* Send what waits and the socket takes now; drop what waited too long.
 * Returns how many messages still wait. */
size_t ipc_outq_flush(struct ipc_outq *q, uint64_t now);

/* How many messages wait (all destinations). */
size_t ipc_outq_pending(const struct ipc_outq *q);

/* Drop every waiting message with one log line per destination ("why"
 * names the reason); returns how many were dropped. */
size_t ipc_outq_drop(struct ipc_outq *q, const char *why);

#endif
