#!/bin/bash
# sipsak -a PASSWORD -u USER registers with Digest ([auth] mode = digest): it answers the
# 401 with the password and gets 200, the binding records the IMPI; with a
# wrong password sipsak sees 403 and nothing is stored. (Without -u,
# sipsak 0.9 answers as username "carol@", which is no one's.)
. "$(dirname "$0")/lib.sh"

command -v sipsak >/dev/null || fail "sipsak is not installed (sh mk/deps.sh test)"
afd_start auth.mode=digest
sql "INSERT INTO subscribers (impi, impu, password) VALUES ('carol@$DOMAIN', 'sip:carol@$DOMAIN', 'c4r0l')"

out=$(timeout $(( 20 * SCALE )) sipsak -U -vvv -x 600 -a wr0ng -u carol -s "sip:carol@127.0.0.1:$AFD_PORT" 2>&1)
echo "$out" | grep '^SIP/2.0'
assert_match '^SIP/2.0 401 ' "$out" "sipsak challenged"
assert_match '^SIP/2.0 403 ' "$out" "sipsak with a wrong password: 403"
assert_eq 0 "$(sql 'SELECT count(*) FROM registrations')" "nothing stored"

out=$(timeout $(( 20 * SCALE )) sipsak -U -vvv -x 600 -a c4r0l -u carol -s "sip:carol@127.0.0.1:$AFD_PORT" 2>&1)
rc=$?
echo "$out" | grep '^SIP/2.0'
assert_eq 0 "$rc" "sipsak -U -a exit status"
assert_match '^SIP/2.0 401 ' "$out" "sipsak challenged"
assert_match '^SIP/2.0 200 ' "$out" "sipsak registered with the password"
assert_eq "carol@$DOMAIN" "$(sql "SELECT DISTINCT impi FROM registrations WHERE aor = 'sip:carol@$DOMAIN'")" "the binding's impi"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
