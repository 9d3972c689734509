#!/bin/bash
# kill -9 during a forked call (two phones of the callee ringing): the
# call's owner, a TCP worker, killed while both ring: the winner's 200
# reaches the replacement, which takes it from the dialogs and
# dialog_forks rows (relays it, CANCELs the other phone, whose 487 it ACKs
# as an orphan answer), and the call completes and ends normally; the
# same with the UDP worker owning a call over UDP; the owner killed while
# both ring and then the caller's CANCEL, served by the replacement: both
# phones cancelled, the call ended. Nothing is left open.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start

fork_of() { # PHONE: the state:status of the fork to that phone
	sql "SELECT state || ':' || ifnull(status, '-') FROM dialog_forks WHERE
	     dialog_id = (SELECT max(id) FROM dialogs) AND
	     target LIKE '%:$(port_of "$1");%'"
}
both_ring() { # the newest call rings on both phones
	wait_for "[ \"\$(sql \"SELECT count(*) FROM dialog_forks WHERE
		dialog_id = (SELECT max(id) FROM dialogs) AND state = 'early'\")\" = 2 ]" 3 ||
		fail "the call does not ring on both phones"
}
nothing_open() { # WHAT
	assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls still active $1"
	assert_eq "0" "$(sql "SELECT count(*) FROM dialog_forks WHERE state IN
		('calling', 'early', 'cancel_owed', 'cancelled')")" "forks still pending $1"
}
won() { # CALLER WINNER LOSER: the call went to WINNER, LOSER was cancelled
	local a w l
	a=$(cat "$TMP/$1.out")
	w=$(cat "$TMP/$2.out")
	l=$(cat "$TMP/$3.out")
	assert_eq "200" "$(final_of "$1")" "$1's final answer"
	assert_match "^RESP 200 BYE" "$a" "$1's BYE answered 200"
	assert_match "^REQ ACK " "$w" "$2 got the ACK"
	assert_match "^REQ BYE " "$w" "$2 got the BYE"
	assert_match "^REQ CANCEL " "$l" "$3 got the CANCEL"
	assert_match "^SENT 487 " "$l" "$3 ended its INVITE"
	assert_eq "answered:200" "$(fork_of "$2")" "$2's fork"
	assert_eq "failed:487" "$(fork_of "$3")" "$3's fork"
	assert_eq "caller hung up" "$(cdr "${2%[12]}")" "the CDR"
}

# 1. the owner (alice's TCP worker) dies while bob1 and bob2 ring; bob1
# answers after the replacement is up
ua bob1 bob -R $(( 2000 * SCALE )) -T $(( 8 * SCALE ))
registered bob1
ua bob2 bob -I 0 -T $(( 8 * SCALE ))
registered bob2
ua alice alice -t -c bob -H $(( 300 * SCALE )) -T $(( 7 * SCALE ))
both_ring
kill_owner "while two phones ring"
wait "$pid_alice" "$pid_bob1" "$pid_bob2"
cat "$TMP/alice.out" "$TMP/bob1.out" "$TMP/bob2.out"
won alice bob1 bob2
log_has "answer 200 of .* reached a restarted worker" || fail "no log line for the 200 handled from the rows"
nothing_open "after the owner's kill"

# 2. the UDP worker (the owner of a call over UDP) dies while both ring
ua carl1 carl -I 0 -T $(( 8 * SCALE ))
registered carl1
ua carl2 carl -R $(( 2000 * SCALE )) -T $(( 8 * SCALE ))
registered carl2
ua alice alice -c carl -H $(( 300 * SCALE )) -T $(( 7 * SCALE ))
both_ring
assert_eq "u0" "$(dlg owner_slot)" "the owner of a call over UDP"
kill_owner "while two phones ring"
wait "$pid_alice" "$pid_carl1" "$pid_carl2"
cat "$TMP/alice.out" "$TMP/carl1.out" "$TMP/carl2.out"
won alice carl2 carl1
nothing_open "after the UDP worker's kill"

# 3. the owner dies while both ring; the caller's CANCEL comes to the
# replacement
ua dora1 dora -I 0 -T $(( 6 * SCALE ))
registered dora1
ua dora2 dora -I 0 -T $(( 6 * SCALE ))
registered dora2
ua alice alice -t -c dora -X $(( 2000 * SCALE )) -T $(( 5 * SCALE ))
both_ring
kill_owner "while two phones ring, before the CANCEL"
wait "$pid_alice" "$pid_dora1" "$pid_dora2"
cat "$TMP/alice.out"
assert_eq "487" "$(final_of alice)" "the caller's CANCEL after the kill"
for p in dora1 dora2; do
	assert_match "^REQ CANCEL " "$(cat "$TMP/$p.out")" "$p cancelled"
	assert_eq "failed:487" "$(fork_of $p)" "$p's fork"
done
assert_eq "cancelled" "$(cdr dora)" "the CDR"
nothing_open "after a CANCEL served by the replacement"

# 4. a phone that never said anything (owed its CANCEL, RFC 3261 9.1)
# when the call ended; the owner dies: its replacement sends that CANCEL,
# no phone is left ringing
ua ezra1 ezra -R $(( 300 * SCALE )) -T $(( 6 * SCALE ))
registered ezra1
ua ezra2 ezra -n -T $(( 8 * SCALE ))
registered ezra2
ua alice alice -t -c ezra -H $(( 300 * SCALE )) -T $(( 2 * SCALE ))
wait "$pid_alice"
assert_eq "200" "$(final_of alice)" "the call with a silent phone"
wait_for "[ \"\$(dlg stage)\" = ended ]" 3 || fail "the call did not end"
assert_eq "cancel_owed:-" "$(fork_of ezra2)" "the silent phone's fork"
assert_no_match "^REQ CANCEL" "$(cat "$TMP/ezra2.out")" "a CANCEL before the silent phone spoke"
kill_owner "after a call that owes a CANCEL"
wait_for "grep -q '^REQ CANCEL' '$TMP/ezra2.out'" 5 || fail "the replacement did not send the CANCEL owed"
wait_for "[ \"\$(fork_of ezra2)\" = 'failed:-' ]" 3 || fail "the silent phone's fork once cancelled: $(fork_of ezra2)"
log_has "1 forks of ended calls owed a CANCEL: sent" || fail "no log line for the CANCEL owed"
kill "$pid_ezra1" "$pid_ezra2" 2>/dev/null
nothing_open "after the CANCEL owed"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
