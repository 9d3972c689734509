#!/bin/bash
# What VoLTE phones do in a call (../shared/seeds/003: X.S0013-009), relayed
# between the legs: a reliable 183 (RSeq, Require: 100rel) and its PRACK
# (RAck mapped to the B-leg INVITE's CSeq), an UPDATE (preconditions), the
# 180 and 200, a re-INVITE putting the call on hold (sendonly SDP) and its
# ACK, the callee hanging up. Then CANCEL while ringing (200 to the CANCEL,
# 487 to the caller, CANCEL to the callee), and a MESSAGE in pager mode.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start

# 1. 100rel, PRACK, UPDATE, re-INVITE (hold), the callee hangs up.
# bob over TCP: afd's requests to him go through the TCP worker owning
# his connection; alice over TCP too, a VoLTE INVITE (CSeq 33302)
phone bob -t -r -R 300 -H 800 -T $(( 8 * SCALE ))
registered bob
phone alice -t -b -r -V -c bob -T $(( 6 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
wait "$pid_bob"
cat "$TMP/bob.out"
alice=$(cat "$TMP/alice.out")
bob=$(cat "$TMP/bob.out")
seq=$(awk '$1 == "RESP" && $3 == "INVITE" { printf "%s ", $2 }' "$TMP/alice.out")
assert_match "^100 183 180 200 200 $" "$seq" "the caller's answers (INVITE, then the re-INVITE)"
assert_match "^INFO RSeq 7" "$alice" "the 183's RSeq relayed"
assert_match "^RESP 200 PRACK" "$alice" "the PRACK answered through afd"
assert_match "^RESP 200 UPDATE" "$alice" "the UPDATE answered through afd"
assert_match "^INFO RAck 7 1 INVITE" "$bob" "RAck names the B-leg INVITE (CSeq 1, not the caller's 33302)"
assert_match "^REQ PRACK " "$bob" "PRACK relayed"
assert_match "^REQ UPDATE " "$bob" "UPDATE relayed"
assert_match "^INFO reINVITE sendonly" "$bob" "the re-INVITE's SDP relayed (hold)"
[ "$(grep -c '^REQ ACK ' "$TMP/bob.out")" -ge 2 ] || fail "the callee did not get the ACKs of both INVITEs"
assert_match "^REQ BYE " "$alice" "the callee's BYE reached the caller"
assert_match "^RESP 200 BYE" "$bob" "the caller's 200 to the BYE reached the callee"
assert_no_match "sec-agree" "$bob" "sec-agree stays with afd"
assert_eq "callee hung up" "$(cdr bob)" "the CDR's end reason"

# 2. CANCEL while ringing: bob rings for ever, alice gives up after 500 ms
phone bob -I 0 -T $(( 4 * SCALE ))
registered bob
phone alice -c bob -X 500 -T $(( 3 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
alice=$(cat "$TMP/alice.out")
assert_match "^RESP 200 CANCEL" "$alice" "200 to the CANCEL"
assert_match "^RESP 487 INVITE" "$alice" "487 to the cancelled INVITE"
wait "$pid_bob"
cat "$TMP/bob.out"
assert_match "^REQ CANCEL " "$(cat "$TMP/bob.out")" "the callee got CANCEL"
[ "$(grep -c '^REQ ACK ' "$TMP/bob.out")" -ge 1 ] || fail "afd did not ACK the callee's 487"
wait_for "[ \"\$(cdr bob)\" = cancelled ]" 3 || fail "the CDR of the cancelled call: $(cdr bob)"

# 3. a MESSAGE outside a dialog (SMS over IMS, pager mode)
phone bob -T $(( 3 * SCALE ))
registered bob
phone alice -M -c bob -T $(( 2 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
assert_match "^RESP 200 MESSAGE" "$(cat "$TMP/alice.out")" "the MESSAGE's 200 relayed"
wait "$pid_bob"
assert_match "^REQ MESSAGE z9hG4bK-u0-" "$(cat "$TMP/bob.out")" "the MESSAGE relayed as afd's own"

# 4. a caller over UDP slow to ACK: afd sends its 200 again (T1, 2*T1:
# RFC 6026, the TU's retransmissions) until the ACK, then stops
phone bob -T $(( 5 * SCALE ))
registered bob
phone alice -c bob -A 1700 -H 1000 -T $(( 4 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
n=$(grep -c '^RESP 200 INVITE' "$TMP/alice.out")
[ "$n" -ge 3 ] || fail "the 200 reached the slow caller $n times (want the first and 2 retransmissions)"
[ "$n" -le 4 ] || fail "the 200 reached the caller $n times: retransmitted after the ACK?"
log_has "no ACK for the 2xx" && fail "afd gave up a 2xx that was ACKed"
wait "$pid_bob"

assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
