#!/usr/bin/env bash
# t/bench/calls.sh [afd|compare]: the call benchmark (make bench-calls,
# make bench-calls-compare). SIPp calls SIPp through the server with the
# shared scenarios (../shared/bench/sipp/uac-call.xml -> server ->
# uas-call.xml): each call INVITE, 100, 180, 200, ACK, BYE, 200 on both
# legs, the callers over TCP as in the seed (SIPp -t t1: one connection
# carrying every call, served by one afd TCP worker), the callee over UDP.
# compare adds Kamailio 5.6 as a transaction-stateful proxy
# (../shared/bench/kamailio/proxy.cfg, one child per transport; TCP turned
# on in a copy of it) in the same run, after afd, BENCH_CALL_ROUNDS times.
#
# For each server: the callee bob1 registers (and, for afd, which takes
# calls only from registered phones, the callers alice1..N, over UDP); then
# rates from a ladder, BENCH_CALL_SECONDS (10) each, going up until one
# fails. A rate is held when SIPp counts every call successful and no
# retransmission. Each rung prints INVITE-to-200 p50/p99 (SIPp's
# response-time trace, rtd 1), the load average, and the share of the run
# the server's busiest process waited for its core ("wait", from
# /proc/PID/schedstat: the machine is shared). Reported per server: the
# highest held rate with its p50/p99, the p99 at 1,000 calls/s, and per
# process (master, UDP worker, checkpointer, each TCP worker; for Kamailio
# its children) the CPU per call at the held rate and the PSS
# (/proc/PID/smaps_rollup) after it. For afd also the PSS of an idle TCP
# worker, in two senses: "spare" (forked and never handed a connection)
# and "after a connection" (it served the calls of the ladder, whose
# connection has closed, and waits for the next; measured once it has
# been recycled, a fresh process in its slot, up to BENCH_CALL_IDLE_WAIT
# seconds later). The server is pinned to
# BENCH_SERVER_CPU (0), both SIPp to BENCH_LOAD_CPU (1).
#
# Environment: BENCH_CALL_RATES (the ladder), BENCH_CALL_SECONDS,
# BENCH_CALL_ROUNDS (1), BENCH_CALL_TRANSPORT (tcp; udp: the callers over
# UDP, Kamailio as proxy.cfg is), BENCH_CALL_IDLE_WAIT (75),
# BENCH_CALL_WAL=1 (each afd rung counts its processes' pwrite64 calls with
# perf stat: WAL frames per call, two pwrites each, and the pages the
# checkpointer copied per call), BENCH_CALL_PERF=1 (one more 3 s rung at afd's held rate, its busiest TCP
# worker under perf record: top objects and functions), BENCH_KEEP=1 (keep
# the temporary folder), AFD_BIN (./afd), AFD_SHARED.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
MODE=${1:-afd}
AFD=${AFD_BIN:-./afd}
SECS=${BENCH_CALL_SECONDS:-10}
SCPU=${BENCH_SERVER_CPU:-0}
LCPU=${BENCH_LOAD_CPU:-1}
ROUNDS=${BENCH_CALL_ROUNDS:-1}
TP=${BENCH_CALL_TRANSPORT:-tcp}
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
case "$TP" in
tcp) SIPP_TP="-t t1" ;;
udp) SIPP_TP="-t u1" ;;
*) echo "BENCH_CALL_TRANSPORT: tcp or udp" >&2; exit 2 ;;
esac
max=0
for r in $LADDER; do [ "$r" -gt "$max" ] && max=$r; done
NCALLERS=$(( max * SECS ))

port() { "$SIPSEND" -P -p "$1"; }
ticks() { # PID: utime + stime (after the comm field, which may hold spaces)
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
waitns() { awk '{ print $2 }' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
title() { # afd's process titles; Kamailio's children by rank
	local t
	t=$({ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | sed 's/ *$//')
	case "$t" in
	kamailio*) [ "$1" = "$MAIN" ] && echo "kamailio main" || echo "kamailio child pid $1" ;;
	*) echo "$t" | cut -c1-44 ;;
	esac
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
procs() { # the server's processes: its main process and all below it
	local todo=$MAIN out=
	while [ -n "$todo" ]; do
		set -- $todo
		todo=
		for p; do
			out="$out $p"
			todo="$todo $(pgrep -P "$p" | tr '\n' ' ')"
		done
		todo=$(echo $todo)
	done
	echo $out
}
tcp_slot() { # PID: "t3" for afd's "tcp worker 3 [...]"
	title "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == "worker") { print "t" $(i+1); exit } }'
}
idle_tcp() { # the PIDs of afd's TCP workers whose title says idle
	for p in $(procs); do
		case "$(title "$p")" in *"tcp worker"*idle*) echo "$p" ;; esac
	done
}

start_afd() { # -> SPORT, MAIN
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
	MAIN=$!
	PIDS="$PIDS $MAIN"
	for _ in $(seq 100); do
		ss -Hlun "sport = :$SPORT" | grep -q . && break
		sleep 0.05
	done
	sleep 1
	local p
	for p in $(idle_tcp); do
		echo "afd: idle TCP worker, spare (never served): PSS $(pss "$p") KiB ($(title "$p"))"
	done
}

start_kam() {
	SPORT=$(port 23000)
	mkdir -p "$TMP/kam"
	# proxy.cfg with TCP on (it ships UDP only): the callers' leg
	sed -e 's/^disable_tcp=yes/disable_tcp=no/' \
		-e "s|^listen=LISTEN|listen=LISTEN\nlisten=tcp:127.0.0.1:$SPORT|" \
		"$KAMCFG" >"$TMP/kam/proxy.cfg"
	taskset -c "$SCPU" kamailio -f "$TMP/kam/proxy.cfg" -A CHILDREN=1 \
		-A "LISTEN=udp:127.0.0.1:$SPORT" -DD -E -m 256 -M 16 \
		-P "$TMP/kam/pid" >"$TMP/kam/kamailio.log" 2>&1 &
	MAIN=$!
	PIDS="$PIDS $MAIN"
	for _ in $(seq 100); do
		ss -Hlun "sport = :$SPORT" | grep -q . && break
		sleep 0.05
	done
	sleep 1
}

sippx() { # NAME ARGS...
	local name=$1
	shift
	taskset -c "$LCPU" sipp -nostdin -i 127.0.0.1 -trace_err \
		-error_file "$TMP/$name.err" "$@" >"$TMP/$name.out" 2>&1
}

# percentiles 50 and 99 of the numbers on stdin: "P50 P99", or "- -"
pct() {
	sort -n | awk '{ v[NR] = $1 }
	END {
		if (NR == 0) { print "- -"; exit }
		a = int(NR * 0.5) + 1; if (a > NR) a = NR
		b = int(NR * 0.99) + 1; if (b > NR) b = NR
		printf "%.2f %.2f", v[a], v[b]
	}'
}

# profile RATE: one more rung at RATE with the busiest TCP worker under
# perf record; its top shared objects and functions (self time).
profile() {
	local r=$1 q best=0 wpid= t
	command -v perf >/dev/null || { echo "bench: no perf (apt-get install linux-perf)"; return 0; }
	declare -A p0=()
	for q in $(procs); do p0[$q]=$(ticks "$q"); done
	( cd "$TMP" && taskset -c "$LCPU" sipp -nostdin -i 127.0.0.1 $SIPP_TP \
		-sf "$SIPP/uac-call.xml" -key callee bob1 -r "$r" -m $(( r * 3 )) \
		-d 0 -p "$UAC" -timeout 30s "127.0.0.1:$SPORT" >"$TMP/perf-uac.out" 2>&1 ) &
	local uac=$!
	sleep 1
	for q in $(procs); do
		case "$(title "$q")" in *"tcp worker"*) ;; *) continue ;; esac
		t=$(( $(ticks "$q") - ${p0[$q]:-0} ))
		[ "$t" -gt "$best" ] && best=$t && wpid=$q
	done
	if [ -n "$wpid" ]; then
		taskset -c "$LCPU" perf record -q -F 999 -g -p "$wpid" \
			-o "$TMP/perf.data" -- sleep 1.5 >/dev/null 2>&1
		echo "perf: TCP worker $wpid at $r calls/s, self time by object, then by function:"
		perf report -i "$TMP/perf.data" --no-children --sort dso -g none 2>/dev/null |
			grep '%' | head -8
		perf report -i "$TMP/perf.data" --no-children --sort symbol -g none 2>/dev/null |
			grep '%' | head -25
	fi
	wait "$uac" 2>/dev/null || true
}

echo "call benchmark ($MODE, callers over $TP): $(nproc) cores, load $(load)," \
	"${SECS}s per rate, $(date -u '+%F %H:%M UTC'), afd $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
SUMMARY=
for round in $(seq "$ROUNDS"); do
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
	held=0 held_p=- p1000=- detail= SERVED=
	for r in $LADDER; do
		n=$(( r * SECS ))
		rm -f "$TMP"/uac-call_*_rtt.csv "$TMP/stat.csv"
		declare -A t0=() w0=()
		for q in $(procs); do t0[$q]=$(ticks "$q"); w0[$q]=$(waitns "$q"); done
		l=$(load)
		ok=1
		wal=
		if [ "${BENCH_CALL_WAL:-}" = 1 ] && [ "$s" = afd ]; then
			perf stat -x, --per-thread -e syscalls:sys_enter_pwrite64 \
				-p "$(procs | tr ' ' ,)" -o "$TMP/pwrite.csv" 2>/dev/null &
			wal=$!
		fi
		s0=$(date +%s%N)
		( cd "$TMP" && taskset -c "$LCPU" sipp -nostdin -i 127.0.0.1 $SIPP_TP \
			-sf "$SIPP/uac-call.xml" -key callee bob1 -r "$r" -m "$n" \
			-d 0 -p "$UAC" -timeout $(( SECS + 20 ))s -timeout_error \
			-trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 100 \
			"127.0.0.1:$SPORT" >"$TMP/$s-uac-$r.out" 2>&1 ) || ok=0
		s1=$(date +%s%N)
		pw=
		if [ -n "$wal" ]; then
			kill -INT "$wal" 2>/dev/null || true
			wait "$wal" 2>/dev/null || true
			# per thread "comm-PID,count,...": SQLite writes a WAL frame
			# as two pwrites (header, page), the checkpointer copies a
			# page into the database file with one
			declare -A pwc=()
			while IFS=, read -r who c _; do
				q=${who##*-}
				[ -n "$q" ] && [ "$c" -ge 0 ] 2>/dev/null && pwc[$q]=$c
			done <"$TMP/pwrite.csv"
			fr=0 cp=0
			for q in "${!pwc[@]}"; do
				case "$(title "$q")" in
				*ckpt*|*checkpoint*) cp=$(( cp + pwc[$q] )) ;;
				*) fr=$(( fr + pwc[$q] )) ;;
				esac
			done
			pw=$(awk -v f="$fr" -v c="$cp" -v n="$n" 'BEGIN {
				printf ", WAL frames %.1f/call, checkpointed pages %.1f/call", f / 2 / n, c / n }')
		fi
		retr=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "Retransmissions(C)") c = i }
			END { print $c + 0 }' "$TMP/stat.csv" 2>/dev/null || echo "?")
		[ "$retr" = 0 ] || ok=0
		# Date_ms;response_time_ms;rtd_no: rtd 1 is INVITE -> 200 (ms)
		p=$(cat "$TMP"/uac-call_*_rtt.csv 2>/dev/null |
			awk -F';' '$3 == 1 { print $2 }' | pct)
		# the CPU of each process over this rung, and its wait share
		cpu= wmax=0
		for q in $(procs); do
			t=$(( $(ticks "$q") - ${t0[$q]:-0} ))
			wt=$(( $(waitns "$q") - ${w0[$q]:-0} ))
			wp=$(awk -v w="$wt" -v d="$(( s1 - s0 ))" 'BEGIN { printf "%d", w * 100 / d }')
			[ "$wp" -gt "$wmax" ] && wmax=$wp
			cpu="$cpu$(printf '\n    %-44s %6.1f us/call  PSS %6s KiB' "$(title "$q")" \
				"$(awk -v t="$t" -v n="$n" 'BEGIN { print t * 10000 / n }')" "$(pss "$q")")"
			tot=$(( ${tot:-0} + t ))
			# a TCP worker that took CPU in a rung served its connection
			# (its slot: once idle it is recycled, a new pid there)
			case "$(title "$q")" in *"tcp worker"*) [ "$t" -ge 5 ] &&
				SERVED="$SERVED $q $(tcp_slot "$q") " ;; esac
		done
		cpu="$cpu$(printf '\n    %-44s %6.1f us/call' "all processes" \
			"$(awk -v t="$tot" -v n="$n" 'BEGIN { print t * 10000 / n }')")"
		tot=0
		printf '%s %5d calls/s: %-6s INVITE->200 p50/p99 %s ms, retransmissions %s, load %s, wait %s%%%s\n' \
			"$s" "$r" "$([ $ok = 1 ] && echo held || echo failed)" "${p/ //}" "$retr" "$l" "$wmax" "$pw"
		[ "$r" = 1000 ] && p1000=${p/ //}
		[ $ok = 1 ] || break
		held=$r
		held_p=${p/ //}
		detail=$cpu
	done
	if [ "${BENCH_CALL_PERF:-}" = 1 ] && [ "$s" = afd ] && [ "$held" -gt 0 ]; then
		profile "$held"
	fi
	idle=
	if [ "$s" = afd ]; then
		# The last rung's connection is closed and its worker idle
		# again; it is recycled (a fresh process in its slot) once
		# nothing is left to wait for (the calls' transactions, 64*T1
		# = 32 s, and the B2BUA's ring-deadline look, 60 s after the
		# last INVITE): wait for it, BENCH_CALL_IDLE_WAIT seconds (75)
		# at most.
		for _ in $(seq "${BENCH_CALL_IDLE_WAIT:-75}"); do
			big=0
			for q in $(idle_tcp); do
				[ "$(pss "$q")" -gt 4096 ] && big=1
			done
			[ $big = 0 ] && break
			sleep 1
		done
		for q in $(idle_tcp); do
			case "$SERVED" in
			*" $q "*) how="after a connection" ;;
			*" $(tcp_slot "$q") "*) how="recycled after a connection" ;;
			*) how="spare, never served" ;;
			esac
			idle="$idle$(printf '\n    idle TCP worker, %s: PSS %s KiB (%s)' "$how" "$(pss "$q")" "$(title "$q")")"
		done
	fi
	line="== $s: held $held calls/s (INVITE->200 p50/p99 $held_p ms), p99 at 1000/s: ${p1000#*/} ms; per process at $held/s:$detail$idle"
	echo "$line"
	SUMMARY="$SUMMARY
$line"
	kill "$uas" 2>/dev/null || true
	kill "$MAIN" 2>/dev/null || true # the master stops its workers
	sleep 2
done
done
[ "$ROUNDS" -gt 1 ] && echo "== summary$SUMMARY"
exit 0
