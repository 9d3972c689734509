#!/bin/bash
# A real softphone with a password: baresip, headless, with the README's
# account line and auth_pass, registers to afd in [auth] mode = auto
# (401, then 200 with its binding and the IMPI); with a wrong password it
# does not register.
. "$(dirname "$0")/lib.sh"

command -v baresip >/dev/null || fail "baresip not installed (sh mk/deps.sh test)"
afd_start auth.mode=auto
sql "INSERT INTO subscribers (impi, impu, password) VALUES ('dave@$DOMAIN', 'sip:dave@$DOMAIN', 'd4v3-pw')"

# run_baresip PASSWORD: baresip for a few seconds with that password.
run_baresip() {
	local bport d=$TMP/baresip-$1
	bport=$("$SIPSEND" -P)
	mkdir -p "$d"
	cat >"$d/config" <<CONF
poll_method		epoll
sip_listen		127.0.0.1:$bport
module_path		/usr/lib/baresip/modules
module			g711.so
module_app		account.so
module_app		menu.so
CONF
	echo "<sip:dave@$DOMAIN>;auth_pass=$1;outbound=\"sip:127.0.0.1:$AFD_PORT\";regint=60" >"$d/accounts"
	baresip -f "$d" -t $(( 4 * SCALE )) </dev/null >"$d/out" 2>&1 &
	BS=$!
	E2E_PIDS="$E2E_PIDS $BS"
	BS_OUT=$d/out
}

run_baresip wrong-pw
wait $BS
cat "$BS_OUT" | tail -n 5
assert_eq 0 "$(sql 'SELECT count(*) FROM registrations')" "no binding with a wrong password"
log_has "403 Forbidden to 127.0.0.1 \(sip:dave@$DOMAIN\)" || fail "no 403 for baresip's wrong password"

run_baresip d4v3-pw
wait_for "[ \"\$(sql \"SELECT count(*) FROM active_registrations WHERE user_agent LIKE 'baresip%'\")\" = 1 ]" 4 ||
	fail "baresip did not register: $(cat "$BS_OUT")"
assert_eq "dave@$DOMAIN" "$(sql "SELECT impi FROM registrations")" "the IMPI baresip authenticated as"
wait_for "grep -q '200 OK' '$BS_OUT'" 2 || fail "baresip did not see the 200: $(cat "$BS_OUT")"
wait $BS
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
