#!/bin/bash
# Lossless IPC (ipc/outq.c): thousands of SIP_SEND to one TCP worker's slot
# socket, as fast as one worker relays to another, although that socket
# takes only net.unix.max_dgram_qlen (10) datagrams at a time: every
# message is written on the worker's connection once and in order. Then
# the same with kill -9 of the worker halfway: what is sent while the slot
# is dead waits in the queue and reaches the replacement (only what the
# dead worker had already taken in is lost). Without the queue (-Q, the
# behaviour before it) messages are lost, which shows the scenario can
# see a loss.
. "$(dirname "$0")/lib.sh"

FLOOD=$AFD_TOOLS/ipcflood
[ -x "$FLOOD" ] || fail "$FLOOD not built (make build-test)"
N=3000

afd_start workers.tcp_min_spare=2 workers.tcp_max=4

field() { sed -n "s/^#sent.* $1 \([a-z0-9]*\).*/\1/p" <<<"$2"; }

# 1. a full receiver: nothing lost, nothing reordered
out=$("$FLOOD" -p "$AFD_PORT" -r "$AFD_RUN" -d "$AFD_DB" -n $N -w $(( 20000 * SCALE ))) ||
	fail "ipcflood failed: $out"
echo "$out"
assert_eq 0 "$(field missing "$out")" "messages lost with the queue"
assert_eq ok "$(field order "$out")" "order with the queue"
assert_eq 0 "$(field pending "$out")" "messages still queued at the end"
[ "$(field queued_max "$out")" -gt 0 ] ||
	fail "the receiver was never full: the queue was not exercised"

# 2. the worker killed halfway: the rest reaches its replacement
log_mark
out=$("$FLOOD" -p "$AFD_PORT" -r "$AFD_RUN" -d "$AFD_DB" -n $N -k -w $(( 20000 * SCALE ))) ||
	fail "ipcflood -k failed: $out"
echo "$out"
old=$(sed -n 's/^#slot .* pid \([0-9]*\)/\1/p' <<<"$out")
wait_for "log_new | grep -E '\\b$old\\b' | grep -Eiq 'signal 9'" 2 ||
	fail "the master did not see worker $old killed"
assert_eq ok "$(field order "$out")" "order across the replacement"
assert_eq 0 "$(field pending "$out")" "messages still queued at the end"
# Lost: at most what the dead worker had received and not yet written (its
# socket's queue of 11 and a turn's read of 64).
assert_le "$(field missing "$out")" 80 "messages lost across kill -9"
assert_eq $(( N - 1 )) "$(field last "$out")" "the last message, sent to the replacement"

# 3. without the queue the same load loses messages
out=$("$FLOOD" -p "$AFD_PORT" -r "$AFD_RUN" -d "$AFD_DB" -n $N -Q -w $(( 5000 * SCALE ))) ||
	fail "ipcflood -Q failed: $out"
echo "$out"
[ "$(field missing "$out")" -gt 0 ] ||
	say "note: nothing lost even without the queue (receiver kept up)"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
