#!/bin/bash
# Calls that do not happen, and requests for calls afd does not know:
# a busy callee (486 relayed, over UDP on both legs; afd ACKs it on the
# B-leg), an unknown callee (404), a provisioned but unregistered one (480),
# an unregistered caller (403), a loop (afd's own Via in the INVITE: 482),
# a BYE and an ACK for no call (481, ignored), a callee that does not
# answer within [calls] ring_timeout (408 to the caller, CANCEL to the
# callee). Each failed call leaves its dialogs row ended and a calls row
# with the reason; afd answers OPTIONS after each.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start calls.ring_timeout=2

# 1. busy: bob answers 486 after ringing; everything over UDP
phone bob -I 486 -R 200 -T $(( 5 * SCALE ))
registered bob
phone alice -c bob -T $(( 3 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
assert_eq "486" "$(final_of alice)" "the caller's final answer (busy)"
assert_match "^RESP 180 INVITE" "$(cat "$TMP/alice.out")" "ringing relayed first"
wait "$pid_bob"
cat "$TMP/bob.out"
assert_match "^REQ ACK z9hG4bK-u0-" "$(cat "$TMP/bob.out")" "afd ACKed the 486 on the B-leg"
assert_eq "486 Busy Here" "$(cdr bob)" "the CDR of the busy call"

# 2. unknown callee: 404; known (subscribers) but not registered: 480
sql "INSERT INTO subscribers (impi, impu) VALUES ('carol@$DOMAIN', 'sip:carol@$DOMAIN')"
phone alice -c nobody -T $(( 2 * SCALE ))
wait "$pid_alice"
assert_eq "404" "$(final_of alice)" "an unknown callee"
phone alice -c carol -T $(( 2 * SCALE ))
wait "$pid_alice"
assert_eq "480" "$(final_of alice)" "a provisioned callee not registered"
# a tel: Request-URI maps to the same AOR as sip:NUMBER@domain
out=$(FROM_USER=zed TO_USER=13800011103 req INVITE "tel:13800011103;phone-context=$DOMAIN" \
	"Contact: <sip:zed@127.0.0.1>" | sip -u -n 1 -s)
assert_match "^SIP/2.0 403 " "$out" "an INVITE from a phone that is not registered"

# 3. a loop: afd's own Via already in the request
phone dave -T $(( 3 * SCALE ))
registered dave
out=$(FROM_USER=dave TO_USER=bob req INVITE "sip:bob@$DOMAIN" "Contact: <sip:dave@127.0.0.1>" \
	"Via: SIP/2.0/UDP 127.0.0.1:$AFD_PORT;branch=z9hG4bK-t0-00112233aabbccdd" | sip -u -n 1 -s)
assert_match "^SIP/2.0 482 " "$out" "a looped INVITE"

# 4. requests for no call: BYE 481, ACK ignored, CANCEL 481
out=$(FROM_USER=dave req BYE "sip:afd@127.0.0.1:$AFD_PORT" | sed 's/^To: .*/&;tag=nosuch/' | sip -u -s)
assert_match "^SIP/2.0 481 " "$out" "a BYE for no call"
out=$(FROM_USER=dave req CANCEL "sip:bob@$DOMAIN" | sip -u -s)
assert_match "^SIP/2.0 481 " "$out" "a CANCEL for no INVITE"
FROM_USER=dave req ACK "sip:afd@127.0.0.1:$AFD_PORT" | sed 's/^To: .*/&;tag=nosuch/' | sip -u -n 0 -w 300 >/dev/null
assert_alive "requests for no call"

# 5. no answer: erin rings for ever; after ring_timeout (2 s) the caller
# gets 408 and erin a CANCEL
phone erin -I 0 -T $(( 6 * SCALE ))
registered erin
phone alice -t -c erin -T $(( 5 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
assert_eq "408" "$(final_of alice)" "the caller's answer when nobody answers"
t180=$(awk '$1 == "RESP" && $2 == 180 { print $4; exit }' "$TMP/alice.out")
t408=$(awk '$1 == "RESP" && $2 == 408 { print $4; exit }' "$TMP/alice.out")
[ $(( t408 - t180 )) -ge 1800 ] || fail "408 came $(( t408 - t180 )) ms after 180 (ring_timeout 2 s)"
wait "$pid_erin"
cat "$TMP/erin.out"
assert_match "^REQ CANCEL " "$(cat "$TMP/erin.out")" "the callee got CANCEL"
wait_for "[ \"\$(cdr erin)\" = 'no answer' ]" 3 || fail "the CDR of the unanswered call: $(cdr erin)"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
