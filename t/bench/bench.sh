#!/bin/sh
# t/bench/bench.sh afd|compare: the REGISTER benchmark (make bench,
# make bench-compare).  See t/bench/README.md for how to read the output.
#
#   afd      a fresh afd (durability = normal), then a fresh afd with
#            durability = full
#   compare  the same, then Kamailio 5.6 (../shared/bench/kamailio/,
#            variants mem and wt-wal, one UDP child) in the same run, then
#            "null": regload -R, a registrar that does nothing (the ceiling
#            of the harness itself: regload and the kernel's UDP path)
#
# For each server: a closed-loop run ("as fast as it answers", BENCH_WINDOW
# requests outstanding) measures its capacity C; then fixed-rate runs from a
# ladder of rates, starting at the highest rung not above C and going down
# (or one rung up after a pass) until one is held: every REGISTER answered
# with the right 200 (regload ties it to its request by Call-ID and CSeq),
# no failure, no retransmission, right 200s/s >= 98% of the rate, AND p99
# below BENCH_HELD_P99_MS (20 ms).  The highest rate that passed all but the
# p99 bound is reported beside it ("plain").  afd (normal) also runs at
# BENCH_P99_RATE (10,000/s) for the p99 target, once with first
# registrations and once with re-registrations (the same AORs refreshing,
# primed by a closed-loop run that is not counted).
# The server is pinned to BENCH_SERVER_CPU (0), regload to BENCH_LOAD_CPU
# (1).  Every run registers AORs not registered before (the table grows).
#
# Authenticated registrations (REGISTER, 401, REGISTER with the answer,
# 200; regload -A computes the answer): servers afd-digest and afd-aka
# (afd normal with [auth] mode digest / aka) and kam-auth (Kamailio 5.6
# with auth + auth_db against SQLite, ../shared/bench/kamailio/auth.cfg).
# Before each run the AORs it will use are provisioned as subscribers
# (password "bench-pw"; K and OPc of TS 35.208 test set 1). make bench
# runs afd-digest and afd-aka after afd and afd-full; make bench-compare
# adds kam-auth; targets: 10,000/s full registrations, afd digest at least
# 3x kamailio digest.
#
# Environment: BENCH_HELD_P99_MS (20), BENCH_REFRESH (1: the
# re-registration run), BENCH_SECONDS (10, each run's sending time), BENCH_WINDOW
# (200), BENCH_RATES (the ladder), BENCH_P99_RATE (10000), BENCH_TRIES (8),
# BENCH_SERVERS (which to run, e.g. "afd kam-mem"; names: afd afd-full
# kam-mem kam-wt-wal null, and other run-kamailio.sh variants as kam-VARIANT),
# BENCH_BUSY (10: a failed run, or the p99 run, during which the worker or
# regload waited >= 10% of the time for its core is run once more and the
# less disturbed run kept), BENCH_PERF=1 (perf profile of afd's UDP worker at its held rate),
# BENCH_STRICT=1 (exit 1 when afd misses a target), BENCH_KEEP=1 (keep the
# temporary directory), AFD_BIN (./afd), REGLOAD, AFD_SHARED.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. "$ROOT/t/bench/provision.sh"
MODE=${1:-afd}
BUILD=${BUILD:-build}
REGLOAD=${REGLOAD:-$BUILD/t/bench/regload}
SUBLOAD=${SUBLOAD:-$BUILD/t/bench/subload}
AFD=${AFD_BIN:-./afd}
SECS=${BENCH_SECONDS:-10}
WINDOW=${BENCH_WINDOW:-200}
SCPU=${BENCH_SERVER_CPU:-0}
LCPU=${BENCH_LOAD_CPU:-1}
LADDER=${BENCH_RATES:-"1000 2000 3000 4000 5000 6000 7000 8000 10000 12500 15000 17500 20000 22500 25000 27500 30000 35000 40000 45000 50000 60000 70000 80000 100000"}
P99_RATE=${BENCH_P99_RATE:-10000}
TRIES=${BENCH_TRIES:-8}
BUSY=${BENCH_BUSY:-10}
HELD_P99_MS=${BENCH_HELD_P99_MS:-20}
LOAD_ARGS=
AUTH_ARGS=   # -A digest|aka for the authenticated servers
SUBDB=       # the database to provision subscribers in (authenticated runs)
DOMAIN=ims.mnc001.mcc001.3gppnetwork.org

case "$MODE" in
afd) SERVERS=${BENCH_SERVERS:-"afd afd-full afd-digest afd-aka afd-regev"} ;;
compare) SERVERS=${BENCH_SERVERS:-"afd afd-full kam-mem kam-wt-wal afd-digest afd-aka kam-auth null afd-regev"} ;;
*) echo "usage: $0 afd|compare" >&2; exit 2 ;;
esac

SHARED=${AFD_SHARED:-$ROOT/../shared}
[ -d "$SHARED" ] || SHARED=/work/shared
KAMRUN=$SHARED/bench/kamailio/run-kamailio.sh

[ -x "$REGLOAD" ] || { echo "bench: $REGLOAD missing (make $REGLOAD)" >&2; exit 1; }

# Database and logs on disk (not /dev/shm): the durability is the point.
# (made by root, var/ goes to nobody, as afd -f etc/afd.conf run as root
# needs it: its database is var/afd.db and afd drops to nobody)
if [ ! -d var ]; then
	mkdir -p var
	[ "$(id -u)" = 0 ] && chown nobody var
fi
TMP=$(mktemp -d "$ROOT/var/bench.XXXXXX")
MASTER=
KIND=
RESULTS=$TMP/results
: >"$RESULTS"
REGEV=$TMP/regev   # the reg event's lines for the summary
: >"$REGEV"
BASE=0

cleanup() {
	stop_server || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
trap 'exit 141' PIPE

say() { printf '%s\n' "$*"; }

# kv LINE KEY: the value of KEY in regload's key=value line
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

free_port() {
	while :; do
		f_p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		if ! ss -Hlun "sport = :$f_p" | grep -q . &&
		   ! ss -Hltn "sport = :$f_p" | grep -q .; then
			echo "$f_p"
			return
		fi
		sleep 0.1
	done
}

# sched PID: "cpu_ns wait_ns" of a process (/proc/PID/schedstat: time on a
# CPU, time runnable but waiting for one); "0 0" if gone
sched() { cat "/proc/$1/schedstat" 2>/dev/null | cut -d' ' -f1,2 || echo "0 0"; }

# ticks PID: CPU time of a process in ns (for drain)
ticks() { sched "$1" | cut -d' ' -f1; }

# The server's processes: the master and its children.
server_pids() { echo "$MASTER $(pgrep -P "$MASTER" | tr '\n' ' ')"; }

# The UDP worker: afd's is titled "afd: udp worker"; for Kamailio, the
# child that used the most CPU in the last run is reported (its UDP receiver).
udp_worker() {
	for u_p in $(pgrep -P "$MASTER"); do
		tr '\0' ' ' <"/proc/$u_p/cmdline" 2>/dev/null | grep -q 'udp worker' &&
		    { echo "$u_p"; return; }
	done
	echo ""
}

wait_udp() {   # wait_udp PORT PID
	for _ in $(seq 100); do
		ss -Hlun "sport = :$1" | grep -q . && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

start_afd() {   # start_afd normal|full [AUTH_MODE]
	amode=${2:-none}
	dir=$TMP/afd-$1-$amode
	mkdir -p "$dir/run"
	PORT=$(free_port)
	cat >"$dir/afd.conf" <<EOF
; written by t/bench/bench.sh
[afd]
listen = 127.0.0.1
port = $PORT
domain = ims.mnc001.mcc001.3gppnetwork.org
database = $dir/afd.db
durability = $1
run_dir = $dir/run
log_level = warn

[workers]
tcp_min_spare = 1
tcp_max = 4

[registrar]
default_expires = 3600
min_expires = 60
max_expires = 600000
max_contacts = 10

[auth]
mode = $amode
realm = ims.mnc001.mcc001.3gppnetwork.org
EOF
	if [ "$(id -u)" = 0 ]; then
		# started as root, afd runs as nobody: its folders are nobody's
		chmod 755 "$TMP"
		chown -R nobody "$dir"
	fi
	taskset -c "$SCPU" "$AFD" -f "$dir/afd.conf" >"$dir/afd.log" 2>&1 &
	MASTER=$!
	KIND=afd
	LOG=$dir/afd.log
	if ! wait_udp "$PORT" "$MASTER"; then
		say "bench: afd did not start; its log:"
		tail -20 "$LOG"
		return 1
	fi
	[ "$amode" = none ] || SUBDB=$dir/afd.db
	for _ in $(seq 50); do
		[ -n "$(udp_worker)" ] && break
		sleep 0.1
	done
}

start_kam() {   # start_kam VARIANT
	PORT=${KAM_PORT:-5070}
	if ss -Hlun "sport = :$PORT" | grep -q .; then
		PORT=$(free_port)
	fi
	mkdir -p "$TMP/kam"
	LOG=$TMP/kam/kamailio.log
	k_pids=$(RUN=$TMP/kam PORT=$PORT KAM_CPU=$SCPU bash "$KAMRUN" start "$1" 1) || {
		say "bench: Kamailio ($1) did not start"
		tail -20 "$LOG" 2>/dev/null
		return 1
	}
	# run-kamailio.sh prints the pid it started (kamailio -DD) first.
	MASTER=${k_pids%% *}
	KIND=kam
}

# provision FIRST COUNT: subscribers for the AORs FIRST..FIRST+COUNT-1 of
# regload (impi IMSI@domain, IMSI = 1010000000000 + AOR index) in the
# database of the authenticated server. afd's WAL is then checkpointed and
# truncated by the same sqlite3 session: otherwise the run that follows
# pays for the provisioning (afd's checkpointer copying its pages, the
# UDP worker truncating a WAL of hundreds of MB: a 100 ms stall).
provision() {
	[ -n "$SUBDB" ] || return 0
	if [ "$KIND" = kamauth ]; then
		python3 - "$SUBDB" "$1" "$2" "$DOMAIN" <<'PY'
import hashlib, sqlite3, sys
db, first, n, dom = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = sqlite3.connect(db, timeout=30)
rows = []
for i in range(first, first + n):
    u = "%015d" % (1010000000000 + i)
    ha1 = hashlib.md5(("%s:%s:bench-pw" % (u, dom)).encode()).hexdigest()
    rows.append((u, dom, "bench-pw", ha1))
c.executemany("INSERT OR IGNORE INTO subscriber (username, domain, password, ha1) VALUES (?, ?, ?, ?)", rows)
c.commit()
PY
		return
	fi
	provision_afd "$SUBDB" "$1" "$2" "$DOMAIN"
}

# start_kam_auth: Kamailio with Digest against its subscriber table in
# SQLite (../shared/bench/kamailio/auth.cfg), one UDP child.
start_kam_auth() {
	PORT=$(free_port)
	d=$TMP/kam-auth
	mkdir -p "$d"
	SUBDB=$d/auth.sqlite
	cat /usr/share/kamailio/db_sqlite/standard-create.sql \
	    /usr/share/kamailio/db_sqlite/auth_db-create.sql | sqlite3 "$SUBDB" ||
	    return 1
	LOG=$d/kamailio.log
	taskset -c "$SCPU" kamailio -f "$SHARED/bench/kamailio/auth.cfg" \
	    -A "DBURL=\"sqlite://$SUBDB\"" -A "LISTEN=udp:127.0.0.1:$PORT" \
	    -DD -E -m 1024 -M 16 >"$LOG" 2>&1 &
	MASTER=$!
	KIND=kamauth
	wait_udp "$PORT" "$MASTER"
}

start_null() {   # regload -R: a do-nothing registrar, the harness's ceiling
	PORT=$(free_port)
	taskset -c "$SCPU" "$REGLOAD" -R "127.0.0.1:$PORT" -d 3600 \
	    >"$TMP/null.log" 2>&1 &
	MASTER=$!
	KIND=null
	LOG=$TMP/null.log
	wait_udp "$PORT" "$MASTER"
}

stop_server() {
	[ -n "$MASTER" ] || return 0
	SUBDB=
	if [ "$KIND" = kam ]; then
		RUN=$TMP/kam bash "$KAMRUN" stop >/dev/null 2>&1 || true
	else
		kill -TERM "$MASTER" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$MASTER" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$MASTER" 2>/dev/null || true
		wait "$MASTER" 2>/dev/null || true
	fi
	MASTER=
}

# probe: 20 REGISTERs one at a time; the server must answer all with 200.
probe() {
	provision 90000000 20
	# shellcheck disable=SC2086 # AUTH_ARGS: two words
	out=$("$REGLOAD" -k -s "127.0.0.1:$PORT" -r 0 -w 1 -c 20 -d 5 -g 2 \
	    -b 90000000 -C "$LCPU" $AUTH_ARGS 2>&1) || true
	if [ "$(kv "$out" ok)" != 20 ]; then
		say "bench: $LABEL does not answer REGISTER with 200: $out"
		tail -20 "$LOG"
		return 1
	fi
}

# load RATE: one regload run (RATE 0: closed loop); sets LINE, OK, WCPU, ACPU
load() {
	rate=$1
	wpid=$(udp_worker)
	before=
	for l_p in $(server_pids); do
		before="$before $l_p:$(sched "$l_p" | tr ' ' :)"
	done
	if [ -n "$AUTH_ARGS" ]; then
		# every AOR the run may use (closed loop: up to 60,000/s)
		if [ "$rate" = 0 ]; then
			provision "$BASE" $((60000 * SECS))
		else
			provision "$BASE" $((rate * SECS + rate))
		fi
	fi
	t0=$(date +%s%N)
	# shellcheck disable=SC2086 # LOAD_ARGS: several options
	LINE=$("$REGLOAD" -k -q -s "127.0.0.1:$PORT" -r "$rate" -w "$WINDOW" \
	    -d "$SECS" -b "$BASE" -C "$LCPU" $LOAD_ARGS $AUTH_ARGS 2>&1 | tail -1) || true
	t1=$(date +%s%N)
	BASE=$((BASE + 10000000))
	# Over the run, as % of one core: CPU of the UDP worker (for Kamailio,
	# its busiest process) and of all the server's processes, and the time
	# the worker was runnable but another process had its core (WAIT: the
	# noise from whatever else runs on the machine).
	WCPU=0 ACPU=0 WWAIT=0 l_best=-1
	for l_pt in $before; do
		l_p=${l_pt%%:*} l_r=${l_pt#*:}
		l_c0=${l_r%%:*} l_w0=${l_r#*:}
		l_now=$(sched "$l_p")
		l_dc=$(( ${l_now%% *} - l_c0 )) l_dw=$(( ${l_now#* } - l_w0 ))
		[ "$l_dc" -lt 0 ] && l_dc=0
		[ "$l_dw" -lt 0 ] && l_dw=0
		ACPU=$((ACPU + l_dc))
		if [ -n "$wpid" ]; then
			[ "$l_p" = "$wpid" ] && WCPU=$l_dc WWAIT=$l_dw
		elif [ "$l_dc" -gt "$l_best" ]; then
			l_best=$l_dc WCPU=$l_dc WWAIT=$l_dw
		fi
	done
	# the worker's CPU per answered request (authenticated: per full
	# registration, its two requests), in microseconds
	WUS=$(awk -v c="$WCPU" -v n="$(kv "$LINE" ok)" \
	    'BEGIN { printf "%.0f", (n > 0 ? c / 1000 / n : 0) }')
	WCPU=$(pct "$WCPU" $((t1 - t0)))
	ACPU=$(pct "$ACPU" $((t1 - t0)))
	WWAIT=$(pct "$WWAIT" $((t1 - t0)))
	l_held=$(kv "$LINE" held)
	# OK: held (the p99 bound too); PLAIN: held but for the p99 bound
	OK=0 PLAIN=0
	if [ -n "$l_held" ] && [ "$(kv "$LINE" fail)" = 0 ] &&
	   [ "$(kv "$LINE" retrans)" = 0 ] &&
	   awk -v h="$l_held" -v r="$rate" 'BEGIN { exit !(r == 0 || h >= 0.98 * r) }'; then
		PLAIN=1
		[ "$(kv "$LINE" p99_us)" -lt $((HELD_P99_MS * 1000)) ] && OK=1
	fi
	if [ -z "$l_held" ]; then
		say "bench: regload failed: $LINE"
		LINE="rate=$rate sent=0 ok=0 fail=0 retrans=0 held=0 p50_us=0 p99_us=0 max_us=0"
	fi
	row
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }'; }

ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }

row() {
	w_rate=$(kv "$LINE" rate)
	[ "$w_rate" = 0 ] && w_rate="closed"
	res=held
	[ "$OK" = 1 ] || res=NOT
	[ "$OK" = 0 ] && [ "$PLAIN" = 1 ] && res="p99>${HELD_P99_MS}ms"
	[ "$w_rate" = closed ] && res="-"
	printf '%-17s %8s %8s %8s %6s %7s %8s %8s %8s %9s %5s%% %5s%% %5s%% %5s%%  %s\n' \
	    "$LABEL" "$w_rate" "$(kv "$LINE" sent)" "$(kv "$LINE" ok)" \
	    "$(kv "$LINE" fail)" "$(kv "$LINE" retrans)" "$(kv "$LINE" held)" \
	    "$(ms "$(kv "$LINE" p50_us)")" "$(ms "$(kv "$LINE" p99_us)")" \
	    "$(ms "$(kv "$LINE" max_us)")" "$WCPU" "$ACPU" "$WWAIT" \
	    "$(kv "$LINE" gen_wait)" "$res"
	# authenticated: the two legs (first send to 401, 401 to 200)
	if [ -n "$(kv "$LINE" c50_us)" ]; then
		printf '%-17s %8s  legs p50/p99 ms: 401 %s/%s, 200 %s/%s; worker %s us CPU a registration\n' "" "" \
		    "$(ms "$(kv "$LINE" c50_us)")" "$(ms "$(kv "$LINE" c99_us)")" \
		    "$(ms "$(kv "$LINE" a50_us)")" "$(ms "$(kv "$LINE" a99_us)")" "$WUS"
	fi
	drain
}

# drain: wait (up to 30 s) until the server is idle, so that what a failed
# run left queued (its retransmissions) does not count against the next run.
drain() {
	for _ in $(seq 60); do
		d_sum=0
		for d_p in $(server_pids); do d_sum=$((d_sum - $(ticks "$d_p"))); done
		sleep 0.5
		for d_p in $(server_pids); do d_sum=$((d_sum + $(ticks "$d_p"))); done
		d_q=$(ss -Hlun "sport = :$PORT" | awk '{ q += $2 } END { print q + 0 }')
		# idle: under 2% of a core over the half second, nothing queued
		[ "$d_sum" -le 10000000 ] && [ "$d_q" = 0 ] && return 0
	done
	say "bench: $LABEL still busy 30 s after a run"
}

header() {
	printf '%-17s %8s %8s %8s %6s %7s %8s %8s %8s %9s %6s %6s %6s %6s  %s\n' \
	    server rate/s sent 200 fail retrans 200/s p50ms p99ms maxms \
	    worker all wait gwait result
}

# profile RATE: perf record (DWARF call graphs) of the UDP worker during one
# more run at RATE; prints the top functions by self time, the afd functions
# by inclusive time, and the split by shared object.
profile() {
	wpid=$(udp_worker)
	[ -n "$wpid" ] || return 0
	command -v perf >/dev/null || { say "bench: no perf"; return 0; }
	taskset -c "$LCPU" perf record -q --call-graph dwarf,8192 -F 499 \
	    -p "$wpid" -o "$TMP/perf.data" -- sleep "$SECS" >/dev/null 2>&1 &
	ppid=$!
	load "$1" >/dev/null
	wait "$ppid" || true
	rep() {
		perf report -i "$TMP/perf.data" --stdio -g none "$@" 2>/dev/null |
		    grep -v '^#' | grep -v '^$' | sed 's/  *-  *-  *$//'
	}
	say ""
	say "== perf profile of $LABEL's UDP worker (pid $wpid) at $1/s:" \
	    "$(kv "$LINE" ok) answered, worker CPU $WCPU%, wait $WWAIT% =="
	say "-- self time, top functions --"
	rep --no-children --sort symbol --percent-limit 0.8 | head -30
	say "-- inclusive time (children), afd and SQLite entry points --"
	rep --children --sort symbol --percent-limit 2 |
	    grep -v '\[k\]' | grep -v ' 0x0' | grep -v -e uv_run -e main \
	    -e _start -e libc_start | head -40
	say "-- by shared object --"
	rep --no-children --sort dso --percent-limit 1 | head -12
	say ""
}

# busy: the last run was disturbed (worker or regload denied >= BENCH_BUSY%
# of a core by other processes)
busy() {
	b_g=$(kv "$LINE" gen_wait)
	[ "${WWAIT:-0}" -ge "$BUSY" ] || [ "${b_g:-0}" -ge "$BUSY" ]
}

# try RATE: load RATE; a run that failed or was disturbed on a busy machine
# is run once more, and the less disturbed of the two is kept.
try() {
	load "$1"
	busy || return 0
	[ "$1" != "$P99_RATE" ] && [ "$OK" = 1 ] && return 0
	s_line=$LINE s_ok=$OK s_plain=$PLAIN s_w=$WCPU s_a=$ACPU s_ww=$WWAIT
	say "  (machine busy: run again)"
	load "$1"
	if [ "$WWAIT" -gt "$s_ww" ]; then
		LINE=$s_line OK=$s_ok PLAIN=$s_plain WCPU=$s_w ACPU=$s_a WWAIT=$s_ww
	fi
}

# subrun [-P]: one subload run (closed loop, BENCH_SUB_WINDOW UEs in
# progress) against the running afd; prints its row, sets SLINE.
subrun() {
	wpid=$(udp_worker)
	s0=$(sched "$wpid")
	t0=$(date +%s%N)
	SLINE=$(taskset -c "$LCPU" "$SUBLOAD" -p "$PORT" -d "$SECS" \
	    -w "$SUBWIN" "$@" 2>&1 | tail -1) || true
	t1=$(date +%s%N)
	s1=$(sched "$wpid")
	s_cpu=$(pct $(( ${s1%% *} - ${s0%% *} )) $((t1 - t0)))
	s_wait=$(pct $(( ${s1#* } - ${s0#* } )) $((t1 - t0)))
	# the worker's CPU per UE (or REGISTER with -P), in microseconds
	s_ues=$(kv "$SLINE" ues)
	s_us=$(( ${s_ues:-0} > 0 ? (${s1%% *} - ${s0%% *}) / 1000 / s_ues : 0 ))
	if [ -n "${1:-}" ]; then s_what="REGISTER only"; else s_what="+SUBSCRIBE+NOTIFY"; fi
	printf '%-17s %-18s %8s %8s %8s %8s %8s %8s %6s%% %5s%% %6s\n' "afd reg event" \
	    "$s_what" "$(kv "$SLINE" ue_per_s)" "$(kv "$SLINE" notify_per_s)" \
	    "$(kv "$SLINE" failed)" "$(kv "$SLINE" p50_ms)" "$(kv "$SLINE" p99_ms)" \
	    "$(kv "$SLINE" notify_p99_ms)" "$s_cpu" "$s_wait" "$s_us"
	SCPU_PCT=$s_cpu SWAIT_PCT=$s_wait SUS=$s_us
	drain
}

# regev_start: a fresh afd normal for one reg-event run (each load starts
# from an empty database, so that none pays for the rows of another).
regev_start() {
	stop_server
	rm -rf "$TMP/afd-normal-none"
	start_afd normal && probe
}

# bench_regev: the reg event (t/bench/README.md, "subload"), each on a
# fresh afd normal: the plain REGISTER rate of regload (closed loop, as
# above), subload registering only, and subload's UEs that register,
# subscribe to reg and answer their NOTIFY; the last against regload's
# rate (target: at least half).
bench_regev() {
	LABEL="afd reg event"
	SUBWIN=${BENCH_SUB_WINDOW:-200}
	[ -x "$SUBLOAD" ] || { say "bench: $SUBLOAD missing"; echo "no subload" >>"$REGEV"; return 0; }
	regev_start || { stop_server; echo "reg event: afd did not start" >>"$REGEV"; return 0; }
	LABEL="afd regload"
	load 0
	if [ "$WWAIT" -ge "$BUSY" ]; then
		# disturbed: once more on a fresh afd, the less disturbed counts
		r_line=$LINE r_w=$WWAIT
		say "  (machine busy: run again)"
		regev_start || { stop_server; echo "reg event: afd did not start" >>"$REGEV"; return 0; }
		load 0
		[ "$WWAIT" -gt "$r_w" ] && LINE=$r_line WWAIT=$r_w
	fi
	plain=$(kv "$LINE" held) r_wait=$WWAIT
	r_lat="$(ms "$(kv "$LINE" p50_us)")/$(ms "$(kv "$LINE" p99_us)")"
	say ""
	printf '%-17s %-18s %8s %8s %8s %8s %8s %8s %7s %6s %6s\n' "reg event" \
	    "(window $SUBWIN)" UEs/s NOTIFY/s failed p50ms p99ms ntf-p99 worker wait us/UE
	for mode in -P ""; do
		regev_start || { stop_server; echo "reg event: afd did not start" >>"$REGEV"; return 0; }
		# shellcheck disable=SC2086 # mode: nothing or -P
		subrun $mode
		if [ "$SWAIT_PCT" -ge "$BUSY" ]; then
			s_line=$SLINE s_c=$SCPU_PCT s_w=$SWAIT_PCT s_u=$SUS
			say "  (machine busy: run again)"
			regev_start || { stop_server; echo "reg event: afd did not start" >>"$REGEV"; return 0; }
			# shellcheck disable=SC2086
			subrun $mode
			[ "$SWAIT_PCT" -gt "$s_w" ] && SLINE=$s_line SCPU_PCT=$s_c SWAIT_PCT=$s_w SUS=$s_u
		fi
		[ -n "$mode" ] && P_US=$SUS
	done
	ues=$(kv "$SLINE" ue_per_s)
	ratio=$(awk -v a="${ues:-0}" -v b="${plain:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	echo "reg event: $ues UEs/s (REGISTER + SUBSCRIBE + NOTIFY answered)," \
	    "$(kv "$SLINE" notify_per_s) NOTIFYs/s, UE p50/p99 $(kv "$SLINE" p50_ms)/$(kv "$SLINE" p99_ms) ms," \
	    "NOTIFY p50/p99 $(kv "$SLINE" notify_p50_ms)/$(kv "$SLINE" notify_p99_ms) ms," \
	    "worker $SCPU_PCT%/wait $SWAIT_PCT%; regload REGISTER $plain/s" \
	    "(p50/p99 $r_lat ms, worker wait $r_wait%): ratio $ratio" >>"$REGEV"
	echo "  UDP worker CPU: $SUS us per UE, $P_US us per subload -P REGISTER" >>"$REGEV"
	# the same work without sockets, in one process (t/bench/regev_bench.c):
	# less sensitive to the other jobs of the machine than the rates
	if [ -x "$BUILD/t/bench/regev_bench" ]; then
		rb_ue=$("$BUILD/t/bench/regev_bench" 30000 | sed -n 's/.* \([0-9.]*\) us of CPU per UE.*/\1/p')
		rb_reg=$("$BUILD/t/bench/regev_bench" -P 30000 | sed -n 's/.* \([0-9.]*\) us of CPU per UE.*/\1/p')
		echo "  in one process (regev_bench, 30,000 UEs): $rb_ue us of CPU per UE, $rb_reg us per REGISTER alone" >>"$REGEV"
	fi
	if [ "$r_wait" -ge "$BUSY" ] || [ "$SWAIT_PCT" -ge "$BUSY" ]; then
		echo "  (the machine was busy: a worker waited >= $BUSY% of the run for its core; the rates are low and noisy)" >>"$REGEV"
	fi
	echo "$ratio" >"$TMP/regev.ratio"
	say ""
	stop_server
}

# bench_server NAME: start it, measure, stop it; appends to $RESULTS
bench_server() {
	name=$1
	[ "$name" = afd-regev ] && { bench_regev; return 0; }
	AUTH_ARGS=
	case "$name" in
	afd-digest) LABEL="afd digest"; AUTH_ARGS="-A digest"
		start_afd normal digest ;;
	afd-aka) LABEL="afd aka"; AUTH_ARGS="-A aka"; start_afd normal aka ;;
	kam-auth) LABEL="kamailio digest"; AUTH_ARGS="-A digest"
		start_kam_auth ;;
	afd) LABEL="afd normal"; start_afd normal ;;
	afd-full) LABEL="afd full"; start_afd full ;;
	kam-*) LABEL="kamailio ${name#kam-}"; start_kam "${name#kam-}" ;;
	null) LABEL="null responder"; start_null ;;
	*) say "bench: unknown server $name"; return 1 ;;
	esac || { stop_server; echo "$LABEL|start failed" >>"$RESULTS"; return 0; }
	probe || { stop_server; echo "$LABEL|no 200" >>"$RESULTS"; return 0; }

	load 0
	cap=$(kv "$LINE" held)
	cl_p99=$(kv "$LINE" p99_us)
	cl_cpu=$WCPU
	held=0 h_line="" h_cpu="" p99line="" p99cpu="" plain=0 rline=""
	if [ "$name" = afd ]; then
		try "$P99_RATE"
		p99line=$LINE p99cpu=$WCPU
		[ "$PLAIN" = 1 ] && plain=$P99_RATE
		[ "$OK" = 1 ] && { held=$P99_RATE h_line=$LINE h_cpu=$WCPU%/$WWAIT%; }
		if [ "${BENCH_REFRESH:-1}" = 1 ]; then
			# Re-registrations: N AORs registered (closed loop,
			# not counted), then refreshed at P99_RATE, each once
			# (same Call-ID, CSeq 2), from the same base.
			rn=$((P99_RATE * SECS)) rbase=$BASE
			rid=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
			LABEL="afd first (prime)" LOAD_ARGS="-n $rn -I $rid -c $rn"
			load 0
			BASE=$rbase
			LABEL="afd refresh" LOAD_ARGS="-n $rn -I $rid -K $rn -c $rn"
			try "$P99_RATE"
			rline=$LINE
			LABEL="afd normal" LOAD_ARGS=
		fi
	fi
	# The ladder: the highest rung <= capacity, then down until one holds;
	# after a pass, one rung up while it still holds.
	start=
	for r in $LADDER; do
		awk -v r="$r" -v c="$cap" 'BEGIN { exit !(r <= c) }' && start=$r
	done
	[ -n "$start" ] || start=${LADDER%% *}
	tries=0 r=$start failed_above= lpass=
	while [ "$tries" -lt "$TRIES" ] && [ -n "$r" ]; do
		tries=$((tries + 1))
		if [ "$r" = "$held" ] && [ -n "$h_line" ]; then
			OK=1 PLAIN=1   # already held in the p99 run
		else
			try "$r"
		fi
		[ "$PLAIN" = 1 ] && [ "$r" -gt "$plain" ] && plain=$r
		if [ "$OK" = 1 ]; then
			lpass=$r
			if [ "$r" -gt "$held" ]; then
				held=$r h_line=$LINE h_cpu=$WCPU%/$WWAIT%
			fi
			[ -n "$failed_above" ] && break
			# (the loop's status is the last test's: 1 at the top rung)
			r=$(for x in $LADDER; do [ "$x" -gt "$r" ] && { echo "$x"; break; }; done; true)
			if [ -z "$r" ] || ! awk -v r="$r" -v c="$cap" \
			    'BEGIN { exit !(r <= 1.3 * c) }'; then
				break
			fi
		else
			failed_above=$r
			[ -n "$lpass" ] && break
			r=$(for x in $LADDER; do [ "$x" -lt "$r" ] && echo "$x"; done | tail -1)
		fi
	done
	if [ "${BENCH_PERF:-0}" = 1 ] && [ "$KIND" = afd ]; then
		profile "$([ "$held" -gt 0 ] && echo "$held" || echo "$P99_RATE")"
	fi
	stop_server
	echo "$LABEL|$cap|$cl_p99|$cl_cpu|$held|$h_line|$h_cpu|$p99line|$p99cpu|$plain|$rline" >>"$RESULTS"
}

say "REGISTER benchmark ($MODE): $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "${SECS}s per run, server on cpu $SCPU, regload on cpu $LCPU"
say "one REGISTER = $("$REGLOAD" -P 2>&1 >/dev/null | sed 's/regload: //')," \
    "each to an AOR not registered before"
say ""
header
for s in $SERVERS; do
	bench_server "$s"
done

say ""
say "== summary: highest rate held (every request the right 200, no" \
    "retransmission, p99 < ${HELD_P99_MS} ms); plain: the same without the p99 bound =="
printf '%-16s %11s %9s %8s %8s %8s %11s %8s %14s %14s\n' server closed-loop held/s \
    p50ms p99ms maxms cpu/wait plain/s "p99@${P99_RATE}" "refresh-p99"
miss=0 ran_afd=0 auth_afd= auth_kam=
while IFS='|' read -r label cap clp99 clcpu held hline hcpu p99line p99cpu plain rline; do
	if [ -z "${held:-}" ]; then
		printf '%-16s %s\n' "$label" "$cap"
		case "$label" in afd*) ran_afd=1; miss=1 ;; esac
		continue
	fi
	p99s=-
	if [ -n "$p99line" ]; then
		p99s="$(ms "$(kv "$p99line" p99_us)")ms"
		[ "$(kv "$p99line" fail)" = 0 ] && [ "$(kv "$p99line" retrans)" = 0 ] ||
		    p99s="$p99s(fail)"
	fi
	rp99=-
	if [ -n "$rline" ]; then
		rp99="$(ms "$(kv "$rline" p99_us)")ms"
		[ "$(kv "$rline" fail)" = 0 ] && [ "$(kv "$rline" retrans)" = 0 ] ||
		    rp99="$rp99(fail)"
	fi
	if [ -n "$hline" ]; then
		printf '%-16s %11s %9s %8s %8s %8s %11s %8s %14s %14s\n' "$label" "$cap" \
		    "$held" "$(ms "$(kv "$hline" p50_us)")" \
		    "$(ms "$(kv "$hline" p99_us)")" "$(ms "$(kv "$hline" max_us)")" \
		    "$hcpu" "${plain:-0}" "$p99s" "$rp99"
	else
		printf '%-16s %11s %9s %8s %8s %8s %11s %8s %14s %14s\n' "$label" "$cap" \
		    "none" - - - - "${plain:-0}" "$p99s" "$rp99"
	fi
	case "$label" in
	"afd normal")
		ran_afd=1
		[ "$held" -ge 20000 ] || miss=1
		[ -n "$p99line" ] && [ "$(kv "$p99line" p99_us)" -lt 5000 ] &&
		    [ "$(kv "$p99line" fail)" = 0 ] && [ "$(kv "$p99line" retrans)" = 0 ] ||
		    miss=1 ;;
	"afd full") ran_afd=1; [ "$held" -ge 5000 ] || miss=1 ;;
	"afd digest") auth_afd=$held; [ "$held" -ge 10000 ] || miss=1 ;;
	"afd aka") [ "$held" -ge 10000 ] || miss=1 ;;
	"kamailio digest") auth_kam=$held ;;
	esac
done <"$RESULTS"
if [ -s "$REGEV" ]; then
	say ""
	say "$(cat "$REGEV")"
	if [ -s "$TMP/regev.ratio" ]; then
		awk -v r="$(cat "$TMP/regev.ratio")" 'BEGIN { exit !(r >= 0.5) }' || miss=1
	else
		miss=1
	fi
fi
say ""
say "targets: afd normal >= 20000/s held and p99 < 5 ms at ${P99_RATE}/s;" \
    "afd full >= 5000/s held; afd digest and afd aka >= 10000/s full" \
    "registrations held, afd digest >= 3x kamailio digest;" \
    "reg event (subload) >= 0.5x regload's REGISTER rate"
if [ -n "$auth_afd" ] && [ -n "$auth_kam" ] && [ "$auth_kam" -gt 0 ]; then
	say "authenticated: afd digest $auth_afd/s, kamailio digest" \
	    "$auth_kam/s: $(awk -v a="$auth_afd" -v k="$auth_kam" 'BEGIN { printf "%.1f", a / k }')x"
	[ "$auth_afd" -ge $((3 * auth_kam)) ] || miss=1
fi
if [ "$ran_afd" = 0 ]; then
	say "result: afd not measured"
elif [ "$miss" = 1 ]; then
	say "result: afd MISSES a target (see above)"
	[ "${BENCH_STRICT:-0}" = 1 ] && exit 1
else
	say "result: afd meets the targets"
fi
exit 0
