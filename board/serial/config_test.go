package serial

import (
	"errors"
	"strings"
	"testing"
	"time"

	goserial "go.bug.st/serial"
)

func TestConfigNormalize(t *testing.T) {
	c := Config{Name: "weather", Device: "/dev/ttyUSB0"}.Normalize()
	want := Config{Name: "weather", Device: "/dev/ttyUSB0", Baud: 9600, DataBits: 8, Parity: "none",
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

	c = Config{Name: "w", Topic: "home/{name}", KeyTopic: "x/{key}/{name}/{base}", CmdTopic: "none",
		StatusTopic: "st/{name}", RetryMin: time.Second, RetryMax: time.Millisecond}.Normalize()
	if c.Topic != "home/w" || c.KeyTopic != "x/{key}/w/home/w" || c.CmdTopic != "" || c.StatusTopic != "st/w" ||
		c.RetryMax != time.Second {
		t.Fatalf("templates: %+v", c)
	}
}

func TestConfigCheck(t *testing.T) {
	ok := Config{Name: "w", Device: "/dev/x"}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(c *Config)
		msg    string
	}{
		{"bad name", func(c *Config) { c.Name = "a b" }, "name"},
		{"empty name", func(c *Config) { c.Name = "" }, "name"},
		{"no device", func(c *Config) { c.Device = "" }, "no device"},
		{"baud", func(c *Config) { c.Baud = 10 }, "baud"},
		{"databits", func(c *Config) { c.DataBits = 9 }, "data bits"},
		{"parity", func(c *Config) { c.Parity = "weird" }, "parity"},
		{"stopbits", func(c *Config) { c.StopBits = "3" }, "stop bits"},
		{"format", func(c *Config) { c.Format = "xml" }, "format"},
		{"csv without fields", func(c *Config) { c.Format = FormatCSV }, "serial_fields"},
		{"fields without csv", func(c *Config) { c.Fields = []string{"a"} }, "csv only"},
		{"bad field", func(c *Config) { c.Format = FormatCSV; c.Fields = []string{"a/b"} }, "field name"},
		{"qos", func(c *Config) { c.QoS = 3 }, "qos"},
		{"wildcard topic", func(c *Config) { c.Topic = "a/+" }, "wildcards"},
		{"unknown placeholder", func(c *Config) { c.Topic = "a/{nam}" }, "placeholder"},
		{"key topic without key", func(c *Config) { c.KeyTopic = "a/b" }, "{key}"},
		{"key topic with two keys", func(c *Config) { c.KeyTopic = "{key}/{key}" }, "{key} once"},
		{"cmd wildcard", func(c *Config) { c.CmdTopic = "a/#" }, "wildcards"},
		{"cmd = status", func(c *Config) { c.CmdTopic = "x"; c.StatusTopic = "x" }, "same"},
		{"bad unit key", func(c *Config) { c.Unit = map[string]string{"a b": "C"} }, "key"},
		{"line ending", func(c *Config) { c.LineEnding = "lfcr" }, "line ending"},
		{"max line small", func(c *Config) { c.MaxLine = 8 }, "max line"},
		{"max line large", func(c *Config) { c.MaxLine = MaxMaxLine + 1 }, "max line"},
		{"queue", func(c *Config) { c.CmdQueue = MaxCmdQueue + 1 }, "queue"},
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

func TestConfigMode(t *testing.T) {
	m, err := Config{Baud: 115200, DataBits: 7, Parity: "even", StopBits: "2"}.Mode()
	if err != nil {
		t.Fatal(err)
	}
	if *m != (goserial.Mode{BaudRate: 115200, DataBits: 7, Parity: goserial.EvenParity, StopBits: goserial.TwoStopBits}) {
		t.Fatalf("mode %+v", *m)
	}
	for p, want := range map[string]goserial.Parity{"none": goserial.NoParity, "odd": goserial.OddParity,
		"mark": goserial.MarkParity, "space": goserial.SpaceParity} {
		m, err := Config{Baud: 9600, DataBits: 8, Parity: p, StopBits: "1.5"}.Mode()
		if err != nil || m.Parity != want || m.StopBits != goserial.OnePointFiveStopBits {
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
