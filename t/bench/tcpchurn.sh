#!/bin/bash
# t/bench/tcpchurn.sh [AFD_BIN...]: what one short TCP connection costs
# afd: CHURN_N (200) connections one after the other, each one OPTIONS
# and its 200, then closed by the client (build/t/tools/sipsend -t). For
# each binary given (default ./afd), CHURN_ROUNDS (2) rounds, the
# binaries taking turns (A/B on a shared machine): the CPU of every afd
# process per connection (utime + stime of the master and its workers,
# with the children they reaped: recycled workers, the processes that
# write a lean spare's row; /proc/PID/stat, 10 ms ticks) and the wall
# time per connection (sending only). With CHURN_GAP=S the client sleeps
# S seconds after each connection: long enough (0.5) and each worker is
# idle and quiet before the next connection comes, so that its end
# (recycled, or kept) is part of the cost. A fresh afd and database per
# run, tcp_min_spare 2.
# Prints one line per run and the load average.
. "$(dirname "$0")/../e2e/lib.sh"

N=${CHURN_N:-200}
ROUNDS=${CHURN_ROUNDS:-2}
GAP=${CHURN_GAP:-0}
[ $# -gt 0 ] || set -- ./afd
ticks() { # the master's and its children's CPU, reaped children included
	local t=0 p
	for p in $AFD_PID $(pgrep -P "$AFD_PID"); do
		# the fields after the command's name, which may hold spaces
		t=$(( t + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
			awk '{ print $12 + $13 + $14 + $15 }' || echo 0) ))
	done
	echo $t
}
hz=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
	for bin in "$@"; do
		case "$bin" in /*) AFD_BIN=$bin ;; *) AFD_BIN=$ROOT/${bin#./} ;; esac
		rm -f "$AFD_DB" "$AFD_DB"-*
		afd_start workers.tcp_min_spare=2
		sleep 1
		options_msg >"$TMP/opt.sip"
		c0=$(ticks)
		wall=0
		for _ in $(seq "$N"); do
			t0=$(now_ms)
			"$SIPSEND" -t -p "$AFD_PORT" -s -w 2000 "$TMP/opt.sip" >/dev/null ||
				fail "no answer over TCP"
			wall=$(( wall + $(now_ms) - t0 ))
			[ "$GAP" = 0 ] || sleep "$GAP"
		done
		sleep 1 # the last connections' workers recycled and replaced
		c1=$(ticks)
		echo "round $r $bin: $N connections (gap $GAP s): CPU $(( (c1 - c0) * 1000000 / hz / N )) us per connection (all afd processes), wall $(( wall * 1000 / N )) us each; load $(cut -d' ' -f1-3 /proc/loadavg)"
		afd_stop
	done
done
