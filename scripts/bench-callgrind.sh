#!/bin/bash
# bench-callgrind.sh — user-space instructions per message at the everyday
# rate, for gatemq and Mosquitto, counted by valgrind's callgrind.
#
# Usage: scripts/bench-callgrind.sh GATEMQ-BINARY QOS [VARIANTS]
#
# Runs scripts/bench's everyday_qosQOS scenario at 300 messages a second
# twice, for 4 s and for 12 s, with each broker of VARIANTS (default
# "gatemq,mosquitto") under callgrind, and prints the instructions per
# message: the difference of the two runs' totals over the 2,400 messages
# between them, so that start-up and shutdown drop out. Unlike CPU time,
# the count does not depend on what else the machine runs; it moves by a
# few percent between runs with the broker's timing (how many packets one
# wake-up reads, which timers fire). Kernel time is not counted: at the
# everyday rate it is most of either broker's CPU.
#
# gatemq runs with GODEBUG=asyncpreemptoff=1 (callgrind does not follow
# the runtime's preemption signals) and is told to dump its counts
# (callgrind_control) when the bench stops it; Mosquitto, which drops its
# privileges when started as root, runs as user mosquitto. Needs valgrind
# (Debian: apt-get install valgrind) and the mosquitto of `make tools`.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: scripts/bench-callgrind.sh GATEMQ-BINARY QOS [VARIANTS]" >&2; exit 2; }
bin=$(realpath "$1")
qos=$2
variants=${3:-gatemq,mosquitto}
command -v valgrind >/dev/null || { echo "bench-callgrind.sh: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
cd "$(dirname "$0")/.."

work=$(mktemp -d)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT

# The broker wrappers the bench starts instead of the brokers.
cat >"$work/gatemq" <<EOF
#!/bin/bash
GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=$work/out/g.%p "$bin" "\$@" &
vp=\$!
trap 'timeout 0.5 callgrind_control -d \$vp >/dev/null 2>&1; kill -TERM \$vp; wait \$vp; exit 0' TERM INT
wait \$vp
EOF
cat >"$work/mosquitto" <<EOF
#!/bin/bash
args=()
while [ \$# -gt 0 ]; do
	if [ "\$1" = -c ]; then
		cp "\$2" $work/out/m.conf
		chmod 644 $work/out/m.conf
		args+=(-c $work/out/m.conf)
		shift 2
	else
		args+=("\$1")
		shift
	fi
done
exec runuser -u mosquitto -- valgrind --tool=callgrind --vgdb=no --callgrind-out-file=$work/out/m.%p /usr/sbin/mosquitto "\${args[@]}"
EOF
chmod +x "$work/gatemq" "$work/mosquitto"

# total prints the instructions of the largest callgrind file of prefix
# p (the broker's run; the smaller ones are the bench's version probes).
total() {
	local f
	f=$(ls -S "$work/out/$1".* 2>/dev/null | grep -v '\.conf$' | head -1)
	[ -n "$f" ] || return 0
	callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

declare -A short long
for d in 4 12; do
	rm -rf "$work/out"
	mkdir -p "$work/out"
	chmod 777 "$work/out"
	go run ./scripts/bench -gatemq "$work/gatemq" -mosquitto "$work/mosquitto" -rounds 1 -rate 300 \
		-everyday-duration "${d}s" -only "everyday_qos$qos" -variants "$variants" 2>&1 | grep '^round' | sed 's/: broker CPU.*//' >&2
	for p in g m; do
		n=$(total $p)
		[ -n "$n" ] || continue
		if [ "$d" = 4 ]; then short[$p]=$n; else long[$p]=$n; fi
	done
done
for p in g m; do
	[ -n "${short[$p]:-}" ] && [ -n "${long[$p]:-}" ] || continue
	name=gatemq
	[ $p = m ] && name=mosquitto
	echo "everyday_qos$qos $name: $(((long[$p] - short[$p]) / 2400)) user-space instructions per message"
done
