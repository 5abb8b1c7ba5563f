package serial

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// requireTool returns the path of an external tool, or skips the test
// loudly when it is missing (and fails it when GATEMQ_REQUIRE_TOOLS=1, as
// `make test` sets).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not installed (apt-get install -y %s): %s NOT RUN", name, name, t.Name())
	if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "SKIP:", msg)
	t.Skip(msg)
	return ""
}

// ptyPair is a socat process joining two pseudo-terminals linked at
// dir/a (the bridge's end) and dir/b (the test's end).
type ptyPair struct {
	cmd  *exec.Cmd
	a, b string
}

// startPty starts socat and waits for both links.
func startPty(t *testing.T, socat, dir string) *ptyPair {
	t.Helper()
	p := &ptyPair{a: filepath.Join(dir, "a"), b: filepath.Join(dir, "b")}
	p.cmd = exec.Command(socat, "-d", "-d",
		"pty,raw,echo=0,link="+p.a, "pty,raw,echo=0,link="+p.b)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("socat: %v", err)
	}
	t.Cleanup(p.stop)
	waitFor(t, wait, func() error {
		for _, l := range []string{p.a, p.b} {
			if _, err := os.Stat(l); err != nil {
				return err
			}
		}
		return nil
	})
	return p
}

// stop ends socat by its pid (SIGTERM, so it removes its links) and reaps
// it; it is safe to call twice.
func (p *ptyPair) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// openEnd opens the test's end of the pair.
func (p *ptyPair) openEnd(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile(p.b, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readExactly reads len(want) bytes from f and compares them.
func readExactly(t *testing.T, f *os.File, want string) {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatalf("pty deadline: %v", err)
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 256)
	for len(got) < len(want) {
		n, err := f.Read(buf[:min(len(buf), len(want)-len(got))])
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read %q so far, want %q: %v", got, want, err)
		}
	}
	if string(got) != want {
		t.Fatalf("device got %q, want %q", got, want)
	}
}

func waitStatus(t *testing.T, br *fakeBroker, topic, want string) {
	t.Helper()
	waitFor(t, wait, func() error {
		if got := br.retainedPayload(topic); got != want {
			return fmt.Errorf("%s is %q, want %q", topic, got, want)
		}
		return nil
	})
}

// TestBridgePty runs the bridge on a real pseudo-terminal through
// go.bug.st/serial: readings in, commands out byte-exact.
func TestBridgePty(t *testing.T) {
	socat := requireTool(t, "socat")
	p := startPty(t, socat, t.TempDir())
	br := newFakeBroker()
	b, err := NewBridge(Config{Name: "weather", Device: p.a, Baud: 115200, Format: FormatKV,
		Topic: "sensors/weather", QoS: 1, Retain: true}, br, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	runBridge(t, b)
	waitStatus(t, br, "sensors/weather/status", StatusOnline)
	end := p.openEnd(t)
	if _, err := end.Write([]byte("temp=22.5 hum=41\r\n\x00\xff\xfe\ntemp=")); err != nil {
		t.Fatal(err)
	}
	if _, err := end.Write([]byte("22.6\n")); err != nil {
		t.Fatal(err)
	}
	expectPubs(t, br, []string{`sensors/weather/temp "22.5" q1 rtrue`, `sensors/weather/hum "41" q1 rtrue`,
		`sensors/weather/temp "22.6" q1 rtrue`}, "sensors/weather/status")
	for _, cmd := range []string{"LED ON", "a\x00b\xffc", "LAST"} {
		if err := br.Publish("sensors/weather/cmd", []byte(cmd), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	readExactly(t, end, "LED ON\na\x00b\xffc\nLAST\n")
	waitFor(t, wait, func() error { // counted just after the write
		if st := b.Stats(); st.Garbage != 1 || st.CmdWritten != 3 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

// fdCount is the number of open file descriptors of this process.
func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestBridgePtyHotplug kills socat (the device disappears) and starts it
// again on the same links, several times: status goes offline and online,
// readings flow again, and goroutine and fd counts return to where they
// were.
func TestBridgePtyHotplug(t *testing.T) {
	socat := requireTool(t, "socat")
	dir := t.TempDir()
	p := startPty(t, socat, dir)
	br := newFakeBroker()
	b, err := NewBridge(Config{Name: "w", Device: p.a, Format: FormatKV,
		RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}, br, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	goroutinesBefore := runtime.NumGoroutine()
	stop := runBridge(t, b)
	waitStatus(t, br, "serial/w/status", StatusOnline)
	goroutines, fds := runtime.NumGoroutine(), fdCount(t)

	const cycles = 5
	for i := range cycles {
		end := p.openEnd(t)
		if _, err := fmt.Fprintf(end, "n=%d\npartial=", i); err != nil {
			t.Fatal(err)
		}
		waitFor(t, wait, func() error {
			if got := b.Stats().Messages; got != uint64(i+1) {
				return fmt.Errorf("%d readings published", got)
			}
			return nil
		})
		end.Close()
		p.stop() // unplug
		waitStatus(t, br, "serial/w/status", StatusOffline)
		_ = br.Publish("serial/w/cmd", []byte("while gone"), 0, false)
		p = startPty(t, socat, dir) // replug on the same links
		waitStatus(t, br, "serial/w/status", StatusOnline)
		waitFor(t, wait, func() error {
			g, f := runtime.NumGoroutine(), fdCount(t)
			if g != goroutines || f != fds {
				return fmt.Errorf("cycle %d: %d goroutines and %d fds, were %d and %d", i, g, f, goroutines, fds)
			}
			return nil
		})
	}
	end := p.openEnd(t)
	if _, err := end.Write([]byte("last=1\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, wait, func() error {
		if got := b.Stats().Messages; got != cycles+1 {
			return fmt.Errorf("%d readings published", got)
		}
		return nil
	})
	st := b.Stats()
	if st.Opens != cycles+1 || st.Partial != cycles || st.CmdDropped != cycles {
		t.Fatalf("stats %+v", st)
	}
	stop()
	waitStatus(t, br, "serial/w/status", StatusOffline)
	waitFor(t, wait, func() error {
		if g := runtime.NumGoroutine(); g != goroutinesBefore {
			return fmt.Errorf("%d goroutines after Run returned, %d before", g, goroutinesBefore)
		}
		return nil
	})
}

// TestBridgePtyMissingDevice: a device path that never appears is retried
// quietly and Run still stops at once.
func TestBridgePtyMissingDevice(t *testing.T) {
	br := newFakeBroker()
	b, err := NewBridge(Config{Name: "w", Device: filepath.Join(t.TempDir(), "nothing"),
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}, br, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := runBridge(t, b)
	waitFor(t, wait, func() error {
		if b.Stats().OpenFailures < 3 {
			return errors.New("no retries")
		}
		return nil
	})
	stop()
	if got := br.retainedPayload("serial/w/status"); got != StatusOffline {
		t.Fatalf("status %q", got)
	}
}

// TestBridgePtyStuckWriter fills a pty nobody reads until the bridge's
// write blocks, then stops the bridge: Run must still return (the output
// buffer is discarded before the close).
func TestBridgePtyStuckWriter(t *testing.T) {
	socat := requireTool(t, "socat")
	p := startPty(t, socat, t.TempDir())
	br := newFakeBroker()
	b, err := NewBridge(Config{Name: "w", Device: p.a, MaxLine: 8192, CmdQueue: 4}, br, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := runBridge(t, b)
	waitStatus(t, br, "serial/w/status", StatusOnline)
	end := p.openEnd(t) // opened, never read
	_ = end
	big := make([]byte, 8000)
	for i := range big {
		big[i] = 'x'
	}
	waitFor(t, wait, func() error {
		_ = br.Publish("serial/w/cmd", big, 0, false)
		if b.Stats().CmdDropped == 0 {
			return errors.New("writer not blocked yet")
		}
		return nil
	})
	t.Logf("stuck after %d commands written", b.Stats().CmdWritten)
	stop()
}
