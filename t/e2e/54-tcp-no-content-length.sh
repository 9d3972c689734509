#!/bin/bash
# A complete header block without Content-Length over TCP cannot be framed
# (RFC 3261 18.3 makes it mandatory on a stream): afd answers "400 Missing
# Content-Length", so the phone learns why, then closes the connection.
# Nothing is registered; other connections carry on.
. "$(dirname "$0")/lib.sh"

afd_start
# nocl METHOD [HEADER]...: the request without its Content-Length line.
nocl() {
	local m=$1
	shift
	req "$m" "sip:$DOMAIN" "$@" | sed '/^Content-Length:/d'
}
options_msg >"$TMP/opt.sip"
tcp_session keep
assert_match '^#done 1' "$(tcp_send keep "$TMP/opt.sip")" "OPTIONS on the other connection"

out=$(nocl OPTIONS | sip -t -c -w $(( 3000 * SCALE ))) || fail "no 400 and close for an OPTIONS without Content-Length (exit $?): $out"
echo "$out" | head -n 1
assert_match '^SIP/2.0 400 Missing Content-Length' "$out" "OPTIONS without Content-Length"
assert_match '^CSeq: 1 OPTIONS$' "$out" "the 400 answers that request"

# After CRLF keep-alives, and for a REGISTER: answered 400, nothing stored.
{ printf '\r\n\r\n'; nocl REGISTER "Contact: <sip:alice@127.0.0.1:5061;transport=tcp>" | sed 's/$/\r/'; } >"$TMP/reg.raw"
out=$(sed "s/\$LPORT/5061/; s/\$BRANCH/z9hG4bK-nocl-2/; s/\$TAG/t2/; s/\$CALLID/nocl-2/; s/\$TP/TCP/" "$TMP/reg.raw" |
	sip -t -r -c -w $(( 3000 * SCALE ))) || fail "no 400 and close for a REGISTER without Content-Length: $out"
assert_match '^SIP/2.0 400 Missing Content-Length' "$out" "REGISTER without Content-Length"
assert_eq 0 "$(sql "SELECT count(*) FROM registrations")" "rows after a REGISTER without Content-Length"
log_has 'framing error from 127\.0\.0\.1' || fail "no log line for the framing error"

# Unanswerable garbage without Content-Length is still just closed.
printf 'this is not SIP\r\n\r\n' | sip -t -r -n 0 -c -w $(( 3000 * SCALE )) >/dev/null ||
	fail "garbage without Content-Length: connection not closed"
assert_match '^#done 1' "$(tcp_send keep "$TMP/opt.sip")" "the other connection after all that"
afd_answers tcp || fail "a new TCP connection is not served"
tcp_close keep
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
