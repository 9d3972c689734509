#!/bin/bash
# Network-initiated de-registration (the README's one SQL statement) and a
# subscription over TCP (its connection kept across kill -9 of the TCP
# worker owning it). The tester marks a phone's binding 'deactivated':
# within a second the sweeper removes it and every watcher gets a NOTIFY
# with event "deactivated"; as the registration has no binding left, that
# NOTIFY also ends the subscription ("terminated;reason=deactivated", as
# an S-CSCF does, TS 24.228 6.5): the phone registers and subscribes
# again. 'rejected' of one of two bindings: event "rejected", the
# subscription goes on. A phone
# that registers and subscribes over TCP gets its NOTIFYs on that same
# connection (sent by the UDP worker's transaction through the TCP worker
# owning the connection, answered back across workers), including the
# NOTIFY that a change made over UDP by another phone causes.
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
XMLLINT="xmllint --nonet"
export XML_CATALOG_FILES=$ROOT/t/xml/catalog.xml
afd_start

phone() {
	local name=$1
	shift
	mkdir -p "$TMP/$name"
	mkfifo "$TMP/$name.in"
	"$UA" -p "$AFD_PORT" -u "$name" -i -B "$TMP/$name" "$@" <"$TMP/$name.in" >"$TMP/$name.out" 2>&1 &
	E2E_PIDS="$E2E_PIDS $!"
	eval "pid_$name=$!"
}
notifies() { grep -c '^NOTIFY ' "$TMP/$1.out"; }
CT='/*[local-name()="reginfo"]/*[local-name()="registration"]/*[local-name()="contact"]'

# 1. over TCP: REGISTER, SUBSCRIBE, NOTIFYs on the same connection
phone tina -t -e 600 -S 600 -T $(( 30 * SCALE ))
exec 3>"$TMP/tina.in"
wait_for "[ \$(notifies tina) -ge 1 ]" $(( 5 * SCALE )) || { cat "$TMP/tina.out"; fail "tina's first NOTIFY"; }
assert_eq "tcp" "$(sql "SELECT transport FROM reg_subscriptions WHERE aor = 'sip:tina@$DOMAIN'")" "subscription transport"
slot=$(sql "SELECT conn_slot FROM reg_subscriptions WHERE aor = 'sip:tina@$DOMAIN'")
assert_match "^t[0-9]+$" "$slot" "subscription's TCP slot"
set -- $(grep '^NOTIFY 1 ' "$TMP/tina.out")
assert_match "^z9hG4bK-u0-" "$5" "NOTIFY over TCP sent by the UDP worker's transaction"
$XMLLINT --noout --schema t/xml/rfc3680-reginfo.xsd "$TMP/tina/1.xml" || fail "tina's NOTIFY 1 does not validate"
# a change made over UDP by another phone of the same AOR
"$UA" -p "$AFD_PORT" -u tina -e 300 -T 1 >/dev/null 2>&1
wait_for "[ \$(notifies tina) -ge 2 ]" $(( 5 * SCALE )) || { cat "$TMP/tina.out"; fail "tina's NOTIFY 2"; }
# its answer came back over TCP and reached the UDP worker's transaction
wait_for "[ \"\$(sql \"SELECT last_status || ' ' || pending FROM reg_subscriptions WHERE aor = 'sip:tina@$DOMAIN'\")\" = '200 0' ]" $(( 3 * SCALE )) ||
	fail "tina's answer over TCP not recorded: $(sql "SELECT last_status, pending FROM reg_subscriptions")"
assert_eq "0" "$(grep -c CLOSED "$TMP/tina.out")" "tina's connection closed"
# kill -9 of the TCP worker owning tina's connection: the master hands the
# connection to the replacement of the slot, and the next NOTIFY goes on it
tw=$(worker_pid "$slot")
kill -9 "$tw"
say "killed the TCP worker $tw ($slot) owning tina's connection"
wait_for "[ -n \"\$(worker_pid $slot)\" ] && [ \"\$(worker_pid $slot)\" != $tw ] && [ \"\$(sql \"SELECT state FROM workers WHERE slot = '$slot'\")\" = busy ]" $(( 5 * SCALE )) ||
	fail "no replacement serving $slot"
"$UA" -p "$AFD_PORT" -u tina -e 300 -T 1 >/dev/null 2>&1
wait_for "[ \$(notifies tina) -ge 3 ]" $(( 5 * SCALE )) || { cat "$TMP/tina.out"; fail "no NOTIFY on tina's connection after its worker's replacement"; }
assert_eq "0" "$(grep -c CLOSED "$TMP/tina.out")" "tina's connection closed"
wait_for "[ \"\$(sql \"SELECT last_status || ' ' || pending || ' ' || cseq FROM reg_subscriptions WHERE aor = 'sip:tina@$DOMAIN'\")\" = '200 0 3' ]" $(( 3 * SCALE )) ||
	fail "tina's answer through the replacement not recorded: $(sql "SELECT last_status, pending, cseq FROM reg_subscriptions")"

# 2. network-initiated de-registration: deactivated
phone ursula -e 600 -S 600 -T $(( 30 * SCALE ))
exec 4>"$TMP/ursula.in"
wait_for "[ \$(notifies ursula) -ge 1 ]" $(( 5 * SCALE )) || fail "ursula's first NOTIFY"
t0=$(now_ms)
sql "UPDATE registrations SET deregister = 'deactivated' WHERE aor = 'sip:ursula@$DOMAIN'"
wait_for "[ \$(notifies ursula) -ge 2 ]" $(( 3 * SCALE )) || { cat "$TMP/ursula.out"; fail "no NOTIFY after the de-registration"; }
dt=$(( $(now_ms) - t0 ))
say "de-registration notified after $dt ms"
[ "$dt" -le $(( 1500 * SCALE )) ] || fail "the de-registration took $dt ms (want within a second)"
assert_eq "0" "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:ursula@$DOMAIN'")" "ursula's bindings"
$XMLLINT --noout --schema t/xml/rfc3680-reginfo.xsd "$TMP/ursula/2.xml" || fail "NOTIFY 2 does not validate"
assert_eq "terminated deactivated" \
	"$($XMLLINT --xpath "concat($CT/@state, ' ', $CT/@event)" "$TMP/ursula/2.xml")" "the contact after de-registration"
set -- $(grep '^NOTIFY 2 ' "$TMP/ursula.out")
assert_eq "1 terminated;reason=deactivated" "$3 $4" "NOTIFY 2's version and Subscription-State"
wait_log "de-registered by the network \(deactivated\)" 2 || fail "no log line"
wait_for "[ \"\$(sql \"SELECT count(*) FROM reg_subscriptions WHERE aor = 'sip:ursula@$DOMAIN'\")\" = 0 ]" $(( 3 * SCALE )) ||
	fail "the ended subscription's row is still there"
# the phone does what it is told: registers and subscribes again
echo "reg 600" >&4
echo "resub 600" >&4
wait_for "grep -q '^NOTIFY 1 .* d1$' '$TMP/ursula.out'" $(( 3 * SCALE )) || { cat "$TMP/ursula.out"; fail "no NOTIFY in the new subscription"; }
set -- $(grep '^NOTIFY 1 .* d1$' "$TMP/ursula.out")
assert_match "^0 active;expires=(599|600)$" "$3 $4" "the new subscription's first NOTIFY"
assert_eq "active registered" \
	"$($XMLLINT --xpath "concat($CT/@state, ' ', $CT/@event)" "$TMP/ursula/d1-1.xml")" "the contact after registering again"

# 3. rejected, over TCP
sql "UPDATE registrations SET deregister = 'rejected' WHERE aor = 'sip:tina@$DOMAIN' AND transport = 'tcp'"
wait_for "[ \$(notifies tina) -ge 4 ]" $(( 3 * SCALE )) || { cat "$TMP/tina.out"; fail "no NOTIFY after 'rejected'"; }
n=$(grep '^NOTIFY ' "$TMP/tina.out" | tail -1 | awk '{ print $2 }')
assert_match "rejected" "$($XMLLINT --xpath "string($CT[@event='rejected']/@event)" "$TMP/tina/$n.xml")" "rejected event"
assert_match "^active;" "$(grep '^NOTIFY ' "$TMP/tina.out" | tail -1 | awk '{ print $4 }')" "tina's subscription goes on (a binding is left)"
assert_eq "2" "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:tina@$DOMAIN'")" "tina's other bindings (UDP) stay"
# a word other than deactivated/rejected is refused
sql "UPDATE registrations SET deregister = 'gone' WHERE aor = 'sip:tina@$DOMAIN'" 2>"$TMP/err" && fail "deregister = 'gone' accepted"
assert_match "CHECK constraint" "$(cat "$TMP/err")" "the refusal"

echo quit >&3; echo quit >&4
exec 3>&- 4>&-
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
