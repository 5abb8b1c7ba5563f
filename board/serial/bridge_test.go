package serial

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

const wait = 5 * time.Second

// expectPubs waits until the broker's messages (leaving out topics with the
// skip prefixes) are exactly want.
func expectPubs(t *testing.T, br *fakeBroker, want []string, skip ...string) {
	t.Helper()
	waitFor(t, wait, func() error {
		if got := br.published(skip...); !slices.Equal(got, want) {
			return fmt.Errorf("published\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	})
}

func TestBridgeFormats(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		input string
		want  []string
	}{
		{"kv", Config{Format: FormatKV, Topic: "sensors/weather", QoS: 1, Retain: true},
			"temp=22.5 hum=41\r\n",
			[]string{`sensors/weather/temp "22.5" q1 rtrue`, `sensors/weather/hum "41" q1 rtrue`}},
		{"json whole", Config{Format: FormatJSON},
			"{\"temp\":22.5,\"hum\":41}\n",
			[]string{`serial/w "{\"temp\":22.5,\"hum\":41}" q0 rfalse`}},
		{"json split", Config{Format: FormatJSON, JSONSplit: true, QoS: 2},
			"{\"temp\":22.5,\"state\":\"ok\"}\n",
			[]string{`serial/w/temp "22.5" q2 rfalse`, `serial/w/state "ok" q2 rfalse`}},
		{"raw", Config{Format: FormatRaw, Topic: "dev/{name}/line"},
			"hello world\n",
			[]string{`dev/w/line "hello world" q0 rfalse`}},
		{"csv", Config{Format: FormatCSV, Fields: []string{"temp", "-", "hum"}, KeyTopic: "h/{key}/{name}"},
			"22.5,skip,41\n",
			[]string{`h/temp/w "22.5" q0 rfalse`, `h/hum/w "41" q0 rfalse`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br, dev := newFakeBroker(), newFakeDevice(true)
			b := newTestBridge(t, tc.cfg, br, dev)
			runBridge(t, b)
			waitFor(t, wait, func() error {
				if dev.current() == nil {
					return errors.New("not opened")
				}
				return nil
			})
			dev.send(t, tc.input)
			expectPubs(t, br, tc.want, b.cfg.StatusTopic)
			waitFor(t, wait, func() error { // counted just after the publish
				if st := b.Stats(); st.Lines != 1 || st.Messages != uint64(len(tc.want)) {
					return fmt.Errorf("stats %+v", st)
				}
				return nil
			})
		})
	}
}

// TestBridgeStatusHotplug: offline while the device is absent, online when
// it appears, offline when it goes, online again, offline on shutdown; a
// partial line at the unplug is counted.
func TestBridgeStatusHotplug(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(false)
	b := newTestBridge(t, Config{Format: FormatKV}, br, dev)
	stop := runBridge(t, b)
	status := func(want string) {
		t.Helper()
		waitFor(t, wait, func() error {
			if got := br.retainedPayload("serial/w/status"); got != want {
				return fmt.Errorf("status %q, want %q", got, want)
			}
			return nil
		})
	}
	status(StatusOffline)
	waitFor(t, wait, func() error {
		if b.Stats().OpenFailures < 2 {
			return errors.New("no retries")
		}
		return nil
	})
	for cycle := range 3 {
		dev.plug()
		status(StatusOnline)
		dev.send(t, fmt.Sprintf("n=%d\nhalf=", cycle))
		waitFor(t, wait, func() error {
			if b.Stats().Messages != uint64(cycle+1) {
				return errors.New("reading not published")
			}
			return nil
		})
		dev.unplug()
		status(StatusOffline)
	}
	dev.plug()
	status(StatusOnline)
	stop()
	if got := br.retainedPayload("serial/w/status"); got != StatusOffline {
		t.Fatalf("status after shutdown %q", got)
	}
	if br.subscribed("serial/w/cmd") {
		t.Fatal("command subscription left after Run returned")
	}
	st := b.Stats()
	if st.Opens != 4 || st.Partial != 3 || dev.openCount() != 4 {
		t.Fatalf("stats %+v opens %d", st, dev.openCount())
	}
	// The status sequence, without repeats.
	var seq []string
	for _, p := range br.published() {
		if strings.HasPrefix(p, "serial/w/status") {
			seq = append(seq, p)
		}
	}
	on, off := `serial/w/status "online" q1 rtrue`, `serial/w/status "offline" q1 rtrue`
	if want := []string{off, on, off, on, off, on, off, on, off}; !slices.Equal(seq, want) {
		t.Fatalf("status sequence %q", seq)
	}
}

func TestBridgeCommands(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(true)
	// A retained command from earlier must not be replayed.
	if err := br.Publish("serial/w/cmd", []byte("OLD"), 1, true); err != nil {
		t.Fatal(err)
	}
	b := newTestBridge(t, Config{LineEnding: LineEndingCRLF, MaxLine: 32, CmdQueue: 2}, br, dev)
	runBridge(t, b)
	waitFor(t, wait, func() error {
		if br.retainedPayload("serial/w/status") != StatusOnline {
			return errors.New("not online")
		}
		return nil
	})
	for _, c := range []string{"LED ON", "", "set x=\x00\xff"} {
		if err := br.Publish("serial/w/cmd", []byte(c), 0, false); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-dev.written:
			if string(got) != c+"\r\n" {
				t.Fatalf("written %q, want %q", got, c+"\r\n")
			}
		case <-time.After(wait):
			t.Fatalf("command %q not written", c)
		}
	}
	// Too long: dropped.
	_ = br.Publish("serial/w/cmd", bytes.Repeat([]byte("x"), 33), 0, false)
	// Device stuck: the queue (2) fills, the rest is dropped, order kept.
	block := make(chan struct{})
	dev.mu.Lock()
	dev.block = block
	dev.mu.Unlock()
	_ = br.Publish("serial/w/cmd", []byte("0"), 0, false)
	waitFor(t, wait, func() error { // the writer holds "0", blocked in Write
		if len(b.cmds) != 0 {
			return errors.New("writer did not take the command")
		}
		return nil
	})
	for i := 1; i < 6; i++ {
		_ = br.Publish("serial/w/cmd", []byte(fmt.Sprint(i)), 0, false)
	}
	close(block)
	var got []string
	for len(got) < 3 {
		select {
		case w := <-dev.written:
			got = append(got, string(w))
		case <-time.After(wait):
			t.Fatalf("written %q", got)
		}
	}
	// The writer took "0" before blocking; "1" and "2" filled the queue.
	if !slices.Equal(got, []string{"0\r\n", "1\r\n", "2\r\n"}) {
		t.Fatalf("written %q", got)
	}
	waitFor(t, wait, func() error { // counted just after the write
		if st := b.Stats(); st.CmdWritten != 6 || st.CmdDropped != 1+3 || st.CmdIgnored != 1 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	// Device gone: dropped.
	dev.unplug()
	waitFor(t, wait, func() error {
		if br.retainedPayload("serial/w/status") != StatusOffline {
			return errors.New("not offline")
		}
		return nil
	})
	_ = br.Publish("serial/w/cmd", []byte("lost"), 0, false)
	if st := b.Stats(); st.CmdDropped != 5 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBridgeGarbage sends noise, binary data, invalid UTF-8, lines in the
// wrong format and 1 MiB without a newline: each is counted and skipped,
// and good lines around them come through.
func TestBridgeGarbage(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(true)
	b := newTestBridge(t, Config{Format: FormatKV, MaxLine: 128}, br, dev)
	stop := runBridge(t, b)
	waitFor(t, wait, func() error {
		if dev.current() == nil {
			return errors.New("not opened")
		}
		return nil
	})
	rng := rand.New(rand.NewPCG(7, 7))
	noise := make([]byte, 64<<10)
	for i := range noise {
		noise[i] = byte(rng.IntN(256))
	}
	dev.send(t, "a=1\n")
	dev.send(t, string(noise)+"\n")
	dev.send(t, "b=2\n")
	dev.send(t, "bad\xffutf8=1\nc=3\n")
	dev.send(t, "no kv here\n")
	dev.send(t, strings.Repeat("x", 1<<20)+"\nd=4\n")
	dev.send(t, "cmd=reboot status=x e=5\n") // keys on reserved topics
	dev.send(t, "f=6\n")
	want := []string{`serial/w/a "1" q0 rfalse`, `serial/w/b "2" q0 rfalse`, `serial/w/c "3" q0 rfalse`,
		`serial/w/d "4" q0 rfalse`, `serial/w/f "6" q0 rfalse`}
	expectPubs(t, br, want, "serial/w/status")
	st := b.Stats()
	if st.Garbage < 2 || st.TooLong < 1 || st.ParseErrors < 2 || st.Lines != 5 {
		t.Fatalf("stats %+v", st)
	}
	stop() // b.split belongs to Run's goroutine
	if cap(b.split.buf) != 128 {
		t.Fatalf("line buffer grew to %d", cap(b.split.buf))
	}
}

func TestBridgeDiscovery(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(true)
	b := newTestBridge(t, Config{Format: FormatKV, Topic: "sensors/weather", Discovery: true,
		Unit: map[string]string{"temp": "°C"}, DeviceClass: map[string]string{"temp": "temperature"}}, br, dev)
	runBridge(t, b)
	waitFor(t, wait, func() error {
		if dev.current() == nil {
			return errors.New("not opened")
		}
		return nil
	})
	dev.send(t, "temp=22.5 hum=41\ntemp=22.6\n")
	tempCfg := `homeassistant/sensor/w/temp/config "` + strings.ReplaceAll(string(discoveryPayload(&b.cfg, "temp", "sensors/weather/temp", "", []byte("22.5"))), `"`, `\"`) + `" q1 rtrue`
	humCfg := `homeassistant/sensor/w/hum/config "` + strings.ReplaceAll(string(discoveryPayload(&b.cfg, "hum", "sensors/weather/hum", "", []byte("41"))), `"`, `\"`) + `" q1 rtrue`
	want := []string{tempCfg, `sensors/weather/temp "22.5" q0 rfalse`, humCfg, `sensors/weather/hum "41" q0 rfalse`,
		`sensors/weather/temp "22.6" q0 rfalse`}
	expectPubs(t, br, want, "sensors/weather/status")
	if !strings.Contains(tempCfg, `unit_of_measurement\":\"°C`) || strings.Contains(humCfg, "unit_of") {
		t.Fatalf("discovery payloads %s %s", tempCfg, humCfg)
	}
}

func TestBridgeDiscoveryJSONWhole(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(true)
	b := newTestBridge(t, Config{Format: FormatJSON, Discovery: true, Unit: map[string]string{"t": "C"}}, br, dev)
	runBridge(t, b)
	waitFor(t, wait, func() error {
		if br.retainedPayload("homeassistant/sensor/w/t/config") == "" {
			return errors.New("not announced")
		}
		return nil
	})
	if got := br.retainedPayload("homeassistant/sensor/w/t/config"); !strings.Contains(got, `"state_topic":"serial/w","value_template":"{{ value_json['t'] }}"`) {
		t.Fatalf("config %s", got)
	}
}

func TestBridgePublishErrorCounted(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(true)
	b := newTestBridge(t, Config{StatusTopic: "none"}, br, dev)
	runBridge(t, b)
	waitFor(t, wait, func() error {
		if dev.current() == nil {
			return errors.New("not opened")
		}
		return nil
	})
	br.mu.Lock()
	br.fail = errors.New("store full")
	br.mu.Unlock()
	dev.send(t, "a=1 b=2\n")
	waitFor(t, wait, func() error {
		if st := b.Stats(); st.PublishErrors != 2 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

func TestBridgeRunTwice(t *testing.T) {
	br, dev := newFakeBroker(), newFakeDevice(false)
	b := newTestBridge(t, Config{}, br, dev)
	runBridge(t, b)
	waitFor(t, wait, func() error {
		if !b.running.Load() {
			return errors.New("not running")
		}
		return nil
	})
	if err := b.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run: %v", err)
	}
}
