#!/bin/bash
# TCP framing: messages split across many segments, several messages in one
# segment, bodies framed by Content-Length, CRLF keep-alives, an idle
# connection used again later: every message answered once, in order.
. "$(dirname "$0")/lib.sh"

afd_start

# One message in pieces of 7 bytes, 5 ms apart.
out=$(CSEQ=1 options_msg | sip -t -s -C 7 -w $(( 5000 * SCALE ))) || fail "no answer to an OPTIONS in 7-byte pieces"
assert_match '^SIP/2.0 200 ' "$out" "OPTIONS in 7-byte pieces"
# Headers cut right inside the CRLF CRLF.
out=$(CSEQ=1 options_msg | sip -t -s -C 1 -w $(( 5000 * SCALE ))) || fail "no answer to an OPTIONS one byte at a time"
assert_match '^SIP/2.0 200 ' "$out" "OPTIONS one byte at a time"

# Three messages in one write, one with a body: three answers, in order.
{
	CSEQ=1 options_msg; echo '#--'
	CSEQ=2 BODY=0123456789 options_msg "Content-Type: text/plain"; echo; echo '#--'
	CSEQ=3 options_msg
} >"$TMP/three.sip"
out=$(sip -t -n 3 "$TMP/three.sip") || fail "not 3 answers to 3 pipelined messages: $out"
echo "$out" | grep -E '^(SIP/2.0|CSeq)'
assert_eq "1 2 3 " "$(printf '%s\n' "$out" | sed -n 's/^CSeq: \([0-9]*\) OPTIONS$/\1/p' | tr '\n' ' ')" "CSeq order of the answers"
assert_eq 3 "$(printf '%s\n' "$out" | grep -c '^SIP/2.0 200 ')" "200s to 3 pipelined messages"

# The same three, cut in 50-byte pieces.
out=$(sip -t -n 3 -C 50 -w $(( 5000 * SCALE )) "$TMP/three.sip") || fail "not 3 answers to 3 messages in 50-byte pieces"
assert_eq 3 "$(printf '%s\n' "$out" | grep -c '^SIP/2.0 200 ')" "200s to 3 messages in pieces"

# CRLF keep-alives (RFC 5626 3.5.1) before and between messages.
{ printf '\r\n\r\n#--\n'; CSEQ=1 options_msg; printf '#--\n\r\n\r\n#--\n'; CSEQ=2 options_msg; } >"$TMP/ka.sip"
out=$(sip -t -n 2 "$TMP/ka.sip") || fail "keep-alives: not 2 answers"
assert_eq 2 "$(printf '%s\n' "$out" | grep -c '^SIP/2.0 200 ')" "200s around keep-alives"

# A body shorter than its Content-Length on TCP: the receiver waits; the
# rest arrives later in a second piece and the message is answered.
BODY=0123456789 options_msg "Content-Type: text/plain" >"$TMP/body.sip"
out=$(sip -t -s -C 300 -w $(( 5000 * SCALE )) "$TMP/body.sip") || fail "no answer to a body sent in two pieces"
assert_match '^SIP/2.0 200 ' "$out" "body in two pieces"

# An idle connection is still served after 3 s.
options_msg >"$TMP/opt.sip"
tcp_session idle
assert_match '^#done 1' "$(tcp_send idle "$TMP/opt.sip")" "first OPTIONS"
t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt 3 ]; do assert_alive "idle wait"; sleep 0.5; done
assert_match '^#done 1' "$(tcp_send idle "$TMP/opt.sip")" "OPTIONS after 3 s idle"
tcp_close idle

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
