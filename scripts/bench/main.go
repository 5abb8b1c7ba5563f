// Command bench compares gatemq with Debian's mosquitto on loopback under the
// same load, driven by Eclipse Paho clients.
//
// Usage:
//
//	go run ./scripts/bench -gatemq ./gatemq [-mosquitto PATH] [-rounds 3] [-conns 10000] [-durable] [-only fanin_qos0,idle]
//	go run ./scripts/bench -gatemq ./gatemq -only fanin_qos1,fanin_qos2 -persistent -variants gatemq-always,gatemq-none,mosquitto-persist
//	go run ./scripts/bench -gatemq ./gatemq -only fanin_qos2 -persistent -variants gatemq-always,gatemq-always+clean,mochi,mosquitto-persist
//	go run ./scripts/bench -gatemq ./gatemq -only everyday_qos0,everyday_qos1,everyday_qos2 [-perf] [-variants gatemq-base,gatemq,mosquitto -gatemq-base OLD]
//	go run ./scripts/bench -gatemq ./gatemq -only sensors_qos0,sensors_qos1 [-sensors 500 -sensor-every 1s -sensor-burst 1] [-variants gatemq-base,gatemq,mosquitto -gatemq-base OLD]
//	go run ./scripts/bench -gatemq ./gatemq-mipsle -mosquitto SYSROOT/usr/sbin/mosquitto -qemu qemu-mipsel-static -sysroot SYSROOT -only everyday_qos0,idle
//
// By default it compares two brokers: mosquitto with its defaults (state in
// memory) and gatemq with -memory; -durable gives gatemq its flash log
// instead (sync always), to see what durability costs. -variants picks the
// set-ups (columns) instead, in the same alternating rounds:
//
//   - gatemq: -memory, or the flash log with sync always under -durable;
//     gatemq-memory: -memory in any case; gatemq-base: the binary of
//     -gatemq-base with -memory (a build before a change, alternating
//     with the one after);
//   - gatemq-always, gatemq-interval, gatemq-none: the flash log with that
//     sync policy; like gatemq under -durable, these get a generated config
//     (sync POLICY, sys_interval 1) and a fresh data folder per run;
//   - mosquitto: defaults (in memory); mosquitto-persist: persistence true
//     in a fresh persistence_location with the default autosave (mosquitto
//     writes its file every 1800 s and at shutdown, never while the load
//     runs);
//   - mochi: mochi-mqtt/server v2 in memory; mochi-bolt: with its bolt
//     storage hook in a fresh data folder. The broker is scripts/bench/mochi
//     (its own module), built into a temporary folder unless -mochi names
//     a binary.
//
// Ratios are against mosquitto-persist if it runs, else mosquitto, else the
// last variant. -persistent makes every client connect with CleanSession
// false under a fixed id per role and run, so the broker keeps routes for
// the subscribers and inbound QoS 2 ids for the publishers; at the end each
// id connects once more with a clean session to drop its session. A
// variant named with the suffix +clean (gatemq-always+clean) is that set-up
// with clean sessions whatever -persistent says, so that durable and
// clean-session figures come from the same rounds. A mosquitto variant
// with the suffix +nodelay (mosquitto+nodelay) has set_tcp_nodelay true,
// the TCP_NODELAY that Go sockets (gatemq's, mochi's) have by default:
// Mosquitto's own default leaves Nagle's algorithm on.
//
// After each run of gatemq with its flash log, once publishing and draining
// are done, it reads the flash-wear counters from $SYS/broker/store/ (a
// round published at least 1 s later) and reports, counted from the broker's
// start (so session set-up is included): fsyncs per 1,000 delivered
// messages, bytes written to the store per delivered message (compaction
// included: the flash write amplification), and compactions. For every
// set-up with state on disk it also reports the data folder's size at that
// moment (before the sessions are removed).
//
// For every set-up and load it reports the broker's CPU time (user plus
// system, from /proc/PID/stat, all threads) from the first publish until
// the deliveries are done, per delivered message: with 2 CPUs shared by
// driver and broker, the figure that does not depend on who waits for whom.
//
// For every scenario and round it starts a fresh broker for each set-up in
// turn (A B A B ...), runs the load, and stops the broker:
//
//   - fanin_qosN: 4 publishers → 1 subscriber, 64-byte payloads, QoS 0, 1, 2;
//     distinct messages delivered per second, and how many were lost (sent
//     minus received; at QoS 1/2 a message counts as sent only when its
//     publish token completed).
//   - fanout_qosN: 1 publisher → 8 subscribers, QoS 0 and 1; deliveries per
//     second.
//   - idle: N idle clients that completed CONNECT; the broker's VmRSS growth
//     per client, in KiB, -idle-settle after the last CONNACK (and at
//     once, before gatemq parks them and gives the burst back); how fast it took them (connections per second,
//     32 dialing at once) and its CPU time per connection.
//   - churn: a connection storm: -conns connections, 32 at once, each
//     dialed, CONNECT to CONNACK, DISCONNECT, closed by the broker;
//     connections per second and the broker's CPU time per connection,
//     its close included (counted until it holds no more sockets than
//     before the storm).
//   - everyday_qosN: the everyday rate, QoS 0, 1, 2: one publisher paced at
//     -rate messages per second (2,000) for -everyday-duration → one
//     subscriber, raw MQTT 3.1.1 clients (everyday.go); the broker's CPU
//     time per delivered message (µs, utime+stime of /proc/PID/stat from
//     the first publish to the last delivery) and as a share of one core,
//     and the p50 and p99 latency from publish to delivery. With -perf,
//     also the broker's system calls and context switches per message
//     (perf stat attached to it).
//   - sensors_qos0, sensors_qos1: a home hub's sensors: -sensors raw MQTT
//     3.1.1 clients, each publishing a reading every -sensor-every or so
//     (a period of its own between once and twice that, first readings
//     spread over the first) for -sensors-duration, at QoS 0 or 1 (each
//     waits for its PUBACKs), to one subscriber on a wildcard (sensors.go);
//     a reading is -sensor-burst messages, each written on its own:
//     every sensor is idle between two of its readings, long enough for
//     gatemq to park it; the broker's CPU time per delivered message, its
//     VmRSS with the sensors connected and idle (before publishing) and at
//     the end of the publishing, and the p50 and p99 latency; -perf as for
//     everyday_qosN.
//
// With -qemu, every broker runs under that qemu-user emulator (e.g.
// qemu-mipsel-static, with gatemq built for mipsle and Debian's mipsel
// mosquitto unpacked into -sysroot: make bench-emulated), while the load
// is generated natively; only ratios mean something then.
//
// Everything is bounded: at most -msgs messages per publisher and -duration
// of publishing per run, then at most -drain of waiting for deliveries. It
// prints a table and then one plain line per metric, e.g.
// "fanin_qos0 gatemq=123456 mosquitto=98765 ratio=1.25" (with more than two
// set-ups, "gatemq-always/mosquitto-persist=1.25" and so on for each ratio).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	os.Exit(run())
}

// scenario is one comparable measurement: a full load, an everyday rate,
// the connection storm (churn), or (none of these) the idle connections.
type scenario struct {
	name     string
	load     *loadConfig
	everyday *everydayConfig
	sensors  *sensorsConfig
	churn    bool
}

// idle reports whether s is the idle-connection scenario.
func (s scenario) idle() bool {
	return s.load == nil && s.everyday == nil && s.sensors == nil && !s.churn
}

// scenarioNames lists the scenarios -only accepts, in run order.
var scenarioNames = []string{"fanin_qos0", "fanin_qos1", "fanin_qos2", "fanout_qos0", "fanout_qos1", "idle", "churn",
	"everyday_qos0", "everyday_qos1", "everyday_qos2", "sensors_qos0", "sensors_qos1"}

// pickScenarios returns the scenarios of all that the comma-separated list
// only names (all of them when it is empty); a name that matches none is
// an error.
func pickScenarios(all []scenario, only string) ([]scenario, error) {
	if only == "" {
		return all, nil
	}
	names := strings.Split(only, ",")
	for _, n := range names {
		if !slices.ContainsFunc(all, func(s scenario) bool { return s.name == n }) {
			return nil, fmt.Errorf("-only: no scenario %q (want some of %s)", n, strings.Join(scenarioNames, ","))
		}
	}
	var picked []scenario
	for _, s := range all {
		if slices.Contains(names, s.name) {
			picked = append(picked, s)
		}
	}
	return picked, nil
}

func run() int {
	gatemqPath := flag.String("gatemq", "./gatemq", "gatemq `binary` to benchmark")
	mosqPath := flag.String("mosquitto", "", "mosquitto broker `binary` (default: mosquitto on PATH, else /usr/sbin/mosquitto)")
	basePath := flag.String("gatemq-base", "", "another gatemq `binary`, the gatemq-base variant (e.g. a build before a change)")
	mochiPath := flag.String("mochi", "", "mochi broker `binary` for the mochi variants (default: built from scripts/bench/mochi)")
	rounds := flag.Int("rounds", 3, "rounds; each round runs every scenario on gatemq, then on mosquitto")
	msgs := flag.Int("msgs", 50000, "most messages per publisher per run")
	duration := flag.Duration("duration", 3*time.Second, "most publishing time per run")
	drain := flag.Duration("drain", 10*time.Second, "most time to wait for deliveries after publishing")
	window := flag.Int("window", 64, "most unfinished publishes per publisher")
	payload := flag.Int("payload", 64, "payload `bytes` (at least 9)")
	conns := flag.Int("conns", 10000, "connections of the idle and churn scenarios")
	settle := flag.Duration("idle-settle", 25*time.Second, "how long the idle scenario waits, once all are connected, before it reads the broker's memory (gatemq gives a burst's memory back within 20 s)")
	durable := flag.Bool("durable", false, "run the gatemq variant with its flash log (fresh data folder, sync always) instead of -memory; mosquitto stays in memory")
	variants := flag.String("variants", "gatemq,mosquitto", "comma-separated broker set-ups to compare, each a column: "+strings.Join(variantNames, ","))
	persistent := flag.Bool("persistent", false, "clients connect with CleanSession false (fixed ids per role and run); their sessions are removed at the end")
	nodelay := flag.Bool("mosquitto-nodelay", false, "give mosquitto set_tcp_nodelay true (off by default in mosquitto, while Go sockets have TCP_NODELAY on)")
	profDir := flag.String("cpuprofile", "", "write a CPU profile of every gatemq run into `folder` as VARIANT-SCENARIO-rROUND.prof (gatemq -cpuprofile: build it with make build TAGS=profile)")
	only := flag.String("only", "", "comma-separated scenarios to run (default all): "+strings.Join(scenarioNames, ","))
	rate := flag.Int("rate", 2000, "messages per second of the everyday-rate scenarios")
	everydayDur := flag.Duration("everyday-duration", 5*time.Second, "publishing time of each everyday-rate run")
	perf := flag.Bool("perf", false, "everyday-rate and sensors runs also count the broker's system calls and context switches (perf stat)")
	perfExtra := flag.String("perf-events", "", "with -perf: more comma-separated perf `events` to count, shown per message in the progress lines (e.g. 'syscalls:sys_enter_*')")
	nSensors := flag.Int("sensors", 500, "clients of the sensors scenarios")
	sensorEvery := flag.Duration("sensor-every", time.Second, "the sensors scenarios' shortest period: each sensor publishes every `period` to twice that")
	sensorBurst := flag.Int("sensor-burst", 1, "messages per reading in the sensors scenarios, each written on its own, one after the other")
	sensorsDur := flag.Duration("sensors-duration", 20*time.Second, "publishing time of each sensors run")
	qemu := flag.String("qemu", "", "run every broker under this qemu-user `emulator` (e.g. qemu-mipsel-static); the load stays native")
	sysroot := flag.String("sysroot", "", "with -qemu: the foreign system `root` a dynamically linked broker's libraries are in (qemu -L)")
	flag.Parse()

	if *payload < 9 || *window < 1 || *msgs < 1 || *rounds < 1 || *rate < 1 || *everydayDur <= 0 ||
		*nSensors < 1 || *sensorEvery <= 0 || *sensorBurst < 1 || *sensorsDur <= 0 {
		fmt.Fprintln(os.Stderr, "bench: need -payload >= 9, -window >= 1, -msgs >= 1, -rounds >= 1, -rate >= 1, -everyday-duration > 0, -sensors >= 1, -sensor-every > 0, -sensor-burst >= 1, -sensors-duration > 0")
		return 2
	}
	mosq, err := findMosquitto(*mosqPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if _, err := os.Stat(*gatemqPath); err != nil {
		fmt.Fprintf(os.Stderr, "bench: gatemq binary: %v (build it with `make build`)\n", err)
		return 1
	}
	limit, err := raiseFileLimit()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: raising RLIMIT_NOFILE:", err)
	}
	if need := uint64(max(*conns, *nSensors)) + 256; limit < need {
		fmt.Fprintf(os.Stderr, "bench: RLIMIT_NOFILE is %d; lowering -conns from %d to %d\n", limit, *conns, int(limit)-256)
		*conns = max(int(limit)-256, 0)
	}

	brokers, err := parseVariants(*variants, *gatemqPath, *basePath, mosq, *mochiPath, *durable, *nodelay)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if *qemu != "" {
		emu, err := newEmulator(*qemu, *sysroot)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		for i := range brokers {
			brokers[i].emu = emu
		}
	}
	if needsMochi(brokers) && *mochiPath == "" {
		path, cleanup, err := buildMochi()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer cleanup()
		for i := range brokers {
			if brokers[i].program == "mochi" {
				brokers[i].path = path
			}
		}
	}
	var names []string
	wearOn, diskOn := map[string]bool{}, map[string]bool{}
	for _, bk := range brokers {
		names = append(names, bk.name)
		if bk.wear() {
			wearOn[bk.name] = true
		}
		if bk.durable {
			diskOn[bk.name] = true
		}
	}
	baseline := baselineOf(brokers)

	base := loadConfig{msgs: *msgs, duration: *duration, window: *window, payload: *payload,
		drainStall: 2 * time.Second, drainMax: *drain, connTimeout: 10 * time.Second, persistent: *persistent}
	withLoad := func(pubs, subs int, qos byte) *loadConfig {
		c := base
		c.pubs, c.subs, c.qos = pubs, subs, qos
		return &c
	}
	paced := func(d time.Duration, qos byte, header int) msgRun {
		r := msgRun{duration: d, qos: qos, payload: max(*payload, header), drain: *drain, connTimeout: 10 * time.Second, perf: *perf}
		if *perfExtra != "" {
			r.perfExtra = strings.Split(*perfExtra, ",")
		}
		return r
	}
	everyday := func(qos byte) *everydayConfig {
		return &everydayConfig{rate: *rate, msgRun: paced(*everydayDur, qos, everydayHeader)}
	}
	sensors := func(qos byte) *sensorsConfig {
		return &sensorsConfig{conns: *nSensors, every: *sensorEvery, burst: *sensorBurst, msgRun: paced(*sensorsDur, qos, sensorHeader)}
	}
	all := []scenario{
		{name: "fanin_qos0", load: withLoad(4, 1, 0)},
		{name: "fanin_qos1", load: withLoad(4, 1, 1)},
		{name: "fanin_qos2", load: withLoad(4, 1, 2)},
		{name: "fanout_qos0", load: withLoad(1, 8, 0)},
		{name: "fanout_qos1", load: withLoad(1, 8, 1)},
		{name: "idle"},
		{name: "churn", churn: true},
		{name: "everyday_qos0", everyday: everyday(0)},
		{name: "everyday_qos1", everyday: everyday(1)},
		{name: "everyday_qos2", everyday: everyday(2)},
		{name: "sensors_qos0", sensors: sensors(0)},
		{name: "sensors_qos1", sensors: sensors(1)},
	}
	scenarios, err := pickScenarios(all, *only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}

	// Metrics in print order; each scenario fills some of them.
	byName := map[string]*metric{}
	var metrics []*metric
	want := func(name, unit string, ratio bool) *metric {
		m := newMetric(name, unit, ratio)
		byName[name] = m
		metrics = append(metrics, m)
		return m
	}
	for _, s := range scenarios {
		switch {
		case s.idle():
			want("idle_kib_per_conn", "KiB/conn", true)
			want("idle_rss_before", "KiB", true)
			want("idle_rss_after", "KiB", true)
			want("idle_kib_per_conn_at_once", "KiB/conn", true)
			want("idle_conns_per_s", "conns/s", true)
			want("idle_cpu_us_per_conn", "broker CPU µs/conn", true)
		case s.churn:
			want("churn_conns_per_s", "conns/s", true)
			want("churn_cpu_us_per_conn", "broker CPU µs/conn", true)
		case s.everyday != nil || s.sensors != nil:
			want(s.name+"_cpu_us", "broker CPU µs/msg", true)
			if s.everyday != nil {
				want(s.name+"_cpu_pct", "% of a core", true)
			} else {
				want(s.name+"_rss_idle", "KiB", true)
				want(s.name+"_rss_busy", "KiB", true)
			}
			want(s.name+"_p50_us", "latency µs", true)
			want(s.name+"_p99_us", "latency µs", true)
			want(s.name+"_lost", "msgs", false)
			if *perf {
				want(s.name+"_syscalls", "syscalls/msg", true)
				want(s.name+"_ctxsw", "ctx switches/msg", true)
			}
		case s.load.subs == 1:
			want(s.name, "msg/s", true)
			want(s.name+"_lost", "msgs", false)
			want(s.name+"_dups", "msgs", false)
		default:
			want(s.name, "deliveries/s", true)
			want(s.name+"_lost", "deliveries", false)
			want(s.name+"_dups", "deliveries", false)
		}
		if s.load != nil {
			want(s.name+"_cpu_us", "broker CPU µs/delivery", true)
		}
		if s.load != nil && len(wearOn) > 0 {
			want(s.name+"_fsyncs_per_1k", "fsyncs/1000 deliveries", false).only = wearOn
			want(s.name+"_per_fsync", "deliveries/fsync", false).only = wearOn
			want(s.name+"_store_bytes_per_msg", "B/delivery", false).only = wearOn
			want(s.name+"_compactions", "count", false).only = wearOn
		}
		if s.load != nil && len(diskOn) > 0 {
			want(s.name+"_data_kib", "KiB", false).only = diskOn
		}
	}

	versions := map[string]string{}
	for _, bk := range brokers {
		if _, ok := versions[bk.program]; !ok {
			versions[bk.program] = brokerVersion(bk)
		}
	}
	var vs []string
	for _, p := range []string{"gatemq", "mosquitto", "mochi"} {
		if v, ok := versions[p]; ok {
			vs = append(vs, v)
		}
	}
	fmt.Printf("# brokers on loopback: %s\n", strings.Join(vs, " | "))
	if *qemu != "" {
		fmt.Printf("# every broker under %s (sysroot %q); the load is native: only ratios count\n", *qemu, *sysroot)
	}
	fmt.Printf("# %s/%s, %d CPUs (driver and broker share them); %d rounds, brokers alternating; ratios against %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *rounds, baseline)
	for _, bk := range brokers {
		desc := bk.describe()
		if bk.nodelay {
			desc += " + set_tcp_nodelay true"
		}
		if bk.clean {
			desc += "; clean sessions"
		}
		fmt.Printf("#   %s: %s\n", bk.name, desc)
	}
	if len(diskOn) > 0 {
		fmt.Printf("# data folders under %s (%s)\n", os.TempDir(), fsType(os.TempDir()))
	}
	sessions := "clean sessions"
	if *persistent {
		sessions = "persistent sessions (CleanSession false, fixed ids; removed at the end)"
	}
	fmt.Printf("# -msgs %d -duration %v -drain %v -window %d -payload %d -conns %d -rate %d -everyday-duration %v; %s\n",
		*msgs, *duration, *drain, *window, *payload, *conns, *rate, *everydayDur, sessions)

	if *profDir != "" {
		if err := os.MkdirAll(*profDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -cpuprofile:", err)
			return 1
		}
	}
	failed := false
	for r := 1; r <= *rounds; r++ {
		for _, s := range scenarios {
			for _, bk := range brokers {
				line, err := runOne(bk, s, r, *conns, *settle, byName, *profDir)
				if err != nil {
					failed = true
					fmt.Fprintf(os.Stderr, "round %d %s %s: %v\n", r, s.name, bk.name, err)
					for _, m := range metrics {
						if strings.HasPrefix(m.name, s.name) {
							m.fail(bk.name, fmt.Errorf("round %d: %w", r, err))
						}
					}
					continue
				}
				fmt.Fprintf(os.Stderr, "round %d %-12s %-9s %s\n", r, s.name, bk.name, line)
			}
		}
	}
	fmt.Println()
	printTable(os.Stdout, metrics, names, baseline)
	fmt.Println()
	printSummary(os.Stdout, metrics, names, baseline)
	if failed {
		return 1
	}
	return 0
}

// runOne runs scenario s once against a fresh broker of kind bk, records
// the results into metrics, and returns a progress line. With profDir,
// gatemq writes its CPU profile there.
func runOne(bk brokerKind, s scenario, round, conns int, settle time.Duration, metrics map[string]*metric, profDir string) (string, error) {
	var extra []string
	if profDir != "" && bk.program == "gatemq" {
		extra = []string{"-cpuprofile", filepath.Join(profDir, fmt.Sprintf("%s-%s-r%d.prof", bk.name, s.name, round))}
	}
	b, err := startBroker(bk, extra...)
	if err != nil {
		return "", err
	}
	defer b.stop()

	if s.everyday != nil {
		return runEverydayOne(b, s, round, metrics)
	}
	if s.sensors != nil {
		return runSensorsOne(b, s, round, metrics)
	}
	if s.churn {
		res, err := runChurn(b, conns, 32, 10*time.Second)
		if err != nil {
			return "", err
		}
		metrics["churn_conns_per_s"].add(bk.name, res.connsPerSec())
		metrics["churn_cpu_us_per_conn"].add(bk.name, res.cpuPerConn())
		return fmt.Sprintf("%d conns opened and closed: %.0f conns/s, broker CPU %.0f µs/conn", res.conns, res.connsPerSec(), res.cpuPerConn()), nil
	}
	if s.idle() {
		res, err := runIdle(b, conns, 32, 10*time.Second, settle)
		if err != nil {
			return "", err
		}
		metrics["idle_kib_per_conn"].add(bk.name, res.kibPerConn())
		metrics["idle_rss_before"].add(bk.name, float64(res.beforeKiB))
		metrics["idle_rss_after"].add(bk.name, float64(res.afterKiB))
		metrics["idle_kib_per_conn_at_once"].add(bk.name, res.kibPerConnAtOnce())
		metrics["idle_conns_per_s"].add(bk.name, res.connsPerSec())
		metrics["idle_cpu_us_per_conn"].add(bk.name, res.cpuPerConn())
		return fmt.Sprintf("%d conns: RSS %d → %d KiB (%d at once), %.2f KiB/conn (%.2f at once); %.0f conns/s, broker CPU %.0f µs/conn",
			res.conns, res.beforeKiB, res.afterKiB, res.atOnceKiB, res.kibPerConn(), res.kibPerConnAtOnce(), res.connsPerSec(), res.cpuPerConn()), nil
	}

	runID := fmt.Sprintf("r%d-%s", round, s.name)
	var wear storeCounters
	var dataBytes int64
	var cpu0, cpu1 time.Duration
	beforePublish := func() error {
		var err error
		cpu0, err = b.cpuTime()
		return err
	}
	afterDrain := func(drained time.Time) error {
		var err error
		if cpu1, err = b.cpuTime(); err != nil {
			return err
		}
		if bk.wear() {
			var err error
			if wear, err = readStoreCounters(b.addr, runID+"-sys", drained, 5*time.Second); err != nil {
				return fmt.Errorf("store counters: %w", err)
			}
		}
		if b.data != "" {
			var err error
			if dataBytes, err = dirSize(b.data); err != nil {
				return fmt.Errorf("data folder size: %w", err)
			}
		}
		return nil
	}
	load := *s.load
	if bk.clean {
		load.persistent = false
	}
	res, err := runLoad(b.addr, runID, load, beforePublish, afterDrain)
	if err != nil {
		return "", err
	}
	if err := b.alive(); err != nil {
		return "", err
	}
	metrics[s.name].add(bk.name, res.rate())
	metrics[s.name+"_lost"].add(bk.name, float64(res.lost()))
	metrics[s.name+"_dups"].add(bk.name, float64(res.dups))
	cpuPer := 0.0
	if res.received > 0 {
		cpuPer = float64((cpu1 - cpu0).Microseconds()) / float64(res.received)
	}
	metrics[s.name+"_cpu_us"].add(bk.name, cpuPer)
	line := fmt.Sprintf("sent %d (errors %d), delivered %d of %d, dups %d, %v: %.0f/s; broker CPU %v (%.1f µs/delivery)",
		res.sent, res.pubErrors, res.received, res.expected, res.dups, res.elapsed.Round(time.Millisecond), res.rate(),
		(cpu1 - cpu0).Round(time.Millisecond), cpuPer)
	if bk.wear() {
		fsyncs, bytes := wear.perDelivery(res.received)
		metrics[s.name+"_fsyncs_per_1k"].add(bk.name, fsyncs)
		if fsyncs > 0 {
			metrics[s.name+"_per_fsync"].add(bk.name, 1000/fsyncs)
		}
		metrics[s.name+"_store_bytes_per_msg"].add(bk.name, bytes)
		metrics[s.name+"_compactions"].add(bk.name, float64(wear.compactions))
		line += fmt.Sprintf("; store: %d fsyncs (%.1f/1000), %d B written (%.0f B/delivery), %d compactions, %d B total, %d B live",
			wear.fsyncs, fsyncs, wear.bytesWritten, bytes, wear.compactions, wear.bytesTotal, wear.bytesLive)
	}
	if b.data != "" {
		metrics[s.name+"_data_kib"].add(bk.name, float64(dataBytes)/1024)
		line += fmt.Sprintf("; data folder %d B", dataBytes)
	}
	return line, nil
}
