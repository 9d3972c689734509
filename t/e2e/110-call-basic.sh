#!/bin/bash
# A call through afd, the seed's flow (../shared/seeds/README.md, "INVITE",
# "BYE"): the caller's INVITE over TCP with a 1.4 kB SDP and a VoLTE
# phone's headers (Route to afd, Require/Proxy-Require: sec-agree,
# Security-Verify); 100 at once; afd's own INVITE to the callee over UDP
# (new Call-ID, afd's tags, Max-Forwards one lower, SDP and service headers
# carried over, sec-agree and Security-Verify gone); the callee's 100
# swallowed, 180 and 200 relayed; the caller's ACK over UDP reaches the UDP
# worker and becomes the B-leg ACK; the caller's BYE relayed and its 200
# back. The dialogs row moves through the stages and a calls row is left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start afd.log_level=debug

# bob answers after ringing 300 ms; alice calls over TCP, ACKs over UDP,
# hangs up 500 ms after the 200
phone bob -R 300 -T $(( 8 * SCALE ))
wait_for "grep -q '^RESP 200 REGISTER' '$TMP/bob.out'" 5 || fail "bob did not register"
phone alice -t -b -U -c bob -H 500 -T $(( 6 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
wait "$pid_bob"
cat "$TMP/bob.out"

# what the caller saw, in order: 100, 180, 200; its BYE answered 200
seq=$(awk '$1 == "RESP" && $3 == "INVITE" { printf "%s ", $2 }' "$TMP/alice.out")
assert_eq "100 180 200 " "$seq" "the caller's answers to its INVITE"
assert_match "^RESP 200 BYE" "$(cat "$TMP/alice.out")" "the caller's BYE answered"
assert_match "^INFO Contact <sip:afd@127.0.0.1:$AFD_PORT;transport=tcp>" \
	"$(cat "$TMP/alice.out")" "afd's Contact on the caller's leg"
assert_match "^INFO resp-body" "$(cat "$TMP/alice.out")" "the callee's SDP relayed"

# what the callee saw: INVITE, ACK, BYE from afd; the INVITE afd's own
bob=$(cat "$TMP/bob.out")
assert_match "^REQ INVITE z9hG4bK-t[0-9]+-" "$bob" "the B-leg INVITE's branch names the TCP worker's slot"
assert_match "^REQ ACK " "$bob" "the B-leg ACK"
assert_match "^REQ BYE " "$bob" "the B-leg BYE"
assert_match "^INFO Max-Forwards 69" "$bob" "Max-Forwards one lower"
assert_match "^INFO hdr P-Asserted-Service: urn:urn-7:3gpp-service.ims.icsi.mmtel" "$bob" "P-Preferred-Service carried as P-Asserted-Service"
assert_match "^INFO hdr P-Asserted-Identity: <sip:alice@$DOMAIN>" "$bob" "the caller's identity asserted"
assert_match "^INFO hdr P-Early-Media: supported" "$bob" "P-Early-Media carried"
assert_match "^INFO hdr P-Access-Network-Info: " "$bob" "P-Access-Network-Info carried"
assert_match "^INFO hdr Accept-Contact: " "$bob" "Accept-Contact carried"
assert_no_match "sec-agree|Security-Verify|P-Preferred-Identity|^INFO hdr Route" "$bob" \
	"sec-agree, Security-Verify, P-Preferred-Identity and Route stay with afd"
body=$(awk '$1 == "INFO" && $2 == "body" { print $3; exit }' "$TMP/bob.out")
[ "$body" -ge 1400 ] || fail "the SDP reached the callee with $body bytes"

# the dialog and the CDR
assert_eq "ended" "$(dlg stage)" "the dialog's stage"
assert_eq "sip:alice@$DOMAIN|sip:bob@$DOMAIN" "$(dlg "caller || '|' || callee")" "caller and callee"
a=$(dlg a_call_id)
b=$(dlg b_call_id)
[ "$a" != "$b" ] || fail "the B-leg kept the caller's Call-ID"
assert_match "^call-" "$a" "the A-leg Call-ID is the caller's"
assert_match "^t[0-9]+$" "$(dlg owner_slot)" "the call is owned by the caller's TCP worker"
assert_eq "caller hung up" "$(sql "SELECT end_reason FROM calls WHERE a_call_id = '$a'")" "the CDR's end reason"
[ -n "$(sql "SELECT answered_at FROM calls WHERE a_call_id = '$a'")" ] || fail "no answered_at in the CDR"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls still active"
log_has "call 1 confirmed" || fail "no log line for the confirmed call"
log_has "udp worker: debug: sipd: ACK for a call of t[0-9]+ handed there" ||
	fail "the ACK over UDP did not go through the UDP worker to the call's owner"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
