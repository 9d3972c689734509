# t/e2e/authlib.sh: helpers for the authentication scenarios (91-99),
# sourced after lib.sh: REGISTER templates, the parameters of a challenge,
# and the answers build/t/tools/akaue computes (Digest with a password,
# AKAv1/AKAv2 from a SIM's keys).

AKAUE=$AFD_TOOLS/akaue
[ -x "$AKAUE" ] || fail "no $AKAUE"
REALM=$DOMAIN

# dparam NAME VALUE: a Digest parameter of a WWW-Authenticate value
# (quoted or not).
dparam() {
	printf '%s\n' "$2" | sed -n "s/.*[ ,]$1=\"\{0,1\}\([^\",]*\)\"\{0,1\}.*/\1/p" | head -n 1
}

# reg_msg USER [HEADER]...: a REGISTER template for USER (To and From),
# Contact on our port, Expires 600; CALLID and CSEQ from the environment.
reg_msg() {
	local u=$1
	shift
	FROM_USER=$u req REGISTER "sip:$DOMAIN" \
		"Contact: <sip:$u@127.0.0.1:\$LPORT>" "Expires: 600" "$@"
}

# digest_auth USERNAME PASSWORD NONCE [NC] [CNONCE] [OPAQUE]: an
# Authorization header answering a Digest MD5 challenge for REGISTER
# sip:$DOMAIN, qop=auth.
digest_auth() {
	local un=$1 pw=$2 nonce=$3 nc=${4:-00000001} cn=${5:-0a4f113b} op=${6:-} resp
	resp=$("$AKAUE" -p "$pw" -u "$un" -r "$REALM" -m REGISTER -U "sip:$DOMAIN" \
		-n "$nonce" -q auth -N "$nc" -C "$cn" | sed -n 's/^response=//p') || return 1
	printf 'Authorization: Digest username="%s", realm="%s", nonce="%s", uri="sip:%s", response="%s", algorithm=MD5, qop=auth, nc=%s, cnonce="%s"%s' \
		"$un" "$REALM" "$nonce" "$DOMAIN" "$resp" "$nc" "$cn" "${op:+, opaque=\"$op\"}"
}

# aka_answer ALG K OPC NONCE IMPI [V2] [NC]: an Authorization header
# answering an AKA challenge with the SIM's keys (ALG milenage or xor;
# V2=1: AKAv2-MD5). AKA_RES is left set to RES (hex).
aka_answer() {
	local alg=$1 k=$2 opc=$3 nonce=$4 impi=$5 v2=${6:-0} nc=${7:-00000001} out resp a=AKAv1-MD5 two=
	[ "$v2" = 1 ] && { a=AKAv2-MD5; two=-2; }
	out=$("$AKAUE" -a "$alg" -k "$k" ${opc:+-c "$opc"} -n "$nonce" $two -u "$impi" -r "$REALM" \
		-m REGISTER -U "sip:$DOMAIN" -q auth -N "$nc" -C 1a2b3c4d) || return 1
	resp=$(printf '%s\n' "$out" | sed -n 's/^response=//p')
	AKA_RES=$(printf '%s\n' "$out" | sed -n 's/^res=//p')
	printf 'Authorization: Digest username="%s", realm="%s", nonce="%s", uri="sip:%s", response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="1a2b3c4d", integrity-protected="no"' \
		"$impi" "$REALM" "$nonce" "$DOMAIN" "$resp" "$a" "$nc"
}

# aka_first IMPI [V2]: the empty Authorization of an IMS first REGISTER.
aka_first() {
	local a=AKAv1-MD5
	[ "${2:-0}" = 1 ] && a=AKAv2-MD5
	printf 'Authorization: Digest username="%s", realm="%s", nonce="", uri="sip:%s", response="", algorithm=%s, integrity-protected="no"' \
		"$1" "$REALM" "$DOMAIN" "$a"
}

# challenge OUTPUT: the WWW-Authenticate value of a 401 (fails without).
challenge() {
	local w
	assert_eq 401 "$(status_of "$1")" "a challenge"
	w=$(hdr WWW-Authenticate "$1")
	[ -n "$w" ] || fail "a 401 without WWW-Authenticate"
	printf '%s\n' "$w"
}
