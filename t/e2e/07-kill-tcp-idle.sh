#!/bin/bash
# kill -9 of an idle TCP worker: logged, the pool refilled (ps shows
# tcp_min_spare idle workers again, or more: the pool does not shrink after
# traffic), new connections served.
. "$(dirname "$0")/lib.sh"

afd_start workers.tcp_min_spare=2 workers.tcp_max=4

idle_pids() { ps_afd | awk '/afd: tcp worker [0-9]+ \[idle\]/ { print $1 }'; }
idle_count() { idle_pids | grep -c .; }

wait_for '[ $(idle_count) -eq 2 ]' 5 || { ps_afd; fail "not 2 idle TCP workers at start"; }
ps_afd

victim=$(idle_pids | head -n 1)
log_mark
kill -9 "$victim"
wait_for "log_new | grep -E '\\b$victim\\b' | grep -Eiq 'signal 9|SIGKILL|killed'" 2 ||
	fail "the master's log does not name pid $victim and signal 9"
log_new | grep -E "\\b$victim\\b"
wait_for "[ \$(idle_count) -ge 2 ] && ! idle_pids | grep -qx $victim" 2 || {
	ps_afd
	fail "the pool is not refilled to 2 idle TCP workers within 2 s"
}
ps_afd
kill -0 "$victim" 2>/dev/null && fail "killed worker $victim still there"

# New connections are served, several in a row.
for i in 1 2 3 4 5; do
	afd_answers tcp || fail "TCP connection $i not served after the kill"
done
# Every idle worker killed at once: refilled again.
log_mark
kill -9 $(idle_pids)
wait_for '[ $(idle_count) -ge 2 ]' 3 || { ps_afd; fail "pool not refilled after killing every idle worker"; }
afd_answers tcp || fail "TCP not served after killing both idle workers"
assert_le "$(tcp_worker_pids | grep -c .)" 4 "TCP workers (tcp_max)"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
