#!/bin/bash
# The Request-URI of a REGISTER names the domain (RFC 3261 10.2, 10.3 step
# 1): a domain afd does not serve gets 403, a user part 400, a sips:
# Request-URI or AOR over plain UDP or TCP 416 (RFC 3261 26.2.2: afd has no
# TLS); nothing is stored for any of them.
. "$(dirname "$0")/lib.sh"

afd_start
CONTACT="Contact: <sip:bob@127.0.0.1:5070>"
rows() { sql "SELECT count(*) FROM registrations"; }

out=$(FROM_USER=bob req REGISTER "sip:evil.example.net" "$CONTACT" | sip) || fail "no answer (foreign domain)"
echo "$out" | head -n 1
assert_match '^SIP/2.0 403 Domain Not Served' "$out" "REGISTER sip:evil.example.net"
out=$(FROM_USER=bob req REGISTER "sip:bob@127.0.0.1" "$CONTACT" | sip) || fail "no answer (user part)"
echo "$out" | head -n 1
assert_match '^SIP/2.0 400 User Part in Request-URI' "$out" "REGISTER sip:bob@127.0.0.1"
out=$(FROM_USER=bob req REGISTER "sip:bob@$DOMAIN" "$CONTACT" | sip -t) || fail "no answer (user part, TCP)"
assert_eq 400 "$(status_of "$out")" "REGISTER sip:bob@DOMAIN over TCP"
assert_eq 0 "$(rows)" "rows after refused Request-URIs"

# sips: over plain transports.
out=$(FROM_USER=bob req REGISTER "sips:$DOMAIN" "$CONTACT" | sip) || fail "no answer (sips Request-URI)"
echo "$out" | head -n 1
assert_eq 416 "$(status_of "$out")" "sips: Request-URI over UDP"
out=$(FROM_USER=bob req REGISTER "sip:$DOMAIN" "$CONTACT" | sed "s|^To: <sip:|To: <sips:|" | sip -t) ||
	fail "no answer (sips To)"
assert_eq 416 "$(status_of "$out")" "sips: AOR in To over TCP"
out=$(FROM_USER=bob req REGISTER "tel:+15551234567" "$CONTACT" | sip) || fail "no answer (tel Request-URI)"
assert_eq 416 "$(status_of "$out")" "tel: Request-URI"
assert_eq 0 "$(rows)" "rows after refused schemes"

# What afd serves: its domain (any case, with a port) and its address.
out=$(FROM_USER=bob req REGISTER "sip:$(echo "$DOMAIN" | tr a-z A-Z):5060" "$CONTACT" | sip) || fail "no answer (domain)"
assert_eq 200 "$(status_of "$out")" "REGISTER sip:DOMAIN:5060 in upper case"
out=$(FROM_USER=carol req REGISTER "sip:127.0.0.1:$AFD_PORT" "Contact: <sip:carol@127.0.0.1:5071>" | sip) ||
	fail "no answer (listen address)"
assert_eq 200 "$(status_of "$out")" "REGISTER sip:127.0.0.1:PORT"
assert_eq 2 "$(rows)" "rows after the served Request-URIs"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
