#!/bin/sh
# t/run-tests.sh BUILD: run afd's whole test suite and print one summary,
# "N passed, N failed" (unit tests counted one by one, each end-to-end
# scenario t/e2e/NN-*.sh as one). Environment: AFD_BIN (default ./afd),
# VALGRIND=1 runs the unit tests and the daemon under valgrind,
# E2E=pattern runs only matching scenarios, E2E_JOBS (default 2) how many
# scenarios run at once (each on its own port, config and database).
set -u
# The scenarios and the parallel runner need bash (in every Debian).
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 2
export AFD_BIN=${AFD_BIN:-./afd}
export AFD_TOOLS=$BUILD/t/tools
start=$(date +%s)
pass=0 fail=0 failed_names=

echo "== unit tests"
unit_cmd=$BUILD/t/unit/run
[ "${VALGRIND:-}" = 1 ] && unit_cmd="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 $unit_cmd"
out=$($unit_cmd 2>&1); rc=$?
echo "$out" | tail -n 25
line=$(echo "$out" | grep '^unit: ' | tail -n 1)
if [ -n "$line" ]; then
	up=$(echo "$line" | sed 's/unit: \([0-9]*\) passed, \([0-9]*\) failed/\1/')
	uf=$(echo "$line" | sed 's/unit: \([0-9]*\) passed, \([0-9]*\) failed/\2/')
	pass=$((pass + up)); fail=$((fail + uf))
	[ "$uf" -gt 0 ] && failed_names="$failed_names unit"
fi
if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "${uf:-0}" = 0 ]; }; then
	fail=$((fail + 1)); failed_names="$failed_names unit(rc=$rc)"
fi

echo "== end-to-end scenarios"
# Each scenario runs in the background (at most E2E_JOBS at once) and
# leaves its status and time in BUILD/e2e-NAME.rc; results are printed as
# they finish.
jobs_max=${E2E_JOBS:-2}
[ "${VALGRIND:-}" = 1 ] && jobs_max=1
e2e_timeout=180
[ "${VALGRIND:-}" = 1 ] && e2e_timeout=1200

run_one() { # SCRIPT NAME
	local t0 rc
	t0=$(date +%s)
	timeout -k 5 $e2e_timeout bash "$1" >"$BUILD/e2e-$2.log" 2>&1
	rc=$?
	echo "$rc $(( $(date +%s) - t0 ))" >"$BUILD/e2e-$2.rc"
}

report() { # NAME
	local rc secs
	read -r rc secs <"$BUILD/e2e-$1.rc"
	rm -f "$BUILD/e2e-$1.rc"
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		echo "ok   $1 (${secs}s)"
	else
		fail=$((fail + 1)); failed_names="$failed_names $1"
		[ "$rc" = 124 ] && secs="$secs, timed out"
		echo "FAIL $1 (${secs}s), log: $BUILD/e2e-$1.log"
		tail -n 30 "$BUILD/e2e-$1.log" | sed 's/^/     | /'
	fi
}

declare -A running=()
mkdir -p "$BUILD"
reap() { # report every finished scenario; wait for one when $1 = wait
	local n pid
	while :; do
		for n in "${!running[@]}"; do
			pid=${running[$n]}
			if ! kill -0 "$pid" 2>/dev/null; then
				wait "$pid"
				unset "running[$n]"
				report "$n"
			fi
		done
		[ "${1:-}" = wait ] && [ ${#running[@]} -ge $jobs_max ] || break
		sleep 0.1
	done
}

for t in t/e2e/[0-9]*.sh; do
	[ -f "$t" ] || continue
	case "$t" in *${E2E:-}*) ;; *) continue ;; esac
	name=$(basename "$t" .sh)
	reap wait
	run_one "$t" "$name" &
	running[$name]=$!
done
while [ ${#running[@]} -gt 0 ]; do
	reap
	[ ${#running[@]} -gt 0 ] && sleep 0.1
done

echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "took $(( $(date +%s) - start ))s"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
