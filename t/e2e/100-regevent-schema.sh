#!/bin/bash
# The reg event's tables in the running daemon: afd started on a version 1
# database (before the reg event) upgrades it in place to the current one and
# keeps its rows: registrations gains `deregister`, reg_subscriptions the
# notifier's columns; the view active_reg_subscriptions reads. The
# tester's network-initiated de-registration statement (README, "The reg
# event") is accepted while afd runs, and a misspelt event is refused by
# the CHECK.
. "$(dirname "$0")/lib.sh"

now=$(date +%s)
sqlite3 "$AFD_DB" <<SQL || fail "cannot make the version 1 file"
CREATE TABLE registrations (id INTEGER PRIMARY KEY, aor TEXT NOT NULL,
	contact TEXT NOT NULL, params TEXT NOT NULL DEFAULT '',
	expires_at INTEGER NOT NULL, q REAL, call_id TEXT NOT NULL,
	cseq INTEGER NOT NULL, branch TEXT, path TEXT, received TEXT,
	transport TEXT NOT NULL, conn_slot TEXT, conn_id INTEGER, instance TEXT,
	reg_id INTEGER, user_agent TEXT, registered_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL, UNIQUE (aor, contact));
CREATE TABLE reg_subscriptions (id INTEGER PRIMARY KEY, aor TEXT NOT NULL,
	call_id TEXT NOT NULL, from_tag TEXT NOT NULL, to_tag TEXT NOT NULL,
	contact TEXT NOT NULL, route TEXT, received TEXT, transport TEXT,
	cseq INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL,
	version INTEGER NOT NULL DEFAULT 0, UNIQUE (call_id, from_tag, to_tag));
INSERT INTO registrations (aor, contact, expires_at, call_id, cseq,
	transport, registered_at, updated_at)
	VALUES ('sip:old@$DOMAIN', 'sip:old@127.0.0.1:5999', $now + 3600,
	'old-call', 7, 'udp', $now, $now);
INSERT INTO reg_subscriptions (aor, call_id, from_tag, to_tag, contact,
	cseq, expires_at, version)
	VALUES ('sip:old@$DOMAIN', 'sub-call', 'ft', 'tt',
	'sip:old@127.0.0.1:5999', 4, $now + 3600, 3);
PRAGMA user_version = 1;
SQL
afd_start

version=$(sql 'PRAGMA user_version')
[ "$version" -gt 1 ] || fail "user_version after the upgrade: $version"
assert_eq "sip:old@127.0.0.1:5999|7|" \
	"$(sql "SELECT contact, cseq, deregister FROM registrations WHERE aor = 'sip:old@$DOMAIN'")" \
	"the version 1 binding, deregister NULL"
assert_eq "sip:old@$DOMAIN|3|4|active|0" \
	"$(sql "SELECT aor, version, cseq, state, pending FROM reg_subscriptions WHERE call_id = 'sub-call'")" \
	"the version 1 subscription with the notifier's columns"
assert_eq "sip:old@$DOMAIN|active|3" \
	"$(sql "SELECT aor, state, version FROM active_reg_subscriptions")" \
	"active_reg_subscriptions"

# The tester's statement, exactly as the README shows it: accepted while
# afd runs. (Once the sweeper acts on it the binding may already be gone:
# either is right here; the NOTIFYs it causes are another scenario's.)
sql "UPDATE registrations SET deregister = 'deactivated' WHERE aor = 'sip:old@$DOMAIN'" ||
	fail "the documented de-registration statement failed"
mark=$(sql "SELECT ifnull(deregister, 'none') FROM registrations WHERE aor = 'sip:old@$DOMAIN'")
case "$mark" in deactivated | "") ;; *) fail "the binding is not marked: '$mark'" ;; esac
# A misspelt event is refused by the CHECK, naming it.
sql "INSERT INTO registrations (aor, contact, expires_at, call_id, cseq,
	transport, registered_at, updated_at) VALUES ('sip:typo@$DOMAIN',
	'sip:typo@127.0.0.1:5998', $now + 3600, 'typo-call', 1, 'udp', $now, $now)"
out=$(sql "UPDATE registrations SET deregister = 'deactivate' WHERE aor = 'sip:typo@$DOMAIN'" 2>&1) &&
	fail "a misspelt event was accepted"
assert_match 'CHECK constraint failed' "$out" "the CHECK names the problem"
assert_eq 1 "$(sql "SELECT count(*) FROM registrations WHERE aor = 'sip:typo@$DOMAIN' AND deregister IS NULL")" \
	"nothing marked by the misspelt statement"
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
