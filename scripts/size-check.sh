#!/bin/sh
# size-check.sh — keep the router binary inside its flash budget.
#
# Usage: scripts/size-check.sh [-q | -nossl]
#
# Builds gatemq for linux/mipsle (soft float) exactly as scripts/cross.sh
# does (static, -trimpath, the -gcflags of scripts/gcflags.sh, -s -w), once
# with everything and once with -tags nossl (no TLS, for the smallest
# routers, as OpenWrt's mosquitto-nossl), compares each size with its
# budget in scripts/size-budget.txt ("mipsle BYTES" and "mipsle-nossl
# BYTES") and exits 1 if either is larger. With xz installed it also
# prints each binary's xz -9e size, about what it takes in a squashfs image
# (reported, not budgeted).
#
# It then builds the full binary again without -s -w (with -nossl: the
# -tags nossl one) and prints each package group's share of it from
# `go tool nm -size`: machine code plus data per package path (runtime,
# net, crypto/tls, gatemq/..., github.com/tinylib/msgp, ...; crypto, net,
# encoding and compress are split one level further). -q prints only the
# verdicts.
#
# The table counts the bytes that each package's symbols own. Function
# metadata (.gopclntab, go:func.*, roughly in proportion to code), type
# descriptors and unnamed string data are shared; they are shown on their own
# lines after the packages, and all lines add up to the stripped file.
set -eu

cd "$(dirname "$0")/.."
GO=${GO:-go}
BUDGET_FILE=scripts/size-budget.txt
quiet=0
tabletags=""
case "${1:-}" in
-q) quiet=1 ;;
-nossl) tabletags=nossl ;;
"") ;;
*)
	echo "usage: scripts/size-check.sh [-q | -nossl]" >&2
	exit 2
	;;
esac

# budget prints the number on the line "NAME BYTES" of the budget file.
budget() {
	b=$(awk -v name="$1" '$1 == name { print $2; exit }' "$BUDGET_FILE")
	case "$b" in
	'' | *[!0-9]*)
		echo "size-check: no '$1 BYTES' line in $BUDGET_FILE" >&2
		exit 2
		;;
	esac
	echo "$b"
}
budget_full=$(budget mipsle)
budget_nossl=$(budget mipsle-nossl)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export CGO_ENABLED=0 GOOS=linux GOARCH=mipsle GOMIPS=softfloat
# gcflags is a list of words, split on purpose where it is used.
gcflags=$(scripts/gcflags.sh)
"$GO" build -trimpath $gcflags -ldflags "-s -w -X main.version=size-check" -o "$tmp/stripped" .
"$GO" build -trimpath $gcflags -tags nossl -ldflags "-s -w -X main.version=size-check" -o "$tmp/stripped-nossl" .
size_full=$(wc -c <"$tmp/stripped" | tr -d ' ')
size_nossl=$(wc -c <"$tmp/stripped-nossl" | tr -d ' ')

if [ "$quiet" = 0 ]; then
	if [ "$tabletags" = nossl ]; then
		size=$size_nossl
		label="-tags nossl linux/mipsle binary"
	else
		size=$size_full
		label="linux/mipsle binary"
	fi
	"$GO" build -trimpath $gcflags -tags "$tabletags" -ldflags "-X main.version=size-check" -o "$tmp/full" .
	"$GO" tool nm -size "$tmp/full" >"$tmp/nm"
	echo "Share of the $label by package (code + data owned by symbols):"
	awk -v filesize="$size" '
	# hex converts a hexadecimal address (mawk has no strtonum).
	function hex(h,    i, v) {
		v = 0
		h = tolower(h)
		for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
		return v
	}
	# group maps a package path to the line it is counted under.
	function group(pkg,    parts) {
		if (pkg == "main") return "gatemq (main)"
		if (pkg ~ /^gatemq\//) return pkg
		split(pkg, parts, "/")
		if (parts[1] ~ /\./) {                       # a module: host/owner/repo
			if (parts[1] == "golang.org" || parts[1] == "github.com" || parts[1] == "gopkg.in") return parts[1] "/" parts[2] "/" parts[3]
			return parts[1] "/" parts[2]
		}
		if (parts[1] == "vendor") return "std vendor/" parts[2] "/" parts[3] "/" parts[4]
		if (parts[1] == "internal" || parts[1] == "runtime") return "runtime + internal/*"
		if (parts[1] == "crypto" || parts[1] == "net" || parts[1] == "encoding" || parts[1] == "compress") return parts[1] (parts[2] == "" ? "" : "/" parts[2])
		return parts[1]
	}
	# First pass: the linker markers that bound the sections.
	NR == FNR {
		if ($NF ~ /^runtime\.(e?pclntab|bss|enoptrbss)$/) mark[$NF] = hex($1)
		next
	}
	# Second pass. Type letters: T/t code, R/r read-only data, D/d data;
	# B/b and anything between runtime.bss and runtime.enoptrbss is not in the file.
	$3 !~ /^[TtRrDd]$/ { next }
	{
		addr = hex($1)
		if (addr >= mark["runtime.bss"] && addr < mark["runtime.enoptrbss"]) next
		name = $4
		for (i = 5; i <= NF; i++) name = name " " $i
		size = $2
		if (name ~ /^go:func\./) { funcmeta += size; next }
		if (name ~ /^type:/ || name ~ /^go:itab/ || name == "runtime.typelink" || name == "runtime.itablink") { types += size; next }
		if (name ~ /^go:/) { other += size; next }
		head = name
		sub(/[\[(].*/, "", head)                     # drop generic args and method receivers
		slash = 0
		for (i = length(head); i > 0; i--) if (substr(head, i, 1) == "/") { slash = i; break }
		dot = index(substr(head, slash + 1), ".")
		pkg = dot ? substr(head, 1, slash + dot - 1) : "runtime"   # assembly symbols without a package are the runtime'"'"'s
		g = group(pkg)
		bytes[g] += size
		total += size
		if (g ~ /^gatemq/) origin["gatemq"] += size
		else if (g ~ /^[^ ]*\./) origin["third-party modules"] += size
		else origin["Go standard library and runtime"] += size
	}
	END {
		small = 0; nsmall = 0
		for (g in bytes) {
			if (bytes[g] < 4096) { small += bytes[g]; nsmall++; continue }
			printf "%10d  %5.1f%%  %s\n", bytes[g], 100 * bytes[g] / filesize, g | "sort -rn"
		}
		close("sort -rn")
		if (nsmall) printf "%10d  %5.1f%%  %s\n", small, 100 * small / filesize, "(" nsmall " more groups of under 4 KiB each)"
		printf "%10d  %5.1f%%  %s\n", total, 100 * total / filesize, "= code and data of all packages, of which:"
		for (o in origin) printf "%10d  %5.1f%%    %s\n", origin[o], 100 * origin[o] / filesize, o
		funcmeta += mark["runtime.epclntab"] - mark["runtime.pclntab"]
		printf "%10d  %5.1f%%  %s\n", funcmeta, 100 * funcmeta / filesize, "function metadata (.gopclntab, go:func.*), about in proportion to code"
		printf "%10d  %5.1f%%  %s\n", types, 100 * types / filesize, "type descriptors and itabs"
		rest = filesize - total - funcmeta - types
		printf "%10d  %5.1f%%  %s\n", rest, 100 * rest / filesize, "the rest: string data without symbols, section padding, headers"
		printf "%10d  %5.1f%%  %s\n", filesize, 100, "stripped file"
	}' "$tmp/nm" "$tmp/nm"
	echo
fi

# verdict checks one stripped binary against its budget and prints the
# result, with its xz -9e size when xz is installed; it returns 1 if the
# binary is over the budget.
verdict() { # NAME FILE BUDGET
	size=$(wc -c <"$2" | tr -d ' ')
	pct=$(awk -v s="$size" -v b="$3" 'BEGIN { printf "%.1f", 100 * s / b }')
	xzs=""
	if command -v xz >/dev/null 2>&1; then
		xzs=" (xz -9e: $(xz -9e -c "$2" | wc -c | tr -d ' ') bytes)"
	fi
	if [ "$size" -gt "$3" ]; then
		echo "size-check: FAIL: $1 binary is $size bytes$xzs, over the budget of $3 bytes ($pct%) in $BUDGET_FILE." >&2
		echo "size-check: shrink it, or raise the budget in $BUDGET_FILE with the reason in that file and in the commit message." >&2
		return 1
	fi
	echo "size-check: ok: $1 binary is $size bytes$xzs, $pct% of the budget of $3 bytes ($BUDGET_FILE)"
}

status=0
verdict linux/mipsle "$tmp/stripped" "$budget_full" || status=1
verdict "-tags nossl linux/mipsle" "$tmp/stripped-nossl" "$budget_nossl" || status=1
exit "$status"
