#!/bin/sh
# install.sh — install gatemq on a plain Linux machine (Raspberry Pi OS,
# Debian, Ubuntu, Alpine, ...). Run as root from a gatemq checkout:
#
#   sudo scripts/install.sh [BINARY]
#
# BINARY defaults to ./gatemq (from `make build`), else the binary in dist/
# (from scripts/cross.sh) for this machine's architecture. The script:
#
#   1. copies the binary to $PREFIX/bin/gatemq (PREFIX=/usr/local), and
#      the man pages gatemq(8) and gatemq.conf(5) below $PREFIX/share/man;
#   2. writes $CONFDIR/gatemq.conf (CONFDIR=/etc/gatemq) unless one exists:
#      loopback listener, state in $STATEDIR (/var/lib/gatemq);
#   3. with systemd (SYSTEMD=auto: if /run/systemd/system exists; yes; no):
#      installs scripts/systemd/gatemq.service as
#      /etc/systemd/system/gatemq.service with ExecStart pointing at the
#      binary, then `systemctl enable --now gatemq` (its DynamicUser gets
#      $STATEDIR from StateDirectory=); without systemd it creates
#      $STATEDIR and prints how to start gatemq.
#
# DESTDIR=/some/root installs below that folder instead of / and runs no
# systemctl (for packaging and tests). Nothing existing is overwritten except
# the binary and the unit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
PREFIX=${PREFIX:-/usr/local}
CONFDIR=${CONFDIR:-/etc/gatemq}
STATEDIR=${STATEDIR:-/var/lib/gatemq}
SYSTEMD=${SYSTEMD:-auto}
DESTDIR=${DESTDIR:-}

say() { printf 'install.sh: %s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

# dist_name prints the scripts/cross.sh name of this machine's architecture.
dist_name() {
	case $(uname -m) in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	armv7* | armv8l) echo armv7 ;;
	armv6*) echo armv6 ;;
	armv5* | arm) echo armv5 ;;
	mips) echo mips ;;
	mipsel | mipsle) echo mipsle ;;
	riscv64) echo riscv64 ;;
	*) return 1 ;;
	esac
}

bin=${1:-}
if [ -z "$bin" ]; then
	if [ -x "$top/gatemq" ]; then
		bin=$top/gatemq
	elif arch=$(dist_name) && [ -x "$top/dist/gatemq-linux-$arch" ]; then
		bin=$top/dist/gatemq-linux-$arch
	else
		die "no binary: run 'make build' or scripts/cross.sh first, or pass the binary's path"
	fi
fi
[ -f "$bin" ] || die "$bin: no such file"
if [ -z "$DESTDIR" ]; then
	[ "$(id -u)" = 0 ] || die "run as root (or set DESTDIR to install below a folder)"
	version=$("$bin" -version 2>/dev/null) || die "$bin does not run here (built for another architecture?)"
	say "installing $version"
fi

case $SYSTEMD in
auto) if [ -d /run/systemd/system ]; then SYSTEMD=yes; else SYSTEMD=no; fi ;;
yes | no) ;;
*) die "SYSTEMD=$SYSTEMD: want auto, yes or no" ;;
esac

# 1. The binary.
mkdir -p "$DESTDIR$PREFIX/bin"
cp "$bin" "$DESTDIR$PREFIX/bin/gatemq.new"
chmod 0755 "$DESTDIR$PREFIX/bin/gatemq.new"
mv -f "$DESTDIR$PREFIX/bin/gatemq.new" "$DESTDIR$PREFIX/bin/gatemq"
say "binary: $PREFIX/bin/gatemq"

# 1b. The man pages: man gatemq, man gatemq.conf.
if [ -f "$top/man/gatemq.8" ] && [ -f "$top/man/gatemq.conf.5" ]; then
	mkdir -p "$DESTDIR$PREFIX/share/man/man8" "$DESTDIR$PREFIX/share/man/man5"
	cp "$top/man/gatemq.8" "$DESTDIR$PREFIX/share/man/man8/gatemq.8"
	cp "$top/man/gatemq.conf.5" "$DESTDIR$PREFIX/share/man/man5/gatemq.conf.5"
	say "man pages: man gatemq, man gatemq.conf"
fi

# 2. The config, unless there is one.
conf=$DESTDIR$CONFDIR/gatemq.conf
mkdir -p "$DESTDIR$CONFDIR"
if [ -e "$conf" ]; then
	say "config: $CONFDIR/gatemq.conf exists, left as it is"
else
	cat >"$conf" <<EOF
# gatemq configuration (mosquitto.conf style; see README.md).
# Written by scripts/install.sh; edit freely, it is not overwritten.

# Clients on this machine only. To let the network in, replace the line
# with:  listener 1883 0.0.0.0
# and set a password_file (or keep allow_anonymous true on a trusted LAN).
listener 1883 127.0.0.1
# A listener in the file makes anonymous clients refused unless allowed
# (Mosquitto 2's rule); on loopback only they are allowed here.
allow_anonymous true

# State (sessions, queued and retained messages) on disk. With the systemd
# unit this folder is its StateDirectory: keep them the same.
persistence true
persistence_location $STATEDIR

# always: acknowledged QoS 1/2 messages are on disk first (the default).
# On an SD card, 'sync interval 1' writes less at the risk of 1 s of loss.
sync always
EOF
	chmod 0644 "$conf"
	say "config: $CONFDIR/gatemq.conf written"
fi

# 3. The service.
if [ "$SYSTEMD" = yes ]; then
	unit=$DESTDIR/etc/systemd/system/gatemq.service
	mkdir -p "$(dirname "$unit")"
	sed -e "s#^ExecStart=/usr/local/bin/gatemq #ExecStart=$PREFIX/bin/gatemq #" \
		-e "s#/etc/gatemq/gatemq.conf#$CONFDIR/gatemq.conf#" \
		"$here/systemd/gatemq.service" >"$unit.new"
	mv -f "$unit.new" "$unit"
	say "unit: /etc/systemd/system/gatemq.service"
	if [ "$STATEDIR" != /var/lib/gatemq ]; then
		say "note: STATEDIR is not /var/lib/gatemq: add ReadWritePaths=$STATEDIR to the unit (systemctl edit gatemq)"
	fi
	if [ -z "$DESTDIR" ]; then
		systemctl daemon-reload
		systemctl enable gatemq.service
		systemctl restart gatemq.service
		say "started: systemctl status gatemq; journalctl -u gatemq -f"
	fi
else
	mkdir -p "$DESTDIR$STATEDIR"
	chmod 0750 "$DESTDIR$STATEDIR"
	say "state: $STATEDIR"
	say "no systemd: start it with  $PREFIX/bin/gatemq -c $CONFDIR/gatemq.conf"
fi
