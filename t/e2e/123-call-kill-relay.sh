#!/bin/bash
# kill -9 of the call's owner while it relays a request inside the call:
# the answer still reaches the phone that sent it. alice (over TCP, whose
# PRACK and UPDATE no retransmission would save) calls bob with 100rel;
# bob answers every request 1.5 s late. The owner is killed with the
# PRACK at bob, and its replacement killed again with the UPDATE at bob:
# each time the replacement relays bob's 200 to alice from the
# dialog_relays row, and the call completes and ends normally.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

# T1 = 2 s: bob answers 1.5 s late, afd need not retransmit meanwhile.
# Under valgrind both are scaled, to at most 4 s and 5 s ([afd] sip_t1 is
# at most 5000; bob's delay stays below T1, or afd's retransmissions of
# its INVITE each hold bob up again)
t1=$(( 2000 * SCALE ))
[ "$t1" -le 5000 ] || t1=5000
delay=$(( 1500 * SCALE ))
[ "$delay" -le 4000 ] || delay=4000
afd_start afd.sip_t1=$t1

phone bob -r -D $delay -T $(( 16 * SCALE ))
registered bob
phone alice -t -r -c bob -H $(( 300 * SCALE )) -T $(( 14 * SCALE ))
wait_for "grep -q '^REQ PRACK' '$TMP/bob.out'" 6 || fail "bob got no PRACK"
assert_eq "1" "$(sql "SELECT count(*) FROM dialog_relays WHERE method = 'PRACK'")" "the PRACK in flight recorded"
kill_owner "with a PRACK in flight"
wait_for "grep -q '^RESP 200 PRACK' '$TMP/alice.out'" 5 ||
	fail "the PRACK's 200 was not relayed by the replacement"
wait_for "grep -q '^REQ UPDATE' '$TMP/bob.out'" 5 || fail "bob got no UPDATE"
kill_owner "with an UPDATE in flight"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
a=$(cat "$TMP/alice.out")
b=$(cat "$TMP/bob.out")
assert_match "^RESP 200 UPDATE" "$a" "the UPDATE's 200 relayed by the second replacement"
assert_match "^RESP 200 INVITE" "$a" "alice got the 200"
assert_match "^REQ ACK " "$b" "bob got the ACK"
assert_match "^REQ BYE " "$b" "bob got the BYE"
assert_match "^RESP 200 BYE" "$a" "alice's BYE answered 200"
assert_eq "caller hung up" "$(sql "SELECT end_reason FROM calls ORDER BY id DESC LIMIT 1")" "the CDR"
[ "$(grep -c 'relayed from its dialog_relays row' "$AFD_LOG")" -ge 2 ] ||
	fail "the answers were not relayed from the rows"
assert_eq "0" "$(sql 'SELECT count(*) FROM dialog_relays')" "relayed requests left"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
