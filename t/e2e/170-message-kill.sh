#!/bin/bash
# kill -9 of the worker relaying a pager-mode MESSAGE (RFC 3428) to a
# callee with one binding: the sender still gets the callee's answer. The
# relay is a dialog_relays row of no call (dialog_id 0) from the MESSAGE
# until its final answer; the callee's 200 reaches the replacement (the
# same slot: afd's branch names it), which relays it from the row.
# 1. the sender over UDP (the UDP worker relays): its retransmission of
#    the MESSAGE reaches the replacement, which does not send it to bob a
#    second time; bob's 200 comes later and reaches the sender.
# 2. the sender over TCP (a TCP worker relays; no retransmission would
#    save it): the 200 is relayed on the connection the master handed to
#    the replacement.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

# T1 = 2 s: bob answers 1.5 s late, afd need not retransmit meanwhile
afd_start afd.sip_t1=2000

relay_slot() { # the slot the pager relay's branch names (z9hG4bK-u0-...)
	sql "SELECT branch FROM dialog_relays WHERE dialog_id = 0 AND method = 'MESSAGE'" |
		head -1 | cut -d- -f2
}
kill_relay() { # WHAT
	local slot pid
	slot=$(relay_slot)
	[ -n "$slot" ] || fail "no pager relay recorded"
	pid=$(worker_pid "$slot")
	[ -n "$pid" ] || fail "no worker for slot $slot"
	kill -9 "$pid"
	say "killed $slot (pid $pid) $1"
	wait_for "[ -n \"\$(worker_pid $slot)\" ] && [ \"\$(worker_pid $slot)\" != $pid ]" 5 ||
		fail "no replacement for $slot"
}
got() { awk '$1 == "REQ" && $2 == "MESSAGE" { print $3 }' "$TMP/$1.out" | sort -u | wc -l; }

# 1. over UDP: a MESSAGE from alice (sipsend), the same bytes again after
# the kill (a retransmission: same Call-ID, branch, tag)
ua bob bob -D 1500 -T $(( 8 * SCALE ))
registered bob
ua alice alice -T $(( 8 * SCALE ))
registered alice
BODY="hello over udp" req MESSAGE "sip:bob@$DOMAIN" "Content-Type: text/plain" \
	>"$TMP/msg"
sed -i "s/^To: .*/To: <sip:bob@$DOMAIN>/" "$TMP/msg"
ids="-D CALLID=pager-170@127.0.0.1 -D BRANCH=z9hG4bK-pager170 -D TAG=p170"
log_mark
"$SIPSEND" -u -p "$AFD_PORT" -w $(( 6000 * SCALE )) $ids "$TMP/msg" >"$TMP/first.out" 2>&1 &
first=$!
E2E_PIDS="$E2E_PIDS $first"
wait_for "grep -q '^REQ MESSAGE' '$TMP/bob.out'" 3 || fail "bob got no MESSAGE"
assert_eq "u0|MESSAGE|0" "$(sql "SELECT substr(branch, 9, 2), method, dialog_id FROM dialog_relays")" \
	"the relay recorded, owned by the UDP worker"
kill_relay "with a MESSAGE at bob"
again=$("$SIPSEND" -u -p "$AFD_PORT" -w 500 -n 0 $ids "$TMP/msg" 2>&1)
echo "$again"
assert_eq "" "$(status_of "$again")" "an answer to the retransmission"
wait "$first" || fail "the sender got no final answer"
cat "$TMP/first.out" "$TMP/bob.out"
assert_eq "200" "$(status_of "$(cat "$TMP/first.out")")" "the sender's answer"
assert_eq "1" "$(got bob)" "MESSAGEs bob got"
log_since "MESSAGE pager-170@127.0.0.1 again: its relay goes on" ||
	fail "the retransmission was not recognised"
log_since "answer 200 to a pager MESSAGE reached a restarted worker: relayed from its dialog_relays row" ||
	fail "the answer was not relayed from the row"
assert_eq 0 "$(sql 'SELECT count(*) FROM dialog_relays')" "relays left"

# 2. over TCP: carol's MESSAGE relayed by her TCP worker, killed meanwhile
ua dave dave -D 1500 -T $(( 8 * SCALE ))
registered dave
log_mark
ua carol carol -t -M -c dave -T $(( 6 * SCALE ))
wait_for "grep -q '^REQ MESSAGE' '$TMP/dave.out'" 3 || fail "dave got no MESSAGE"
assert_match "^t[0-9]+$" "$(relay_slot)" "the relay's owner is carol's TCP worker"
kill_relay "with carol's MESSAGE at dave"
wait "$pid_carol" "$pid_dave"
cat "$TMP/carol.out" "$TMP/dave.out"
assert_match "^RESP 200 MESSAGE" "$(cat "$TMP/carol.out")" "carol got dave's 200"
assert_eq "1" "$(got dave)" "MESSAGEs dave got"
log_since "answer 200 to a pager MESSAGE reached a restarted worker" ||
	fail "carol's answer was not relayed from the row"
assert_eq 0 "$(sql 'SELECT count(*) FROM dialog_relays')" "relays left"
assert_eq 0 "$(sql 'SELECT count(*) FROM dialogs')" "no call made"
kill "$pid_alice" 2>/dev/null
wait "$pid_alice" 2>/dev/null

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
