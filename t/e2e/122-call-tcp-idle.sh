#!/bin/bash
# [workers] tcp_idle spares a TCP connection that carries a live call, as
# it spares one that carries a registration binding: alice registers over
# UDP and calls over a TCP connection of its own (no binding on it), the
# call stays silent for 5 s with tcp_idle = 2; her BYE still goes over the
# same connection and is answered. Once the call is over the connection is
# an ordinary one again and tcp_idle closes it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start workers.tcp_idle=2


ua bob bob -T $(( 12 * SCALE ))
registered bob
ua alicereg alice -T $(( 12 * SCALE ))
registered alicereg
# the caller's own TCP connection: no REGISTER on it (-e 0)
ua alice alice -t -e 0 -c bob -H 5000 -T $(( 10 * SCALE ))
wait_for "[ \"\$(dlg stage)\" = confirmed ]" 3 || fail "the call is not up"
port=$(awk '$1 == "READY" { print $3; exit }' "$TMP/alice.out")
wait "$pid_alice"
cat "$TMP/alice.out"
a=$(cat "$TMP/alice.out")
assert_match "^RESP 200 INVITE" "$a" "the call was answered"
assert_match "^RESP 200 BYE" "$a" "the BYE after 5 s of silence answered on the same connection"
assert_match "^tcp [0-9.:]+:$port t[0-9]+ [0-9]+$" "$(dlg a_peer)" "the caller's leg is its TCP connection"
assert_eq "caller hung up" "$(sql "SELECT end_reason FROM calls ORDER BY id DESC LIMIT 1")" "the CDR"
log_has "from 127.0.0.1:$port carries a live call: kept while it lasts" ||
	fail "no log line for the connection kept for its call"
# after the call: an ordinary connection again, closed after tcp_idle
# (before alice's own exit)
wait_log "from 127.0.0.1:$port closed: no SIP message for 2 s and no registration binding" 3
assert_no_match "from 127.0.0.1:$port closed: closed by peer" "$(cat "$AFD_LOG")" \
	"the caller closed the connection before afd did"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
