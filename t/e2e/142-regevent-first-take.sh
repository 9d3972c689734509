#!/bin/bash
# The first NOTIFY of a subscription the UDP worker serves is taken with
# the subscription's row (version 0, CSeq 1, in flight: pending 1, no
# answer yet) and leaves after the 200, once: a worker's first sweeps,
# which take over what a predecessor left in flight, do not send it again
# as a predecessor's; its retransmissions are of its one transaction; the
# answer clears pending; a change then brings version 1, CSeq 2.
. "$(dirname "$0")/lib.sh"

afd_start

# the first request this afd serves: a SUBSCRIBE whose NOTIFY sipsend
# does not answer
out=$(FROM_USER=erin req SUBSCRIBE "sip:erin@$DOMAIN" "Contact: <sip:erin@127.0.0.1:\$LPORT>" \
	"Event: reg" "Accept: application/reginfo+xml" "Expires: 600" | sip -n 0 -w 2500)
assert_eq 200 "$(status_of "$out")" "SUBSCRIBE"
first=$(printf '%s\n' "$out" | grep -n -m1 '^SIP/2.0 200' | cut -d: -f1)
notify=$(printf '%s\n' "$out" | grep -n -m1 '^NOTIFY ' | cut -d: -f1)
[ -n "$notify" ] && [ "$first" -lt "$notify" ] || fail "no NOTIFY after the 200: $out"
assert_match '^CSeq: 1 NOTIFY$' "$out" "the first NOTIFY's CSeq"
assert_match 'version="0"' "$out" "the first document's version"
# within 2.5 s: the first NOTIFY and its retransmissions (T1 0.5 s, 1 s),
# one branch; never a second take
n=$(printf '%s\n' "$out" | grep -c '^NOTIFY ')
[ "$n" -ge 2 ] || fail "no retransmission of the unanswered NOTIFY ($n)"
assert_eq 1 "$(printf '%s\n' "$out" | sed -n 's/^Via: .*branch=\(z9hG4bK-u0-[^;]*\).*/\1/p' | sort -u | wc -l)" "the retransmissions' branch"
assert_eq 0 "$(printf '%s\n' "$out" | grep -c '^CSeq: [2-9] NOTIFY')" "NOTIFYs of a later CSeq"
assert_eq "0|1|1|" "$(sql "SELECT version, cseq, pending, last_status FROM reg_subscriptions WHERE aor = 'sip:erin@$DOMAIN'")" "the row: taken, in flight"
if log_has "sending again NOTIFY"; then
	fail "the worker's own first NOTIFY was sent again as a predecessor's: $(grep 'sending again' "$AFD_LOG")"
fi
assert_alive
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
