#!/bin/bash
# The WAL file is kept, and truncated by the checkpointer once idle. With
# the checkpointer stopped (SIGSTOP), a burst of REGISTERs takes the WAL to
# the workers' in-line bound (DB_WAL_MAX_FRAMES, 65,536 frames): the UDP
# worker checkpoints in-line and the WAL starts over, but its file stays
# larger than DB_WAL_SIZE_LIMIT (64 MiB; before, the worker's next commit
# truncated it to that limit). Once the checkpointer runs again and the
# workers are idle for a few seconds, it truncates the file (log line) and
# every binding is in the database.
. "$(dirname "$0")/lib.sh"

afd_start afd.log_level=debug

c0=$(worker_pid c0)
[ -n "$c0" ] || fail "no checkpointer among: $(ps_afd)"
wal_bytes() { stat -c %s "$AFD_DB-wal" 2>/dev/null || echo 0; }
LIMIT=$((64 * 1024 * 1024))

FROM_USER='u$BRANCH' req REGISTER "sip:$DOMAIN" 'Contact: <sip:u$BRANCH@127.0.0.1:5099>' "Expires: 600" >"$TMP/reg.sip"
N=20000 # some 4 frames a REGISTER sent one by one: 80,000
kill -STOP "$c0"
for ((i = 0; i < N; i++)); do echo "$TMP/reg.sip"; done |
	sip -i -s -w $((5000 * SCALE)) >"$TMP/b.out" 2>"$TMP/b.err"
size=$(wal_bytes)
kill -CONT "$c0"
assert_eq $N "$(grep -c '^SIP/2.0 200 ' "$TMP/b.out")" "200s to the burst"
wait_log 'udp worker: info: db: the WAL has [0-9]+ frames .*checkpoint in-line' 1
say "WAL file after the burst: $size bytes"
[ "$size" -gt "$LIMIT" ] || fail "the WAL file was cut to $size bytes (<= $LIMIT) by a worker"
# Idle: the checkpointer's timer sees the WAL unchanged for 3 ticks (1 s).
wait_for "log_has 'db checkpointer: debug: WAL file truncated \\([0-9]+ bytes, idle\\)'" $((8 * SCALE)) ||
	fail "the idle checkpointer did not truncate the WAL file ($(wal_bytes) bytes)"
grep -E 'WAL file truncated' "$AFD_LOG" | tail -n 1
assert_eq 0 "$(wal_bytes)" "WAL file size once idle"
assert_eq $N "$(sql "SELECT count(*) FROM registrations")" "bindings"
assert_alive "the checkpointer was stopped"

afd_stop
assert_eq 0 "$AFD_RC" "exit status"
assert_eq $N "$(sql "SELECT count(*) FROM registrations")" "bindings after the stop"
assert_eq ok "$(sql "PRAGMA integrity_check")" "integrity_check"
