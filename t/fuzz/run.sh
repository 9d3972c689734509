#!/bin/sh
# t/fuzz/run.sh BIN SECONDS: run the libFuzzer binary BIN for SECONDS on a
# scratch copy of the seed corpus t/fuzz/corpus (the committed corpus is
# never written to). Fails (non-zero) on any crash, leak, sanitizer report
# or timeout; the reproducer is left as BIN's directory/crash-* etc.
set -eu
BIN=$1
SECS=${2:-60}
cd "$(dirname "$0")/../.." || exit 2
dir=$(dirname "$BIN")
work=$dir/corpus-run
rm -rf "$work"
mkdir -p "$work"
cp t/fuzz/corpus/* "$work"/
echo "fuzz: $BIN for ${SECS}s on $(ls "$work" | wc -l) seeds"
# exported: assignments on a line of their own would stay in this shell
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
"$BIN" -max_total_time="$SECS" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
	-print_final_stats=1 -artifact_prefix="$dir/" "$work" \
	2>"$dir/fuzz.log" || rc=$?
tail -n 12 "$dir/fuzz.log"
if [ $rc -ne 0 ]; then
	echo "fuzz: FAILED (rc=$rc), see $dir/fuzz.log and $dir/crash-*" >&2
	grep -m1 -A30 'ERROR\|runtime error\|abort' "$dir/fuzz.log" >&2 || true
fi
exit $rc
