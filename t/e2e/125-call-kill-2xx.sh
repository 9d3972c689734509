#!/bin/bash
# kill -9 of the UDP worker in stage 'answered' with the caller over UDP
# (the README's "kill -9 during a call" table): the 200 reached alice, whose
# ACKs are lost for a while (sipua -W: she ACKs no 2xx within that time
# of the first); the dead worker's retransmissions of the 200 die with it,
# so the replacement sends the 200 again from the dialogs row (RFC 3261
# 13.3.1.4) until alice ACKs it: the call is confirmed and ends normally.
# Then a caller that never ACKs: after 64*T1 the replacement ends the call
# with BYE to both phones.
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
# T1 = 200 ms: 64*T1 is 12.8 s
afd_start afd.sip_t1=200

ua() { # NAME ARGS...: a phone in the background, its lines in $TMP/NAME.out
	local name=$1
	shift
	: >"$TMP/$name.out" # before a wait on it can read the last run's lines
	"$UA" -p "$AFD_PORT" -u "$name" "$@" >"$TMP/$name.out" 2>&1 &
	E2E_PIDS="$E2E_PIDS $!"
	eval "pid_$name=$!"
}
registered() { wait_for "grep -q '^RESP 200 REGISTER' '$TMP/$1.out'" 5 || fail "$1 did not register"; }
dlg() { sql "SELECT $1 FROM dialogs ORDER BY id DESC LIMIT 1"; }
cdr() { sql "SELECT end_reason FROM calls WHERE callee = 'sip:$1@$DOMAIN' ORDER BY id DESC LIMIT 1"; }
kill_owner() { # WHAT
	local slot pid
	slot=$(dlg owner_slot)
	pid=$(worker_pid "$slot")
	[ -n "$pid" ] || fail "no worker for slot $slot"
	kill -9 "$pid"
	say "killed $slot (pid $pid) $1"
}

# 1. alice's ACKs are lost for 2 s; the UDP worker dies right after her 200
ua bob -T $(( 12 * SCALE ))
registered bob
ua alice -W 2000 -c bob -H 300 -T $(( 10 * SCALE ))
wait_for "grep -q '^RESP 200 INVITE' '$TMP/alice.out'" 5 || fail "alice got no 200"
assert_eq "u0" "$(dlg owner_slot)" "the owner of a call over UDP"
assert_eq "answered" "$(dlg stage)" "the stage before alice's ACK"
kill_owner "before alice's ACK"
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
a=$(cat "$TMP/alice.out")
b=$(cat "$TMP/bob.out")
assert_match "INFO 2xx not ACKed" "$a" "alice withheld her ACK"
[ "$(grep -c '^RESP 200 INVITE' "$TMP/alice.out")" -ge 2 ] ||
	fail "alice did not get the 200 again"
log_has "answered but not ACKed when this worker's predecessor died" ||
	fail "the replacement did not send the 200 again"
assert_match "^REQ ACK " "$b" "bob got the ACK"
assert_match "^REQ BYE " "$b" "bob got the BYE"
assert_match "^RESP 200 BYE" "$a" "alice's BYE answered 200"
assert_eq "caller hung up" "$(cdr bob)" "the CDR"
assert_eq "ended" "$(dlg stage)" "the call's stage"

# 2. carol never ACKs: after 64*T1 (12.8 s) both phones get a BYE
ua dave -T $(( 25 * SCALE ))
registered dave
ua carol -W 60000 -c dave -T $(( 25 * SCALE ))
wait_for "grep -q '^RESP 200 INVITE' '$TMP/carol.out'" 5 || fail "carol got no 200"
kill_owner "before carol's ACK (never sent)"
wait_for "[ \"\$(dlg stage)\" = ended ]" $(( 20 * SCALE )) ||
	fail "the call was not ended without an ACK"
wait_for "grep -q '^REQ BYE' '$TMP/carol.out' && grep -q '^REQ BYE' '$TMP/dave.out'" 3 ||
	fail "no BYE to both phones"
kill "$pid_carol" "$pid_dave" 2>/dev/null
wait "$pid_carol" "$pid_dave" 2>/dev/null
cat "$TMP/carol.out" "$TMP/dave.out"
assert_eq "no ACK from the caller" "$(cdr dave)" "the CDR without an ACK"
[ "$(grep -c '^RESP 200 INVITE' "$TMP/carol.out")" -ge 3 ] ||
	fail "carol did not get the 200 again"
log_has "no ACK from the caller within 64\*T1: ended with BYE" ||
	fail "no log line for the call ended without an ACK"

assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
