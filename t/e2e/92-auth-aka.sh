#!/bin/bash
# IMS AKA ([auth] mode = aka) with the captured registration (seeds/000):
# its first REGISTER (empty nonce and response) gets 401 with an
# AKAv1-MD5 challenge whose nonce is base64 of RAND || AUTN; the second,
# answering with RES computed here from the subscriber's Milenage keys
# (TS 35.208 test set 1), registers (200, impi and integrity-protected on
# the binding, sec-agree not refused). Then: AKAv2-MD5 with an XOR test
# SIM; a wrong RES is 403; an auts resynchronises the SQN (the next AUTN
# carries SEQ_MS + 1); the UDP worker killed (kill -9) between the
# challenge and the answer; the SQN never reused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authlib.sh"

seed=$SHARED/seeds/000_f864e9431b5cb5d9.txt
[ -f "$seed" ] || fail "no $seed"
K=465b5ce8b199b49faa5f0a2ee238a6bc
OPC=cd63cb71954a9f4e48a5994e37a02baf
IMPI=8613911000057@$DOMAIN
AOR=sip:460003911000057@$DOMAIN

afd_start auth.mode=aka
sql "INSERT INTO subscribers (impi, impu, k, opc, sqn) VALUES
	('$IMPI', '$AOR', '$K', '${OPC^^}', 64)"

# Message N of the capture, moved to loopback and the test domain (as in
# 20-register-capture.sh), with its Authorization line replaced by $2
# unless empty.
capture_msg() {
	awk -v n="$1" '$0 ~ "^## " n "\\.register" { on = 1; next } on && /^$/ { exit } on' "$seed" |
		sed -e 's/172\.16\.106\.81:6070/127.0.0.1:$LPORT/g' \
		    -e 's/sip:proxy@172\.16\.106\.94:5060/sip:proxy@127.0.0.1:$PORT/' \
		    -e 's/172\.16\.106\.9[0-9]/127.0.0.1/g' \
		    -e "s/ims\.mnc000\.mcc000\.3gppnetwork\.org/$DOMAIN/g" |
		if [ -n "${2:-}" ]; then
			awk -v a="$2" '/^Authorization:/ { print a; next } { print }'
		else
			cat
		fi
	printf '\n'
}

say "the capture's first REGISTER: 401 AKAv1-MD5"
capture_msg 2 >"$TMP/r1.sip"
grep -q '^Authorization: .*nonce="",' "$TMP/r1.sip" || fail "test bug: message 2"
out=$(sip "$TMP/r1.sip") || fail "no answer to message 2"
echo "$out"
ch=$(challenge "$out")
assert_match '^Digest realm="'"$REALM"'", nonce="[A-Za-z0-9+/=]+", qop="auth", algorithm=AKAv1-MD5, opaque="[0-9a-f]+"$' "$ch" "AKA challenge"
nonce=$(dparam nonce "$ch")
assert_eq 1 "$(sql "SELECT count(*) FROM auth_vectors WHERE nonce = '$nonce' AND impi = '$IMPI'")" "vector kept"
assert_eq 97 "$(sql "SELECT sqn FROM subscribers WHERE impi = '$IMPI'")" "SQN advanced (SEQ 2 -> 3, IND 0 -> 1)"

say "the answer with RES from the SIM: 200"
auth=$(aka_answer milenage $K $OPC "$nonce" "$IMPI") || fail "akaue failed"
sqn=$("$AKAUE" -k $K -c $OPC -n "$nonce" | sed -n 's/^sqn=//p')
assert_eq 97 "$sqn" "SQN in AUTN"
capture_msg 4 "$auth" >"$TMP/r2.sip"
out=$(sip "$TMP/r2.sip") || fail "no answer to message 4"
echo "$out"
assert_eq 200 "$(status_of "$out")" "AKAv1 registration"
assert_match "^P-Associated-URI: <$AOR>" "$out" "P-Associated-URI"
assert_eq "$IMPI|no" "$(sql "SELECT impi, integrity FROM registrations WHERE aor = '$AOR'")" "impi and integrity-protected stored"
assert_eq 1 "$(sql "SELECT used FROM auth_vectors WHERE nonce = '$nonce'")" "vector used"

say "the same answer again (replayed nc): a fresh 401"
out=$(sip "$TMP/r2.sip")
assert_eq 401 "$(status_of "$out")" "replay"

say "a wrong RES: 403, the vector dropped"
out=$(CALLID=a1 reg_msg 460003911000057 "$(aka_first "$IMPI")" | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
auth=$(aka_answer milenage $K $OPC "$nonce" "$IMPI" | sed 's/response="[0-9a-f]*"/response="00000000000000000000000000000000"/')
out=$(CALLID=a1 CSEQ=2 reg_msg 460003911000057 "$auth" | sip -u)
assert_eq 403 "$(status_of "$out")" "wrong RES"
assert_eq 0 "$(sql "SELECT count(*) FROM auth_vectors WHERE nonce = '$nonce'")" "vector dropped"

say "auts: the SQN resynchronised"
out=$(CALLID=a2 reg_msg 460003911000057 "$(aka_first "$IMPI")" | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
sqn_ms=$(( (500 << 5) | 7 ))
auts=$("$AKAUE" -k $K -c $OPC -n "$nonce" -S $sqn_ms | sed -n 's/^auts=//p')
[ -n "$auts" ] || fail "akaue gave no auts"
out=$(CALLID=a2 CSEQ=2 reg_msg 460003911000057 "Authorization: Digest username=\"$IMPI\", realm=\"$REALM\", nonce=\"$nonce\", uri=\"sip:$DOMAIN\", response=\"\", algorithm=AKAv1-MD5, auts=\"$auts\"" | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
sqn=$("$AKAUE" -k $K -c $OPC -n "$nonce" | sed -n 's/^sqn=//p')
assert_eq $(( (501 << 5) | 8 )) "$sqn" "SQN after the resync (SEQ_MS + 1, next IND)"
log_has "SQN resynchronised \(SEQ_MS 500, IND 7\)" || fail "no log line for the resync"
out=$(CALLID=a2 CSEQ=3 reg_msg 460003911000057 "$(aka_answer milenage $K $OPC "$nonce" "$IMPI")" | sip -u)
assert_eq 200 "$(status_of "$out")" "after the resync"

say "an auts whose MAC-S is wrong: 403"
out=$(CALLID=a3 reg_msg 460003911000057 "$(aka_first "$IMPI")" | sip -u)
old_nonce=$nonce
nonce=$(dparam nonce "$(challenge "$out")")
# an AUTS made for another challenge's RAND: its MAC-S does not match
auts=$("$AKAUE" -k $K -c $OPC -n "$old_nonce" -S 9999 | sed -n 's/^auts=//p')
[ -n "$auts" ] || fail "akaue gave no auts"
out=$(CALLID=a3 CSEQ=2 reg_msg 460003911000057 "Authorization: Digest username=\"$IMPI\", realm=\"$REALM\", nonce=\"$nonce\", uri=\"sip:$DOMAIN\", response=\"\", algorithm=AKAv1-MD5, auts=\"$auts\"" | sip -u)
assert_eq 403 "$(status_of "$out")" "auts with a bad MAC-S"

say "AKAv2-MD5 with the XOR test SIM, sec-agree required"
XK=000102030405060708090a0b0c0d0e0f
sql "INSERT INTO subscribers (impi, impu, k, algorithm) VALUES ('xor@$DOMAIN', 'sip:xor@$DOMAIN', '$XK', 'XOR')"
SC='Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1111;spi-s=2222;port-c=5062;port-s=5064'
out=$(CALLID=a4 reg_msg xor "$(aka_first "xor@$DOMAIN" 1)" "Require: sec-agree" "Proxy-Require: sec-agree" "$SC" | sip -u)
ch=$(challenge "$out")
assert_match 'algorithm=AKAv2-MD5' "$ch" "AKAv2 challenge"
nonce=$(dparam nonce "$ch")
out=$(CALLID=a4 CSEQ=2 reg_msg xor "$(aka_answer xor $XK "" "$nonce" "xor@$DOMAIN" 1)" "Require: sec-agree" "Proxy-Require: sec-agree" "$SC" | sip -u)
assert_eq 200 "$(status_of "$out")" "AKAv2 registration"
assert_eq "${SC#Security-Client: }" "$(sql "SELECT security_client FROM registrations WHERE aor = 'sip:xor@$DOMAIN'")" "Security-Client stored"
assert_eq 1 "$(grep -c "xor@$DOMAIN (127.0.0.1) asked for sec-agree" "$AFD_LOG")" "one sec-agree log line"
out=$(CALLID=a4 CSEQ=3 reg_msg xor "$(aka_first "xor@$DOMAIN" 1)" "Require: sec-agree" "$SC" | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
out=$(CALLID=a4 CSEQ=4 reg_msg xor "$(aka_answer xor $XK "" "$nonce" "xor@$DOMAIN" 1)" "Require: sec-agree" "$SC" | sip -u)
assert_eq 200 "$(status_of "$out")" "AKAv2 re-registration"
assert_eq 1 "$(grep -c "xor@$DOMAIN (127.0.0.1) asked for sec-agree" "$AFD_LOG")" "still one sec-agree log line"

say "kill -9 of the UDP worker between the challenge and the answer"
out=$(CALLID=a5 reg_msg 460003911000057 "$(aka_first "$IMPI")" | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
sqn_before=$(sql "SELECT sqn FROM subscribers WHERE impi = '$IMPI'")
old=$(worker_pid udp)
kill -9 "$old"
wait_for "afd_answers udp" 5 || fail "no new UDP worker"
[ "$(worker_pid udp)" != "$old" ] || fail "the UDP worker was not replaced"
out=$(CALLID=a5 CSEQ=2 reg_msg 460003911000057 "$(aka_answer milenage $K $OPC "$nonce" "$IMPI")" | sip -u)
assert_eq 200 "$(status_of "$out")" "answer after kill -9"
out=$(CALLID=a6 reg_msg 460003911000057 "$(aka_first "$IMPI")" | sip -u)
nonce=$(dparam nonce "$(challenge "$out")")
sqn=$("$AKAUE" -k $K -c $OPC -n "$nonce" | sed -n 's/^sqn=//p')
[ "$sqn" -gt "$sqn_before" ] || fail "SQN reused after the restart: $sqn <= $sqn_before"

say "a row with a bad k: refused, named in the log, no crash"
sql "INSERT INTO subscribers (impi, impu, k, opc) VALUES ('bad@$DOMAIN', 'sip:bad@$DOMAIN', '123', '$OPC')"
out=$(CALLID=a7 reg_msg bad "$(aka_first "bad@$DOMAIN")" | sip -u)
assert_eq 403 "$(status_of "$out")" "bad row"
log_has "subscribers row impi='bad@$DOMAIN': k" || fail "no log line naming the row and field"
grep -qi "$K\|$OPC" "$AFD_LOG" && fail "a key in the log"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
