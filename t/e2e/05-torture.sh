#!/bin/bash
# RFC 4475 torture messages, each sent over UDP byte for byte: afd survives
# all of them; invalid ones get 4xx/5xx (or are dropped when there is no
# usable Via to answer to); valid ones get a sensible answer; responses that
# belong to no transaction are dropped. The expectations come from the
# RFC's text (manifest.tsv's expected_behaviour) for a registrar/UAS.
. "$(dirname "$0")/lib.sh"

T=$SHARED/testdata/rfc4475
[ -f "$T/manifest.tsv" ] || fail "no torture messages in $T"

afd_start
udp_pid=$(worker_pid udp)

# Allowed outcomes per file: a regex over the first final status code, or
# "none" for no answer at all. VALID: any answer but 400 and 500 (a valid
# message must not be called bad, nor crash a handler); ANY: any answer.
VALID='^([1-3][0-9][0-9]|4(0[1-9]|[1-9][0-9])|5(0[1-9]|[1-9][0-9])|6[0-9][0-9])$'
ANY='^[1-6][0-9][0-9]$'
REJECT='^[45][0-9][0-9]$'
declare -A want=(
	# valid-must-accept
	[wsinv.dat]=$VALID
	[intmeth.dat]='^501$'
	[esc01.dat]=$VALID
	[escnull.dat]='^(200|403)$'          # example.com is not our domain
	[esc02.dat]='^501$'
	[lwsdisp.dat]='^(200|403|404)$'
	[longreq.dat]=$VALID
	[dblreq.dat]='^(200|403)$'
	[semiuri.dat]='^(200|403|404)$'
	[transports.dat]='^(200|403|404)$'
	[mpart01.dat]=$VALID
	[unreason.dat]=none                  # responses: no transaction
	[noreason.dat]=none
	[unkscm.dat]='^416$'
	[novelsc.dat]='^(416|404)$'
	[unksm2.dat]='^(400|403|416)$'
	[bext01.dat]='^420$'
	[invut.dat]=$VALID
	[regaut01.dat]='^(200|403)$'
	[cparam01.dat]='^(200|403)$'
	[cparam02.dat]='^(200|403)$'
	[regescrt.dat]='^(200|403)$'
	[sdp01.dat]=$VALID
	[zeromf.dat]='^(200|483)$'
	# invalid-must-reject-with-4xx
	[badinv01.dat]="$REJECT|none"        # its only Via is mangled
	[clerr.dat]='^400$'
	[ncl.dat]='^400$'
	[scalar02.dat]='^400$'
	[quotbal.dat]=$ANY                   # MAY infer the closing quote
	[ltgtruri.dat]=$ANY                  # liberal MAY ignore the <>
	[lwsruri.dat]=$ANY                   # MAY ignore the LWS
	[lwsstart.dat]=$ANY                  # liberal MAY ignore extra SP
	[trws.dat]=$ANY                      # liberal MAY ignore trailing SP
	[escruri.dat]=$ANY                   # MAY ignore escaped headers
	[regbadct.dat]=$ANY                  # registrar MAY infer the <>
	[badaspec.dat]=$ANY                  # liberal MAY ignore the spaces
	[baddn.dat]=$ANY                     # MAY infer quotes
	[mismatch01.dat]='^400$'
	[insuf.dat]='^400$'
	[multi01.dat]='^400$'
	[mcl01.dat]='^400$'
	# other
	[scalarlg.dat]=none                  # responses: discard
	[bigcode.dat]=none
	[bcast.dat]=none
	[baddate.dat]=$ANY
	[badvers.dat]='^505$'
	[mismatch02.dat]='^(501|400)$'
	[badbranch.dat]=$ANY
	[inv2543.dat]=$ANY
	[test.dat]="$REJECT|none"            # no SIP version, no Via
)

bad=0 n=0
while IFS=$'\t' read -r file section title class expected note; do
	[ "$file" = file ] && continue
	f=$T/messages/$file
	[ -f "$f" ] || fail "missing $f"
	[ -n "${want[$file]+x}" ] || fail "no expectation for $file ($class)"
	n=$((n + 1))
	# dblreq: wait the whole time, to see that the trailing bytes that
	# look like an INVITE get no answer of their own.
	nwant=1
	[ "$file" = dblreq.dat ] && nwant=0
	# afd keeps server transactions (RFC 3261 17.2.3): a message with
	# the top Via branch and sent-by of an earlier one is its
	# retransmission, absorbed. RFC 4475's examples are independent
	# requests, and many share "branch=z9hG4bKkdjuw": each is sent with
	# that branch made its own (the rest of the bytes as they are).
	g=$TMP/$file
	LC_ALL=C sed "s/branch=z9hG4bKkdjuw\([;[:space:]]\)/branch=z9hG4bKkdjuw.${file%.dat}\1/g" "$f" > "$g"
	out=$(sip -u -r -V -s -n $nwant -w $(( 700 * SCALE )) "$g" 2>/dev/null)
	finals=$(printf '%s\n' "$out" | sed -n 's/^SIP\/2\.0 \([2-6][0-9][0-9]\).*/\1/p')
	first=$(printf '%s\n' "$finals" | head -n 1)
	count=$(printf '%s\n' "$finals" | grep -c .)
	got=${first:-none}
	verdict=ok
	case "${want[$file]}" in
	none) [ "$got" = none ] || verdict=BAD ;;
	*"|none") [ "$got" = none ] || [[ "$got" =~ ${want[$file]%|none} ]] || verdict=BAD ;;
	*) [ "$got" != none ] && [[ "$got" =~ ${want[$file]} ]] || verdict=BAD ;;
	esac
	[ "$count" -le 1 ] || verdict="BAD($count final answers)"
	printf '%-5s %-15s %-26s got %-5s want %s  (%s)\n' "$verdict" "$file" "$class" \
		"$got" "${want[$file]}" "$expected"
	[ "$verdict" = ok ] || bad=$((bad + 1))
	assert_alive "$file"
done <"$T/manifest.tsv"

# The same messages again, all at once without waiting: no crash.
for f in "$T"/messages/*.dat "$T"/variants/*.dat; do
	sip -u -r -V -n 0 -w 0 "$f" >/dev/null 2>&1
done
assert_alive "a burst of every torture message"
assert_eq "$udp_pid" "$(worker_pid udp)" "UDP worker pid (a change means it died)"

say "$n torture messages, $bad with an unexpected outcome"
[ $bad -eq 0 ] || fail "$bad torture messages got an unexpected outcome (see the table above)"
afd_stop
assert_eq 0 "$AFD_RC" "exit status"
