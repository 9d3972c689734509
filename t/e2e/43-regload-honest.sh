#!/bin/bash
# The benchmark's generator counts only the right answer: a 200 tied to its
# request by Call-ID and CSeq, with the request's top Via, a To tag and the
# registered Contact. A server that merely echoes the request with a 200
# scores nothing; a correct do-nothing registrar and afd score every
# request; a re-registration run (-I, -K) refreshes the bindings of an
# earlier one with higher CSeqs (200s), and one that goes back in CSeq is
# refused. Short, bounded runs on loopback.
. "$(dirname "$0")/lib.sh"

RL=${AFD_TOOLS%/tools}/bench/regload
[ -x "$RL" ] || fail "$RL not built (make build-test)"
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# A wrong registrar: 200 echoing Via, From, To, Call-ID, CSeq; no To tag,
# no Contact.
port=$("$SIPSEND" -P)
"$RL" -R "127.0.0.1:$port" -E -d 3 -k &
resp=$!
E2E_PIDS="$E2E_PIDS $resp"
sleep 0.2
out=$("$RL" -s "127.0.0.1:$port" -r 200 -d 1 -g 1 -k -q) && fail "regload passed an echoing registrar: $out"
say "echo: $out"
assert_eq 200 "$(kv sent "$out")" "requests sent to the echo"
assert_eq 0 "$(kv ok "$out")" "right 200s from the echo"
assert_eq 200 "$(kv bad "$out")" "wrong 200s from the echo"
wait $resp

# A correct do-nothing registrar: every request counted.
port=$("$SIPSEND" -P)
"$RL" -R "127.0.0.1:$port" -d 3 -k &
resp=$!
E2E_PIDS="$E2E_PIDS $resp"
sleep 0.2
out=$("$RL" -s "127.0.0.1:$port" -r 200 -d 1 -g 1 -k -q) || fail "regload failed a correct registrar: $out"
assert_eq 200 "$(kv ok "$out")" "right 200s from the do-nothing registrar"
wait $resp

# afd: first registrations of 100 AORs, then a refresh of the same AORs.
afd_start
out=$("$RL" -s "127.0.0.1:$AFD_PORT" -n 100 -I 5eed -r 0 -w 20 -c 100 -g 2 -k -q) || fail "first registrations: $out"
assert_eq 100 "$(kv ok "$out")" "right 200s to first registrations"
out=$("$RL" -s "127.0.0.1:$AFD_PORT" -n 100 -I 5eed -K 100 -r 0 -w 20 -c 200 -g 2 -k -q) || fail "re-registrations: $out"
assert_eq 200 "$(kv ok "$out")" "right 200s to re-registrations"
assert_eq 100 "$(sql "SELECT count(*) FROM registrations")" "bindings after refreshes (the same AORs)"
assert_eq 3 "$(sql "SELECT max(cseq) FROM registrations")" "the CSeq of the last refresh"
# Going back to CSeq 2: each is refused (500 Out of Order), and counted so.
out=$("$RL" -s "127.0.0.1:$AFD_PORT" -n 100 -I 5eed -K 100 -r 0 -w 20 -c 100 -g 2 -k -q) && fail "out-of-order refreshes passed: $out"
assert_eq 0 "$(kv ok "$out")" "right 200s to out-of-order refreshes"
assert_eq 100 "$(kv c5xx "$out")" "500s to out-of-order refreshes"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
