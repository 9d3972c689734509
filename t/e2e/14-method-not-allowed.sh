#!/bin/bash
# Methods: every method of RFC 3261 and its extensions that afd does not
# list in Allow (it knows them but does not serve them) gets 405 Method Not
# Allowed with an Allow header (RFC 3261 21.4.6; 501 is for a method the
# server does not recognize, 21.5.2); a method afd does not know gets 501.
# The served set comes from afd's own Allow, so this holds as afd grows.
. "$(dirname "$0")/lib.sh"

afd_start
out=$(options_msg | sip) || fail "no answer to OPTIONS"
allow=$(hdr Allow "$out" | tr ',' ' ')
say "Allow: $allow"
[ -n "$allow" ] || fail "no Allow in the 200 to OPTIONS"
n=0
for m in INVITE BYE SUBSCRIBE NOTIFY PRACK UPDATE INFO MESSAGE REFER PUBLISH; do
	case " $allow " in *" $m "*) continue ;; esac
	n=$((n + 1))
	out=$(req $m "sip:bob@$DOMAIN" "Event: presence" | sip) || fail "no answer to $m"
	say "$m: $(printf '%s\n' "$out" | head -n 1)"
	assert_eq 405 "$(status_of "$out")" "status of $m (known, not in Allow)"
	assert_match '^Allow:.*REGISTER' "$out" "Allow in the 405 to $m"
	assert_no_match "^Allow:.*\\b$m\\b" "$out" "Allow in the 405 to $m"
	assert_alive "$m"
done
say "$n known methods not served"
out=$(req FROBNICATE "sip:bob@$DOMAIN" | sip) || fail "no answer to FROBNICATE"
assert_eq 501 "$(status_of "$out")" "status of an unknown method"
assert_match '^Allow:.*OPTIONS' "$out" "Allow in the 501"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
