#!/bin/bash
# SIGTERM and SIGINT to the master: every afd process is gone within two
# seconds and the exit status is 0, also with a TCP connection open.
. "$(dirname "$0")/lib.sh"

for sig in TERM INT; do
	afd_start
	options_msg >"$TMP/opt.sip"
	tcp_session conn$sig
	assert_match '^#done 1' "$(tcp_send conn$sig "$TMP/opt.sip")" "open connection before SIG$sig"
	pids=$(afd_pids | tr '\n' ' ')
	say "afd processes before SIG$sig: $pids"
	# master, udp worker, db checkpointer, 2 idle tcp workers + the busy one
	[ $(echo $pids | wc -w) -ge 5 ] || fail "expected master, udp worker, checkpointer and tcp workers: $pids"
	assert_match 'afd: db checkpointer' "$(ps_afd)" "the checkpointer before SIG$sig"
	afd_stop $sig
	say "SIG$sig: master exited with $AFD_RC after $AFD_STOP_MS ms"
	assert_eq 0 "$AFD_RC" "exit status on SIG$sig"
	assert_le "$AFD_STOP_MS" $(( 2000 * SCALE )) "ms until the master exits on SIG$sig"
	# Every worker is gone too (by then, or within what is left of 2 s).
	left=$(( 2000 * SCALE - AFD_STOP_MS ))
	[ $left -lt 100 ] && left=100
	t0=$(now_ms)
	for p in $pids; do
		while kill -0 "$p" 2>/dev/null && ! ps -o stat= -p "$p" | grep -q Z; do
			[ $(( $(now_ms) - t0 )) -lt $left ] || { ps -fp "$p"; fail "process $p still there after SIG$sig"; }
			sleep 0.05
		done
	done
	tcp_close conn$sig
	# The port is free again.
	out=$(options_msg | sip -s -w 300 2>/dev/null) && fail "something still answers after SIG$sig: $out"
	rm -f "$TMP/conn$sig.in"
done
