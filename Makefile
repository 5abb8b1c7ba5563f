# gatemq — build, test, fuzz and benchmark.
#
# Works with GNU make on a fresh Debian 12 machine (root, or a user with sudo)
# with Go on PATH (e.g. /usr/local/go/bin). `make test` installs the Debian
# packages the tests drive (see TOOLS_PKGS) when one is missing.
#
#   make build        build ./gatemq (static, CGO_ENABLED=0, version from git;
#                     TAGS=profile adds -cpuprofile, TAGS=nossl leaves out TLS)
#   make run          build and run ./gatemq with its embedded defaults (ARGS="-p 1884 -v" to pass flags)
#   make test         tools + go vet + gofmt check + go generate check + go test -race
#   make bench        Go benchmarks, then gatemq vs mosquitto over loopback (full
#                     load, the everyday rate of 2,000 msg/s, 10,000 idle
#                     connections, a storm of 10,000); writes bench.txt
#   make bench-emulated the everyday rate, idle connections and a connection
#                     storm with gatemq built
#                     for mipsle and Debian's mipsel mosquitto, both under
#                     qemu-user (EMU=armv5 or armv7 for armel/armhf); writes bench-emulated.txt
#   make bench-bridges gatemq vs mosquitto as the edge of a bridge (~12 min); writes bench-bridges.txt
#   make fuzz         every fuzz target for FUZZTIME (default 30s), one at a time
#   make generate     go generate ./...
#   make tools        install missing Debian packages used by tests and bench
#   make release VERSION=x.y.z   tar.gz, .deb, .ipk, .apk and SHA256SUMS for every target into dist/release
#   make clean        remove build and bench outputs

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
BIN       ?= gatemq
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# No inlining in cold packages, as in every build of scripts/ (see there).
GCFLAGS   := $(shell scripts/gcflags.sh)
ARGS      ?=
# Build tags of `make build`: profile (runtime/pprof for -cpuprofile), nossl.
TAGS      ?=

TEST_TIMEOUT ?= 15m
FUZZTIME     ?= 30s
BENCHTIME    ?= 1s
BENCHCOUNT   ?= 1
# Flags for the gatemq-vs-mosquitto driver (go run ./scripts/bench -h lists them).
BENCH_FLAGS  ?=

# Debian packages the tests and the bench driver need. gcc and libc6-dev are
# there because the race detector needs cgo.
TOOLS_PKGS := mosquitto mosquitto-clients socat qemu-user-static gcc libc6-dev
# python3-nmea2 (pynmea2) is the reference the NMEA tests compare against.
TOOLS_PKGS += python3-nmea2
# python3-pymodbus (with python3-serial-asyncio, only recommended by it) is
# the Modbus RTU slave of the serial_format modbus test (testdata/modbus_slave.py).
TOOLS_PKGS += python3-pymodbus python3-serial-asyncio
# lintian checks the Debian packages of `make release` (and of the quick
# release test in `make test`); busybox runs the OpenWrt scripts in the
# shell and awk that OpenWrt has.
TOOLS_PKGS += lintian busybox
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)
# MQTT.js (npm package mqtt) for the WebSocket tests, installed by `make tools`
# when node and npm exist; the folder is git-ignored.
MQTTJS_DIR := .cache/mqttjs
# Two npm DSMR P1 parsers the DSMR tests cross-check against (p1-reader:
# DSMR 2.2 to 5.0 and e-MUCS; dsmr-parser: DSMR 4 and later, with CRC
# check), installed by `make tools` without running install scripts
# (p1-reader's serial port dependency is never loaded); git-ignored.
DSMRJS_DIR := .cache/dsmrjs
DSMRJS_PKGS := p1-reader@2.0.6 dsmr-parser@2.1.1

.PHONY: build run test tools vet fmt-check generate check-generate go-test bench bench-go bench-brokers bench-emulated bench-bridges fuzz clean cross size-check release

build:
	CGO_ENABLED=0 $(GO) build -tags '$(TAGS)' -trimpath $(GCFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build
	./$(BIN) $(ARGS)

# tools installs only what is missing; apt-get update runs only then.
# Installing mosquitto on a systemd machine starts its service on port 1883,
# which would collide with `make run`; the service we caused is disabled again.
tools:
	@missing=""; \
	for p in $(TOOLS_PKGS); do \
		if ! dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed'; then \
			missing="$$missing $$p"; \
		fi; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "tools: all present ($(TOOLS_PKGS))"; \
	else \
		command -v apt-get >/dev/null || { echo "tools: missing$$missing and no apt-get: install them by hand" >&2; exit 1; }; \
		echo "tools: installing$$missing"; \
		$(SUDO) apt-get update; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
		case " $$missing " in *" mosquitto "*) \
			if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then \
				$(SUDO) systemctl disable --now mosquitto.service >/dev/null 2>&1 || true; \
				echo "tools: disabled the mosquitto service the package started (tests start their own)"; \
			fi;; \
		esac; \
	fi; \
	for c in mosquitto_pub mosquitto_sub socat gcc; do \
		command -v $$c >/dev/null || { echo "tools: $$c still not on PATH" >&2; exit 1; }; \
	done; \
	/usr/bin/python3 -c 'import pymodbus, serial_asyncio' || { echo "tools: /usr/bin/python3 cannot import pymodbus" >&2; exit 1; }; \
	if [ -f $(MQTTJS_DIR)/node_modules/mqtt/package.json ]; then \
		echo "tools: MQTT.js present in $(MQTTJS_DIR)"; \
	elif command -v node >/dev/null && command -v npm >/dev/null; then \
		echo "tools: installing MQTT.js (npm package mqtt@5) into $(MQTTJS_DIR)"; \
		npm install --prefix $(MQTTJS_DIR) --no-audit --no-fund mqtt@5; \
	else \
		echo "tools: WARNING: node and npm not found: the MQTT.js tests will fail under make test (install Node.js with npm)" >&2; \
	fi; \
	if [ -f $(DSMRJS_DIR)/node_modules/p1-reader/package.json ] && [ -f $(DSMRJS_DIR)/node_modules/dsmr-parser/package.json ]; then \
		echo "tools: DSMR parsers present in $(DSMRJS_DIR)"; \
	elif command -v node >/dev/null && command -v npm >/dev/null; then \
		echo "tools: installing DSMR parsers ($(DSMRJS_PKGS)) into $(DSMRJS_DIR)"; \
		npm install --prefix $(DSMRJS_DIR) --no-audit --no-fund --ignore-scripts $(DSMRJS_PKGS); \
	else \
		echo "tools: WARNING: node and npm not found: the DSMR cross-check will fail under make test" >&2; \
	fi

vet:
	$(GO) vet ./...
	cd scripts/release && $(GO) vet ./...
	cd third_party/go.bug.st/serial && $(GO) vet ./...

fmt-check:
	@bad=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$bad" ]; then echo "gofmt needed on:"; echo "$$bad"; exit 1; fi

generate:
	$(GO) generate ./...

# check-generate regenerates and fails if any file changed. It compares
# checksums of every non-ignored file before and after rather than running
# `git diff --exit-code`, so that uncommitted work elsewhere in the checkout
# does not trip it; in a clean CI checkout the two are the same test.
check-generate:
	@sum() { git ls-files -z -co --exclude-standard | xargs -0 sha256sum 2>/dev/null | sort -k2 || true; }; \
	before=$$(sum); \
	$(GO) generate ./...; \
	after=$$(sum); \
	if [ "$$before" != "$$after" ]; then \
		echo "go generate changed files (commit the regenerated output):"; \
		diff <(echo "$$before") <(echo "$$after") | awk '/^[<>]/ {print "  " $$3}' | sort -u || true; \
		exit 1; \
	fi; \
	echo "check-generate: generated files are up to date"

# The -tags nossl build's own code paths (TLS refused by name, the hashing
# without crypto/*) are tested too: the packages where the tag changes
# something, and the root package's NoSSL tests (all its tests again would
# double the run).
go-test:
	GATEMQ_REQUIRE_TOOLS=1 GATEMQ_MQTTJS_DIR=$(CURDIR)/$(MQTTJS_DIR) GATEMQ_DSMRJS_DIR=$(CURDIR)/$(DSMRJS_DIR) CGO_ENABLED=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -tags nossl -count=1 ./transport ./internal/digest ./mqtt/auth
	$(GO) test -tags nossl -count=1 -run 'NoSSL' .

test: tools
	$(MAKE) --no-print-directory vet fmt-check check-generate size-check
	$(MAKE) --no-print-directory go-test

bench: tools build
	$(MAKE) --no-print-directory bench-go bench-brokers

bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./... | tee bench.txt

bench-brokers: build
	$(GO) run ./scripts/bench -gatemq ./$(BIN) $(BENCH_FLAGS) | tee -a bench.txt
	$(GO) run ./scripts/bench -gatemq ./$(BIN) -only fanin_qos1,fanin_qos2 -persistent -variants gatemq-always,gatemq-always+clean,gatemq-none,mochi,mosquitto,mosquitto-persist | tee -a bench.txt

# bench-emulated runs scripts/bench/emulated.sh: gatemq cross-built for
# EMU (mipsle, armv5 or armv7) and Debian's mosquitto for the same
# architecture (apt-get download and dpkg -x into .cache/emulated, never
# installed; the first run fetches about 9 MB), both under qemu-user, in
# the everyday-rate scenarios, with 2,000 idle connections and in a storm
# of 2,000 connections opened and closed; the load is native, so only the
# ratios count. BENCH_EMU_FLAGS go to the driver.
EMU             ?= mipsle
BENCH_EMU_FLAGS ?=
bench-emulated: tools
	scripts/bench/emulated.sh $(EMU) $(BENCH_EMU_FLAGS) | tee bench-emulated.txt

# bench-bridges runs bridge_compare_test.go: the gatemq binary and Debian's
# mosquitto, each as the edge of a bridge to its own Debian mosquitto
# upstream, through the same scenarios (throughput at QoS 1 and 2, the
# drain after a 100,000-message outage, loss and duplicates through a
# refused link, a black hole and a SIGKILL of the edge, bytes written per
# message). It is a measurement, so it is not part of `make test`: about 12
# minutes. The terminal shows the progress and the table; the whole log is
# in bench-bridges.log, the table in bench-bridges.txt.
bench-bridges: tools
	@set +e; GATEMQ_BRIDGE_COMPARE=1 $(GO) test -count=1 -run TestBridgeCompare -v -timeout 30m . 2>&1 | \
		tee bench-bridges.log | grep --line-buffered -E '^(=== RUN|[[:space:]]*--- |FAIL|ok|PASS)'; \
	status=$${PIPESTATUS[0]}; \
	sed -n '/^===== Bridges/,/^upstream subscriber/p' bench-bridges.log | tee bench-bridges.txt; \
	exit $$status

# fuzz runs each Fuzz* function of each package for FUZZTIME, one at a time
# (go test -fuzz takes one package and one target per run).
fuzz:
	@$(GO) list -e -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do \
		for fn in $$(cat "$$dir"/*_test.go 2>/dev/null | sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' | sort -u); do \
			echo "== fuzz $$pkg $$fn ($(FUZZTIME))"; \
			$(GO) test "$$pkg" -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME); \
		done; \
	done

clean:
	rm -f $(BIN) bench.txt bench-emulated.txt bench-bridges.txt bench-bridges.log *.test *.prof

# Static stripped builds for every router/hub target into dist/, with sizes.
cross:
	scripts/cross.sh

# The linux/mipsle binaries, with everything and with -tags nossl, must stay
# within scripts/size-budget.txt (`scripts/size-check.sh -nossl` shows the
# share table of the nossl one).
size-check:
	scripts/size-check.sh

# Release artifacts of every scripts/cross.sh target (scripts/release, with
# nFPM pinned in its own go.mod): built twice, the second time into a
# temporary folder, and the two SHA256SUMS compared (reproducible builds);
# then the release tests run on the full set (lintian on every .deb, the
# control fields of every .ipk/.apk, the amd64 .deb and the mips .ipk
# serving mosquitto clients). VERSION must be x.y.z.
RELEASE_OUT ?= dist/release
release: tools
	@case "$(VERSION)" in *[!0-9.]* | "") echo "release: VERSION=$(VERSION): give VERSION=x.y.z" >&2; exit 2;; esac
	cd scripts/release && $(GO) run . -root ../.. -out $(CURDIR)/$(RELEASE_OUT) -version $(VERSION)
	@again=$$(mktemp -d); trap 'rm -rf "$$again"' EXIT; \
	(cd scripts/release && $(GO) run . -root ../.. -out "$$again" -version $(VERSION) >/dev/null); \
	if cmp -s $(RELEASE_OUT)/SHA256SUMS "$$again/SHA256SUMS"; then echo "release: reproducible: a second build gave the same SHA256SUMS"; \
	else echo "release: NOT reproducible:"; diff $(RELEASE_OUT)/SHA256SUMS "$$again/SHA256SUMS"; exit 1; fi
	GATEMQ_REQUIRE_TOOLS=1 GATEMQ_RELEASE_DIR=$(CURDIR)/$(RELEASE_OUT) GATEMQ_RELEASE_VERSION=$(VERSION) $(GO) test -count=1 -run 'TestRelease' -v . | grep -E '^(=== RUN|--- |PASS|FAIL|ok)'
