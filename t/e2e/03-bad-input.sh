#!/bin/bash
# Bad input: each gets its answer (or is dropped and logged when it cannot
# be answered), and afd keeps answering after every one.
. "$(dirname "$0")/lib.sh"

afd_start
udp_pid=$(worker_pid udp)
[ -n "$udp_pid" ] || fail "no UDP worker"

# expect_status CODE REASON_REGEX WHAT [sipsend options]: the message on
# stdin is answered CODE with a reason matching REASON_REGEX.
expect_status() {
	local code=$1 reason=$2 what=$3 out
	shift 3
	out=$(sip "$@") || fail "$what: no answer"
	say "$what: $(printf '%s\n' "$out" | head -n 1)"
	assert_eq "$code" "$(status_of "$out")" "$what: status"
	assert_match "^SIP/2.0 $code $reason" "$out" "$what: status line"
	LAST_OUT=$out
	assert_alive "$what"
}

# Missing Via: nowhere to send an answer; dropped and logged.
log_mark
out=$(options_msg | grep -v '^Via:' | sip -w $(( 1000 * SCALE )) 2>/dev/null)
rc=$?
assert_eq "" "$out" "answer to a request without Via"
assert_eq 1 "$rc" "sipsend status for a request without Via"
wait_for "log_since '[Vv][Ii][Aa]'" 2 || fail "the dropped request without Via is not logged"
assert_alive "missing Via"

# Missing mandatory headers: 400 whose reason names the header.
for h in From To Call-ID CSeq Max-Forwards; do
	options_msg | grep -v "^$h:" | expect_status 400 ".*$h" "missing $h"
done

# Malformed CSeq.
for bad in 'abc OPTIONS' '1 INVITE' '99999999999 OPTIONS' '1' '-1 OPTIONS'; do
	options_msg | sed "s/^CSeq: .*/CSeq: $bad/" | expect_status 400 '' "CSeq '$bad'"
done

# Content-Length larger than the data, on UDP.
options_msg | sed 's/^Content-Length: .*/Content-Length: 500/' |
	expect_status 400 '' "Content-Length larger than the datagram"

# Negative and non-numeric Content-Length.
options_msg | sed 's/^Content-Length: .*/Content-Length: -5/' |
	expect_status 400 '' "negative Content-Length"
options_msg | sed 's/^Content-Length: .*/Content-Length: many/' |
	expect_status 400 '' "non-numeric Content-Length"

# Max-Forwards 0 on a request afd would pass on or serve: 483.
MF=0 req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5999>" |
	expect_status 483 '' "Max-Forwards 0"
assert_eq 0 "$(sql "SELECT count(*) FROM registrations")" "rows after Max-Forwards 0 REGISTER"

# Unknown method: 501.
req FOOBAR "sip:$DOMAIN" | expect_status 501 '' "unknown method"

# An extension afd does not support: 420 with Unsupported naming it.
options_msg "Require: foo" | expect_status 420 '' "Require: foo"
assert_match '^Unsupported: foo$' "$LAST_OUT" "Unsupported in 420"
req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5999>" "Require: path, foo, bar" |
	expect_status 420 '' "REGISTER with Require: path, foo, bar"
unsup=$(hdr Unsupported "$LAST_OUT" | tr ',' '\n' | tr -d ' ' | sort | tr '\n' ' ')
assert_eq "bar foo " "$unsup" "Unsupported lists exactly the unknown ones"
assert_eq 0 "$(sql "SELECT count(*) FROM registrations")" "rows after a 420"
options_msg "Proxy-Require: foo" | expect_status 420 '' "Proxy-Require: foo"
assert_match '^Unsupported: foo$' "$LAST_OUT" "Unsupported in 420 for Proxy-Require"


# Garbage on TCP: that connection is closed; another connection, opened
# before, carries on; afd answers.
options_msg >"$TMP/opt.sip"
tcp_session keep
assert_match '^#done 1' "$(tcp_send keep "$TMP/opt.sip")" "first connection before garbage"
for garbage in 'this is not SIP\r\n\r\n' '\x00\x01\x02\xff\xfe\r\n\r\n' \
		'OPTIONS sip:x SIP/2.0\r\nContent-Length: -9\r\n\r\n' \
		'OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKx\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n'; do
	printf "$garbage" | sip -t -r -n 0 -c -w $(( 3000 * SCALE )) >/dev/null ||
		fail "afd did not close the connection after TCP garbage '$garbage'"
	assert_alive "TCP garbage '$garbage'"
	assert_match '^#done 1' "$(tcp_send keep "$TMP/opt.sip")" "other connection after garbage '$garbage'"
done
afd_answers tcp || fail "a new TCP connection is not served after garbage"

# Random binary datagrams, then corrupted copies of a valid OPTIONS and
# REGISTER: no crash, afd still answers.
for i in $(seq 1 100); do
	head -c $(( RANDOM % 1400 + 1 )) /dev/urandom >"$TMP/rnd"
	sip -r -n 0 -w 0 "$TMP/rnd" >/dev/null 2>&1
done
assert_alive "random datagrams"
options_msg | sip -M 500 -S 4475 2>/dev/null
assert_alive "mutated OPTIONS"
req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5999>;expires=60" |
	sip -M 500 -S 3261 2>/dev/null
assert_alive "mutated REGISTER"

# Nothing crashed on the way: the UDP worker is the one we started with, and
# no worker died of a signal.
assert_eq "$udp_pid" "$(worker_pid udp)" "UDP worker pid (a change means it died)"
if grep -Ei 'signal|SIGSEGV|SIGABRT|core' "$AFD_LOG"; then
	fail "a worker died of a signal during bad input"
fi

afd_stop
assert_eq 0 "$AFD_RC" "exit status"
