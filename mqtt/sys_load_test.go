package mqtt

import (
	"math"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestSysLoadAverages drives publishLoad with chosen times and counters
// and checks the $SYS/broker/load values against Mosquitto's formula, and
// the heap topics.
func TestSysLoadAverages(t *testing.T) {
	s := NewServer(Options{})
	var mu sync.Mutex
	got := map[string]string{}
	unsub, err := s.Subscribe("$SYS/broker/#", func(topic string, payload []byte, retained bool) {
		mu.Lock()
		got[topic] = string(payload)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	value := func(topic string) string {
		mu.Lock()
		defer mu.Unlock()
		return got[topic]
	}
	var ld sysLoad
	t0 := time.Unix(1_700_000_000, 0)
	s.publishLoad(&ld, t0)
	for _, name := range loadTopics {
		for _, w := range loadWindows {
			if v := value("$SYS/broker/load/" + name + "/" + w.name); v != "0.00" {
				t.Errorf("initial %s/%s = %q, want 0.00", name, w.name, v)
			}
		}
	}
	if n, err := strconv.ParseUint(value("$SYS/broker/heap/current"), 10, 64); err != nil || n == 0 {
		t.Errorf("heap/current = %q", value("$SYS/broker/heap/current"))
	}
	if value("$SYS/broker/heap/maximum") == "" {
		t.Error("no heap/maximum")
	}
	// 30 messages and 2 connections in 10 s: 180 and 12 per minute.
	s.stats.messagesReceived.Add(30)
	s.stats.connects.Add(2)
	s.publishLoad(&ld, t0.Add(10*time.Second))
	for _, w := range loadWindows {
		e := math.Exp(-10 / w.secs)
		for name, rate := range map[string]float64{"messages/received": 180, "connections": 12} {
			want := strconv.FormatFloat(rate-e*rate, 'f', 2, 64)
			if v := value("$SYS/broker/load/" + name + "/" + w.name); v != want {
				t.Errorf("%s/%s = %q, want %q", name, w.name, v, want)
			}
		}
	}
}
