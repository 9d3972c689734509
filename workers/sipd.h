/*
 * workers/sipd.h: a worker's SIP service, independent of transport: the
 * request pipeline, the transactions, and the services of the method
 * table (workers/method.h).
 *
 * The UDP worker and the TCP workers own their sockets and hand every
 * received message to sipd_handle(); sipd walks it through the pipeline:
 *
 *   parse -> checks -> route -> server transaction -> auth gate -> service
 *
 *   - parse and checks: afd's policy for bad input (400/416/483/501/405/
 *     420/513, or drop);
 *   - route: a response goes to the client transaction that owns it, here,
 *     or in the worker its top Via branch names (an SIPD_OUT_FORWARD
 *     output); requests go on;
 *   - the server transaction (sip/txn.h) absorbs retransmissions and
 *     replays the last answer;
 *   - the authentication gate (empty until authentication lands);
 *   - the method's service, which answers with sipd_reply().
 *
 * sipd queues what must be sent (answers, afd's own requests, their
 * retransmissions, messages for other workers); the worker sends the queue.
 *
 * Group commit: the UDP worker wraps a burst of datagrams in
 * sipd_batch_begin()/sipd_batch_end(); every database change of the burst is
 * one transaction (schema/db_txn.h), and no answer that depends on it leaves
 * before it is committed (if the commit fails, those answers become 500s).
 * A TCP worker wraps each message the same way; timers and IPC too.
 */
#ifndef AFD_SIPD_H
#define AFD_SIPD_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <talloc.h>

#include "sip/sip.h"
#include "util/conf.h"

/* Where a message came from (or where an answer goes). */
struct sip_peer {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	enum sip_transport tp;
	char slot[8]; /* TCP: the slot of the worker owning the flow ("t3") */
	uint64_t conn_id; /* TCP: the connection's id (unique per master) */
};

/* One message to send. buf is owned by the batch: valid until the next
 * sipd_batch_begin(). */
struct sipd_out {
	const char *buf;
	size_t len;
	struct sip_peer to; /* UDP: the destination; TCP: the connection */
	/* SIPD_OUT_FORWARD: not for the wire, for the worker in fwd_slot
	 * (IPC SIP_FORWARD); `to` is then where the message came from. */
	int kind;
	char fwd_slot[8];
};
#define SIPD_OUT_SEND 0
#define SIPD_OUT_FORWARD 1
/* SIPD_OUT_KICK: no bytes; tell the reg-event notifier in fwd_slot that a
 * NOTIFY became owed (IPC REGEV_KICK). Queued after the batch's answers. */
#define SIPD_OUT_KICK 2

struct sipd_stats {
	uint64_t received, answered, dropped, bad, registers;
	uint64_t responses; /* SIP responses received */
	uint64_t absorbed;  /* request retransmissions absorbed */
	uint64_t forwarded; /* responses handed to another worker */
	uint64_t unmatched; /* responses no transaction wanted */
};

struct sipd;
struct reg;
struct db_txn;
struct txn;
struct method;

/* What the authentication gate decided (workers/auth.h); strings in the
 * batch's memory, NULL when absent. */
struct sipd_auth {
	const char *impi;            /* who authenticated (NULL: [auth] mode
	                                none, or not behind the gate) */
	const char *impu;            /* the address of record (To) they may
	                                register */
	const char *integrity;       /* integrity-protected as sent */
	const char *security_client; /* Security-Client values (sec-agree) */
	/* the subscriber row read to authenticate (its impu and extra_impu
	 * columns as stored): the registrar's P-Associated-URI when impu
	 * is the address of record, without reading the row again */
	const char *row_impu, *row_extra_impu;
};

/* A request on its way through the pipeline, as its service sees it. */
struct sipd_req {
	const struct sip_msg *msg;
	struct sip_peer from;
	const struct method *m;
	struct txn *stx; /* its server transaction (NULL: none) */
	time_t now;
	struct sipd_auth auth; /* set by the authentication gate */
};

/* A worker's SIP service: opens its own database connection (conf's
 * database and durability) and prepares its statements. slot names the
 * worker ("u0", "t3"). NULL on failure (logged). Freed with talloc_free. */
struct sipd *sipd_new(TALLOC_CTX *ctx, const struct conf *c, const char *slot);

/* Start a batch: clears the previous batch's outputs. */
void sipd_batch_begin(struct sipd *sd);

/* Handle one received message (a whole datagram, or one message framed from
 * a stream; buf must stay valid until sipd_batch_end()). Queues the answers.
 * Returns 0, or -1 when the input is such that a stream connection must be
 * closed (never for UDP). */
int sipd_handle(struct sipd *sd, const char *buf, size_t len,
                const struct sip_peer *from);

/* A message another worker received and handed here (IPC SIP_FORWARD):
 * a response to one of this worker's client transactions, or a request
 * inside a call this worker owns (workers/b2bua.h). As sipd_handle(), but
 * never forwarded again. */
int sipd_handle_forwarded(struct sipd *sd, const char *buf, size_t len,
                          const struct sip_peer *from);

/* Commit the batch. Sets *out to the queued messages and returns their
 * count (0..n). The outputs stay valid until the next sipd_batch_begin(). */
int sipd_batch_end(struct sipd *sd, const struct sipd_out **out);

/* Run the transaction timers due at now_ms (a monotonic clock in ms, the
 * same as sipd_now_ms()); inside a batch. */
void sipd_timers(struct sipd *sd, uint64_t now_ms);

/* The earliest transaction deadline (ms, sipd_now_ms()'s clock), or
 * UINT64_MAX when none: the worker arms one timer for it. */
uint64_t sipd_next_deadline(const struct sipd *sd);

/* The monotonic clock of the transaction timers, in ms. */
uint64_t sipd_now_ms(void);

/* Periodic work (the UDP worker calls it every 500 ms, inside a batch):
 * remove expired bindings and subscriptions, send the pings that are due.
 * Returns the number of rows removed. */
int sipd_sweep(struct sipd *sd);

const struct sipd_stats *sipd_stats(const struct sipd *sd);

/* ---- for the services (workers/method.h) ---- */

/*
 * Answer rq: status (reason NULL: the standard phrase) with extra header
 * lines hdrs (CRLF-terminated, may be NULL). after_commit: the answer
 * reports a change of the batch's transaction; it leaves only after the
 * commit, and becomes 500 + Retry-After if the commit fails. The answer
 * goes through rq's server transaction. 0 or -1 (logged).
 */
int sipd_reply(struct sipd *sd, struct sipd_req *rq, int status,
               const char *reason, const char *hdrs, size_t hdrlen,
               int after_commit);

/* The batch's transaction, begun (BEGIN IMMEDIATE) for a service that
 * writes. NULL when it cannot begin (the write lock is held elsewhere, or
 * SQLite failed): the service answers 500 with Retry-After. */
struct db_txn *sipd_db_txn(struct sipd *sd);

/* The batch's memory: freed at the next sipd_batch_begin(). */
TALLOC_CTX *sipd_batch_mem(struct sipd *sd);

/* The service's configuration and slot. */
const struct conf *sipd_conf(const struct sipd *sd);
const char *sipd_slot(const struct sipd *sd);

/*
 * afd's own request (a client transaction): buf (len bytes, a complete
 * request whose top Via branch is `branch`, made by sipd_branch()) sent to
 * `to` (UDP address, or a TCP flow of some worker's slot), retransmitted
 * over UDP on Timers A/E. done(arg, status, resp) is called once: with the
 * final status (resp: the response) or with 408 and resp NULL when no
 * final answer came (Timer B/F). arg, when not NULL, is a talloc pointer
 * the transaction takes over and frees after done. 0 or -1 (logged; done
 * is not called, arg freed).
 */
typedef void sipd_done_fn(struct sipd *sd, void *arg, int status,
                          const struct sip_msg *resp);
int sipd_request(struct sipd *sd, const struct sip_peer *to, const char *branch,
                 const char *method, const char *buf, size_t len,
                 sipd_done_fn *done, void *arg);

/* As sipd_request, with flags: SIPD_REQ_EVERY: done is called for every
 * provisional response and every 2xx (the first and, for an INVITE, each
 * retransmission while the transaction waits in Accepted, RFC 6026: the
 * owner ACKs 2xx itself), then once more for a non-2xx final or a timeout
 * (408, resp NULL). arg is freed when the transaction ends. */
#define SIPD_REQ_EVERY 0x01
int sipd_request_ex(struct sipd *sd, const struct sip_peer *to,
                    const char *branch, const char *method, const char *buf,
                    size_t len, unsigned flags, sipd_done_fn *done, void *arg);

/* 1 when this worker has a client transaction for branch and method in
 * memory (it sent the request itself, since its start). */
int sipd_client_alive(struct sipd *sd, const char *branch, const char *method);

/* 1 when this worker's INVITE client transaction for branch is in memory
 * and has heard no provisional response yet (RFC 3261 9.1: its CANCEL
 * must wait for one); 0 otherwise (heard one, ended, or unknown here). */
int sipd_client_calling(struct sipd *sd, const char *branch);

/* Send buf (copied) to `to` outside any transaction (the ACK of a 2xx, a
 * stateless ACK). 0 or -1. */
int sipd_send(struct sipd *sd, const struct sip_peer *to, const char *buf,
              size_t len);

/*
 * Answer req (a request received earlier from `from`, parsed again from its
 * stored bytes, or still in memory) now: status and reason (NULL: the
 * standard phrase), extra header lines hdrs and body, with To tag to_tag
 * or, when NULL, afd's usual one (derived from the request, so the same
 * across restarts; the B2BUA gives each early dialog of a forked call a
 * tag of its own). It goes
 * through the request's server transaction when that is still in memory
 * (then a response its state does not allow is not sent: -1), else
 * straight where the request came from. Queued at once (not after the
 * batch's commit: the caller sends it from an after-commit callback when
 * it reports a change). 0 or -1.
 */
int sipd_respond(struct sipd *sd, const struct sip_msg *req,
                 const struct sip_peer *from, const char *to_tag, int status,
                 const char *reason, const char *hdrs, size_t hdrlen,
                 sip_str body);

/* The bytes sipd_respond sends for those arguments, under ctx, *len set:
 * the same arguments (a request's stored bytes, the same peer) give the
 * same bytes, in this worker or in its replacement. NULL when out of
 * memory. */
char *sipd_response(TALLOC_CTX *ctx, const struct sip_msg *req,
                    const struct sip_peer *from, const char *to_tag, int status,
                    const char *reason, const char *hdrs, size_t hdrlen,
                    sip_str body, size_t *len);

/* Send buf (len bytes, copied: an answer with status to req from
 * sipd_response, as built earlier or stored) the way sipd_respond does.
 * 0 or -1. */
int sipd_respond_buf(struct sipd *sd, const struct sip_msg *req,
                     const struct sip_peer *from, int status, const char *buf,
                     size_t len);

/* The To tag sipd puts in every answer to req (16 hex digits and NUL):
 * derived from its Call-ID and From tag, the same after a restart. */
void sipd_to_tag(const struct sip_msg *req, char tag[17]);

/* A new branch naming this worker's slot: "z9hG4bK-u0-<16 hex>" into
 * out (at least 40 bytes). */
void sipd_branch(const struct sipd *sd, char *out, size_t outsz);

/* The slot a branch names ("u0", "t3") into slot; 0, or -1 when the
 * branch is not one of afd's. */
int sipd_branch_slot(sip_str branch, char slot[8]);

/* Responses that reach this worker for a branch of its own that no
 * transaction in memory owns (the worker was restarted between the request
 * and the answer): handlers get a chance to recognise them from the
 * database. The ping service (workers/ping.c) is one. */
typedef int sipd_orphan_fn(struct sipd *sd, const struct sip_msg *resp);

/* The authentication gate of this service (workers/auth.h). */
struct auth *sipd_auth(struct sipd *sd);

/* The worker has started: restarts is how many workers of its slot came
 * before it since afd started (0: afd has just started). The B2BUA takes
 * over the calls of a replacement's slot, or ends those left from before
 * afd started (workers/b2bua.h). */
void sipd_started(struct sipd *sd, int restarts);

/* Instead of sipd_started, for a lean worker that has just made its SIP
 * service (workers/worker.h): its slot holds nothing to take over or look
 * at (b2bua_started_lean). */
void sipd_started_lean(struct sipd *sd);

/* The B2BUA of this service (workers/b2bua.h). */
struct b2bua *sipd_b2bua(struct sipd *sd);

/* The registrar of this service (for reg_set_removal_hook()). */
struct reg *sipd_reg(struct sipd *sd);

/* The reg-event service of this worker (workers/regnotify.h). */
struct regn;
struct regn *sipd_regn(struct sipd *sd);

/* The reg-event notifier was kicked (IPC REGEV_KICK; inside a batch):
 * send the NOTIFYs owed. */
void sipd_regev_kick(struct sipd *sd);

/* The To tag afd gives its answers to req (stable: derived from Call-ID
 * and From tag, 16 hex digits and a NUL into tag). */
void sipd_local_tag(const struct sip_msg *req, char tag[17]);

/* Give back what a quiet service holds (no batch open, no transaction
 * left: sipd_next_deadline() said none): the batch pool's pages and the
 * connection's page cache. The next batch starts them again. */
void sipd_release_memory(struct sipd *sd);

/* The service's own database connection (tests, the checkpoint hook). */
struct sqlite3 *sipd_db(struct sipd *sd);

/* "ip:port" ("[v6]:port") of a peer into buf; returns buf. */
const char *sipd_peer_str(const struct sip_peer *p, char *buf, size_t bufsz);

/* "ip:port" into a peer (UDP); 0 or -1. */
int sipd_peer_parse(struct sip_peer *p, const char *s);

#endif
