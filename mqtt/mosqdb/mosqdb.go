// Package mosqdb reads Mosquitto's saved state, the mosquitto.db file of
// persistence format 6 (Mosquitto 2.0), so that a broker replacing
// Mosquitto can take over its retained messages, persistent sessions,
// subscriptions and queued or in-flight messages. It only reads; it
// imports nothing of gatemq.
//
// # The format
//
// A header: the magic bytes 00 B5 00 "mosquitto db", a CRC (uint32, always
// 0) and the format version (uint32, 6). Then chunks, each a type and a
// length (uint32, big-endian) and a body of that length. The bodies begin
// with a fixed C struct written as it is in memory: its 16- and 32-bit
// fields in network (big-endian) order, its 64-bit fields (message ids,
// times) in the byte order of the machine that wrote the file, padding to
// 8 bytes; strings and the payload follow. Read decides that byte order
// from the first chunk (the last message id is a small counter either way
// round).
//
//	chunk 1 CFG         last_db_id u64, shutdown u8, dbid_size u8, pad 6
//	chunk 2 MSG_STORE   store_id u64, expiry_time i64, payloadlen u32, source_mid u16,
//	                    source_id_len u16, source_username_len u16, topic_len u16,
//	                    source_port u16, qos u8, retain u8;
//	                    source_id, source_username, topic, payload, [5.0 properties]
//	chunk 3 CLIENT_MSG  store_id u64, mid u16, id_len u16, qos u8, state u8,
//	                    retain_dup u8, direction u8; client_id, [5.0 properties]
//	chunk 4 RETAIN      store_id u64
//	chunk 5 SUB         identifier u32, id_len u16, topic_len u16, qos u8, options u8,
//	                    pad 2; client_id, topic
//	chunk 6 CLIENT      session_expiry_time i64, session_expiry_interval u32,
//	                    last_mid u16, id_len u16, listener_port u16, username_len u16,
//	                    pad 4; client_id, username
//
// MQTT 5.0 properties of messages (content type, user properties, ...)
// are not decoded: Message.Extra holds them raw.
package mosqdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"

	"gatemq/internal/fmt"
)

// Magic is the start of every mosquitto.db.
const Magic = "\x00\xb5\x00mosquitto db"

// Version is the persistence format this package reads (Mosquitto 2.0).
const Version = 6

// ErrFormat is returned (wrapped with the file and offset) for a file that
// is not a mosquitto.db of format 6 or is damaged.
var ErrFormat = errors.New("mosqdb: not a Mosquitto 2.0 persistence file")

// Message states of Mosquitto's client messages (enum mosquitto_msg_state).
const (
	StatePublishQoS0   = 1
	StatePublishQoS1   = 2
	StateWaitPuback    = 3
	StatePublishQoS2   = 4
	StateWaitPubrec    = 5
	StateResendPubrel  = 6
	StateWaitPubrel    = 7
	StateResendPubcomp = 8
	StateWaitPubcomp   = 9
	StateSendPubrec    = 10
	StateQueued        = 11
)

// Directions of client messages.
const (
	In  = 0 // from the client to the broker (QoS 2 awaiting PUBREL)
	Out = 1 // from the broker to the client
)

// DB is the content of a mosquitto.db.
type DB struct {
	// LastID is the last message id Mosquitto gave.
	LastID   uint64
	Messages map[uint64]*Message // by store id
	// Retained lists the store ids of the retained messages.
	Retained []uint64
	Clients  []Client
	Subs     []Sub
	// ClientMsgs are the messages queued for or in flight to (or from)
	// each client, in the order Mosquitto keeps them.
	ClientMsgs []ClientMsg
}

// Message is one stored message.
type Message struct {
	ID         uint64
	Topic      string
	Payload    []byte
	QoS        byte
	Retain     bool
	ExpiresAt  int64  // unix seconds, 0 for never
	SourceID   string // the publisher's client id
	SourceUser string
	// Extra holds what follows the payload (MQTT 5.0 properties), raw.
	Extra []byte
}

// Client is one persistent session.
type Client struct {
	_        [0]func() // not comparable: no generated == function (flash size)
	ID       string
	Username string
	// ExpiryInterval is the session expiry interval in seconds
	// (0xFFFFFFFF: never); ExpiresAt the unix time it ends while offline
	// (0: not set).
	ExpiryInterval uint32
	ExpiresAt      int64
	LastMID        uint16
	ListenerPort   uint16
}

// Sub is one subscription.
type Sub struct {
	_          [0]func() // not comparable: no generated == function (flash size)
	ClientID   string
	Topic      string
	QoS        byte
	Options    byte // MQTT 5.0 subscription option bits (no local, retain as published, retain handling)
	Identifier uint32
}

// ClientMsg is one message of one client's queue or window.
type ClientMsg struct {
	_         [0]func() // not comparable: no generated == function (flash size)
	ClientID  string
	StoreID   uint64
	MID       uint16
	QoS       byte
	State     byte
	Retain    bool
	Dup       bool
	Direction byte
}

// Chunk types.
const (
	chunkCfg       = 1
	chunkMsgStore  = 2
	chunkClientMsg = 3
	chunkRetain    = 4
	chunkSub       = 5
	chunkClient    = 6
)

// maxChunk bounds one chunk (a message of MQTT's largest size and its
// strings), so that a damaged length does not make Read allocate wildly.
const maxChunk = 268435455 + 3*65535 + 1<<20

// ReadFile reads the mosquitto.db at path.
func ReadFile(path string) (*DB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	db, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

// Read decodes a mosquitto.db from r.
func Read(r io.Reader) (*DB, error) {
	head := make([]byte, len(Magic)+8)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	if string(head[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("%w: no magic bytes", ErrFormat)
	}
	if v := binary.BigEndian.Uint32(head[len(Magic)+4:]); v != Version {
		return nil, fmt.Errorf("%w: format version %d (Mosquitto 2.0 writes %d)", ErrFormat, v, Version)
	}
	d := &decoder{db: &DB{Messages: map[uint64]*Message{}}, u64: binary.LittleEndian}
	off := int64(len(head))
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(r, hdr); err == io.EOF {
			return d.db, nil
		} else if err != nil {
			return nil, fmt.Errorf("%w: chunk header at %d: %v", ErrFormat, off, err)
		}
		typ, n := binary.BigEndian.Uint32(hdr), binary.BigEndian.Uint32(hdr[4:])
		if n > maxChunk {
			return nil, fmt.Errorf("%w: chunk at %d claims %d bytes", ErrFormat, off, n)
		}
		// The buffer grows with what is read, not with what the length
		// claims: a damaged length costs no more than the file's size.
		var buf bytes.Buffer
		if got, err := io.CopyN(&buf, r, int64(n)); err != nil {
			return nil, fmt.Errorf("%w: chunk at %d: %d of %d bytes: %v", ErrFormat, off, got, n, err)
		}
		body := buf.Bytes()
		if err := d.chunk(typ, body); err != nil {
			return nil, fmt.Errorf("%w: chunk %d at %d: %v", ErrFormat, typ, off, err)
		}
		off += 8 + int64(n)
	}
}

// decoder holds the state of one Read.
type decoder struct {
	db      *DB
	u64     binary.ByteOrder // of the 64-bit fields
	haveCfg bool
}

// reader takes fields from the front of a chunk body.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		if r.err == nil {
			r.err = errors.New("chunk too short")
		}
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte            { return r.take(1)[0] }
func (r *reader) u16() uint16         { return binary.BigEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32         { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) str(n uint16) string { return string(r.take(int(n))) }

func (d *decoder) chunk(typ uint32, body []byte) error {
	r := &reader{b: body}
	u64 := func() uint64 { return d.u64.Uint64(r.take(8)) }
	switch typ {
	case chunkCfg:
		raw := r.take(8)
		// The last id is a counter: whichever order gives the smaller
		// number is the writer's.
		le, be := binary.LittleEndian.Uint64(raw), binary.BigEndian.Uint64(raw)
		if be < le {
			d.u64 = binary.BigEndian
		}
		d.db.LastID = d.u64.Uint64(raw)
		r.u8() // shutdown
		if size := r.u8(); size != 8 && r.err == nil {
			return fmt.Errorf("message ids of %d bytes", size)
		}
		d.haveCfg = true
	case chunkMsgStore:
		m := &Message{ID: u64(), ExpiresAt: int64(u64())}
		plen := r.u32()
		r.u16() // source mid
		idLen, userLen, topicLen := r.u16(), r.u16(), r.u16()
		r.u16() // source port
		m.QoS, m.Retain = r.u8(), r.u8() != 0
		m.SourceID, m.SourceUser, m.Topic = r.str(idLen), r.str(userLen), r.str(topicLen)
		m.Payload = bytes.Clone(r.take(int(plen)))
		m.Extra = bytes.Clone(r.b)
		if m.QoS > 2 && r.err == nil {
			return fmt.Errorf("message %d: QoS %d", m.ID, m.QoS)
		}
		d.db.Messages[m.ID] = m
	case chunkClientMsg:
		cm := ClientMsg{StoreID: u64(), MID: r.u16()}
		idLen := r.u16()
		cm.QoS, cm.State = r.u8(), r.u8()
		rd := r.u8()
		cm.Retain, cm.Dup = rd&0xf0 != 0, rd&0x0f != 0
		cm.Direction = r.u8()
		cm.ClientID = r.str(idLen)
		d.db.ClientMsgs = append(d.db.ClientMsgs, cm)
	case chunkRetain:
		d.db.Retained = append(d.db.Retained, u64())
	case chunkSub:
		s := Sub{Identifier: r.u32()}
		idLen, topicLen := r.u16(), r.u16()
		s.QoS, s.Options = r.u8(), r.u8()
		r.take(2)
		s.ClientID, s.Topic = r.str(idLen), r.str(topicLen)
		d.db.Subs = append(d.db.Subs, s)
	case chunkClient:
		c := Client{ExpiresAt: int64(u64()), ExpiryInterval: r.u32(), LastMID: r.u16()}
		idLen := r.u16()
		c.ListenerPort = r.u16()
		userLen := r.u16()
		r.take(4)
		c.ID, c.Username = r.str(idLen), r.str(userLen)
		d.db.Clients = append(d.db.Clients, c)
	default:
		return fmt.Errorf("unknown chunk type %d", typ)
	}
	if typ != chunkCfg && !d.haveCfg {
		return errors.New("no configuration chunk first")
	}
	return r.err
}
