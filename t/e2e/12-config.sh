#!/bin/bash
# Config checking: afd -t -f good.conf exits 0; an unknown key, a bad value,
# a missing file stop afd with a non-zero exit and a message naming the
# file, the line and the reason. -V and -h answer.
. "$(dirname "$0")/lib.sh"

AFD_PORT=$("$SIPSEND" -P)
afd_conf
good=$AFD_CONF

out=$("$AFD_BIN" -t -f "$good" 2>&1); rc=$?
echo "$out"
assert_eq 0 "$rc" "afd -t on a good config"

# The shipped config is good too.
if [ -f etc/afd.conf ]; then
	out=$("$AFD_BIN" -t -f etc/afd.conf 2>&1) || fail "afd -t -f etc/afd.conf: $out"
fi

# bad_conf NAME LINE_TEXT AFTER_SECTION REASON_REGEX: a copy of the good config
# with LINE_TEXT added right after [AFTER_SECTION]; both -t and a real start
# must fail naming file:line and the reason.
bad_conf() {
	local name=$1 text=$2 sec=$3 why=$4 f=$TMP/$1.conf line out rc lines
	awk -v s="[$sec]" -v t="$text" '{ print } $0 == s { print t }' "$good" >"$f"
	line=$(grep -nxF -- "$text" "$f" | head -n 1 | cut -d: -f1)
	[ -n "$line" ] || fail "test bug: $text not in $f"
	# An unknown section may be reported at its first key, the next line.
	lines=$line
	case "$text" in "["*) lines="($line|$((line + 1)))" ;; esac
	for mode in -t ""; do
		out=$(timeout $(( 10 * SCALE )) "$AFD_BIN" $mode -f "$f" 2>&1 </dev/null); rc=$?
		say "$name (afd $mode): exit $rc: $out"
		[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "$name: afd $mode exit status $rc"
		assert_match "$f:$lines\\b" "$out" "$name: message names file:line ($f:$lines)"
		assert_match "$why" "$out" "$name: reason"
	done
}

bad_conf unknown-key 'bogus_key = 1' afd 'bogus_key'
bad_conf bad-port 'port = notaport' afd 'port'
bad_conf port-range 'port = 70000' afd 'port'
bad_conf bad-level 'log_level = loud' afd 'log_level'
bad_conf bad-durability 'durability = sometimes' afd 'durability'
bad_conf bad-tcp-max 'tcp_max = -3' workers 'tcp_max'
bad_conf bad-expires 'min_expires = soon' registrar 'min_expires'
bad_conf bad-mode 'mode = password' auth 'mode'
bad_conf no-equals 'just some words' afd '.'
bad_conf unknown-section '[nonsense]' afd 'nonsense'

# A missing file.
out=$("$AFD_BIN" -t -f "$TMP/nope.conf" 2>&1); rc=$?
echo "$out"
[ $rc -ne 0 ] || fail "afd -t on a missing file exits 0"
assert_match "$TMP/nope.conf" "$out" "missing file: message names the file"
out=$(timeout 5 "$AFD_BIN" -f "$TMP/nope.conf" 2>&1); rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "afd on a missing file: exit $rc"
assert_match "$TMP/nope.conf" "$out" "missing file: message names the file"

# -V prints a version, -h a usage; a bad option fails.
out=$("$AFD_BIN" -V 2>&1) || fail "afd -V failed: $out"
assert_match '[0-9]+\.[0-9]+' "$out" "afd -V"
out=$("$AFD_BIN" -h 2>&1)
assert_match '-f' "$out" "afd -h names -f"
if "$AFD_BIN" -Q >/dev/null 2>&1; then fail "afd -Q (a bad option) exits 0"; fi
