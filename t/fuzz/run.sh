#!/bin/sh
# t/fuzz/run.sh BIN SECONDS: run the libFuzzer binary BIN for SECONDS on a
# scratch copy of its seed corpus (the committed corpus is never written
# to): t/fuzz/corpus for fuzz_sip, t/fuzz/corpus-NAME for fuzz_NAME. Fails
# (non-zero) on any crash, leak, sanitizer report or timeout; the
# reproducer is left in BIN's directory: crash-* etc. for fuzz_sip,
# NAME-crash-* for fuzz_NAME; the log in fuzz.log / fuzz-NAME.log.
set -eu
BIN=$1
SECS=${2:-60}
cd "$(dirname "$0")/../.." || exit 2
dir=$(dirname "$BIN")
name=$(basename "$BIN")
case "$name" in
fuzz_sip) seeds=t/fuzz/corpus tag= pfx= ;;
*) n=${name#fuzz_}; seeds=t/fuzz/corpus-$n tag=-$n pfx=$n- ;;
esac
work=$dir/corpus-run$tag
log=$dir/fuzz$tag.log
rm -rf "$work"
mkdir -p "$work"
cp "$seeds"/* "$work"/
echo "fuzz: $BIN for ${SECS}s on $(ls "$work" | wc -l) seeds"
# exported: assignments on a line of their own would stay in this shell
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
"$BIN" -max_total_time="$SECS" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
	-print_final_stats=1 -artifact_prefix="$dir/$pfx" "$work" \
	2>"$log" || rc=$?
tail -n 12 "$log"
if [ $rc -ne 0 ]; then
	echo "fuzz: FAILED (rc=$rc), see $log and $dir/${pfx}crash-*" >&2
	grep -m1 -A30 'ERROR\|runtime error\|abort' "$log" >&2 || true
fi
exit $rc
