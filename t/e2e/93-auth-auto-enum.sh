#!/bin/bash
# [auth] mode = auto: a SIM phone (a row with k) and a softphone (a row
# with only a password) register side by side, each with its own kind of
# challenge. An unknown user's 401 is, header by header, the same as a
# known user's of the same kind (only the random values differ, not their
# lengths), and its answer gets the same 403 as a wrong one: no
# enumeration. Repeated failures: after 10 in a minute from one address its
# REGISTERs get 403 with Retry-After, logged once; OPTIONS still answered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authlib.sh"

K=465b5ce8b199b49faa5f0a2ee238a6bc
OPC=cd63cb71954a9f4e48a5994e37a02baf
afd_start auth.mode=auto
sql "INSERT INTO subscribers (impi, impu, k, opc) VALUES ('sim@$DOMAIN', 'sip:sim@$DOMAIN', '$K', '$OPC');
	INSERT INTO subscribers (impi, impu, password) VALUES ('soft@$DOMAIN', 'sip:soft@$DOMAIN', 'pw1')"

# shape OUTPUT: the answer with what is random in it made comparable:
# the To tag, the branch and the port dropped, nonce and opaque values
# replaced by their lengths, the user names by U.
shape() {
	printf '%s\n' "$1" | sed -e 's/;tag=[^;]*$/;tag=T/' -e 's/branch=[^;]*/branch=B/' \
		-e 's/rport=[0-9]*/rport=P/' -e 's/:[0-9][0-9]*;/:P;/' \
		-e 's/\(sip:\)[a-z]*@/\1U@/g' -e 's/username="[^"@]*/username="U/' |
		awk '{ while (match($0, /(nonce|opaque)="[^"]*"/)) {
			v = substr($0, RSTART, RLENGTH); n = index(v, "=");
			$0 = substr($0, 1, RSTART - 1) substr(v, 1, n) "len" (RLENGTH - n - 2) substr($0, RSTART + RLENGTH) }
			print }'
}

say "the SIM phone: AKA"
out=$(CALLID=e1 reg_msg sim "$(aka_first "sim@$DOMAIN")" "Supported: sec-agree" | sip -u)
known_aka=$out
nonce=$(dparam nonce "$(challenge "$out")")
assert_match 'algorithm=AKAv1-MD5' "$(challenge "$out")" "AKA for the row with k"
out=$(CALLID=e1 CSEQ=2 reg_msg sim "$(aka_answer milenage $K $OPC "$nonce" "sim@$DOMAIN")" | sip -u)
assert_eq 200 "$(status_of "$out")" "SIM phone registered"

say "the softphone: Digest"
out=$(CALLID=e2 reg_msg soft | sip -u)
known_md5=$out
nonce=$(dparam nonce "$(challenge "$out")")
assert_match 'algorithm=MD5' "$(challenge "$out")" "Digest for the row with a password"
out=$(CALLID=e2 CSEQ=2 reg_msg soft "$(digest_auth soft pw1 "$nonce")" | sip -u)
assert_eq 200 "$(status_of "$out")" "softphone registered"

say "an unknown IMS user's challenge looks like a known one's"
out=$(CALLID=e1 reg_msg nobody "$(aka_first "nobody@$DOMAIN")" "Supported: sec-agree" | sip -u)
echo "$out"
assert_eq "$(shape "$known_aka")" "$(shape "$out")" "unknown AKA user's 401, header by header"
nonce=$(dparam nonce "$(challenge "$out")")
auth=$(printf 'Authorization: Digest username="nobody@%s", realm="%s", nonce="%s", uri="sip:%s", response="0123456789abcdef0123456789abcdef", algorithm=AKAv1-MD5, qop=auth, nc=00000001, cnonce="c"' "$DOMAIN" "$REALM" "$nonce" "$DOMAIN")
out=$(CALLID=e1 CSEQ=2 reg_msg nobody "$auth" | sip -u)
unknown_403=$(printf '%s\n' "$out" | head -n 1)
out=$(CALLID=e3 reg_msg sim "$(aka_first "sim@$DOMAIN")" | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
auth=$(printf 'Authorization: Digest username="sim@%s", realm="%s", nonce="%s", uri="sip:%s", response="0123456789abcdef0123456789abcdef", algorithm=AKAv1-MD5, qop=auth, nc=00000001, cnonce="c"' "$DOMAIN" "$REALM" "$nonce" "$DOMAIN")
out=$(CALLID=e3 CSEQ=2 reg_msg sim "$auth" | sip -u)
assert_eq "$(printf '%s\n' "$out" | head -n 1)" "$unknown_403" "the unknown user's answer: the same 403 as a wrong RES"

say "an unknown softphone user's challenge looks like a known one's"
out=$(CALLID=e2 reg_msg nobody | sip -u)
echo "$out"
assert_eq "$(shape "$known_md5")" "$(shape "$out")" "unknown Digest user's 401, header by header"
nonce=$(dparam nonce "$(challenge "$out")")
out=$(CALLID=e2 CSEQ=2 reg_msg nobody "$(digest_auth nobody pw1 "$nonce")" | sip -u)
assert_eq "SIP/2.0 403 Forbidden" "$(printf '%s\n' "$out" | head -n 1)" "the unknown softphone's answer"

say "repeated failures are throttled"
n=3 blocked= # the three 403s above
for i in $(seq 1 12); do
	out=$(CALLID=t$i reg_msg soft | sip -u)
	nonce=$(dparam nonce "$(hdr WWW-Authenticate "$out")")
	[ -n "$nonce" ] || { blocked=$out; break; }
	out=$(CALLID=t$i CSEQ=2 reg_msg soft "$(digest_auth soft wrong "$nonce")" | sip -u)
	st=$(printf '%s\n' "$out" | head -n 1)
	case "$st" in
	"SIP/2.0 403 Forbidden") n=$((n + 1)) ;;
	*) blocked=$out; break ;;
	esac
done
echo "$blocked"
assert_eq "SIP/2.0 403 Too Many Failed Authentications" "$(printf '%s\n' "$blocked" | head -n 1)" "blocked"
assert_match '^Retry-After: (60|59)$' "$blocked" "Retry-After"
assert_eq 10 "$n" "failures before the block"
# the right password does not help while blocked, and is not logged again
out=$(CALLID=t99 reg_msg soft | sip -u)
assert_eq "SIP/2.0 403 Too Many Failed Authentications" "$(printf '%s\n' "$out" | head -n 1)" "still blocked"
assert_eq 1 "$(grep -c 'failed authentications from 127.0.0.1' "$AFD_LOG")" "one log line for the episode"
assert_alive "the block"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
