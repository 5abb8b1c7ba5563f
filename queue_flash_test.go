package main

// Issue 13's proof at binary level: a queue far bigger than the broker's
// memory. The real gatemq binary runs with the 64 MB router's Go settings
// (GOMEMLIMIT=24MiB, GOGC=50); a Paho client queues 200,000 QoS 1
// messages of 1 KiB (≈200 MB on flash) for an offline persistent
// mosquitto_sub session; the broker is SIGKILLed, started again, and the
// subscriber drains them all, in order, exactly once. The broker's peak
// resident set (VmHWM of /proc/PID/status, since the process started) must
// stay under 40 MiB in both lives.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// queueGoEnv is the Go memory setting of the queue tests.
var queueGoEnv = []string{"GOMEMLIMIT=24MiB", "GOGC=50"}

// queueRSSLimit is the peak resident set the broker may reach.
const queueRSSLimit = 40 << 20

// queuePayload is message i's payload: its number in 8 digits, padded to
// size bytes.
func queuePayload(i, size int) []byte {
	b := make([]byte, size)
	copy(b, fmt.Sprintf("%08d", i))
	for j := 8; j < size; j++ {
		b[j] = 'a' + byte((i+j)%26)
	}
	return b
}

// queueMessages returns how many messages the big-queue tests queue
// (GATEMQ_QUEUE_MESSAGES overrides; -short: 20,000).
func queueMessages(t *testing.T) int {
	if v := os.Getenv("GATEMQ_QUEUE_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("GATEMQ_QUEUE_MESSAGES=%q", v)
		}
		return n
	}
	if testing.Short() {
		return 20000
	}
	return 200000
}

// fillQueue publishes n numbered messages of size bytes at qos to
// big/data with a Paho client, at most 100 awaiting acknowledgement.
// (mosquitto_pub -l cannot do it: at the end of its input it
// disconnects with messages still unsent, 2.0.11 lost two thirds of
// 200,000 here.)
func fillQueue(t testing.TB, addr string, n, size int, qos byte) time.Duration {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("big-pub").SetCleanSession(true).
		SetAutoReconnect(false).SetWriteTimeout(30 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	start := time.Now()
	window := make([]paho.Token, 0, 100)
	wait := func(tok paho.Token) {
		if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
			t.Fatalf("publish not acknowledged: %v", tok.Error())
		}
	}
	for i := range n {
		if len(window) == cap(window) {
			wait(window[0])
			window = append(window[:0], window[1:]...)
		}
		window = append(window, c.Publish("big/data", qos, false, queuePayload(i, size)))
	}
	for _, tok := range window {
		wait(tok)
	}
	return time.Since(start)
}

// drainQueue receives n messages with mosquitto_sub as the persistent
// session big-sub and checks that they are 0..n-1 in order, each once,
// with their payloads intact.
func drainQueue(t *testing.T, addr string, n, size int, qos byte) time.Duration {
	t.Helper()
	host, port := splitAddr(t, addr)
	cmd := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-i", "big-sub", "-c", "-q", strconv.Itoa(int(qos)),
		"-t", "big/#", "-C", strconv.Itoa(n), "-W", "600")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, size+64), size+64)
	got := 0
	for sc.Scan() {
		line := sc.Bytes()
		if want := queuePayload(got, size); string(line) != string(want) {
			cmd.Process.Kill()
			t.Fatalf("message %d: got %.20q… (%d bytes), want %.20q… (%d bytes)", got, line, len(line), want, len(want))
		}
		got++
	}
	if err := cmd.Wait(); err != nil || got != n {
		t.Fatalf("mosquitto_sub: %v after %d of %d messages", err, got, n)
	}
	return time.Since(start)
}

// queuePayloadSize returns the payload size of TestQueueBiggerThanRAM
// (GATEMQ_QUEUE_PAYLOAD overrides; default 1024 bytes, at least 8).
func queuePayloadSize(t *testing.T) int {
	if v := os.Getenv("GATEMQ_QUEUE_PAYLOAD"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8 {
			t.Fatalf("GATEMQ_QUEUE_PAYLOAD=%q", v)
		}
		return n
	}
	return 1024
}

// TestQueueBiggerThanRAM queues 200,000 QoS 1 messages of 1 KiB for an
// offline subscriber, SIGKILLs the broker, and drains them after a
// restart, within 40 MiB of peak RSS. It logs the fill and drain rates
// (GATEMQ_QUEUE_MESSAGES and GATEMQ_QUEUE_PAYLOAD change the load).
func TestQueueBiggerThanRAM(t *testing.T) {
	size := queuePayloadSize(t)
	n := queueMessages(t)
	conf := writeConfig(t, "max_queued_messages 0\nmax_queued_messages_total 0\n")
	b := newBrokerProc(t, gatemqBinary(t), "-c", conf, "-data", t.TempDir())
	b.env = queueGoEnv
	b.mustStart(20 * time.Second)

	host, port := splitAddr(t, b.addr)
	runTool(t, "mosquitto_sub", "-h", host, "-p", port, "-i", "big-sub", "-c", "-q", "1", "-t", "big/#", "-E")
	took := fillQueue(t, b.addr, n, size, 1)
	peak1 := procStatus(t, b.pid(), "VmHWM")
	t.Logf("queued %d × %d B at QoS 1 in %.1f s (%.0f msg/s); peak RSS %s", n, size, took.Seconds(), float64(n)/took.Seconds(), mib(peak1))
	b.kill()

	start := time.Now()
	rec := b.mustStart(120 * time.Second)
	t.Logf("restart after SIGKILL: %.1f s, %s", time.Since(start).Seconds(), rec)
	took = drainQueue(t, b.addr, n, size, 1)
	peak2 := procStatus(t, b.pid(), "VmHWM")
	t.Logf("drained %d in order, exactly once, in %.1f s (%.0f msg/s); peak RSS %s", n, took.Seconds(), float64(n)/took.Seconds(), mib(peak2))
	if peak1 > queueRSSLimit || peak2 > queueRSSLimit {
		t.Errorf("peak RSS %s while queueing, %s while recovering and draining; want both under %s", mib(peak1), mib(peak2), mib(queueRSSLimit))
	}
}

// splitAddr splits host:port for the mosquitto tools.
func splitAddr(t testing.TB, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
