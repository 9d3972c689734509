#!/bin/bash
# A call between two softphones that registered with Digest ([auth] mode
# = auto; build/t/tools/sipua -P answers the 401): the INVITE from the
# caller's registered source passes the gate and the call is set up and
# hung up. An INVITE claiming to be alice from a source that registered
# nothing gets 403 Not Registered From Here (the P-CSCF source check;
# P-Preferred-Identity is covered by the unit test authgate).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authlib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start auth.mode=auto
sql "INSERT INTO subscribers (impi, impu, password) VALUES
	('alice@$DOMAIN', 'sip:alice@$DOMAIN', 'alice-pw'),
	('bob@$DOMAIN', 'sip:bob@$DOMAIN', 'bob-pw')"

say "without the password: 401 and no binding"
phone carol -T 2
wait "$pid_carol"
assert_match '^RESP 401 REGISTER' "$(cat "$TMP/carol.out")" "carol challenged"

say "bob and alice register with Digest; alice calls bob"
phone bob -P bob-pw -T $(( 8 * SCALE ))
wait_for "grep -q '^RESP 200 REGISTER' '$TMP/bob.out'" 5 || fail "bob did not register: $(cat "$TMP/bob.out")"
phone alice -P alice-pw -c bob -H 300 -T $(( 5 * SCALE ))
wait "$pid_alice"
cat "$TMP/alice.out"
assert_match '^RESP 401 REGISTER' "$(cat "$TMP/alice.out")" "alice challenged"
assert_match '^RESP 200 REGISTER' "$(cat "$TMP/alice.out")" "alice registered"
assert_match '^RESP 200 INVITE' "$(cat "$TMP/alice.out")" "the call answered"
assert_eq "alice@$DOMAIN" "$(sql "SELECT impi FROM registrations WHERE aor = 'sip:alice@$DOMAIN'")" "alice's impi"

say "an INVITE for alice from a source that registered nothing: 403"
inv() {
	FROM_USER=alice TO_USER=bob req INVITE "sip:bob@$DOMAIN" \
		"Contact: <sip:alice@127.0.0.1:\$LPORT>" "Content-Type: application/sdp" "$@"
}
out=$(BODY=$'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n' inv | sip -u)
assert_eq "SIP/2.0 403 Not Registered From Here" "$(printf '%s\n' "$out" | head -n 1)" "spoofed INVITE"
log_has "INVITE from 127.0.0.1 for sip:alice@$DOMAIN: no binding" || fail "no log line for the spoofed INVITE"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
