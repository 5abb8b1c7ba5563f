package flashstore

import (
	"errors"
	"time"
)

// SyncPolicy says when Commit's data reaches stable storage, and so what a
// successful Commit promises.
type SyncPolicy int

const (
	// SyncAlways (the default) returns from Commit after the fdatasync that
	// covers the batch. Concurrent commits share one fdatasync (group
	// commit). A committed batch survives power loss.
	SyncAlways SyncPolicy = iota
	// SyncInterval returns from Commit once the batch is written to the
	// operating system, and fdatasyncs at most every Options.SyncInterval
	// (and at once when the interval has already passed). A committed
	// batch survives a crash of the process; power loss may lose the
	// batches of the last SyncInterval. Batches stay atomic.
	SyncInterval
	// SyncNone never fdatasyncs for a commit: data lives in the page cache
	// until the kernel writes it back. Segments are still synced when
	// sealed, at compaction and at Close, so recovery stays clean; power
	// loss may lose any amount of recent batches.
	SyncNone
)

// String returns "always", "interval" or "none".
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNone:
		return "none"
	}
	return "invalid"
}

// Size limits of one record.
const (
	// MaxKey is the longest key a record may have.
	MaxKey = 1 << 18
	// MaxRecord is the largest framed record body; Commit refuses larger
	// records with ErrTooLarge and recovery treats a larger length field
	// as damage.
	MaxRecord = 1<<26 + 1<<19
)

// Defaults for zero Options fields.
const (
	DefaultSegmentSize   = 4 << 20
	DefaultMaxBatchBytes = 1 << 20
	DefaultSyncInterval  = time.Second
	// DefaultSyncGap caps the fdatasyncs of concurrent commits at about a
	// thousand a second: each costs the broker CPU (a hundred or more
	// microseconds on a virtual disk) and the flash a partly written page.
	DefaultSyncGap = time.Millisecond
	// MinCappedSegmentSize is the smallest default SegmentSize under a
	// MaxBytes: smaller segments would cost a manifest write every few
	// KiB.
	MinCappedSegmentSize = 32 << 10
)

// Options configures Open. The zero value of each field is a usable default.
type Options struct {
	_ [0]func() // not comparable: no generated == function (flash size)
	// Dir is the folder of the log; it is created if missing. Required.
	Dir string
	// Sync is the durability policy; zero is SyncAlways.
	Sync SyncPolicy
	// SyncInterval bounds the loss window under SyncInterval; zero means
	// DefaultSyncInterval. Ignored by the other policies.
	SyncInterval time.Duration
	// SyncGap is, under SyncAlways, the shortest time from the start of
	// one fdatasync to the start of the next while commits come from
	// several places at once (see Log.coalesce): zero means
	// DefaultSyncGap, a negative value none. A commit that comes alone
	// never waits for it.
	SyncGap time.Duration
	// SegmentSize is the size at which the active segment is sealed and a
	// new one started; zero means DefaultSegmentSize (4 MiB), or, with a
	// MaxBytes, an eighth of MaxBytes when that is less (but at least
	// MinCappedSegmentSize). A single group of batches larger than that
	// makes one larger segment.
	SegmentSize int64
	// MaxBytes caps the store's size (all segment files); zero means no
	// cap. When a batch that grows the live data would pass the cap even
	// after compaction, Commit returns ErrFull. Compaction needs room for
	// about one segment more than the cap while it runs (it writes the
	// records it moves before it deletes their old segments). It takes no
	// step the file system has no room for: with less room the store stays
	// full (ErrFull) until enough of it is dead, rather than filling the
	// file system.
	MaxBytes int64
	// MaxBatchBytes caps how many bytes of waiting batches the writer
	// groups into one write and one fdatasync; zero means
	// DefaultMaxBatchBytes (1 MiB). A single larger batch is written alone.
	MaxBatchBytes int
	// SalvageCorrupt makes Open go on past corruption instead of failing:
	// the damaged file is still copied aside as *.broken and reported in
	// RecoveryReport.Quarantined, its good prefix is kept, the rest of the
	// log is replayed, the loss is logged at error level, and the log is
	// compacted at once so the next Open starts clean. A segment missing
	// from either end is passed the same way (its records are lost), and a
	// damaged MANIFEST is ignored and rewritten; a segment name that is not
	// a regular file is still refused, since only a person can tell what
	// it points to.
	SalvageCorrupt bool
	// Logger receives recovery, truncation and compaction events; nil
	// discards them.
	Logger Logger
}

// Logger receives the log's events: a message and key-value pairs, as
// log/slog's Logger takes them (which, like gatemq's textlog.Logger, has
// these methods).
type Logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// discardLogger is the Logger of Options without one.
type discardLogger struct{}

func (discardLogger) Info(string, ...any)  {}
func (discardLogger) Warn(string, ...any)  {}
func (discardLogger) Error(string, ...any) {}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("flashstore: Options.Dir is empty")
	}
	if o.Sync < SyncAlways || o.Sync > SyncNone {
		return o, errors.New("flashstore: invalid Options.Sync")
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.MaxBytes < 0 {
		o.MaxBytes = 0
	}
	if o.SegmentSize <= 0 {
		// Under a cap, a compaction step (which copies at most about a
		// segment) needs a small share of the cap in free space, and a
		// queue delivered in order frees whole segments.
		o.SegmentSize = DefaultSegmentSize
		if o.MaxBytes > 0 {
			o.SegmentSize = min(DefaultSegmentSize, max(o.MaxBytes/8, MinCappedSegmentSize))
		}
	}
	if o.SegmentSize > 1<<31 {
		return o, errors.New("flashstore: Options.SegmentSize above 2 GiB")
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.Logger == nil {
		o.Logger = discardLogger{}
	}
	return o, nil
}

// syncGap is Options.SyncGap with its default applied.
func (o *Options) syncGap() time.Duration {
	switch {
	case o.SyncGap == 0:
		return DefaultSyncGap
	case o.SyncGap < 0:
		return 0
	}
	return o.SyncGap
}
