package main

// BenchmarkBrokerRecover: the gatemq binary's cold start on a big queue.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// recoveredRoutesRE reads the route count of the recovery summary.
var recoveredRoutesRE = regexp.MustCompile(`\broutes=(\d+)`)

// storeOpenedRE reads how long the store took to open (replay and check).
var storeOpenedRE = regexp.MustCompile(`msg="store opened".* took=(\S+)`)

// BenchmarkBrokerRecover measures how long the gatemq binary takes from
// its start to "gatemq started" (the store opened and replayed, every CRC
// checked, the state rebuilt, the listeners up), and its peak resident set
// (VmHWM) by then, and the part of that time the store took to open
// (store-open-s), with the 64 MB router's Go settings (GOMEMLIMIT=24MiB,
// GOGC=50), on a store of GATEMQ_RECOVER_MB MiB (unset: skipped) of
// GATEMQ_RECOVER_KB KiB (unset: 1) QoS 1 messages queued for one offline
// persistent session: about 1,000,000 messages for 1024 MiB of 1 KiB
// ones, 50,000 of 20 KiB (about what a 64 MB router's default
// max_queued_messages_total lets a store hold).
//
// The store is written through the broker itself: a gatemq binary with
// sync none (the records are the same under every policy; the page cache
// keeps them) takes the messages from a Paho publisher for the persistent
// session of a mosquitto_sub that has gone, and is SIGKILLed, so the
// restart replays the whole log as after a power cut. GATEMQ_RECOVER_DIR
// keeps that store between runs (it is reused when it holds the same
// count). The log's files are in the page cache unless
// GATEMQ_RECOVER_COLD=1, which drops them from it (dd iflag=nocache)
// before each start, so the start reads them from the disk.
func BenchmarkBrokerRecover(b *testing.B) {
	mb, _ := strconv.Atoi(os.Getenv("GATEMQ_RECOVER_MB"))
	if mb <= 0 {
		b.Skip("set GATEMQ_RECOVER_MB (e.g. 1024) to run")
	}
	requireTool(b, "mosquitto_sub", "mosquitto-clients")
	root := os.Getenv("GATEMQ_RECOVER_DIR")
	if root == "" {
		root = b.TempDir()
	}
	cold := os.Getenv("GATEMQ_RECOVER_COLD") == "1"
	kb, _ := strconv.Atoi(os.Getenv("GATEMQ_RECOVER_KB"))
	kb = max(kb, 1)
	n := mb * 1000000 / 1024 / kb
	data := genRecoverStore(b, root, n, kb<<10)
	logBytes, err := dirBytes(data)
	if err != nil {
		b.Fatal(err)
	}
	bin := gatemqBinary(b)
	// The broker as it starts on a router: sync always (the default).
	conf := writeConfig(b, "max_queued_messages 0\nmax_queued_messages_total 0\n"+recoverStoreCap)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if cold {
			dropFromPageCache(b, data)
		}
		p := newBrokerProc(b, bin, "-c", conf, "-data", data)
		p.env = queueGoEnv
		b.StartTimer()
		start := time.Now()
		rec := p.mustStart(30 * time.Minute)
		took := time.Since(start)
		b.StopTimer()
		peak := procStatus(b, p.pid(), "VmHWM")
		p.kill()
		p.mu.Lock()
		stderr := p.runs[len(p.runs)-1].stderr.String()
		p.mu.Unlock()
		if m := storeOpenedRE.FindStringSubmatch(stderr); m != nil {
			if d, err := time.ParseDuration(m[1]); err == nil {
				b.ReportMetric(d.Seconds(), "store-open-s")
			}
		}
		m := recoveredRoutesRE.FindStringSubmatch(rec)
		if m == nil || m[1] != strconv.Itoa(n) {
			b.Fatalf("recovered %q, want routes=%d", rec, n)
		}
		b.ReportMetric(took.Seconds(), "start-s")
		b.ReportMetric(float64(peak)/(1<<20), "VmHWM-MiB")
		b.ReportMetric(float64(logBytes)/(1<<20), "log-MiB")
		b.ReportMetric(float64(n), "queued")
		b.StartTimer()
	}
}

// recoverStoreCap lifts the store's size cap (the board profile's is at
// most 1 GiB, and 1,000,000 messages of 1 KiB take 1.09 GiB).
const recoverStoreCap = "store_max_bytes 8G\n"

// genRecoverStore returns the data folder under root holding n QoS 1
// messages of size bytes queued for the offline persistent session
// big-sub, writing it through a gatemq binary unless root already holds
// it.
func genRecoverStore(b *testing.B, root string, n, size int) string {
	data := filepath.Join(root, "data")
	stamp := filepath.Join(root, "GENERATED")
	want := fmt.Sprintf("%d×%d", n, size)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return data
	}
	os.Remove(stamp)
	if err := os.RemoveAll(data); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		b.Fatal(err)
	}
	conf := filepath.Join(root, "gen.conf")
	if err := os.WriteFile(conf, []byte("sync none\nmax_queued_messages 0\nmax_queued_messages_total 0\n"+recoverStoreCap), 0o644); err != nil {
		b.Fatal(err)
	}
	p := newBrokerProc(b, gatemqBinary(b), "-c", conf, "-data", data)
	p.mustStart(time.Minute)
	host, port := splitAddr(b, p.addr)
	runTool(b, "mosquitto_sub", "-h", host, "-p", port, "-i", "big-sub", "-c", "-q", "1", "-t", "big/#", "-E")
	took := fillQueue(b, p.addr, n, size, 1)
	p.kill()
	total, err := dirBytes(data)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d × %d B queued in %.0f s: %d MiB in %s", n, size, took.Seconds(), total>>20, data)
	if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
		b.Fatal(err)
	}
	return data
}

// dirBytes returns the bytes of the regular files in dir.
func dirBytes(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n, nil
}

// dropFromPageCache asks the kernel to drop the cached pages of every file
// in dir (GNU dd's iflag=nocache with count=0 advises DONTNEED for the
// whole file), so that the next reader reads them from the disk.
func dropFromPageCache(b *testing.B, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if out, err := exec.Command("dd", "if="+path, "iflag=nocache", "count=0", "status=none").CombinedOutput(); err != nil {
			b.Fatalf("dd iflag=nocache %s: %v: %s", path, err, out)
		}
	}
}
