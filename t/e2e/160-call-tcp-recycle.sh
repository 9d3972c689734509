#!/bin/bash
# A TCP worker is recycled once its connection has closed and it waits for
# nothing, and no call is lost by it: alice calls bob over a TCP
# connection of her own and leaves (her connection closes) while the call
# is up. Once the call's transactions are over, the worker asks for a
# fresh process and the master forks one in its slot (a lean spare: no
# SQLite connection). The slot still owns the call: bob's BYE, which the
# UDP worker forwards to the slot, wakes the fresh process, which makes
# its SIP service and ends the call as the old one would have (alice's
# leg is gone: afd's BYE to her times out after 64*T1 and bob's BYE gets
# that answer, 408, as it did before workers were recycled), and once the
# BYE is over that process is recycled in turn; the workers
# row follows each process.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/calllib.sh"

afd_start afd.sip_t1=100 calls.ring_timeout=3 afd.log_level=debug workers.tcp_min_spare=1

ua bob bob -H $(( 10000 * SCALE )) -T $(( 25 * SCALE ))
registered bob
ua alicereg alice -T $(( 25 * SCALE ))
registered alicereg
log_mark
# the caller's own TCP connection (-e 0: no binding on it); she leaves
# after 2 s, the call up
ua alice alice -t -e 0 -c bob -T 2
wait_for "[ \"\$(dlg stage)\" = confirmed ]" 3 || fail "the call is not up"
slot=$(dlg owner_slot)
assert_match '^t[0-9]+$' "$slot" "the call's owner slot"
old=$(worker_pid "$slot")
wait "$pid_alice"
wait_log "tcp worker ${slot#t}: .*connection [0-9]+ from 127.0.0.1:[0-9]+ closed: closed by peer" 3
wait_log "tcp worker ${slot#t}: .*idle and quiet: .*asking for a fresh process" $(( 10 * SCALE ))
wait_log "tcp worker $slot \\(pid $old\\) recycled after its connection: a fresh process takes the slot" 3
wait_for "[ -n \"\$(worker_pid $slot)\" ] && [ \"\$(worker_pid $slot)\" != $old ]" 3 ||
	fail "no fresh process in $slot"
new=$(worker_pid "$slot")
wait_for "[ \"\$(sql \"SELECT pid || ' ' || state || ' ' || restarts FROM workers WHERE slot = '$slot'\")\" = '$new idle 0' ]" 3 ||
	fail "$slot's row: $(sql "SELECT * FROM workers WHERE slot = '$slot'") (want $new idle 0)"
assert_eq confirmed "$(dlg stage)" "the call's stage after the recycle"
assert_no_match "afd\\[$new\\] tcp worker ${slot#t}: .*SIP service started" "$(log_new)" \
	"the fresh process made its SIP service before anything needed it"

# bob hangs up: the fresh process takes the BYE and ends the call
wait_for "[ \"\$(dlg stage)\" = ended ]" $(( 15 * SCALE )) ||
	fail "the call did not end: stage $(dlg stage); $(log_new | tail -5)"
log_since "afd\\[$new\\] tcp worker ${slot#t}: .*SIP service started \\(the worker was lean\\)" ||
	fail "the fresh process did not make its SIP service for the BYE"
# once the BYE's transactions are over, the woken process waits for
# nothing again: it is recycled in turn, still no restart
wait_log "tcp worker $slot \\(pid $new\\) recycled after its connection: a fresh process takes the slot" $(( 10 * SCALE ))
assert_eq 0 "$(sql "SELECT restarts FROM workers WHERE slot = '$slot'")" "$slot's restarts"
wait_for "grep -q '^RESP [0-9]* BYE' '$TMP/bob.out'" $(( 10 * SCALE )) ||
	fail "bob's BYE got no final answer: $(cat "$TMP/bob.out")"
say "bob: $(grep '^RESP [0-9]* BYE' "$TMP/bob.out")"
assert_eq "callee hung up" "$(sql "SELECT end_reason FROM calls ORDER BY id DESC LIMIT 1")" "the CDR"
assert_eq 0 "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
