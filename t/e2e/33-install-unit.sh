#!/bin/bash
# make install into a scratch prefix: the daemon, afd(8), the example
# config, the systemd unit (paths rewritten to the prefix) and a
# /etc/afd/afd.conf with absolute paths; afd -t accepts that config. The
# installed unit passes systemd-analyze verify (which also finds the
# man:afd(8) page it names), and a broken copy of it does not. As root,
# make install creates the system user it is given, and afd started as
# root with that config runs as it.
. "$(dirname "$0")/lib.sh"

inst=$TMP/inst
user=afdt$$  # one per run: two runs of the suite may overlap
# The user make install creates goes away whatever happens.
trap 'rc=$?; userdel "$user" >/dev/null 2>&1; (exit $rc); e2e_cleanup' EXIT

mk() { make -s --no-print-directory -C "$ROOT" install INSTALL_BIN="$AFD_BIN" \
	PREFIX="$inst/usr/local" SYSCONFDIR="$inst/etc" UNITDIR="$inst/unit" "$@"; }

getent passwd "$user" >/dev/null && fail "user $user exists before the test"
if [ "$(id -u)" = 0 ]; then
	out=$(mk AFD_SYSUSER="$user" 2>&1) || fail "make install: $out"
	echo "$out"
	getent passwd "$user" >/dev/null || fail "make install did not create the user $user"
	assert_match "created the system user $user" "$out" "make install's output"
else
	out=$(mk AFD_SYSUSER= 2>&1) || fail "make install: $out"
	echo "# not root: the user is not created"
fi
for f in usr/local/sbin/afd usr/local/share/man/man8/afd.8 \
	usr/local/share/afd/afd.conf.example unit/afd.service etc/afd/afd.conf; do
	[ -s "$inst/$f" ] || fail "make install did not install $f"
done
unit_user=afd
[ "$(id -u)" = 0 ] && unit_user=$user
assert_match "^User=$unit_user\$" "$(cat "$inst/unit/afd.service")" "the unit's User"
assert_match "^ExecStart=$inst/usr/local/sbin/afd -f $inst/etc/afd/afd.conf\$" "$(cat "$inst/unit/afd.service")" "the unit's ExecStart"
conf=$(cat "$inst/etc/afd/afd.conf")
assert_match '^database = /var/lib/afd/afd\.db$' "$conf" "installed config"
assert_match '^run_dir = /run/afd$' "$conf" "installed config"
# A second make install keeps the admin's config.
echo "; mine" >>"$inst/etc/afd/afd.conf"
out=$(mk AFD_SYSUSER= 2>&1) || fail "make install again: $out"
assert_match '^; mine$' "$(cat "$inst/etc/afd/afd.conf")" "config kept by a second make install"

# The installed config, with scratch paths, checks and runs as the user.
AFD_PORT=$("$SIPSEND" -P)
sed -e "s|^database = .*|database = $AFD_DB|" -e "s|^run_dir = .*|run_dir = $AFD_RUN|" \
	-e "s|^port = .*|port = $AFD_PORT|" -e "s|^domain = .*|domain = $DOMAIN|" \
	"$inst/etc/afd/afd.conf" >"$AFD_CONF"
if [ "$(id -u)" = 0 ]; then
	sed -i "s|^user = .*|user = $user|" "$AFD_CONF"
	chown "$user:" "$TMP"
fi
out=$("$inst/usr/local/sbin/afd" -t -f "$AFD_CONF" 2>&1) || fail "afd -t on the installed config: $out"
afd_start
if [ "$(id -u)" = 0 ]; then
	assert_eq "$user" "$(ps -o user= -p "$(worker_pid udp)" | tr -d ' ')" "the UDP worker's user"
fi
afd_stop
assert_eq 0 "$AFD_RC" "exit status"

# systemd-analyze verify on the installed unit.
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP [$E2E_NAME]: systemd-analyze is not installed (mk/deps.sh test installs systemd)"
	exit 0
fi
export MANPATH=$inst/usr/local/share/man
out=$(systemd-analyze verify "$inst/unit/afd.service" 2>&1); rc=$?
echo "$out"
case "$out" in
*"Failed to"*"bus"*|*"System has not been booted with systemd"*)
	echo "SKIP [$E2E_NAME]: systemd-analyze cannot run here: $out"; exit 0 ;;
esac
assert_eq 0 "$rc" "systemd-analyze verify afd.service (output: $out)"
assert_eq "" "$out" "systemd-analyze verify's complaints"
# It can fail: an unknown option, and a missing ExecStart binary.
sed 's|^NoNewPrivileges=yes|NoNewPrivileges=yes\nProtectEverything=yes|' "$inst/unit/afd.service" >"$TMP/bad.service"
out=$(systemd-analyze verify "$TMP/bad.service" 2>&1) && [ -z "$out" ] &&
	fail "systemd-analyze verify accepts an unknown option"
assert_match 'ProtectEverything' "$out" "systemd-analyze on a bad unit"
sed "s|$inst/usr/local/sbin/afd|$inst/nope/afd|g" "$inst/unit/afd.service" >"$TMP/nobin.service"
out=$(systemd-analyze verify "$TMP/nobin.service" 2>&1) && fail "systemd-analyze verify accepts a missing binary"
assert_match 'nope/afd' "$out" "systemd-analyze on a unit without its binary"
