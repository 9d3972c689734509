#!/bin/bash
# A sqlite3 session holding the write lock (BEGIN IMMEDIATE, as a tester's
# open transaction does) never freezes SIP: while it holds the lock for 3 s,
# OPTIONS over UDP are answered at once, a new TCP connection is served at
# once, and REGISTERs get 500 with Retry-After quickly (not after seconds),
# logged once for the whole episode; once the lock is released REGISTER
# works again and the end of the episode is logged.
. "$(dirname "$0")/lib.sh"

OPT_MS=50   # bound for an OPTIONS over UDP while the lock is held
REG_MS=200  # bound for the 500 to a REGISTER
TCP_MS=500  # bound for an OPTIONS on a new TCP connection (hand-off, fork)

# ms_of OUTPUT: the "#ms N.N" line of sipsend -T, as an integer.
ms_of() { printf '%s\n' "$1" | sed -n 's/^#ms \([0-9]*\).*/\1/p'; }
# locked: another connection cannot take the write lock now.
locked() {
	! sqlite3 "$AFD_DB" "PRAGMA busy_timeout = 0;" "BEGIN IMMEDIATE;" "ROLLBACK;" >/dev/null 2>&1
}

afd_start
out=$(req REGISTER "sip:$DOMAIN" "Contact: <sip:alice@127.0.0.1:5061>" "Expires: 600" | sip -s) ||
	fail "no answer to the first REGISTER"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER before the lock"

log_mark
# the session waits for a write of afd's in progress, as a tester's
# sqlite3 with .timeout would (afd's own writes are a few ms)
(echo '.timeout 2000'
 echo 'BEGIN IMMEDIATE;'
 echo "INSERT INTO subscribers (impi, impu) VALUES ('lock@x', 'sip:lock@x');"
 sleep $(( 3 * SCALE ))
 echo 'COMMIT;') | sqlite3 "$AFD_DB" &
locker=$!
wait_for locked 2 || fail "the sqlite3 session did not take the write lock"
t_lock=$(now_ms)

worst_opt=0 worst_reg=0 n=0
while [ $(( $(now_ms) - t_lock )) -lt $(( 2000 * SCALE )) ] && [ $n -lt 8 ]; do
	n=$((n + 1))
	out=$(options_msg | sip -s -T) || fail "no answer to OPTIONS $n while locked"
	assert_match '^SIP/2.0 200 ' "$out" "OPTIONS $n while locked"
	ms=$(ms_of "$out")
	[ "$ms" -gt "$worst_opt" ] && worst_opt=$ms
	CSEQ=$n out=$(CALLID=lock-reg-$n req REGISTER "sip:$DOMAIN" \
		"Contact: <sip:bob$n@127.0.0.1:5070>" "Expires: 600" | sip -s -T) ||
		fail "no answer to REGISTER $n while locked"
	assert_match '^SIP/2.0 500 ' "$out" "REGISTER $n while locked"
	ms=$(ms_of "$out")
	[ "$ms" -gt "$worst_reg" ] && worst_reg=$ms
done
locked || fail "the lock was released before the test was done (machine too slow?)"
say "$n OPTIONS and $n REGISTERs while locked: slowest OPTIONS $worst_opt ms, slowest REGISTER $worst_reg ms"
assert_le "$worst_opt" $(( OPT_MS * SCALE )) "slowest OPTIONS over UDP while locked (ms)"
assert_le "$worst_reg" $(( REG_MS * SCALE )) "slowest 500 to a REGISTER while locked (ms)"

# The 500 carries Retry-After, and nothing was written.
out=$(CALLID=lock-reg-full req REGISTER "sip:$DOMAIN" "Contact: <sip:carol@127.0.0.1:5071>" "Expires: 600" | sip) ||
	fail "no answer to a REGISTER while locked"
[ "$(status_of "$out")" = 500 ] || fail "REGISTER while locked: $(status_of "$out")"
assert_match '^Retry-After: [0-9]+' "$out" "Retry-After in the 500"

# A new TCP connection (its worker writes its workers row) is served too.
out=$(options_msg | sip -t -s -T) || fail "no answer over TCP while locked"
assert_match '^SIP/2.0 200 ' "$out" "OPTIONS over TCP while locked"
ms=$(ms_of "$out")
say "OPTIONS on a new TCP connection while locked: $ms ms"
assert_le "$ms" $(( TCP_MS * SCALE )) "OPTIONS on a new TCP connection while locked (ms)"
locked || fail "the lock was released before the test was done (machine too slow?)"

wait $locker || fail "the sqlite3 session failed"
# Logged once for the whole episode, however many REGISTERs were refused.
episodes=$(log_new | grep -c 'udp worker: .*locked by another connection')
assert_eq 1 "$episodes" "log lines of the UDP worker for one lock episode"

out=$(CALLID=after-lock req REGISTER "sip:$DOMAIN" "Contact: <sip:dave@127.0.0.1:5072>" "Expires: 600" | sip -s) ||
	fail "no answer to a REGISTER after the lock"
assert_match '^SIP/2.0 200 ' "$out" "REGISTER after the lock"
wait_log 'lock is released: writes work again' 2
assert_eq 2 "$(sql "SELECT count(*) FROM registrations")" "bindings: the two 200s, none of the 500s"
assert_eq 1 "$(sql "SELECT count(*) FROM subscribers WHERE impi = 'lock@x'")" "the session's own change"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
