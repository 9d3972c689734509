#!/bin/bash
# Pager-mode MESSAGE (RFC 3428) to an AOR registered from two phones: both
# get it (the same body, a branch each, afd's own request), the sender gets
# the first 2xx (a later answer is absorbed: no second answer, no CANCEL),
# or, when both fail, the best failure (RFC 3261 16.7: 486 before 503; 401
# before 404; two 503s as 500); a phone that never answers counts as 408
# only after Timer F (64*T1; sip_t1 = 100 ms here), so the sender gets the
# other phone's 486, not 408. One binding: the answer relayed as before.
# A forked MESSAGE is recorded nowhere: no dialogs, forks, relays or calls
# (one binding: a dialog_relays row until the answer, e2e 170).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start afd.sip_t1=100

# the MESSAGE's final answers the sender got: "STATUS ..." one a line
finals() { awk '$1 == "RESP" && $3 == "MESSAGE" && $2 >= 200 { print $2 }' "$TMP/$1.out"; }
final_ms() { awk '$1 == "RESP" && $3 == "MESSAGE" && $2 >= 200 { print $4; exit }' "$TMP/$1.out"; }
body_of() { awk '$1 == "INFO" && $2 == "message" { print $3; exit }' "$TMP/$1.out"; }
branch_of() { awk '$1 == "REQ" && $2 == "MESSAGE" { print $3; exit }' "$TMP/$1.out"; }
got() { # PHONE: how many MESSAGEs it got (a UDP retransmission is the same one)
	awk '$1 == "REQ" && $2 == "MESSAGE" { print $3 }' "$TMP/$1.out" | sort -u | wc -l
}
nothing_recorded() { # WHAT
	assert_eq "0 0 0 0" "$(sql "SELECT (SELECT count(*) FROM dialogs),
		(SELECT count(*) FROM dialog_forks), (SELECT count(*) FROM dialog_relays),
		(SELECT count(*) FROM calls)" | tr '|' ' ')" "rows left $1"
}
both_got() { # USER: both phones got the MESSAGE once, the sender's body, on branches of their own
	local u=$1
	assert_eq "1" "$(got "${u}1")" "${u}1's MESSAGEs"
	assert_eq "1" "$(got "${u}2")" "${u}2's MESSAGEs"
	assert_match "^hello-from-alice-" "$(body_of "${u}1")" "${u}1 got the body"
	assert_eq "$(body_of "${u}1")" "$(body_of "${u}2")" "both phones' bodies"
	assert_match "^z9hG4bK-[ut][0-9]+-" "$(branch_of "${u}1")" "${u}1's branch is afd's"
	assert_match "^z9hG4bK-[ut][0-9]+-" "$(branch_of "${u}2")" "${u}2's branch is afd's"
	[ "$(branch_of "${u}1")" != "$(branch_of "${u}2")" ] ||
		fail "both phones got branch $(branch_of "${u}1")"
}

# 1. bob1 answers 200 after 300 ms, bob2 480 at once: the sender gets the
# 200 (the 480 alone does not end it); no CANCEL to anyone
two bob -D 300 -T $(( 3 * SCALE )) -- -s 480 -t -T $(( 3 * SCALE ))
log_mark
ua alice alice -M -c bob -T $(( 2 * SCALE ))
wait "$pid_alice" "$pid_bob1" "$pid_bob2"
cat "$TMP/alice.out" "$TMP/bob1.out" "$TMP/bob2.out"
assert_eq "200" "$(finals alice | tr '\n' ' ' | sed 's/ $//')" "the sender's answers"
both_got bob
assert_no_match "^REQ CANCEL" "$(cat "$TMP/bob1.out" "$TMP/bob2.out")" "no CANCEL for a MESSAGE"
log_since "MESSAGE sip:alice@$DOMAIN -> sip:bob@$DOMAIN: 2 bindings, forked" ||
	fail "the fork is not logged"
nothing_recorded "after a MESSAGE answered 200"

# 2. both phones answer 200: one 200 to the sender, the other absorbed
two cid -T $(( 3 * SCALE )) -- -D 300 -T $(( 3 * SCALE ))
log_mark
ua alice alice -t -M -c cid -T $(( 2 * SCALE ))
wait "$pid_alice" "$pid_cid1" "$pid_cid2"
cat "$TMP/alice.out"
assert_eq "200" "$(finals alice | tr '\n' ' ' | sed 's/ $//')" "the sender's answers"
both_got cid
wait_log "answered 200 after the sender had its answer: absorbed" 3

# 3. both fail, 503 and 486: the 486 is relayed (a lower class)
two dee -s 503 -T $(( 3 * SCALE )) -- -s 486 -D 200 -T $(( 3 * SCALE ))
ua alice alice -M -c dee -T $(( 2 * SCALE ))
wait "$pid_alice" "$pid_dee1" "$pid_dee2"
cat "$TMP/alice.out"
assert_eq "486" "$(finals alice | tr '\n' ' ' | sed 's/ $//')" "the best of 503 and 486"
both_got dee

# 4. both fail, 404 and 401: the 401 (the sender can try again)
two eli -s 404 -D 200 -T $(( 3 * SCALE )) -- -s 401 -T $(( 3 * SCALE ))
ua alice alice -M -c eli -T $(( 2 * SCALE ))
wait "$pid_alice" "$pid_eli1" "$pid_eli2"
assert_eq "401" "$(finals alice | tr '\n' ' ' | sed 's/ $//')" "the best of 404 and 401"

# 5. both 503: 500 (RFC 3261 16.7: a 503 is not passed on)
two fox -s 503 -T $(( 3 * SCALE )) -- -s 503 -T $(( 3 * SCALE ))
ua alice alice -M -c fox -T $(( 2 * SCALE ))
wait "$pid_alice" "$pid_fox1" "$pid_fox2"
assert_eq "500" "$(finals alice | tr '\n' ' ' | sed 's/ $//')" "two 503s"

# 6. gil1 never answers, gil2 486 at once: nothing before gil1's Timer F
# (64*T1 = 6.4 s), then the 486, not 408
two gil -n -T $(( 9 * SCALE )) -- -s 486 -T $(( 9 * SCALE ))
log_mark
ua alice alice -M -c gil -T $(( 9 * SCALE ))
wait "$pid_alice" "$pid_gil1" "$pid_gil2"
cat "$TMP/alice.out"
assert_eq "486" "$(finals alice | tr '\n' ' ' | sed 's/ $//')" "a silent phone and a 486"
both_got gil
[ "$(final_ms alice)" -ge 6000 ] || fail "the 486 came before Timer F: $(final_ms alice) ms"
log_since "MESSAGE to sip:gil@$DOMAIN: all 2 branches failed: 486 relayed" ||
	fail "the failure is not logged"

# 7. one binding: as before (its 486 relayed, its 200 relayed)
ua hal1 hal -s 486 -T $(( 2 * SCALE ))
registered hal1
log_mark
ua alice alice -M -c hal -T $(( 2 * SCALE ))
wait "$pid_alice" "$pid_hal1"
assert_eq "486" "$(finals alice | tr '\n' ' ' | sed 's/ $//')" "one binding's 486"
assert_eq "1" "$(got hal1)" "hal1's MESSAGEs"
log_since "forked" && fail "a single binding was forked"

# 8. kill -9 of the relaying worker (alice's TCP worker) while both phones
# hold the MESSAGE: the slot is replaced, the phones' late answers reach
# the replacement, which has nothing for them (nothing was recorded: the
# sender's own Timer F ends its request); afd goes on, and the next
# MESSAGE to the two phones is forked and answered
two ivy -D 1500 -T $(( 10 * SCALE )) -- -t -D 1500 -T $(( 10 * SCALE ))
ua alice alice -t -M -c ivy -T $(( 3 * SCALE ))
wait_for "[ \"\$(got ivy1)\" = 1 ] && [ \"\$(got ivy2)\" = 1 ]" 3 ||
	fail "the phones did not get the MESSAGE"
slot=$(branch_of ivy1 | sed -E 's/^z9hG4bK-(t[0-9]+)-.*/\1/')
pid=$(worker_pid "$slot")
[ -n "$pid" ] || fail "no worker for slot $slot"
log_mark
kill -9 "$pid"
say "killed $slot (pid $pid) with a forked MESSAGE in flight"
wait_for "log_since 'started tcp worker $slot'" 5 || fail "slot $slot was not replaced"
wait "$pid_alice"
sleep 2 # the phones' answers reach the replacement
assert_alive "the answers of a MESSAGE whose worker died"
ua alice alice -M -c ivy -T $(( 5 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
assert_eq "200" "$(finals alice | tr '\n' ' ' | sed 's/ $//')" "a MESSAGE after the kill"
wait "$pid_ivy1" "$pid_ivy2"
assert_eq "2" "$(got ivy1)" "ivy1's MESSAGEs"
assert_eq "2" "$(got ivy2)" "ivy2's MESSAGEs"
nothing_recorded "at the end"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
