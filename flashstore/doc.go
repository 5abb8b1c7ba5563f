// Package flashstore is the broker's durable store: a keyed, append-only
// log on flash (bitcask-like). The broker commits batches of Put(kind, key,
// value) and Delete(kind, key); the live state is the latest Put of each
// key not deleted since. The store keeps only an index in RAM
// (key -> segment, offset, length); values are read back from the files by
// Range (at startup) and by compaction.
//
// # Use
//
//	lg, rep, err := flashstore.Open(flashstore.Options{Dir: "/overlay/gatemq"})
//	if err != nil { ... } // errors.Is(err, flashstore.ErrCorrupt): refuse to start
//	defer lg.Close()
//	_ = lg.Range(func(kind flashstore.Kind, key, value []byte) error {
//		... // rebuild broker state; key and value are valid during the call
//		return nil
//	})
//	var b flashstore.Batch // reuse it: Reset after Commit
//	b.PutMsg(flashstore.KindMessage, msgKey, &msg) // msg is a flashstore.Message
//	b.PutMsg(flashstore.KindRoute, routeKey, &route)
//	b.Delete(flashstore.KindInbound, inboundKey)
//	err = lg.Commit(&b) // durable (SyncAlways) when it returns nil
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
// Open replays every segment and verifies every record. Damage at the end
// of the active segment that no later durable write follows (a torn
// write) is truncated and reported in RecoveryReport.TruncatedBytes. Any
// other damage is corruption: the file is copied aside as *.broken and
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
//
// naming the first segment (FirstSeq 1, or the newest snapshot) and the
// newest segment. It is replaced (.tmp, fdatasync, rename, folder fsync)
// after each new segment or snapshot is durable, so both numbers are
// lower bounds of what the folder holds. Versions before it ignore the
// file, and a log without one gets one at Open.
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
//
// Seq is FirstSeq+1, FirstSeq+2, ... without gaps, and the next segment's
// FirstSeq continues the count. Op is OpPut (1) or OpDelete (2) in its low
// four bits, plus FlagBatchEnd (0x10) on the last entry of each committed
// batch and FlagBarrier (0x20) on the first entry of a write issued when
// every earlier byte of the segment had been fdatasync'd. Value is the
// caller's msgp-encoded value (empty for a delete). Later versions may
// append fields to either array; readers skip fields they do not know.
//
// A segment is created as NAME.tmp, its header written and fdatasync'd,
// then renamed and the folder fsync'd; it is appended to until it reaches
// Options.SegmentSize, then fdatasync'd and never written again.
//
// Compaction writes every live Put, in log order, into a segment whose
// header has Snapshot set, with fresh sequence numbers, through the same
// .tmp/fdatasync/rename/fsync steps, then removes the older segments. Open
// starts from the newest snapshot and deletes any segment before it.
// Compaction runs by itself between batches when dead bytes exceed live
// bytes and a segment's size, so it rewrites at most as much as was
// written since the previous one.
//
// # Flash wear
//
// Stats.BytesWritten counts every byte written, compaction included. A
// QoS 1 message with a 64-byte payload, a 30-byte topic and its route to
// one session costs about 200 bytes (Message ~150 framed, Route ~50),
// and about 56 more when both are deleted on acknowledgement: about 250
// bytes per message life, plus what compaction rewrites (bounded by the
// live data, at most once per max(live, SegmentSize) bytes written).
// BenchmarkCommit reports it as disk-B/op. Under SyncAlways each
// fdatasync also rounds up to a flash page, so group commit is what keeps
// the physical wear low when many clients publish at once.
//
// Recovery reads the segments in name order. It refuses a log with a
// segment missing: in the middle (a sequence gap), at the start (the
// first segment is neither FirstSeq 1 nor a snapshot, or is younger than
// the manifest's First) or at the end (the newest is older than the
// manifest's Last); the error wraps ErrCorrupt and names the missing
// file when it is known. Within the last segment (if
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
// this module; its only outside dependency is msgp for the records.
package flashstore
