#!/bin/bash
# Calls over one TCP connection, and what a TCP worker costs before and
# after. SIPp calls SIPp through afd (the shared scenarios, the caller
# over TCP: one connection, one TCP worker, as bench-calls loads it):
# every call successful by SIPp's count and by afd's calls rows, the
# A-leg over TCP. Then the connection closes: once the worker waits for
# nothing (the calls' transactions end after 64*T1, here 6.4 s with
# sip_t1 = 100, and the ring-deadline look after ring_timeout, here 3 s),
# it asks for a fresh process and the master forks one in its slot (a recycle, not a restart: restarts
# stays 0).
#
# Memory, the issue's target: a spare that never served and the fresh
# process after the recycle each within 1 MiB PSS, and within 256 KiB of
# pages of their own (private: what no other process shares, whatever
# else runs). PSS also counts a share of the pages shared with other
# processes (libraries, what the master had before the fork): it is
# highest with this afd alone on the machine (about 350 KiB measured; the
# README's "Call load" says how), lower when other afd instances share
# the libraries. Memory is not checked under valgrind or a sanitizer
# build, whose own memory dwarfs afd's.
. "$(dirname "$0")/lib.sh"

command -v sipp >/dev/null || fail "sipp not installed (sh mk/deps.sh test)"
SIPP_DIR=$SHARED/bench/sipp
[ -f "$SIPP_DIR/uac-call.xml" ] || fail "no SIPp scenarios in $SIPP_DIR"
N=400
RATE=200
afd_start afd.sip_t1=100 calls.ring_timeout=3 workers.tcp_min_spare=1

measure_pss=1
[ "${VALGRIND:-}" = 1 ] && measure_pss=0
case "$AFD_BIN" in *asan*|*fuzz*) measure_pss=0 ;; esac
pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
uss() { awk '/^Private_(Clean|Dirty):/ { n += $2 } END { print n }' "/proc/$1/smaps_rollup"; }
idle_tcp() { ps_afd | awk '/afd: tcp worker [0-9]+ \[idle\]/ { print $1 }'; }

UAS_PORT=$("$SIPSEND" -P -p 20100)
UAC_PORT=$("$SIPSEND" -P -p 40100)
sippx() { # NAME ARGS...: sipp against afd, quiet, stopping by itself
	sipp -nostdin -i 127.0.0.1 -timeout $(( 60 * SCALE ))s -timeout_error \
		-trace_err -error_file "$TMP/sipp-err.$1.log" "${@:2}" \
		"127.0.0.1:$AFD_PORT" >"$TMP/sipp.$1.out" 2>&1
}

spare=$(idle_tcp | head -1)
[ -n "$spare" ] || fail "no idle TCP worker at start"
if [ $measure_pss = 1 ]; then
	p=$(pss "$spare")
	u=$(uss "$spare")
	say "spare TCP worker $spare: PSS $p KiB, private $u KiB"
	assert_le "$p" 1024 "PSS (KiB) of a spare TCP worker"
	assert_le "$u" 256 "private memory (KiB) of a spare TCP worker"
fi

sippx reg-bob -sf "$SIPP_DIR/register.xml" -key up bob -m 1 -p "$UAS_PORT" ||
	fail "SIPp could not register bob1: $(tail -5 "$TMP/sipp.reg-bob.out")"
sippx reg-alice -sf "$SIPP_DIR/register.xml" -key up alice -m $N -r 400 -p "$UAC_PORT" ||
	fail "SIPp could not register alice1..$N"
sipp -nostdin -i 127.0.0.1 -sf "$SIPP_DIR/uas-call.xml" -p "$UAS_PORT" -m $N \
	-timeout $(( 60 * SCALE ))s -trace_err -error_file "$TMP/sipp-err.uas.log" \
	>"$TMP/sipp.uas.out" 2>&1 &
uas=$!
E2E_PIDS="$E2E_PIDS $uas"
sleep 0.3
log_mark
sippx uac -t t1 -sf "$SIPP_DIR/uac-call.xml" -key callee bob1 -m $N -r $RATE -d 0 \
	-p "$UAC_PORT" ||
	fail "SIPp's calls over TCP failed: $(tail -20 "$TMP/sipp.uac.out"; head -40 "$TMP"/sipp-err.uac.log 2>/dev/null)"
wait "$uas" || fail "the SIPp callee failed: $(tail -20 "$TMP/sipp.uas.out")"
say "SIPp: $N calls over one TCP connection, all successful"

assert_eq "$N" "$(sql "SELECT count(*) FROM calls WHERE end_reason = 'caller hung up' AND answered_at IS NOT NULL")" "CDRs of answered calls"
assert_eq "$N" "$(sql "SELECT count(*) FROM dialogs WHERE stage = 'ended' AND a_peer LIKE 'tcp %'")" "calls whose caller's leg was TCP"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
served=$(sql "SELECT DISTINCT owner_slot FROM dialogs")
assert_match '^t[0-9]+$' "$served" "one TCP worker owned every call"

# The connection closed when SIPp ended: its worker goes idle, and once
# its last transaction and look are over it asks for a fresh process,
# which the master forks in its slot (not a restart).
wait_for 'log_since "tcp worker ${served#t}: .*idle and quiet: .*asking for a fresh process"' 20 ||
	fail "the TCP worker did not ask to be recycled: $(log_new | tail -5)"
wait_for 'log_since "tcp worker $served \\(pid [0-9]+\\) recycled after its connection"' 5 ||
	fail "the master did not recycle $served: $(log_new | tail -5)"
wait_for "[ \"\$(sql \"SELECT state || ' ' || restarts FROM workers WHERE slot = '$served' AND pid = '\$(worker_pid $served)'\")\" = 'idle 0' ]" 5 ||
	fail "$served's row after the recycle: $(sql "SELECT * FROM workers WHERE slot = '$served'")"
worker=$(worker_pid "$served")
[ -n "$worker" ] || fail "no process for slot $served"
if [ $measure_pss = 1 ]; then
	p=$(pss "$worker")
	u=$(uss "$worker")
	say "TCP worker $worker in slot $served after $N calls, recycled: PSS $p KiB, private $u KiB"
	assert_le "$p" 1024 "PSS (KiB) of the TCP worker recycled after its connection"
	assert_le "$u" 256 "private memory (KiB) of the TCP worker recycled after its connection"
fi
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
