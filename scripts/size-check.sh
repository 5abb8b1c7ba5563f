#!/bin/sh
# size-check.sh — keep the router binary inside its flash budget.
#
# Usage: scripts/size-check.sh [-q]
#
# Builds gatemq for linux/mipsle (soft float) exactly as scripts/cross.sh
# does (static, -trimpath, -s -w), compares its size with the budget in
# scripts/size-budget.txt and exits 1 if it is larger. It then builds the
# same target without -s -w and prints each package group's share of the
# binary from `go tool nm -size`: machine code plus data per package path
# (runtime, net, crypto/tls, gatemq/..., github.com/tinylib/msgp, ...; crypto,
# net, encoding and compress are split one level further). -q prints
# only the verdict.
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
[ "${1:-}" = "-q" ] && quiet=1

budget=$(awk '$1 == "mipsle" { print $2; exit }' "$BUDGET_FILE")
case "$budget" in
'' | *[!0-9]*)
	echo "size-check: no 'mipsle BYTES' line in $BUDGET_FILE" >&2
	exit 2
	;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export CGO_ENABLED=0 GOOS=linux GOARCH=mipsle GOMIPS=softfloat
"$GO" build -trimpath -ldflags "-s -w -X main.version=size-check" -o "$tmp/stripped" .
size=$(wc -c <"$tmp/stripped" | tr -d ' ')

if [ "$quiet" = 0 ]; then
	"$GO" build -trimpath -ldflags "-X main.version=size-check" -o "$tmp/full" .
	"$GO" tool nm -size "$tmp/full" >"$tmp/nm"
	echo "Share of the linux/mipsle binary by package (code + data owned by symbols):"
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

pct=$(awk -v s="$size" -v b="$budget" 'BEGIN { printf "%.1f", 100 * s / b }')
if [ "$size" -gt "$budget" ]; then
	echo "size-check: FAIL: linux/mipsle binary is $size bytes, over the budget of $budget bytes ($pct%) in $BUDGET_FILE." >&2
	echo "size-check: shrink it, or raise the budget in $BUDGET_FILE with the reason in that file and in the commit message." >&2
	exit 1
fi
echo "size-check: ok: linux/mipsle binary is $size bytes, $pct% of the budget of $budget bytes ($BUDGET_FILE)"
