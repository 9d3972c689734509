/*
 * sip/txn.h: the SIP transaction layer, RFC 3261 section 17 with the
 * changes of RFC 6026 (the INVITE "Accepted" state on both sides).
 *
 * A pure module: it knows nothing of processes, sockets, libuv or the
 * database. Its owner (a worker) hands it parsed messages and the current
 * time, "now", in milliseconds of any monotonic clock; the layer answers
 * through the callbacks of struct txn_cb. The owner arms one timer for
 * txn_next_deadline() and calls txn_run_timers() when it fires, so unit
 * tests drive the whole layer with a fake clock.
 *
 * The four state machines:
 *   ICT  INVITE client:      Calling -> Proceeding -> Completed | Accepted
 *   NICT non-INVITE client:  Trying -> Proceeding -> Completed
 *   IST  INVITE server:      Proceeding -> Completed -> Confirmed | Accepted
 *   NIST non-INVITE server:  Trying -> Proceeding -> Completed
 * and all end in Terminated, where the transaction is freed at once (after
 * cb->on_terminated). Timers (T1, T2, T4 from struct txn_timers):
 *   A  ICT retransmit, T1 doubling without bound  (unreliable only)
 *   B  ICT Calling timeout, 64*T1                 -> on_timeout
 *   D  ICT Completed wait, 32 s (0 reliable)
 *   M  ICT Accepted wait, 64*T1 (RFC 6026)
 *   E  NICT retransmit, T1 doubling capped at T2; T2 in Proceeding
 *				(unreliable only)
 *   F  NICT timeout, 64*T1                        -> on_timeout
 *   K  NICT Completed wait, T4 (0 reliable)
 *   G  IST final response retransmit, T1 doubling capped at T2
 *				(unreliable only)
 *   H  IST wait for ACK, 64*T1                    -> on_timeout
 *   I  IST Confirmed wait, T4 (0 reliable)
 *   L  IST Accepted wait, 64*T1 (RFC 6026)
 *   J  NIST Completed wait, 64*T1 (0 reliable)
 * A timer that fires late restarts from the "now" it fired at, so a stalled
 * loop does not cause a burst of retransmissions.
 * A "0 (reliable)" wait ends the transaction at once, inside the call that
 * made the transition.
 *
 * Choices the RFCs leave open, made here:
 * - The IST does not send 100 Trying by itself: the TU answers every INVITE
 *   with 100 (or another response) at once, through txn_server_respond().
 * - IST Accepted: a retransmitted INVITE is absorbed and nothing is sent
 *   (the TU retransmits its 2xx on its own timer, RFC 6026 8.7); a 2xx the
 *   TU gives in Accepted is sent; an ACK with the INVITE's branch is
 *   returned to the TU as TXN_RX_ACK_2XX (RFC 6026: "ACK / to TU").
 * - ICT Accepted: every 2xx (first and retransmissions, from any fork) goes
 *   to on_response; other responses are dropped.
 * - Matching (17.2.3) for a server request whose top Via branch starts with
 *   the magic cookie "z9hG4bK": branch (case-sensitive), sent-by (host
 *   caseless; absent port is 5060, 5061 for TLS) and method, where ACK
 *   matches INVITE. A branch without the cookie (RFC 2543 peer) is replaced
 *   by a key built from the Request-URI, the From tag, Call-ID, CSeq number
 *   and the whole top Via; the To tag is left out so that the ACK of a
 *   non-2xx, which carries the response's To tag, still matches its INVITE.
 * - Client matching (17.1.3): top Via branch of the response and CSeq
 *   method.
 * - CANCEL is a transaction of its own (matched with method CANCEL);
 *   txn_cancel_target() finds the INVITE it cancels (RFC 3261 9.2).
 *
 * Memory: every transaction is a talloc child of its table; freeing the
 * table frees them all (calling on_terminated for each first). The layer
 * copies every buffer it is given; messages passed in are only read during
 * the call.
 *
 * Callbacks may start new transactions and may respond on other server
 * transactions; they must not free the table. Free the table before
 * whatever its callbacks use, since its destructor calls on_terminated.
 *
 * Messages given to txn_client_recv() and txn_server_recv() must come
 * from sip_parse() (the core headers are then present).
 */
#ifndef AFD_SIP_TXN_H
#define AFD_SIP_TXN_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>

#include "sip/sip.h"

struct txn;
struct txn_table;

/* Timer base values in ms; 0 in a field means the RFC default. */
struct txn_timers {
	uint64_t t1; /* RTT estimate, 500 */
	uint64_t t2; /* max non-INVITE retransmit interval, 4000 */
	uint64_t t4; /* max time a message stays in the network, 5000 */
};

#define TXN_T1_DEFAULT 500
#define TXN_T2_DEFAULT 4000
#define TXN_T4_DEFAULT 5000
#define TXN_TD_UNRELIABLE 32000 /* Timer D on unreliable transports */

/* Callbacks given by the owner; arg is the table's owner argument. */
struct txn_cb {
	/*
	 * Transmit buf (the client request, its retransmissions, the ACK of
	 * a non-2xx; a server response and its retransmissions). Returns 0, or
	 * -1 on a transport error: a client transaction then reports
	 * on_transport_error and terminates (17.1.4); a server transaction
	 * does the same (17.2.4).
	 */
	int (*send)(void *arg, struct txn *t, const char *buf, size_t len);
	/* Client: a response for the TU (1xx, the final, 2xx
	 * retransmissions in ICT Accepted). resp is valid during the call. */
	void (*on_response)(void *arg, struct txn *t,
	                    const struct sip_msg *resp);
	/* Client Timer B/F (the TU acts as on a 408), server Timer H (no
	 * ACK came for the final response). The transaction then ends. */
	void (*on_timeout)(void *arg, struct txn *t);
	/* send() failed; may be NULL (then on_timeout is called). */
	void (*on_transport_error)(void *arg, struct txn *t);
	/* The transaction is about to be freed: release what txn_data()
	 * points to. Called exactly once for every transaction. */
	void (*on_terminated)(void *arg, struct txn *t);
};

enum txn_kind { TXN_ICT, TXN_NICT, TXN_IST, TXN_NIST };

enum txn_state {
	TXN_CALLING,    /* ICT */
	TXN_TRYING,     /* NICT, NIST */
	TXN_PROCEEDING, /* all */
	TXN_COMPLETED,  /* all */
	TXN_CONFIRMED,  /* IST */
	TXN_ACCEPTED,   /* ICT, IST (RFC 6026) */
	TXN_TERMINATED  /* seen only inside on_terminated */
};

/*
 * A new table with the given timer values (NULL: defaults) and callbacks
 * (copied; send and on_terminated are required), under ctx. NULL on
 * failure.
 */
struct txn_table *txn_table_new(TALLOC_CTX *ctx, const struct txn_timers *tm,
                                const struct txn_cb *cb, void *arg);

/* Live transactions in the table. */
/* With no transaction left, shrink the hash table and the timer heap back
 * to their first size (they only grow while in use). */
void txn_table_compact(struct txn_table *tab);

size_t txn_count(const struct txn_table *tab);

/* The earliest timer deadline of any transaction, UINT64_MAX when none. */
uint64_t txn_next_deadline(const struct txn_table *tab);

/* Fire every timer due at now (deadline <= now), earliest first. */
void txn_run_timers(struct txn_table *tab, uint64_t now);

/*
 * Client: start a transaction for the request in buf (copied), whose top
 * Via carries branch and whose method is method ("INVITE" starts an ICT,
 * anything else a NICT; ACK is never a transaction). reliable: the
 * transport is TCP/TLS/SCTP (no retransmissions, Timer D/K zero). The
 * request is sent through cb->send at once. For an INVITE the request is
 * parsed and kept, to build the ACK of a non-2xx final response.
 * Returns the transaction, or NULL (bad arguments, an INVITE that does not
 * parse, a transaction with the same branch and method exists, out of
 * memory, or the first send failed — then on_transport_error and
 * on_terminated have been called).
 */
struct txn *txn_client_new(struct txn_table *tab, const char *branch,
                           const char *method, int reliable, const char *buf,
                           size_t len, uint64_t now);

/*
 * Client: a response came in. Returns 1 when it matched a client
 * transaction (it is then handled: passed to on_response or absorbed),
 * 0 when it matched none (a stray response: the caller drops it, or a
 * proxy forwards it statelessly).
 */
int txn_client_recv(struct txn_table *tab, const struct sip_msg *resp,
                    uint64_t now);

/* What txn_server_recv() did with a request. */
enum txn_rx {
	TXN_RX_ERROR = -1,    /* no usable top Via, or out of memory */
	TXN_RX_NEW = 0,       /* new server transaction in *out: the TU
	                         must handle the request and respond */
	TXN_RX_RETRANS,       /* a retransmission, absorbed (the last
	                         response, if any, was sent again) */
	TXN_RX_ACK,           /* ACK of a non-2xx final, absorbed */
	TXN_RX_ACK_2XX,       /* ACK matching an IST in Accepted: *out
	                         is that transaction; the TU/dialog
	                         layer handles the ACK */
	TXN_RX_UNMATCHED_ACK, /* ACK matching no transaction (the ACK of
	                         a 2xx, end-to-end): the TU handles it */
};

/*
 * Server: a request came in over a transport (reliable or not). Matches it
 * against the server transactions (see the top of this file) and either
 * absorbs it or creates a new transaction. *out (may be NULL) is set for
 * TXN_RX_NEW and TXN_RX_ACK_2XX, NULL otherwise. A new NIST that the TU
 * has not answered finally within 64*T1 ends (afd's Timer N: the
 * client's Timer F has fired by then).
 */
enum txn_rx txn_server_recv(struct txn_table *tab, const struct sip_msg *req,
                            int reliable, uint64_t now, struct txn **out);

/*
 * Server: the TU's response (status 100-699, buf copied) on transaction t:
 * stored as the last response and sent. IST: 1xx keeps Proceeding, 2xx ->
 * Accepted (Timer L), 3xx-6xx -> Completed (Timers G, H). NIST: 1xx ->
 * Proceeding, final -> Completed (Timer J; a reliable transport ends the
 * transaction at once, so t must not be used after a final response unless
 * the caller knows the transport is unreliable). In IST Accepted only a
 * 2xx is accepted (the TU's retransmission). Returns 0, or -1 when the
 * response is not allowed in the current state (nothing sent) or on a
 * transport error (then the transaction has ended).
 */
int txn_server_respond(struct txn *t, int status, const char *buf, size_t len,
                       uint64_t now);

/* The server transaction req would match, without changing anything (ACK
 * finds its INVITE). NULL when none. */
struct txn *txn_server_match(struct txn_table *tab, const struct sip_msg *req);

/* The INVITE server transaction a CANCEL request cancels (same branch key
 * and sent-by, RFC 3261 9.2), or NULL. */
struct txn *txn_cancel_target(struct txn_table *tab,
                              const struct sip_msg *cancel);

/* The client transaction with this branch and method, or NULL. */
struct txn *txn_find_client(struct txn_table *tab, const char *branch,
                            const char *method);

/* Accessors. */
void *txn_data(const struct txn *t);
void txn_set_data(struct txn *t, void *data);
enum txn_kind txn_kind(const struct txn *t);
enum txn_state txn_state(const struct txn *t);
const char *txn_state_name(enum txn_state s);
const char *txn_method(const struct txn *t);
const char *txn_branch(const struct txn *t); /* the match key's branch */
int txn_last_status(const struct txn *t);    /* last response sent/received */
int txn_reliable(const struct txn *t);

#endif
