#!/bin/bash
# Authentication data: a database from before authentication (subscribers
# without op and algorithm, no auth tables) is upgraded in place at start:
# its subscriber kept, with algorithm 'milenage'; auth_vectors, auth_nonces
# and afd_keys made. And build/t/tools/akaue, the test UE that later scenarios
# answer challenges with, reproduces the published AKAv1-MD5 and Digest
# responses of ../shared/testdata/digest/digest_vectors.tsv.
. "$(dirname "$0")/lib.sh"

AKAUE=$AFD_TOOLS/akaue
[ -x "$AKAUE" ] || fail "no $AKAUE"

# The file of an afd from before authentication: today's schema without
# what authentication adds, marked version 1 (every later step runs; each
# adds only what is missing).
afd_start
version=$(sql 'PRAGMA user_version')
afd_stop
sqlite3 "$AFD_DB" <<SQL || fail "cannot make the old file"
DROP TABLE auth_vectors; DROP TABLE auth_nonces; DROP TABLE afd_keys;
DROP TABLE subscribers;
CREATE TABLE subscribers (impi TEXT PRIMARY KEY, impu TEXT NOT NULL,
	password TEXT, k TEXT, opc TEXT, amf TEXT DEFAULT '8000',
	sqn INTEGER NOT NULL DEFAULT 0, extra_impu TEXT);
INSERT INTO subscribers (impi, impu, k, opc, sqn) VALUES ('sim@$DOMAIN',
	'sip:sim@$DOMAIN', '465b5ce8b199b49faa5f0a2ee238a6bc',
	'cd63cb71954a9f4e48a5994e37a02baf', 64);
PRAGMA user_version = 1;
SQL
afd_start
assert_eq "$version" "$(sql 'PRAGMA user_version')" "user_version after the upgrade"
assert_eq "sip:sim@$DOMAIN|64|milenage|" \
	"$(sql "SELECT impu, sqn, algorithm, op FROM subscribers WHERE impi = 'sim@$DOMAIN'")" \
	"the old subscriber after the upgrade"
for t in auth_vectors auth_nonces afd_keys; do
	assert_eq 1 "$(sql "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '$t'")" "table $t"
done
# A row added by hand while afd runs takes the defaults.
sql "INSERT INTO subscribers (impi, impu, k) VALUES ('xor@$DOMAIN', 'sip:xor@$DOMAIN', '000102030405060708090a0b0c0d0e0f')"
assert_eq "milenage|8000|0" "$(sql "SELECT algorithm, amf, sqn FROM subscribers WHERE impi = 'xor@$DOMAIN'")" "defaults"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"

# The test UE against the published responses (columns by name).
tsv=$SHARED/testdata/digest/digest_vectors.tsv
[ -r "$tsv" ] || fail "no $tsv"
n=0
# (tabs become \037 first: read would merge the empty opaque column away)
while IFS=$'\037' read -r id src alg user realm pw enc method uri nonce nc cnonce qop opaque want rest; do
	case "$id" in rfc2617-3.5|rfc7616-3.9.1-md5)
		got=$("$AKAUE" -p "$pw" -u "$user" -r "$realm" -m "$method" -U "$uri" \
			-n "$nonce" -q "$qop" -N "$nc" -C "$cnonce") || fail "akaue failed on $id"
		assert_eq "response=$want" "$got" "akaue on $id"
		n=$((n + 1)) ;;
	aka-testalg-*)
		# K and RAND from the notes; the SIM is the XOR test USIM
		k=$(printf '%s' "$rest" | grep -o 'K=[0-9a-f]*' | head -1 | cut -d= -f2)
		got=$("$AKAUE" -a xor -k "$k" -n "$nonce" -u "$user" -r "$realm" -m "$method" \
			-U "$uri" -q "$qop" -N "$nc" -C "$cnonce") || fail "akaue failed on $id"
		assert_match "^res=$pw\$" "$got" "RES of $id"
		assert_match "^response=$want\$" "$got" "akaue on $id"
		n=$((n + 1)) ;;
	esac
done < <(tr '\t' '\037' <"$tsv")
assert_eq 4 "$n" "rows checked"
# A wrong K: AUTN's MAC fails, exit 3.
"$AKAUE" -a xor -k 0f0e0d0c0b0a09080706050403020100 -n 'AAAAAAAAAAAAAAAAAAAAAAMEBQYHCAAAAAECAwQFBgc=' >/dev/null
assert_eq 3 "$?" "akaue with a wrong K"
