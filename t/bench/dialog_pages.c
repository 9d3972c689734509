/*
 * t/bench/dialog_pages.c: the database pages a call writes through the
 * B2BUA's data layer (schema/db_dialog.h), no network. N calls go
 * through the stages a basic call commits (insert 'trying' with both
 * INVITEs; 'ringing'; 'answered'; 'confirmed'; after HOLD turns the BYE:
 * 'terminating' and its relay row; then 'ended', the calls row, the relay
 * row deleted), K new calls per turn, one transaction per turn as the TCP
 * worker's batches group them under load (K = 1: one stage per
 * transaction). The WAL is never checkpointed during the run, so its
 * frame count is the pages written. Prints WAL frames per call and per
 * transaction, and the time per call. With DP_KEEP set in the
 * environment the WAL is kept (its frame headers name the pages). With
 * DP_ANSWER=BYTES the caller is over UDP: the 2xx sent to it (BYTES long)
 * is kept in `dialog_answers` from 'answered' until 'confirmed' (its ACK),
 * as the B2BUA does for such a caller.
 *
 *   build/t/bench/dialog_pages [N [K [HOLD]]]   defaults 20000 1 4
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "schema/db.h"
#include "schema/db_dialog.h"
#include "util/log.h"

#define DP_STAGES 6 /* trying, ringing, answered, confirmed, BYE, ended */

static double
dp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A request of len bytes (an INVITE's size), under ctx. */
static char *
dp_request(TALLOC_CTX *ctx, const char *first, size_t len)
{
	char *s = talloc_array(ctx, char, len + 1);

	if (s == NULL)
		return NULL;
	memset(s, 'x', len);
	memcpy(s, first, strlen(first));
	s[len] = '\0';
	return s;
}

/* DP_ANSWER: the 2xx kept for a caller over UDP (NULL: over TCP). */
static char *dp_answer;

/* Move call i (a row of calls[]) on by one stage k (0 .. DP_STAGES-1).
 * 0 or -1. */
static int
dp_stage(struct db_dialog_ctx *dc, TALLOC_CTX *mem, struct db_dialog *d, int i,
         int k, time_t now)
{
	char branch[64];

	snprintf(branch, sizeof(branch), "z9hG4bK-t1-bye-%d", i);
	switch (k) {
	case 0:
		return db_dialog_insert(dc, d);
	case 1:
		d->stage = "ringing";
		d->b_to_tag = "callee-tag-0123456789";
		d->b_contact = "sip:bob@127.0.0.1:5080;transport=udp";
		return db_dialog_save(dc, d, now);
	case 2:
		d->stage = "answered";
		d->answered_at = now;
		if (dp_answer != NULL && db_answer_put(dc, d->id, dp_answer,
		                                       strlen(dp_answer)) == -1)
			return -1;
		return db_dialog_save(dc, d, now);
	case 3:
		d->stage = "confirmed";
		if (dp_answer != NULL && db_answer_drop(dc, d->id) == -1)
			return -1;
		return db_dialog_save(dc, d, now);
	case 4:
		d->stage = "terminating";
		d->a_cseq++;
		d->b_cseq++;
		if (db_dialog_save(dc, d, now) == -1)
			return -1;
		return db_relay_insert(dc, d->id, branch, "BYE",
		                       "BYE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		                       "Via: SIP/2.0/TCP 127.0.0.1:5070\r\n",
		                       d->a_peer, now);
	default:
		if (db_relay_delete(dc, branch) == -1)
			return -1;
		(void)mem;
		return db_dialog_end(dc, d, "caller hung up", now);
	}
}

int
main(int argc, char **argv)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct db_dialog_ctx *dc;
	struct db_dialog *calls;
	struct conf c;
	sqlite3 *db;
	char dir[] = "/tmp/afd-dialog-pages-XXXXXX", cmd[256];
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	int k = argc > 2 ? atoi(argv[2]) : 1;
	int hold = argc > 3 ? atoi(argv[3]) : 4;
	int frames = 0, copied = 0, turns = 0, rc = 1;
	double t0;
	/* the stage a call is at, turns after it started */
	int at[DP_STAGES];

	if (n <= 0 || k <= 0 || hold < 0 || mkdtemp(dir) == NULL) {
		fprintf(stderr, "usage: dialog_pages [N [K [HOLD]]]\n");
		return 2;
	}
	for (int s = 0; s < DP_STAGES; s++)
		at[s] = s < 4 ? s : s + hold;
	log_level = LOG_L_ERROR;
	conf_defaults(&c);
	snprintf(c.database, sizeof(c.database), "%s/afd.db", dir);
	if ((db = db_open(&c)) == NULL || db_migrate(db) == -1 ||
	    (dc = db_dialog_new(mem, db)) == NULL)
		goto done;
	/* the WAL keeps every frame of the run */
	sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL);
	db_checkpoint(db, &frames, &copied);
	if (getenv("DP_ANSWER") != NULL && atoi(getenv("DP_ANSWER")) > 0)
		dp_answer = dp_request(mem, "SIP/2.0 200 OK",
		                       (size_t)atoi(getenv("DP_ANSWER")));
	calls = talloc_zero_array(mem, struct db_dialog, n);
	if (calls == NULL)
		goto done;
	for (int i = 0; i < n; i++) {
		struct db_dialog *d = &calls[i];
		char *a = talloc_asprintf(mem, "a-%d-0123456789@127.0.0.1", i);
		char *b = talloc_asprintf(mem, "b-%d-0123456789abcdef", i);
		d->a_call_id = a;
		d->a_from_tag = "caller-tag-0123456789";
		d->a_to_tag = "afd-tag-0123456789abcdef";
		d->a_cseq = 1;
		d->a_contact = "sip:alice@127.0.0.1:5070;transport=tcp";
		d->a_peer = dp_answer != NULL ? "udp 127.0.0.1:5070"
		                              : "tcp 127.0.0.1:5070 t1 17";
		d->a_request = dp_request(mem, "INVITE sip:bob@x SIP/2.0", 620);
		d->b_call_id = b;
		d->b_from_tag = "afd-b-tag-0123456789abcdef";
		d->b_cseq = 1;
		d->b_inv_cseq = 1;
		d->b_peer = "udp 127.0.0.1:5080";
		d->b_branch = "z9hG4bK-t1-0011223344556677";
		d->b_request = dp_request(mem,
		                          "INVITE sip:bob@127.0.0.1:5080 "
		                          "SIP/2.0",
		                          760);
		d->caller = "sip:alice@x";
		d->callee = "sip:bob@x";
		d->stage = "trying";
		d->owner_slot = "t1";
		d->created_at = d->updated_at = 1000;
		d->ring_deadline = 1060;
	}
	t0 = dp_now();
	/* turn t: the calls started at turn t - at[s] take stage s */
	for (int t = 0; (t - at[DP_STAGES - 1]) * k < n; t++, turns++) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK)
			goto done;
		for (int s = 0; s < DP_STAGES; s++) {
			int first = (t - at[s]) * k;
			for (int i = first; i >= 0 && i < first + k && i < n;
			     i++)
				if (dp_stage(dc, mem, &calls[i], i, s,
				             1000 + t / 100) == -1)
					goto done;
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto done;
	}
	t0 = dp_now() - t0;
	if (getenv("DP_KEEP") != NULL) {
		/* the WAL as the run left it, for a look at its pages */
		snprintf(cmd, sizeof(cmd),
		         "cp %s/afd.db %s.db; cp %s/afd.db-wal %s.db-wal", dir,
		         dir, dir, dir);
		if (system(cmd) != 0)
			goto done;
		printf("kept as %s.db\n", dir);
	}
	if (db_checkpoint(db, &frames, &copied) == -1)
		goto done;
	printf("%d calls, %d new per transaction, hold %d%s: %d WAL frames, "
	       "%.2f per call, %.2f per transaction; %.1f us per call\n",
	       n, k, hold, dp_answer != NULL ? ", caller over UDP" : "", frames,
	       (double)frames / n, (double)frames / turns, t0 * 1e6 / n);
	rc = 0;
done:
	if (rc != 0)
		fprintf(stderr, "dialog_pages: %s\n",
		        db ? sqlite3_errmsg(db) : "cannot open");
	if (db != NULL)
		db_close(db);
	talloc_free(mem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
