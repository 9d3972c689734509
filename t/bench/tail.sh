#!/bin/sh
# t/bench/tail.sh [RATE [SECONDS]]: where afd's latency tail comes from.
#
# One run of regload at RATE (10000/s) for SECONDS (10) against a fresh afd
# (durability normal, pinned to core 0, regload on core 1, as bench.sh
# does), with three recorders:
#   - regload -Z: every answer slower than TAIL_SLOW_MS (5 ms), with its
#     arrival time (CLOCK_MONOTONIC);
#   - perf trace -T on the UDP worker and the checkpointer: every fsync,
#     fdatasync, pwrite64 or pread64 that took 1 ms or more (the worker's
#     own writes are its commits; its fsyncs are the checkpoints it runs
#     itself, in-line or after the checkpointer's CKPT_DONE);
#   - afd's log at debug: each checkpoint of the checkpointer, with its
#     duration;
# and /proc/PID/schedstat of the UDP worker (time runnable but not
# running: its core was taken by another process).
#
# The slow answers are grouped into stalls (answers less than 5 ms apart
# belong to one), and each stall is put down to the first of: the longest
# syscall of the worker of 1 ms or more within it, a checkpoint of the
# checkpointer within it, else "backlog" (no I/O, no checkpoint: queued
# behind earlier work, or the worker waited for its core). A syscall's
# duration is wall time: on a busy machine it includes the time the worker
# waited for its core during it, which the schedstat line sums up. Prints
# the run's figures, the stalls, and the share of slow answers per cause.
# Needs perf for the syscall causes; TAIL_PERF=0 runs without it (perf
# trace costs the worker CPU at every traced syscall: it inflates what it
# measures, so compare figures with and without it).
#
# TAIL_AUTH=digest|aka runs authenticated registrations instead (afd with
# [auth] mode digest or aka, regload -A; the run's AORs are provisioned as
# subscribers first, as bench.sh does).
#
# TAIL_LOG=info leaves out the checkpointer's lines (and their causes) but
# also the worker's debug lines, two per authenticated registration, whose
# writes to the log otherwise inflate what the worker costs.
#
# TAIL_CKPT_CPU=N moves the checkpointer to core N after the start (by
# default it shares the UDP worker's core, as in bench.sh, where the whole
# of afd is pinned to one core): the difference shows what the checkpoint
# costs the worker's core.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. "$ROOT/t/bench/provision.sh"
RATE=${1:-10000}
SECS=${2:-10}
SLOW_MS=${TAIL_SLOW_MS:-5}
REGLOAD=${REGLOAD:-build/t/bench/regload}
AFD=${AFD_BIN:-./afd}
SCPU=${BENCH_SERVER_CPU:-0}
LCPU=${BENCH_LOAD_CPU:-1}

[ -x "$REGLOAD" ] || { echo "tail: $REGLOAD missing (make bench)" >&2; exit 1; }
mkdir -p var
TMP=$(mktemp -d "$ROOT/var/tail.XXXXXX")
MASTER= PERF=
cleanup() {
	[ -n "$PERF" ] && kill -INT "$PERF" 2>/dev/null && wait "$PERF" 2>/dev/null
	if [ -n "$MASTER" ]; then
		kill -TERM "$MASTER" 2>/dev/null
		wait "$MASTER" 2>/dev/null
	fi
	if [ "${TAIL_KEEP:-0}" = 1 ]; then
		echo "tail: kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$("$ROOT/build/t/tools/sipsend" -P 2>/dev/null || echo 47999)
mkdir -p "$TMP/run"
if [ "$(id -u)" = 0 ]; then
	# started as root, afd runs as nobody: its folders are nobody's
	chmod 755 "$TMP"
	chown -R nobody "$TMP"
fi
cat >"$TMP/afd.conf" <<EOF
[afd]
listen = 127.0.0.1
port = $PORT
domain = ims.mnc001.mcc001.3gppnetwork.org
database = $TMP/afd.db
durability = normal
run_dir = $TMP/run
log_level = ${TAIL_LOG:-debug}
[workers]
tcp_min_spare = 1
tcp_max = 4
[auth]
mode = ${TAIL_AUTH:-none}
realm = ims.mnc001.mcc001.3gppnetwork.org
EOF
taskset -c "$SCPU" "$AFD" -f "$TMP/afd.conf" 2>"$TMP/afd.log" &
MASTER=$!
UDP= CKPT=
for _ in $(seq 100); do
	for p in $(pgrep -P "$MASTER" || true); do
		t=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)
		case "$t" in
		*"udp worker"*) UDP=$p ;;
		*"db checkpointer"*) CKPT=$p ;;
		esac
	done
	[ -n "$UDP" ] && [ -n "$CKPT" ] && break
	sleep 0.1
done
[ -n "$UDP" ] && [ -n "$CKPT" ] || { echo "tail: afd did not start" >&2; cat "$TMP/afd.log" >&2; exit 1; }
[ -n "${TAIL_CKPT_CPU:-}" ] && taskset -p -c "$TAIL_CKPT_CPU" "$CKPT" >/dev/null
AUTH_ARGS=
if [ -n "${TAIL_AUTH:-}" ]; then
	AUTH_ARGS="-A $TAIL_AUTH"
	provision_afd "$TMP/afd.db" 0 $((RATE * SECS + RATE + 1)) \
	    ims.mnc001.mcc001.3gppnetwork.org
fi
sleep 0.5

if [ "${TAIL_PERF:-1}" = 1 ] && command -v perf >/dev/null 2>&1; then
	taskset -c "$LCPU" perf trace -T -p "$UDP,$CKPT" --duration 1 \
	    -e fsync,fdatasync,pwrite64,pread64 -o "$TMP/sys.txt" 2>/dev/null &
	PERF=$!
	sleep 1
fi
s0=$(cut -d' ' -f1,2 "/proc/$UDP/schedstat")
t0=$(date +%s%N)
LINE=$("$REGLOAD" -k -q -s "127.0.0.1:$PORT" -r "$RATE" -d "$SECS" -C "$LCPU" \
    $AUTH_ARGS -Z $((SLOW_MS * 1000)) 2>"$TMP/slow.txt" | tail -1) || true
t1=$(date +%s%N)
s1=$(cut -d' ' -f1,2 "/proc/$UDP/schedstat")
if [ -n "$PERF" ]; then
	kill -INT "$PERF" 2>/dev/null || true
	wait "$PERF" 2>/dev/null || true
	PERF=
fi
touch "$TMP/sys.txt"

kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
echo "tail: $RATE/s${TAIL_AUTH:+ $TAIL_AUTH registrations} for ${SECS}s, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "checkpointer on core ${TAIL_CKPT_CPU:-$SCPU}"
echo "regload: sent $(kv "$LINE" sent), right 200s $(kv "$LINE" ok), fail $(kv "$LINE" fail)," \
    "retrans $(kv "$LINE" retrans); p50 $(kv "$LINE" p50_us) us, p99 $(kv "$LINE" p99_us) us," \
    "max $(kv "$LINE" max_us) us"
awk -v a="$s0" -v b="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN {
	split(a, x, " "); split(b, y, " "); d = t1 - t0
	printf "UDP worker: on its core %.0f%%, runnable but waiting for it %.0f%% of the run\n",
	    100 * (y[1] - x[1]) / d, 100 * (y[2] - x[2]) / d }'

# The analysis: slow answers, syscalls, checkpoints on one clock (monotonic s).
awk -v udp="$UDP" -v ckpt="$CKPT" -v slowms="$SLOW_MS" -v secs="$SECS" '
FILENAME ~ /slow.txt$/ && $1 == "#clock" { off = $2 - $3; day0 = $2 - ($2 % 86400); m0 = $3; next }
FILENAME ~ /slow.txt$/ && $1 == "#slow" { ns++; st[ns] = $2; sl[ns] = $3; next }
FILENAME ~ /sys.txt$/ && /\(/ {
	# "699029.405 ( 6.717 ms): afd: udp worke/1234 fdatasync(fd: 5) = 0"
	t = $1 / 1000; d = 0
	if (match($0, /\( *[0-9.]+ ms\)/))
		d = substr($0, RSTART + 1, RLENGTH - 5) / 1000
	pid = ""; if (match($0, /\/[0-9]+ /)) pid = substr($0, RSTART + 1, RLENGTH - 2)
	name = ""; if (match($0, /[a-z0-9_]+\(/)) name = substr($0, RSTART, RLENGTH - 1)
	ne++; es[ne] = t; ee[ne] = t + d
	ew[ne] = (pid == udp ? "worker " : "checkpointer ") name
	next
}
FILENAME ~ /afd.log$/ && /db checkpointer: debug: checkpoint \(/ {
	split($1, hms, ":"); real = day0 + hms[1] * 3600 + hms[2] * 60 + hms[3]
	ms = $0; sub(/.*, /, "", ms); sub(/ ms.*/, "", ms)
	why = $0; sub(/.*checkpoint \(/, "", why); sub(/,.*/, "", why)
	nc++; cs[nc] = real - off - ms / 1000 - 0.001; ce[nc] = real - off + 0.001
	cw[nc] = "checkpointer (" why ", " ms " ms)"
	next
}
END {
	if (ns == 0) { print "no answer slower than " slowms " ms"; exit }
	# stalls: slow answers less than 5 ms apart
	i = 1
	while (i <= ns) {
		j = i; lo = st[i] - sl[i] / 1000; hi = st[i]; mx = sl[i]
		while (j < ns && st[j + 1] - st[j] < 0.005) {
			j++
			if (st[j] - sl[j] / 1000 < lo) lo = st[j] - sl[j] / 1000
			if (st[j] > hi) hi = st[j]
			if (sl[j] > mx) mx = sl[j]
		}
		# the longest syscall of the worker within the stall, else
		# the longest checkpoint of the checkpointer, else the longest
		# syscall of the checkpointer
		cause = ""; best = 0
		for (e = 1; e <= ne; e++)
			if (ew[e] ~ /^worker/ && es[e] < hi && ee[e] > lo && ee[e] - es[e] > best) {
				best = ee[e] - es[e]
				cause = ew[e] sprintf(" %.1f ms", best * 1000)
			}
		for (c = 1; c <= nc && cause == ""; c++)
			if (cs[c] < hi && ce[c] > lo)
				cause = "during a " cw[c]
		for (e = 1; e <= ne; e++)
			if (cause == "" && es[e] < hi && ee[e] > lo)
				cause = "during a " ew[e] sprintf(" %.1f ms", (ee[e] - es[e]) * 1000)
		if (cause == "") cause = "backlog (no I/O, no checkpoint)"
		k = cause; sub(/ [0-9.]+ ms.*/, "", k); sub(/ \(.*/, "", k)
		n = j - i + 1; byc[k] += n; tot += n; nst++
		if (nst <= 40)
			printf "stall %3d: %5d answers over %6.1f ms, worst %6.1f ms: %s\n",
			    nst, n, (hi - lo) * 1000, mx, cause
		i = j + 1
	}
	if (nst > 40) printf "... %d stalls in all\n", nst
	printf "\nanswers slower than %s ms: %d, by cause:\n", slowms, tot
	for (k in byc) printf "  %5.1f%%  %s\n", 100 * byc[k] / tot, k
	# the base rate: how much of the run the checkpoints covered
	for (c = 1; c <= nc; c++) {
		a = cs[c] > m0 ? cs[c] : m0; b = ce[c] < m0 + secs ? ce[c] : m0 + secs
		if (b > a) cov += b - a
	}
	printf "checkpoints of the checkpointer: %d, covering %.1f%% of the run\n",
	    nc, 100 * cov / secs
}' "$TMP/slow.txt" "$TMP/sys.txt" "$TMP/afd.log"
