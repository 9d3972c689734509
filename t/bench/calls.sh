#!/usr/bin/env bash
# t/bench/calls.sh [afd|compare]: the call benchmark (make bench-calls,
# make bench-calls-compare). SIPp calls SIPp through the server with the
# shared scenarios (../shared/bench/sipp/uac-call.xml -> server ->
# uas-call.xml): each call INVITE, 100, 180, 200, ACK, BYE, 200 on both
# legs, the UAC over UDP. compare adds Kamailio 5.6 as a transaction-
# stateful proxy (../shared/bench/kamailio/proxy.cfg, one UDP child) in the
# same run.
#
# For each server: the callee bob1 registers (and, for afd, which takes
# calls only from registered phones, the callers alice1..N); then rates
# from a ladder, BENCH_CALL_SECONDS (10) each, going up until one fails.
# A rate is held when SIPp counts every call successful and no
# retransmission. Reported per server: the highest held rate, INVITE-to-200
# p50/p99 there (SIPp's response-time trace), and for afd the CPU per call
# of each process (from /proc, over that run) and each process's PSS.
# The server is pinned to BENCH_SERVER_CPU (0), both SIPp to
# BENCH_LOAD_CPU (1).
#
# Environment: BENCH_CALL_RATES (the ladder), BENCH_CALL_SECONDS,
# BENCH_KEEP=1 (keep the temporary folder), AFD_BIN (./afd), AFD_SHARED.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
MODE=${1:-afd}
AFD=${AFD_BIN:-./afd}
SECS=${BENCH_CALL_SECONDS:-10}
SCPU=${BENCH_SERVER_CPU:-0}
LCPU=${BENCH_LOAD_CPU:-1}
LADDER=${BENCH_CALL_RATES:-"250 500 750 1000 1250 1500 1750 2000 2500 3000 3500 4000"}
SHARED=${AFD_SHARED:-$ROOT/../shared}
[ -d "$SHARED" ] || SHARED=/work/shared
SIPP=$SHARED/bench/sipp
KAMCFG=$SHARED/bench/kamailio/proxy.cfg
SIPSEND=build/t/tools/sipsend
TMP=$(mktemp -d /tmp/afd-bench-calls.XXXXXX)
chmod 755 "$TMP"
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	[ "${BENCH_KEEP:-}" = 1 ] && echo "(kept $TMP)" || rm -rf "$TMP"
}
trap cleanup EXIT

command -v sipp >/dev/null || { echo "sipp missing: sh mk/deps.sh test" >&2; exit 1; }
case "$MODE" in
afd) SERVERS="afd" ;;
compare) SERVERS="afd kam" ;;
*) echo "usage: $0 afd|compare" >&2; exit 2 ;;
esac
max=0
for r in $LADDER; do [ "$r" -gt "$max" ] && max=$r; done
NCALLERS=$(( max * SECS ))

port() { "$SIPSEND" -P -p "$1"; }
ticks() { # PID: utime + stime (after the comm field, which may hold spaces)
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

start_afd() { # -> SPORT, SPIDS
	SPORT=$(port 21000)
	mkdir -p "$TMP/afd/run"
	chmod 777 "$TMP/afd" "$TMP/afd/run"
	cat >"$TMP/afd/afd.conf" <<CONF
[afd]
listen = 127.0.0.1
port = $SPORT
domain = ims.mnc001.mcc001.3gppnetwork.org
database = $TMP/afd/afd.db
run_dir = $TMP/afd/run
log_level = warn
[workers]
tcp_min_spare = 1
tcp_max = 4
CONF
	taskset -c "$SCPU" "$AFD" -f "$TMP/afd/afd.conf" 2>"$TMP/afd/afd.log" &
	local main=$!
	PIDS="$PIDS $main"
	for _ in $(seq 100); do
		ss -Hlun "sport = :$SPORT" | grep -q . && break
		sleep 0.05
	done
	sleep 0.5
	# this afd's own processes only: its master and the master's children
	SPIDS="$main $(pgrep -P "$main" | tr '\n' ' ')"
}

start_kam() {
	SPORT=$(port 23000)
	mkdir -p "$TMP/kam"
	taskset -c "$SCPU" kamailio -f "$KAMCFG" -A CHILDREN=1 \
		-A "LISTEN=udp:127.0.0.1:$SPORT" -DD -E -m 256 -M 16 \
		-P "$TMP/kam/pid" >"$TMP/kam/kamailio.log" 2>&1 &
	PIDS="$PIDS $!"
	local main=$!
	for _ in $(seq 100); do
		ss -Hlun "sport = :$SPORT" | grep -q . && break
		sleep 0.05
	done
	sleep 0.5
	SPIDS="$main $(pgrep -P "$main" | tr '\n' ' ')"
}

sippx() { # NAME ARGS...
	local name=$1
	shift
	taskset -c "$LCPU" sipp -nostdin -i 127.0.0.1 -trace_err \
		-error_file "$TMP/$name.err" "$@" >"$TMP/$name.out" 2>&1
}

for s in $SERVERS; do
	"start_$s"
	UAS=$(port 25000)
	UAC=$(port 27000)
	sippx "$s-reg-bob" -sf "$SIPP/register.xml" -key up bob -m 1 -p "$UAS" \
		-timeout 10s -timeout_error "127.0.0.1:$SPORT" ||
		{ echo "$s: bob1 did not register" >&2; exit 1; }
	if [ "$s" = afd ]; then
		sippx "$s-reg-alice" -sf "$SIPP/register.xml" -key up alice \
			-m "$NCALLERS" -r 5000 -p "$UAC" -timeout 120s \
			-timeout_error "127.0.0.1:$SPORT" ||
			{ echo "afd: the callers did not register" >&2; exit 1; }
	fi
	taskset -c "$LCPU" sipp -nostdin -i 127.0.0.1 -sf "$SIPP/uas-call.xml" \
		-p "$UAS" -timeout 600s >"$TMP/$s-uas.out" 2>&1 &
	uas=$!
	PIDS="$PIDS $uas"
	held=0 held_p50=- held_p99=- cpu=
	for r in $LADDER; do
		n=$(( r * SECS ))
		rm -f "$TMP"/uac-call_*_rtt.csv "$TMP/stat.csv"
		declare -A t0=()
		for p in $SPIDS; do t0[$p]=$(ticks "$p"); done
		ok=1
		( cd "$TMP" && taskset -c "$LCPU" sipp -nostdin -i 127.0.0.1 \
			-sf "$SIPP/uac-call.xml" -key callee bob1 -r "$r" -m "$n" \
			-d 0 -p "$UAC" -timeout $(( SECS + 20 ))s -timeout_error \
			-trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 100 \
			"127.0.0.1:$SPORT" >"$TMP/$s-uac-$r.out" 2>&1 ) || ok=0
		retr=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "Retransmissions(C)") c = i }
			END { print $c + 0 }' "$TMP/stat.csv" 2>/dev/null || echo "?")
		[ "$retr" = 0 ] || ok=0
		# Date_ms;response_time_ms;rtd_no: rtd 1 is INVITE -> 200 (ms)
		p=$(cat "$TMP"/uac-call_*_rtt.csv 2>/dev/null |
			awk -F';' '$3 == 1 { print $2 }' |
			sort -n | awk '{ v[NR] = $1 }
			END {
				if (NR == 0) { print "- -"; exit }
				a = int(NR * 0.5) + 1; if (a > NR) a = NR
				b = int(NR * 0.99) + 1; if (b > NR) b = NR
				printf "%.2f %.2f", v[a], v[b]
			}')
		printf '%s %5d calls/s: %s (retransmissions %s, INVITE->200 p50/p99 %s ms)\n' \
			"$s" "$r" "$([ $ok = 1 ] && echo held || echo failed)" "$retr" "$p"
		[ $ok = 1 ] || break
		held=$r
		held_p50=${p% *}
		held_p99=${p#* }
		cpu=
		for q in $SPIDS; do
			t=$(( $(ticks "$q") - ${t0[$q]:-0} ))
			name=$(tr '\0' ' ' <"/proc/$q/cmdline" 2>/dev/null | cut -c1-40)
			cpu="$cpu
    $(printf '%-40s %6.1f us/call, PSS %s KiB' "${name:-$q}" \
			"$(awk -v t="$t" -v n="$n" 'BEGIN { print t * 10000 / n }')" "$(pss "$q")")"
		done
	done
	echo "== $s: held $held calls/s, INVITE->200 p50 $held_p50 ms, p99 $held_p99 ms$cpu"
	kill "$uas" 2>/dev/null || true
	kill "${SPIDS%% *}" 2>/dev/null || true # the master stops its workers
	sleep 2
done
