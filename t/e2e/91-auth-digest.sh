#!/bin/bash
# Digest authentication ([auth] mode = digest): a softphone's REGISTER
# without credentials gets 401 with realm, nonce, qop="auth",
# algorithm=MD5, opaque; the right password (username as the IMPI or as
# its user part) registers, with impi stored on the binding and
# P-Associated-URI listing the identities; a wrong password is 403 and
# changes nothing; a replayed nc gets a fresh 401 stale=true; a nonce
# older than nonce_lifetime gets 401 stale=true; a malformed
# Authorization is 400 naming the fault; a subscriber added with sqlite3
# while afd runs registers at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authlib.sh"

afd_start auth.mode=digest auth.nonce_lifetime=3
sql "INSERT INTO subscribers (impi, impu, password, extra_impu) VALUES
	('alice@$DOMAIN', 'sip:alice@$DOMAIN', 'wonderland', 'tel:+15551234, sip:al@$DOMAIN')"

say "no credentials: a challenge"
out=$(CALLID=d1 reg_msg alice | sip -u) || fail "no answer"
ch=$(challenge "$out")
echo "$ch"
assert_match '^Digest realm="'"$REALM"'", nonce="[A-Za-z0-9+/=]{44}", qop="auth", algorithm=MD5, opaque="[0-9a-f]+"$' "$ch" "the challenge's form"
nonce=$(dparam nonce "$ch")
assert_eq 0 "$(sql 'SELECT count(*) FROM registrations')" "no binding after the 401"

say "a wrong password: 403, nothing stored"
out=$(CALLID=d1 CSEQ=2 reg_msg alice "$(digest_auth "alice@$DOMAIN" wrong "$nonce")" | sip -u)
assert_eq 403 "$(status_of "$out")" "wrong password"
assert_eq 0 "$(sql 'SELECT count(*) FROM registrations')" "no binding after the 403"
log_has "403 Forbidden to 127.0.0.1 \(sip:alice@$DOMAIN\): wrong response" || fail "no log line for the wrong password"

say "the right password: 200"
auth=$(digest_auth "alice@$DOMAIN" wonderland "$nonce")
out=$(CALLID=d1 CSEQ=3 reg_msg alice "$auth" | sip -u)
echo "$out"
assert_eq 200 "$(status_of "$out")" "right password"
assert_match "^P-Associated-URI: <sip:alice@$DOMAIN>, <tel:\+15551234>, <sip:al@$DOMAIN>" "$out" "P-Associated-URI"
assert_eq "alice@$DOMAIN" "$(sql "SELECT impi FROM registrations WHERE aor = 'sip:alice@$DOMAIN'")" "impi stored"

say "the same nc again (a replay): 401 stale=true"
out=$(CALLID=d1 CSEQ=4 reg_msg alice "$auth" | sip -u)
ch=$(challenge "$out")
assert_match 'stale=true' "$ch" "replayed nc: stale"
say "the next nc: 200"
out=$(CALLID=d1 CSEQ=5 reg_msg alice "$(digest_auth "alice@$DOMAIN" wonderland "$nonce" 00000002)" | sip -u)
assert_eq 200 "$(status_of "$out")" "nc 2"

say "username as the user part (a softphone's)"
out=$(CALLID=d2 reg_msg alice | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
out=$(CALLID=d2 CSEQ=2 reg_msg alice "$(digest_auth alice wonderland "$nonce")" | sip -u)
assert_eq 200 "$(status_of "$out")" "username alice"

say "a stale nonce: 401 stale=true, then 200"
out=$(CALLID=d3 reg_msg alice | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
sleep 4
out=$(CALLID=d3 CSEQ=2 reg_msg alice "$(digest_auth alice wonderland "$nonce")" | sip -u)
ch=$(challenge "$out")
assert_match 'stale=true' "$ch" "stale nonce"
nonce=$(dparam nonce "$ch")
out=$(CALLID=d3 CSEQ=3 reg_msg alice "$(digest_auth alice wonderland "$nonce")" | sip -u)
assert_eq 200 "$(status_of "$out")" "after the stale challenge"

say "a nonce afd never made: a fresh 401 without stale"
out=$(CALLID=d4 reg_msg alice "$(digest_auth alice wonderland AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=)" | sip -u)
ch=$(challenge "$out")
assert_no_match 'stale' "$ch" "unknown nonce: no stale"

say "malformed Authorization: 400 naming the fault"
out=$(CALLID=d5 reg_msg alice 'Authorization: Digest username="alice", realm="'"$REALM"'", nonce="x", uri="sip:'"$DOMAIN"'", response="0123", qop=auth, nc=12, cnonce="c"' | sip -u)
assert_eq "SIP/2.0 400 Malformed nc in Authorization" "$(printf '%s\n' "$out" | head -n 1)" "bad nc"
out=$(CALLID=d5 reg_msg alice 'Authorization: Digest username="alice", nonce="x", uri="sip:'"$DOMAIN"'", response="0123"' | sip -u)
assert_match '^SIP/2.0 400 ' "$out" "no realm"
out=$(CALLID=d5 reg_msg alice 'Authorization: Digest username="alice", realm="elsewhere", nonce="x", uri="sip:'"$DOMAIN"'", response="0123"' | sip -u)
assert_eq "SIP/2.0 400 Realm Mismatch in Authorization" "$(printf '%s\n' "$out" | head -n 1)" "other realm"
out=$(CALLID=d5 reg_msg alice 'Authorization: Digest username="alice", realm="'"$REALM"'", nonce="x", uri="sip:'"$DOMAIN"'", response="0123", algorithm=SHA-256' | sip -u)
assert_eq "SIP/2.0 400 Algorithm Not Offered" "$(printf '%s\n' "$out" | head -n 1)" "algorithm not offered"

say "a subscriber added while afd runs"
sql "INSERT INTO subscribers (impi, impu, password) VALUES ('bob@$DOMAIN', 'sip:bob@$DOMAIN', 'builder')"
out=$(CALLID=d6 reg_msg bob | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
out=$(CALLID=d6 CSEQ=2 reg_msg bob "$(digest_auth bob builder "$nonce")" | sip -u)
assert_eq 200 "$(status_of "$out")" "bob, added by hand"

say "bob may not register alice's address"
out=$(CALLID=d7 reg_msg alice | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
out=$(CALLID=d7 CSEQ=2 reg_msg alice "$(digest_auth bob builder "$nonce")" | sip -u)
assert_eq "SIP/2.0 403 Identity Not Associated" "$(printf '%s\n' "$out" | head -n 1)" "bob for alice"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
