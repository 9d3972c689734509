#!/bin/bash
# kill -9 of the call's owner at the other stages of a call's set-up (the
# README's "kill -9 during a call" table): while 'trying' (the callee has
# not answered yet: the replacement sends the recorded B-leg INVITE again,
# the same branch, and the call goes on), while 'early' with a PRACK in
# flight (reliable 183, 100rel), and while 'answered' (the 200 relayed,
# the caller's ACK not yet there). Each call still completes and ends
# normally.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

# T1 = 2 s: bob answers 1.5 s late, afd need not retransmit meanwhile
afd_start afd.log_level=debug afd.sip_t1=2000

completed() { # CALLER CALLEE
	local a b
	a=$(cat "$TMP/$1.out")
	b=$(cat "$TMP/$2.out")
	assert_match "^RESP 200 INVITE" "$a" "$1 got the 200"
	assert_match "^REQ ACK " "$b" "$2 got the ACK"
	assert_match "^REQ BYE " "$b" "$2 got the BYE"
	assert_match "^RESP 200 BYE" "$a" "$1's BYE answered 200"
	assert_eq "caller hung up" "$(cdr "$2")" "the CDR"
}

# 1. trying: bob takes 1.5 s to answer anything
phone bob -D 1500 -T $(( 12 * SCALE ))
registered bob
phone alice -t -c bob -H 300 -T $(( 10 * SCALE ))
wait_for "[ \"\$(dlg stage)\" = trying ]" 3 || fail "the call is not trying"
kill_owner "while trying"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
completed alice bob
log_has "B-leg INVITE sent again after a restart" || fail "the replacement did not send the INVITE again"

# 2. early, a PRACK in flight: bob's 183 is reliable, and he answers the
# PRACK (and everything else) 1.5 s late
phone bob -r -D 1500 -T $(( 18 * SCALE ))
registered bob
phone alice -t -r -c bob -H 300 -T $(( 16 * SCALE ))
wait_for "grep -q '^REQ PRACK' '$TMP/bob.out'" 6 || fail "bob got no PRACK"
assert_eq "early" "$(dlg stage)" "the stage with the PRACK in flight"
kill_owner "with a PRACK in flight"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
completed alice bob

# 3. answered: alice takes 1.5 s to ACK the 200
phone bob -T $(( 10 * SCALE ))
registered bob
phone alice -t -A 1500 -c bob -H 300 -T $(( 8 * SCALE ))
wait_for "[ \"\$(dlg stage)\" = answered ]" 3 || fail "the call is not answered"
kill_owner "while the ACK is awaited"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
completed alice bob

assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
