package flashstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// op is one record of a test batch.
type op struct {
	del   bool
	kind  Kind
	key   string
	value string
}

// ops is a test batch: it fills a Batch and applies itself to a model.
type ops []op

func (o ops) fill(b *Batch) *Batch {
	b.Reset()
	for _, r := range o {
		if r.del {
			b.Delete(r.kind, []byte(r.key))
		} else {
			b.Put(r.kind, []byte(r.key), []byte(r.value))
		}
	}
	return b
}

// kv is one live entry as Range reports it.
type kv struct {
	Kind  Kind
	Key   string
	Value string
}

// model is the reference live state: the latest put of each key, in the
// order of those puts.
type model struct {
	vals  map[string]kv
	order map[string]int
	n     int
}

func newModel() *model { return &model{vals: map[string]kv{}, order: map[string]int{}} }

func (m *model) apply(o ops) {
	for _, r := range o {
		k := string(rune(r.kind)) + "\x00" + r.key
		if r.del {
			delete(m.vals, k)
			delete(m.order, k)
			continue
		}
		m.n++
		m.vals[k] = kv{r.kind, r.key, r.value}
		m.order[k] = m.n
	}
}

func (m *model) clone() *model {
	c := newModel()
	for k, v := range m.vals {
		c.vals[k] = v
		c.order[k] = m.order[k]
	}
	c.n = m.n
	return c
}

func (m *model) dump() []kv {
	keys := make([]string, 0, len(m.vals))
	for k := range m.vals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return m.order[a] - m.order[b] })
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		out = append(out, m.vals[k])
	}
	return out
}

// dump returns the live state of l in Range order.
func dump(t testing.TB, l *Log) []kv {
	t.Helper()
	var out []kv
	err := l.Range(func(kind Kind, key, value []byte) error {
		out = append(out, kv{kind, string(key), string(value)})
		return nil
	})
	if err != nil {
		t.Fatalf("Range: %v", err)
	}
	return out
}

// sameState compares two live states as sets: compaction moves records
// to the head of the log, so Range's order is the order of each key's
// last Put only for a log compaction has not touched (sameOrder checks
// that). It also fails on a key reported twice.
func sameState(t testing.TB, what string, got, want []kv) {
	t.Helper()
	byKey := func(a, b kv) int {
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		return strings.Compare(a.Key, b.Key)
	}
	g, w := slices.Clone(got), slices.Clone(want)
	slices.SortFunc(g, byKey)
	slices.SortFunc(w, byKey)
	for i := 1; i < len(g); i++ {
		if g[i-1].Kind == g[i].Kind && g[i-1].Key == g[i].Key {
			t.Fatalf("%s: %v %q reported twice", what, g[i].Kind, g[i].Key)
		}
	}
	sameOrder(t, what, g, w)
}

// sameOrder compares two live states entry by entry, in order.
func sameOrder(t testing.TB, what string, got, want []kv) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: live state differs\n got  %d entries: %.600v\n want %d entries: %.600v", what, len(got), got, len(want), want)
	}
}

// noAutoCompact keeps the writer of l from compacting by itself.
func noAutoCompact(l *Log) { l.noAuto.Store(true) }

// testOptions returns options for a fresh folder.
func testOptions(t testing.TB) Options {
	t.Helper()
	return Options{Dir: t.TempDir(), Sync: SyncAlways}
}

// open opens opts or fails the test.
func open(t testing.TB, opts Options) (*Log, RecoveryReport) {
	t.Helper()
	l, rep, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, rep
}

// mustOpen opens opts and, on cleanup, closes the log and reopens it to
// check that it recovers cleanly (no truncation, no quarantine) and, when
// the test left it open, with the same live state.
func mustOpen(t testing.TB, opts Options) *Log {
	t.Helper()
	l, _ := open(t, opts)
	t.Cleanup(func() {
		var want []kv
		checkState := true
		if err := l.Range(func(kind Kind, key, value []byte) error {
			want = append(want, kv{kind, string(key), string(value)})
			return nil
		}); errors.Is(err, ErrClosed) {
			checkState = false
		} else if err != nil {
			t.Errorf("cleanup Range: %v", err)
		}
		if err := l.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("cleanup Close: %v", err)
		}
		l2, rep, err := Open(opts)
		if err != nil {
			t.Errorf("cleanup reopen: %v", err)
			return
		}
		defer l2.Close()
		if rep.TruncatedBytes != 0 || len(rep.Quarantined) != 0 {
			t.Errorf("cleanup reopen: not clean: %+v", rep)
		}
		if checkState {
			sameState(t, "cleanup reopen", dump(t, l2), want)
		}
	})
	return l
}

func commit(t testing.TB, l *Log, b *Batch) {
	t.Helper()
	if err := l.Commit(b); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// checkFor polls fn every `every` until it returns nil or total passes.
func checkFor(t testing.TB, total, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", total, err)
		}
		time.Sleep(every)
	}
}

// segFiles lists the segment files of dir in name order.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// copyDir copies the regular files of src into a new temporary folder.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// frameEnds returns the end offset of every frame in a segment file.
func frameEnds(t testing.TB, data []byte) []int64 {
	t.Helper()
	var ends []int64
	for off := 0; off+frameHeader <= len(data); {
		n := int(uint32(data[off]) | uint32(data[off+1])<<8 | uint32(data[off+2])<<16 | uint32(data[off+3])<<24)
		if n == 0 || off+frameHeader+n > len(data) {
			t.Fatalf("frameEnds: bad frame at %d", off)
		}
		off += frameHeader + n
		ends = append(ends, int64(off))
	}
	return ends
}

// randOps makes a batch of n records over a small key space, so that keys
// are overwritten and deleted.
func randOps(rnd func(int) int, n, keys int, tag string) ops {
	o := make(ops, 0, n)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k%04d", rnd(keys))
		kind := Kind(1 + rnd(6))
		if rnd(4) == 0 {
			o = append(o, op{del: true, kind: kind, key: k})
			continue
		}
		v := bytes.Repeat([]byte{byte('a' + rnd(26))}, rnd(40))
		o = append(o, op{kind: kind, key: k, value: tag + string(v)})
	}
	return o
}

const (
	defaultWait = 10 * time.Second
	pollEvery   = time.Millisecond
)

// wantRefused opens opts and expects a *CorruptError that names file and
// whose message contains each of words. It also checks that the refused
// Open changed no segment file.
func wantRefused(t *testing.T, opts Options, file string, words ...string) *CorruptError {
	t.Helper()
	before := segFiles(t, opts.Dir)
	l, _, err := Open(opts)
	if err == nil {
		l.Close()
		t.Fatalf("Open succeeded, want it to refuse: %s", filepath.Base(file))
	}
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("Open = %v, want a *CorruptError wrapping ErrCorrupt", err)
	}
	if ce.File != file {
		t.Errorf("CorruptError.File = %s, want %s", ce.File, file)
	}
	msg := err.Error()
	t.Logf("Open refused: %s", msg)
	for _, w := range append([]string{filepath.Base(file)}, words...) {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
	if after := segFiles(t, opts.Dir); !slices.Equal(after, before) {
		t.Errorf("refused Open changed the segment files:\n before %v\n after  %v", before, after)
	}
	return ce
}

// errorsAs is errors.As.
func errorsAs(err error, target any) bool { return errors.As(err, target) }

// faultAfter injects err into the first hook call whose path matches,
// once a compaction has passed the step point (see testHooks.point).
type faultAfter struct {
	mu     sync.Mutex
	point  string
	match  func(path string) bool
	err    error
	passed bool
	failed int
}

// at is the testHooks.point hook.
func (f *faultAfter) at(name string) {
	f.mu.Lock()
	f.passed = f.passed || name == f.point
	f.mu.Unlock()
}

// hook is a testHooks.write or .sync hook.
func (f *faultAfter) hook(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.passed && f.failed == 0 && f.match(path) {
		f.failed++
		return f.err
	}
	return nil
}

// hit reports whether the fault was injected.
func (f *faultAfter) hit() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed > 0
}

// fillToCap commits messages of value, one per batch, keyed m0000,
// m0001, ..., until the log answers ErrFull, and returns how many it
// took.
func fillToCap(t testing.TB, l *Log, m *model, value string) int {
	t.Helper()
	var b Batch
	for n := 0; ; n++ {
		o := ops{{kind: KindMessage, key: fmt.Sprintf("m%04d", n), value: value}}
		err := l.Commit(o.fill(&b))
		if errors.Is(err, ErrFull) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		m.apply(o)
		if n > 100000 {
			t.Fatal("never full")
		}
	}
}
