#!/bin/bash
# The 200 to a REGISTER says which of the UE's Supported option tags afd
# supports (path, outbound), as in the RFC 5626 examples; a UE that names
# none gets no Supported.
. "$(dirname "$0")/lib.sh"

afd_start
INST='"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'

out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061;ob>;+sip.instance=$INST;reg-id=1" \
	"Supported: path, outbound, sec-agree, gruu" "Path: <sip:pcscf.example.net;lr;ob>" "Expires: 600" | sip) ||
	fail "no answer (outbound REGISTER)"
echo "$out"
assert_eq 200 "$(status_of "$out")" "outbound REGISTER"
assert_eq "path, outbound" "$(hdr Supported "$out")" "Supported of the 200 (UE: path, outbound, sec-agree, gruu)"
assert_eq "outbound" "$(hdr Require "$out")" "Require of the 200 (RFC 5626 6)"

out=$(FROM_USER=bob req REGISTER "sip:$DOMAIN" "Contact: <sip:bob@127.0.0.1:5062>" "Supported: path" | sip -t) ||
	fail "no answer (Supported: path)"
assert_eq "path" "$(hdr Supported "$out")" "Supported of the 200 (UE: path)"

out=$(FROM_USER=carol req REGISTER "sip:$DOMAIN" "Contact: <sip:carol@127.0.0.1:5063>" "Supported: timer, 100rel" | sip) ||
	fail "no answer (nothing afd supports)"
assert_eq 200 "$(status_of "$out")" "REGISTER with Supported: timer, 100rel"
assert_no_match '^Supported:' "$out" "Supported in the 200 when the UE names nothing afd supports"
out=$(FROM_USER=dave req REGISTER "sip:$DOMAIN" "Contact: <sip:dave@127.0.0.1:5064>" | sip) || fail "no answer (no Supported)"
assert_no_match '^Supported:' "$out" "Supported in the 200 when the UE sends none"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
