#!/bin/sh
# t/run-tests.sh BUILD: run afd's whole test suite and print one summary,
# "N passed, N failed" (unit tests counted one by one, each end-to-end
# scenario t/e2e/NN-*.sh as one). Environment: AFD_BIN (default ./afd),
# VALGRIND=1 runs the unit tests and the daemon under valgrind,
# E2E=pattern runs only matching scenarios.
set -u
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
for t in t/e2e/[0-9]*.sh; do
	[ -f "$t" ] || continue
	case "$t" in *${E2E:-}*) ;; *) continue ;; esac
	name=$(basename "$t" .sh)
	log=$BUILD/e2e-$name.log
	t0=$(date +%s)
	if timeout 180 sh "$t" >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $name ($(( $(date +%s) - t0 ))s)"
	else
		fail=$((fail + 1)); failed_names="$failed_names $name"
		echo "FAIL $name ($(( $(date +%s) - t0 ))s), log: $log"
		tail -n 30 "$log" | sed 's/^/     | /'
	fi
done

echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "took $(( $(date +%s) - start ))s"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
