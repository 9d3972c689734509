#!/bin/bash
# kill -9 of the UDP worker: a new worker answers within one second, and the
# master's log names the dead pid, its slot and the signal.
. "$(dirname "$0")/lib.sh"

afd_start

for round in 1 2; do
	old=$(worker_pid udp)
	[ -n "$old" ] || fail "no UDP worker found"
	log_mark
	kill -9 "$old"
	t0=$(now_ms)
	# Poll with OPTIONS every 50 ms; each try waits at most 50 ms.
	until out=$(options_msg | sip -s -w 50 2>/dev/null) && [[ "$out" == "SIP/2.0 200 "* ]]; do
		[ $(( $(now_ms) - t0 )) -lt $(( 5000 * SCALE )) ] || fail "no answer 5 s after killing the UDP worker"
	done
	took=$(( $(now_ms) - t0 ))
	say "round $round: answered $took ms after kill -9 of the UDP worker $old"
	assert_le "$took" $(( 1000 * SCALE )) "ms until a new UDP worker answers"
	new=$(worker_pid udp)
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "UDP worker pid $old -> '$new'"
	kill -0 "$old" 2>/dev/null && fail "killed worker $old still there"
	# One log line of the master names the pid, the slot and the signal.
	wait_for "log_new | grep -E '\\b$old\\b' | grep -Ei 'udp|u0' | grep -Eiq 'signal 9|SIGKILL|killed'" 2 || {
		log_new
		fail "the master's log does not name pid $old, its slot and signal 9 on one line"
	}
	log_new | grep -E "\\b$old\\b"
done

# Still one UDP worker, and the master is the same.
assert_eq 1 "$(ps_afd | grep -c 'afd: udp worker')" "UDP workers"
assert_alive
afd_answers tcp || fail "TCP not served after the UDP worker restarts"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
