#!/bin/bash
# The README's softphone example works as written: baresip, headless, with
# the account line <sip:alice@DOMAIN>;outbound="sip:127.0.0.1:PORT";regint=60
# registers to afd (200, its binding in active_registrations with
# baresip's User-Agent), and unregisters when it quits (the row goes away).
. "$(dirname "$0")/lib.sh"

command -v baresip >/dev/null || fail "baresip not installed (sh mk/deps.sh test)"
afd_start
bport=$("$SIPSEND" -P)
mkdir -p "$TMP/baresip"
cat >"$TMP/baresip/config" <<CONF
poll_method		epoll
sip_listen		127.0.0.1:$bport
module_path		/usr/lib/baresip/modules
module			g711.so
module_app		account.so
module_app		menu.so
CONF
# The README's line, with this test's port.
echo "<sip:alice@$DOMAIN>;outbound=\"sip:127.0.0.1:$AFD_PORT\";regint=60" >"$TMP/baresip/accounts"
baresip -f "$TMP/baresip" -t $(( 4 * SCALE )) </dev/null >"$TMP/baresip.out" 2>&1 &
bs=$!
E2E_PIDS="$E2E_PIDS $bs"
wait_for "[ \"\$(sql \"SELECT count(*) FROM active_registrations WHERE user_agent LIKE 'baresip%'\")\" = 1 ]" 4 ||
	fail "baresip did not register: $(cat "$TMP/baresip.out")"
assert_eq "sip:alice@$DOMAIN" "$(sql "SELECT aor FROM active_registrations")" "the AOR baresip registered"
assert_match "^sip:alice[^@]*@127\.0\.0\.1:$bport" "$(sql "SELECT contact FROM active_registrations")" "baresip's contact"
wait_for "grep -q '200 OK' '$TMP/baresip.out'" 2 || fail "baresip did not see the 200: $(cat "$TMP/baresip.out")"
wait $bs
wait_for "[ \"\$(sql 'SELECT count(*) FROM registrations')\" = 0 ]" 3 ||
	fail "baresip's binding is still there after it quit"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
