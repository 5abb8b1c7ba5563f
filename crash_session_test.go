package main

// A retained message, a persistent session's subscription and its queued
// messages survive SIGKILL of the broker. Debian's mosquitto_pub and
// mosquitto_sub (package mosquitto-clients) are the independent clients.

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runTool runs an external client to completion (at most 20 s) and returns
// its stdout; it fails the test unless the client exits 0.
func runTool(t testing.TB, path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v (exit 27 is mosquitto_sub's -W timeout)\nstdout:\n%s\nstderr:\n%s",
			path, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func TestCrashRetainedAndSessionSurviveKill(t *testing.T) {
	subBin := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	pubBin := requireTool(t, "mosquitto_pub", "mosquitto-clients")
	b := newBrokerProc(t, gatemqBinary(t), "-data", t.TempDir())
	b.mustStart(15 * time.Second)
	port := strconv.Itoa(b.port)
	const id = "crash-keep"
	// -F "%r %q %t %p": retain flag, QoS, topic, payload.
	session := []string{"-h", "127.0.0.1", "-p", port, "-i", id, "-c", "-q", "1", "-t", "keep/#", "-F", "%r %q %t %p"}
	pub := func(args ...string) {
		runTool(t, pubBin, append([]string{"-h", "127.0.0.1", "-p", port, "-q", "1"}, args...)...)
	}
	restart := func(when string) {
		b.kill()
		t.Logf("SIGKILL %s; recovered: %s", when, b.mustStart(15*time.Second))
	}

	// The persistent session with its subscription (-E: exit after SUBACK).
	runTool(t, subBin, append(session, "-E")...)
	pub("-r", "-t", "keep/retained", "-m", "R1")
	pub("-t", "keep/queued", "-m", "Q1")
	pub("-t", "keep/queued", "-m", "Q2")
	restart("with the subscriber offline")

	// Queued for the offline session only if its subscription survived.
	pub("-t", "keep/queued", "-m", "Q3")
	restart("again")

	// The session's queue, in order, with the retain flag 0 (R1 went to an
	// existing subscription [MQTT-3.3.1-9]); and, because mosquitto_sub
	// subscribes again, the retained R1 with the retain flag 1.
	out := runTool(t, subBin, append(session, "-C", "5", "-W", "10")...)
	var queued, retained []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "1 ") {
			retained = append(retained, l)
		} else {
			queued = append(queued, l)
		}
	}
	if want := []string{"0 1 keep/retained R1", "0 1 keep/queued Q1", "0 1 keep/queued Q2", "0 1 keep/queued Q3"}; strings.Join(queued, "|") != strings.Join(want, "|") {
		t.Errorf("persistent session after two kills got queued %q, want %q (Q3 was published after the first kill: it is there only if the subscription survived)", queued, want)
	}
	if want := []string{"1 1 keep/retained R1"}; strings.Join(retained, "|") != strings.Join(want, "|") {
		t.Errorf("persistent session got retained %q, want %q", retained, want)
	}

	// A fresh client (clean session, other id) gets the retained message.
	restart("after the subscriber drained")
	fresh := runTool(t, subBin, "-h", "127.0.0.1", "-p", port, "-i", "crash-fresh", "-q", "1", "-t", "keep/retained",
		"-F", "%r %q %t %p", "-C", "1", "-W", "10")
	if got, want := strings.TrimSpace(fresh), "1 1 keep/retained R1"; got != want {
		t.Errorf("fresh subscriber after three kills got %q, want %q", got, want)
	}

	// Clearing the retained message (empty payload) survives a kill too:
	// afterwards a subscriber gets nothing within a second.
	pub("-r", "-t", "keep/retained", "-n")
	restart("after clearing the retained message")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, subBin, "-h", "127.0.0.1", "-p", port, "-i", "crash-fresh2", "-t", "keep/retained",
		"-F", "%r %q %t %p", "-C", "1", "-W", "1")
	gone, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 27 {
		t.Errorf("subscriber after the retained message was cleared and the broker killed: %v, output %q; want a -W timeout (exit 27) with nothing received", err, gone)
	}
}
