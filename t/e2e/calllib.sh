# The scripted phones of the call scenarios (sourced after lib.sh): each
# phone is build/t/tools/sipua in the background, its lines in
# $TMP/NAME.out, its pid in $pid_NAME.

UA=$AFD_TOOLS/sipua

ua() { # NAME USER ARGS...: a phone in the background, its lines in $TMP/NAME.out
	local name=$1 user=$2
	shift 2
	: >"$TMP/$name.out"
	"$UA" -p "$AFD_PORT" -u "$user" "$@" >"$TMP/$name.out" 2>&1 &
	E2E_PIDS="$E2E_PIDS $!"
	eval "pid_$name=$!"
}
phone() { # NAME ARGS...: ua NAME NAME ARGS, a phone of user NAME
	local name=$1
	shift
	ua "$name" "$name" "$@"
}
registered() { wait_for "grep -q '^RESP 200 REGISTER' '$TMP/$1.out'" 5 || fail "$1 did not register"; }
port_of() { awk '$1 == "READY" { print $3; exit }' "$TMP/$1.out"; }
two() { # USER ARGS1 -- ARGS2: the two phones USER1 and USER2 of USER
	local user=$1 a=() b=()
	shift
	while [ "$1" != "--" ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	ua "${user}1" "$user" "${a[@]}"
	registered "${user}1"
	ua "${user}2" "$user" "${b[@]}"
	registered "${user}2"
}
final_of() { awk '$1 == "RESP" && $3 == "INVITE" && $2 >= 200 { print $2; exit }' "$TMP/$1.out"; }
dlg() { sql "SELECT $1 FROM dialogs ORDER BY id DESC LIMIT 1"; }
cdr() { sql "SELECT end_reason FROM calls WHERE callee = 'sip:$1@$DOMAIN' ORDER BY id DESC LIMIT 1"; }
kill_owner() { # WHAT: kill -9 the worker owning the newest call
	local slot pid
	slot=$(dlg owner_slot)
	pid=$(worker_pid "$slot")
	[ -n "$pid" ] || fail "no worker for slot $slot"
	kill -9 "$pid"
	say "killed $slot (pid $pid) $1"
}
