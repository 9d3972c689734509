#!/bin/bash
# More TCP connections than tcp_max: nothing crashes, never more than
# tcp_max TCP workers; an extra connection waits (and is served once a
# connection closes) or is refused; afd goes on answering meanwhile.
. "$(dirname "$0")/lib.sh"

afd_start workers.tcp_min_spare=1 workers.tcp_max=3
options_msg >"$TMP/opt.sip"

for s in 1 2 3; do
	tcp_session s$s
	out=$(tcp_send s$s "$TMP/opt.sip")
	assert_match '^#done 1' "$out" "connection $s of 3 (tcp_max)"
done
ps_afd
assert_eq 3 "$(tcp_worker_pids | grep -c .)" "TCP workers with 3 connections (tcp_max 3)"

# A 4th connection: not served while the 3 are busy (it waits, or it is
# refused).
tcp_session s4 -w 500
out=$(tcp_send s4 "$TMP/opt.sip")
echo "connection 4 (beyond tcp_max): $out"
case "$out" in
"#timeout 0") waiting=1 ;;
"#closed") waiting=0 ;;
*) fail "connection 4 beyond tcp_max: $out" ;;
esac
assert_alive "connection 4 beyond tcp_max"
assert_le "$(tcp_worker_pids | grep -c .)" 3 "TCP workers (tcp_max 3)"

# Connection 1 closes: a waiting connection 4 is served by the freed
# worker (its first OPTIONS is answered too, late); a refused one is gone
# and a new connection is served.
tcp_close s1
if [ $waiting = 1 ]; then
	for try in 1 2 3 4 5 6; do
		out=$(tcp_send s4 "$TMP/opt.sip")
		case "$out" in *"#done"*|*"#closed"*) break ;; esac
	done
	echo "connection 4 after connection 1 closed: $out"
	# A connection that waited longer than the master's patience may have
	# been refused by now; that is a refusal, not a failure.
	case "$out" in
	*"#closed"*) say "connection 4 was refused while waiting"
		wait_for 'afd_answers tcp' 5 || fail "no new connection served after connection 1 closed" ;;
	*) assert_match '^SIP/2.0 200 ' "$out" "waiting connection 4 once a worker is free" ;;
	esac
else
	wait_for 'afd_answers tcp' 5 || fail "no new connection served after connection 1 closed"
fi
for s in 2 3; do
	assert_match '^#done 1' "$(tcp_send s$s "$TMP/opt.sip")" "connection $s still served"
done

# Many at once beyond the limit: UDP keeps answering, the master stays.
for s in 5 6 7 8; do
	tcp_session s$s -w 300
	echo "$TMP/opt.sip" >&"$(eval echo \$SESSION_FD_s$s)"
done
for i in 1 2 3; do assert_alive "4 connections beyond tcp_max ($i)"; done
assert_le "$(tcp_worker_pids | grep -c .)" 3 "TCP workers (tcp_max 3)"

# Close everything: the pool stays within tcp_max and serves again.
for s in 2 3 4 5 6 7 8; do tcp_close s$s; done
wait_for 'afd_answers tcp' 10 || fail "no TCP connection served after all closed"
assert_le "$(tcp_worker_pids | grep -c .)" 3 "TCP workers (tcp_max 3)"
if grep -Ei 'SIGSEGV|SIGABRT|signal (6|11)' "$AFD_LOG"; then fail "a worker crashed"; fi
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
