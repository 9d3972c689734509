#!/bin/bash
# Record-Route on both legs, with real clients (SIPp, t/sipp/rr-*.xml):
# the caller's INVITE comes through two record-routing proxies (rr=a1,
# rr=a0), the callee's 180 and 200 through three (p3, p2 in one field, p1
# in another). afd is the caller's UAS: its 180 and 200 copy the caller's
# Record-Route in order, and its BYE to the caller carries the route set
# a1, a0 (RFC 3261 12.1.1). afd is the callee's UAC: its ACK carries the
# route set p1, p2, p3, the 200's Record-Route reversed (12.1.2); the
# dialogs row keeps both. The callee hangs up; both SIPp calls succeed
# only if every check in their scenarios held.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/sipplib.sh"
afd_start

UAS_PORT=$("$SIPSEND" -P -p 24000)
UAC_PORT=$("$SIPSEND" -P -p 42000)

sippx reg-bob -sf "$SIPP/register-aor.xml" -key aor bob -m 1 -p "$UAS_PORT" ||
	fail "SIPp could not register bob: $(sipp_failed reg-bob)"
sippx reg-alice -sf "$SIPP/register-aor.xml" -key aor alice -m 1 -p "$UAC_PORT" ||
	fail "SIPp could not register alice: $(sipp_failed reg-alice)"

sippx uas -sf "$SIPP/rr-uas.xml" -m 1 -d $(( 500 * SCALE )) -p "$UAS_PORT" &
uas=$!
E2E_PIDS="$E2E_PIDS $uas"
sleep 0.3
sippx uac -sf "$SIPP/rr-uac.xml" -key aor alice -key callee bob -m 1 -p "$UAC_PORT" ||
	fail "the caller's checks failed: $(sipp_failed uac)"
wait "$uas" || fail "the callee's checks failed: $(sipp_failed uas)"
cat "$TMP"/sipp-log.uac.log "$TMP"/sipp-log.uas.log
say "SIPp: Record-Route copied to the caller, route sets on both legs"

row=$(sql "SELECT a_route || ' | ' || b_route FROM dialogs")
assert_match 'rr=a1>, <sip:[^>]*;lr;rr=a0> \| <sip:[^>]*;lr;rr=p1>, <sip:[^>]*;lr;rr=p2>, <sip:[^>]*;lr;rr=p3>$' "$row" "the dialog's route sets (A | B)"
assert_eq "callee hung up" "$(sql "SELECT end_reason FROM calls")" "the CDR's end"
assert_eq 0 "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
