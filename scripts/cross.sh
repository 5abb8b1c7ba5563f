#!/bin/sh
# cross.sh — static, stripped gatemq binaries for the boards it is made for.
#
# Usage: scripts/cross.sh [TARGET...]
#
# With no TARGET it builds all of them into dist/ (or $DIST):
#
#   dist/gatemq-linux-mips       big-endian MIPS, soft float (ath79, lantiq, ...)
#   dist/gatemq-linux-mipsle     little-endian MIPS, soft float (ramips mt7621/mt76x8, ...)
#   dist/gatemq-linux-armv5      ARMv5 (kirkwood, old Marvell NAS)
#   dist/gatemq-linux-armv6      ARMv6 (Raspberry Pi 1 / Zero)
#   dist/gatemq-linux-armv7      ARMv7 (ipq40xx, mvebu, Raspberry Pi 2+ in 32-bit)
#   dist/gatemq-linux-arm64      ARMv8 64-bit (filogic mt798x, Raspberry Pi 3/4/5)
#   dist/gatemq-linux-riscv64    RISC-V 64-bit
#   dist/gatemq-linux-amd64      x86-64 (x86/64 OpenWrt, PCs)
#
# TARGET is one of the names after "gatemq-linux-" (mips, mipsle, armv5,
# armv6, armv7, arm64, riscv64, amd64). Every build is CGO_ENABLED=0,
# -trimpath, the -gcflags of scripts/gcflags.sh (no inlining in cold
# packages), -ldflags "-s -w -X main.version=VERSION", where VERSION is
# $VERSION or else `git describe --always --dirty`. It prints each binary's
# size in bytes and exits non-zero if any build fails.
set -eu

cd "$(dirname "$0")/.."
DIST=${DIST:-dist}
GO=${GO:-go}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
ALL="mips mipsle armv5 armv6 armv7 arm64 riscv64 amd64"
[ $# -gt 0 ] || set -- $ALL

# target_env prints the GOARCH/GOMIPS/GOARM settings of a target name.
target_env() {
	case "$1" in
	mips) echo "GOARCH=mips GOMIPS=softfloat" ;;
	mipsle) echo "GOARCH=mipsle GOMIPS=softfloat" ;;
	armv5) echo "GOARCH=arm GOARM=5" ;;
	armv6) echo "GOARCH=arm GOARM=6" ;;
	armv7) echo "GOARCH=arm GOARM=7" ;;
	arm64) echo "GOARCH=arm64" ;;
	riscv64) echo "GOARCH=riscv64" ;;
	amd64) echo "GOARCH=amd64" ;;
	*) return 1 ;;
	esac
}

for t in "$@"; do
	target_env "$t" >/dev/null || {
		echo "cross.sh: unknown target $t (want one of: $ALL)" >&2
		exit 2
	}
done

mkdir -p "$DIST"
gcflags=$(scripts/gcflags.sh)
printf '%-28s %10s  %s\n' "binary" "bytes" "settings"
for t in "$@"; do
	envs=$(target_env "$t")
	out="$DIST/gatemq-linux-$t"
	# shellcheck disable=SC2086 # envs and gcflags are lists of words
	env CGO_ENABLED=0 GOOS=linux $envs "$GO" build -trimpath $gcflags \
		-ldflags "-s -w -X main.version=$VERSION" -o "$out" .
	size=$(wc -c <"$out" | tr -d ' ')
	printf '%-28s %10s  %s\n' "$out" "$size" "$envs"
done
echo "version $VERSION"
