package flashstore

import "errors"

var (
	// ErrClosed is returned by Commit, Compact and Range after Close, and by
	// a second Close.
	ErrClosed = errors.New("flashstore: log closed")

	// ErrFull is returned by Commit when the batch would grow the store
	// beyond Options.MaxBytes even after compaction. Nothing of the batch
	// is applied; batches that do not grow the live data (deletes,
	// overwrites of the same size) are still accepted, so a full store can
	// drain.
	ErrFull = errors.New("flashstore: store full")

	// ErrCorrupt is returned (wrapped with the file and offset) by Open when
	// a record that was once durable fails its check: a bad CRC, an
	// undecodable body, or a sequence gap in a sealed segment, or in the
	// last segment before a later durable write. It is also returned, in a
	// *CorruptError, when a segment is missing from either end of the log
	// (with Missing set and File naming it when the manifest tells which),
	// when a segment name is a symlink or another file that is not a
	// regular one, and when MANIFEST is damaged. Get, Range and compaction
	// return it, in a *CorruptError naming file and offset, for a record
	// that fails its check when read back.
	ErrCorrupt = errors.New("flashstore: corrupt log")

	// ErrTooLarge is returned by Commit when a record of the batch is
	// larger than MaxRecord, or a key is longer than MaxKey.
	ErrTooLarge = errors.New("flashstore: record too large")

	// ErrBadKind is returned by Commit when a record of the batch has
	// Kind 0.
	ErrBadKind = errors.New("flashstore: invalid kind")

	// ErrNotFound is returned by Get when the key is not live.
	ErrNotFound = errors.New("flashstore: key not found")

	// ErrLocked is returned by Open when another Log holds the folder.
	ErrLocked = errors.New("flashstore: folder locked by another process")
)
