#!/bin/bash
# Parallel forking (RFC 3261 16.7 as a B2BUA does it): a callee registered
# from two phones gets an INVITE on each, with a branch of its own. The
# first 200 wins and the other phone gets CANCEL; when both fail the best
# failure is relayed (486 before 503; a 603 at once, the other phone
# cancelled; two 5xx as 500); a 200 that crosses the CANCEL gets ACK and
# BYE from afd; the caller's CANCEL and the ring timeout cancel both
# phones; a phone that sent no provisional is owed its CANCEL (RFC 3261
# 9.1) and is never sent one before it speaks; a silent phone's Timer B
# 408 does not hide the other phone's 486. After each call the dialogs,
# dialog_forks and calls rows are checked and nothing is left open.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start calls.ring_timeout=$(( 3 * SCALE )) afd.sip_t1=$(( 100 * SCALE ))

forks() { # the newest call's forks, in order: state:status ...
	sql "SELECT group_concat(state || ':' || ifnull(status, '-'), ' ') FROM
	     (SELECT state, status FROM dialog_forks WHERE dialog_id =
	      (SELECT max(id) FROM dialogs) ORDER BY id)"
}
fork_of() { # PHONE: the state:status of the fork to that phone
	sql "SELECT state || ':' || ifnull(status, '-') FROM dialog_forks WHERE
	     dialog_id = (SELECT max(id) FROM dialogs) AND
	     target LIKE '%:$(port_of "$1");%'"
}
nothing_open() { # WHAT
	assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls still active $1"
	assert_eq "0" "$(sql "SELECT count(*) FROM dialog_forks WHERE state IN
		('calling', 'early', 'cancel_owed', 'cancelled')")" "forks still pending $1"
}

# 1. bob rings on two phones; bob1 answers after 400 ms, bob2 rings on:
# bob2 gets CANCEL, alice the 200; the call is bob1's
two bob -R $(( 400 * SCALE )) -T $(( 5 * SCALE )) -- -I 0 -T $(( 5 * SCALE ))
ua alice alice -t -c bob -H $(( 500 * SCALE )) -T $(( 4 * SCALE ))
wait "$pid_alice" "$pid_bob1" "$pid_bob2"
cat "$TMP/alice.out" "$TMP/bob1.out" "$TMP/bob2.out"
a=$(cat "$TMP/alice.out")
assert_eq "200" "$(final_of alice)" "the caller's final answer"
assert_eq "1" "$(grep -c '^RESP 200 INVITE' "$TMP/alice.out")" "200s the caller got"
assert_match "^RESP 180 INVITE" "$a" "ringing relayed"
assert_match "^RESP 200 BYE" "$a" "the caller's BYE answered"
b1=$(cat "$TMP/bob1.out")
b2=$(cat "$TMP/bob2.out")
br1=$(awk '$1 == "REQ" && $2 == "INVITE" { print $3; exit }' "$TMP/bob1.out")
br2=$(awk '$1 == "REQ" && $2 == "INVITE" { print $3; exit }' "$TMP/bob2.out")
assert_match "^z9hG4bK-t[0-9]+-" "$br1" "bob1's INVITE branch names the owner"
assert_match "^z9hG4bK-t[0-9]+-" "$br2" "bob2's INVITE branch names the owner"
[ "$br1" != "$br2" ] || fail "both forks have branch $br1"
assert_match "^REQ ACK " "$b1" "the winner got the ACK"
assert_match "^REQ BYE " "$b1" "the winner got the BYE"
assert_no_match "^REQ CANCEL" "$b1" "the winner got no CANCEL"
assert_match "^REQ CANCEL $br2" "$b2" "the other phone got CANCEL on its branch"
assert_match "^SENT 487" "$b2" "the other phone ended its INVITE"
assert_match "^REQ ACK $br2" "$b2" "afd ACKed its 487"
assert_no_match "^REQ BYE" "$b2" "the other phone got no BYE"
assert_eq "ended|2" "$(dlg "stage || '|' || forks")" "the dialog"
assert_eq "sip:callee@127.0.0.1:$(port_of bob1);transport=udp" "$(dlg b_contact)" "the B-leg is the winner's"
assert_eq "ua$(port_of bob1)" "$(dlg b_to_tag)" "the B-leg's tag is the winner's"
assert_eq "answered:200" "$(fork_of bob1)" "the winner's fork"
assert_eq "failed:487" "$(fork_of bob2)" "the cancelled fork"
assert_eq "caller hung up" "$(cdr bob)" "the CDR"
[ -n "$(sql "SELECT answered_at FROM calls WHERE callee = 'sip:bob@$DOMAIN'")" ] || fail "no answered_at"
nothing_open "after a forked call"
log_has "call [0-9]+: fork 2 to udp 127.0.0.1:" || fail "no log line for the second fork"

# 2. both fail: 503 and 486: the 486 is relayed (4xx before 5xx)
two carl -I 503 -R $(( 200 * SCALE )) -T $(( 3 * SCALE )) -- -I 486 -R $(( 500 * SCALE )) -T $(( 3 * SCALE ))
ua alice alice -c carl -T $(( 3 * SCALE ))
wait "$pid_alice" "$pid_carl1" "$pid_carl2"
cat "$TMP/alice.out"
assert_eq "486" "$(final_of alice)" "the best of 503 and 486"
assert_eq "486 Busy Here" "$(cdr carl)" "the CDR of a call whose forks all failed"
assert_eq "failed:503" "$(fork_of carl1)" "the 503 fork"
assert_eq "failed:486" "$(fork_of carl2)" "the 486 fork"
assert_match "^REQ ACK " "$(cat "$TMP/carl1.out")" "afd ACKed the 503"
nothing_open "after both forks failed"

# 2b. a 603 from one phone while the other rings: relayed at once, the
# other phone cancelled
two dora -I 603 -R $(( 300 * SCALE )) -T $(( 3 * SCALE )) -- -I 0 -T $(( 3 * SCALE ))
ua alice alice -c dora -T $(( 3 * SCALE ))
wait "$pid_alice" "$pid_dora1" "$pid_dora2"
cat "$TMP/alice.out" "$TMP/dora2.out"
assert_eq "603" "$(final_of alice)" "a 6xx relayed"
t180=$(awk '$1 == "RESP" && $2 == 180 { print $4; exit }' "$TMP/alice.out")
t603=$(awk '$1 == "RESP" && $2 == 603 { print $4; exit }' "$TMP/alice.out")
assert_le $(( t603 - t180 )) $(( 2000 * SCALE )) "the 603 came before the ring timeout"
assert_match "^REQ CANCEL " "$(cat "$TMP/dora2.out")" "the ringing phone cancelled after the 603"
assert_eq "603 Decline" "$(cdr dora)" "the CDR of a declined call"
nothing_open "after a 603"

# 2c. two 5xx: 503 becomes 500 (RFC 3261 16.7 step 6)
two eve -I 503 -T $(( 3 * SCALE )) -- -I 503 -R $(( 200 * SCALE )) -T $(( 3 * SCALE ))
ua alice alice -c eve -T $(( 3 * SCALE ))
wait "$pid_alice" "$pid_eve1" "$pid_eve2"
assert_eq "500" "$(final_of alice)" "503 from every phone"
assert_match "^500 " "$(cdr eve)" "the CDR says what the caller got"
nothing_open "after two 503s"

# 3. a 200 that crosses the CANCEL: fay2 answers after fay1 won; afd ACKs
# and BYEs it, the caller sees one 200
two fay -R $(( 300 * SCALE )) -T $(( 4 * SCALE )) -- -K -R $(( 900 * SCALE )) -T $(( 4 * SCALE ))
ua alice alice -t -c fay -H $(( 2000 * SCALE )) -T $(( 4 * SCALE ))
wait "$pid_alice" "$pid_fay1" "$pid_fay2"
cat "$TMP/alice.out" "$TMP/fay2.out"
f2=$(cat "$TMP/fay2.out")
assert_eq "1" "$(grep -c '^RESP 200 INVITE' "$TMP/alice.out")" "200s the caller got"
assert_match "^REQ CANCEL " "$f2" "the late phone got the CANCEL"
assert_match "^SENT 200 " "$f2" "the late phone answered anyway"
assert_match "^REQ ACK " "$f2" "afd ACKed the late 200"
assert_match "^REQ BYE " "$f2" "afd hung up the late phone"
assert_eq "bye:200" "$(fork_of fay2)" "the late fork"
assert_eq "answered:200" "$(fork_of fay1)" "the winner"
assert_match "^RESP 200 BYE" "$(cat "$TMP/alice.out")" "the call itself went on"
assert_eq "caller hung up" "$(cdr fay)" "the CDR"
log_has "fork z9hG4bK-[^ ]+ answered 200 too late: ACK and BYE" || fail "no log line for the late 200"
nothing_open "after a late 200"

# 4. the caller cancels while both phones ring
two gus -I 0 -T $(( 3 * SCALE )) -- -I 0 -T $(( 3 * SCALE ))
ua alice alice -c gus -X $(( 600 * SCALE )) -T $(( 3 * SCALE ))
wait "$pid_alice" "$pid_gus1" "$pid_gus2"
cat "$TMP/alice.out"
assert_eq "487" "$(final_of alice)" "the caller's CANCEL"
assert_match "^RESP 200 CANCEL" "$(cat "$TMP/alice.out")" "the CANCEL answered"
for p in gus1 gus2; do
	assert_match "^REQ CANCEL " "$(cat "$TMP/$p.out")" "$p cancelled"
	assert_eq "failed:487" "$(fork_of $p)" "$p's fork"
done
assert_eq "cancelled" "$(cdr gus)" "the CDR of a cancelled call"
nothing_open "after the caller's CANCEL"

# 5. nobody answers: after ring_timeout (3 s) 408, both phones cancelled
two hal -I 0 -T $(( 6 * SCALE )) -- -I 0 -T $(( 6 * SCALE ))
ua alice alice -c hal -T $(( 5 * SCALE ))
wait "$pid_alice" "$pid_hal1" "$pid_hal2"
assert_eq "408" "$(final_of alice)" "the ring timeout"
for p in hal1 hal2; do
	assert_match "^REQ CANCEL " "$(cat "$TMP/$p.out")" "$p cancelled at the ring timeout"
	assert_eq "failed:487" "$(fork_of $p)" "$p's fork"
done
assert_eq "no answer" "$(cdr hal)" "the CDR of an unanswered call"
nothing_open "after the ring timeout"

# 6. a phone that never answers (not even 100): when the other answers,
# its CANCEL is owed (RFC 3261 9.1), never sent; Timer B (64*T1) ends it
two ivy -R $(( 300 * SCALE )) -T $(( 4 * SCALE )) -- -n -T $(( 10 * SCALE ))
ua alice alice -c ivy -H $(( 300 * SCALE )) -T $(( 3 * SCALE ))
wait_for "[ \"\$(fork_of ivy2)\" = 'cancel_owed:-' ]" 3 || fail "no CANCEL owed to the silent phone: $(forks)"
wait "$pid_alice" "$pid_ivy1"
assert_eq "200" "$(final_of alice)" "the call with a silent phone"
wait_for "[ \"\$(fork_of ivy2)\" = 'failed:408' ]" $(( 10 * SCALE )) || fail "the silent fork: $(forks)"
kill "$pid_ivy2" 2>/dev/null
assert_no_match "^REQ CANCEL" "$(cat "$TMP/ivy2.out")" "a CANCEL before any provisional"
assert_eq "caller hung up" "$(cdr ivy)" "the CDR"
nothing_open "after a silent phone"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"

# 7. a silent phone (the newest binding, tried first) and a busy one, with
# a ring timeout longer than Timer B: when the silent fork's Timer B ends
# it, the busy phone's own 486 is relayed, not the 408 of Timer B
afd_start calls.ring_timeout=$(( 20 * SCALE )) afd.sip_t1=$(( 100 * SCALE ))
two jon -I 486 -R $(( 200 * SCALE )) -T $(( 3 * SCALE )) -- -n -T $(( 10 * SCALE ))
ua alice alice -c jon -T $(( 10 * SCALE ))
wait "$pid_alice" "$pid_jon1"
kill "$pid_jon2" 2>/dev/null
cat "$TMP/alice.out"
assert_eq "486" "$(final_of alice)" "a phone's 486 before Timer B's 408"
assert_eq "failed:408" "$(fork_of jon2)" "the silent fork"
assert_eq "486 Busy Here" "$(cdr jon)" "the CDR"
nothing_open "after a silent phone and a busy one"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
