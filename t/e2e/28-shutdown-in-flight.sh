#!/bin/bash
# SIGTERM while REGISTERs are arriving: afd stops within two seconds with
# status 0, and every REGISTER it answered 200 has its binding in the
# database (answered only after the commit).
. "$(dirname "$0")/lib.sh"

afd_start
N=120
for i in $(seq 1 $N); do
	FROM_USER=s$i req REGISTER "sip:$DOMAIN" "Contact: <sip:s$i@127.0.0.1:$((10000 + i))>" "Expires: 600" >"$TMP/r$i.sip"
done
before=$(afd_pids | tr '\n' ' ')
pids=
for i in $(seq 1 $N); do
	sip -s -w $(( 3000 * SCALE )) "$TMP/r$i.sip" >"$TMP/r$i.out" 2>/dev/null &
	pids="$pids $!"
	[ $i = $(( N / 2 )) ] && { kill -TERM "$AFD_PID"; t0=$(now_ms); }
done
wait $pids
wait "$AFD_PID"
rc=$?
AFD_PID=
took=$(( $(now_ms) - t0 ))
say "master exited with $rc, $took ms after SIGTERM (counted when every client was done)"
assert_eq 0 "$rc" "exit status"
ok=0
for i in $(seq 1 $N); do
	if grep -q '^SIP/2.0 200 ' "$TMP/r$i.out"; then
		ok=$((ok + 1))
		[ "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:s$i@$DOMAIN'")" = 1 ] ||
			fail "REGISTER $i was answered 200 but has no row"
	fi
done
say "$ok of $N REGISTERs answered 200 around the SIGTERM, all with their rows"
[ $ok -ge 1 ] || fail "no REGISTER answered at all"
# Nothing left of afd.
for p in $before; do
	kill -0 "$p" 2>/dev/null && ! ps -o stat= -p "$p" | grep -q Z && fail "afd process $p still there"
done
out=$(options_msg | sip -s -w 300 2>/dev/null) && fail "something still answers: $out"
true
