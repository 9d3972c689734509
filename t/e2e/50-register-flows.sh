#!/bin/bash
# RFC 5626 flows (sections 6, 7; the messages 9 and 13 of 9.2 and the
# re-registration of 9.4): bindings with +sip.instance are identified by
# (AOR, instance, reg-id), not by the contact URI. Two flows of one phone
# with one contact URI, over two TCP connections with two Call-IDs, are two
# bindings, both listed in every 200, each with its own connection; a new
# connection for flow 1 replaces flow 1 only; another instance at the same
# URI is a binding of its own.
. "$(dirname "$0")/lib.sh"

afd_start
AOR=sip:alice@$DOMAIN
INST='"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"'
INST2='"<urn:uuid:00000000-0000-1000-8000-112233445566>"'
URI='sip:alice@127.0.0.1:5061;transport=tcp;ob'
flows() { sql "SELECT reg_id, received, conn_id FROM registrations WHERE aor = '$AOR' AND instance LIKE '%AABBCCDDEEFF%' ORDER BY reg_id" | tr '\n' ' '; }

# Message 9: flow 1 over connection A (kept open, as a phone does).
CALLID=flow1-callid CSEQ=1 req REGISTER "sip:$DOMAIN" "Contact: <$URI>;+sip.instance=$INST;reg-id=1" \
	"Supported: path, outbound" "Expires: 600" >"$TMP/f1.sip"
tcp_session a
assert_match '^SIP/2.0 200 ' "$(tcp_send a "$TMP/f1.sip")" "REGISTER of flow 1"
assert_eq "1|127.0.0.1:$SESSION_LPORT_a" "$(sql "SELECT reg_id, received FROM registrations WHERE aor = '$AOR'")" "flow 1 row"
conn_a=$(sql "SELECT conn_id FROM registrations WHERE aor = '$AOR' AND reg_id = 1")

# Message 13: flow 2, the same contact URI, another Call-ID and connection.
out=$(CALLID=flow2-callid CSEQ=1 req REGISTER "sip:$DOMAIN" "Contact: <$URI>;+sip.instance=$INST;reg-id=2" \
	"Supported: path, outbound" "Expires: 600" | sip -t) || fail "no answer to the REGISTER of flow 2"
echo "$out"
assert_eq 200 "$(status_of "$out")" "REGISTER of flow 2"
assert_eq 2 "$(hdr Contact "$out" | grep -c 'reg-id=')" "bindings listed in the 200 of flow 2"
assert_match '^Contact: <sip:alice@127.0.0.1:5061;transport=tcp;ob>.*reg-id=1' "$out" "flow 1 listed in the 200 of flow 2"
assert_match '^Contact: <sip:alice@127.0.0.1:5061;transport=tcp;ob>.*reg-id=2' "$out" "flow 2 listed in the 200 of flow 2"
assert_eq 2 "$(sql "SELECT count(*) FROM registrations WHERE aor = '$AOR'")" "rows after flow 2"
f2=$(sql "SELECT received || ' ' || conn_id FROM registrations WHERE aor = '$AOR' AND reg_id = 2")
say "flows: $(flows)"
assert_eq "127.0.0.1:$SESSION_LPORT_a $conn_a" \
	"$(sql "SELECT received || ' ' || conn_id FROM registrations WHERE aor = '$AOR' AND reg_id = 1")" \
	"flow 1 keeps its connection after flow 2"
[ "$f2" != "127.0.0.1:$SESSION_LPORT_a $conn_a" ] || fail "flow 2 recorded flow 1's connection"
assert_match '^tcp$' "$(sql "SELECT DISTINCT transport FROM registrations WHERE aor = '$AOR'")" "transport of both flows"

# 9.4: flow 1 fails, the phone registers reg-id 1 again over a new
# connection: flow 1 moves, flow 2 stays as it was.
CALLID=flow1-callid CSEQ=2 req REGISTER "sip:$DOMAIN" "Contact: <$URI>;+sip.instance=$INST;reg-id=1" \
	"Supported: path, outbound" "Expires: 600" >"$TMP/f1b.sip"
tcp_session c
out=$(tcp_send c "$TMP/f1b.sip")
assert_match '^SIP/2.0 200 ' "$out" "REGISTER of flow 1 on a new connection"
say "flows: $(flows)"
assert_eq 2 "$(sql "SELECT count(*) FROM registrations WHERE aor = '$AOR'")" "rows after flow 1 moved"
assert_eq "127.0.0.1:$SESSION_LPORT_c" "$(sql "SELECT received FROM registrations WHERE aor = '$AOR' AND reg_id = 1")" "flow 1's new connection"
[ "$(sql "SELECT conn_id FROM registrations WHERE aor = '$AOR' AND reg_id = 1")" != "$conn_a" ] || fail "flow 1 kept its old conn_id"
assert_eq "$f2" "$(sql "SELECT received || ' ' || conn_id FROM registrations WHERE aor = '$AOR' AND reg_id = 2")" "flow 2 untouched by flow 1's move"

# Another phone (instance) that happens to use the same contact URI, over
# UDP: a third binding; the first phone's flows stay.
out=$(CALLID=other-phone req REGISTER "sip:$DOMAIN" "Contact: <$URI>;+sip.instance=$INST2;reg-id=1" \
	"Supported: path, outbound" "Expires: 600" | sip) || fail "no answer to the other instance"
assert_eq 200 "$(status_of "$out")" "REGISTER of another instance at the same URI"
assert_eq 3 "$(hdr Contact "$out" | grep -c 'reg-id=')" "bindings listed for two instances"
assert_eq 3 "$(sql "SELECT count(*) FROM registrations WHERE aor = '$AOR'")" "rows with two instances"
assert_eq 2 "$(sql "SELECT count(*) FROM registrations WHERE aor = '$AOR' AND instance LIKE '%AABBCCDDEEFF%'")" "the first phone's flows"

# A query lists all three; unregistering flow 2 removes flow 2 only.
out=$(req REGISTER "sip:$DOMAIN" | sip) || fail "no answer to a query"
assert_eq 3 "$(hdr Contact "$out" | wc -l)" "bindings listed by a query"
out=$(CALLID=flow2-callid CSEQ=2 req REGISTER "sip:$DOMAIN" "Contact: <$URI>;+sip.instance=$INST;reg-id=2;expires=0" \
	"Supported: path, outbound" | sip) || fail "no answer to the unregistration of flow 2"
assert_eq 200 "$(status_of "$out")" "unregistering flow 2"
assert_eq "1|$INST2 1|$INST " "$(sql "SELECT reg_id, '\"' || instance || '\"' FROM registrations WHERE aor = '$AOR' ORDER BY instance" | tr '\n' ' ')" "bindings after flow 2 left"

tcp_close a
tcp_close c
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
