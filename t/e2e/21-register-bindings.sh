#!/bin/bash
# Registration is additive; a REGISTER without Contact lists the bindings;
# expires=0 removes one; "Contact: *" with "Expires: 0" removes all; "*"
# with another expiry is a 400.
. "$(dirname "$0")/lib.sh"

afd_start
AOR=sip:alice@$DOMAIN
C1=sip:alice@127.0.0.1:5061
C2=sip:alice@127.0.0.1:5062

rows() { sql "SELECT contact FROM registrations WHERE aor = '$AOR' ORDER BY contact" | tr '\n' ' '; }
# contacts OUTPUT: the bound URIs listed in a 200 (one per line, sorted).
contacts() {
	hdr Contact "$1" | sed 's/>[ ]*,[ ]*</>\n</g' | sed -n 's/^[^<]*<\([^>]*\)>.*/\1/p' | sort | tr '\n' ' '
}
expires_of() { # OUTPUT URI: the expires param of URI's Contact value
	hdr Contact "$1" | sed 's/>[ ]*,[ ]*</>\n</g' | grep -F "<$2>" | sed -n 's/.*;expires=\([0-9]*\).*/\1/p'
}

out=$(req REGISTER "sip:$DOMAIN" "Contact: <$C1>" "Expires: 600" | sip) || fail "no answer"
echo "$out"
assert_eq 200 "$(status_of "$out")" "first REGISTER"
assert_eq "$C1 " "$(contacts "$out")" "contacts after the first REGISTER"
e=$(expires_of "$out" "$C1")
[ -n "$e" ] && [ "$e" -ge 598 ] && [ "$e" -le 600 ] || fail "expires of $C1: '$e'"
assert_eq "$C1 " "$(rows)" "rows after the first REGISTER"

# A second contact, another Call-ID: added, both listed.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <$C2>;expires=300" | sip) || fail "no answer"
echo "$out"
assert_eq 200 "$(status_of "$out")" "second REGISTER"
assert_eq "$C1 $C2 " "$(contacts "$out")" "contacts after the second REGISTER"
e=$(expires_of "$out" "$C2")
[ -n "$e" ] && [ "$e" -ge 298 ] && [ "$e" -le 300 ] || fail "expires of $C2: '$e'"
assert_eq "$C1 $C2 " "$(rows)" "rows after the second REGISTER"

# Two contacts in one REGISTER (one header with a comma, and a second header).
out=$(FROM_USER=bob req REGISTER "sip:$DOMAIN" "Contact: <sip:bob@127.0.0.1:5071>, <sip:bob@127.0.0.1:5072>;q=0.5" \
	"Contact: <sip:bob@127.0.0.1:5073>" "Expires: 120" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "REGISTER with three contacts"
assert_eq "sip:bob@127.0.0.1:5071 sip:bob@127.0.0.1:5072 sip:bob@127.0.0.1:5073 " "$(contacts "$out")" "bob's contacts"
assert_eq 3 "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:bob@$DOMAIN'")" "bob's rows"
assert_eq 0.5 "$(sql "SELECT q FROM registrations WHERE contact = 'sip:bob@127.0.0.1:5072'")" "q kept"

# Query: no Contact; the bindings are listed and unchanged.
before=$(sql "SELECT contact, expires_at, cseq, call_id FROM registrations WHERE aor = '$AOR' ORDER BY contact")
out=$(req REGISTER "sip:$DOMAIN" | sip) || fail "no answer"
echo "$out"
assert_eq 200 "$(status_of "$out")" "query"
assert_eq "$C1 $C2 " "$(contacts "$out")" "contacts listed by the query"
assert_eq "$before" "$(sql "SELECT contact, expires_at, cseq, call_id FROM registrations WHERE aor = '$AOR' ORDER BY contact")" "rows after the query"
# Another AOR's query lists only its own.
out=$(FROM_USER=carol req REGISTER "sip:$DOMAIN" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "query of an AOR without bindings"
assert_eq "" "$(contacts "$out")" "contacts of an AOR without bindings"

# Removal of one: expires=0 on it.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <$C1>;expires=0" | sip) || fail "no answer"
echo "$out"
assert_eq 200 "$(status_of "$out")" "removal"
assert_eq "$C2 " "$(contacts "$out")" "contacts after removing $C1"
assert_eq "$C2 " "$(rows)" "rows after removing $C1"
# Removal with Expires: 0 as a header.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <$C2>" "Expires: 0" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "removal by Expires: 0"
assert_eq "" "$(rows)" "rows after removing $C2"
# Removing a binding that does not exist is fine.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5069>;expires=0" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 200 ' "$out" "removal of an unknown binding"

# Wildcard: "*" with a non-zero Expires is a 400, nothing removed.
req REGISTER "sip:$DOMAIN" "Contact: <$C1>" "Expires: 600" | sip -s >/dev/null
req REGISTER "sip:$DOMAIN" "Contact: <$C2>" "Expires: 600" | sip -s >/dev/null
assert_eq "$C1 $C2 " "$(rows)" "rows before the wildcard"
out=$(req REGISTER "sip:$DOMAIN" "Contact: *" "Expires: 60" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 400 ' "$out" "Contact: * with Expires: 60"
out=$(req REGISTER "sip:$DOMAIN" "Contact: *" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 400 ' "$out" "Contact: * without Expires"
out=$(req REGISTER "sip:$DOMAIN" "Contact: *, <$C1>" "Expires: 0" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 400 ' "$out" "Contact: * with another contact"
assert_eq "$C1 $C2 " "$(rows)" "rows after the bad wildcards"
# "*" with Expires: 0: all of alice's bindings go, bob's stay.
out=$(req REGISTER "sip:$DOMAIN" "Contact: *" "Expires: 0" | sip) || fail "no answer"
echo "$out"
assert_eq 200 "$(status_of "$out")" "wildcard removal"
assert_eq "" "$(contacts "$out")" "contacts after the wildcard"
assert_eq "" "$(rows)" "alice's rows after the wildcard"
assert_eq 3 "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:bob@$DOMAIN'")" "bob's rows after alice's wildcard"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
