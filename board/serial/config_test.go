package serial

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"
)

func TestBridgeConfigNormalize(t *testing.T) {
	c := BridgeConfig{Name: "weather", Device: "/dev/ttyUSB0"}.Normalize()
	want := BridgeConfig{Name: "weather", Device: "/dev/ttyUSB0", Baud: 9600, DataBits: 8, Parity: "none",
		StopBits: "1", Format: FormatKV, Topic: "serial/weather", KeyTopic: "serial/weather/{key}",
		DiscoveryPrefix: "homeassistant", LineEnding: "lf", MaxLine: DefaultMaxLine,
		CmdTopic: "serial/weather/cmd", StatusTopic: "serial/weather/status", CmdQueue: DefaultCmdQueue,
		RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax}
	if c.Name != want.Name || c.Baud != want.Baud || c.DataBits != want.DataBits || c.Parity != want.Parity ||
		c.StopBits != want.StopBits || c.Format != want.Format || c.Topic != want.Topic || c.KeyTopic != want.KeyTopic ||
		c.DiscoveryPrefix != want.DiscoveryPrefix || c.LineEnding != want.LineEnding || c.MaxLine != want.MaxLine ||
		c.CmdTopic != want.CmdTopic || c.StatusTopic != want.StatusTopic || c.CmdQueue != want.CmdQueue ||
		c.RetryMin != want.RetryMin || c.RetryMax != want.RetryMax {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}

	c = BridgeConfig{Name: "w", Topic: "home/{name}", KeyTopic: "x/{key}/{name}/{base}", CmdTopic: "none",
		StatusTopic: "st/{name}", RetryMin: time.Second, RetryMax: time.Millisecond}.Normalize()
	if c.Topic != "home/w" || c.KeyTopic != "x/{key}/w/home/w" || c.CmdTopic != "" || c.StatusTopic != "st/w" ||
		c.RetryMax != time.Second {
		t.Fatalf("templates: %+v", c)
	}
}

func TestBridgeConfigCheck(t *testing.T) {
	ok := BridgeConfig{Name: "w", Device: "/dev/x"}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(c *BridgeConfig)
		msg    string
	}{
		{"bad name", func(c *BridgeConfig) { c.Name = "a b" }, "name"},
		{"empty name", func(c *BridgeConfig) { c.Name = "" }, "name"},
		{"no device", func(c *BridgeConfig) { c.Device = "" }, "no device"},
		{"baud", func(c *BridgeConfig) { c.Baud = 10 }, "baud"},
		{"databits", func(c *BridgeConfig) { c.DataBits = 9 }, "data bits"},
		{"parity", func(c *BridgeConfig) { c.Parity = "weird" }, "parity"},
		{"stopbits", func(c *BridgeConfig) { c.StopBits = "3" }, "stop bits"},
		{"format", func(c *BridgeConfig) { c.Format = "xml" }, "format"},
		{"csv without fields", func(c *BridgeConfig) { c.Format = FormatCSV }, "serial_fields"},
		{"fields without csv", func(c *BridgeConfig) { c.Fields = []string{"a"} }, "csv only"},
		{"bad field", func(c *BridgeConfig) { c.Format = FormatCSV; c.Fields = []string{"a/b"} }, "field name"},
		{"qos", func(c *BridgeConfig) { c.QoS = 3 }, "qos"},
		{"wildcard topic", func(c *BridgeConfig) { c.Topic = "a/+" }, "wildcards"},
		{"unknown placeholder", func(c *BridgeConfig) { c.Topic = "a/{nam}" }, "placeholder"},
		{"key topic without key", func(c *BridgeConfig) { c.KeyTopic = "a/b" }, "{key}"},
		{"key topic with two keys", func(c *BridgeConfig) { c.KeyTopic = "{key}/{key}" }, "{key} once"},
		{"cmd wildcard", func(c *BridgeConfig) { c.CmdTopic = "a/#" }, "wildcards"},
		{"cmd = status", func(c *BridgeConfig) { c.CmdTopic = "x"; c.StatusTopic = "x" }, "same"},
		{"bad unit key", func(c *BridgeConfig) { c.Unit = map[string]string{"a b": "C"} }, "key"},
		{"line ending", func(c *BridgeConfig) { c.LineEnding = "lfcr" }, "line ending"},
		{"max line small", func(c *BridgeConfig) { c.MaxLine = 8 }, "max line"},
		{"max line large", func(c *BridgeConfig) { c.MaxLine = MaxMaxLine + 1 }, "max line"},
		{"queue", func(c *BridgeConfig) { c.CmdQueue = MaxCmdQueue + 1 }, "queue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.Check()
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want an ErrBadConfig mentioning %q", err, tc.msg)
			}
		})
	}
}

func TestBridgeConfigMode(t *testing.T) {
	m, err := BridgeConfig{Baud: 115200, DataBits: 7, Parity: "even", StopBits: "2"}.Mode()
	if err != nil {
		t.Fatal(err)
	}
	if *m != (serial.Mode{BaudRate: 115200, DataBits: 7, Parity: serial.EvenParity, StopBits: serial.TwoStopBits}) {
		t.Fatalf("mode %+v", *m)
	}
	for p, want := range map[string]serial.Parity{"none": serial.NoParity, "odd": serial.OddParity,
		"mark": serial.MarkParity, "space": serial.SpaceParity} {
		m, err := BridgeConfig{Baud: 9600, DataBits: 8, Parity: p, StopBits: "1.5"}.Mode()
		if err != nil || m.Parity != want || m.StopBits != serial.OnePointFiveStopBits {
			t.Fatalf("parity %s: %+v %v", p, m, err)
		}
	}
}

func TestValidKeyAndName(t *testing.T) {
	for s, want := range map[string]bool{"temp": true, "t.1-a_B": true, "": false, "a/b": false,
		"a+": false, "a#": false, "ä": false, strings.Repeat("k", 64): true, strings.Repeat("k", 65): false} {
		if ValidKey(s) != want {
			t.Errorf("ValidKey(%q) = %v", s, !want)
		}
	}
	if ValidName("a.b") || !ValidName("port-1_A") {
		t.Error("ValidName")
	}
}
