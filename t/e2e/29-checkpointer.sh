#!/bin/bash
# The checkpointer (c0, "afd: db checkpointer"): it has its title, its
# workers row and its socket; after a burst of REGISTERs the UDP worker
# kicks it and it copies the WAL into the database file (its log lines),
# the WAL starts over instead of growing, and no worker had to checkpoint
# in-line. kill -9 of the checkpointer in the middle of a burst: replaced
# at once (log, ps, workers row), every REGISTER answered 200, every
# binding there, the database intact.
. "$(dirname "$0")/lib.sh"

afd_start afd.log_level=debug

c0=$(worker_pid c0)
[ -n "$c0" ] || fail "no checkpointer among: $(ps_afd)"
assert_match "^ *$c0 +afd: db checkpointer\$" "$(ps_afd)" "the checkpointer's title"
# (the row says "starting" until c0 has opened its database: slow under valgrind)
wait_for "[ \"\$(sql \"SELECT kind, state, pid FROM workers WHERE slot = 'c0'\")\" = 'checkpointer|idle|$c0' ]" 5 ||
	fail "c0's row: $(sql "SELECT * FROM workers WHERE slot = 'c0'")"
[ -S "$AFD_RUN/c0.sock" ] || fail "no $AFD_RUN/c0.sock"

# wal_frames: the WAL file's size in 4 KiB pages.
wal_frames() {
	local sz
	sz=$(stat -c %s "$AFD_DB-wal" 2>/dev/null) || sz=0
	echo $(( sz > 32 ? (sz - 32) / 4120 : 0 ))
}

# burst N OUT: N REGISTERs of new AORs, one after the other on one socket
# ($BRANCH is fresh for every send, so is the user).
FROM_USER='u$BRANCH' req REGISTER "sip:$DOMAIN" 'Contact: <sip:u$BRANCH@127.0.0.1:5099>' "Expires: 600" >"$TMP/reg.sip"
burst() {
	local i
	for ((i = 0; i < $1; i++)); do echo "$TMP/reg.sip"; done |
		sip -i -s -w $(( 5000 * SCALE )) >"$2" 2>"$2.err"
}

# The first burst takes the WAL past DB_WAL_RESTART_FRAMES (32,768
# frames: some 48,000 frames in all, about 4 a REGISTER sent one by one);
# the second, with the checkpointer killed, is shorter. (Under valgrind
# the 1 s timer's passes keep up with a burst, and the WAL starts over
# without the worker's copy: 6,000 show it as well.)
N1=12000
[ "${VALGRIND:-}" = 1 ] && N1=6000
N=6000
burst $N1 "$TMP/b1.out"
assert_eq $N1 "$(grep -c '^SIP/2.0 200 ' "$TMP/b1.out")" "200s to the first burst"
assert_eq $N1 "$(sql "SELECT count(*) FROM registrations")" "bindings after the first burst"
# Under valgrind afd answers some 50 times slower: a burst never takes the
# WAL to the kick threshold between two of the checkpointer's 1 s timed
# passes, so there the checkpoints to look for are the timed ones (the
# kick itself is covered by the unit tests of schema/db.c).
if [ "${VALGRIND:-}" = 1 ]; then
	CK='(kick|timer)'
else
	CK=kick
	wait_log 'db checkpointer: debug: checkpoint \(kick' 3
	# (a pass that found another checkpoint running, the UDP worker's own
	# catch-up after CKPT_DONE, says "busy" and "-1 of -1": it copied
	# nothing and the next kick or tick does the work; not counted here)
	kicked=$(grep -E 'db checkpointer: debug: checkpoint \(kick' "$AFD_LOG" | grep -v ', busy)')
	say "checkpoints on kicks: $(echo "$kicked" | wc -l)"
	echo "$kicked" | tail -n 3
	# Each was kicked at 1000 frames or more and copied most of them (a
	# worker's transaction under way may hold back the last few); most copied
	# every frame they saw.
	echo "$kicked" | awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "of") {
			n++; if ($(i+2) < 1000 || $i < $(i+2) * 0.9) bad = 1; if ($i == $(i+2)) all++ } }
		END { exit bad || all * 2 < n }' || fail "a kicked checkpoint ran early or copied too little"
fi
assert_no_match 'checkpoint in-line' "$(cat "$AFD_LOG")" "the log (no worker checkpointed in-line)"
# The WAL started over (the checkpointer's CKPT_DONE once it held 32,768
# frames, then the UDP worker's own short checkpoint) instead of growing
# through the whole burst (some 48,000 frames) to the in-line bound
# (65,536): a checkpoint saw fewer frames than the one before. (All of
# them, kicked or timed: under valgrind the burst is so slow that the 1 s
# timer does most of the work and few kicks happen.)
grep -E 'db checkpointer: debug: checkpoint \((kick|timer)' "$AFD_LOG" | grep -v ', busy)' | awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "of") { if ($(i+2) < last) drop = 1; last = $(i+2) } }
	END { exit !drop }' || fail "the WAL did not start over"
frames=$(wal_frames)
say "WAL file: $frames frames after $N1 REGISTERs"
assert_le "$frames" 48000 "WAL frames"

# kill -9 in the middle of a burst, of a checkpointer that has lived more
# than a second (a younger one is replaced after a back-off).
wait_for "[ \$(ps -o etimes= -p $c0) -ge 2 ]" 3 || fail "checkpointer $c0 gone"
log_mark
burst $N "$TMP/b2.out" &
bpid=$!
E2E_PIDS="$E2E_PIDS $bpid"
wait_for "log_since 'db checkpointer: debug: checkpoint \\($CK'" 5 || fail "no kicked checkpoint in the second burst"
kill -9 "$c0"
# (its exit status says nothing more than the count below, and sipsend -i
# has a leak report under ASan that makes it non-zero)
wait "$bpid"
assert_eq $N "$(grep -c '^SIP/2.0 200 ' "$TMP/b2.out")" "200s to the burst with the checkpointer killed"
wait_for "log_new | grep -E 'db checkpointer c0 \\(pid $c0\\) killed by signal 9.*replacing it now'" 2 || {
	log_new | grep -v 'debug: checkpoint'
	fail "no log line of the master about c0 (pid $c0) killed and replaced"
}
new=$(worker_pid c0)
[ -n "$new" ] && [ "$new" != "$c0" ] || fail "checkpointer pid $c0 -> '$new'"
wait_for "[ \"\$(sql \"SELECT pid || ' ' || restarts FROM workers WHERE slot = 'c0'\")\" = '$new 1' ]" 3 ||
	fail "c0's row: $(sql "SELECT * FROM workers WHERE slot = 'c0'")"
say "checkpointer $c0 killed, replaced by $new"
assert_alive "the checkpointer was killed"
assert_eq $((N1 + N)) "$(sql "SELECT count(*) FROM registrations")" "bindings after the second burst"
assert_eq ok "$(sql "PRAGMA integrity_check")" "integrity_check"
# The replacement takes over: a new burst is checkpointed by it.
log_mark
burst 2000 "$TMP/b3.out"
assert_eq 2000 "$(grep -c '^SIP/2.0 200 ' "$TMP/b3.out")" "200s to the third burst"
wait_for "log_new | grep -qE 'afd\\[$new\\] db checkpointer: debug: checkpoint \\($CK'" 3 ||
	fail "the replacement $new did not checkpoint on a kick"

afd_stop
assert_eq 0 "$AFD_RC" "exit status"
assert_eq $((N1 + N + 2000)) "$(sql "SELECT count(*) FROM registrations")" "bindings after the stop"
assert_eq ok "$(sql "PRAGMA integrity_check")" "integrity_check after the stop"
