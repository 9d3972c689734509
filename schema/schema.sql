-- schema/schema.sql: afd's database, version 12 (PRAGMA user_version = 12).
-- The master applies it at start (schema/db.c); an older file is upgraded in
-- place by the steps in db.c. Times are Unix seconds; the active_* views show
-- them as text. The tables are a user interface: read them with sqlite3.

CREATE TABLE IF NOT EXISTS subscribers (
	impi      TEXT PRIMARY KEY,         -- private identity (user@realm)
	impu      TEXT NOT NULL,            -- public identity (sip:user@domain)
	password  TEXT,                     -- Digest password
	k         TEXT,                     -- AKA key, 32 hex digits
	opc       TEXT,                     -- AKA OPc, 32 hex digits
	amf       TEXT DEFAULT '8000',      -- AKA AMF, 4 hex digits
	sqn       INTEGER NOT NULL DEFAULT 0, -- AKA: the last SQN issued (SEQ||IND, 48 bits)
	extra_impu TEXT,                    -- more public identities, comma-separated
	op        TEXT,                     -- AKA OP, 32 hex digits (OPc is derived when opc is NULL)
	algorithm TEXT NOT NULL DEFAULT 'milenage' -- the SIM's: milenage | xor (TS 34.108 test USIM)
);
CREATE INDEX IF NOT EXISTS subscribers_impu ON subscribers(impu);
-- the user part of the IMPI: softphones send it as their Digest username
CREATE INDEX IF NOT EXISTS subscribers_user
	ON subscribers(substr(impi, 1, instr(impi, '@') - 1));

-- Every name a subscriber is looked up by, one row each, kept by the
-- triggers below (so rows provisioned with plain sqlite3 INSERTs are found
-- at once, no restart): kind 0 the impi, 1 the impu, 2 the impi's user part
-- (what softphones send as their Digest username), 3 each extra_impu entry
-- (blanks, tabs and <> taken out). The authentication gate finds a row by
-- any of them with one look-up of this key instead of up to three SELECTs
-- and a scan of every extra_impu. Not meant to be written by hand.
CREATE TABLE IF NOT EXISTS subscriber_ids (
	id    TEXT NOT NULL,
	kind  INTEGER NOT NULL,             -- 0 impi, 1 impu, 2 user part, 3 extra_impu
	impi  TEXT NOT NULL,                -- the subscribers row
	PRIMARY KEY (id, kind, impi)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriber_ids_impi ON subscriber_ids(impi);
-- (INSERT OR REPLACE deletes the old row without firing a DELETE trigger:
-- the INSERT trigger clears the impi's names itself.)
CREATE TRIGGER IF NOT EXISTS subscribers_ids_insert AFTER INSERT ON subscribers
BEGIN
	DELETE FROM subscriber_ids WHERE impi = NEW.impi;
	INSERT OR IGNORE INTO subscriber_ids (id, kind, impi)
	SELECT v, k, NEW.impi FROM (
		SELECT NEW.impi AS v, 0 AS k
		UNION ALL SELECT NEW.impu, 1
		UNION ALL SELECT substr(NEW.impi, 1, instr(NEW.impi, '@') - 1), 2
		UNION ALL SELECT replace(replace(replace(replace(value, ' ', ''),
		    char(9), ''), '<', ''), '>', ''), 3
		FROM json_each('[' || replace(json_quote(ifnull(NEW.extra_impu,
		    '')), ',', '","') || ']'))
	WHERE v IS NOT NULL AND v <> '';
END;
CREATE TRIGGER IF NOT EXISTS subscribers_ids_update
AFTER UPDATE OF impi, impu, extra_impu ON subscribers
BEGIN
	DELETE FROM subscriber_ids WHERE impi IN (OLD.impi, NEW.impi);
	INSERT OR IGNORE INTO subscriber_ids (id, kind, impi)
	SELECT v, k, NEW.impi FROM (
		SELECT NEW.impi AS v, 0 AS k
		UNION ALL SELECT NEW.impu, 1
		UNION ALL SELECT substr(NEW.impi, 1, instr(NEW.impi, '@') - 1), 2
		UNION ALL SELECT replace(replace(replace(replace(value, ' ', ''),
		    char(9), ''), '<', ''), '>', ''), 3
		FROM json_each('[' || replace(json_quote(ifnull(NEW.extra_impu,
		    '')), ',', '","') || ']'))
	WHERE v IS NOT NULL AND v <> '';
END;
CREATE TRIGGER IF NOT EXISTS subscribers_ids_delete AFTER DELETE ON subscribers
BEGIN
	DELETE FROM subscriber_ids WHERE impi = OLD.impi;
END;

-- The AKA vector issued with each challenge, until it is used or expires:
-- the answer may come to another worker, or after a restart. Keyed by
-- issued_us first, which the nonce carries (its server data): the rows of
-- a batch of challenges go to the end of the b-tree, and the answers find
-- them among the recent pages, where a key of the nonce alone (random:
-- RAND comes first) made every challenge and every answer write a page of
-- its own. Expired rows are swept by that key too (no other index).
CREATE TABLE IF NOT EXISTS auth_vectors (
	issued_us   INTEGER NOT NULL,       -- when it was issued, microseconds
	                                    -- since the epoch
	nonce       TEXT NOT NULL,          -- the challenge's nonce, as sent
	impi        TEXT NOT NULL,
	algorithm   TEXT NOT NULL,          -- AKAv1-MD5 | AKAv2-MD5
	rand        TEXT NOT NULL,          -- hex
	autn        TEXT NOT NULL,          -- hex
	xres        TEXT NOT NULL,          -- hex, 8 or 16 bytes
	ck          TEXT NOT NULL,          -- hex
	ik          TEXT NOT NULL,          -- hex
	ak          TEXT NOT NULL,          -- hex
	sqn         INTEGER NOT NULL,       -- the SQN inside AUTN
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used        INTEGER NOT NULL DEFAULT 0, -- 1 once a response was accepted
	nc          INTEGER NOT NULL DEFAULT -1, -- the highest nc accepted
	                                    -- (replay check; -1: none yet)
	PRIMARY KEY (issued_us, nonce)
) WITHOUT ROWID;

-- Digest nonce counts: the highest nc accepted per nonce (replay check),
-- keyed by the time the nonce was issued (inside it, see
-- sip/digest.h) for the same reason as auth_vectors; swept a nonce
-- lifetime after issued_us (workers/auth.c), when the nonce is stale.
CREATE TABLE IF NOT EXISTS auth_nonces (
	issued_us   INTEGER NOT NULL,
	nonce       TEXT NOT NULL,
	nc          INTEGER NOT NULL,
	PRIMARY KEY (issued_us, nonce)
) WITHOUT ROWID;

-- Server keys (the Digest nonce HMAC key), made once, shared by workers.
CREATE TABLE IF NOT EXISTS afd_keys (
	name        TEXT PRIMARY KEY,
	value       BLOB NOT NULL,
	created_at  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS registrations (
	id          INTEGER PRIMARY KEY,
	aor         TEXT NOT NULL,          -- address of record, normalised
	contact     TEXT NOT NULL,          -- the contact URI
	params      TEXT NOT NULL DEFAULT '', -- contact params as sent (feature tags), without expires/q
	expires_at  INTEGER NOT NULL,       -- Unix seconds
	q           REAL,                   -- NULL: no q given
	call_id     TEXT NOT NULL,
	cseq        INTEGER NOT NULL,
	branch      TEXT,                   -- top Via branch of the REGISTER (retransmissions)
	path        TEXT,                   -- Path header values, comma-separated
	received    TEXT,                   -- source address:port of the REGISTER
	transport   TEXT NOT NULL,          -- udp | tcp
	conn_slot   TEXT,                   -- TCP: worker slot (t3) of the flow
	conn_id     INTEGER,                -- TCP: connection id of the flow
	instance    TEXT,                   -- +sip.instance (RFC 5626)
	reg_id      INTEGER,                -- reg-id (RFC 5626)
	user_agent  TEXT,
	registered_at INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	-- OPTIONS pings ([registrar] ping_interval; workers/ping.c)
	ping_at     INTEGER,                -- next ping due (NULL: registered_at + interval)
	ping_branch TEXT,                   -- Via branch of the ping in flight
	ping_sent_at INTEGER,               -- when the ping in flight was sent
	ping_ok_at  INTEGER,                -- last answered ping
	ping_failures INTEGER NOT NULL DEFAULT 0, -- unanswered pings in a row
	-- network-initiated de-registration, set by hand by a tester:
	--   UPDATE registrations SET deregister = 'deactivated' WHERE aor = '...';
	-- the sweeper removes the binding within a second and its watchers get
	-- a NOTIFY with this event (deactivated: re-register; rejected: don't)
	deregister  TEXT CHECK (deregister IN ('deactivated', 'rejected')),
	-- what authentication decided ([auth] mode; NULL with mode = none)
	impi        TEXT,                   -- the private identity that authenticated
	integrity   TEXT,                   -- integrity-protected as the UE sent it
	security_client TEXT                -- Security-Client (sec-agree; no IPsec yet)
);
CREATE INDEX IF NOT EXISTS registrations_expires ON registrations(expires_at);
-- One binding is identified by (aor, contact) when it has no instance
-- (RFC 3261 10.3), by (aor, instance, reg_id) when it has one (RFC 5626 6
-- and 7, RFC 5627; no reg-id counts as 0): two flows of one phone, or two
-- phones, may register the same contact URI.
CREATE UNIQUE INDEX IF NOT EXISTS registrations_contact
	ON registrations(aor, contact) WHERE instance IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS registrations_flow
	ON registrations(aor, instance, coalesce(reg_id, 0))
	WHERE instance IS NOT NULL;
CREATE INDEX IF NOT EXISTS registrations_deregister ON registrations(deregister)
	WHERE deregister IS NOT NULL;
-- The TCP worker asks whether a binding uses its connection.
CREATE INDEX IF NOT EXISTS registrations_conn ON registrations(conn_id)
	WHERE conn_id IS NOT NULL;

-- One reg-event subscription (RFC 3680) = one dialog; afd is the notifier.
-- version and cseq are taken (incremented and committed) BEFORE each NOTIFY
-- is sent, so no crash ever makes afd repeat one.
CREATE TABLE IF NOT EXISTS reg_subscriptions (
	id          INTEGER PRIMARY KEY,
	aor         TEXT NOT NULL,          -- the watched public identity
	call_id     TEXT NOT NULL,
	from_tag    TEXT NOT NULL,          -- the subscriber's tag
	to_tag      TEXT NOT NULL,          -- afd's tag
	contact     TEXT NOT NULL,          -- where NOTIFYs go (remote target)
	route       TEXT,                   -- route set, comma-separated
	received    TEXT,                   -- source address:port of the SUBSCRIBE
	transport   TEXT,                   -- udp | tcp
	cseq        INTEGER NOT NULL DEFAULT 0, -- our last NOTIFY CSeq (0: none yet)
	expires_at  INTEGER NOT NULL,
	version     INTEGER NOT NULL DEFAULT 0, -- reginfo version last sent (-1: none yet)
	watcher     TEXT,                   -- the subscriber's AOR (From, normalised)
	event_id    TEXT,                   -- the id parameter of its Event header
	conn_slot   TEXT,                   -- TCP: worker slot (t3) of the flow
	conn_id     INTEGER,                -- TCP: connection id of the flow
	state       TEXT NOT NULL DEFAULT 'active'
	            CHECK (state IN ('active', 'terminated')),
	reason      TEXT,                   -- terminated: timeout | noresource | deactivated | rejected
	pending     INTEGER NOT NULL DEFAULT 0, -- 0: nothing owed; 1: a NOTIFY sent, unanswered; 2: a NOTIFY owed (a change, a refresh, the end) not taken yet
	last_status INTEGER,                -- final answer to the last NOTIFY (408: none came)
	sent_at     INTEGER,                -- when the last NOTIFY was sent
	created_at  INTEGER NOT NULL DEFAULT 0,
	updated_at  INTEGER NOT NULL DEFAULT 0,
	UNIQUE (call_id, from_tag, to_tag)
);
CREATE INDEX IF NOT EXISTS reg_subscriptions_aor ON reg_subscriptions(aor);
CREATE INDEX IF NOT EXISTS reg_subscriptions_expires ON reg_subscriptions(expires_at);
CREATE INDEX IF NOT EXISTS reg_subscriptions_pending ON reg_subscriptions(pending)
	WHERE pending <> 0;
-- the sweeper's look for ended subscriptions to delete, twice a second
CREATE INDEX IF NOT EXISTS reg_subscriptions_terminated
	ON reg_subscriptions(updated_at) WHERE state = 'terminated';

-- The contact events a subscription's next NOTIFY owes its watcher (RFC 3680
-- 5.1): written in the same transaction as the binding's change, by
-- whichever worker made it, with a copy of the binding (a removed one is
-- gone from registrations); deleted once a NOTIFY that carried them was
-- answered. The reg-event notifier reads them (workers/regnotify.c).
CREATE TABLE IF NOT EXISTS reg_sub_events (
	id          INTEGER PRIMARY KEY,
	sub_id      INTEGER NOT NULL,       -- reg_subscriptions.id
	binding_id  INTEGER NOT NULL,       -- registrations.id (the contact id c<N>)
	event       TEXT NOT NULL,          -- created | refreshed | shortened | expired | unregistered | deactivated | rejected
	aor         TEXT NOT NULL,
	contact     TEXT NOT NULL,
	params      TEXT NOT NULL DEFAULT '',
	q           REAL,
	call_id     TEXT,
	cseq        INTEGER,
	expires_at  INTEGER NOT NULL,
	registered_at INTEGER NOT NULL,
	at          INTEGER NOT NULL        -- when the change was made
);
CREATE INDEX IF NOT EXISTS reg_sub_events_sub ON reg_sub_events(sub_id);

CREATE TABLE IF NOT EXISTS dialogs (
	id          INTEGER PRIMARY KEY,
	a_call_id   TEXT NOT NULL,
	a_from_tag  TEXT,
	a_to_tag    TEXT,
	a_cseq      INTEGER,
	b_call_id   TEXT NOT NULL,
	b_from_tag  TEXT,
	b_to_tag    TEXT,
	b_cseq      INTEGER,
	caller      TEXT NOT NULL,
	callee      TEXT NOT NULL,
	stage       TEXT NOT NULL DEFAULT 'trying'
	            CHECK (stage IN ('trying','early','ringing','answered',
	                             'confirmed','terminating','ended')),
	owner_slot  TEXT,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	-- the B2BUA's working state (workers/b2bua.c, schema/db_dialog.h).
	-- a_ is the caller's leg, b_ the callee's; a_cseq / b_in_cseq are the
	-- last CSeq each phone sent, a_out_cseq / b_cseq afd's own.
	a_contact   TEXT,                   -- the caller's Contact URI
	a_route     TEXT,                   -- route set towards the caller
	a_peer      TEXT,                   -- 'udp ip:port' | 'tcp ip:port slot conn_id'
	a_out_cseq  INTEGER NOT NULL DEFAULT 0,
	a_inv_cseq  INTEGER NOT NULL DEFAULT 0, -- afd's last INVITE on the A-leg
	b_contact   TEXT,                   -- the callee's Contact URI
	b_route     TEXT,                   -- route set towards the callee (its Path)
	b_peer      TEXT,
	b_in_cseq   INTEGER NOT NULL DEFAULT 0,
	b_inv_cseq  INTEGER NOT NULL DEFAULT 1,
	b_branch    TEXT,                   -- Via branch of afd's B-leg INVITE
	answered_at INTEGER,
	ring_deadline INTEGER,              -- [calls] ring_timeout: 408 + CANCEL at
	end_reason  TEXT,                   -- why it ends (set when terminating)
	forks       INTEGER NOT NULL DEFAULT 0 -- B-leg INVITEs sent in parallel
	                                    -- (0: one binding, no dialog_forks rows)
);
CREATE INDEX IF NOT EXISTS dialogs_a ON dialogs(a_call_id);
CREATE INDEX IF NOT EXISTS dialogs_b ON dialogs(b_call_id);

-- The two INVITEs a call keeps, apart from its dialogs row so that each
-- stage's save rewrites a small row (several to a page): written with the
-- row, again only when one changes (a forked call's winner).
CREATE TABLE IF NOT EXISTS dialog_requests (
	dialog_id   INTEGER PRIMARY KEY,    -- dialogs.id
	a_request   TEXT,                   -- the caller's INVITE as received
	b_request   TEXT                    -- afd's B-leg INVITE as sent
);

-- The 2xx afd sent to a caller over UDP for its INVITE, byte for byte as
-- sent (the callee's SDP, afd's To tag and Contact), from the commit that
-- moves the call to 'answered' until the caller's ACK (or the call's end):
-- a replacement of the worker that sent it sends it again from here until
-- the ACK comes (RFC 3261 13.3.1.4, RFC 6026). A row lives for one round
-- trip; a call over TCP never has one.
CREATE TABLE IF NOT EXISTS dialog_answers (
	dialog_id   INTEGER PRIMARY KEY,    -- dialogs.id
	response    BLOB NOT NULL           -- the 2xx as sent
);
CREATE TRIGGER IF NOT EXISTS dialogs_answer_delete AFTER DELETE ON dialogs
BEGIN
	DELETE FROM dialog_answers WHERE dialog_id = old.id;
END;

-- The calls not ended (the sweeper's, a restarted worker's and
-- active_calls' rows): kept by the triggers below, so that a stage's
-- save touches no index; a row is added with the call and removed
-- when its stage becomes 'ended'.
CREATE TABLE IF NOT EXISTS live_dialogs (
	id          INTEGER PRIMARY KEY     -- dialogs.id
);
CREATE TRIGGER IF NOT EXISTS dialogs_live_insert AFTER INSERT ON dialogs
	WHEN new.stage <> 'ended'
BEGIN
	INSERT OR IGNORE INTO live_dialogs (id) VALUES (new.id);
END;
CREATE TRIGGER IF NOT EXISTS dialogs_live_end AFTER UPDATE OF stage ON dialogs
	WHEN new.stage = 'ended' AND old.stage <> 'ended'
BEGIN
	DELETE FROM live_dialogs WHERE id = new.id;
END;
CREATE TRIGGER IF NOT EXISTS dialogs_live_again AFTER UPDATE OF stage ON dialogs
	WHEN new.stage <> 'ended' AND old.stage = 'ended'
BEGIN
	INSERT OR IGNORE INTO live_dialogs (id) VALUES (new.id);
END;
CREATE TRIGGER IF NOT EXISTS dialogs_live_delete AFTER DELETE ON dialogs
BEGIN
	DELETE FROM live_dialogs WHERE id = old.id;
	DELETE FROM dialog_requests WHERE dialog_id = old.id;
END;

-- One B-leg INVITE of a call forked to several bindings of the callee
-- (RFC 3261 16.7 as a B2BUA does it: one Call-ID, one branch per binding).
-- The dialogs row's b_ columns are the branch last heard from (a
-- provisional) and, once one answers 2xx, the winner.
CREATE TABLE IF NOT EXISTS dialog_forks (
	id          INTEGER PRIMARY KEY,
	dialog_id   INTEGER NOT NULL,       -- dialogs.id
	branch      TEXT NOT NULL,          -- Via branch of this INVITE
	target      TEXT,                   -- the binding's Contact (Request-URI)
	peer        TEXT,                   -- as dialogs.b_peer
	route       TEXT,                   -- the binding's Path
	request     TEXT,                   -- the INVITE as sent
	state       TEXT NOT NULL DEFAULT 'calling'
	            CHECK (state IN ('calling','early','cancel_owed','cancelled',
	                             'answered','failed','bye')),
	status      INTEGER,                -- its last final status
	to_tag      TEXT,                   -- the callee's tag on this branch
	contact     TEXT,                   -- the callee's Contact on this branch
	response    TEXT,                   -- its final non-2xx answer as received
	updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dialog_forks_dialog ON dialog_forks(dialog_id);
CREATE INDEX IF NOT EXISTS dialog_forks_owed ON dialog_forks(dialog_id) WHERE state = 'cancel_owed';

-- A request of a phone inside its call that afd relays to the other phone
-- as its own (PRACK, UPDATE, INFO, re-INVITE, BYE, ...), or a pager-mode
-- MESSAGE to a callee with one binding (dialog_id 0: no call), until the
-- final answer: a replacement worker relays that answer back from this row.
-- Keyed by branch alone (WITHOUT ROWID, no other index): a relay writes
-- one page when it starts and one when it ends; the few rows in flight
-- are scanned when a call ends.
CREATE TABLE IF NOT EXISTS dialog_relays (
	branch      TEXT PRIMARY KEY,       -- Via branch of afd's relayed request
	dialog_id   INTEGER NOT NULL,       -- dialogs.id
	method      TEXT NOT NULL,
	request     TEXT NOT NULL,          -- the phone's request as received
	peer        TEXT NOT NULL,          -- where it came from (as dialogs.a_peer)
	created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS calls (
	id          INTEGER PRIMARY KEY,
	caller      TEXT NOT NULL,
	callee      TEXT NOT NULL,
	started_at  INTEGER NOT NULL,
	answered_at INTEGER,
	ended_at    INTEGER,
	end_reason  TEXT,                   -- 'caller hung up', '486 Busy Here', 'worker died', ...
	dialog_id   INTEGER,                -- dialogs.id
	a_call_id   TEXT,
	b_call_id   TEXT
);

CREATE TABLE IF NOT EXISTS workers (
	slot        TEXT PRIMARY KEY,       -- u0, t0, t1, ...
	kind        TEXT NOT NULL,          -- udp | tcp
	pid         INTEGER,
	state       TEXT NOT NULL,          -- starting | idle | busy | stopped
	serving     TEXT,                   -- tcp: the peer address:port
	started_at  INTEGER,
	restarts    INTEGER NOT NULL DEFAULT 0
);

CREATE VIEW IF NOT EXISTS active_registrations AS
	SELECT aor, contact, expires_at - CAST(strftime('%s','now') AS INTEGER) AS expires_in,
	       datetime(expires_at, 'unixepoch') AS expires, q, transport, received,
	       instance, reg_id, user_agent, call_id, cseq,
	       datetime(registered_at, 'unixepoch') AS registered,
	       datetime(ping_ok_at, 'unixepoch') AS ping_ok, ping_failures
	FROM registrations
	WHERE expires_at > CAST(strftime('%s','now') AS INTEGER);

CREATE VIEW IF NOT EXISTS active_reg_subscriptions AS
	SELECT aor, watcher, state, version, cseq,
	       expires_at - CAST(strftime('%s','now') AS INTEGER) AS expires_in,
	       datetime(expires_at, 'unixepoch') AS expires, pending, last_status,
	       transport, received, contact, call_id
	FROM reg_subscriptions
	WHERE state = 'active';

CREATE VIEW IF NOT EXISTS active_calls AS
	SELECT id, caller, callee, stage, owner_slot, a_call_id, b_call_id,
	       datetime(created_at, 'unixepoch') AS created,
	       datetime(answered_at, 'unixepoch') AS answered,
	       datetime(updated_at, 'unixepoch') AS updated
	FROM dialogs
	WHERE id IN (SELECT id FROM live_dialogs) AND stage <> 'ended';
