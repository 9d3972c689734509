#!/bin/bash
# Real clients: SIPp (Debian's sip-tester) calling SIPp through afd, with
# the shared scenarios (../shared/bench/sipp/uac-call.xml, uas-call.xml):
# the callee bob1 and the callers alice1..N register first (register.xml,
# from the ports they call from), then N calls INVITE, 100, 180, 200, ACK,
# BYE, 200 on both legs, every one successful by SIPp's count; afd's
# dialogs and calls rows say the same.
. "$(dirname "$0")/lib.sh"

command -v sipp >/dev/null || fail "sipp not installed (sh mk/deps.sh test)"
SIPP_DIR=$SHARED/bench/sipp
[ -f "$SIPP_DIR/uac-call.xml" ] || fail "no SIPp scenarios in $SIPP_DIR"
N=20
afd_start

# two free ports for the SIPp processes
UAS_PORT=$("$SIPSEND" -P -p 20000)
UAC_PORT=$("$SIPSEND" -P -p 40000)
sippx() { # ARGS...: sipp against afd, quiet, stopping by itself
	sipp -nostdin -i 127.0.0.1 -timeout $(( 30 * SCALE ))s -timeout_error \
		-trace_err -error_file "$TMP/sipp-err.$1.log" "${@:2}" \
		"127.0.0.1:$AFD_PORT" >"$TMP/sipp.$1.out" 2>&1
}

sippx reg-bob -sf "$SIPP_DIR/register.xml" -key up bob -m 1 -p "$UAS_PORT" ||
	fail "SIPp could not register bob1: $(tail -5 "$TMP/sipp.reg-bob.out")"
sippx reg-alice -sf "$SIPP_DIR/register.xml" -key up alice -m $N -r 50 -p "$UAC_PORT" ||
	fail "SIPp could not register alice1..$N"
assert_eq "$(( N + 1 ))" "$(sql 'SELECT count(*) FROM active_registrations')" "bindings"

sipp -nostdin -i 127.0.0.1 -sf "$SIPP_DIR/uas-call.xml" -p "$UAS_PORT" -m $N \
	-timeout $(( 40 * SCALE ))s -trace_err -error_file "$TMP/sipp-err.uas.log" \
	>"$TMP/sipp.uas.out" 2>&1 &
uas=$!
E2E_PIDS="$E2E_PIDS $uas"
sleep 0.3
sippx uac -sf "$SIPP_DIR/uac-call.xml" -key callee bob1 -m $N -r 10 -d 200 -p "$UAC_PORT" \
	-trace_stat -stf "$TMP/uac.csv" ||
	fail "SIPp's calls failed: $(tail -20 "$TMP/sipp.uac.out"; cat "$TMP"/sipp-err.uac.log 2>/dev/null | head -40)"
wait "$uas" || fail "the SIPp callee failed: $(tail -20 "$TMP/sipp.uas.out")"
say "SIPp: $N calls UAC -> afd -> UAS, all successful"

assert_eq "$N" "$(sql "SELECT count(*) FROM calls WHERE end_reason = 'caller hung up' AND answered_at IS NOT NULL AND callee = 'sip:bob1@$DOMAIN'")" "CDRs of answered calls"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_eq "$N" "$(sql "SELECT count(DISTINCT b_call_id) FROM dialogs WHERE stage = 'ended'")" "B-leg Call-IDs"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
