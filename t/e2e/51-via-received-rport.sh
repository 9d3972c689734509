#!/bin/bash
# The top Via of an answer (RFC 3261 18.2.1, RFC 3581 4): received is the
# real source address, replacing any value the client put there; rport is
# filled with the real source port, replacing a value too. Over UDP and
# TCP, for OPTIONS and REGISTER alike.
. "$(dirname "$0")/lib.sh"

afd_start
via_of() { printf '%s\n' "$1" | sed -n 's/^Via: //p' | head -n 1; }
# msg METHOD VIA-PARAMS: a request whose top Via names client.example.com.
msg() {
	local m=$1 params=$2
	shift 2
	req "$m" "sip:$DOMAIN" "$@" |
		sed "s|^Via: .*|Via: SIP/2.0/\$TP client.example.com:26001;branch=\$BRANCH$params|"
}

# The issue's case: received=127.0.0.2 from 127.0.0.1, with rport=1.
out=$(msg OPTIONS ';received=127.0.0.2;rport=1' | sip) || fail "no answer (received and rport=1)"
v=$(via_of "$out")
say "Via: $v"
assert_match ';received=127\.0\.0\.1(;|$)' "$v" "received replaced by the source address"
assert_no_match '127\.0\.0\.2' "$v" "the client's received kept"
assert_no_match ';rport=1(;|$)' "$v" "the client's rport value kept"
assert_match ';rport=[0-9]+' "$v" "rport filled"
port=$(printf '%s\n' "$v" | sed -n 's/.*;rport=\([0-9]*\).*/\1/p')
assert_le 1024 "$port" "rport is the real source port, not 1"
assert_eq 1 "$(printf '%s\n' "$v" | grep -o 'received=' | wc -l)" "received params in the Via"
assert_eq 1 "$(printf '%s\n' "$v" | grep -o 'rport' | wc -l)" "rport params in the Via"

# rport before received, and a bare received: both replaced in place.
out=$(msg OPTIONS ';rport=5;received' | sip) || fail "no answer (rport=5;received)"
v=$(via_of "$out")
assert_match ';rport=[0-9]+;received=127\.0\.0\.1$' "$v" "rport=5;received amended in place"
assert_no_match ';rport=5;' "$v" "the client's rport=5 kept"

# Without rport the answer goes to the Via port (sipsend -V sends from
# 26001 on some 127.x.y.z): received is that address, not the client's.
out=$(msg OPTIONS ';received=127.0.0.2' | sip -V) || fail "no answer (received, no rport)"
v=$(via_of "$out")
say "Via: $v"
assert_match ';received=127\.[0-9]+\.[0-9]+\.[0-9]+$' "$v" "received without rport"
assert_no_match 'received=127\.0\.0\.2' "$v" "the client's received kept (no rport)"

# A REGISTER over TCP: the same amendment.
out=$(msg REGISTER ';received=10.9.9.9;rport=7' "Contact: <sip:alice@127.0.0.1:5061;transport=tcp>" | sip -t) ||
	fail "no answer to a REGISTER over TCP"
assert_eq 200 "$(status_of "$out")" "REGISTER over TCP"
v=$(via_of "$out")
assert_match ';received=127\.0\.0\.1;rport=[0-9]+$' "$v" "Via of the REGISTER's 200 over TCP"
assert_no_match '10\.9\.9\.9|rport=7$' "$v" "the client's values kept over TCP"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
