/*
 * workers/ckpt.c: the checkpointer (slot c0, "afd: db checkpointer"), after
 * PostgreSQL's. It copies the pages of SQLite's WAL into the database file
 * (a PASSIVE checkpoint), so that no worker's loop stalls doing it inside a
 * COMMIT: SQLite's automatic checkpoint is replaced by a WAL hook on every
 * worker connection (schema/db.h) that sends this process IPC_CKPT_KICK
 * when the WAL passes DB_WAL_KICK_FRAMES. Kicks that arrive together make
 * one checkpoint: PASSIVE passes back to back until the tail committed
 * meanwhile is short; and when the WAL has grown to DB_WAL_RESTART_FRAMES,
 * IPC_CKPT_DONE to the kickers, which copy that tail themselves between
 * two transactions so that the WAL starts over (see db_checkpoint in
 * schema/db.h). A timer (CKPT_TIMER_MS) checkpoints
 * too, so a WAL that stays below the threshold still reaches the database
 * file; and once the WAL has stayed unchanged and copied for CKPT_IDLE_TICKS
 * timer ticks, it truncates a WAL file larger than DB_WAL_SIZE_LIMIT
 * (db_wal_truncate: the workers' connections never do, so that no commit
 * pays for an ftruncate or for growing the file again).
 *
 * It runs no SIP service and serves no client; it takes the common worker
 * life of worker.c (control channel, workers row, sibling socket c0.sock,
 * SIGTERM), at the priority CKPT_NICE (worker.h says why 0). A checkpoint
 * is safe to interrupt (kill -9): SQLite starts over from the WAL, which
 * is kept until a checkpoint completes; committed data is never lost.
 * While it is down the workers' hooks checkpoint in-line past
 * DB_WAL_MAX_FRAMES.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/uvh.h"
#include "schema/db.h"
#include "workers/worker.h"

#define CKPT_TIMER_MS 1000
#define CKPT_PASSES 4
#define CKPT_TAIL 32   /* frames */
#define CKPT_KICKERS 8 /* remembered kickers (u0 and a few tN) */
#define CKPT_IDLE_TICKS 3

struct ckpt {
	struct worker *w;
	uv_timer_t *soon; /* 0 ms: after this turn's kicks */
	uv_timer_t *tick; /* every CKPT_TIMER_MS */
	int kicks;        /* kicks since the last checkpoint */
	int last_copied;  /* frames in the file after the last one */
	int last_frames;  /* the WAL's frames then */
	int idle;         /* timer ticks that found the WAL unchanged */
	char kickers[CKPT_KICKERS][8]; /* slots that kicked since */
	int nkickers;
	unsigned long runs;
};

ipc_handler_fn *const ckpt_ctl_handlers[IPC__COUNT] = {NULL};

/* Tell every worker that kicked (CKPT_DONE), see schema/db.h.
 * Best-effort, not through the send queue: like the kick it answers it is
 * a hint; a worker that misses one only copies its tail at the next. */
static void
ckpt_done(struct ckpt *ck, int frames, int copied)
{
	struct worker *w = ck->w;
	struct sockaddr_un sun;
	unsigned char buf[16];
	struct ipc_wbuf wb;

	for (int i = 0; i < ck->nkickers; i++) {
		if (ipc_slot_addr(&sun, w->conf->run_dir, ck->kickers[i]) == -1)
			continue;
		ipc_wbuf_init(&wb, buf, sizeof(buf));
		ipc_put_u32(&wb, (uint32_t)frames);
		ipc_put_u32(&wb, (uint32_t)copied);
		if (ipc_send(w->sib_fd, &sun, IPC_CKPT_DONE, w->slot, 0, &wb,
		             -1) == -1)
			log_debug("ipc: CKPT_DONE to %s: %s", ck->kickers[i],
			          strerror(errno));
	}
	ck->nkickers = 0;
}

/*
 * Checkpoint; why: "kick", "timer" or "start". PASSIVE passes back to
 * back: each copies what the workers committed during the last, so the
 * tail shrinks; stop when a pass had at most CKPT_TAIL frames to copy (or
 * after CKPT_PASSES), then let the kickers copy the rest (CKPT_DONE): the
 * less is left, the shorter their pause.
 */
static void
ckpt_run(struct ckpt *ck, const char *why)
{
	uint64_t t0 = uv_hrtime();
	int frames, copied, kicks = ck->kicks, r, pass, prev = 0;

	ck->kicks = 0;
	for (pass = 1;; pass++) {
		r = db_checkpoint(ck->w->db, &frames, &copied);
		if (r == -1)
			return;
		ck->runs++;
		if (r != 0 || frames <= 0 || copied < frames ||
		    frames - prev <= CKPT_TAIL || pass == CKPT_PASSES)
			break;
		prev = copied;
	}
	if (r == 0 && frames >= DB_WAL_RESTART_FRAMES)
		ckpt_done(ck, frames, copied);
	/* The timer's checkpoint of an unchanged WAL says nothing new. */
	if (kicks > 0 || copied != ck->last_copied)
		log_debug(
		    "checkpoint (%s, %d kicks, %d passes%s): %d of %d WAL "
		    "frames in the database file, %.1f ms",
		    why, kicks, pass, r == 1 ? ", busy" : "", copied, frames,
		    (double)(uv_hrtime() - t0) / 1e6);
	if (kicks == 0 && r == 0 && frames == ck->last_frames &&
	    copied == frames)
		ck->idle++;
	else
		ck->idle = 0;
	ck->last_copied = copied;
	ck->last_frames = frames;
}

static void
ckpt_on_soon(uv_timer_t *t)
{
	ckpt_run(t->data, "kick");
}

/* The timer: checkpoint; truncate the WAL file once the workers have
 * been idle for CKPT_IDLE_TICKS ticks (once per idle spell). */
static void
ckpt_on_tick(uv_timer_t *t)
{
	struct ckpt *ck = t->data;
	uint64_t t0;
	long long size;

	ckpt_run(ck, "timer");
	if (ck->idle != CKPT_IDLE_TICKS)
		return;
	t0 = uv_hrtime();
	if (db_wal_truncate(ck->w->db, &size) == 0)
		log_debug("WAL file truncated (%lld bytes, idle), %.1f ms",
		          size, (double)(uv_hrtime() - t0) / 1e6);
}

/* CKPT_KICK: a worker's WAL is large. Several in one turn of the loop
 * make one checkpoint (the 0 ms timer runs after the turn's I/O). */
static int
ckpt_on_kick(void *arg, struct ipc_msg *m)
{
	struct worker *w = arg;
	struct ckpt *ck = w->priv;
	uint32_t frames;
	int i;

	if (ipc_get_u32(m, &frames) == -1 || ipc_get_end(m) == -1)
		return -1;
	/* A worker's slot ("u0", "t3"): it names the socket CKPT_DONE goes
	 * to, so nothing else. */
	if (m->hdr.slot[0] < 'a' || m->hdr.slot[0] > 'z' ||
	    m->hdr.slot[1] == '\0' ||
	    strspn(m->hdr.slot + 1, "0123456789") != strlen(m->hdr.slot + 1))
		return -1;
	log_trace("kick from %s: %u frames", m->hdr.slot, frames);
	for (i = 0; i < ck->nkickers; i++)
		if (strcmp(ck->kickers[i], m->hdr.slot) == 0)
			break;
	if (i == ck->nkickers && i < CKPT_KICKERS)
		snprintf(ck->kickers[ck->nkickers++], sizeof(ck->kickers[0]),
		         "%s", m->hdr.slot);
	if (ck->kicks++ == 0)
		uv_timer_start(ck->soon, ckpt_on_soon, 0, 0);
	return 0;
}

ipc_handler_fn *const ckpt_sib_handlers[IPC__COUNT] = {
    [IPC_CKPT_KICK] = ckpt_on_kick,
};

static void
ckpt_stop(struct worker *w)
{
	struct ckpt *ck = w->priv;

	uvh_close(ck->soon);
	ck->soon = NULL;
	uvh_close(ck->tick);
	ck->tick = NULL;
	log_debug("%lu checkpoints", ck->runs);
}

int
ckpt_start(struct worker *w)
{
	struct ckpt *ck;

	if ((ck = talloc_zero(w, struct ckpt)) == NULL)
		return -1;
	ck->w = w;
	ck->last_copied = -1;
	w->priv = ck;
	w->stop = ckpt_stop;
	if ((ck->soon = uvh_new(ck, uv_timer_t)) == NULL)
		return -1;
	uv_timer_init(&w->loop, ck->soon); /* cannot fail */
	if ((ck->tick = uvh_new(ck, uv_timer_t)) == NULL)
		return -1;
	uv_timer_init(&w->loop, ck->tick);
	ck->soon->data = ck;
	ck->tick->data = ck;
	uv_timer_start(ck->tick, ckpt_on_tick, CKPT_TIMER_MS, CKPT_TIMER_MS);
	/* What the WAL holds from before (a predecessor killed mid-way). */
	ckpt_run(ck, "start");
	return 0;
}
