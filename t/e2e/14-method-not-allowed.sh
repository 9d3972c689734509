#!/bin/bash
# A method afd knows (RFC 3261 and its extensions) but does not serve gets
# 405 Method Not Allowed with an Allow header listing what afd serves (the
# method is understood, so 501 "does not recognize" is not the answer);
# a method afd does not know gets 501 with Allow.
. "$(dirname "$0")/lib.sh"

afd_start
for m in PUBLISH MESSAGE INFO REFER; do
	out=$(req $m "sip:bob@$DOMAIN" "Event: presence" | sip) || fail "no answer to $m"
	say "$m: $(printf '%s\n' "$out" | head -n 1)"
	assert_eq 405 "$(status_of "$out")" "status of $m"
	assert_match '^Allow:.*REGISTER' "$out" "Allow in the 405 to $m"
	assert_no_match "^Allow:.*\\b$m\\b" "$out" "Allow in the 405 to $m"
	assert_alive "$m"
done
out=$(req FROBNICATE "sip:bob@$DOMAIN" | sip) || fail "no answer to FROBNICATE"
assert_eq 501 "$(status_of "$out")" "status of an unknown method"
assert_match '^Allow:.*OPTIONS' "$out" "Allow in the 501"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
