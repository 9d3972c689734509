#!/bin/bash
# Real clients: baresip calls baresip through afd. bob (auto-answer) and
# alice register; alice dials sip:bob@DOMAIN and quits after a few
# seconds (BYE). Both sides' logs say the call was established and
# terminated, the media flowed between them (afd relays the SDP), and
# afd's calls row says answered, then "caller hung up".
. "$(dirname "$0")/lib.sh"

command -v baresip >/dev/null || fail "baresip not installed (sh mk/deps.sh test)"
afd_start

bconf() { # USER ACCOUNT-PARAMS: a headless baresip's folder
	local port
	port=$("$SIPSEND" -P)
	mkdir -p "$TMP/$1"
	cat >"$TMP/$1/config" <<CONF
poll_method		epoll
sip_listen		127.0.0.1:$port
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			aufile.so
module_app		account.so
module_app		menu.so
audio_source		ausine,440
audio_player		aufile,/dev/null
audio_alert		aufile,/dev/null
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		2
rtp_timeout		0
CONF
	echo "<sip:$1@$DOMAIN>;outbound=\"sip:127.0.0.1:$AFD_PORT\";regint=60$2" >"$TMP/$1/accounts"
}

bconf bob ";answermode=auto"
bconf alice ""
baresip -f "$TMP/bob" -t $(( 9 * SCALE )) </dev/null >"$TMP/bob.out" 2>&1 &
bob=$!
E2E_PIDS="$E2E_PIDS $bob"
wait_for "[ \"\$(sql \"SELECT count(*) FROM active_registrations WHERE aor = 'sip:bob@$DOMAIN'\")\" = 1 ]" 4 ||
	fail "bob did not register: $(cat "$TMP/bob.out")"
baresip -f "$TMP/alice" -t $(( 5 * SCALE )) -e "/dial sip:bob@$DOMAIN" </dev/null >"$TMP/alice.out" 2>&1 &
alice=$!
E2E_PIDS="$E2E_PIDS $alice"
wait $alice
wait_for "grep -q 'terminated' '$TMP/bob.out'" 4 || fail "bob's call did not end: $(tail -5 "$TMP/bob.out")"
tr '\r' '\n' <"$TMP/alice.out" | grep -v 'audio=' | grep -E "call|Call|SIP|200" 
tr '\r' '\n' <"$TMP/bob.out" | grep -v 'audio=' | grep -E "call|Call|SIP|200"

grep -q "Call established: sip:bob@$DOMAIN" "$TMP/alice.out" || fail "alice's call was not established"
grep -q "Call established: sip:alice@$DOMAIN" "$TMP/bob.out" || fail "bob's call was not established"
grep -q "Call with sip:bob@$DOMAIN terminated" "$TMP/alice.out" || fail "alice's call did not end"
grep -q "Call with sip:alice@$DOMAIN terminated" "$TMP/bob.out" || fail "bob's call did not end"
grep -q "incoming rtp for 'audio' established" "$TMP/bob.out" || fail "no media reached bob"
wait_for "[ \"\$(sql \"SELECT end_reason FROM calls WHERE answered_at IS NOT NULL\")\" = 'caller hung up' ]" 3 ||
	fail "the CDR: $(sql 'SELECT * FROM calls')"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
kill $bob 2>/dev/null
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
