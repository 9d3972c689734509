#!/bin/bash
# sipsak, a stock SIP test client, gets its answer to an OPTIONS ping.
. "$(dirname "$0")/lib.sh"
command -v sipsak >/dev/null || fail "sipsak is not installed (apt-get install sipsak)"

afd_start

out=$(timeout $(( 10 * SCALE )) sipsak -vv -s "sip:ping@127.0.0.1:$AFD_PORT" 2>&1)
rc=$?
echo "$out"
assert_eq 0 "$rc" "sipsak exit status"
assert_match '^SIP/2.0 200 ' "$out" "sipsak sees 200"

# And over TCP.
out=$(timeout $(( 10 * SCALE )) sipsak -vv -E tcp -s "sip:ping@127.0.0.1:$AFD_PORT" 2>&1)
rc=$?
echo "$out"
assert_eq 0 "$rc" "sipsak over TCP exit status"
assert_match '^SIP/2.0 200 ' "$out" "sipsak over TCP sees 200"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
