#!/bin/bash
# More TCP connections than tcp_max: nothing crashes, never more than
# tcp_max TCP workers; the extra connections wait (and are served once a
# connection closes) or are refused; afd goes on answering.
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

# Two more: served late (they wait) or refused (closed); not served now.
for s in 4 5; do
	tcp_session s$s || true
	out=$(tcp_send s$s "$TMP/opt.sip")
	echo "connection $s: $out"
	outcome[$s]=$(printf '%s\n' "$out" | grep '^#')
	case "${outcome[$s]}" in
	"#timeout 0"|"#closed") ;;
	*) fail "connection $s beyond tcp_max: ${outcome[$s]}" ;;
	esac
	assert_alive "connection $s beyond tcp_max"
done
ps_afd
assert_le "$(tcp_worker_pids | grep -c .)" 3 "TCP workers (tcp_max 3)"
kill -0 "$AFD_PID" || fail "master died"

# A connection closes: a waiting connection is served now, or (refused)
# a new one is.
tcp_close s1
if [ "${outcome[4]}" = "#timeout 0" ]; then
	out=$(tcp_send s4 "$TMP/opt.sip" 10)
	echo "connection 4 after connection 1 closed: $out"
	assert_match '^#done' "$out" "waiting connection 4 once a worker is free"
	assert_match '^SIP/2.0 200 ' "$out" "waiting connection 4 once a worker is free"
else
	wait_for 'afd_answers tcp' 5 || fail "no new connection served after connection 1 closed"
fi
for s in 2 3; do
	assert_match '^#done 1' "$(tcp_send s$s "$TMP/opt.sip")" "connection $s still served"
done

# Close everything: the pool comes back to tcp_min_spare idle workers at
# most tcp_max in all, and new connections are served.
for s in 2 3 4 5; do tcp_close s$s; done
wait_for 'afd_answers tcp' 5 || fail "no TCP connection served after all closed"
assert_le "$(tcp_worker_pids | grep -c .)" 3 "TCP workers (tcp_max 3)"
if grep -Ei 'SIGSEGV|SIGABRT|signal (6|11)' "$AFD_LOG"; then fail "a worker crashed"; fi
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
