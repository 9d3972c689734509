#!/bin/bash
# A real client's registration seen through the reg event: baresip (1.0,
# Debian 12's; it does not subscribe to reg itself: its modules subscribe
# only to presence and message-summary) registers with afd while a
# scripted watcher is subscribed to the same AOR. The watcher gets a
# NOTIFY with baresip's contact ("created", with baresip's Contact
# parameters as unknown-param), valid against RFC 3680's schema; baresip's
# de-registration at exit gives "unregistered" and the registration
# "terminated".
. "$(dirname "$0")/lib.sh"

command -v baresip >/dev/null || fail "baresip is not installed (mk/deps.sh test)"
UA=$AFD_TOOLS/sipua
XMLLINT="xmllint --nonet"
export XML_CATALOG_FILES=$ROOT/t/xml/catalog.xml
afd_start

REG='/*[local-name()="reginfo"]/*[local-name()="registration"]'
CT="$REG/*[local-name()=\"contact\"]"

mkdir -p "$TMP/w" "$TMP/bs"
"$UA" -p "$AFD_PORT" -u bob -e 0 -S 600 -B "$TMP/w" -T $(( 20 * SCALE )) >"$TMP/w.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
wait_for "grep -q '^NOTIFY 1 ' '$TMP/w.out'" $(( 3 * SCALE )) || fail "the watcher's first NOTIFY"
assert_eq "init" "$($XMLLINT --xpath "string($REG/@state)" "$TMP/w/1.xml")" "before baresip registers"

bport=$("$SIPSEND" -P)
cat >"$TMP/bs/config" <<EOC
sip_listen 127.0.0.1:$bport
module_path /usr/lib/baresip/modules
module account.so
module g711.so
module ausine.so
audio_source ausine
EOC
echo "<sip:bob@$DOMAIN;transport=udp>;outbound=\"sip:127.0.0.1:$AFD_PORT;transport=udp\";regint=600" >"$TMP/bs/accounts"
baresip -f "$TMP/bs" -t $(( 3 * SCALE )) >"$TMP/bs.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
pid_bs=$!
wait_for "grep -q '^NOTIFY 2 ' '$TMP/w.out'" $(( 5 * SCALE )) || { cat "$TMP/bs.out" "$TMP/w.out"; fail "no NOTIFY when baresip registered"; }
grep -q "200 OK (afd" "$TMP/bs.out" || { cat "$TMP/bs.out"; fail "baresip did not register"; }
$XMLLINT --noout --schema t/xml/rfc3680-reginfo.xsd "$TMP/w/2.xml" || fail "NOTIFY 2 does not validate"
assert_eq "active" "$($XMLLINT --xpath "string($REG/@state)" "$TMP/w/2.xml")" "registration with baresip"
assert_eq "active created" "$($XMLLINT --xpath "concat($CT/@state, ' ', $CT/@event)" "$TMP/w/2.xml")" "baresip's contact"
uri=$($XMLLINT --xpath "string($CT/*[local-name()='uri'])" "$TMP/w/2.xml")
assert_eq "$(sql "SELECT contact FROM registrations WHERE aor = 'sip:bob@$DOMAIN'")" "$uri" "contact uri as registered"
say "baresip's contact $uri, params: $($XMLLINT --xpath "$CT/*[local-name()='unknown-param']" "$TMP/w/2.xml" 2>/dev/null)"
# baresip exits and de-registers
wait "$pid_bs"
wait_for "grep -q '^NOTIFY 3 ' '$TMP/w.out'" $(( 5 * SCALE )) || { cat "$TMP/bs.out"; fail "no NOTIFY when baresip de-registered"; }
$XMLLINT --noout --schema t/xml/rfc3680-reginfo.xsd "$TMP/w/3.xml" || fail "NOTIFY 3 does not validate"
assert_eq "terminated unregistered" "$($XMLLINT --xpath "concat($CT/@state, ' ', $CT/@event)" "$TMP/w/3.xml")" "baresip's contact after its exit"
assert_eq "terminated" "$($XMLLINT --xpath "string($REG/@state)" "$TMP/w/3.xml")" "registration after baresip left"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
