#!/bin/bash
# kill -9 of the master: its workers notice and exit within two seconds;
# a new afd then starts on the same port and database, bindings kept.
# kill -TERM of a worker: logged with its exit status and replaced.
. "$(dirname "$0")/lib.sh"

afd_start
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 600" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER"

# kill -TERM of the UDP worker and of an idle TCP worker.
for w in udp tcp; do
	if [ $w = udp ]; then
		old=$(worker_pid udp)
	else
		old=$(ps_afd | awk '/afd: tcp worker [0-9]+ \[idle\]/ { print $1; exit }')
	fi
	[ -n "$old" ] || fail "no $w worker"
	log_mark
	kill -TERM "$old"
	wait_for "log_new | grep -E '\\b$old\\b' | grep -Eiq 'exited|signal|terminated'" 3 ||
		fail "the master's log does not name pid $old after kill -TERM"
	log_new | grep -E "\\b$old\\b"
	wait_for "afd_answers $w" 5 || fail "no $w answer after kill -TERM of the $w worker"
	if [ $w = udp ]; then
		new=$(worker_pid udp)
		[ -n "$new" ] && [ "$new" != "$old" ] || fail "UDP worker $old not replaced"
	else
		wait_for "[ \$(ps_afd | grep -c 'afd: tcp worker [0-9]* \\[idle\\]') -ge 2 ]" 3 || { ps_afd; fail "idle pool not refilled"; }
	fi
done

pids=$(afd_pids | tr '\n' ' ')
say "kill -9 of the master $AFD_PID; workers: $pids"
kill -9 "$AFD_PID"
wait "$AFD_PID" 2>/dev/null
t0=$(now_ms)
for p in $pids; do
	while kill -0 "$p" 2>/dev/null && ! ps -o stat= -p "$p" | grep -q Z; do
		[ $(( $(now_ms) - t0 )) -lt $(( 2000 * SCALE )) ] || { ps -fp "$p"; fail "worker $p still there 2 s after the master died"; }
		sleep 0.05
	done
done
say "workers gone $(( $(now_ms) - t0 )) ms after the master"
AFD_PID=
out=$(options_msg | sip -s -w 300 2>/dev/null) && fail "something answers with the master dead: $out"

afd_start
assert_eq 1 "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:alice@$DOMAIN'")" "binding after the master's death"
out=$(req REGISTER "sip:$DOMAIN" | sip) || fail "no answer to the query"
assert_match '^Contact: <sip:alice@127.0.0.1:5061>' "$out" "binding listed after the restart"
wait_for '[ "$(sql "SELECT count(*) FROM workers WHERE state <> '"'stopped'"' AND pid NOT IN ($(afd_pids | tail -n +2 | paste -sd, -))")" = 0 ]' 3 ||
	{ sql -header "SELECT * FROM workers"; fail "workers rows of the dead afd remain"; }
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
