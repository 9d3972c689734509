#!/bin/bash
# The second REGISTER of the captured IMS registration (seeds/000, message
# 4), moved to loopback and the test domain, gets a 200 OK of the capture's
# shape, and its binding is in the registrations table.
. "$(dirname "$0")/lib.sh"

seed=$SHARED/seeds/000_f864e9431b5cb5d9.txt
[ -f "$seed" ] || fail "no $seed"

afd_start

# Message 4: from its request line to the blank line after Content-Length.
# The P-CSCF (172.16.106.81:6070) is us; the UE (172.16.106.92) and the
# other CSCFs are on loopback; mnc000/mcc000 becomes the test domain. The
# Route names afd itself. sipsend makes the LF line ends CRLF.
awk '/^## 4\.register/ { on = 1; next } on && /^$/ { exit } on' "$seed" |
	sed -e 's/172\.16\.106\.81:6070/127.0.0.1:$LPORT/g' \
	    -e 's/sip:proxy@172\.16\.106\.94:5060/sip:proxy@127.0.0.1:$PORT/' \
	    -e 's/172\.16\.106\.9[0-9]/127.0.0.1/g' \
	    -e 's/ims\.mnc000\.mcc000\.3gppnetwork\.org/ims.mnc001.mcc001.3gppnetwork.org/g' \
	    >"$TMP/reg.sip"
printf '\n' >>"$TMP/reg.sip"
grep -q '^REGISTER sip:ims.mnc001.mcc001.3gppnetwork.org SIP/2.0$' "$TMP/reg.sip" || fail "test bug: no request line"
grep -q '^Content-Length: 0$' "$TMP/reg.sip" || fail "test bug: message 4 incomplete"
cat "$TMP/reg.sip"

t0=$(date +%s)
out=$(sip "$TMP/reg.sip") || fail "no answer to the captured REGISTER"
t1=$(date +%s)
echo "$out"
AOR=sip:460003911000057@$DOMAIN

assert_eq 200 "$(status_of "$out")" "status"
# Echoed: both Vias in order, From with its tag, Call-ID, CSeq.
assert_match '^SIP/2.0/UDP 127.0.0.1:[0-9]+;branch=z9hG4bKb2f5b1801e38' "$(hdr Via "$out" | head -n 1)" "top Via"
assert_match '^Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK57ab028-c4e7c91f' "$out" "second Via"
assert_match "^From: <$AOR>;tag=243426378\$" "$out" "From"
assert_match "^To: <$AOR>;tag=[^;]+" "$out" "To with a tag"
assert_match '^Call-ID: 29906@127.0.0.1$' "$out" "Call-ID"
assert_match '^CSeq: 2 REGISTER$' "$out" "CSeq"
# The binding: the Contact with its feature tags and expires=600000.
contact=$(hdr Contact "$out")
assert_match '<sip:460003911000057@127.0.0.1>' "$contact" "Contact URI"
assert_match ';expires=600000' "$contact" "Contact expires"
assert_match '\+g\.3gpp\.icsi-ref="urn%3Aurn-7%3A3gpp-service\.ims\.icsi\.mmtel"' "$contact" "Contact feature tag icsi-ref"
assert_match '\+g\.3gpp\.ics="principal"' "$contact" "Contact feature tag ics"
# Path echoed, Service-Route, charging, associated URIs, Date.
assert_match '^Path: <sip:127.0.0.1:\$?[0-9A-Z]*;transport=udp;lr;key=0a04f65a2b9bdd01d9d7a4b866>$' "$out" "Path echoed"
assert_match '^Service-Route: <sip:[^>]+;lr[^>]*>' "$out" "Service-Route"
assert_match '^P-Charging-Vector: .*icid-value=2d834d66ac1947be8d2c75938ce7038e' "$out" "P-Charging-Vector icid"
assert_match "^P-Charging-Vector: .*term-ioi=[^;]+" "$out" "P-Charging-Vector term-ioi"
assert_match "^P-Associated-URI: .*<$AOR>" "$out" "P-Associated-URI"
assert_match '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$' "$out" "Date"
assert_match '^Content-Length: 0$' "$out" "Content-Length"

# The row.
row=$(sql "SELECT aor, contact, transport, path, call_id, cseq FROM registrations")
echo "row: $row"
assert_eq 1 "$(sql "SELECT count(*) FROM registrations")" "rows"
assert_eq "$AOR" "$(sql "SELECT aor FROM registrations")" "aor"
assert_eq "sip:460003911000057@127.0.0.1" "$(sql "SELECT contact FROM registrations")" "contact"
assert_eq udp "$(sql "SELECT transport FROM registrations")" "transport"
assert_eq "29906@127.0.0.1|2" "$(sql "SELECT call_id, cseq FROM registrations")" "call_id, cseq"
assert_match 'key=0a04f65a2b9bdd01d9d7a4b866' "$(sql "SELECT path FROM registrations")" "path"
assert_match '^127\.0\.0\.1:[0-9]+$' "$(sql "SELECT received FROM registrations")" "received"
assert_match 'icsi-ref' "$(sql "SELECT params FROM registrations")" "params keep the feature tags"
exp=$(sql "SELECT expires_at FROM registrations")
[ "$exp" -ge $((t0 + 600000 - 1)) ] && [ "$exp" -le $((t1 + 600000 + 1)) ] ||
	fail "expires_at $exp is not now+600000 ($((t0 + 600000)))"
assert_eq 1 "$(sql "SELECT count(*) FROM active_registrations WHERE aor = '$AOR'")" "active_registrations"

# The same REGISTER again (a refresh: new branch, CSeq 3): still one row.
sed -e 's/^CSeq: 2 REGISTER/CSeq: 3 REGISTER/' -e 's/branch=z9hG4bKb2f5b1801e38/branch=$BRANCH/' \
	"$TMP/reg.sip" >"$TMP/reg3.sip"
out=$(sip -s "$TMP/reg3.sip") || fail "no answer to the refresh"
assert_match '^SIP/2.0 200 ' "$out" "refresh"
assert_eq "1|3" "$(sql "SELECT count(*), max(cseq) FROM registrations")" "rows and cseq after the refresh"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
