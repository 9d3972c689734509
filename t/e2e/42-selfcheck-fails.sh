#!/bin/bash
# afd's runtime self-checks (a "BUG:" line, an idle TCP worker holding more
# memory blocks than it started with) do not stop a worker, so the harness
# must catch them: a scenario whose afd log gets such a line fails, even
# when everything else passed. Runs a small scenario of its own twice, once
# per kind of line, and once with a clean log as a control.
. "$(dirname "$0")/lib.sh"

inner=$TMP/inner-scenario.sh
cat >"$inner" <<INNER
#!/bin/bash
. "$ROOT/t/e2e/lib.sh"
afd_start
[ -n "\$INJECT" ] && echo "\$INJECT" >>"\$AFD_LOG"
afd_stop
assert_eq 0 "\$AFD_RC" "exit status"
INNER

run_inner() { # LINE: run the inner scenario with LINE added to afd's log
	local rc kept
	INJECT=$1 AFD_PORT= bash "$inner" >"$TMP/inner.out" 2>&1
	rc=$?
	kept=$(sed -n 's/^(kept \(\/.*\))$/\1/p' "$TMP/inner.out")
	[ -n "$kept" ] && rm -rf "$kept"
	return $rc
}

run_inner "" || fail "the control scenario failed: $(cat "$TMP/inner.out")"
for line in \
	'22:00:00.000 afd[1] tcp worker 0: warn: BUG: CONN_NEW 7 while busy: refused' \
	'22:00:00.000 afd[1] tcp worker 0: warn: memory: 130 blocks while idle, expected 120' \
	'22:00:00.000 afd[1] udp worker: warn: BUG: handles left open at exit'; do
	if run_inner "$line"; then
		fail "a scenario whose afd log has '$line' passed"
	fi
	assert_match "self-checks reported" "$(cat "$TMP/inner.out")" "the failing scenario's reason"
done
