#!/bin/bash
# The reg event behind authentication ([auth] mode = digest): a phone that
# registered with Digest subscribes without a challenge (the gate's source
# check: the SUBSCRIBE comes from where its identity is registered) and
# gets its NOTIFY, whose document lists the subscriber's implicit
# registration set (impu, then each extra_impu); a SUBSCRIBE claiming that
# identity from elsewhere is 403 Not Registered From Here.
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
XMLLINT="xmllint --nonet"
export XML_CATALOG_FILES=$ROOT/t/xml/catalog.xml
afd_start auth.mode=digest
sql "INSERT INTO subscribers (impi, impu, password, extra_impu) VALUES ('erin@$DOMAIN', 'sip:erin@$DOMAIN', 'er1n-pw', 'sip:+15551230001@$DOMAIN')"

mkdir -p "$TMP/erin"
"$UA" -p "$AFD_PORT" -u erin -P er1n-pw -e 600 -S 600 -B "$TMP/erin" -T $(( 6 * SCALE )) >"$TMP/erin.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
wait_for "grep -q '^NOTIFY 1 ' '$TMP/erin.out'" $(( 5 * SCALE )) || { cat "$TMP/erin.out"; fail "erin's first NOTIFY"; }
cat "$TMP/erin.out"
grep -q '^RESP 401 REGISTER' "$TMP/erin.out" || fail "erin's REGISTER was not challenged"
assert_eq "0" "$(grep -c '^RESP 401 SUBSCRIBE\|^RESP 407 SUBSCRIBE' "$TMP/erin.out")" "challenges to the SUBSCRIBE"
$XMLLINT --noout --schema t/xml/rfc3680-reginfo.xsd "$TMP/erin/1.xml" || fail "NOTIFY 1 does not validate"
REG='/*[local-name()="reginfo"]/*[local-name()="registration"]'
assert_eq "sip:erin@$DOMAIN sip:+15551230001@$DOMAIN" \
	"$($XMLLINT --xpath "concat($REG[1]/@aor, ' ', $REG[2]/@aor)" "$TMP/erin/1.xml")" "the implicit registration set"
assert_eq "active" "$($XMLLINT --xpath "string($REG[1]/@state)" "$TMP/erin/1.xml")" "erin's registration"
assert_eq "sip:erin@$DOMAIN" "$(sql "SELECT watcher FROM reg_subscriptions")" "the watcher"

# the same identity from a source where it is not registered: 403
out=$(FROM_USER=erin req SUBSCRIBE "sip:erin@$DOMAIN" "Contact: <sip:erin@127.0.0.1:\$LPORT>" \
	"Event: reg" "Expires: 600" | sip)
assert_eq "403" "$(status_of "$out")" "SUBSCRIBE from elsewhere"
assert_match "^SIP/2.0 403 Not Registered From Here" "$out" "its reason"
assert_eq "1" "$(sql "SELECT count(*) FROM reg_subscriptions")" "subscriptions"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
