#!/bin/sh
# install.sh — install gatemq on a plain Linux machine (Raspberry Pi OS,
# Debian, Ubuntu, Alpine, ...). Run as root from an unpacked release
# tarball (gatemq-VERSION-linux-ARCH.tar.gz) or from a gatemq checkout:
#
#   sudo ./install.sh [BINARY]           (in the unpacked tarball)
#   sudo scripts/install.sh [BINARY]     (in a checkout)
#
# BINARY defaults to the gatemq next to this script (the tarball's), else
# ./gatemq of the checkout (from `make build`), else the binary in dist/
# (from scripts/cross.sh) for this machine's architecture. The script:
#
#   1. copies the binary to $PREFIX/bin/gatemq (PREFIX=/usr/local), and
#      the man pages gatemq(8) and gatemq.conf(5) below $PREFIX/share/man;
#   2. creates the system user and group gatemq (no login, home
#      $STATEDIR) if missing, and puts the user in the dialout group (serial
#      sensors) when that group exists;
#   3. writes $CONFDIR/gatemq.conf (CONFDIR=/etc/gatemq) unless one exists:
#      loopback listener, state in $STATEDIR (/var/lib/gatemq); the folder
#      is root:gatemq 0750 and the file 0640, so gatemq reads them and
#      cannot change them (a password file made there with `gatemq passwd`
#      gets the same);
#   4. warns when another program (Mosquitto, typically) already listens on
#      port 1883 (common/gatemq-portcheck);
#   5. with systemd (SYSTEMD=auto: if /run/systemd/system exists; yes; no):
#      installs systemd/gatemq.service as
#      /etc/systemd/system/gatemq.service with ExecStart pointing at the
#      binary, then `systemctl enable gatemq` and, if the port is free,
#      starts it; without systemd it creates $STATEDIR (owned by gatemq)
#      and prints how to start gatemq.
#
# DESTDIR=/some/root installs below that folder instead of / and creates no
# user, changes no owner and runs no systemctl (for packaging and tests).
# Nothing existing is overwritten except the binary and the unit.
# Uninstall: scripts/install.sh's counterpart is in README.md ("Uninstall").
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
	if [ -f "$here/gatemq" ] && [ -x "$here/gatemq" ]; then
		bin=$here/gatemq
	elif [ -f "$top/gatemq" ] && [ -x "$top/gatemq" ]; then
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

# 2. The user, in dialout for serial sensors.
if [ -z "$DESTDIR" ]; then
	nologin=/usr/sbin/nologin
	[ -x $nologin ] || nologin=/sbin/nologin
	[ -x $nologin ] || nologin=/bin/false
	if ! getent group gatemq >/dev/null 2>&1; then
		if command -v groupadd >/dev/null; then groupadd --system gatemq; else addgroup -S gatemq; fi
	fi
	if ! id gatemq >/dev/null 2>&1; then
		if command -v useradd >/dev/null; then
			useradd --system --gid gatemq --home-dir "$STATEDIR" --no-create-home --shell $nologin --comment "gatemq MQTT broker" gatemq
		else
			adduser -S -D -H -h "$STATEDIR" -s $nologin -G gatemq -g "gatemq MQTT broker" gatemq
		fi
		say "user: gatemq created"
	fi
	if getent group dialout >/dev/null 2>&1; then
		if command -v usermod >/dev/null; then usermod -a -G dialout gatemq; else addgroup gatemq dialout >/dev/null; fi
	fi
fi

# 3. The config, unless there is one.
conf=$DESTDIR$CONFDIR/gatemq.conf
mkdir -p "$DESTDIR$CONFDIR"
if [ -z "$DESTDIR" ]; then
	chgrp gatemq "$CONFDIR"
	chmod 0750 "$CONFDIR"
fi
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
	chmod 0640 "$conf"
	[ -n "$DESTDIR" ] || chgrp gatemq "$conf"
	say "config: $CONFDIR/gatemq.conf written"
fi

# 4. Another broker on the MQTT port?
portfree=yes
if [ -z "$DESTDIR" ] && [ -x "$here/common/gatemq-portcheck" ]; then
	"$here/common/gatemq-portcheck" 1883 || portfree=no
fi

# 5. The service.
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
		if [ "$portfree" = yes ]; then
			systemctl restart gatemq.service
			say "started: systemctl status gatemq; journalctl -u gatemq -f"
		else
			say "enabled but not started (port 1883 taken): free it, then systemctl start gatemq"
		fi
	fi
else
	mkdir -p "$DESTDIR$STATEDIR"
	chmod 0750 "$DESTDIR$STATEDIR"
	[ -n "$DESTDIR" ] || chown gatemq:gatemq "$STATEDIR"
	say "state: $STATEDIR"
	say "no systemd: start it as the gatemq user, e.g.  su -s /bin/sh -c '$PREFIX/bin/gatemq -c $CONFDIR/gatemq.conf' gatemq"
fi
