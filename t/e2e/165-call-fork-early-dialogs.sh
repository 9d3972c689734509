#!/bin/bash
# A forked call's early dialogs (RFC 3261 12.1, 13.2.2.4; RFC 3262): each
# phone of the callee is an early dialog of its own at the caller, with
# afd's To tag of that fork, as a forking proxy would present them. Two
# phones of bob send a reliable 183 each, with their own RSeq spaces (7
# and 500): the caller sees two 183s with two To tags, PRACKs each in its
# own early dialog, and each PRACK (RAck mapped) reaches the phone whose
# 183 it acknowledges; the caller's UPDATE goes to the phone of the early
# dialog it names. The phone that answers 200 makes its early dialog the
# call (the 200 carries that fork's tag, the dialogs row keeps it, the ACK
# and BYE in it reach that phone); the other is CANCELled. Then the same
# with the owner killed (kill -9) while both phones are early: the
# replacement relays the 200 in the winner's early dialog from the rows.
# Last, a PRACK to a tag afd never gave is 481, an UPDATE of either
# phone reaches the caller, and a BYE of the caller in one early dialog
# goes to that phone while the other is cancelled.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start afd.sip_t1=$(( 100 * SCALE ))

fork_of() { # PHONE: the state:status of the fork to that phone
	sql "SELECT state || ':' || ifnull(status, '-') FROM dialog_forks WHERE
	     dialog_id = (SELECT max(id) FROM dialogs) AND
	     target LIKE '%:$(port_of "$1");%'"
}
tag_of_rseq() { # CALLER RSEQ: afd's To tag on the reliable 183 with that RSeq
	awk -v r="$2" '$1 == "INFO" && $2 == "To-tag" && $3 == 183 { t = $4 }
		$1 == "INFO" && $2 == "RSeq" && $3 == r { print t; exit }' "$TMP/$1.out"
}
tag_200() { awk '$1 == "INFO" && $2 == "To-tag" && $3 == 200 { print $4; exit }' "$TMP/$1.out"; }
nothing_open() { # WHAT
	assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls still active $1"
	assert_eq "0" "$(sql "SELECT count(*) FROM dialog_forks WHERE state IN
		('calling', 'early', 'cancel_owed', 'cancelled')")" "forks still pending $1"
}
early_dialogs() { # CALLER W1 W2: the caller had one early dialog per phone
	local t1 t2 base
	t1=$(tag_of_rseq "$1" 7)
	t2=$(tag_of_rseq "$1" 500)
	say "early dialogs: RSeq 7 in $t1, RSeq 500 in $t2"
	assert_match "^[0-9a-f]{16}-[12]$" "$t1" "afd's tag of the first phone's early dialog"
	assert_match "^[0-9a-f]{16}-[12]$" "$t2" "afd's tag of the second phone's early dialog"
	[ "$t1" != "$t2" ] || fail "both 183s in one early dialog ($t1)"
	base=${t1%-*}
	assert_eq "$base" "${t2%-*}" "both early dialogs' tags derive from the call's"
	assert_eq "2" "$(grep -c '^RESP 200 PRACK' "$TMP/$1.out")" "PRACKs answered 200"
	assert_match "^INFO RAck 7 1 INVITE" "$(cat "$TMP/$2.out")" "$2 got the PRACK of its own 183"
	assert_match "^INFO RAck 500 1 INVITE" "$(cat "$TMP/$3.out")" "$3 got the PRACK of its own 183"
	assert_no_match "^INFO RAck 500" "$(cat "$TMP/$2.out")" "$2 got no PRACK of the other 183"
	assert_no_match "^INFO RAck 7 " "$(cat "$TMP/$3.out")" "$3 got no PRACK of the other 183"
}
won() { # CALLER WINNER LOSER
	local a w l t
	a=$(cat "$TMP/$1.out")
	w=$(cat "$TMP/$2.out")
	l=$(cat "$TMP/$3.out")
	t=$(tag_of_rseq "$1" 7)
	assert_eq "200" "$(final_of "$1")" "$1's final answer"
	assert_eq "$t" "$(tag_200 "$1")" "the 200 is in the winner's early dialog"
	assert_eq "$t" "$(dlg a_to_tag)" "the dialogs row keeps the winner's tag"
	assert_eq "ua$(port_of "$2")" "$(dlg b_to_tag)" "the B-leg is the winner's"
	assert_match "^RESP 200 BYE" "$a" "$1's BYE answered (in the winner's dialog)"
	assert_match "^REQ ACK " "$w" "$2 got the ACK"
	assert_match "^REQ BYE " "$w" "$2 got the BYE"
	assert_match "^REQ CANCEL " "$l" "$3 got the CANCEL"
	assert_match "^SENT 487 " "$l" "$3 ended its INVITE"
	assert_no_match "^REQ BYE " "$l" "$3 got no BYE"
	assert_eq "answered:200" "$(fork_of "$2")" "$2's fork"
	assert_eq "failed:487" "$(fork_of "$3")" "$3's fork"
	assert_eq "caller hung up" "$(cdr "${2%[12]}")" "the CDR"
}

# 1. bob1 (RSeq 7) answers 1 s after its PRACK, bob2 (RSeq 500) rings on
two bob -r -R $(( 1000 * SCALE )) -T $(( 5 * SCALE )) -- -r -Q 500 -I 0 -T $(( 5 * SCALE ))
ua alice alice -r -c bob -H 300 -T $(( 4 * SCALE ))
wait "$pid_alice" "$pid_bob1" "$pid_bob2"
cat "$TMP/alice.out" "$TMP/bob1.out" "$TMP/bob2.out"
early_dialogs alice bob1 bob2
assert_match "^RESP 200 UPDATE" "$(cat "$TMP/alice.out")" "the caller's UPDATE answered"
assert_eq "1" "$(cat "$TMP/bob1.out" "$TMP/bob2.out" | grep -c '^REQ UPDATE')" "UPDATEs the phones got"
won alice bob1 bob2
nothing_open "after a forked call with two early dialogs"

# 2. the same over TCP, the owner killed while both phones are early
# (both PRACKs answered); bob1 answers after the replacement is up
two carl -r -R $(( 2500 * SCALE )) -T $(( 8 * SCALE )) -- -r -Q 500 -I 0 -T $(( 8 * SCALE ))
ua alice alice -t -r -c carl -H 300 -T $(( 7 * SCALE ))
wait_for "[ \"\$(grep -c '^RESP 200 PRACK' '$TMP/alice.out')\" = 2 ]" 3 ||
	fail "the caller did not PRACK both 183s: $(cat "$TMP/alice.out")"
slot=$(dlg owner_slot)
pid=$(worker_pid "$slot")
[ -n "$pid" ] || fail "no worker for slot $slot"
kill -9 "$pid"
say "killed $slot (pid $pid) with both phones early"
wait "$pid_alice" "$pid_carl1" "$pid_carl2"
cat "$TMP/alice.out" "$TMP/carl1.out" "$TMP/carl2.out"
early_dialogs alice carl1 carl2
won alice carl1 carl2
log_has "answer 200 of .* reached a restarted worker" || fail "no log line for the 200 handled from the rows"
nothing_open "after the owner's kill with two early dialogs"

# 3. a PRACK naming an early dialog afd never made: 481; an UPDATE of
# either phone reaches the caller
two dan -r -I 0 -T $(( 4 * SCALE )) -- -r -Q 500 -I 0 -T $(( 4 * SCALE ))
ua alice alice -r -c dan -X $(( 1500 * SCALE )) -T $(( 3 * SCALE ))
wait_for "[ \"\$(grep -c '^RESP 200 PRACK' '$TMP/alice.out')\" = 2 ]" 3 ||
	fail "the caller did not PRACK both 183s"
cid=$(dlg a_call_id)
ftag=$(dlg a_from_tag)
base=$(dlg a_to_tag)
base=${base%-*}
for bad in "$base-3" "$base" "${base}x-1"; do
	out=$(CALLID=$cid CSEQ=9 req PRACK "sip:afd@127.0.0.1:$AFD_PORT" "RAck: 7 1 INVITE" |
		sed -e "s/^From: .*/From: <sip:alice@$DOMAIN>;tag=$ftag/" \
		    -e "s/^To: .*/To: <sip:dan@$DOMAIN>;tag=$bad/" | sip)
	assert_eq "481" "$(status_of "$out")" "a PRACK to early dialog $bad"
done
# and an UPDATE of each phone reaches the caller in that phone's early
# dialog (one of them is not the row's current one)
bcid=$(dlg b_call_id)
btag=$(dlg b_from_tag)
for p in dan1 dan2; do
	out=$(CALLID=$bcid CSEQ=5 req UPDATE "sip:afd@127.0.0.1:$AFD_PORT" |
		sed -e "s/^From: .*/From: <sip:dan@$DOMAIN>;tag=ua$(port_of $p)/" \
		    -e "s/^To: .*/To: <sip:alice@$DOMAIN>;tag=$btag/" | sip)
	assert_eq "200" "$(status_of "$out")" "an UPDATE of $p in its early dialog"
done
assert_eq "2" "$(grep -c '^REQ UPDATE' "$TMP/alice.out")" "UPDATEs the caller got"
wait "$pid_alice" "$pid_dan1" "$pid_dan2"
assert_eq "487" "$(final_of alice)" "the caller's CANCEL"
nothing_open "after a cancelled call with two early dialogs"

# 4. a BYE of the caller in one early dialog (RFC 3261 15): it goes to
# that dialog's phone, the caller's INVITE gets 487, the other phone is
# cancelled
two eve -r -I 0 -T $(( 4 * SCALE )) -- -r -Q 500 -I 0 -T $(( 4 * SCALE ))
ua alice alice -r -c eve -T $(( 3 * SCALE ))
wait_for "[ \"\$(grep -c '^RESP 200 PRACK' '$TMP/alice.out')\" = 2 ]" 3 ||
	fail "the caller did not PRACK both 183s"
t7=$(tag_of_rseq alice 7)
out=$(CALLID=$(dlg a_call_id) CSEQ=9 req BYE "sip:afd@127.0.0.1:$AFD_PORT" |
	sed -e "s/^From: .*/From: <sip:alice@$DOMAIN>;tag=$(dlg a_from_tag)/" \
	    -e "s/^To: .*/To: <sip:eve@$DOMAIN>;tag=$t7/" | sip)
say "the early BYE in $t7 answered: $(status_of "$out")"
wait "$pid_alice" "$pid_eve1" "$pid_eve2"
cat "$TMP/alice.out" "$TMP/eve1.out" "$TMP/eve2.out"
assert_eq "487" "$(final_of alice)" "the caller's INVITE after its early BYE"
assert_match "^REQ BYE " "$(cat "$TMP/eve1.out")" "the BYE reached the phone of its early dialog"
assert_no_match "^REQ CANCEL" "$(cat "$TMP/eve1.out")" "that phone got no CANCEL"
assert_match "^REQ CANCEL " "$(cat "$TMP/eve2.out")" "the other phone was cancelled"
assert_eq "failed:487" "$(fork_of eve2)" "the other phone's fork"
assert_eq "caller hung up" "$(cdr eve)" "the CDR"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
