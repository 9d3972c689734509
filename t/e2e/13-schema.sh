#!/bin/bash
# The database: every table of DESIGN.md and the two views, WAL mode,
# user_version set; data survives a restart; an older (version 0) file is
# upgraded in place with its rows kept.
. "$(dirname "$0")/lib.sh"

afd_start

for t in subscribers registrations reg_subscriptions dialogs calls workers; do
	assert_eq 1 "$(sql "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '$t'")" "table $t"
done
for v in active_registrations active_calls; do
	assert_eq 1 "$(sql "SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name = '$v'")" "view $v"
	sql "SELECT * FROM $v LIMIT 1" >/dev/null || fail "view $v does not read"
done
# The key columns of DESIGN.md.
cols() { sql "SELECT group_concat(name, ' ') FROM pragma_table_info('$1')"; }
for spec in "subscribers impi impu password k opc amf sqn" \
	"registrations aor contact expires_at q call_id cseq path received transport instance reg_id user_agent" \
	"reg_subscriptions aor call_id from_tag to_tag contact expires_at version" \
	"dialogs a_call_id b_call_id caller callee stage owner_slot created_at updated_at" \
	"calls caller callee started_at answered_at ended_at end_reason" \
	"workers slot kind pid state started_at restarts"; do
	set -- $spec
	t=$1; shift
	have=" $(cols "$t") "
	for c in "$@"; do
		case "$have" in *" $c "*) ;; *) fail "table $t has no column $c (has:$have)" ;; esac
	done
done
assert_eq wal "$(sql 'PRAGMA journal_mode')" "journal_mode"
version=$(sql 'PRAGMA user_version')
say "user_version $version"
assert_eq 13 "$version" "user_version (schema/db.h DB_SCHEMA_VERSION)"

# Data kept across a restart (and the schema is not applied twice).
sql "INSERT INTO subscribers (impi, impu, password) VALUES ('keep@$DOMAIN', 'sip:keep@$DOMAIN', 'secret')"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
afd_start
assert_eq "sip:keep@$DOMAIN|secret" "$(sql "SELECT impu, password FROM subscribers WHERE impi = 'keep@$DOMAIN'")" "subscriber after restart"
assert_eq "$version" "$(sql 'PRAGMA user_version')" "user_version after restart"
afd_stop

# A version 0 file of an early prototype: tables with fewer columns, rows in
# them, no views. afd upgrades it in place and keeps the rows.
rm -f "$AFD_DB" "$AFD_DB-wal" "$AFD_DB-shm"
now=$(date +%s)
sqlite3 "$AFD_DB" <<SQL || fail "cannot make the version 0 file"
CREATE TABLE registrations (id INTEGER PRIMARY KEY, aor TEXT NOT NULL,
	contact TEXT NOT NULL, expires_at INTEGER NOT NULL, call_id TEXT NOT NULL,
	cseq INTEGER NOT NULL, transport TEXT NOT NULL);
INSERT INTO registrations (aor, contact, expires_at, call_id, cseq, transport)
	VALUES ('sip:old@$DOMAIN', 'sip:old@127.0.0.1:5999', $now + 3600, 'old-call', 7, 'udp');
CREATE TABLE subscribers (impi TEXT PRIMARY KEY, impu TEXT NOT NULL, password TEXT);
INSERT INTO subscribers VALUES ('old@$DOMAIN', 'sip:old@$DOMAIN', 'pw');
PRAGMA user_version = 0;
SQL
afd_start
assert_eq "$version" "$(sql 'PRAGMA user_version')" "user_version after the upgrade"
assert_eq "sip:old@127.0.0.1:5999|old-call|7|udp" \
	"$(sql "SELECT contact, call_id, cseq, transport FROM registrations WHERE aor = 'sip:old@$DOMAIN'")" \
	"the version 0 binding after the upgrade"
assert_eq "sip:old@$DOMAIN|pw|8000" "$(sql "SELECT impu, password, amf FROM subscribers WHERE impi = 'old@$DOMAIN'")" \
	"the version 0 subscriber after the upgrade"
have=" $(cols registrations) "
case "$have" in *" instance "*" user_agent "*) ;; *) fail "registrations not upgraded: $have" ;; esac
assert_eq 1 "$(sql "SELECT count(*) FROM active_registrations WHERE aor = 'sip:old@$DOMAIN'")" "the old binding in active_registrations"
assert_eq wal "$(sql 'PRAGMA journal_mode')" "journal_mode after the upgrade"
# the tables of later steps are made too (12: the 2xx kept until an ACK;
# 13: the auth tables keyed by the time their nonce was issued)
for t in dialog_requests live_dialogs dialog_relays dialog_answers; do
	assert_eq 1 "$(sql "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '$t'")" "table $t after the upgrade"
done
for t in auth_vectors auth_nonces; do
	assert_eq 1 "$(sql "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '$t' AND sql LIKE '%issued_us%WITHOUT ROWID'")" "table $t keyed by issued_us after the upgrade"
done
# The upgraded binding is served: a query REGISTER lists it.
out=$(FROM_USER=old req REGISTER "sip:$DOMAIN" | sip) || fail "no answer to a query REGISTER"
assert_match '^SIP/2.0 200 ' "$out" "query REGISTER after the upgrade"
assert_match '^Contact: .*sip:old@127.0.0.1:5999' "$out" "the old binding listed"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"

# A file newer than this afd is refused at start, naming the version.
sql "PRAGMA user_version = 999"
out=$(timeout $(( 10 * SCALE )) "$AFD_BIN" -f "$AFD_CONF" 2>&1); rc=$?
echo "$out"
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "afd starts on a version 999 database (exit $rc)"
assert_match '999' "$out" "message names the database's version"
