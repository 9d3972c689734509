#!/bin/bash
# Bindings are durable: a restart of afd keeps them, and so does kill -9 of
# the UDP worker right after its 200 OK (answered only after the commit).
. "$(dirname "$0")/lib.sh"

afd_start
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 600" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER"
before=$(sql "SELECT aor, contact, expires_at, call_id, cseq FROM registrations")

afd_stop
assert_eq 0 "$AFD_RC" "exit status"
assert_eq "$before" "$(sql "SELECT aor, contact, expires_at, call_id, cseq FROM registrations")" "rows with afd stopped"
afd_start
assert_eq "$before" "$(sql "SELECT aor, contact, expires_at, call_id, cseq FROM registrations")" "rows after the restart"
out=$(req REGISTER "sip:$DOMAIN" | sip) || fail "no answer to the query"
assert_match '^Contact: <sip:alice@127.0.0.1:5061>;expires=(59[0-9]|600)' "$out" "binding listed after the restart"

# kill -9 of the UDP worker right after each 200: every answered binding
# is there. (The master backs off when a worker keeps dying young: the
# waits allow for that.)
for i in 1 2 3; do
	old=$(worker_pid udp)
	out=$(FROM_USER=k$i req REGISTER "sip:$DOMAIN" "Contact: <sip:k$i@127.0.0.1:50$i$i>" "Expires: 600" | sip -s) ||
		fail "no answer to REGISTER $i"
	kill -9 "$old"
	assert_match '^SIP/2.0 200 ' "$out" "REGISTER $i"
	wait_for "[ -n \"\$(worker_pid udp)\" ] && [ \"\$(worker_pid udp)\" != $old ] && afd_answers" 8 ||
		fail "no new UDP worker after kill $i"
	assert_eq 1 "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:k$i@$DOMAIN'")" "binding $i after kill -9"
	out=$(FROM_USER=k$i req REGISTER "sip:$DOMAIN" | sip) || fail "no answer to query $i"
	assert_match "^Contact: <sip:k$i@127.0.0.1:50$i$i>" "$out" "binding $i listed by the new worker"
done
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
