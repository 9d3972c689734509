#!/bin/bash
# The names a subscriber is found by follow whatever a tester's sqlite3
# session does to `subscribers` while afd runs ([auth] mode = auto): the
# user part of the impi as a Digest username; INSERT OR REPLACE with a new
# password and a new extra_impu; a second row with the same user part
# (refused as ambiguous) and its DELETE (found again); an UPDATE of the
# impi (the old user part is a stranger, the new one registers); a SIM's
# extra_impu finding its row for the challenge (an AKA 401, not the
# Digest one a stranger gets). subscriber_ids shows what it keeps.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authlib.sh"

K=465b5ce8b199b49faa5f0a2ee238a6bc
OPC=cd63cb71954a9f4e48a5994e37a02baf

afd_start auth.mode=auto

# register TO USERNAME PASSWORD CALLID: a challenge, then the answer;
# prints the final status line
register() {
	local out nonce
	out=$(CALLID=$4 reg_msg "$1" | sip -u) || fail "no answer"
	nonce=$(dparam nonce "$(challenge "$out")")
	out=$(CALLID=$4 CSEQ=2 reg_msg "$1" "$(digest_auth "$2" "$3" "$nonce")" | sip -u)
	printf '%s\n' "$out" | head -n 1
}

sql "INSERT INTO subscribers (impi, impu, password) VALUES
	('carol@$DOMAIN', 'sip:carol@$DOMAIN', 'pw1')"
assert_eq 3 "$(sql "SELECT count(*) FROM subscriber_ids WHERE impi = 'carol@$DOMAIN'")" "impi, impu, user part"

say "the user part as the username"
assert_eq "SIP/2.0 200 OK" "$(register carol carol pw1 n1)" "carol, pw1"

say "INSERT OR REPLACE: a new password and a second identity"
sql "INSERT OR REPLACE INTO subscribers (impi, impu, password, extra_impu) VALUES
	('carol@$DOMAIN', 'sip:carol@$DOMAIN', 'pw2', ' <sip:cc@$DOMAIN>')"
assert_eq "SIP/2.0 403 Forbidden" "$(register carol carol pw1 n2)" "the old password"
assert_eq "SIP/2.0 200 OK" "$(register carol carol pw2 n3)" "the new password"
assert_eq "SIP/2.0 200 OK" "$(register cc carol pw2 n4)" "the second identity"
assert_eq 1 "$(sql "SELECT count(*) FROM subscriber_ids WHERE id = 'sip:cc@$DOMAIN' AND kind = 3")" "extra_impu kept bare"

say "a second row with the same user part: ambiguous, then deleted"
sql "INSERT INTO subscribers (impi, impu, password) VALUES
	('carol@other.test', 'sip:carol@other.test', 'x')"
log_mark
assert_eq "SIP/2.0 403 Forbidden" "$(register carol carol pw2 n5)" "ambiguous user part"
log_since "user part 'carol' matches more than one impi" || fail "no log line naming the ambiguity"
assert_eq "SIP/2.0 200 OK" "$(register carol "carol@$DOMAIN" pw2 n6)" "the whole impi still works"
sql "DELETE FROM subscribers WHERE impi = 'carol@other.test'"
assert_eq 0 "$(sql "SELECT count(*) FROM subscriber_ids WHERE impi = 'carol@other.test'")" "its names gone"
assert_eq "SIP/2.0 200 OK" "$(register carol carol pw2 n7)" "the user part again"

say "UPDATE of the impi: the old user part is a stranger"
sql "UPDATE subscribers SET impi = 'caroline@$DOMAIN' WHERE impi = 'carol@$DOMAIN'"
assert_eq "SIP/2.0 403 Forbidden" "$(register carol carol pw2 n8)" "the old user part"
assert_eq "SIP/2.0 200 OK" "$(register carol caroline pw2 n9)" "the new user part"

say "a SIM found by its extra identity: an AKA challenge"
out=$(CALLID=n10 reg_msg stranger | sip -u)
assert_match 'algorithm=MD5' "$(challenge "$out")" "a stranger's challenge is Digest"
sql "INSERT INTO subscribers (impi, impu, extra_impu, k, opc) VALUES
	('sim@$DOMAIN', 'sip:sim@$DOMAIN', 'sip:stranger@$DOMAIN', '$K', '$OPC')"
out=$(CALLID=n11 reg_msg stranger | sip -u)
ch=$(challenge "$out")
assert_match 'algorithm=AKAv1-MD5' "$ch" "the SIM's challenge"
nonce=$(dparam nonce "$ch")
out=$(CALLID=n11 CSEQ=2 reg_msg stranger "$(aka_answer milenage $K $OPC "$nonce" "sim@$DOMAIN")" | sip -u)
assert_eq 200 "$(status_of "$out")" "the SIM registers its extra identity"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
