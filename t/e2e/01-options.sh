#!/bin/bash
# OPTIONS over UDP and over TCP: 200 OK with Allow, Accept and Supported,
# the request's Via, From, Call-ID and CSeq echoed, a tag added to To.
. "$(dirname "$0")/lib.sh"

afd_start

for tp in udp tcp; do
	flag=-u
	[ $tp = tcp ] && flag=-t
	out=$(CALLID=opt-$tp-1 CSEQ=42 options_msg | sip $flag -D BRANCH=z9hG4bK-e2e-$tp) ||
		fail "no answer to OPTIONS over $tp"
	say "OPTIONS over $tp:"
	echo "$out"
	assert_eq 200 "$(status_of "$out")" "status over $tp"
	assert_match '^Allow:.*OPTIONS' "$out" "Allow over $tp"
	assert_match '^Allow:.*REGISTER' "$out" "Allow over $tp"
	assert_match '^Accept:' "$out" "Accept over $tp"
	assert_match '^Supported:' "$out" "Supported over $tp"
	assert_match "^Via: SIP/2.0/${tp^^} 127.0.0.1:[0-9]+;branch=z9hG4bK-e2e-$tp" "$out" "Via over $tp"
	assert_match "^Call-ID: opt-$tp-1\$" "$out" "Call-ID over $tp"
	assert_match '^CSeq: 42 OPTIONS$' "$out" "CSeq over $tp"
	assert_match "^From: <sip:alice@$DOMAIN>;tag=[0-9a-f]+" "$out" "From over $tp"
	assert_match "^To: <sip:alice@$DOMAIN>;tag=.+" "$out" "To tag over $tp"
	assert_match '^Content-Length: 0$' "$out" "Content-Length over $tp"
	assert_eq 1 "$(printf '%s\n' "$out" | grep -c '^SIP/2.0')" "responses over $tp"
done

# Compact header names are accepted too.
out=$(printf 'OPTIONS sip:%s SIP/2.0\nv: SIP/2.0/UDP 127.0.0.1:$LPORT;branch=$BRANCH\nf: <sip:bob@%s>;tag=1\nt: <sip:bob@%s>\ni: $CALLID\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nl: 0\n\n' \
	"$DOMAIN" "$DOMAIN" "$DOMAIN" | sip -s) || fail "no answer to compact OPTIONS"
assert_match '^SIP/2.0 200 ' "$out" "compact OPTIONS"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
