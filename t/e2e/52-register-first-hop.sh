#!/bin/bash
# RFC 5626 6: a REGISTER using outbound (+sip.instance and reg-id) that
# came through a proxy (more than one Via, or a Path) whose first hop did
# not put ";ob" in its Path URI gets 439 First Hop Lacks Outbound Support,
# and nothing is stored; with [registrar] outbound_require_ob = no it is
# registered.
. "$(dirname "$0")/lib.sh"

afd_start
INST='"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
UAVIA='Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK-ue-1'
# obreg USER [HEADER]...: an outbound REGISTER through the P-CSCF.
obreg() {
	local u=$1
	shift
	FROM_USER=$u req REGISTER "sip:$DOMAIN" "Contact: <sip:$u@10.0.0.7:5060;ob>;+sip.instance=$INST;reg-id=1" \
		"Supported: path, outbound" "Expires: 600" "$@" | sip
}
rows() { sql "SELECT count(*) FROM registrations WHERE aor = 'sip:$1@$DOMAIN'"; }

# Through a proxy whose Path lacks ;ob: 439.
out=$(obreg a1 "$UAVIA" "Path: <sip:pcscf.example.net;lr>") || fail "no answer (Path without ob)"
echo "$out" | head -n 1
assert_match '^SIP/2.0 439 First Hop Lacks Outbound Support' "$out" "Path without ;ob"
assert_eq 0 "$(rows a1)" "rows after a 439"
# Two Vias and no Path at all: the first hop did not take part either.
out=$(obreg a2 "$UAVIA") || fail "no answer (two Vias, no Path)"
assert_eq 439 "$(status_of "$out")" "two Vias, no Path"
# A Path with ;ob, and no second Via (the Path alone says a proxy was there).
out=$(obreg a3 "Path: <sip:pcscf.example.net;lr;ob>") || fail "no answer (Path with ob)"
assert_eq 200 "$(status_of "$out")" "Path with ;ob"
assert_eq 1 "$(rows a3)" "rows after Path with ;ob"
out=$(obreg a4 "Path: <sip:pcscf.example.net;lr>") || fail "no answer (one Via, Path without ob)"
assert_eq 439 "$(status_of "$out")" "one Via and a Path without ;ob"
# Two proxies: the first hop is the last Path value (each proxy adds its
# own on top).
out=$(obreg a5 "$UAVIA" "Path: <sip:scscf-side.example.net;lr>" "Path: <sip:pcscf.example.net;lr;ob>") ||
	fail "no answer (first hop with ob)"
assert_eq 200 "$(status_of "$out")" "first hop (last Path) with ;ob"
out=$(obreg a6 "$UAVIA" "Path: <sip:other.example.net;lr;ob>, <sip:pcscf.example.net;lr>") ||
	fail "no answer (first hop without ob)"
assert_eq 439 "$(status_of "$out")" "first hop (last Path) without ;ob"
# No reg-id: not outbound, no check.
out=$(FROM_USER=a7 req REGISTER "sip:$DOMAIN" "Contact: <sip:a7@10.0.0.7:5060>;+sip.instance=$INST" "$UAVIA" \
	"Path: <sip:pcscf.example.net;lr>" "Expires: 600" | sip) || fail "no answer (no reg-id)"
assert_eq 200 "$(status_of "$out")" "instance without reg-id through a proxy without ;ob"
# Straight from the UA: no check either.
out=$(obreg a8) || fail "no answer (direct)"
assert_eq 200 "$(status_of "$out")" "outbound REGISTER straight from the UA"

# A lab P-CSCF that does not add ;ob: outbound_require_ob = no.
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
afd_start registrar.outbound_require_ob=no
out=$(obreg a1 "$UAVIA" "Path: <sip:pcscf.example.net;lr>") || fail "no answer (outbound_require_ob = no)"
assert_eq 200 "$(status_of "$out")" "Path without ;ob, outbound_require_ob = no"
assert_eq "1|<sip:pcscf.example.net;lr>" "$(sql "SELECT reg_id, path FROM registrations WHERE aor = 'sip:a1@$DOMAIN'")" "the flow stored with its Path"
"$AFD_BIN" -t -f "$AFD_CONF" >/dev/null 2>&1 || fail "afd -t refuses outbound_require_ob = no"
sed -i 's/^outbound_require_ob = no/outbound_require_ob = maybe/' "$AFD_CONF"
out=$("$AFD_BIN" -t -f "$AFD_CONF" 2>&1) && fail "afd -t accepts outbound_require_ob = maybe"
assert_match 'outbound_require_ob' "$out" "the config error names the key"

assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
