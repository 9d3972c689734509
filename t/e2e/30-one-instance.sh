#!/bin/bash
# One afd per database and per run_dir. With afd running, a second afd on
# the same config, on the same database (another port and run_dir), on the
# same run_dir (another port and database) stops at once with one line
# naming the first one's pid; one on the same port (another database and
# run_dir) stops on the bind before it creates its database. The first
# one's workers table is untouched and it keeps answering. After a clean
# stop the locks are free again.
. "$(dirname "$0")/lib.sh"

afd_start
# every worker has written its row (a TCP spare may write it after the
# first OPTIONS is answered)
wait_for "[ \"\$(sql \"SELECT count(*) FROM workers WHERE slot IN ('u0', 't0', 't1') AND state = 'idle'\")\" = 3 ]" 5 ||
	fail "the workers rows: $(sql "SELECT slot, state FROM workers")"
sql "SELECT slot, pid, state FROM workers ORDER BY slot" >"$TMP/workers.before"
u0=$(sql "SELECT pid FROM workers WHERE slot = 'u0'")
[ -n "$u0" ] || fail "no u0 row"
assert_eq "$AFD_PID" "$(tr -d '\n' <"$AFD_RUN/afd.pid")" "pid in run_dir/afd.pid"
assert_eq "$AFD_PID" "$(tr -d '\n' <"$AFD_DB.lock")" "pid in the database's .lock"

# second NAME CONF: afd on CONF must exit non-zero within 5 s; its output
# (one error line) in OUT.
second() {
	local t0 rc
	t0=$(now_ms)
	OUT=$(timeout $(( 10 * SCALE )) "$AFD_BIN" -f "$2" 2>&1 </dev/null); rc=$?
	say "$1: exit $rc after $(( $(now_ms) - t0 )) ms: $OUT"
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "$1: the second afd exit status $rc"
	[ $(( $(now_ms) - t0 )) -le $(( 5000 * SCALE )) ] || fail "$1: took more than 5 s to give up"
	assert_eq 1 "$(printf '%s\n' "$OUT" | grep -c .)" "$1: lines of output"
	assert_match 'master: error: cannot start: ' "$OUT" "$1: an error-level line"
	# the first afd is untouched
	sql "SELECT slot, pid, state FROM workers ORDER BY slot" >"$TMP/workers.after"
	cmp -s "$TMP/workers.before" "$TMP/workers.after" ||
		fail "$1: the first afd's workers table changed: $(diff "$TMP/workers.before" "$TMP/workers.after")"
	assert_eq "$u0" "$(sql "SELECT pid FROM workers WHERE slot = 'u0'")" "$1: u0's pid"
	assert_alive "$1"
}

# conf_with FILE KEY=VALUE...: the running config with keys of [afd] changed.
conf_with() {
	local f=$1 kv
	shift
	cp "$AFD_CONF" "$f"
	for kv in "$@"; do
		sed -i "s|^${kv%%=*} = .*|${kv%%=*} = ${kv#*=}|" "$f"
	done
}

port2=$("$SIPSEND" -P)

second "same config" "$AFD_CONF"
assert_match "run_dir $AFD_RUN is in use by another afd \\(pid $AFD_PID\\b" "$OUT" "same config: names the pid"

conf_with "$TMP/db.conf" port="$port2" run_dir="$TMP/run2"
second "same database" "$TMP/db.conf"
assert_match "database $AFD_DB is in use by another afd \\(pid $AFD_PID\\b" "$OUT" "same database: names the pid"

conf_with "$TMP/run.conf" port="$port2" database="$TMP/other1/afd.db"
second "same run_dir" "$TMP/run.conf"
assert_match "run_dir $AFD_RUN is in use by another afd \\(pid $AFD_PID\\b" "$OUT" "same run_dir: names the pid"
[ -e "$TMP/other1/afd.db" ] && fail "same run_dir: the other database was created"

conf_with "$TMP/port.conf" database="$TMP/other2/afd.db" run_dir="$TMP/run3"
second "same port" "$TMP/port.conf"
assert_match "bind 127\\.0\\.0\\.1 port $AFD_PORT \\(udp\\): Address already in use" "$OUT" "same port: the bind"
[ -e "$TMP/other2/afd.db" ] && fail "same port: the other database was created"

# The lock is free again after a clean stop, and the pid files emptied.
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
assert_eq "" "$(cat "$AFD_RUN/afd.pid")" "afd.pid after the stop"
afd_start
# every worker has written its row (a TCP spare may write it after the
# first OPTIONS is answered)
wait_for "[ \"\$(sql \"SELECT count(*) FROM workers WHERE slot IN ('u0', 't0', 't1') AND state = 'idle'\")\" = 3 ]" 5 ||
	fail "the workers rows: $(sql "SELECT slot, state FROM workers")"
assert_eq "$AFD_PID" "$(tr -d '\n' <"$AFD_RUN/afd.pid")" "pid of the new afd"
afd_stop
