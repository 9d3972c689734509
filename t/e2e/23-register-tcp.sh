#!/bin/bash
# A REGISTER over TCP: the row says transport tcp, with the connection's
# worker slot and id, and the source address.
. "$(dirname "$0")/lib.sh"

afd_start
AOR=sip:alice@$DOMAIN
req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061;transport=tcp>" "Expires: 600" >"$TMP/reg.sip"
tcp_session a
out=$(tcp_send a "$TMP/reg.sip")
echo "$out"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER over TCP"
lport=$SESSION_LPORT_a
row=$(sql "SELECT transport, received, conn_slot, conn_id FROM registrations WHERE aor = '$AOR'")
echo "row: $row"
assert_eq tcp "$(sql "SELECT transport FROM registrations WHERE aor = '$AOR'")" "transport"
assert_eq "127.0.0.1:$lport" "$(sql "SELECT received FROM registrations WHERE aor = '$AOR'")" "received"
slot=$(sql "SELECT conn_slot FROM registrations WHERE aor = '$AOR'")
assert_match '^t[0-9]+$' "$slot" "conn_slot"
assert_match '^[0-9]+$' "$(sql "SELECT conn_id FROM registrations WHERE aor = '$AOR'")" "conn_id"
# The slot is the worker that serves our connection.
pid=$(worker_pid "$slot")
assert_match "\\[127\\.0\\.0\\.1:$lport\\]" "$(ps_afd | awk -v p="$pid" '$1 == p')" "title of the worker of $slot"

# The full response over TCP has the same shape as over UDP.
sed 's/^/  /' "$TMP/a.out" | tail -n 3
# A query over UDP sees the TCP binding.
out=$(req REGISTER "sip:$DOMAIN" | sip) || fail "no answer to a query over UDP"
assert_match '^Contact: <sip:alice@127.0.0.1:5061;transport=tcp>' "$out" "TCP binding listed over UDP"

# A second REGISTER over a second connection: its own conn fields.
FROM_USER=bob req REGISTER "sip:$DOMAIN" "Contact: <sip:bob@127.0.0.1:5062;transport=tcp>" "Expires: 600" >"$TMP/reg2.sip"
tcp_session b
assert_match '^SIP/2.0 200 ' "$(tcp_send b "$TMP/reg2.sip")" "REGISTER over a second connection"
assert_eq "127.0.0.1:$SESSION_LPORT_b" "$(sql "SELECT received FROM registrations WHERE aor = 'sip:bob@$DOMAIN'")" "bob's received"
[ "$(sql "SELECT conn_id FROM registrations WHERE aor = 'sip:bob@$DOMAIN'")" != \
  "$(sql "SELECT conn_id FROM registrations WHERE aor = '$AOR'")" ] || fail "two connections with one conn_id"
tcp_close a
tcp_close b
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
