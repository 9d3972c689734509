#!/bin/bash
# kill -9 of the UDP worker in stage 'answered' with the caller over UDP
# (the README's "kill -9 during a call" table): the 200 reached alice, whose
# ACKs are lost for a while (sipua -W: she ACKs no 2xx within that time
# of the first); the dead worker's retransmissions of the 200 die with it,
# so the replacement sends the 200 again (RFC 3261 13.3.1.4) until alice
# ACKs it: the very bytes the dead worker sent (kept in dialog_answers with
# the stage 'answered'): bob's SDP, afd's To tag and Contact. The call is
# confirmed and ends normally. Then a caller that never ACKs: after 64*T1
# the replacement ends the call with BYE to both phones. Then a caller that
# never got the first 200 (every copy from the worker that died is lost on
# the way): the replacement's 200 carries the callee's SDP and the call
# completes; the kept 200 is gone once the ACK came.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

# T1 = 200 ms: 64*T1 is 12.8 s
afd_start afd.sip_t1=200

body() { # FILE: the body of a saved SIP message (its last Content-Length bytes)
	local len
	len=$(grep -ai '^Content-Length:' "$1" | head -1 | tr -dc 0-9)
	[ -n "$len" ] && [ "$len" -gt 0 ] || fail "$1 has no body"
	tail -c "$len" "$1"
}
hdr_of() { grep -ai "^$2:" "$1" | head -1 | tr -d '\r'; } # FILE NAME: a header line

# 1. alice's ACKs are lost for 2 s; the UDP worker dies right after her 200
mkdir -p "$TMP/alice" "$TMP/bob"
phone bob -T $(( 12 * SCALE )) -B "$TMP/bob"
registered bob
phone alice -W 2000 -c bob -H 300 -T $(( 10 * SCALE )) -B "$TMP/alice"
wait_for "grep -q '^RESP 200 INVITE' '$TMP/alice.out'" 5 || fail "alice got no 200"
assert_eq "u0" "$(dlg owner_slot)" "the owner of a call over UDP"
assert_eq "answered" "$(dlg stage)" "the stage before alice's ACK"
assert_eq 1 "$(sql "SELECT count(*) FROM dialog_answers WHERE dialog_id = $(dlg id)")" \
	"the 200 kept until the ACK"
kill_owner "before alice's ACK"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
a=$(cat "$TMP/alice.out")
b=$(cat "$TMP/bob.out")
assert_match "INFO 2xx not ACKed" "$a" "alice withheld her ACK"
[ "$(grep -c '^RESP 200 INVITE' "$TMP/alice.out")" -ge 2 ] ||
	fail "alice did not get the 200 again"
log_has "answered but not ACKed when this worker's predecessor died: 2xx sent again to the caller \(as sent\)" ||
	fail "the replacement did not send the kept 200 again"
# every 200 alice got, before and after the kill, is the first one byte for
# byte, and carries bob's SDP
n=$(ls "$TMP/alice"/2xx-*.sip | wc -l)
[ "$n" -ge 2 ] || fail "alice kept $n 200s"
for f in "$TMP/alice"/2xx-*.sip; do
	cmp -s "$TMP/alice/2xx-1.sip" "$f" || {
		diff "$TMP/alice/2xx-1.sip" "$f"
		fail "$(basename "$f") differs from the first 200"
	}
done
body "$TMP/bob/sent-2xx.sip" >"$TMP/bob.sdp"
body "$TMP/alice/2xx-$n.sip" >"$TMP/alice.sdp"
cmp "$TMP/bob.sdp" "$TMP/alice.sdp" || fail "the 200 resent after the kill lacks bob's SDP"
assert_match "^Content-Type: application/sdp" "$(hdr_of "$TMP/alice/2xx-$n.sip" Content-Type)" "the resent 200's Content-Type"
assert_match "^REQ ACK " "$b" "bob got the ACK"
assert_match "^REQ BYE " "$b" "bob got the BYE"
assert_match "^RESP 200 BYE" "$a" "alice's BYE answered 200"
assert_eq "caller hung up" "$(cdr bob)" "the CDR"
assert_eq "ended" "$(dlg stage)" "the call's stage"
assert_eq 0 "$(sql 'SELECT count(*) FROM dialog_answers')" "a 200 kept after the ACK"

# 2. carol never ACKs: after 64*T1 (12.8 s) both phones get a BYE
phone dave -T $(( 25 * SCALE ))
registered dave
phone carol -W 60000 -c dave -T $(( 25 * SCALE ))
wait_for "grep -q '^RESP 200 INVITE' '$TMP/carol.out'" 5 || fail "carol got no 200"
kill_owner "before carol's ACK (never sent)"
wait_for "[ \"\$(dlg stage)\" = ended ]" $(( 20 * SCALE )) ||
	fail "the call was not ended without an ACK"
wait_for "grep -q '^REQ BYE' '$TMP/carol.out' && grep -q '^REQ BYE' '$TMP/dave.out'" 3 ||
	fail "no BYE to both phones"
kill "$pid_carol" "$pid_dave" 2>/dev/null
wait "$pid_carol" "$pid_dave" 2>/dev/null
cat "$TMP/carol.out" "$TMP/dave.out"
assert_eq "no ACK from the caller" "$(cdr dave)" "the CDR without an ACK"
[ "$(grep -c '^RESP 200 INVITE' "$TMP/carol.out")" -ge 3 ] ||
	fail "carol did not get the 200 again"
log_has "no ACK from the caller within 64\*T1: ended with BYE" ||
	fail "no log line for the call ended without an ACK"

assert_eq 0 "$(sql 'SELECT count(*) FROM dialog_answers')" "a 200 kept after the call ended"

# 3. erin never gets the first 200: every copy from the worker that dies is
# lost (sipua -G); the replacement's 200 reaches her with frank's SDP, afd's
# To tag and Contact, and the call completes
mkdir -p "$TMP/erin" "$TMP/frank"
phone frank -T $(( 12 * SCALE )) -B "$TMP/frank"
registered frank
phone erin -G 1500 -c frank -H 300 -T $(( 10 * SCALE )) -B "$TMP/erin"
wait_for "grep -q '^INFO 2xx lost' '$TMP/erin.out'" 5 || fail "no 200 came to erin"
assert_eq "answered" "$(dlg stage)" "the stage when erin lost the 200"
kill_owner "before erin got any 200"
wait "$pid_erin" "$pid_frank"
cat "$TMP/erin.out" "$TMP/frank.out"
e=$(cat "$TMP/erin.out")
f=$(cat "$TMP/frank.out")
[ "$(grep -c '^RESP 200 INVITE' "$TMP/erin.out")" -ge 1 ] || fail "erin never got the 200"
[ -f "$TMP/erin/2xx-1.sip" ] || fail "erin kept no 200"
body "$TMP/frank/sent-2xx.sip" >"$TMP/frank.sdp"
body "$TMP/erin/2xx-1.sip" >"$TMP/erin.sdp"
cmp "$TMP/frank.sdp" "$TMP/erin.sdp" || fail "the replacement's 200 lacks frank's SDP"
assert_match "tag=$(dlg a_to_tag)" "$(hdr_of "$TMP/erin/2xx-1.sip" To)" "afd's To tag in the replacement's 200"
assert_match "^Contact: <sip:afd@127\.0\.0\.1:$AFD_PORT;transport=udp>" \
	"$(hdr_of "$TMP/erin/2xx-1.sip" Contact)" "afd's Contact in the replacement's 200"
assert_match "^REQ ACK " "$f" "frank got the ACK"
assert_match "^REQ BYE " "$f" "frank got the BYE"
assert_match "^RESP 200 BYE" "$e" "erin's BYE answered 200"
assert_eq "caller hung up" "$(cdr frank)" "the CDR of erin's call"
assert_eq 0 "$(sql 'SELECT count(*) FROM dialog_answers')" "a 200 kept after erin's ACK"

assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
