#!/bin/bash
# Real clients for forking: two SIPp UAS processes registered as the SAME
# AOR (bob, two bindings: two ports, two +sip.instance), and a SIPp UAC
# (alice, registered) calling bob through afd (t/sipp/fork-*.xml). afd
# INVITEs both phones; both ring (180); one answers 200 after a pause,
# the other must get CANCEL and answer 487 (its SIPp call fails without
# it). The caller sees two 180s in two early dialogs (two To tags of
# afd's) and the 200 in the winner's, ACKs and hangs up in it; every
# SIPp call succeeds by SIPp's own count. Then the dialogs, dialog_forks
# and calls rows are checked with sqlite3. Then the same with reliable
# 183s (RSeq 1 and 500 from the two phones, each PRACKed in its own early
# dialog and the PRACK checked at the phone that sent the 183).
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/sipplib.sh"
afd_start

ANS_PORT=$("$SIPSEND" -P -p 21000)
RING_PORT=$("$SIPSEND" -P -p 23000)
UAC_PORT=$("$SIPSEND" -P -p 41000)

# the two phones of bob and alice's, each registered from its own port
sippx reg-ans -sf "$SIPP/register-aor.xml" -key aor bob -m 1 -p "$ANS_PORT" ||
	fail "SIPp could not register bob's first phone: $(sipp_failed reg-ans)"
sippx reg-ring -sf "$SIPP/register-aor.xml" -key aor bob -m 1 -p "$RING_PORT" ||
	fail "SIPp could not register bob's second phone: $(sipp_failed reg-ring)"
sippx reg-alice -sf "$SIPP/register-aor.xml" -key aor alice -m 1 -p "$UAC_PORT" ||
	fail "SIPp could not register alice: $(sipp_failed reg-alice)"
assert_eq "2" "$(sql "SELECT count(*) FROM active_registrations WHERE aor = 'sip:bob@$DOMAIN'")" "bob's bindings"

# the phones: one answers after 1 s, the other rings until cancelled
sippx ans -sf "$SIPP/fork-uas-answer.xml" -m 1 -d $(( 1000 * SCALE )) -p "$ANS_PORT" &
ans=$!
sippx ring -sf "$SIPP/fork-uas-ring.xml" -m 1 -p "$RING_PORT" &
ring=$!
E2E_PIDS="$E2E_PIDS $ans $ring"
sleep 0.3
sippx uac -sf "$SIPP/fork-uac.xml" -key aor alice -key callee bob -m 1 \
	-d $(( 500 * SCALE )) -p "$UAC_PORT" ||
	fail "SIPp's call failed: $(sipp_failed uac)"
wait "$ans" || fail "the phone that answers failed: $(sipp_failed ans)"
wait "$ring" || fail "the phone that rang failed (no CANCEL, or no ACK of its 487): $(sipp_failed ring)"
cat "$TMP"/sipp-log.*.log
say "SIPp: alice -> afd -> bob (two phones): answered by one, the other cancelled"

# the caller's view: two early dialogs, the call in the winner's
uac=$(cat "$TMP/sipp-log.uac.log")
t1=$(sed -n 's/^180 To-tag //p' "$TMP/sipp-log.uac.log" | sed -n 1p)
t2=$(sed -n 's/^180 To-tag //p' "$TMP/sipp-log.uac.log" | sed -n 2p)
t3=$(sed -n 's/^200 To-tag //p' "$TMP/sipp-log.uac.log")
assert_match "^[0-9a-f]{16}-[12]$" "$t1" "afd's tag on the first 180"
assert_match "^[0-9a-f]{16}-[12]$" "$t2" "afd's tag on the second 180"
[ "$t1" != "$t2" ] || fail "both phones' 180s in one early dialog ($t1)"
[ "$t3" = "$t1" ] || [ "$t3" = "$t2" ] || fail "the 200's tag $t3 is no early dialog's ($t1, $t2)"
assert_match "ACK to ans$ANS_PORT" "$(cat "$TMP/sipp-log.ans.log")" "the caller's ACK reached the phone that answered"
assert_match "CANCEL and 487 done" "$(cat "$TMP/sipp-log.ring.log")" "the other phone was cancelled"

# afd's rows
assert_eq "ended|2|$t3|ans$ANS_PORT" "$(sql "SELECT stage || '|' || forks || '|' || a_to_tag || '|' || b_to_tag
	FROM dialogs ORDER BY id DESC LIMIT 1")" "the dialogs row (stage, forks, afd's tag, the B-leg's)"
forks=$(sql "SELECT target || ' ' || state || ':' || status || ' ' || to_tag FROM dialog_forks
	WHERE dialog_id = (SELECT max(id) FROM dialogs) ORDER BY id")
say "forks: $forks"
assert_match ":$ANS_PORT;transport=udp answered:200 ans$ANS_PORT$" "$forks" "the winner's fork"
assert_match ":$RING_PORT;transport=udp failed:487 ring$RING_PORT$" "$forks" "the cancelled fork"
assert_eq "sip:alice@$DOMAIN|caller hung up|1" "$(sql "SELECT caller || '|' || end_reason || '|' ||
	(answered_at IS NOT NULL) FROM calls WHERE callee = 'sip:bob@$DOMAIN'")" "the CDR"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"

# 2. the same with reliable 183s (RFC 3262): carl's two phones send 183
# with RSeq 1 and 500; alice PRACKs each in its own early dialog, each
# PRACK reaches the phone whose 183 it acknowledges (the phones check
# RAck), one phone answers, the other is cancelled
ANS_PORT=$("$SIPSEND" -P -p 25000)
RING_PORT=$("$SIPSEND" -P -p 27000)
rm -f "$TMP"/sipp-log.*.log
sippx reg-ans2 -sf "$SIPP/register-aor.xml" -key aor carl -m 1 -p "$ANS_PORT" ||
	fail "SIPp could not register carl's first phone: $(sipp_failed reg-ans2)"
sippx reg-ring2 -sf "$SIPP/register-aor.xml" -key aor carl -m 1 -p "$RING_PORT" ||
	fail "SIPp could not register carl's second phone: $(sipp_failed reg-ring2)"
sippx ans2 -sf "$SIPP/fork-uas-100rel-answer.xml" -m 1 -d $(( 1500 * SCALE )) -p "$ANS_PORT" &
ans=$!
sippx ring2 -sf "$SIPP/fork-uas-100rel-ring.xml" -m 1 -d $(( 400 * SCALE )) -p "$RING_PORT" &
ring=$!
E2E_PIDS="$E2E_PIDS $ans $ring"
sleep 0.3
sippx uac2 -sf "$SIPP/fork-uac-100rel.xml" -key aor alice -key callee carl -m 1 \
	-d $(( 500 * SCALE )) -p "$UAC_PORT" ||
	fail "SIPp's call with reliable 183s failed: $(sipp_failed uac2)"
wait "$ans" || fail "the phone that answers failed: $(sipp_failed ans2)"
wait "$ring" || fail "the phone that rang failed: $(sipp_failed ring2)"
cat "$TMP"/sipp-log.*.log
t1=$(sed -n 's/^183 To-tag \([^ ]*\) RSeq 1$/\1/p' "$TMP/sipp-log.uac2.log")
t2=$(sed -n 's/^183 To-tag \([^ ]*\) RSeq 500$/\1/p' "$TMP/sipp-log.uac2.log")
t3=$(sed -n 's/^200 To-tag //p' "$TMP/sipp-log.uac2.log")
assert_match "^[0-9a-f]{16}-[12]$" "$t1" "afd's tag on the 183 with RSeq 1"
assert_match "^[0-9a-f]{16}-[12]$" "$t2" "afd's tag on the 183 with RSeq 500"
[ "$t1" != "$t2" ] || fail "both phones' reliable 183s in one early dialog ($t1)"
assert_eq "$t1" "$t3" "the 200 is in the early dialog of the phone that answered"
assert_match "PRACK to rel$ANS_PORT: RAck *1 1 INVITE" "$(cat "$TMP/sipp-log.ans2.log")" "the PRACK of RSeq 1 at its phone"
assert_match "PRACK to relr$RING_PORT: RAck *500 1 INVITE" "$(cat "$TMP/sipp-log.ring2.log")" "the PRACK of RSeq 500 at its phone"
assert_match "ACK to rel$ANS_PORT" "$(cat "$TMP/sipp-log.ans2.log")" "the caller's ACK reached the phone that answered"
assert_match "CANCEL and 487 done" "$(cat "$TMP/sipp-log.ring2.log")" "the other phone was cancelled"
assert_eq "ended|2|$t1|rel$ANS_PORT" "$(sql "SELECT stage || '|' || forks || '|' || a_to_tag || '|' || b_to_tag
	FROM dialogs ORDER BY id DESC LIMIT 1")" "the dialogs row of the call with reliable 183s"
assert_eq "caller hung up" "$(sql "SELECT end_reason FROM calls WHERE callee = 'sip:carl@$DOMAIN'")" "its CDR"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
