/*
 * workers/b2bua.h: calls between registered phones, with afd in the middle
 * as a back-to-back user agent (RFC 3261 UAS on the caller's leg "A", UAC
 * on the callee's leg "B"; RFC 3262 PRACK, RFC 3311 UPDATE, RFC 3428
 * MESSAGE relayed between the legs).
 *
 * The worker that receives the caller's INVITE owns the call: its slot is
 * the dialogs row's owner_slot, its Via branches name it, so the callee's
 * answers reach it wherever they arrive (sipd forwards responses by
 * branch), and requests inside the call that arrive at another worker (an
 * ACK over UDP for a call over TCP, the callee's BYE) are handed to it by
 * b2bua_owner() (a look-up of the dialogs row by Call-ID).
 *
 * The call lives in its dialogs row (schema/db_dialog.h), not in memory:
 * every event loads the row, decides, saves it in a unit of work of the
 * batch's transaction, and the messages that follow from the decision
 * leave in the after-commit callback, so the row always says at least as
 * much as the phones were told. What lives only in memory (the
 * transactions) is rebuilt or replaced from the row: answers of the callee
 * that reach a replacement worker are handled from the row
 * (b2bua_orphan), a B-leg INVITE recorded but perhaps never sent is sent
 * again, and ring timeouts are re-armed from the row's ring_deadline.
 */
#ifndef AFD_B2BUA_H
#define AFD_B2BUA_H

#include <stdint.h>
#include <time.h>

#include <talloc.h>

#include "sip/sip.h"

struct sipd;
struct sipd_req;
struct sip_peer;
struct db_txn;
struct b2bua;

/* The B2BUA of service sd, working in dbt (its connection). NULL when out
 * of memory (logged). */
struct b2bua *b2bua_new(TALLOC_CTX *ctx, struct sipd *sd, struct db_txn *dbt);

/* The service of the method table for INVITE, CANCEL, BYE, PRACK,
 * UPDATE, INFO and MESSAGE (workers/method.h). */
int b2bua_serve(struct sipd *sd, struct sipd_req *rq);

/* The slot of the worker owning the call req belongs to (an in-dialog
 * request, ACK or CANCEL), into slot[8]: 1, or 0 when req belongs to no
 * call afd knows (or is an initial request). */
int b2bua_owner(struct b2bua *b, const struct sip_msg *req, char slot[8]);

/* An ACK that no server transaction absorbed (the ACK of a 2xx): relayed
 * to the other leg. */
void b2bua_ack(struct b2bua *b, const struct sip_msg *req,
               const struct sip_peer *from);

/* A response no client transaction in memory owns: 1 when it belongs to a
 * call (handled from its row: relayed, ACKed), 0 otherwise. */
int b2bua_orphan(struct b2bua *b, const struct sip_msg *resp,
                 const struct sip_peer *from);

/* The worker started (sipd_started): restarts > 0, a replacement, takes
 * over its slot's calls at its first check; restarts == 0 (afd has just
 * started) takes over none, and the UDP worker ends every call left from
 * before (end_reason 'afd restarted': the TCP connections they used are
 * gone). */
void b2bua_started(struct b2bua *b, int restarts);

/* Instead of b2bua_started: a lean worker's (workers/worker.h), whose
 * slot holds no call to take over nor to look at (never used, or its
 * last process was recycled, waiting for nothing): no first check. (One
 * that ran after the worker's first INVITE would re-arm that call's ring
 * deadline from whole seconds, up to a second early.) Before any call. */
void b2bua_started_lean(struct b2bua *b);

/* Ring timeouts and, once after start, the recovery of this slot's calls
 * (sipd_timers). */
void b2bua_timers(struct b2bua *b, uint64_t now_ms);
uint64_t b2bua_next_deadline(const struct b2bua *b);

/* The sweeper (UDP worker, every 500 ms): end calls nobody can end any
 * more (silent past [calls] max_idle, stuck in terminating). Returns the
 * number ended, or -1. */
int b2bua_sweep(struct b2bua *b, time_t now);

/* The final response to relay when every fork of a call failed, RFC 3261
 * 16.7 step 6: the index into status[n] of the first 6xx; else of the
 * lowest class (3xx before 4xx before 5xx), in 4xx 401, 407, 415, 420
 * or 484 before the others, else the first of that class. -1 when none
 * is a final failure (300-699). */
int b2bua_best_final(const int *status, int n);

#endif
