#!/bin/bash
# RFC 5626 / 5627 bindings (+sip.instance, reg-id): a new contact URI of the
# same instance and reg-id replaces the binding; another reg-id is another
# binding. Path is stored, and echoed only to a UE that supports path
# (RFC 3327 5.3). User-Agent is stored.
. "$(dirname "$0")/lib.sh"

afd_start
INST='"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
rowsq() { sql "SELECT contact, reg_id FROM registrations WHERE aor = 'sip:alice@$DOMAIN' ORDER BY reg_id, contact" | tr '\n' ' '; }

out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061;transport=tcp>;+sip.instance=$INST;reg-id=1" \
	"Supported: path, outbound" "Expires: 600" "User-Agent: e2e-phone/1.0" | sip) || fail "no answer"
echo "$out"
assert_eq 200 "$(status_of "$out")" "REGISTER with an instance"
assert_match '^Contact: <sip:alice@127.0.0.1:5061;transport=tcp>.*\+sip\.instance=' "$out" "instance echoed in Contact"
assert_match '^Contact: .*reg-id=1' "$out" "reg-id echoed in Contact"
assert_match 'urn:uuid:00000000-0000-1000-8000-000A95A0E128' "$(sql "SELECT instance FROM registrations")" "instance column"
assert_eq 1 "$(sql "SELECT reg_id FROM registrations")" "reg_id column"
assert_eq "e2e-phone/1.0" "$(sql "SELECT user_agent FROM registrations")" "user_agent column"

# Same instance and reg-id, a new contact URI (the UE moved), another
# Call-ID: the binding is replaced, not added.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5099;transport=tcp>;+sip.instance=$INST;reg-id=1" \
	"Supported: path, outbound" "Expires: 600" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "REGISTER from a new address"
assert_eq "sip:alice@127.0.0.1:5099;transport=tcp|1 " "$(rowsq)" "bindings after the move"
assert_no_match '5061' "$(hdr Contact "$out")" "the old URI listed"

# Another reg-id of the same instance: a second flow, a second binding.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5062;transport=tcp>;+sip.instance=$INST;reg-id=2" \
	"Supported: path, outbound" "Expires: 600" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "REGISTER of reg-id 2"
assert_eq "sip:alice@127.0.0.1:5099;transport=tcp|1 sip:alice@127.0.0.1:5062;transport=tcp|2 " "$(rowsq)" "bindings of two flows"

# Path: stored always, echoed only with Supported: path.
out=$(FROM_USER=bob req REGISTER "sip:$DOMAIN" "Contact: <sip:bob@127.0.0.1:5071>" "Path: <sip:pcscf.example.net;lr>" \
	"Supported: path" "Expires: 600" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "REGISTER with Path and Supported: path"
assert_match '^Path: <sip:pcscf.example.net;lr>$' "$out" "Path echoed to a UE that supports path"
out=$(FROM_USER=carol req REGISTER "sip:$DOMAIN" "Contact: <sip:carol@127.0.0.1:5072>" "Path: <sip:pcscf.example.net;lr>" \
	"Expires: 600" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "REGISTER with Path, no path support"
assert_no_match '^Path:' "$out" "Path echoed to a UE that does not support path"
assert_eq "<sip:pcscf.example.net;lr>" "$(sql "SELECT path FROM registrations WHERE aor = 'sip:carol@$DOMAIN'")" "carol's stored path"
# Two Path values (two proxies): both stored, in order.
out=$(FROM_USER=dave req REGISTER "sip:$DOMAIN" "Contact: <sip:dave@127.0.0.1:5073>" "Path: <sip:p1.example.net;lr>" \
	"Path: <sip:p2.example.net;lr>" "Supported: path" "Expires: 600" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "REGISTER with two Paths"
assert_match 'p1\.example\.net.*p2\.example\.net' "$(sql "SELECT path FROM registrations WHERE aor = 'sip:dave@$DOMAIN'")" "dave's stored path"
assert_match 'p1\.example\.net.*p2\.example\.net' "$(hdr Path "$out" | tr '\n' ' ')" "both Paths echoed in order"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
