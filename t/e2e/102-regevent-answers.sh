#!/bin/bash
# NOTIFYs are afd's client transactions: an unanswered NOTIFY over UDP is
# sent again on Timer E (about 0.5 s, 1 s, 2 s apart with T1 = 500 ms), and
# changes that come meanwhile wait and go out coalesced in ONE NOTIFY with
# the next version once the first is answered. A 481 answer removes the
# subscription (its row goes); so does a 489; a 500 is logged and the
# subscription goes on.
. "$(dirname "$0")/lib.sh"

UA=$AFD_TOOLS/sipua
afd_start

phone() { # NAME ARGS...: a phone taking commands from $TMP/NAME.in (fd given by caller)
	local name=$1
	shift
	mkfifo "$TMP/$name.in"
	"$UA" -p "$AFD_PORT" -u "$name" -i "$@" <"$TMP/$name.in" >"$TMP/$name.out" 2>&1 &
	E2E_PIDS="$E2E_PIDS $!"
	eval "pid_$name=$!"
}
notifies() { grep -c '^NOTIFY ' "$TMP/$1.out"; }
cmd() { # NAME FD LINE: give phone NAME a command, wait until it acted on it
	echo "$3" >&$2
	wait_for "grep -qx 'CMD $3' '$TMP/$1.out'" $(( 3 * SCALE )) || fail "$1 did not take '$3'"
}
sub_rows() { sql "SELECT count(*) FROM reg_subscriptions WHERE aor = 'sip:$1@$DOMAIN'"; }

# 1. a silent phone (-n, until told): the first NOTIFY is retransmitted
# at T1, 2T1, 4T1
phone carol -n -e 600 -S 600 -T $(( 30 * SCALE ))
exec 3>"$TMP/carol.in"
wait_for "[ \$(notifies carol) -ge 4 ]" $(( 8 * SCALE )) || { cat "$TMP/carol.out"; fail "no retransmissions"; }
times=$(awk '/^NOTIFY 1 / { print $6 }' "$TMP/carol.out")
say "NOTIFY 1 received at (ms): $(echo $times)"
assert_eq "1" "$(awk '/^NOTIFY / { print $5 }' "$TMP/carol.out" | sort -u | wc -l)" "one branch (retransmissions of one transaction)"
set -- $times
for want in 500 1000 2000; do
	gap=$(( $2 - $1 ))
	[ "$gap" -ge $(( want - 50 )) ] && [ "$gap" -le $(( (want + 400) * SCALE )) ] ||
		fail "retransmission gap $gap ms, want about $want"
	shift
done
# two changes while it is unanswered: nothing new goes out yet
"$UA" -p "$AFD_PORT" -u carol -e 300 -T 1 >/dev/null 2>&1
"$UA" -p "$AFD_PORT" -u carol -e 300 -T 1 >/dev/null 2>&1
assert_eq "0" "$(grep -c '^NOTIFY 2 ' "$TMP/carol.out")" "a second NOTIFY while the first is unanswered"
assert_eq "2" "$(sql "SELECT pending FROM reg_subscriptions WHERE aor = 'sip:carol@$DOMAIN'")" "pending (a NOTIFY owed)"
# answer now: the next retransmission is answered 200, then ONE NOTIFY
# with both new bindings, version 1
cmd carol 3 "silent 0"
wait_for "grep -q '^NOTIFY 2 ' '$TMP/carol.out'" $(( 10 * SCALE )) || { cat "$TMP/carol.out"; fail "no NOTIFY after the answer"; }
sleep 1
assert_eq "1" "$(grep -c '^NOTIFY 2 ' "$TMP/carol.out")" "NOTIFY 2 (two changes coalesced)"
assert_eq "0" "$(grep -c '^NOTIFY 3 ' "$TMP/carol.out")" "a third NOTIFY"
set -- $(grep '^NOTIFY 2 ' "$TMP/carol.out")
assert_eq "1" "$3" "version of the coalesced NOTIFY"
echo quit >&3
exec 3>&-

# 2. a 481 answer removes the subscription
phone dave -e 600 -S 600 -T $(( 20 * SCALE ))
exec 3>"$TMP/dave.in"
wait_for "[ \$(notifies dave) -ge 1 ]" $(( 5 * SCALE )) || fail "dave's first NOTIFY"
assert_eq "1" "$(sub_rows dave)" "dave's subscription"
cmd dave 3 "status 481"
"$UA" -p "$AFD_PORT" -u dave -e 300 -T 1 >/dev/null 2>&1
wait_for "[ \"\$(sub_rows dave)\" = 0 ]" $(( 5 * SCALE )) || fail "481 did not remove the subscription"
wait_log "NOTIFY 2 of subscription [0-9]+ answered 481: subscription removed" 2 || fail "no log line for the 481"
# no more NOTIFYs for dave
"$UA" -p "$AFD_PORT" -u dave -e 300 -T 1 >/dev/null 2>&1
sleep 1
assert_eq "2" "$(notifies dave)" "dave's NOTIFYs after the 481"
echo quit >&3
exec 3>&-

# 3. a 500 is logged and the subscription goes on; a 489 removes it
phone erin -e 600 -S 600 -T $(( 20 * SCALE ))
exec 3>"$TMP/erin.in"
wait_for "[ \$(notifies erin) -ge 1 ]" $(( 5 * SCALE )) || fail "erin's first NOTIFY"
cmd erin 3 "status 500"
"$UA" -p "$AFD_PORT" -u erin -e 300 -T 1 >/dev/null 2>&1
wait_log "NOTIFY 2 of subscription [0-9]+ answered 500$" 2 || fail "no log line for the 500"
assert_eq "1" "$(sub_rows erin)" "erin's subscription after a 500"
assert_eq "500" "$(sql "SELECT last_status FROM reg_subscriptions WHERE aor = 'sip:erin@$DOMAIN'")" "last_status"
cmd erin 3 "status 489"
"$UA" -p "$AFD_PORT" -u erin -e 300 -T 1 >/dev/null 2>&1
wait_for "[ \"\$(sub_rows erin)\" = 0 ]" $(( 5 * SCALE )) || fail "489 did not remove the subscription"
echo quit >&3
exec 3>&-

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
