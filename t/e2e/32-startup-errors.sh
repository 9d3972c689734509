#!/bin/bash
# Start-up errors: one line, at level error, naming the path as the config
# gives it but resolved once (no "/../"), the reason and what to do; afd
# -t finds the same problems (exit 1) without creating anything: a
# database or run_dir that cannot be created (/proc/nope), folders the
# user afd runs as cannot reach or write, a read-only database, an [auth]
# mode or nonce_lifetime afd does not know. A good config with "../var" paths
# logs them whole.
. "$(dirname "$0")/lib.sh"

AFD_PORT=$("$SIPSEND" -P)

# both_fail NAME REGEX [KEY=VALUE...]: afd -t and afd (a real start) on a
# config with these keys both exit 1 with one line matching REGEX; the
# start's line is at level error.
both_fail() {
	local name=$1 re=$2 out rc
	shift 2
	afd_conf "$@"
	out=$("$AFD_BIN" -t -f "$AFD_CONF" 2>&1 </dev/null); rc=$?
	say "$name (afd -t): exit $rc: $out"
	assert_eq 1 "$rc" "$name: afd -t exit status"
	assert_eq 1 "$(printf '%s\n' "$out" | grep -c .)" "$name: afd -t lines"
	assert_match "$re" "$out" "$name: afd -t"
	assert_no_match 'configuration ok' "$out" "$name: afd -t"
	out=$(timeout $(( 10 * SCALE )) "$AFD_BIN" -f "$AFD_CONF" 2>&1 </dev/null); rc=$?
	say "$name (afd): exit $rc: $out"
	assert_eq 1 "$rc" "$name: afd exit status"
	assert_eq 1 "$(printf '%s\n' "$out" | grep -c .)" "$name: afd's lines"
	assert_match "$re" "$out" "$name: afd"
	assert_no_match ': (warn|info): ' "$out" "$name: afd"
	ERR=$out
}

both_fail "database in /proc" \
	'database /proc/nope/afd\.db: cannot create its folder in /proc: .*\(create it, or set database' \
	afd.database=/proc/nope/afd.db
assert_match 'master: error: cannot start: database /proc/nope' "$ERR" "level error"
both_fail "run_dir in /proc" \
	'run_dir /proc/nope/run: cannot create it in /proc: ' \
	afd.run_dir=/proc/nope/run

# The path as resolved once: the config's own "../.." is gone.
mkdir -p "$TMP/etc"
both_fail "database through ../" \
	'database /proc/nope/afd\.db: ' \
	afd.database=../../../../../../../../../../proc/nope/../nope/afd.db
assert_no_match '\.\./' "$ERR" "the path in the message"

both_fail "auth mode" "$AFD_CONF:[0-9]+: mode: \"Digest\" is not none, digest, aka or auto" auth.mode=Digest
both_fail "auth nonce_lifetime" "$AFD_CONF:[0-9]+: nonce_lifetime" auth.nonce_lifetime=0

if [ "$(id -u)" = 0 ]; then
	# The folders must be usable by the user afd runs as (nobody).
	mkdir -m 700 "$TMP/private"
	both_fail "folder nobody cannot reach" \
		"database $TMP/private/db/afd\\.db: user nobody cannot reach $TMP/private: Permission denied" \
		afd.database="$TMP/private/db/afd.db"
	[ -e "$TMP/private/db" ] && fail "the database's folder was created"
	mkdir -m 755 "$TMP/rootdir"
	both_fail "folder nobody cannot write" \
		"database $TMP/rootdir/afd\\.db: user nobody cannot create files in $TMP/rootdir: Permission denied \\(SQLite keeps .*chown nobody $TMP/rootdir" \
		afd.database="$TMP/rootdir/afd.db"
	[ -z "$(ls -A "$TMP/rootdir")" ] || fail "files left in $TMP/rootdir: $(ls -A "$TMP/rootdir")"
	both_fail "run_dir nobody cannot reach" \
		"run_dir $TMP/private/run: user nobody cannot reach $TMP/private: " \
		afd.run_dir="$TMP/private/run"
else
	echo "# not root: the checks as another user are skipped"
fi

# A good config whose paths go through "..": the log gives them whole.
cat >"$TMP/etc/afd.conf" <<CONF
[afd]
listen = 127.0.0.1
port = $AFD_PORT
domain = $DOMAIN
database = ../var/afd.db
run_dir = ../var/./run
CONF
AFD_CONF=$TMP/etc/afd.conf AFD_DB=$TMP/var/afd.db AFD_RUN=$TMP/var/run
out=$("$AFD_BIN" -t -f "$AFD_CONF" 2>&1) || fail "afd -t on the good config: $out"
[ -e "$TMP/var" ] && fail "afd -t created $TMP/var"
afd_start
assert_match "database $TMP/var/afd\\.db\$" "$(cat "$AFD_LOG")" "the database in the log"
assert_no_match '/\.\.?/' "$(cat "$AFD_LOG")" "paths in the log"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"

# A read-only database: one line with the path (the user would own the
# file, so its owner's write bit is what counts).
chmod 444 "$AFD_DB"
both_fail "read-only database" \
	"database $TMP/var/afd\\.db is read-only \\(mode 0444\\)" \
	afd.port="$AFD_PORT" afd.database="$AFD_DB" afd.run_dir="$AFD_RUN"
chmod 644 "$AFD_DB"
afd_start afd.database="$AFD_DB" afd.run_dir="$AFD_RUN"
afd_stop
