#!/bin/bash
# A request in another SIP version than 2.0 gets 505 Version Not Supported
# (RFC 3261 8.2.2 and 21.5.7, RFC 4475 3.1.2.16), over UDP and TCP.
. "$(dirname "$0")/lib.sh"

afd_start
for v in SIP/7.0 SIP/3.0 SIP/2.1; do
	for t in -u -t; do
		out=$(options_msg | sed "1s|SIP/2.0|$v|" | sip $t) || fail "no answer to a $v OPTIONS ($t)"
		say "$v ($t): $(printf '%s\n' "$out" | head -n 1)"
		assert_eq 505 "$(status_of "$out")" "status of a $v request ($t)"
		assert_alive "$v"
	done
done
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
