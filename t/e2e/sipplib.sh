# SIPp phones of the scenarios that script their own calls with
# t/sipp/*.xml (sourced after lib.sh): each SIPp run is named, its output
# in $TMP/sipp.NAME.out, its errors in $TMP/sipp-err.NAME.log and its
# <log> lines in $TMP/sipp-log.NAME.log.

command -v sipp >/dev/null || fail "sipp not installed (sh mk/deps.sh test)"
SIPP=$ROOT/t/sipp

# sippx NAME ARGS...: SIPp against afd (-key domain set), stopping by
# itself: its exit status is SIPp's (0 when every call succeeded).
sippx() {
	local name=$1
	shift
	sipp -nostdin -i 127.0.0.1 -timeout $(( 20 * SCALE ))s -timeout_error \
		-trace_err -error_file "$TMP/sipp-err.$name.log" \
		-trace_logs -log_file "$TMP/sipp-log.$name.log" \
		-key domain "$DOMAIN" "$@" "127.0.0.1:$AFD_PORT" >"$TMP/sipp.$name.out" 2>&1
}

# sipp_failed NAME: what SIPp said about run NAME, for a failure message.
sipp_failed() {
	tail -15 "$TMP/sipp.$1.out"
	cat "$TMP/sipp-err.$1.log" 2>/dev/null | head -40
}
