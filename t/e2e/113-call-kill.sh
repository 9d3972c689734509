#!/bin/bash
# kill -9 during calls (the README's "Calls" section says what survives):
# the call's owner, a TCP worker, killed while the callee rings: the
# callee's 200 reaches the replacement, which carries on from the dialogs
# row (the caller's connection is handed to it), and the call completes
# and ends normally; the owner killed while the call is up: the BYE is
# served by the replacement; the UDP worker killed while a call over UDP
# rings: the same; the owner killed during the BYE: the call ends cleanly
# (the BYE's receiver gets it again, the row and the CDR are closed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start

completed() { # CALLER CALLEE: the call went through and ended normally
	local a b
	a=$(cat "$TMP/$1.out")
	b=$(cat "$TMP/$2.out")
	assert_match "^RESP 200 INVITE" "$a" "$1 got the 200"
	assert_match "^REQ ACK " "$b" "$2 got the ACK"
	assert_match "^REQ BYE " "$b" "$2 got the BYE"
	assert_match "^RESP 200 BYE" "$a" "$1's BYE answered 200"
}

# 1. the owner (alice's TCP worker) dies while bob rings
phone bob -R 1500 -T $(( 10 * SCALE ))
registered bob
phone alice -t -c bob -H 300 -T $(( 9 * SCALE ))
wait_for "[ \"\$(dlg stage)\" = ringing ]" 3 || fail "the call does not ring"
kill_owner "while ringing"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
completed alice bob
assert_eq "caller hung up" "$(cdr bob)" "the CDR after a kill while ringing"
log_has "answer 200 of .* reached a restarted worker" || fail "no log line for the 200 handled from the row"

# 2. the owner dies while the call is up; the BYE comes later
phone bob -T $(( 10 * SCALE ))
registered bob
phone alice -t -c bob -H 2000 -T $(( 9 * SCALE ))
wait_for "[ \"\$(dlg stage)\" = confirmed ]" 3 || fail "the call is not up"
kill_owner "while the call is up"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
completed alice bob
assert_eq "caller hung up" "$(cdr bob)" "the CDR after a kill during the call"

# 3. the UDP worker (the owner of a call over UDP) dies while bob rings
phone bob -R 1500 -T $(( 10 * SCALE ))
registered bob
phone alice -c bob -H 300 -T $(( 9 * SCALE ))
wait_for "[ \"\$(dlg stage)\" = ringing ]" 3 || fail "the UDP call does not ring"
assert_eq "u0" "$(dlg owner_slot)" "the owner of a call over UDP"
kill_owner "while ringing"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
completed alice bob
assert_eq "caller hung up" "$(cdr bob)" "the CDR after the UDP worker's kill"

# 4. the owner dies while bob holds the BYE (bob answers everything 1.5 s
# late): the call ends cleanly; bob gets the BYE again
phone bob -D 1500 -T $(( 10 * SCALE ))
registered bob
phone alice -t -c bob -H 300 -T $(( 9 * SCALE ))
wait_for "[ \"\$(dlg stage)\" = terminating ]" 6 || fail "the call is not ending"
kill_owner "during the BYE"
wait_for "[ \"\$(dlg stage)\" = ended ]" 5 || fail "the call did not end after the kill during BYE"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
assert_eq "caller hung up" "$(cdr bob)" "the CDR after a kill during the BYE"
log_has "was ending when this worker's predecessor died" || fail "no log line for the call ended at recovery"

assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
