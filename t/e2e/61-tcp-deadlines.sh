#!/bin/bash
# The deadlines of one TCP connection (issue 10), with short bounds:
# tcp_first_message 1 s (a silent connection and one that sends a request
# a byte every 100 ms are closed after 1 s), tcp_message_timeout 1 s (a
# message started after a first one and never finished), tcp_idle 2 s (a
# connection without a binding that only sends keep-alive pings is closed;
# a registered phone's connection outlives tcp_idle until it
# deregisters). Each close is one log line naming the peer.
. "$(dirname "$0")/lib.sh"

afd_start workers.tcp_min_spare=2 workers.tcp_max=6 \
	workers.tcp_first_message=1 workers.tcp_message_timeout=1 \
	workers.tcp_idle=2
FLOOD=$AFD_TOOLS/tcpflood

# raw_options N: a complete OPTIONS, CRLF line ends.
raw_options() {
	printf 'OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-dl%s\r\nMax-Forwards: 70\r\nFrom: <sip:dl@%s>;tag=dl%s\r\nTo: <sip:%s>\r\nCall-ID: dl-%s@127.0.0.1\r\nCSeq: %s OPTIONS\r\nContent-Length: 0\r\n\r\n' \
		"$DOMAIN" "$1" "$DOMAIN" "$1" "$DOMAIN" "$1" "$1"
}
raw_options 1 >"$TMP/opt1.sip"
raw_options 2 >"$TMP/opt2.sip"
raw_options 3 | head -c 60 >"$TMP/part.sip"
printf '\r\n\r\n' >"$TMP/ping.sip"

# log_t PORT WHAT: the log time (ms of the day) of the worker's line
# "connection N from 127.0.0.1:PORT" (WHAT=open) or "... closed:" (close).
log_t() {
	local re="connection [0-9]+ from 127\\.0\\.0\\.1:$1\$"
	[ "$2" = close ] && re="connection [0-9]+ from 127\\.0\\.0\\.1:$1 closed: "
	grep -E -- "$re" "$AFD_LOG" | head -n 1 |
		awk '{ split($1, t, /[:.]/); print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] }'
}
# assert_life PORT LO HI WHY: the connection from PORT lived LO..HI ms
# (by the log) and its closing line gives WHY.
assert_life() {
	local open close
	wait_log "127\\.0\\.0\\.1:$1 closed: $4" 5
	open=$(log_t "$1" open)
	close=$(log_t "$1" close)
	say "connection from port $1: closed after $((close - open)) ms: $4"
	assert_le "$2" $((close - open)) "life of the connection from port $1 (ms)"
	assert_le $((close - open)) "$3" "life of the connection from port $1 (ms)"
}

# A silent connection and a slow sender: closed after tcp_first_message.
"$FLOOD" -p "$AFD_PORT" -n 1 -s 1 -i 100 -t 8 >"$TMP/flood.out" 2>&1 &
flood_pid=$!
E2E_PIDS="$E2E_PIDS $flood_pid"

# A phone registers over TCP: its connection carries a binding.
CSEQ=1 CALLID=dl-phone req REGISTER "sip:$DOMAIN" \
	"Contact: <sip:alice@127.0.0.1:5061;transport=tcp>" "Expires: 600" >"$TMP/reg.sip"
CSEQ=2 CALLID=dl-phone req REGISTER "sip:$DOMAIN" \
	"Contact: <sip:alice@127.0.0.1:5061;transport=tcp>" "Expires: 0" >"$TMP/unreg.sip"
tcp_session phone
assert_match '^SIP/2.0 200 ' "$(tcp_send phone "$TMP/reg.sip")" "the phone's REGISTER"
t_reg=$(now_ms)
wait_log "127\\.0\\.0\\.1:$SESSION_LPORT_phone carries a registration binding" 3

# An unregistered client: one OPTIONS, then only keep-alive pings, each
# answered with CRLF; the pings do not keep it open past tcp_idle.
tcp_session idle -r -w 400 -n 0
assert_match '^SIP/2.0 200 ' "$(tcp_send idle "$TMP/opt1.sip")" "OPTIONS on the idle connection"
for i in 1 2 3 4 5 6 7; do
	out=$(tcp_send idle "$TMP/ping.sip")
	case "$out" in *"#closed"*) break ;; esac
done
assert_match '#closed' "$out" "the pinging unregistered connection after tcp_idle"
assert_life "$SESSION_LPORT_idle" 2000 3500 'no SIP message for 2 s and no registration binding \(tcp_idle\)'

# A client that starts a second message and never finishes it.
tcp_session part -r -w 400
assert_match '^SIP/2.0 200 ' "$(tcp_send part "$TMP/opt2.sip")" "OPTIONS on the connection"
log_mark
t0=$(now_ms)
tcp_send part "$TMP/part.sip" >/dev/null
wait_log "127\\.0\\.0\\.1:$SESSION_LPORT_part closed: a message still incomplete after 1 s \\(tcp_message_timeout, 60 bytes pending\\)" 4
t1=$(now_ms)
say "the unfinished message's connection closed $((t1 - t0)) ms after it began"
assert_le 900 $((t1 - t0)) "ms before the unfinished message's connection closed"

# The silent and the slow connection: closed after 1 s (not before).
wait "$flood_pid"
cat "$TMP/flood.out"
for kind in idle slow; do
	line=$(grep "^$kind " "$TMP/flood.out")
	assert_match "opened=1 connected=1 closed=1 open=0 failed=0" "$line" "$kind connection"
	max=$(echo "$line" | sed -n 's/.*max_ms=\([0-9]*\).*/\1/p')
	assert_le 900 "$max" "life of the $kind connection (ms)"
	assert_le "$max" $((2500 * SCALE)) "life of the $kind connection (ms)"
done
assert_eq 2 "$(grep -c 'closed: no complete SIP message within 1 s (tcp_first_message)' "$AFD_LOG")" \
	"connections closed by tcp_first_message"

# The phone's connection outlives tcp_idle (2 s): it carries a binding.
while [ $(( $(now_ms) - t_reg )) -lt 3000 ]; do sleep 0.2; done
out=$(tcp_send phone "$TMP/opt1.sip")
assert_match '^SIP/2.0 200 ' "$out" "OPTIONS on the registered phone's connection after $(( $(now_ms) - t_reg )) ms"
log_has "127\\.0\\.0\\.1:$SESSION_LPORT_phone closed" && fail "the registered phone's connection was closed"

# Deregistered, it is an ordinary connection: closed after tcp_idle.
assert_match '^SIP/2.0 200 ' "$(tcp_send phone "$TMP/unreg.sip")" "the phone's deregistration"
wait_log "127\\.0\\.0\\.1:$SESSION_LPORT_phone carries no registration binding any more" 3
wait_log "127\\.0\\.0\\.1:$SESSION_LPORT_phone closed: no SIP message for 2 s and no registration binding" 4
tcp_close phone
tcp_close idle
tcp_close part
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
