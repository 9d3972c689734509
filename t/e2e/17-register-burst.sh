#!/bin/bash
# A burst of REGISTERs at once (the UDP worker commits them in groups):
# every one answered 200, every binding in the table; the same over TCP.
. "$(dirname "$0")/lib.sh"

afd_start workers.tcp_max=8 workers.tcp_min_spare=4
N=150
for i in $(seq 1 $N); do
	FROM_USER=u$i req REGISTER "sip:$DOMAIN" "Contact: <sip:u$i@127.0.0.1:$((10000 + i))>" "Expires: 600" >"$TMP/r$i.sip"
done
pids=
for i in $(seq 1 $N); do
	sip -s -w $(( 5000 * SCALE )) "$TMP/r$i.sip" >"$TMP/r$i.out" 2>&1 &
	pids="$pids $!"
done
wait $pids
ok=$(cat "$TMP"/r*.out | grep -c '^SIP/2.0 200 ')
cat "$TMP"/r*.out | grep -v '^SIP/2.0 200 ' | sort | uniq -c
assert_eq $N "$ok" "200s to $N REGISTERs at once over UDP"
assert_eq $N "$(sql "SELECT count(*) FROM registrations")" "rows after the UDP burst"
assert_alive "the UDP burst"

# Over TCP, 30 connections at once (more than tcp_max: some wait).
M=30
for i in $(seq 1 $M); do
	FROM_USER=t$i req REGISTER "sip:$DOMAIN" "Contact: <sip:t$i@127.0.0.1:$((20000 + i));transport=tcp>" "Expires: 600" >"$TMP/t$i.sip"
done
pids=
for i in $(seq 1 $M); do
	sip -t -s -w $(( 10000 * SCALE )) "$TMP/t$i.sip" >"$TMP/t$i.out" 2>&1 &
	pids="$pids $!"
done
wait $pids
ok=$(cat "$TMP"/t*.out | grep -c '^SIP/2.0 200 ')
cat "$TMP"/t*.out | grep -v '^SIP/2.0 200 ' | sort | uniq -c
tcp_rows=$(sql "SELECT count(*) FROM registrations WHERE transport = 'tcp'")
say "TCP: $ok of $M answered 200, $tcp_rows rows"
# A connection refused by a full pool gets no answer and binds nothing;
# every 200 has its row.
assert_eq "$ok" "$tcp_rows" "TCP rows = TCP 200s"
[ "$ok" -ge $(( M / 2 )) ] || fail "only $ok of $M TCP REGISTERs answered"
assert_alive "the TCP burst"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
