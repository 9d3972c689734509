#!/bin/bash
# The UDP worker's group commit under load (workers/udp.c): while
# datagrams arrive faster than 4,000/s, a short burst waits up to 500 us
# for more before its commit, and every REGISTER is still answered with
# its right 200 after its binding is committed; once the load is gone,
# bursts are handled at once again. The switches are logged at debug.
# Short, bounded runs on loopback.
. "$(dirname "$0")/lib.sh"

RL=${AFD_TOOLS%/tools}/bench/regload
[ -x "$RL" ] || fail "$RL not built (make build-test)"
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

afd_start afd.log_level=debug
assert_no_match "short bursts wait" "$(cat "$AFD_LOG")" "group commit before any load"

# 8,000 REGISTERs a second (new AORs) for 2 s (valgrind's afd cannot
# answer so many: a tenth, and no group commit to see).
rate=8000
[ "${VALGRIND:-}" = 1 ] && rate=800
out=$("$RL" -s "127.0.0.1:$AFD_PORT" -r "$rate" -d 2 -g $((3 * SCALE)) -k -q) ||
	fail "load: $out"
say "load: $out"
sent=$(kv sent "$out")
[ "${sent:-0}" -ge "$rate" ] || fail "regload sent only ${sent:-0}"
assert_eq "$sent" "$(kv ok "$out")" "right 200s under load"
assert_eq 0 "$(kv fail "$out")" "failed requests under load"
assert_eq "$sent" "$(sql "SELECT count(*) FROM registrations")" "bindings committed"
# Valgrind's afd reads too slowly to see the rate.
if [ "${VALGRIND:-}" != 1 ]; then
	log_has "udp worker: debug: udp: [0-9]+ datagrams/s: short bursts wait for more" ||
		fail "no group commit at 8,000 REGISTERs/s"
fi

# A trickle afterwards: the worker handles each burst at once again, and
# answers every request.
log_mark
out=$("$RL" -s "127.0.0.1:$AFD_PORT" -r 50 -d 1 -b 100000 -g 3 -k -q) || fail "trickle: $out"
assert_eq "$(kv sent "$out")" "$(kv ok "$out")" "right 200s to the trickle"
if [ "${VALGRIND:-}" != 1 ]; then
	log_since "udp worker: debug: udp: [0-9]+ datagrams/s: bursts handled at once" ||
		fail "bursts still held at 50 REGISTERs/s"
fi
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
