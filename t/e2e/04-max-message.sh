#!/bin/bash
# Size limit (max_message): a bigger datagram gets 513 Message Too Large;
# a bigger message on TCP closes the connection; afd goes on answering.
. "$(dirname "$0")/lib.sh"

# A UDP datagram cannot carry more than 65507 bytes, so the UDP case runs
# with a smaller limit; the default (64 KiB) is checked over TCP.
afd_start afd.max_message=8192

# pad N: header lines of 1000 bytes (one header field is limited on its
# own) adding about N bytes to the OPTIONS.
pad() {
	local i line
	line=$(head -c 990 /dev/zero | tr '\0' 'a')
	for i in $(seq 1 $(( $1 / 1000 ))); do
		printf 'X-Pad-%d: %s\n' "$i" "$line"
	done
	printf 'X-Pad-End: %s' "$(head -c $(( $1 % 1000 + 1 )) /dev/zero | tr '\0' 'b')"
}

out=$(options_msg "$(pad 7000)" | sip -s) || fail "no answer to a 7 kB OPTIONS"
assert_match '^SIP/2.0 200 ' "$out" "7 kB OPTIONS under the limit"

out=$(options_msg "$(pad 9000)" | sip -s) || fail "no answer to a 9 kB datagram over max_message"
assert_match '^SIP/2.0 513 ' "$out" "9 kB datagram"
assert_alive "a datagram over max_message"

out=$(options_msg "$(pad 60000)" | sip -s) || fail "no answer to a 60 kB datagram"
assert_match '^SIP/2.0 513 ' "$out" "60 kB datagram"
assert_alive "a 60 kB datagram"

# TCP: over the limit, the connection is closed (an answer may come first).
options_msg "$(pad 9000)" | sip -t -n 0 -c -w $(( 3000 * SCALE )) >/dev/null ||
	fail "9 kB message on TCP: the connection stays open"
assert_alive "9 kB message on TCP"
afd_answers tcp || fail "TCP not served after an oversized message"

afd_stop
assert_eq 0 "$AFD_RC" "exit status"

# The default limit: 64 KiB.
afd_start afd.max_message=65536
out=$(options_msg "$(pad 50000)" | sip -t -s) || fail "no answer to 50 kB over TCP"
assert_match '^SIP/2.0 200 ' "$out" "50 kB OPTIONS over TCP"
options_msg "$(pad 70000)" | sip -t -n 0 -c -w $(( 3000 * SCALE )) >/dev/null ||
	fail "70 kB message on TCP: the connection stays open"
assert_alive "70 kB message on TCP"
# Headers without an end: the connection is closed once they pass the limit.
head -c 80000 /dev/zero | tr '\0' 'A' | sip -t -r -n 0 -c -w $(( 3000 * SCALE )) >/dev/null ||
	fail "80 kB without a header end on TCP: the connection stays open"
assert_alive "80 kB of endless headers on TCP"
afd_answers tcp || fail "TCP not served after oversized messages"

afd_stop
assert_eq 0 "$AFD_RC" "exit status"
