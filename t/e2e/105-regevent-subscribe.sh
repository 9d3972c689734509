#!/bin/bash
# SUBSCRIBE's answers as a phone sees them: no Event 400, another package
# 489 with Allow-Events: reg, an Accept without reginfo 406, a short
# Expires 423 with Min-Expires, a long one lowered to [regevent]
# max_expires, the 200's To tag, Contact and Expires; an in-dialog SUBSCRIBE
# for a dialog afd does not know 481; a refresh extends the subscription
# and brings a NOTIFY; an expired subscription gets its final NOTIFY
# (terminated;reason=timeout) and its row goes; a fetch (Expires: 0) gets
# one terminated NOTIFY and leaves nothing; Allow and OPTIONS list
# SUBSCRIBE.
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
afd_start regevent.min_expires=2 regevent.max_expires=3600

sub_msg() { req SUBSCRIBE "sip:alice@$DOMAIN" "Contact: <sip:alice@127.0.0.1:\$LPORT>" "$@"; }

out=$(sub_msg "Accept: application/reginfo+xml" "Expires: 600" | sip)
assert_eq "400" "$(status_of "$out")" "SUBSCRIBE without Event"
out=$(sub_msg "Event: presence" "Expires: 600" | sip)
assert_eq "489" "$(status_of "$out")" "SUBSCRIBE to presence"
assert_eq "reg" "$(hdr Allow-Events "$out")" "489's Allow-Events"
out=$(sub_msg "Event: reg" "Accept: application/sdp" "Expires: 600" | sip)
assert_eq "406" "$(status_of "$out")" "Accept without reginfo"
out=$(sub_msg "Event: reg" "Expires: 1" | sip)
assert_eq "423" "$(status_of "$out")" "Expires below min_expires"
assert_eq "2" "$(hdr Min-Expires "$out")" "423's Min-Expires"
out=$(sub_msg "Event: reg" "Expires: 999999" | sip -n 2 -w 1500)
assert_eq "200" "$(status_of "$out")" "SUBSCRIBE 200"
assert_eq "3600" "$(hdr Expires "$out" | head -1)" "Expires lowered to max_expires"
assert_match "^<sip:afd@127.0.0.1:$AFD_PORT;transport=udp>$" "$(hdr Contact "$out" | head -1)" "afd's Contact"
assert_match ";tag=[0-9a-f]{16}" "$(hdr To "$out" | head -1)" "To tag"
# the first NOTIFY (afd's request) came to the same socket after the 200
assert_match "^NOTIFY sip:alice@127.0.0.1:[0-9]+ SIP/2.0$" "$out" "NOTIFY after the 200"
assert_match "^Subscription-State: active;expires=(3599|3600)$" "$out" "Subscription-State"
assert_match "^Event: reg$" "$out" "NOTIFY's Event"
assert_match "^Content-Type: application/reginfo\+xml$" "$out" "NOTIFY's Content-Type"
assert_match "^Max-Forwards: 70$" "$out" "NOTIFY's Max-Forwards"
assert_match "<registration aor=\"sip:alice@$DOMAIN\" id=\"a[0-9a-f]+\" state=\"init\"/>" "$out" "no binding yet: state init"

# in-dialog for an unknown dialog: 481
out=$(req SUBSCRIBE "sip:alice@$DOMAIN" "Event: reg" "Expires: 600" | sed 's/^To: \(.*\)$/To: \1;tag=nosuchtag/' | sip)
assert_eq "481" "$(status_of "$out")" "in-dialog SUBSCRIBE of no subscription"

# OPTIONS and 405s list SUBSCRIBE
out=$(options_msg | sip)
assert_match "^Allow: REGISTER, OPTIONS, SUBSCRIBE(, [A-Z]+)*$" "$out" "Allow"

# a phone: subscribe for 600 s, refresh (a NOTIFY follows), then an expiry
mkfifo "$TMP/amy.in"
"$UA" -p "$AFD_PORT" -u amy -e 600 -S 600 -i -T $(( 30 * SCALE )) <"$TMP/amy.in" >"$TMP/amy.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
exec 3>"$TMP/amy.in"
notifies() { grep -c '^NOTIFY ' "$TMP/amy.out"; }
wait_for "[ \$(notifies) -ge 1 ]" $(( 5 * SCALE )) || fail "amy's first NOTIFY"
echo "sub 3" >&3
wait_for "[ \$(notifies) -ge 2 ]" $(( 5 * SCALE )) || { cat "$TMP/amy.out"; fail "no NOTIFY after the refresh"; }
set -- $(grep '^NOTIFY 2 ' "$TMP/amy.out")
assert_match "^active;expires=[23]$" "$4" "Subscription-State after the refresh to 3 s"
wait_for "[ \$(notifies) -ge 3 ]" $(( 6 * SCALE )) || { cat "$TMP/amy.out"; fail "no final NOTIFY at expiry"; }
set -- $(grep '^NOTIFY 3 ' "$TMP/amy.out")
assert_eq "2 terminated;reason=timeout" "$3 $4" "final NOTIFY at expiry"
wait_for "[ \"\$(sql \"SELECT count(*) FROM reg_subscriptions WHERE aor = 'sip:amy@$DOMAIN'\")\" = 0 ]" $(( 3 * SCALE )) ||
	fail "the expired subscription's row is still there"
wait_log "subscription of sip:amy@$DOMAIN to sip:amy@$DOMAIN expired" 2 || fail "no log line for the expiry"
# after it: a refresh of the dead dialog is 481
echo "sub 600" >&3
wait_for "grep -q '^RESP 481 SUBSCRIBE' '$TMP/amy.out'" $(( 3 * SCALE )) || fail "refresh after expiry not 481"
echo quit >&3
exec 3>&-

# a fetch: Expires 0 gets 200 and one terminated NOTIFY, keeps nothing
out=$(FROM_USER=fetch sub_msg "Event: reg" "Expires: 0" | sip -n 2 -w 1500)
assert_eq "200" "$(status_of "$out")" "fetch"
assert_match "^Subscription-State: terminated;reason=timeout$" "$out" "the fetch's NOTIFY"
# (sipsend does not answer the NOTIFY: the row waits, terminated, for
# its answer or Timer F, then goes)
assert_eq "0" "$(sql "SELECT count(*) FROM active_reg_subscriptions WHERE watcher LIKE 'sip:fetch@%'")" "active subscriptions left by a fetch"
assert_eq "terminated" "$(sql "SELECT state FROM reg_subscriptions WHERE watcher LIKE 'sip:fetch@%'")" "the fetch's row"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
