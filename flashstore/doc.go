// Package flashstore is the broker's durable store: a keyed, append-only
// log on flash (bitcask-like). The broker commits batches of Put(kind, key,
// value) and Delete(kind, key); the live state is the latest Put of each
// key not deleted since. The store keeps only an index in RAM
// (key -> segment, offset, length; about 40 to 50 bytes per live key,
// and about 12.5 for message and route keys, which seqindex.go keeps in
// sorted runs);
// values stay on flash and are read back by Get (one key, CRC-checked),
// by Range (at startup) and by compaction.
//
// # Use
//
//	lg, rep, err := flashstore.Open(flashstore.Options{Dir: "/overlay/gatemq"})
//	if err != nil { ... } // errors.Is(err, flashstore.ErrCorrupt): refuse to start
//	defer lg.Close()
//	// Rebuild state from the small records; leave message bodies on flash.
//	_ = lg.RangeKinds([]flashstore.Kind{flashstore.KindSession, flashstore.KindRoute},
//		func(kind flashstore.Kind, key, value []byte) error {
//			... // key and value are valid during the call
//			return nil
//		})
//	_ = lg.RangeKeys([]flashstore.Kind{flashstore.KindMessage}, func(kind flashstore.Kind, key []byte) error { ... })
//	var b flashstore.Batch // reuse it: Reset after Commit
//	b.PutMsg(flashstore.KindMessage, msgKey, &msg) // msg is a flashstore.Message
//	b.PutMsg(flashstore.KindRoute, routeKey, &route)
//	b.Delete(flashstore.KindInbound, inboundKey)
//	err = lg.Commit(&b) // durable (SyncAlways) when it returns nil
//	body, err := lg.GetAppend(buf[:0], flashstore.KindMessage, msgKey) // when it is sent
//
// Values are msgp encodings, normally of the record types in records.go
// (Session, Subscription, Message, Route, Inbound, Retained). Those types
// are vartuples: decode into a zero value, since fields missing from an
// older record keep what the destination held.
//
// # Guarantees
//
// Commit returns after the batch is durable under Options.Sync (see
// SyncPolicy). A batch is atomic across a crash. One writer goroutine owns
// the active segment; batches that queue while an fdatasync runs are
// written together with one write and one fdatasync (group commit). There
// is no linger timer: an idle log syncs a lone batch at once.
//
// Get returns the latest value of a key, read from its segment and checked
// against its CRC: a damaged record is a *CorruptError naming the file and
// offset (the caller drops that value; the rest of the log reads on). The
// key is the value's stable handle: compaction moves records and Get
// follows; a Get that races a compaction reads the file it found, which
// stays open until the Get is done. Range, RangeKinds and RangeKeys report
// the live entries as of their start, in log order (compaction moves a
// record to the head of the log, so this is the order of the last Puts
// only where none moved), a group of segments at a time: their memory
// does not grow with the log.
//
// Open replays every segment and verifies every record, keeping no
// values. Damage at the end of the active segment that no later durable
// write follows (a torn write) is truncated and reported in
// RecoveryReport.TruncatedBytes. Any other damage is corruption: the file is copied aside as *.broken and
// Open fails with a *CorruptError wrapping ErrCorrupt, naming file and
// offset (Options.SalvageCorrupt keeps the good part instead, loudly).
//
// # On-disk format, version 1
//
// A log is a folder of segment files named %016x.seg after the sequence
// number of their header record (fixed-width hex sorts like the numbers),
// plus a LOCK file and a MANIFEST file. Files ending in .tmp are
// unfinished and deleted by Open; files ending in .broken are quarantined
// copies, never read. A segment name that is not a regular file (a
// symlink, a folder, a pipe) is refused by Open: the log reads only its
// own files.
//
// MANIFEST holds one framed record, a Manifest:
//
//	[Magic "GMQM", Version 1, First uint, Last uint]
//	[Magic "GMQM", Version 2, First uint, Last uint, Gaps bin]
//
// naming the first segment and the newest one. It is replaced (.tmp,
// fdatasync, rename, folder fsync) after each new segment is durable, so
// Last is a lower bound of what the folder holds. Version 1 is written
// while the log starts at FirstSeq 1 or at a snapshot and has no gaps
// (First is then a lower bound too), so that versions before
// segment-selective compaction open it; version 2 once compaction has removed
// segments: First is exact, and Gaps lists the sequence ranges [from, to)
// removed between First and Last (uvarint pairs, ascending). Segment files
// before First (when First is there) or inside a gap are leftovers of a
// crash between a compaction's manifest and its removals: Open deletes
// them. Versions before the manifest ignore the file, versions before
// version 2 refuse it, and a log without one gets one at Open.
//
// A segment file is a sequence of records, each framed as
//
//	offset 0: len  uint32, little endian: length of body, 0 < len <= MaxRecord
//	offset 4: crc  uint32, little endian: CRC-32C (Castagnoli) of body
//	offset 8: body len bytes: a MessagePack array (msgp vartuple)
//
// with no padding and no CRC chaining: every record verifies on its own.
// Integers in the frame are little endian on every platform, and
// MessagePack is big endian by definition, so a log written on an ARM
// board opens on a MIPS router.
//
// The first record of a segment is a SegmentHeader:
//
//	[Magic "GMQF", Version 1, FirstSeq uint, Snapshot bool]
//
// Every following record is an Entry:
//
//	[Seq uint, Op uint, Kind uint, Key bin, Value bin]
//	[Seq uint, Op uint, Kind uint, Key bin, Value bin, Below uint, Older uint, Span uint]  (a Delete)
//
// Seq is FirstSeq+1, FirstSeq+2, ... without gaps, and the next segment's
// FirstSeq continues the count. Op is OpPut (1) or OpDelete (2) in its low
// four bits, plus FlagBatchEnd (0x10) on the last entry of each committed
// batch and FlagBarrier (0x20) on the first entry of a write issued when
// every earlier byte of the segment had been fdatasync'd. Value is the
// caller's msgp-encoded value (empty for a delete). A Delete also names
// the segments that may hold Puts of its key it hides, as distances back
// from Seq: Below to the segment (id, its FirstSeq) of the key's latest
// Put, 0 for none outside the Delete's own segment; Older from there to
// the newest segment holding an older Put since the key was last deleted
// (0: none), and Span from there to the oldest. A Delete without them
// (written before they existed) hides every segment before it. Later
// versions may append fields to either array; readers skip fields they do
// not know.
//
// A segment is created as NAME.tmp, its header written and fdatasync'd,
// then renamed and the folder fsync'd; it is appended to until it reaches
// Options.SegmentSize, then fdatasync'd and never written again.
//
// Compaction works on sealed segments that are mostly dead: whose kept
// bytes (live Puts, and Deletes while a segment they hide is left) are
// less than half their size. It appends their kept records to the active
// segment, each a batch of its own with a new seq, fdatasyncs it, records
// their removal in MANIFEST, then deletes their files (compact.go has the
// crash safety step by step). A Put is moved only while it is its key's
// latest record, so moving never brings back a value a later record
// replaced; a Delete is dropped only when no segment it hides is left, or
// when its key was put again (whose next Delete then hides what it hid).
// It runs by itself between batches when the sealed segments hold 1.5
// times as many dead bytes as the log holds live ones (and a segment's
// worth), a segment's worth of moves per step; Compact forces it on every
// segment with dead bytes, and MaxBytes makes it free room as needed from
// segments at least half dead (a byte moved frees at least a byte).
// Segments whose records all died cost nothing: they are deleted unread.
// The copies need free space until the victims go: a step is taken only
// if its copies fit in what the file system has free, and a step that
// fails (ENOSPC while copying or writing MANIFEST) cuts its copies off
// again and leaves the log as it was.
//
// Logs written before this compaction may start at a snapshot: a segment
// whose header has Snapshot set holds every live Put as of its FirstSeq,
// and Open deletes any segment before the newest snapshot. This version
// writes a snapshot only after a salvage (Options.SalvageCorrupt).
//
// # Flash wear
//
// Stats.BytesWritten counts every byte written, compaction included
// (Stats.MovedBytes is compaction's part). A QoS 1 message with a 64-byte
// payload and a 30-byte topic, queued for one session, sent and
// acknowledged, costs about 320 to 340 bytes (Message ~150 framed, Route
// ~55 twice, two Deletes), and compaction adds nothing when queues are
// delivered in order and 30 to 90 bytes when they are not
// (BenchmarkQueueWear, queues of 10k and 100k: the cost does not grow with
// the queue, and stays under 3 x (topic + payload + 64) = 474 bytes).
// BenchmarkCommit reports the commit path as disk-B/op. Under SyncAlways
// each fdatasync also rounds up to a flash page, so group commit is what
// keeps the physical wear low when many clients publish at once.
//
// Recovery reads the segments in name order. It refuses a log with a
// segment missing: in the middle (a sequence gap the manifest does not
// record), at the start (the first segment is neither FirstSeq 1, nor a
// snapshot, nor the First of a version 2 manifest, or is younger than the
// manifest's First) or at the end (the newest is older than the manifest's
// Last); the error wraps ErrCorrupt and names the missing file when it is
// known. Within the last segment (if
// not a snapshot) a damaged frame, a zero length, a short frame, a bad
// CRC, an undecodable body, a sequence out of order, or a batch without
// its end is a torn write when no valid FlagBarrier entry with a higher
// seq follows it: the file is cut back to the end of the last whole batch.
// Anywhere else it is corruption.
//
// # What it owns
//
// The bytes on flash: framing, segments, group commit, recovery and
// compaction. It knows nothing of MQTT and must never import anything of
// this module. The records' code is generated by the msgp tool, and runs on
// internal/msgp, the part of msgp's runtime it needs: the binary links no
// outside module for it.
package flashstore
