#!/bin/bash
# kill -9 of the TCP worker that owns an open connection: the client's
# connection stays up, and its next OPTIONS on that same connection is
# answered by the replacement worker.
. "$(dirname "$0")/lib.sh"

afd_start workers.tcp_min_spare=2 workers.tcp_max=4

options_msg >"$TMP/opt.sip"
tcp_session a
lport=$SESSION_LPORT_a
out=$(tcp_send a "$TMP/opt.sip")
assert_match '^SIP/2.0 200 ' "$out" "OPTIONS on the connection"
assert_match '^#done 1' "$out" "outcome"

# The owner's title names the peer.
owner() { ps_afd | awk -v p="[127.0.0.1:$lport]" 'index($0, p) && /afd: tcp worker/ { print $1 }'; }
wait_for '[ -n "$(owner)" ]' 2 || { ps_afd; fail "no TCP worker titled with [127.0.0.1:$lport]"; }
old=$(owner)
ps_afd

for round in 1 2; do
	log_mark
	kill -9 "$old"
	wait_for "log_new | grep -E '\\b$old\\b' | grep -Eiq 'signal 9|SIGKILL|killed'" 2 ||
		fail "the master's log does not name pid $old and signal 9"
	out=$(tcp_send a "$TMP/opt.sip")
	echo "$out"
	assert_match '^#done 1' "$out" "OPTIONS on the same connection after kill -9 of its worker (round $round)"
	assert_match '^SIP/2.0 200 ' "$out" "status after the kill (round $round)"
	new=$(owner)
	[ -n "$new" ] && [ "$new" != "$old" ] || { ps_afd; fail "connection owner $old -> '$new'"; }
	kill -0 "$old" 2>/dev/null && fail "killed worker $old still there"
	say "round $round: worker $old killed, connection now served by $new"
	old=$new
done

# The connection is still the one we opened; afd also serves new ones.
kill -0 "$SESSION_PID_a" || fail "the client's connection is gone"
afd_answers tcp || fail "a new TCP connection is not served"
tcp_close a
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
