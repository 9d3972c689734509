#!/bin/bash
# RFC 3261 18.2.2: an answer goes to the top Via's sent-by port only when
# that Via is usable. A Via that does not parse (127.0.0.1:::::, a port
# followed by junk) or names port 0 gets its 400 at the source address and
# port, never at the Via's port (5060 by default: where `make run` listens).
# The test listens on the Via's port itself (a port it opened) to see that
# nothing arrives there; a usable Via without rport, as a control, is
# answered there.
. "$(dirname "$0")/lib.sh"

afd_start
VIA_PORT=$("$SIPSEND" -P)
"$SIPSEND" -L "$VIA_PORT" -s -w $(( 6000 * SCALE )) >"$TMP/via.out" 2>"$TMP/via.err" &
listener=$!
E2E_PIDS="$E2E_PIDS $listener"
wait_for "grep -q '^#listening' '$TMP/via.out'" 2 || fail "cannot listen on $VIA_PORT: $(cat "$TMP/via.err")"

# opt VIA-SENT-BY: an OPTIONS whose top Via is "SIP/2.0/UDP VIA-SENT-BY;branch=..."
opt() {
	printf 'OPTIONS sip:%s SIP/2.0\nVia: SIP/2.0/UDP %s;branch=$BRANCH\nMax-Forwards: 70\nFrom: <sip:alice@%s>;tag=$TAG\nTo: <sip:alice@%s>\nCall-ID: $CALLID\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n' \
		"$DOMAIN" "$1" "$DOMAIN" "$DOMAIN"
}

# The issue's own case: the port does not parse (the default would be 5060).
out=$(opt '127.0.0.1:::::' | sip -s) || fail "no 400 at the source port for Via 127.0.0.1:::::"
assert_match '^SIP/2.0 400 ' "$out" "answer to Via 127.0.0.1:::::"

# A port that parses, then junk: the Via as a whole is unusable.
out=$(opt "127.0.0.1:$VIA_PORT:::" | sip -s) || fail "no 400 at the source port for Via 127.0.0.1:$VIA_PORT:::"
assert_match '^SIP/2.0 400 ' "$out" "answer to Via 127.0.0.1:$VIA_PORT:::"
out=$(opt "127.0.0.1:$VIA_PORT;;x" | sip -s) || fail "no 400 at the source port for a Via with a bad param"
assert_match '^SIP/2.0 400 ' "$out" "answer to a Via with a bad param"

# Port 0 parses but cannot be sent to.
out=$(opt '127.0.0.1:0' | sip -s) || fail "no answer at the source port for Via port 0"
assert_match '^SIP/2.0 200 ' "$out" "answer to Via port 0"

# Control: a usable Via without rport is answered at its port (the
# listener), not at the source.
out=$(opt "127.0.0.1:$VIA_PORT" | sip -s -n 0 -w $(( 1000 * SCALE )))
assert_eq "" "$out" "answer at the source port to a usable Via without rport"
wait_for "grep -q '^SIP/2.0 200 ' '$TMP/via.out'" 2 || fail "no answer at the usable Via's port $VIA_PORT"
wait $listener
assert_eq 1 "$(grep -c '^SIP/2.0 ' "$TMP/via.out")" "answers that reached the Via's port (only the control's)"
assert_alive "unusable Vias"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
