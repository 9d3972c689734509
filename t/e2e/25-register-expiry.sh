#!/bin/bash
# Expiry: a binding disappears from the registrations table within a
# second after it expires, and is no longer listed; the others stay.
. "$(dirname "$0")/lib.sh"

afd_start registrar.min_expires=1
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>;expires=2" \
	"Contact: <sip:alice@127.0.0.1:5062>;expires=600" | sip) || fail "no answer"
echo "$out"
assert_eq 200 "$(status_of "$out")" "REGISTER with expires=2"
assert_match '^Contact: .*<sip:alice@127.0.0.1:5061>;expires=[12]\b' "$out" "expires=2 granted"
exp=$(sql "SELECT expires_at FROM registrations WHERE contact = 'sip:alice@127.0.0.1:5061'")
[ -n "$exp" ] || fail "no row for the short binding"
now=$(date +%s)
[ "$exp" -le $((now + 2)) ] || fail "expires_at $exp is more than 2 s from now $now"

gone() { [ "$(sql "SELECT count(*) FROM registrations WHERE contact = 'sip:alice@127.0.0.1:5061'")" = 0 ]; }
# Wait for the expiry (expires_at is in whole seconds: expired from
# expires_at on), then measure how long the row stays.
while [ "$(date +%s)" -lt "$exp" ]; do
	gone && fail "the row went before it expired (expires_at $exp, now $(date +%s.%N))"
	sleep 0.05
done
t0=$(now_ms)
start=$(( exp * 1000 ))
wait_for gone 5 || fail "the expired row is still there 5 s after expiry"
took=$(( $(now_ms) - start ))
say "row removed $took ms after expires_at"
assert_le "$took" $(( 1000 * SCALE + 500 )) "ms from expiry to the row's removal"
assert_eq 1 "$(sql "SELECT count(*) FROM registrations WHERE contact = 'sip:alice@127.0.0.1:5062'")" "the long binding stays"
assert_eq 1 "$(sql "SELECT count(*) FROM active_registrations WHERE aor = 'sip:alice@$DOMAIN'")" "active_registrations"
out=$(req REGISTER "sip:$DOMAIN" | sip) || fail "no answer to the query"
assert_no_match '5061' "$(hdr Contact "$out")" "expired binding listed"
assert_match '5062' "$(hdr Contact "$out")" "live binding listed"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
