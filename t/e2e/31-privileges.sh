#!/bin/bash
# Privileges. Started as root, afd runs every process as [afd] user
# (default nobody): ps shows nobody for the master and every worker (a
# replacement too), they cannot become root again, the database, its -wal,
# run_dir and the slot sockets belong to nobody, and REGISTER still
# commits. A database left owned by root is handed over at the next start.
# Started as another user, afd stays that user and ignores the key.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP [$E2E_NAME]: needs root (afd changes user only when started as root)"
	exit 0
fi

# every_proc_is USER: the master and each worker run as USER, with only
# USER's group (root: the groups it had).
every_proc_is() {
	local p uid gid
	uid=$(id -u "$1")
	gid=$(id -g "$1")
	for p in $(afd_pids); do
		assert_eq "$1" "$(ps -o user= -p "$p" | tr -d ' ')" "user of pid $p ($(ps -o args= -p "$p"))"
		assert_match "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid\$" "$(cat /proc/$p/status)" "real, effective, saved uid of pid $p"
		assert_match "^Gid:[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid\$" "$(cat /proc/$p/status)" "gids of pid $p"
		[ "$1" = root ] ||
			assert_match "^Groups:[[:space:]]*$gid[[:space:]]*\$" "$(cat /proc/$p/status)" "supplementary groups of pid $p"
	done
}

afd_start
assert_match 'master: info: running as user nobody \(uid [0-9]+' "$(cat "$AFD_LOG")" "the log says which user"
[ "$(afd_pids | wc -l)" -ge 4 ] || fail "fewer than 4 processes: $(afd_pids)"
every_proc_is nobody

out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 600" | sip -s) || fail "no answer to REGISTER"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER as nobody"
assert_eq 1 "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:alice@$DOMAIN'")" "binding committed"
for f in "$AFD_DB" "$AFD_DB-wal" "$AFD_DB-shm" "$AFD_RUN" "$AFD_RUN/u0.sock" "$AFD_RUN/afd.pid" "$AFD_DB.lock"; do
	assert_eq nobody "$(stat -c %U "$f")" "owner of $f"
done

# A replacement worker is nobody too.
old=$(worker_pid udp)
kill -9 "$old"
wait_for "[ -n \"\$(worker_pid udp)\" ] && [ \"\$(worker_pid udp)\" != $old ]" 5 || fail "u0 not replaced"
wait_for "afd_answers udp" 5 || fail "no answer after the UDP worker's replacement"
every_proc_is nobody
afd_stop
assert_eq 0 "$AFD_RC" "exit status"

# A database and -wal root made (sqlite3 as root) are handed to nobody.
chown root: "$AFD_DB"
sqlite3 "$AFD_DB" "PRAGMA journal_mode=WAL; INSERT INTO subscribers (impi, impu) VALUES ('r@x', 'sip:r@x');" >/dev/null
chmod 600 "$AFD_DB"
afd_start
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5062>" "Expires: 600" | sip -s) || fail "no answer to REGISTER"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER after root's sqlite3"
assert_eq nobody "$(stat -c %U "$AFD_DB")" "owner of the database root had"
afd_stop

# user = root keeps root (explicitly asked).
afd_start afd.user=root
every_proc_is root
afd_stop

# Not started as root: the key is ignored, even a user that does not exist.
afd_conf afd.user=no-such-user-afd
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$AFD_BIN" -t -f "$AFD_CONF" 2>&1) ||
	fail "afd -t as nobody with user = no-such-user-afd: $out"
assert_match 'configuration ok' "$out" "afd -t as nobody"
out=$("$AFD_BIN" -t -f "$AFD_CONF" 2>&1) && fail "afd -t as root accepts user = no-such-user-afd: $out"
assert_match "$AFD_CONF:[0-9]+: user: no user \"no-such-user-afd\"" "$out" "afd -t as root with a user that does not exist"
