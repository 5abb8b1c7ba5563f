package serial

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	Start(nil, newFakeBroker(), nil)() // no ports: stop returns at once

	br := newFakeBroker()
	stop := Start([]Config{
		{Name: "a", Device: filepath.Join(t.TempDir(), "absent"), RetryMin: time.Millisecond},
		{Name: "bad name", Device: "/dev/null"}, // NewBridge refuses it: left out
	}, br, testLogger(t))
	waitFor(t, 5*time.Second, func() error {
		if !br.subscribed("serial/a/cmd") {
			return errors.New("serial/a/cmd not subscribed")
		}
		if got := br.retainedPayload("serial/a/status"); got != StatusOffline {
			return fmt.Errorf("serial/a/status is %q, want %q", got, StatusOffline)
		}
		return nil
	})
	stop()
	if br.subscribed("serial/a/cmd") {
		t.Error("serial/a/cmd still subscribed after stop")
	}
	for _, p := range br.published() {
		if !strings.HasPrefix(p, "serial/a/") {
			t.Errorf("published %s", p)
		}
	}
	stop() // a second call does nothing
}

func TestPrintPorts(t *testing.T) {
	var out strings.Builder
	if err := PrintPorts(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if s != "no serial ports found\n" && !strings.HasSuffix(s, "\nUse a port in the config file: serial NAME DEVICE (a /dev/serial/by-id/ link keeps its name when re-plugged).\n") {
		t.Errorf("output:\n%s", s)
	}
}
