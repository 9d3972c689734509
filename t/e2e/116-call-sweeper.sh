#!/bin/bash
# The sweeper (UDP worker, every 500 ms) ends calls nobody will end any
# more: one stuck in 'terminating' past 64*T1, one still ringing past
# ring_timeout + 64*T1 (its owner gone for good), one silent past
# [calls] max_idle, one whose callee is no longer registered; a live call
# is left alone. When afd starts again, the calls of its previous run are
# ended. Each gets stage 'ended'
# and a calls row with the reason.
. "$(dirname "$0")/lib.sh"

afd_start calls.ring_timeout=5 calls.max_idle=60 afd.sip_t1=100
# rows of this run (not of a previous one, which afd ends as it starts)
sleep 1.1
now=$(date +%s)
row() { # A_CALL_ID STAGE UPDATED_AT [END_REASON]
	sql "INSERT INTO dialogs (a_call_id, b_call_id, caller, callee, stage,
	     owner_slot, created_at, updated_at, answered_at, end_reason)
	     VALUES ('$1', '$1-b', 'sip:alice@$DOMAIN', 'sip:bob@$DOMAIN', '$2',
	     't9', $3, $3, CASE WHEN '$2' IN ('confirmed', 'terminating') THEN $3 END,
	     ${4:-NULL})"
}
reg() { # USER: a live binding
	sql "INSERT INTO registrations (aor, contact, expires_at, call_id, cseq,
	     transport, registered_at, updated_at) VALUES ('sip:$1@$DOMAIN',
	     'sip:$1@127.0.0.1:9', $(( now + 600 )), 'c-$1', 1, 'udp', $now, $now)"
}
reg alice
reg bob
row ending terminating $(( now - 20 )) "'callee hung up'"
row ringing ringing $(( now - 20 ))
row idle confirmed $(( now - 100 ))
row live confirmed $(( now - 20 ))
row young ringing $(( now - 2 ))
sql "INSERT INTO dialogs (a_call_id, b_call_id, caller, callee, stage, owner_slot,
     created_at, updated_at, answered_at) VALUES ('gone', 'gone-b',
     'sip:alice@$DOMAIN', 'sip:carol@$DOMAIN', 'confirmed', 't9', $now, $now, $now)"
reason() { sql "SELECT end_reason FROM calls WHERE a_call_id = '$1'"; }
wait_for "[ -n \"\$(reason idle)\" ]" 3 || fail "the sweeper ended nothing"
assert_eq "callee hung up" "$(reason ending)" "a call stuck ending"
assert_eq "worker died" "$(reason ringing)" "a call ringing with nobody to end it"
assert_eq "stale" "$(reason idle)" "a call silent past max_idle"
assert_eq "" "$(reason live)" "a live call"
assert_eq "" "$(reason young)" "a call ringing within ring_timeout"
assert_eq "de-registered" "$(reason gone)" "a call whose callee is no longer registered"
assert_eq "ended ended ended confirmed ringing ended" \
	"$(sql "SELECT group_concat(stage, ' ') FROM (SELECT stage FROM dialogs ORDER BY id)")" "the stages"
log_has "sweeper: call [0-9]+ \(terminating, t9" || fail "no log line for the swept call"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"

# afd started again: the calls of its previous run are ended at once
# (their TCP connections went with it; BYE/CANCEL go where the rows say)
sleep 1.1
afd_start
wait_for "[ \"\$(reason live)\" = 'afd restarted' ]" 3 || fail "a call of the previous run: $(reason live)"
assert_eq "afd restarted" "$(reason young)" "a call ringing in the previous run"
assert_eq "0" "$(sql 'SELECT count(*) FROM active_calls')" "calls left open"
log_has "2 calls left by afd's previous run ended" || fail "no log line for the previous run's calls"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
