/*
 * workers/ping.h: afd's OPTIONS pings of registered contacts ([registrar]
 * ping_interval, ping_remove_after), as Kamailio's nathelper does for NAT
 * keep-alive and dead-phone detection.
 *
 * The UDP worker runs them (from its sweeper): every binding gets an
 * OPTIONS of afd's own every ping_interval seconds, a client transaction
 * whose branch names the UDP worker's slot. A binding registered over UDP
 * is pinged at its source address, retransmitted on Timer E; one
 * registered over TCP is pinged on its own connection, by the worker that
 * owns it (IPC SIP_SEND), and its answer comes back to the UDP worker's
 * transaction (IPC SIP_FORWARD). Any final answer from the phone counts as
 * answered (it is alive); no final answer within Timer F (32 s) counts as
 * unanswered. The binding's row records both (ping_ok_at, ping_failures);
 * after ping_remove_after unanswered pings in a row the binding is removed
 * (reason "deactivated" for the reg event: the phone, if alive, should
 * register again).
 *
 * Restarts: a ping is recorded in flight (branch, time) and committed
 * before it leaves. An answer that reaches a restarted UDP worker finds no
 * transaction in memory, and is matched to its binding by branch
 * (ping_orphan); at its start the worker sends again the pings that were
 * in flight (same branch, same bytes) and counts those older than Timer F
 * as unanswered.
 */
#ifndef AFD_PING_H
#define AFD_PING_H

#include <time.h>

#include <talloc.h>

#include "sip/sip.h"

struct sipd;
struct ping;

/* The pings of service sd (its database connection db). NULL when out of
 * memory. */
struct ping *ping_new(TALLOC_CTX *ctx, struct sipd *sd, struct sqlite3 *db);

/* Send the pings due at now (inside a batch); on the first call, take
 * over the pings a predecessor left in flight. Returns the number sent,
 * or -1 on a database error (logged). */
int ping_tick(struct ping *p, time_t now);

/* A response of this worker's branch that no transaction in memory owns:
 * 1 when it answered a ping in flight (recorded), 0 otherwise. */
int ping_orphan(struct ping *p, const struct sip_msg *resp, time_t now);

#endif
