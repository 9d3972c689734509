#!/bin/bash
# The database is a user interface: a user holding a write lock for a while
# (sqlite3 in another terminal) must not crash afd. A REGISTER arriving
# meanwhile is answered 200 once the lock is gone, or 500 with Retry-After;
# never a 200 without its row. afd answers afterwards.
. "$(dirname "$0")/lib.sh"

afd_start
sqlite3 "$AFD_DB" ".timeout 5000" "BEGIN IMMEDIATE;" \
	"INSERT INTO subscribers (impi, impu) VALUES ('lock@x', 'sip:lock@x');" \
	".shell sleep 2" "COMMIT;" &
locker=$!
wait_for "[ \"\$(sql 'SELECT 1')\" = 1 ]" 2
sleep 0.3 # the lock is taken by now (the locker's first statement)
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 600" | sip -w $(( 10000 * SCALE ))) ||
	fail "no answer to a REGISTER while the database was locked"
echo "$out" | head -n 1
wait $locker
case "$(status_of "$out")" in
200) assert_eq 1 "$(sql "SELECT count(*) FROM registrations")" "row of the 200" ;;
500) assert_match '^Retry-After: ' "$out" "Retry-After in the 500"
     assert_eq 0 "$(sql "SELECT count(*) FROM registrations")" "rows after a 500" ;;
*) fail "REGISTER while locked: $(status_of "$out")" ;;
esac
assert_eq 1 "$(sql "SELECT count(*) FROM subscribers WHERE impi = 'lock@x'")" "the user's own change"
assert_alive "a locked database"
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5062>" "Expires: 600" | sip -s) || fail "no answer after the lock"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER after the lock"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
