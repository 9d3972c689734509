#!/bin/bash
# Subscriptions survive kill -9 of the UDP worker (the notifier) and a
# restart of afd: no version and no CSeq is repeated or skipped as the
# phone sees them. A NOTIFY in flight when the notifier is killed is sent
# again by its replacement as it was (same CSeq, version and Via branch:
# the phone's transaction layer would absorb a copy it answered), and a
# change committed by a TCP worker while the UDP worker is dead is
# notified by the replacement.
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
afd_start

mkfifo "$TMP/pat.in"
"$UA" -p "$AFD_PORT" -u pat -e 600 -S 600 -i -T $(( 60 * SCALE )) \
	<"$TMP/pat.in" >"$TMP/pat.out" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
pid_pat=$!
exec 3>"$TMP/pat.in"
cseqs() { grep '^NOTIFY ' "$TMP/pat.out" | awk '{ print $2 }' | sort -un | tr '\n' ' '; }
notifies() { grep '^NOTIFY ' "$TMP/pat.out" | awk '{ print $2 }' | sort -un | wc -l; }
wait_n() {
	wait_for "[ \$(notifies) -ge $1 ]" $(( ${2:-5} * SCALE )) ||
		{ cat "$TMP/pat.out"; fail "NOTIFY $1 did not come"; }
}
# every CSeq carries one version, always CSeq - 1
check_versions() {
	local bad
	bad=$(grep '^NOTIFY ' "$TMP/pat.out" | awk '$3 != $2 - 1 { print }')
	[ -z "$bad" ] || fail "a NOTIFY whose version is not CSeq - 1: $bad"
	assert_eq "$1" "$(cseqs)" "CSeqs the phone saw"
}

wait_n 1
"$UA" -p "$AFD_PORT" -u pat -e 300 -T 1 >/dev/null 2>&1     # change 1
wait_n 2

# 1. kill -9 of the UDP worker with NOTIFY 3 unanswered
echo "silent 1" >&3
wait_for "grep -qx 'CMD silent 1' '$TMP/pat.out'" $(( 3 * SCALE )) || fail "pat did not take 'silent 1'"
"$UA" -p "$AFD_PORT" -u pat -t -e 300 -T 1 >/dev/null 2>&1  # change 2 (TCP)
wait_n 3
u0=$(worker_pid udp)
kill -9 "$u0"
say "killed the UDP worker $u0 with NOTIFY 3 in flight"
# a change committed by a TCP worker while the UDP worker is being replaced
"$UA" -p "$AFD_PORT" -u pat -t -e 300 -T 1 >/dev/null 2>&1  # change 3 (TCP)
echo "silent 0" >&3
wait_log "sending again NOTIFY 3 \(version 2\)" 5 || fail "the replacement did not send NOTIFY 3 again"
wait_n 4 8
[ "$(worker_pid udp)" != "$u0" ] || fail "the UDP worker was not replaced"
sleep 1
check_versions "1 2 3 4 "
# one NOTIFY in flight at a time: NOTIFY 4 only once the phone answered
# (after "silent 0")
l4=$(grep -n '^NOTIFY 4 ' "$TMP/pat.out" | head -1 | cut -d: -f1)
l0=$(grep -n '^CMD silent 0' "$TMP/pat.out" | head -1 | cut -d: -f1)
[ "$l4" -gt "$l0" ] || fail "NOTIFY 4 came while NOTIFY 3 was unanswered"
# NOTIFY 3 came again with the same branch
assert_eq "1" "$(awk '$1 == "NOTIFY" && $2 == 3 { print $5 }' "$TMP/pat.out" | sort -u | wc -l)" "NOTIFY 3's branches"
# NOTIFY 4 shows the three other bindings
assert_eq "4" "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:pat@$DOMAIN'")" "bindings"
wait_for "[ \"\$(sql 'SELECT version || \" \" || cseq || \" \" || pending FROM reg_subscriptions')\" = '3 4 0' ]" $(( 3 * SCALE )) ||
	fail "subscription row: $(sql 'SELECT version, cseq, pending FROM reg_subscriptions')"

# 2. kill -9 between two changes (nothing in flight)
u0=$(worker_pid udp)
kill -9 "$u0"
wait_for "[ -n \"\$(worker_pid udp)\" ] && [ \"\$(worker_pid udp)\" != $u0 ]" $(( 5 * SCALE )) || fail "no new UDP worker"
"$UA" -p "$AFD_PORT" -u pat -e 300 -T 1 >/dev/null 2>&1     # change 4
wait_n 5
sleep 0.5
check_versions "1 2 3 4 5 "

# 3. a restart of afd keeps the subscription; the next change is CSeq 6
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
afd_start
assert_eq "1" "$(sql "SELECT count(*) FROM reg_subscriptions WHERE state = 'active'")" "subscriptions after the restart"
"$UA" -p "$AFD_PORT" -u pat -e 300 -T 1 >/dev/null 2>&1     # change 5
wait_n 6
sleep 0.5
check_versions "1 2 3 4 5 6 "
echo quit >&3
exec 3>&-
wait "$pid_pat"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
