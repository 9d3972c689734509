#!/bin/bash
# The workers table matches ps: every live worker has its row (pid, slot,
# kind), every row that is not stopped names a live worker of this master;
# a replacement takes over its slot's row with restarts counted.
. "$(dirname "$0")/lib.sh"

afd_start workers.tcp_min_spare=2 workers.tcp_max=4

# ps_rows: "slot kind pid" of every worker, from the titles.
ps_rows() {
	ps_afd | awk '
		/afd: udp worker/ { print "u0 udp " $1 }
		/afd: db checkpointer/ { print "c0 checkpointer " $1 }
		/afd: tcp worker/ { for (i = 2; i < NF; i++)
			if ($i == "tcp" && $(i+1) == "worker") print "t" $(i+2) " tcp " $1 }' | sort
}
db_rows() { sql "SELECT slot, kind, pid FROM workers WHERE state <> 'stopped' ORDER BY slot" | tr '|' ' ' | sort; }
tables_agree() { [ "$(ps_rows)" = "$(db_rows)" ]; }

check() { # WHAT
	wait_for tables_agree 3 || {
		echo "ps:"; ps_rows; echo "workers table:"; db_rows
		sql -header "SELECT * FROM workers"
		fail "workers table and ps disagree ($1)"
	}
	say "$1: workers table = ps:"
	ps_rows
	assert_eq 1 "$(ps_rows | grep -c ' udp ')" "UDP workers ($1)"
	assert_eq 1 "$(ps_rows | grep -c '^c0 checkpointer ')" "checkpointers ($1)"
}

check "at start"
assert_eq 2 "$(sql "SELECT count(*) FROM workers WHERE kind = 'tcp' AND state = 'idle'")" "idle TCP rows"
sql "SELECT count(*) FROM workers WHERE started_at IS NULL OR started_at < strftime('%s','now') - 60" |
	grep -qx 0 || fail "workers rows without a recent started_at"

# A replacement takes over its slot's row.
old=$(worker_pid udp)
restarts=$(sql "SELECT restarts FROM workers WHERE slot = 'u0'")
kill -9 "$old"
wait_for "[ \"\$(sql \"SELECT pid FROM workers WHERE slot = 'u0'\")\" != $old ]" 3 || fail "u0 row still names $old"
check "after kill -9 of the UDP worker"
assert_eq $((restarts + 1)) "$(sql "SELECT restarts FROM workers WHERE slot = 'u0'")" "u0 restarts"

# The checkpointer's row too.
old=$(worker_pid c0)
kill -9 "$old"
wait_for "[ \"\$(sql \"SELECT pid FROM workers WHERE slot = 'c0'\")\" != $old ]" 3 || fail "c0 row still names $old"
check "after kill -9 of the checkpointer"
assert_eq 1 "$(sql "SELECT restarts FROM workers WHERE slot = 'c0'")" "c0 restarts"

# A busy TCP worker: its row says busy and serves our peer.
options_msg >"$TMP/opt.sip"
tcp_session a
assert_match '^#done 1' "$(tcp_send a "$TMP/opt.sip")" "OPTIONS over TCP"
check "with one connection open"
wait_for "[ \"\$(sql \"SELECT count(*) FROM workers WHERE state = 'busy' AND serving LIKE '%:$SESSION_LPORT_a'\")\" = 1 ]" 2 || {
	sql -header "SELECT * FROM workers"
	fail "no busy row serving 127.0.0.1:$SESSION_LPORT_a"
}
tcp_close a
check "after the connection closed"

afd_stop
assert_eq 0 "$AFD_RC" "exit status"
# After a clean stop no row claims a live worker.
assert_eq 0 "$(sql "SELECT count(*) FROM workers WHERE state <> 'stopped'")" "rows not stopped after exit"
