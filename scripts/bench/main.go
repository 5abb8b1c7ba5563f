// Command bench compares gatemq with Debian's mosquitto on loopback under the
// same load, driven by Eclipse Paho clients.
//
// Usage:
//
//	go run ./scripts/bench -gatemq ./gatemq [-mosquitto PATH] [-rounds 3] [-conns 10000] [-durable] [-only fanin_qos0,idle]
//
// mosquitto runs with its defaults (state in memory), and so gatemq runs with
// -memory; -durable gives gatemq its flash log instead (a fresh -data folder
// per run, sync always), to see what durability costs.
//
// For every scenario and round it starts a fresh broker, gatemq then
// mosquitto (A B A B ...), runs the load, and stops the broker:
//
//   - fanin_qosN: 4 publishers → 1 subscriber, 64-byte payloads, QoS 0, 1, 2;
//     distinct messages delivered per second, and how many were lost (sent
//     minus received; at QoS 1/2 a message counts as sent only when its
//     publish token completed).
//   - fanout_qosN: 1 publisher → 8 subscribers, QoS 0 and 1; deliveries per
//     second.
//   - idle: N idle clients that completed CONNECT; the broker's VmRSS growth
//     per client, in KiB.
//
// Everything is bounded: at most -msgs messages per publisher and -duration
// of publishing per run, then at most -drain of waiting for deliveries. It
// prints a table and then one plain line per metric, e.g.
// "fanin_qos0 gatemq=123456 mosquitto=98765 ratio=1.25".
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	os.Exit(run())
}

// scenario is one comparable measurement.
type scenario struct {
	name string
	load *loadConfig // nil for the idle-connection scenario
}

func run() int {
	gatemqPath := flag.String("gatemq", "./gatemq", "gatemq `binary` to benchmark")
	mosqPath := flag.String("mosquitto", "", "mosquitto broker `binary` (default: mosquitto on PATH, else /usr/sbin/mosquitto)")
	rounds := flag.Int("rounds", 3, "rounds; each round runs every scenario on gatemq, then on mosquitto")
	msgs := flag.Int("msgs", 50000, "most messages per publisher per run")
	duration := flag.Duration("duration", 3*time.Second, "most publishing time per run")
	drain := flag.Duration("drain", 10*time.Second, "most time to wait for deliveries after publishing")
	window := flag.Int("window", 64, "most unfinished publishes per publisher")
	payload := flag.Int("payload", 64, "payload `bytes` (at least 9)")
	conns := flag.Int("conns", 10000, "idle connections in the idle scenario")
	durable := flag.Bool("durable", false, "run gatemq with its flash log (fresh -data folder, sync always) instead of -memory; mosquitto stays in memory")
	nodelay := flag.Bool("mosquitto-nodelay", false, "give mosquitto set_tcp_nodelay true (off by default in mosquitto, while Go sockets have TCP_NODELAY on)")
	only := flag.String("only", "", "comma-separated scenarios to run (default all): fanin_qos0,fanin_qos1,fanin_qos2,fanout_qos0,fanout_qos1,idle")
	flag.Parse()

	if *payload < 9 || *window < 1 || *msgs < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: need -payload >= 9, -window >= 1, -msgs >= 1, -rounds >= 1")
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
	if need := uint64(*conns) + 256; limit < need {
		fmt.Fprintf(os.Stderr, "bench: RLIMIT_NOFILE is %d; lowering -conns from %d to %d\n", limit, *conns, int(limit)-256)
		*conns = max(int(limit)-256, 0)
	}

	brokers := []brokerKind{{name: "gatemq", path: *gatemqPath, durable: *durable}, {name: "mosquitto", path: mosq, nodelay: *nodelay}}
	names := []string{brokers[0].name, brokers[1].name}

	base := loadConfig{msgs: *msgs, duration: *duration, window: *window, payload: *payload,
		drainStall: 2 * time.Second, drainMax: *drain, connTimeout: 10 * time.Second}
	withLoad := func(pubs, subs int, qos byte) *loadConfig {
		c := base
		c.pubs, c.subs, c.qos = pubs, subs, qos
		return &c
	}
	all := []scenario{
		{"fanin_qos0", withLoad(4, 1, 0)},
		{"fanin_qos1", withLoad(4, 1, 1)},
		{"fanin_qos2", withLoad(4, 1, 2)},
		{"fanout_qos0", withLoad(1, 8, 0)},
		{"fanout_qos1", withLoad(1, 8, 1)},
		{"idle", nil},
	}
	var scenarios []scenario
	for _, s := range all {
		if *only == "" || slices.Contains(strings.Split(*only, ","), s.name) {
			scenarios = append(scenarios, s)
		}
	}
	if len(scenarios) == 0 {
		fmt.Fprintf(os.Stderr, "bench: -only %q matches no scenario\n", *only)
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
		case s.load == nil:
			want("idle_kib_per_conn", "KiB/conn", true)
			want("idle_rss_before", "KiB", true)
			want("idle_rss_after", "KiB", true)
		case s.load.subs == 1:
			want(s.name, "msg/s", true)
			want(s.name+"_lost", "msgs", false)
			want(s.name+"_dups", "msgs", false)
		default:
			want(s.name, "deliveries/s", true)
			want(s.name+"_lost", "deliveries", false)
			want(s.name+"_dups", "deliveries", false)
		}
	}

	fmt.Printf("# gatemq vs mosquitto on loopback: %s | %s\n", brokerVersion(brokers[0]), brokerVersion(brokers[1]))
	gatemqState := "-memory"
	if *durable {
		gatemqState = "-data (flash log, sync always)"
	}
	mosqState := "defaults (in memory)"
	if *nodelay {
		mosqState += " + set_tcp_nodelay true"
	}
	fmt.Printf("# %s/%s, %d CPUs (driver and broker share them); %d rounds, brokers alternating; gatemq %s; mosquitto %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *rounds, gatemqState, mosqState)
	fmt.Printf("# -msgs %d -duration %v -drain %v -window %d -payload %d -conns %d\n",
		*msgs, *duration, *drain, *window, *payload, *conns)

	failed := false
	for r := 1; r <= *rounds; r++ {
		for _, s := range scenarios {
			for _, bk := range brokers {
				line, err := runOne(bk, s, r, *conns, byName)
				if err != nil {
					failed = true
					fmt.Fprintf(os.Stderr, "round %d %s %s: %v\n", r, s.name, bk.name, err)
					for _, m := range metrics {
						if strings.HasPrefix(m.name, s.name) || (s.load == nil && strings.HasPrefix(m.name, "idle")) {
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
	printTable(os.Stdout, metrics, names)
	fmt.Println()
	printSummary(os.Stdout, metrics, names)
	if failed {
		return 1
	}
	return 0
}

// runOne runs scenario s once against a fresh broker of kind bk, records
// the results into metrics, and returns a progress line.
func runOne(bk brokerKind, s scenario, round, conns int, metrics map[string]*metric) (string, error) {
	b, err := startBroker(bk)
	if err != nil {
		return "", err
	}
	defer b.stop()

	if s.load == nil {
		res, err := runIdle(b, conns, 32, 10*time.Second)
		if err != nil {
			return "", err
		}
		metrics["idle_kib_per_conn"].add(bk.name, res.kibPerConn())
		metrics["idle_rss_before"].add(bk.name, float64(res.beforeKiB))
		metrics["idle_rss_after"].add(bk.name, float64(res.afterKiB))
		return fmt.Sprintf("%d conns: RSS %d → %d KiB, %.2f KiB/conn", res.conns, res.beforeKiB, res.afterKiB, res.kibPerConn()), nil
	}

	res, err := runLoad(b.addr, fmt.Sprintf("r%d-%s", round, s.name), *s.load)
	if err != nil {
		return "", err
	}
	if err := b.alive(); err != nil {
		return "", err
	}
	metrics[s.name].add(bk.name, res.rate())
	metrics[s.name+"_lost"].add(bk.name, float64(res.lost()))
	metrics[s.name+"_dups"].add(bk.name, float64(res.dups))
	return fmt.Sprintf("sent %d (errors %d), delivered %d of %d, dups %d, %v: %.0f/s",
		res.sent, res.pubErrors, res.received, res.expected, res.dups, res.elapsed.Round(time.Millisecond), res.rate()), nil
}
