#!/bin/bash
# The database is a user interface: a user holding a write lock for a while
# (sqlite3 in another terminal) must not crash afd. A REGISTER arriving
# while the lock is held (checked: another connection cannot take it) is
# answered 500 with Retry-After, the locked path is logged, and no row is
# written; never a 200 without its row. afd answers afterwards.
. "$(dirname "$0")/lib.sh"

# locked: another connection cannot take the write lock now.
locked() {
	! sqlite3 "$AFD_DB" "PRAGMA busy_timeout = 0;" "BEGIN IMMEDIATE;" "ROLLBACK;" >/dev/null 2>&1
}

afd_start
log_mark
# the session waits for a write of afd's in progress, as a tester's
# sqlite3 with .timeout would (afd's own writes are a few ms)
(echo '.timeout 2000'
 echo 'BEGIN IMMEDIATE;'
 echo "INSERT INTO subscribers (impi, impu) VALUES ('lock@x', 'sip:lock@x');"
 sleep $(( 2 * SCALE ))
 echo 'COMMIT;') | sqlite3 "$AFD_DB" &
locker=$!
wait_for locked 2 || fail "the sqlite3 session did not take the write lock"
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 600" | sip) ||
	fail "no answer to a REGISTER while the database was locked"
locked || fail "the lock was gone before the answer (machine too slow?)"
echo "$out" | head -n 1
assert_eq 500 "$(status_of "$out")" "REGISTER while locked"
assert_match '^Retry-After: [0-9]+' "$out" "Retry-After in the 500"
wait_for "log_since 'locked by another connection'" 2 || fail "the locked path is not logged"
wait $locker || fail "the sqlite3 session failed"
assert_eq 0 "$(sql "SELECT count(*) FROM registrations")" "rows after a 500"
assert_eq 1 "$(sql "SELECT count(*) FROM subscribers WHERE impi = 'lock@x'")" "the user's own change"
assert_alive "a locked database"
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5062>" "Expires: 600" | sip -s) || fail "no answer after the lock"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER after the lock"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
