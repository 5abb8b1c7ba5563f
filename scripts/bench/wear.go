package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// storeTopics are the flash-wear counters gatemq publishes (retained, every
// sys_interval) under $SYS/broker/store/, in the order it publishes them.
var storeTopics = []string{"bytes/written", "fsyncs", "compactions", "bytes/total", "bytes/live"}

// storeCounters are gatemq's flash-wear counters since the broker started.
type storeCounters struct {
	bytesWritten int64 // bytes written to segment and snapshot files, compaction included
	fsyncs       int64 // fdatasync/fsync calls on files and the folder
	compactions  int64
	bytesTotal   int64 // bytes of all segment files
	bytesLive    int64 // bytes of the live records
}

// counterSet gathers one $SYS publication round of the store counters.
type counterSet struct {
	mu     sync.Mutex
	values map[string]int64
	done   chan struct{} // closed once every topic of one fresh round arrived
	closed bool
	bad    error // first counter that did not parse
}

// add takes one $SYS/broker/store/ message. Retained copies (values from
// before the subscription) are ignored; "bytes/written" opens a new round,
// so all values come from the same publication.
func (s *counterSet) add(topic string, payload []byte, retained bool) {
	name, ok := strings.CutPrefix(topic, "$SYS/broker/store/")
	if !ok || retained {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(payload)), 10, 64)
	if err != nil {
		if s.bad == nil {
			s.bad = fmt.Errorf("%s: %q is not a number", topic, payload)
		}
		return
	}
	if name == storeTopics[0] {
		clear(s.values)
	}
	s.values[name] = v
	for _, t := range storeTopics {
		if _, ok := s.values[t]; !ok {
			return
		}
	}
	s.closed = true
	close(s.done)
}

// counters returns the gathered round.
func (s *counterSet) counters() storeCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return storeCounters{
		bytesWritten: s.values["bytes/written"],
		fsyncs:       s.values["fsyncs"],
		compactions:  s.values["compactions"],
		bytesTotal:   s.values["bytes/total"],
		bytesLive:    s.values["bytes/live"],
	}
}

// readStoreCounters returns gatemq's store counters as published at least
// one second after drained: it subscribes to $SYS/broker/store/# no earlier
// than that, and takes the first round of non-retained values, which the
// broker published after the subscription. The broker must publish $SYS
// every second or so (sys_interval 1); it gives up after timeout.
func readStoreCounters(addr, clientID string, drained time.Time, timeout time.Duration) (storeCounters, error) {
	if wait := time.Until(drained.Add(time.Second)); wait > 0 {
		time.Sleep(wait) // a point in time to wait for, not a condition to poll
	}
	c, err := connect(addr, clientID, true, timeout)
	if err != nil {
		return storeCounters{}, err
	}
	defer c.Disconnect(50)
	set := &counterSet{values: map[string]int64{}, done: make(chan struct{})}
	tok := c.Subscribe("$SYS/broker/store/#", 0, func(_ paho.Client, m paho.Message) {
		set.add(m.Topic(), m.Payload(), m.Retained())
	})
	if !tok.WaitTimeout(timeout) || tok.Error() != nil {
		return storeCounters{}, fmt.Errorf("subscribe to $SYS/broker/store/#: %v", tokenErr(tok))
	}
	select {
	case <-set.done:
	case <-time.After(timeout):
		return storeCounters{}, fmt.Errorf("no fresh $SYS/broker/store/ counters within %v (is sys_interval 1?)", timeout)
	}
	set.mu.Lock()
	bad := set.bad
	set.mu.Unlock()
	if bad != nil {
		return storeCounters{}, bad
	}
	return set.counters(), nil
}

// dirSize returns the bytes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// perDelivery returns the fsyncs per 1,000 delivered messages and the
// bytes written to the store per delivered message (0, 0 if none were).
func (c storeCounters) perDelivery(delivered int64) (fsyncsPer1k, bytesPerMsg float64) {
	if delivered <= 0 {
		return 0, 0
	}
	return float64(c.fsyncs) * 1000 / float64(delivered), float64(c.bytesWritten) / float64(delivered)
}

// fsTypes names the file systems a data folder is likely to be on, by
// statfs magic number.
var fsTypes = map[int64]string{
	0xEF53:     "ext2/3/4",
	0x01021994: "tmpfs: fsync costs nothing there",
	0x9123683E: "btrfs",
	0x58465342: "xfs",
	0x794C7630: "overlayfs",
	0xF2F52010: "f2fs",
	0x72B6:     "jffs2",
	0x24051905: "ubifs",
}

// fsType names the file system dir is on.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "file system unknown: " + err.Error()
	}
	if name, ok := fsTypes[int64(st.Type)]; ok {
		return name
	}
	return fmt.Sprintf("file system 0x%X", st.Type)
}
