#!/bin/bash
# The TCP pool under a flood (issue 10): 300 connections that never send a
# byte and 70 that send a request a byte every 100 ms, from one address,
# against a pool of 16 workers. Meanwhile a phone registered over TCP
# refreshes and a new client sends OPTIONS: both are answered within a
# second. Every flood connection is closed within the configured
# tcp_first_message (2 s here) plus the time it waited for a worker; the
# phone's connection (it carries a binding) is never evicted.
. "$(dirname "$0")/lib.sh"

FIRST=2
afd_start workers.tcp_min_spare=2 workers.tcp_max=16 \
	workers.tcp_first_message=$FIRST workers.tcp_message_timeout=2 \
	workers.tcp_idle=3 workers.tcp_per_address=0
FLOOD=$AFD_TOOLS/tcpflood
[ -x "$FLOOD" ] || fail "$FLOOD not built"

# The phone registers over TCP; its worker finds the binding.
AOR=sip:alice@$DOMAIN
CSEQ=1 CALLID=phone-1 req REGISTER "sip:$DOMAIN" \
	"Contact: <sip:alice@127.0.0.1:5061;transport=tcp>" "Expires: 600" >"$TMP/reg1.sip"
CSEQ=2 CALLID=phone-1 req REGISTER "sip:$DOMAIN" \
	"Contact: <sip:alice@127.0.0.1:5061;transport=tcp>" "Expires: 600" >"$TMP/reg2.sip"
CSEQ=3 CALLID=phone-1 req REGISTER "sip:$DOMAIN" \
	"Contact: <sip:alice@127.0.0.1:5061;transport=tcp>" "Expires: 600" >"$TMP/reg3.sip"
tcp_session phone
assert_match '^SIP/2.0 200 ' "$(tcp_send phone "$TMP/reg1.sip")" "the phone's REGISTER"
wait_log "from 127.0.0.1:$SESSION_LPORT_phone carries a registration binding" 5

# The flood.
log_mark
"$FLOOD" -p "$AFD_PORT" -n 300 -s 70 -i 100 -t 25 >"$TMP/flood.out" 2>&1 &
flood_pid=$!
E2E_PIDS="$E2E_PIDS $flood_pid"
wait_for "log_since 'evicted connection'" 10 || fail "no eviction while flooded"
wait_for "grep -q '^#connected' '$TMP/flood.out'" 10 || fail "flood connections not established"
say "flooding; $(log_new | grep -c 'evicted connection') evictions so far"

# The phone refreshes on its connection: answered within a second.
t0=$(now_ms)
out=$(tcp_send phone "$TMP/reg2.sip" 5)
t1=$(now_ms)
echo "phone refresh after $((t1 - t0)) ms: $(echo "$out" | head -n 1)"
assert_match '^SIP/2.0 200 ' "$out" "the phone's refresh during the flood"
assert_le $((t1 - t0)) $((1000 * SCALE)) "ms to answer the phone's refresh"

# A new client connects and asks OPTIONS: answered within a second.
t0=$(now_ms)
out=$(options_msg | sip -t -s -w $((1000 * SCALE)) 2>&1)
t1=$(now_ms)
echo "new client after $((t1 - t0)) ms: $(echo "$out" | head -n 1)"
assert_match '^SIP/2.0 200 ' "$out" "a new client's OPTIONS during the flood"
assert_le $((t1 - t0)) $((1000 * SCALE)) "ms to answer a new client"

# Every flood connection is closed, each within tcp_first_message of being
# served plus its wait for a worker (at most the 3 s after which a waiting
# connection is refused): 5 s.
wait "$flood_pid"
cat "$TMP/flood.out"
for kind in idle slow; do
	line=$(grep "^$kind " "$TMP/flood.out")
	assert_match "opened=(300|70) connected=(300|70) closed=(300|70) open=0 failed=0" \
		"$line" "$kind flood connections"
	max=$(echo "$line" | sed -n 's/.*max_ms=\([0-9]*\).*/\1/p')
	assert_le "$max" $(((FIRST + 3) * 1000 * SCALE)) "longest life of a $kind connection (ms)"
done
# Slow senders were cut by the deadline or evicted, never served.
log_new | grep -q 'no complete SIP message within 2 s (tcp_first_message)' ||
	fail "no connection closed by tcp_first_message"
assert_no_match 'evicted connection [0-9]+ from 127.0.0.1:'"$SESSION_LPORT_phone"'[^0-9]' \
	"$(log_new)" "the phone's connection evicted"
# One line per decision, not one per byte: the slow senders sent some
# 1,400 bytes in all; every closing line names a different connection.
dups=$(log_new | sed -n 's/.*connection \([0-9]*\) from .* closed: .*/\1/p' | sort | uniq -d | wc -l)
assert_eq 0 "$dups" "connections closed more than once in the log"
# Each eviction: the master's decision, and its worker's close saying so
# (a worker logs its close when it gets to it: wait a little for the last).
evictions_logged() {
	[ "$(log_new | grep -c 'master: info: evicted connection')" = \
		"$(log_new | grep -c 'closed: evicted by the master')" ]
}
wait_for evictions_logged 2 || true
assert_eq "$(log_new | grep -c 'master: info: evicted connection')" \
	"$(log_new | grep -c 'closed: evicted by the master')" "evictions logged by the master and by the workers"
assert_le "$(tcp_worker_pids | grep -c .)" 16 "TCP workers (tcp_max 16)"

# The phone's flow is still up after the flood and longer than tcp_idle:
# it carries a binding.
wait_for "log_has 'no SIP message for 3 s and no registration binding'" 1 || true
out=$(tcp_send phone "$TMP/reg3.sip" 5)
assert_match '^SIP/2.0 200 ' "$out" "the phone's refresh after the flood"
assert_eq 1 "$(sql "SELECT count(*) FROM registrations WHERE aor = '$AOR' AND received = '127.0.0.1:$SESSION_LPORT_phone'")" \
	"the phone's binding on its first connection"
if grep -Ei 'SIGSEGV|SIGABRT|signal (6|11)' "$AFD_LOG"; then fail "a worker crashed"; fi
tcp_close phone
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
