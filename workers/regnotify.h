/*
 * workers/regnotify.h: the reg-event service glued to the SIP core: the
 * SUBSCRIBE service of the method table (any worker), the registrar's unit
 * hook that records "a NOTIFY is owed" (any worker), and the one notifier
 * (the UDP worker) that sends the NOTIFYs from the database. The pure
 * parts are workers/regevent.h (checks, NOTIFY text, queue of one
 * subscription), sip/reginfo.h (the document) and schema/db_sub.h (rows).
 *
 * How a change reaches the notifier, even when a worker dies right after
 * its commit:
 *
 *   1. Whoever changes a binding (a REGISTER over UDP or TCP, the
 *      sweeper's expiry, a ping's removal, the network de-registration)
 *      does it in a unit of work of the registrar; the registrar calls
 *      regn's unit hook INSIDE that unit, which writes, in the same
 *      transaction, the contact's event with a copy of the binding
 *      (reg_sub_events) for every active subscription watching the AOR
 *      (its implicit set included) and sets their pending to 2 ("a NOTIFY
 *      is owed"). A SUBSCRIBE (new, refresh, unsubscribe) sets pending 2
 *      the same way. The change and the debt commit together or not at
 *      all.
 *   2. After the commit the worker kicks the notifier (IPC REGEV_KICK to
 *      the UDP worker's slot, after the batch's answers, so a SUBSCRIBE's
 *      200 leaves before its first NOTIFY); the notifier itself takes
 *      them in its own batch's transaction. It also looks on its 500 ms
 *      sweep, so a kick lost with its sender costs at most that. Every
 *      NOTIFY leaves after its batch's answers (regn_flush).
 *   3. The notifier reads the rows with pending 2 and, for each whose
 *      queue (regev_q) has nothing in flight, takes the next version and
 *      CSeq (pending 1, committed before sending), builds the full-state
 *      document from the current bindings and the owed events, and sends
 *      the NOTIFY as a client transaction (sipd_request). A change while
 *      one is in flight stays pending 2 and goes in the next NOTIFY
 *      (coalesced). The answer clears pending (unless 2 again) and the
 *      events it carried; 481/408/489 delete the subscription; the answer
 *      to a final NOTIFY deletes it too.
 *   4. A notifier that starts (kill -9, restart of afd) sends again, with
 *      the same version, CSeq and Via branch (derived from them), the
 *      NOTIFY that was in flight (pending 1, no last_status), so the
 *      watcher sees no version skipped or repeated, then goes on.
 *
 * NOTIFYs go back the way the SUBSCRIBE came: over its TCP connection
 * (through the worker owning it) while that connection is served, else to
 * the SUBSCRIBE's source address over UDP.
 */
#ifndef AFD_REGNOTIFY_H
#define AFD_REGNOTIFY_H

#include <time.h>

#include <talloc.h>

#include "sip/sip.h"

struct sipd;
struct regn;

/* The slot of the notifier (the UDP worker). */
#define REGN_NOTIFIER_SLOT "u0"

/* The reg-event service of sd (working in sd's transaction object txn,
 * schema/db_txn.h); it installs the
 * registrar's unit hook. The notifier part runs when sd's slot is
 * REGN_NOTIFIER_SLOT. NULL when out of memory or SQLite failed. */
struct db_txn;
struct regn *regn_new(TALLOC_CTX *ctx, struct sipd *sd, struct db_txn *txn);

/* Does req (with a To tag) belong to a reg-event subscription of afd
 * (its Call-ID, From tag as the watcher's, To tag as afd's)? 1, 0, or -1
 * when the look-up failed (logged). */
int regn_dialog(struct regn *rn, const struct sip_msg *req);

/* 1 once when a NOTIFY became owed in this batch (the caller kicks the
 * notifier after the batch's answers), else 0. */
int regn_kick_take(struct regn *rn);

/* 1 when this worker is the notifier (it runs regn_run() itself, in its
 * batch's transaction, instead of kicking over IPC). */
int regn_is_notifier(const struct regn *rn);

/* Send the NOTIFYs whose version and CSeq were committed (sipd calls it
 * after the batch's answers, so a SUBSCRIBE's 200 leaves before its
 * NOTIFY). Returns how many. */
int regn_flush(struct regn *rn);

/* The notifier's work (inside a batch): on the first call, take over what
 * a predecessor left in flight; then send the NOTIFYs owed. Returns the
 * number started, or -1 (logged). Nothing on a worker that is not the
 * notifier. */
int regn_run(struct regn *rn, time_t now);

/* The notifier's sweep (inside a batch, every 500 ms): expired
 * subscriptions end (final NOTIFY, reason timeout), finished ones go, then
 * regn_run(). */
int regn_tick(struct regn *rn, time_t now);

#endif
