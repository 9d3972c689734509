/*
 * workers/sipd.h: the SIP service of a worker, independent of transport.
 *
 * The UDP worker and the TCP workers own their sockets and hand every
 * received message to sipd_handle(); sipd parses it, applies afd's policy
 * for bad input (400/483/501/405/420/513, or drop), answers OPTIONS, runs
 * the registrar, and queues what must be sent. The worker sends the queue.
 *
 * Group commit: the UDP worker wraps a burst of datagrams in
 * sipd_batch_begin()/sipd_batch_end(); every database change of the burst is
 * one transaction, and no answer of the burst leaves before it is committed
 * (if the commit fails, the answers that needed it become 500s). A TCP worker
 * wraps each message the same way.
 */
#ifndef AFD_SIPD_H
#define AFD_SIPD_H

#include <stdint.h>
#include <sys/socket.h>

#include <sqlite3.h>
#include <talloc.h>

#include "util/conf.h"
#include "sip/sip.h"

/* Where a message came from (or where an answer goes). */
struct sip_peer {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	enum sip_transport tp;
	char slot[8];	  /* TCP: the slot of the worker owning the flow ("t3") */
	uint64_t conn_id; /* TCP: the connection's id (unique per master) */
};

/* One message to send. buf is owned by the batch: valid until the next
 * sipd_batch_begin(). */
struct sipd_out {
	const char *buf;
	size_t len;
	struct sip_peer to; /* UDP: the destination; TCP: the connection */
};

struct sipd_stats {
	uint64_t received, answered, dropped, bad, registers;
	uint64_t responses; /* SIP responses received (dropped for now) */
};

struct sipd;
struct reg;

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

/* Commit the batch. Sets *out to the queued messages and returns their
 * count (0..n). The outputs stay valid until the next sipd_batch_begin(). */
int sipd_batch_end(struct sipd *sd, const struct sipd_out **out);

/* Periodic work (the UDP worker calls it every 500 ms): remove expired
 * bindings and subscriptions. Returns the number of rows removed. */
int sipd_sweep(struct sipd *sd);

const struct sipd_stats *sipd_stats(const struct sipd *sd);

/* The registrar of this service (for reg_set_removal_hook()). */
struct reg *sipd_reg(struct sipd *sd);

/* The service's own database connection (tests, later services). */
sqlite3 *sipd_db(struct sipd *sd);

/* "ip:port" ("[v6]:port") of a peer into buf; returns buf. */
const char *sipd_peer_str(const struct sip_peer *p, char *buf, size_t bufsz);

#endif
