#!/bin/bash
# afd's OPTIONS pings of registered contacts ([registrar] ping_interval):
# afd's own client transactions, routed between workers. A phone over UDP
# is pinged by the UDP worker and the answer recorded; a phone over TCP is
# pinged on its own connection by the TCP worker that owns it, and the
# answer reaches the UDP worker's transaction; a silent phone gets the
# retransmissions of Timer E (T1 doubling), is counted unanswered at
# Timer F and removed after ping_remove_after; kill -9 of the UDP worker,
# or of the TCP worker owning the flow, between a ping and its answer
# loses nothing.
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
# T1 = 100 ms (a closed lab network): Timer F is 6.4 s.
afd_start registrar.ping_interval=1 registrar.ping_remove_after=2 afd.sip_t1=100

row() { # USER COLUMNS
	sql "SELECT $2 FROM registrations WHERE aor = 'sip:$1@$DOMAIN'"
}
ua() { # NAME ARGS...: a phone in the background, its lines in $TMP/NAME.out
	local name=$1
	shift
	"$UA" -p "$AFD_PORT" -u "$name" "$@" >"$TMP/$name.out" 2>&1 &
	E2E_PIDS="$E2E_PIDS $!"
	eval "pid_$name=$!"
}
reqs() { grep -c "^REQ OPTIONS z9hG4bK-u0-" "$TMP/$1.out"; }

# 1. answering phones, over UDP and over TCP
ua alice -T $(( 4 * SCALE ))
ua bob -t -T $(( 4 * SCALE ))
wait "$pid_alice" "$pid_bob"
cat "$TMP/alice.out" "$TMP/bob.out"
grep -q "^RESP 200 REGISTER" "$TMP/alice.out" || fail "alice did not register"
grep -q "^RESP 200 REGISTER" "$TMP/bob.out" || fail "bob did not register"
[ "$(reqs alice)" -ge 2 ] || fail "alice (UDP) got $(reqs alice) pings in 4 s"
[ "$(reqs bob)" -ge 2 ] || fail "bob (TCP) got $(reqs bob) pings in 4 s"
# only the UDP worker records answers: bob's came back through it
assert_eq "0" "$(row alice ping_failures)" "alice's unanswered pings"
assert_eq "0" "$(row bob ping_failures)" "bob's unanswered pings"
[ -n "$(row alice ping_ok_at)" ] || fail "alice's answered ping not recorded"
[ -n "$(row bob ping_ok_at)" ] || fail "bob's answered ping (TCP, via t-worker) not recorded"
assert_eq "tcp" "$(row bob transport)" "bob's transport"

# 2. a silent phone: retransmissions at T1, 2*T1, 4*T1 ..., then Timer F
ua carol -n -e 120 -T $(( 16 * SCALE ))
wait_for "[ -z \"\$(row carol id)\" ]" $(( 25 * SCALE )) ||
	fail "carol's binding still there after two unanswered pings"
wait "$pid_carol"
first=$(awk '/^REQ OPTIONS/ { print $3; exit }' "$TMP/carol.out")
times=$(awk -v b="$first" '$1 == "REQ" && $3 == b { print $4 }' "$TMP/carol.out")
say "carol's first ping $first at (ms): $(echo $times)"
n=$(echo "$times" | wc -l)
[ "$n" -ge 6 ] || fail "the first ping was sent $n times (want Timer E retransmissions)"
# gaps 100, 200, 400, 800 ms (each within -30 ms .. +300 ms)
set -- $times
for want in 100 200 400 800; do
	gap=$(( $2 - $1 ))
	[ "$gap" -ge $(( want - 30 )) ] && [ "$gap" -le $(( (want + 300) * SCALE )) ] ||
		fail "retransmission gap $gap ms, want about $want"
	shift
done
wait_log "carol@$DOMAIN removed after 2 unanswered pings" 2 ||
	fail "no log line for carol's removal"
[ "$(reqs carol)" -ge 2 ] || fail "carol got no second ping"

# 3. kill -9 of the UDP worker between a ping and its answer
ua dave -D 3000 -N 1 -T $(( 10 * SCALE ))
wait_for "grep -q '^REQ OPTIONS' '$TMP/dave.out'" $(( 5 * SCALE )) || fail "dave got no ping"
t_kill=$(date +%s)
u0=$(worker_pid udp)
kill -9 "$u0"
say "killed the UDP worker $u0 while dave holds his answer"
wait "$pid_dave"
cat "$TMP/dave.out"
wait_for "[ -n \"\$(row dave ping_ok_at)\" ] && [ \"\$(row dave ping_ok_at)\" -ge $t_kill ]" $(( 5 * SCALE )) ||
	fail "dave's answer after the UDP worker's restart not recorded"
assert_eq "0" "$(row dave ping_failures)" "dave's unanswered pings"
[ "$(worker_pid udp)" != "$u0" ] || fail "the UDP worker was not replaced"

# 4. kill -9 of the TCP worker owning the flow between a ping and its answer
ua erin -t -D 1500 -N 1 -T $(( 10 * SCALE ))
wait_for "grep -q '^REQ OPTIONS' '$TMP/erin.out'" $(( 5 * SCALE )) || fail "erin got no ping"
slot=$(row erin conn_slot)
tw=$(worker_pid "$slot")
t_kill=$(date +%s)
kill -9 "$tw"
say "killed the TCP worker $tw ($slot) owning erin's flow"
wait "$pid_erin"
cat "$TMP/erin.out"
wait_for "[ -n \"\$(row erin ping_ok_at)\" ] && [ \"\$(row erin ping_ok_at)\" -ge $t_kill ]" $(( 5 * SCALE )) ||
	fail "erin's answer through the replacement TCP worker not recorded"
assert_eq "0" "$(row erin ping_failures)" "erin's unanswered pings"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
