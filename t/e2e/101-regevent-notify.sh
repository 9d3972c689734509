#!/bin/bash
# The reg event end to end with a scripted phone (build/t/tools/sipua):
# it registers, subscribes to its own registration state and gets the 200
# (To tag, afd's Contact, the granted Expires) and then, never before it,
# the first NOTIFY: version 0, Subscription-State active, a full-state
# reginfo document that the test parses field by field and validates with
# xmllint against RFC 3680's schema. Then a new binding, a refresh, a
# shortened expiry, a de-registration and an expiry each bring a NOTIFY
# exactly one version higher with the contact's event; an unsubscribe ends
# with "terminated;reason=timeout" and the row goes.
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
XMLLINT="xmllint --nonet"
export XML_CATALOG_FILES=$ROOT/t/xml/catalog.xml
afd_start registrar.min_expires=1 regevent.min_expires=10

mkdir -p "$TMP/alice"
mkfifo "$TMP/alice.in"
"$UA" -p "$AFD_PORT" -u alice -F -e 600 -S 600 -B "$TMP/alice" -i -T $(( 30 * SCALE )) \
	<"$TMP/alice.in" >"$TMP/alice.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
pid_alice=$!
exec 3>"$TMP/alice.in"

notifies() { grep -c '^NOTIFY ' "$TMP/alice.out"; }
nth() { grep '^NOTIFY ' "$TMP/alice.out" | sed -n "${1}p"; }
wait_notifies() { # N: wait for N NOTIFYs
	wait_for "[ \$(notifies) -ge $1 ]" $(( 5 * SCALE )) ||
		{ cat "$TMP/alice.out"; fail "NOTIFY $1 did not come"; }
}
xp() { # CSEQ XPATH: the value at XPATH in NOTIFY CSEQ's body
	$XMLLINT --xpath "$2" "$TMP/alice/$1.xml" 2>/dev/null
}
valid() { # CSEQ
	$XMLLINT --noout --schema t/xml/rfc3680-reginfo.xsd "$TMP/alice/$1.xml" 2>&1 ||
		fail "NOTIFY $1's body does not validate: $(cat "$TMP/alice/$1.xml")"
}
R='/*[local-name()="reginfo"]'
REG="$R/*[local-name()=\"registration\"]"
CT="$REG/*[local-name()=\"contact\"]"

# 1. SUBSCRIBE: 200 first, then the full NOTIFY, version 0
wait_notifies 1
cat "$TMP/alice.out"
first200=$(grep -n '^RESP 200 SUBSCRIBE' "$TMP/alice.out" | head -1 | cut -d: -f1)
firstN=$(grep -n '^REQ NOTIFY' "$TMP/alice.out" | head -1 | cut -d: -f1)
[ -n "$first200" ] && [ "$first200" -lt "$firstN" ] ||
	fail "the first NOTIFY came before the SUBSCRIBE's 200"
set -- $(nth 1)
assert_eq "1 0" "$2 $3" "first NOTIFY's CSeq and version"
assert_match "^active;expires=(599|600)$" "$4" "first Subscription-State"
assert_match "^z9hG4bK-u0-" "$5" "NOTIFY branch names the UDP worker"
valid 1
assert_eq "sip:alice@$DOMAIN" "$(xp 1 "string($REG/@aor)")" "registration aor"
assert_eq "active" "$(xp 1 "string($REG/@state)")" "registration state"
assert_eq "full" "$(xp 1 "string($R/@state)")" "document state"
assert_eq "1" "$(xp 1 "count($CT)")" "contacts"
assert_eq "active registered" "$(xp 1 "concat($CT/@state, ' ', $CT/@event)")" "contact state/event"
port=$(awk '/^READY/ { print $3 }' "$TMP/alice.out")
assert_eq "sip:alice@127.0.0.1:$port;transport=udp" "$(xp 1 "string($CT/*[local-name()='uri'])")" "contact uri"
exp=$(xp 1 "string($CT/@expires)")
[ "$exp" -ge 598 ] && [ "$exp" -le 600 ] || fail "contact expires $exp"
assert_eq "1" "$(xp 1 "string($CT/@cseq)")" "contact cseq"
assert_match "^ua-[0-9]+@127.0.0.1$" "$(xp 1 "string($CT/@callid)")" "contact callid"
assert_eq "<urn:gsma:imei:86539405-000273-$port>" \
	"$(xp 1 "string($CT/*[local-name()='unknown-param'][@name='+sip.instance'])")" "+sip.instance unknown-param"
assert_eq "urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel" \
	"$(xp 1 "string($CT/*[local-name()='unknown-param'][@name='+g.3gpp.icsi-ref'])")" "icsi unknown-param"
assert_eq "1 0 1" "$(sql "SELECT count(*), version, cseq FROM reg_subscriptions" | tr '|' ' ')" "the subscription row"

# 2. a new binding of the same AOR (another phone): version 1, created
"$UA" -p "$AFD_PORT" -u alice -e 300 -T 1 >"$TMP/bob.out" 2>&1 || fail "second phone"
bport=$(awk '/^READY/ { print $3 }' "$TMP/bob.out")
wait_notifies 2
set -- $(nth 2)
assert_eq "2 1" "$2 $3" "NOTIFY 2's CSeq and version"
valid 2
assert_eq "2" "$(xp 2 "count($CT)")" "contacts after the new binding"
assert_eq "created" "$(xp 2 "string($CT[contains(*[local-name()='uri'], ':$bport;')]/@event)")" "the new contact's event"
assert_eq "registered" "$(xp 2 "string($CT[contains(*[local-name()='uri'], ':$port;')]/@event)")" "the old contact's event"

# 3. alice refreshes (refreshed), then shortens (shortened)
echo "reg 600" >&3
wait_notifies 3
valid 3
set -- $(nth 3); assert_eq "3 2" "$2 $3" "NOTIFY 3"
assert_eq "refreshed" "$(xp 3 "string($CT[contains(*[local-name()='uri'], ':$port;')]/@event)")" "refresh event"
echo "reg 100" >&3
wait_notifies 4
valid 4
set -- $(nth 4); assert_eq "4 3" "$2 $3" "NOTIFY 4"
assert_eq "shortened" "$(xp 4 "string($CT[contains(*[local-name()='uri'], ':$port;')]/@event)")" "shortened event"

# 4. the second phone's binding expires (the sweeper): expired
sql "UPDATE registrations SET expires_at = strftime('%s','now') - 1 WHERE contact LIKE '%:$bport;%'"
wait_notifies 5
valid 5
set -- $(nth 5); assert_eq "5 4" "$2 $3" "NOTIFY 5"
assert_eq "terminated expired" \
	"$(xp 5 "concat($CT[contains(*[local-name()='uri'], ':$bport;')]/@state, ' ', $CT[contains(*[local-name()='uri'], ':$bport;')]/@event)")" "expired contact"
assert_eq "0" "$(xp 5 "string($CT[contains(*[local-name()='uri'], ':$bport;')]/@expires)")" "expired contact's expires"

# 5. alice de-registers (Expires 0): unregistered, registration terminated
echo "reg 0" >&3
wait_notifies 6
valid 6
set -- $(nth 6); assert_eq "6 5" "$2 $3" "NOTIFY 6"
assert_eq "terminated unregistered" "$(xp 6 "concat($CT/@state, ' ', $CT/@event)")" "unregistered contact"
assert_eq "terminated" "$(xp 6 "string($REG/@state)")" "registration state after the last contact"
# the events were answered: nothing left owed
wait_for "[ \"\$(sql 'SELECT count(*) FROM reg_sub_events')\" = 0 ]" $(( 3 * SCALE )) ||
	fail "events left after their NOTIFY was answered"

# 6. unsubscribe: 200, final NOTIFY terminated;reason=timeout, row gone
echo "sub 0" >&3
wait_notifies 7
set -- $(nth 7); assert_eq "7 6" "$2 $3" "final NOTIFY"
assert_eq "terminated;reason=timeout" "$4" "final Subscription-State"
valid 7
assert_eq "init" "$(xp 7 "string($REG/@state)")" "registration with no contact left"
wait_for "[ \"\$(sql 'SELECT count(*) FROM reg_subscriptions')\" = 0 ]" $(( 3 * SCALE )) ||
	fail "the subscription row is still there after the final NOTIFY"
# nothing more, and no version repeated
sleep 0.5
assert_eq "7" "$(notifies)" "NOTIFYs in all"
assert_eq "0 1 2 3 4 5 6" "$(grep '^NOTIFY ' "$TMP/alice.out" | awk '{ printf "%s%s", s, $3; s=" " }')" "versions in order"
echo quit >&3
exec 3>&-
wait "$pid_alice"
cat "$TMP/alice.out"
assert_eq "2" "$(grep -c '^RESP 200 SUBSCRIBE' "$TMP/alice.out")" "SUBSCRIBE 200s"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
