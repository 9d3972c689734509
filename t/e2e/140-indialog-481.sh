#!/bin/bash
# An in-dialog request (a To tag) for a dialog afd does not have, neither a
# call's nor a reg-event subscription's, gets 481 Call/Transaction Does Not
# Exist (RFC 3261 12.2.2) whatever its method: those afd does not serve
# (NOTIFY, REFER, PUBLISH, an unknown one) as well as those it does (INFO,
# UPDATE, PRACK, MESSAGE, BYE, SUBSCRIBE, also with another Event), over
# UDP and TCP. Out of any dialog a method afd does not serve keeps 405
# with Allow; inside a subscription afd has, too (the dialog exists, the
# method is not allowed).
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
afd_start

# indialog METHOD [HEADER]...: req with a To tag afd never gave
indialog() {
	local m=$1
	shift
	req "$m" "sip:bob@$DOMAIN" "$@" | sed 's/^To: \(.*\)$/To: \1;tag=no-such-dialog/'
}

for tp in -u -t; do
	for m in NOTIFY REFER PUBLISH FROBNICATE INFO UPDATE PRACK MESSAGE BYE; do
		hdrs=()
		[ "$m" = NOTIFY ] && hdrs=("Event: reg" "Subscription-State: active")
		[ "$m" = REFER ] && hdrs=("Refer-To: <sip:carol@$DOMAIN>")
		out=$(indialog "$m" "${hdrs[@]}" | sip "$tp") || fail "no answer to in-dialog $m ($tp)"
		say "in-dialog $m ($tp): $(printf '%s\n' "$out" | head -n 1)"
		assert_eq 481 "$(status_of "$out")" "in-dialog $m of no dialog ($tp)"
		assert_match '^To: .*;tag=no-such-dialog$' "$out" "481 keeps the request's To tag"
		assert_no_match '^Allow:' "$out" "no Allow in the 481"
	done
	for ev in reg presence; do
		out=$(indialog SUBSCRIBE "Event: $ev" "Contact: <sip:alice@127.0.0.1:\$LPORT>" \
		    "Accept: application/reginfo+xml" "Expires: 600" | sip "$tp") || fail "no answer"
		assert_eq 481 "$(status_of "$out")" "in-dialog SUBSCRIBE (Event: $ev) of no subscription ($tp)"
	done
done

# out of dialog: 405 with Allow, 501 for an unknown method (unchanged)
for m in NOTIFY REFER PUBLISH; do
	out=$(req "$m" "sip:bob@$DOMAIN" "Event: reg" | sip) || fail "no answer to $m"
	assert_eq 405 "$(status_of "$out")" "out-of-dialog $m"
	assert_match '^Allow:.*REGISTER' "$out" "Allow in the 405 to $m"
done
out=$(req FROBNICATE "sip:bob@$DOMAIN" | sip)
assert_eq 501 "$(status_of "$out")" "out-of-dialog unknown method"

# inside a subscription afd has: a NOTIFY from the watcher is 405 (the
# dialog exists; afd does not take NOTIFYs), not 481
"$UA" -p "$AFD_PORT" -u dana -e 600 -S 600 -T $(( 20 * SCALE )) >"$TMP/dana.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
wait_for "grep -q '^NOTIFY ' '$TMP/dana.out'" $(( 5 * SCALE )) || { cat "$TMP/dana.out"; fail "dana's subscription"; }
IFS='|' read -r cid ftag ttag <<<"$(sql "SELECT call_id, from_tag, to_tag FROM reg_subscriptions WHERE aor = 'sip:dana@$DOMAIN'")"
[ -n "$ttag" ] || fail "no subscription row for dana"
out=$(printf '%s\n' "NOTIFY sip:afd@127.0.0.1:$AFD_PORT SIP/2.0" \
	'Via: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=$BRANCH;rport' 'Max-Forwards: 70' \
	"From: <sip:dana@$DOMAIN>;tag=$ftag" "To: <sip:dana@$DOMAIN>;tag=$ttag" \
	"Call-ID: $cid" 'CSeq: 9 NOTIFY' 'Event: reg' 'Subscription-State: active' \
	'Content-Length: 0' '' | sip)
assert_eq 405 "$(status_of "$out")" "NOTIFY inside a subscription afd has"
# the same with a wrong To tag: 481
out=$(printf '%s\n' "NOTIFY sip:afd@127.0.0.1:$AFD_PORT SIP/2.0" \
	'Via: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=$BRANCH;rport' 'Max-Forwards: 70' \
	"From: <sip:dana@$DOMAIN>;tag=$ftag" "To: <sip:dana@$DOMAIN>;tag=x$ttag" \
	"Call-ID: $cid" 'CSeq: 9 NOTIFY' 'Event: reg' 'Subscription-State: active' \
	'Content-Length: 0' '' | sip)
assert_eq 481 "$(status_of "$out")" "NOTIFY with another To tag"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
