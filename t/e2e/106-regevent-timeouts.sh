#!/bin/bash
# The ends of a subscription that no answer brings: a NOTIFY left
# unanswered until Timer F (64*T1; T1 = 100 ms here: 6.4 s) counts as 408
# and removes the subscription; a phone that stops answering afd's OPTIONS
# pings is removed by the ping service, and its watcher (another phone of
# the same AOR, still answering NOTIFYs) hears "deactivated".
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
XMLLINT="xmllint --nonet"
export XML_CATALOG_FILES=$ROOT/t/xml/catalog.xml
afd_start afd.sip_t1=100 registrar.ping_interval=1 registrar.ping_remove_after=1

CT='/*[local-name()="reginfo"]/*[local-name()="registration"]/*[local-name()="contact"]'

# 1. Timer F: a phone that never answers its NOTIFY (nor its pings)
"$UA" -p "$AFD_PORT" -u quiet -e 600 -S 600 -n -T $(( 12 * SCALE )) >"$TMP/quiet.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
wait_for "grep -q '^NOTIFY 1 ' '$TMP/quiet.out'" $(( 3 * SCALE )) || fail "no NOTIFY"
wait_for "[ \"\$(sql \"SELECT count(*) FROM reg_subscriptions WHERE aor = 'sip:quiet@$DOMAIN'\")\" = 0 ]" $(( 12 * SCALE )) ||
	fail "the unanswered subscription is still there after Timer F"
wait_log "NOTIFY 1 of subscription [0-9]+ answered 408: subscription removed" 2 || fail "no log line for the 408"

# 2. a removal by the pings: the watcher hears deactivated
mkdir -p "$TMP/w"
"$UA" -p "$AFD_PORT" -u zed -e 0 -S 600 -B "$TMP/w" -T $(( 20 * SCALE )) >"$TMP/w.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
wait_for "grep -q '^NOTIFY 1 ' '$TMP/w.out'" $(( 3 * SCALE )) || fail "the watcher's first NOTIFY"
# zed's phone registers and then stops answering anything
"$UA" -p "$AFD_PORT" -u zed -e 600 -n -T $(( 12 * SCALE )) >"$TMP/zed.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
wait_log "binding [0-9]+ of sip:zed@$DOMAIN removed after 1 unanswered pings" $(( 15 * SCALE )) ||
	fail "zed's binding was not removed by the pings"
wait_for "grep -l 'event=\"deactivated\"' '$TMP'/w/*.xml" $(( 3 * SCALE )) ||
	{ cat "$TMP/w.out"; fail "the watcher did not hear deactivated"; }
f=$(grep -l 'event="deactivated"' "$TMP"/w/*.xml | head -1)
$XMLLINT --noout --schema t/xml/rfc3680-reginfo.xsd "$f" || fail "$f does not validate"
assert_eq "terminated deactivated" "$($XMLLINT --xpath "concat($CT/@state, ' ', $CT/@event)" "$f")" "the removed contact"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
