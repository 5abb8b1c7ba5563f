#!/usr/bin/env bash
# emulated.sh runs the bench driver's everyday-rate, idle-connection and
# connection-storm (churn) scenarios with gatemq built for a router's
# instruction set and Debian's mosquitto for the same one, both under
# qemu-user, side by side; the load is generated natively, so only the
# ratios between the two mean anything.
#
#   scripts/bench/emulated.sh [TARGET] [bench flags...]
#
# TARGET is mipsle (default: Debian mipsel, qemu-mipsel-static), armv5
# (armel, qemu-arm-static) or armv7 (armhf, qemu-arm-static). Run it from
# the repository's root (make bench-emulated does).
#
# Debian's mosquitto and the libraries it needs are downloaded with
# apt-get download and unpacked with dpkg -x into a system root under
# .cache/emulated/DEBARCH (never installed). apt runs with a private
# configuration there (APT::Architecture DEBARCH, its own package lists
# and cache, the machine's sources and keys), so the machine's own apt
# state is left alone and no dpkg --add-architecture is needed. The
# package set is what apt would install for mosquitto on an empty system
# of that architecture, less what is not a library (adduser, debconf, ...).
set -euo pipefail

target=${1:-mipsle}
[ $# -gt 0 ] && shift
case "$target" in
mipsle) debarch=mipsel qemu=qemu-mipsel-static goenv=(GOARCH=mipsle GOMIPS=softfloat) ;;
armv5) debarch=armel qemu=qemu-arm-static goenv=(GOARCH=arm GOARM=5) ;;
armv7) debarch=armhf qemu=qemu-arm-static goenv=(GOARCH=arm GOARM=7) ;;
*) echo "emulated.sh: unknown target $target (want mipsle, armv5 or armv7)" >&2; exit 2 ;;
esac
command -v "$qemu" >/dev/null || { echo "emulated.sh: $qemu not found (Debian: qemu-user-static; make tools)" >&2; exit 1; }

cache=${EMU_CACHE:-.cache/emulated}/$debarch
root=$cache/root
if [ ! -x "$root/usr/sbin/mosquitto" ]; then
	apt=$cache/apt
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/debs"
	: >"$apt/status"
	cat >"$apt/apt.conf" <<CONF
APT::Architecture "$debarch";
APT::Architectures { "$debarch"; };
Dir::State "$PWD/$apt";
Dir::State::Lists "$PWD/$apt/lists";
Dir::State::status "$PWD/$apt/status";
Dir::Cache "$PWD/$apt/cache";
CONF
	export APT_CONFIG=$PWD/$apt/apt.conf
	echo "emulated.sh: fetching Debian's $debarch package lists into $apt" >&2
	apt-get -q update >/dev/null
	if ! apt-cache show mosquitto >/dev/null 2>&1; then
		echo "emulated.sh: the configured Debian suites ship no mosquitto for $debarch; try another target (armv5, armv7)" >&2
		exit 1
	fi
	pkgs=$(apt-get -s install --no-install-recommends mosquitto | awk '/^Inst / {print $2}' | grep -E '^(lib|mosquitto$)')
	echo "emulated.sh: downloading" $pkgs >&2
	(cd "$cache/debs" && apt-get -q download $pkgs 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2)
	rm -rf "$root.tmp"
	mkdir -p "$root.tmp"
	for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$root.tmp"; done
	rm -rf "$root"
	mv "$root.tmp" "$root"
	unset APT_CONFIG
fi

bin=$cache/gatemq
echo "emulated.sh: building gatemq for $target (${goenv[*]})" >&2
env CGO_ENABLED=0 GOOS=linux "${goenv[@]}" go build -trimpath $(scripts/gcflags.sh) -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)-$target" -o "$bin" .

# The idle and churn scenarios use 2,000 connections (10,000 natively):
# enough for a per-connection figure (the broker's CPU time is read in
# steps of 10 ms), and what an emulated broker takes in seconds.
exec go run ./scripts/bench -gatemq "$bin" -mosquitto "$root/usr/sbin/mosquitto" -qemu "$qemu" -sysroot "$root" \
	-only everyday_qos0,everyday_qos1,everyday_qos2,idle,churn -conns 2000 "$@"
