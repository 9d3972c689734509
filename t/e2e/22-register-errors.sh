#!/bin/bash
# Registrar refusals: 423 with Min-Expires for a too-brief expiry; a stale
# CSeq on the same Call-ID leaves the binding as it was; more contacts than
# max_contacts are refused; a foreign domain gets 403; a To that is not the
# AOR's form gets 400.
. "$(dirname "$0")/lib.sh"

afd_start registrar.min_expires=60 registrar.max_contacts=3 registrar.max_expires=7200
AOR=sip:alice@$DOMAIN
nrows() { sql "SELECT count(*) FROM registrations"; }

# Too brief: 423 Interval Too Brief with Min-Expires.
for e in 'Expires: 10' ';expires=59'; do
	case "$e" in
	\;*) out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>$e" | sip) ;;
	*) out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "$e" | sip) ;;
	esac || fail "no answer"
	echo "$out"
	assert_eq 423 "$(status_of "$out")" "status for '$e'"
	assert_match '^Min-Expires: 60$' "$out" "Min-Expires for '$e'"
	assert_eq 0 "$(nrows)" "rows after a 423"
	assert_alive "423"
done
# Longer than max_expires: accepted, cut to max_expires.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 99999" | sip) || fail "no answer"
assert_eq 200 "$(status_of "$out")" "Expires above max_expires"
assert_match '^Contact: .*;expires=7200' "$out" "expiry cut to max_expires"
# No expiry at all: default_expires (3600).
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5064>" | sip) || fail "no answer"
assert_match '^Contact: .*<sip:alice@127.0.0.1:5064>;expires=3600' "$out" "default expiry"
sql "DELETE FROM registrations"

# Stale CSeq: same Call-ID, lower CSeq: refused, the row unchanged.
export CALLID=stale-call-1
out=$(CSEQ=5 req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 600" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER with CSeq 5"
before=$(sql "SELECT contact, expires_at, cseq, call_id FROM registrations")
out=$(CSEQ=3 req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 0" | sip -s) || fail "no answer"
echo "CSeq 3 after 5: $out"
assert_match '^SIP/2.0 [45][0-9][0-9] ' "$out" "removal with a lower CSeq on the same Call-ID"
assert_eq "$before" "$(sql "SELECT contact, expires_at, cseq, call_id FROM registrations")" "row after a stale CSeq"
out=$(CSEQ=5 req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 900" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 [45][0-9][0-9] ' "$out" "same CSeq on the same Call-ID (a retransmission)"
assert_eq "$before" "$(sql "SELECT contact, expires_at, cseq, call_id FROM registrations")" "row after an equal CSeq"
out=$(CSEQ=6 req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 900" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 200 ' "$out" "higher CSeq"
assert_eq 6 "$(sql "SELECT cseq FROM registrations")" "cseq after the higher CSeq"
# Another Call-ID may update it whatever its CSeq.
out=$(CALLID=other-call CSEQ=1 req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 800" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 200 ' "$out" "another Call-ID with CSeq 1"
assert_eq "other-call|1" "$(sql "SELECT call_id, cseq FROM registrations")" "row after another Call-ID"
unset CALLID
sql "DELETE FROM registrations"

# max_contacts (3): a 4th binding of the AOR is refused; the 3 stay.
for p in 1 2 3; do
	out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:507$p>" "Expires: 600" | sip -s) || fail "no answer"
	assert_match '^SIP/2.0 200 ' "$out" "binding $p of 3"
done
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5074>" "Expires: 600" | sip) || fail "no answer"
echo "$out"
assert_match '^SIP/2.0 (403|503|486|400|500) ' "$out" "a 4th binding over max_contacts"
assert_eq 3 "$(nrows)" "rows after the refused 4th binding"
# Refreshing one of the three is fine; so is five at once for another AOR: refused whole.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5071>" "Expires: 900" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 200 ' "$out" "refresh at max_contacts"
out=$(FROM_USER=dave req REGISTER "sip:$DOMAIN" "Contact: <sip:d@127.0.0.1:1>, <sip:d@127.0.0.1:2>, <sip:d@127.0.0.1:3>, <sip:d@127.0.0.1:4>" "Expires: 600" | sip -s) ||
	fail "no answer"
assert_match '^SIP/2.0 [45][0-9][0-9] ' "$out" "4 contacts at once over max_contacts"
assert_eq 0 "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:dave@$DOMAIN'")" "nothing bound of a refused REGISTER"
sql "DELETE FROM registrations"

# A foreign domain: 403, nothing stored.
out=$(TO_DOMAIN=example.com req REGISTER "sip:example.com" "Contact: <sip:alice@127.0.0.1:5061>" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 403 ' "$out" "REGISTER for example.com"
out=$(TO_DOMAIN=example.com req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 403 ' "$out" "REGISTER of an example.com AOR to our domain"
assert_eq 0 "$(nrows)" "rows after foreign domains"
# A To that is not a SIP URI.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" | sed 's/^To: .*/To: <mailto:alice@example.com>/' | sip -s) ||
	fail "no answer"
assert_match '^SIP/2.0 (400|403|404|416) ' "$out" "REGISTER with a mailto: To"
# A bad Contact.
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:>" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 400 ' "$out" "REGISTER with Contact <sip:>"
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>;expires=abc" | sip -s) || fail "no answer"
assert_match '^SIP/2.0 (400|200) ' "$out" "REGISTER with expires=abc"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
