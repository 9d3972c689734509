#!/bin/bash
# A real client subscribes to reg: SIPp (Debian's sip-tester) plays a
# watcher with t/sipp/reg-watcher.xml after SIPp registered the AOR
# (../shared/bench/sipp/register.xml). Its SUBSCRIBE gets 200, the first
# NOTIFY passes SIPp's checks (Event, Subscription-State, Content-Type, a
# full reginfo document of version 0, the registration and its contact
# active) and SIPp's 200 to it is recorded by afd (last_status 200,
# nothing pending); then SIPp unsubscribes in the dialog and gets and
# answers the final NOTIFY (terminated, version 1), and the row goes.
# (baresip 1.0, Debian 12's, cannot be this client: its modules subscribe
# only to presence and message-summary; see e2e 107.)
. "$(dirname "$0")/lib.sh"

command -v sipp >/dev/null || fail "sipp not installed (sh mk/deps.sh test)"
SIPP_DIR=$SHARED/bench/sipp
[ -f "$SIPP_DIR/register.xml" ] || fail "no SIPp register scenario in $SIPP_DIR"
afd_start

PORT_R=$("$SIPSEND" -P -p 20000)
PORT_W=$("$SIPSEND" -P -p 40000)
sipp -nostdin -i 127.0.0.1 -timeout $(( 20 * SCALE ))s -timeout_error \
	-sf "$SIPP_DIR/register.xml" -key up carol -m 1 -p "$PORT_R" \
	-trace_err -error_file "$TMP/sipp-err.reg.log" "127.0.0.1:$AFD_PORT" >"$TMP/sipp.reg.out" 2>&1 ||
	fail "SIPp could not register carol1: $(tail -5 "$TMP/sipp.reg.out")"
assert_eq 1 "$(sql "SELECT count(*) FROM active_registrations WHERE aor = 'sip:carol1@$DOMAIN'")" "carol1's binding"

# the watcher, pausing 3 s after answering the first NOTIFY
sipp -nostdin -i 127.0.0.1 -timeout $(( 30 * SCALE ))s -timeout_error \
	-sf t/sipp/reg-watcher.xml -key aor carol1 -key domain "$DOMAIN" -d $(( 3000 * SCALE )) \
	-m 1 -p "$PORT_W" -trace_err -error_file "$TMP/sipp-err.w.log" -trace_msg \
	-message_file "$TMP/sipp-msg.w.log" "127.0.0.1:$AFD_PORT" >"$TMP/sipp.w.out" 2>&1 &
w=$!
E2E_PIDS="$E2E_PIDS $w"
row() { sql "SELECT state, version, cseq, pending, last_status FROM reg_subscriptions WHERE aor = 'sip:carol1@$DOMAIN'"; }
wait_for "[ \"\$(row)\" = 'active|0|1|0|200' ]" $(( 5 * SCALE )) ||
	fail "afd did not record SIPp's 200 to the first NOTIFY (row: $(row)); $(tail -5 "$TMP/sipp.w.out"; cat "$TMP/sipp-err.w.log" 2>/dev/null | head -30)"
say "after the first NOTIFY: $(row)"
assert_eq "sip:carol1@$DOMAIN" "$(sql "SELECT watcher FROM reg_subscriptions WHERE aor = 'sip:carol1@$DOMAIN'")" "the watcher"
wait "$w" || fail "SIPp's watcher failed: $(tail -20 "$TMP/sipp.w.out"; cat "$TMP/sipp-err.w.log" 2>/dev/null | head -40)"
grep -q "Successful call.*| *1 *|" "$TMP/sipp.w.out" 2>/dev/null || grep -Eq "^ +Successful call +\| +[0-9]+ +\| +1" "$TMP/sipp.w.out" ||
	say "(SIPp's summary: $(grep -i 'successful call' "$TMP/sipp.w.out" | head -1))"
# the final NOTIFY was answered: the row goes
wait_for "[ \"\$(sql \"SELECT count(*) FROM reg_subscriptions WHERE aor = 'sip:carol1@$DOMAIN'\")\" = 0 ]" $(( 3 * SCALE )) ||
	fail "the ended subscription's row is still there: $(row)"
assert_eq 2 "$(grep -c '^NOTIFY sip:carol1@' "$TMP/sipp-msg.w.log")" "NOTIFYs SIPp received"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
