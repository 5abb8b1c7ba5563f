#!/bin/sh
# gcflags.sh — print the -gcflags arguments of gatemq's builds.
#
# Usage: go build $(scripts/gcflags.sh) ...
#
# The packages below are compiled without inlining (-gcflags=PATTERN=-l):
# code that runs at start-up, at a TLS handshake or on a rare event, where
# inlining saves little and copies code into every caller. On linux/mipsle
# this takes about 455 KB of code and metadata off the full binary (xz -9e:
# about 125 KB) and 130 KB off the -tags nossl one (xz -9e: 40 KB).
# Measured with callgrind on amd64 (instructions, client and server
# together): a full TLS 1.3 handshake +2% with an ECDSA P-256 certificate,
# +0.5% with RSA-2048; a 100-byte record +5-8% (about 400 instructions,
# where AES-NI makes the rest cheap; on a router AES-GCM runs in software
# and costs many times that), a 16 KiB record unchanged. The
# arithmetic of the handshake (crypto/internal/fips140: bigmod, nistec,
# edwards25519, mlkem) and of the records (AES-GCM, ChaCha20-Poly1305)
# keeps inlining, as do the packages on the path of a message (runtime,
# net, time, strings, mqtt, qos, flashstore, msgp, transport).
#
# -l on a package also keeps its functions from being inlined into other
# packages, so a package used on the path of a message does not belong
# here, however rarely it calls itself. scripts/cross.sh,
# scripts/size-check.sh, scripts/release, the qemu tests, the footprint
# tool and `make build` all use this list, so the binary tested is the one
# shipped.
set -eu

awk '!/^#/ && NF { printf "%s-gcflags=%s=-l", sep, $1; sep = " " } END { print "" }' <<'EOF'
# TLS: handshakes and their messages (cryptobyte), certificates, and the
# wrappers around the FIPS module's algorithms.
crypto/tls
vendor/golang.org/x/crypto/cryptobyte
crypto/x509/...
encoding/asn1
crypto/ecdh
crypto/ecdsa
crypto/elliptic
crypto/hpke
crypto/rsa
crypto/internal/fips140/ecdsa
crypto/internal/fips140/rsa
math/big
net/url
# Formatting, logging and config: errors, log lines (gatemq's textlog,
# syslog), command-line flags, start-up. gatemq/internal/fmt formats
# error texts only (fmt's wrappers; with -tags nossl its own formatter).
fmt
reflect
log
log/syslog
flag
regexp/...
os/user
gatemq/internal/textlog
gatemq/internal/fmt
# gatemq: the root package (flags, the mosquitto.conf dialect, start-up,
# reload and the adapters that wire the parts together: about 25 KB), the
# board profiles and the serial bridge (lines at sensor rates), the log
# destinations, and the one-off import of a mosquitto.db.
gatemq
gatemq/board/...
gatemq/mqtt/logdest
gatemq/mqtt/mosqdb
EOF
