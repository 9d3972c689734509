#!/bin/bash
# sipsak's usrloc mode registers users and gets 200s; the rows are there.
. "$(dirname "$0")/lib.sh"
command -v sipsak >/dev/null || fail "sipsak is not installed (apt-get install sipsak)"

# sipsak writes the AOR as sip:user@HOST[:PORT] from the URI it is given
# (and cuts a 5-digit port to 4 digits in To), so this afd serves the domain
# 127.0.0.1 on a port below 10000.
AFD_PORT_LOW=2000
DOMAIN=127.0.0.1
afd_start afd.domain=127.0.0.1

# One user, sipsak's own contact (its address and port).
out=$(timeout $(( 20 * SCALE )) sipsak -U -vvv -x 600 -s "sip:alice@127.0.0.1:$AFD_PORT" 2>&1)
rc=$?
echo "$out"
assert_eq 0 "$rc" "sipsak -U exit status"
assert_match '^SIP/2.0 200 ' "$out" "sipsak sees 200"
sql "SELECT aor, contact, expires_at - strftime('%s','now') FROM registrations"
assert_eq 1 "$(sql "SELECT count(*) FROM registrations WHERE aor LIKE 'sip:alice@127.0.0.1%' AND contact LIKE 'sip:alice@127.0.0.1:%'")" \
	"sipsak's binding of alice"
e=$(sql "SELECT expires_at - strftime('%s','now') FROM registrations WHERE aor LIKE 'sip:alice@%'")
[ "$e" -ge 595 ] && [ "$e" -le 600 ] || fail "alice's binding expires in $e s, not 600"

# One user, plain: register with expires 600, check the row.
out=$(timeout $(( 20 * SCALE )) sipsak -U -vvv -C "sip:plain@127.0.0.1:5999" -x 600 -s "sip:plain@127.0.0.1:$AFD_PORT" 2>&1)
rc=$?
echo "$out"
assert_eq 0 "$rc" "sipsak -U -C exit status"
assert_eq 1 "$(sql "SELECT count(*) FROM registrations WHERE aor LIKE 'sip:plain@127.0.0.1%' AND contact = 'sip:plain@127.0.0.1:5999'")" \
	"sipsak's binding of plain"
# Both bindings are listed to a query.
out=$(FROM_USER=alice req REGISTER "sip:127.0.0.1" | sip) || fail "no answer to the query"
assert_match '^Contact: <sip:alice@127.0.0.1:[0-9]+>;expires=' "$out" "alice listed"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
