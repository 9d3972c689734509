# t/e2e/lib.sh: the end-to-end harness, sourced by every scenario
# t/e2e/NN-name.sh (bash). Each scenario starts its own afd on a free
# loopback port with a config and database in a temporary folder, talks SIP
# to it with build/t/tools/sipsend (or sipsak), and checks what a user sees:
# the answers, the log, `ps`, and the database through sqlite3.
#
# Environment: AFD_BIN (the daemon, default ./afd; `make asan` sets
# ./build-asan/afd), AFD_TOOLS (default build/t/tools), AFD_SHARED (the
# shared folder, default <repo>/../shared, else /work/shared), VALGRIND=1
# (run afd under valgrind; every wait is scaled up), E2E_KEEP=1 (keep the
# temporary folder).
#
# Waits poll the daemon (its answers, log lines, database rows), never sleep
# a fixed time. Everything started here is killed by the EXIT trap.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 2
E2E_NAME=$(basename "$0" .sh)

SHARED=${AFD_SHARED:-$ROOT/../shared}
[ -d "$SHARED" ] || SHARED=/work/shared
AFD_BIN=${AFD_BIN:-./afd}
case "$AFD_BIN" in /*) ;; *) AFD_BIN=$ROOT/${AFD_BIN#./} ;; esac
AFD_TOOLS=${AFD_TOOLS:-build/t/tools}
case "$AFD_TOOLS" in /*) ;; *) AFD_TOOLS=$ROOT/${AFD_TOOLS#./} ;; esac
SIPSEND=$AFD_TOOLS/sipsend
DOMAIN=ims.mnc001.mcc001.3gppnetwork.org

# SCALE multiplies every timeout (valgrind is some 20 times slower).
SCALE=1
[ "${VALGRIND:-}" = 1 ] && SCALE=10

TMP=$(mktemp -d "${TMPDIR:-/tmp}/afd-e2e-$E2E_NAME.XXXXXX") || exit 2
# Started as root, afd runs as [afd] user (default nobody): the folder of
# the scenario's database and run_dir is that user's, as a lab's would be.
AFD_USER=
if [ "$(id -u)" = 0 ]; then
	AFD_USER=nobody
	chown "$AFD_USER:" "$TMP" || exit 2
fi
AFD_PID=
AFD_PORT=
AFD_CONF=$TMP/afd.conf
AFD_DB=$TMP/afd.db
AFD_LOG=$TMP/afd.log
AFD_RUN=$TMP/run
AFD_RC=
E2E_PIDS=
SESSION_FDS=

[ -x "$SIPSEND" ] || { echo "FAIL: $SIPSEND not built (make build-test)"; exit 2; }
[ -x "$AFD_BIN" ] || { echo "FAIL: $AFD_BIN not built"; exit 2; }

e2e_cleanup() {
	local rc=$? p
	trap - EXIT
	for p in $E2E_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	if [ -n "$AFD_PID" ] && kill -0 "$AFD_PID" 2>/dev/null; then
		afd_kill_all
	fi
	# A scenario that passed still fails on a sanitizer or valgrind report,
	# or on a line of afd's own self-checks.
	if [ $rc -eq 0 ]; then
		( sanitizer_check; valgrind_check; selfcheck_check ) || rc=1
	fi
	if [ "${E2E_KEEP:-}" = 1 ] || [ $rc -ne 0 ]; then
		if [ $rc -ne 0 ] && [ -f "$AFD_LOG" ]; then
			echo "---- afd log (last 40 lines of $AFD_LOG)"
			tail -n 40 "$AFD_LOG"
		fi
		echo "(kept $TMP)"
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM
trap "" PIPE
# A function at the end of a pipeline runs in this shell (its fail exits).
shopt -s lastpipe

# --- reporting -------------------------------------------------------------

say() { echo "# $*"; }

fail() {
	echo "FAIL [$E2E_NAME]: $*"
	exit 1
}

assert_eq() { # EXPECTED ACTUAL WHAT
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

assert_match() { # REGEX TEXT WHAT  (extended regex, any line of TEXT)
	printf '%s\n' "$2" | grep -Eq -- "$1" ||
		fail "${3:-text} does not match /$1/; got:
$2"
}

assert_no_match() { # REGEX TEXT WHAT
	if printf '%s\n' "$2" | grep -Eq -- "$1"; then
		fail "${3:-text} matches /$1/ but should not; got:
$2"
	fi
}

assert_le() { # A B WHAT: integer A <= B
	[ "$1" -le "$2" ] || fail "${3:-value}: $1 > $2"
}

# --- waiting ---------------------------------------------------------------

now_ms() { date +%s%3N; }

# wait_for 'CMD' SECONDS: run CMD every 50 ms until it succeeds; 1 when the
# (scaled) time is over.
wait_for() {
	local cmd=$1 limit=$(( ${2:-5} * 1000 * SCALE )) t0
	t0=$(now_ms)
	while :; do
		eval "$cmd" >/dev/null 2>&1 && return 0
		[ $(( $(now_ms) - t0 )) -ge "$limit" ] && return 1
		sleep 0.05
	done
}

# --- SIP -------------------------------------------------------------------

# sip [sipsend options] [FILE]: send to afd; -w is scaled for valgrind.
sip() {
	"$SIPSEND" -p "$AFD_PORT" -w $(( 2000 * SCALE )) "$@"
}

# req METHOD RURI [HEADER]...: a request template on stdout, LF line ends;
# sipsend fills $TP, $LPORT, $BRANCH, $TAG, $CALLID and $CLEN. Environment:
# FROM_USER (alice), TO_USER (FROM_USER), TO_DOMAIN (DOMAIN), CALLID, CSEQ
# (1), MF (Max-Forwards, 70), BODY.
req() {
	local m=$1 ruri=$2 h user=${FROM_USER:-alice}
	shift 2
	printf '%s %s SIP/2.0\n' "$m" "$ruri"
	printf 'Via: SIP/2.0/$TP 127.0.0.1:$LPORT;branch=$BRANCH;rport\n'
	printf 'Max-Forwards: %s\n' "${MF:-70}"
	printf 'From: <sip:%s@%s>;tag=$TAG\n' "$user" "${TO_DOMAIN:-$DOMAIN}"
	printf 'To: <sip:%s@%s>\n' "${TO_USER:-$user}" "${TO_DOMAIN:-$DOMAIN}"
	printf 'Call-ID: %s\n' "${CALLID:-\$CALLID}"
	printf 'CSeq: %s %s\n' "${CSEQ:-1}" "$m"
	for h in "$@"; do
		printf '%s\n' "$h"
	done
	printf 'Content-Length: $CLEN\n\n'
	printf '%s' "${BODY:-}"
}

options_msg() { req OPTIONS "sip:$DOMAIN" "Accept: application/sdp" "$@"; }

# status_of OUTPUT: the status code of the first response in sipsend output.
status_of() {
	printf '%s\n' "$1" | sed -n 's/^SIP\/2\.0 \([0-9][0-9][0-9]\).*/\1/p' | head -n 1
}

# hdr NAME OUTPUT: the values of header NAME in sipsend output (one a line).
hdr() {
	printf '%s\n' "$2" | sed -n "s/^$1[ 	]*:[ 	]*//Ip"
}

# afd_answers [udp|tcp] [MS]: OPTIONS answered 200 within MS (2000) ms,
# scaled.
afd_answers() {
	local t=-u out
	[ "${1:-udp}" = tcp ] && t=-t
	out=$(options_msg | sip $t -s -w $(( ${2:-2000} * SCALE )) 2>/dev/null) || return 1
	case "$out" in "SIP/2.0 200 "*) return 0 ;; esac
	return 1
}

# assert_alive WHAT: afd still answers OPTIONS over UDP (and its master
# lives).
assert_alive() {
	kill -0 "$AFD_PID" 2>/dev/null || fail "afd master died ${1:+after $1}"
	afd_answers udp || fail "afd does not answer OPTIONS over UDP ${1:+after $1}"
}

# --- the daemon ------------------------------------------------------------

# afd_conf [SECTION.KEY=VALUE]...: write $AFD_CONF with the test defaults,
# each override replacing or adding a key.
afd_conf() {
	local sec kv s k v
	declare -A val=(
		[afd.listen]=127.0.0.1 [afd.port]=$AFD_PORT [afd.domain]=$DOMAIN
		[afd.database]=$AFD_DB [afd.run_dir]=$AFD_RUN [afd.log_level]=info
		[workers.tcp_min_spare]=2 [workers.tcp_max]=4
		[registrar.default_expires]=3600 [registrar.min_expires]=60
		[registrar.max_expires]=600000 [registrar.max_contacts]=10
		[auth.mode]=none [auth.realm]=$DOMAIN
	)
	local order="afd.listen afd.port afd.domain afd.database afd.run_dir
		afd.log_level workers.tcp_min_spare workers.tcp_max
		registrar.default_expires registrar.min_expires
		registrar.max_expires registrar.max_contacts auth.mode auth.realm"
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		[ -n "${val[$k]+x}" ] || order="$order $k"
		val[$k]=$v
	done
	{
		echo "; afd test config for $E2E_NAME"
		for sec in afd workers registrar auth; do
			echo "[$sec]"
			for k in $order; do
				s=${k%%.*}
				[ "$s" = "$sec" ] && echo "${k#*.} = ${val[$k]}"
			done
		done
		for k in $order; do
			s=${k%%.*}
			case " afd workers registrar auth " in *" $s "*) continue ;; esac
			echo "[$s]"
			echo "${k#*.} = ${val[$k]}"
		done
	} >"$AFD_CONF"
}

# afd_start [SECTION.KEY=VALUE]...: start afd on a free port (the same port
# again when restarting) and wait until it answers OPTIONS over UDP.
afd_start() {
	local t0 limit
	[ -n "$AFD_PORT" ] || AFD_PORT=$("$SIPSEND" -P ${AFD_PORT_LOW:+-p $AFD_PORT_LOW})
	export AFD_PORT
	[ $# -gt 0 ] || [ ! -f "$AFD_CONF" ] && afd_conf "$@"
	echo "==== afd start $(date +%T.%N)" >>"$AFD_LOG"
	if [ "${VALGRIND:-}" = 1 ]; then
		# --vgdb=no: the gdbserver FIFOs valgrind makes in /tmp as
		# root could not be removed once afd has become nobody.
		valgrind -q --vgdb=no --trace-children=yes --error-exitcode=99 \
			--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
			--log-file="$TMP/valgrind.%p.log" \
			"$AFD_BIN" -f "$AFD_CONF" 2>>"$AFD_LOG" &
	else
		"$AFD_BIN" -f "$AFD_CONF" 2>>"$AFD_LOG" &
	fi
	AFD_PID=$!
	say "afd started: pid $AFD_PID port $AFD_PORT"
	t0=$(now_ms)
	limit=$(( 10000 * SCALE ))
	until afd_answers udp 200; do
		kill -0 "$AFD_PID" 2>/dev/null || {
			wait "$AFD_PID"
			fail "afd exited at start (status $?)"
		}
		[ $(( $(now_ms) - t0 )) -ge $limit ] &&
			fail "afd does not answer OPTIONS within $(( limit / 1000 )) s"
		sleep 0.05
	done
	say "afd answers after $(( $(now_ms) - t0 )) ms"
}

# afd_pids: the master and every worker (children of the master).
afd_pids() {
	[ -n "$AFD_PID" ] || return 0
	echo "$AFD_PID"
	ps -eo pid=,ppid= | awk -v m="$AFD_PID" '$2 == m { print $1 }'
}

# afd_stop [SIGNAL]: signal the master (TERM), wait for it (10 s, scaled);
# AFD_RC is its exit status. Fails if it does not exit.
afd_stop() {
	local sig=${1:-TERM} t0 limit=$(( 10000 * SCALE ))
	[ -n "$AFD_PID" ] || return 0
	kill -"$sig" "$AFD_PID" 2>/dev/null
	t0=$(now_ms)
	while kill -0 "$AFD_PID" 2>/dev/null && [ -z "$(ps -o stat= -p "$AFD_PID" | grep Z)" ]; do
		[ $(( $(now_ms) - t0 )) -ge $limit ] && fail "afd did not stop on SIG$sig"
		sleep 0.05
	done
	wait "$AFD_PID"
	AFD_RC=$?
	AFD_STOP_MS=$(( $(now_ms) - t0 ))
	AFD_PID=
	valgrind_check
	sanitizer_check
	selfcheck_check
}

# afd_kill_all: SIGKILL the master and its workers (cleanup).
afd_kill_all() {
	local p
	for p in $(afd_pids); do
		kill -9 "$p" 2>/dev/null
	done
	wait "$AFD_PID" 2>/dev/null
	AFD_PID=
}

# sanitizer_check: fail when an ASan/UBSan/LSan report is in afd's log
# (a worker that aborts on one is replaced, so the answers alone would not
# show it).
sanitizer_check() {
	if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$AFD_LOG" 2>/dev/null; then
		grep -E -A30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$AFD_LOG" | head -n 60
		fail "a sanitizer reported an error in afd's log"
	fi
}

# SELFCHECK_RE: the lines afd's runtime self-checks write when an invariant
# broke ("BUG: ...", workers/worker.c, workers/tcp.c) or an idle TCP worker
# holds more memory blocks than when it started (a leak, workers/tcp.c).
SELFCHECK_RE='BUG:|blocks while idle'

# selfcheck_check: fail when afd's log has a self-check line (the worker
# carries on after one, so the answers alone would not show it).
selfcheck_check() {
	if grep -Eq -- "$SELFCHECK_RE" "$AFD_LOG" 2>/dev/null; then
		grep -E -- "$SELFCHECK_RE" "$AFD_LOG" | head -n 20
		fail "afd's self-checks reported a bug or a leak in its log"
	fi
}

# valgrind_check: fail when a valgrind log of ours reports an error.
valgrind_check() {
	local f
	[ "${VALGRIND:-}" = 1 ] || return 0
	for f in "$TMP"/valgrind.*.log; do
		[ -s "$f" ] || continue
		cat "$f"
		fail "valgrind reported errors ($f)"
	done
}

# --- processes -------------------------------------------------------------

# ps_afd: "PID ARGS" of the master's children. Under valgrind the titles
# are not visible (ps shows valgrind's command line), so they are made up
# from the workers table for the children that are alive.
ps_afd() {
	if [ "${VALGRIND:-}" != 1 ]; then
		ps -eo pid=,ppid=,args= | awk -v m="$AFD_PID" '$2 == m { $2 = ""; print }'
		return
	fi
	local kids pid kind slot state serving
	kids=" $(ps -eo pid=,ppid= | awk -v m="$AFD_PID" '$2 == m { print $1 }' | tr '\n' ' ') "
	sql "SELECT pid, kind, slot, state, coalesce(serving, '') FROM workers WHERE state <> 'stopped'" |
	while IFS='|' read -r pid kind slot state serving; do
		case "$kids" in *" $pid "*) ;; *) continue ;; esac
		if [ "$kind" = udp ]; then
			echo "$pid afd: udp worker"
		elif [ "$kind" = checkpointer ]; then
			echo "$pid afd: db checkpointer"
		elif [ "$state" = busy ]; then
			echo "$pid afd: tcp worker ${slot#t} [$serving]"
		elif [ "$state" = starting ]; then
			echo "$pid afd: tcp worker ${slot#t} [starting]"
		else
			echo "$pid afd: tcp worker ${slot#t} [idle]"
		fi
	done
}

# worker_pid SLOT: the pid of u0 (or "udp"), c0 (or "checkpointer"), tN,
# or "master"; from the
# process titles, else from the workers table.
worker_pid() {
	local slot=$1 p
	case "$slot" in
	master) echo "$AFD_PID"; return 0 ;;
	udp|u0) p=$(ps_afd | awk '/afd: udp worker/ { print $1; exit }') ;;
	checkpointer|c0) p=$(ps_afd | awk '/afd: db checkpointer/ { print $1; exit }') ;;
	t[0-9]*) p=$(ps_afd | awk -v n="${slot#t}" '
		{ for (i = 2; i < NF; i++)
			if ($i == "tcp" && $(i+1) == "worker" && $(i+2) == n) { print $1; exit } }') ;;
	*) fail "worker_pid: bad slot $slot" ;;
	esac
	[ -z "$p" ] && [ "$slot" = udp ] && slot=u0
	[ -z "$p" ] && [ "$slot" = checkpointer ] && slot=c0
	[ -n "$p" ] || p=$(sql "SELECT pid FROM workers WHERE slot = '$slot' AND state <> 'stopped'")
	echo "$p"
}

# tcp_worker_pids: pids of every TCP worker (from the titles).
tcp_worker_pids() { ps_afd | awk '/afd: tcp worker/ { print $1 }'; }

# --- the database ----------------------------------------------------------

sql() { sqlite3 -batch -noheader -cmd ".timeout 5000" "$AFD_DB" "$@"; }

# --- the log ---------------------------------------------------------------

log_has() { grep -Eq -- "$1" "$AFD_LOG"; }

# log_mark: remember how long the log is; log_since REGEX then looks only
# at the lines written after the mark.
log_mark() { LOG_MARK=$(wc -l <"$AFD_LOG"); }
log_since() { tail -n +$(( ${LOG_MARK:-0} + 1 )) "$AFD_LOG" | grep -Eq -- "$1"; }
log_new() { tail -n +$(( ${LOG_MARK:-0} + 1 )) "$AFD_LOG"; }

# wait_log REGEX SECONDS: wait until the log has a line matching REGEX.
wait_log() {
	wait_for "log_has '$1'" "${2:-5}" || fail "no log line /$1/ within ${2:-5} s"
}

# --- background helpers ----------------------------------------------------

# tcp_session NAME: one TCP connection held open by sipsend -t -i, its
# stdin a fifo. Messages are sent with tcp_send NAME FILE. Sets
# SESSION_LPORT_<NAME> to the connection's local port.
tcp_session() {
	local n=$1
	shift
	mkfifo "$TMP/$n.in"
	# The new sipsend must not hold the other sessions' fifos open (their
	# EOF would never come), so it closes them first.
	(
		for fd in $SESSION_FDS; do eval "exec $fd>&-"; done
		exec "$SIPSEND" -t -i -s -p "$AFD_PORT" -w $(( 2000 * SCALE )) "$@" \
			<"$TMP/$n.in" >"$TMP/$n.out" 2>"$TMP/$n.err"
	) &
	E2E_PIDS="$E2E_PIDS $!"
	eval "SESSION_PID_$n=$!"
	disown $!
	# Hold the fifo open for writing on a descriptor of our own.
	eval "exec {SESSION_FD_$n}>\"$TMP/$n.in\""
	eval "SESSION_FDS=\"\$SESSION_FDS \$SESSION_FD_$n\""
	wait_for "grep -q '^#lport' '$TMP/$n.out'" 5 ||
		fail "tcp session $n did not connect: $(cat "$TMP/$n.err")"
	eval "SESSION_LPORT_$n=$(sed -n 's/^#lport //p' "$TMP/$n.out")"
}

# tcp_outcomes NAME: how many messages of the session have an outcome.
tcp_outcomes() { grep -Ec '^#(done|timeout|closed)' "$TMP/$1.out"; }

# tcp_send NAME FILE [SECONDS]: send FILE on the session, wait for its
# outcome line ("#done N", "#timeout N" or "#closed") and print the status
# lines it got followed by that line.
tcp_send() {
	local n=$1 f=$2 fd before
	eval "fd=\$SESSION_FD_$n"
	before=$(tcp_outcomes "$n")
	echo "$f" >&"$fd"
	wait_for "[ \$(tcp_outcomes $n) -gt $before ]" "${3:-10}" ||
		fail "tcp session $n: no outcome for $f"
	awk -v b="$before" '/^#lport/ { next } c == b { print } /^#/ { c++ }' "$TMP/$n.out"
}

# tcp_close NAME: end a session (EOF on its stdin; sipsend closes).
tcp_close() {
	local n=$1 fd
	eval "fd=\$SESSION_FD_$n"
	eval "exec $fd>&-"
}
