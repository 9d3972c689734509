#!/bin/sh
# mk/deps.sh [build|test|asan|fuzz|bench|bench-compare|valgrind|format]: make sure the Debian packages afd needs
# for that purpose are installed. As root, missing ones are installed with
# apt-get; otherwise the exact apt-get line is printed and we fail.
set -eu
what=${1:-build}
pkgs="build-essential pkg-config libuv1-dev libtalloc-dev libsqlite3-dev libcunit1-dev libssl-dev libinih-dev"
case "$what" in
build) ;;
test) pkgs="$pkgs sqlite3 sipsak sip-tester iproute2 procps systemd man-db libxml2-utils baresip-core" ;;
asan) pkgs="$pkgs sqlite3 sipsak sip-tester iproute2 procps systemd man-db libxml2-utils baresip-core clang libclang-rt-14-dev" ;;
fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
bench) pkgs="$pkgs sqlite3 iproute2 procps linux-perf" ;;
bench-compare) pkgs="$pkgs sqlite3 iproute2 procps linux-perf kamailio kamailio-sqlite-modules" ;;
valgrind) pkgs="$pkgs sqlite3 sipsak sip-tester iproute2 procps systemd man-db libxml2-utils baresip-core valgrind" ;;
format) pkgs="clang-format" ;;
*) echo "deps.sh: unknown purpose $what" >&2; exit 2 ;;
esac

missing=
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "afd needs these Debian packages:$missing" >&2
	echo "run as root:  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list makes apt-get install fail: refresh it once.
if ! apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
