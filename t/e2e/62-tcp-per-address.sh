#!/bin/bash
# tcp_per_address (issue 10): at most 3 TCP connections from one address
# here. A fourth is closed at once, with a log line naming the peer; a
# burst of 20 more is closed at once too, logged in a line or two (not one
# line each); the 3 connections are still served, and once one closes a
# new connection from the address is served again.
. "$(dirname "$0")/lib.sh"

afd_start workers.tcp_min_spare=2 workers.tcp_max=8 workers.tcp_per_address=3
FLOOD=$AFD_TOOLS/tcpflood
options_msg >"$TMP/opt.sip"

for s in 1 2 3; do
	tcp_session s$s
	assert_match '^#done 1' "$(tcp_send s$s "$TMP/opt.sip")" "connection $s of 3"
done

# The fourth: closed by afd before any answer.
log_mark
out=$(options_msg | sip -t -s 2>&1)
rc=$?
echo "connection 4: rc $rc: $out"
assert_no_match '^SIP/2.0' "$out" "a fourth connection from 127.0.0.1"
wait_for "log_since 'refused the TCP connection from 127\\.0\\.0\\.1:[0-9]+: 3 connections from that address already \\(tcp_per_address\\)'" 3 ||
	fail "no log line for the refused fourth connection"
log_new | grep refused

# A burst of 20: every one closed at once; few log lines.
# refusals: how many refusals the log has accounted for since the mark.
refusals() {
	log_new | awk '/refused the TCP connection from/ { n++ }
		/refused [0-9]+ more TCP connections/ { n += $(NF - 5) }
		END { print n + 0 }'
}
log_mark
"$FLOOD" -p "$AFD_PORT" -n 20 -t 5 >"$TMP/flood.out" 2>&1
cat "$TMP/flood.out"
assert_match 'idle opened=20 connected=20 closed=20 open=0 failed=0' "$(cat "$TMP/flood.out")" "the burst"
max=$(sed -n 's/^idle .*max_ms=\([0-9]*\).*/\1/p' "$TMP/flood.out")
assert_le "$max" $((500 * SCALE)) "longest life of a refused connection (ms)"
# Refusals beyond one a second are counted in one line (within 5 s).
wait_for "[ \$(refusals) -eq 20 ]" 7 || { log_new | grep refused; fail "20 refusals not accounted for in the log: $(refusals)"; }
log_new | grep refused
lines=$(log_new | grep -c 'refused')
say "$lines log lines for 20 refusals"
assert_le "$lines" 4 "log lines for 20 refused connections"

# The 3 are still served.
for s in 1 2 3; do
	assert_match '^#done 1' "$(tcp_send s$s "$TMP/opt.sip")" "connection $s after the refusals"
done
# One closes: a new connection from the address is served.
tcp_close s1
wait_for 'afd_answers tcp' 5 || fail "no new connection served after one of the 3 closed"
tcp_close s2
tcp_close s3
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
