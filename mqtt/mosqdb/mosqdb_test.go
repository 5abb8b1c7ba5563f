package mosqdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// file builds a mosquitto.db with 64-bit fields in order o: one retained
// message (id 7), one client with one queued message, one subscription.
func file(o binary.AppendByteOrder, version uint32) []byte {
	be := binary.BigEndian
	var b []byte
	b = append(b, Magic...)
	b = be.AppendUint32(b, 0)
	b = be.AppendUint32(b, version)
	chunk := func(typ uint32, body []byte) {
		b = be.AppendUint32(b, typ)
		b = be.AppendUint32(b, uint32(len(body)))
		b = append(b, body...)
	}
	var cfg []byte
	cfg = o.AppendUint64(cfg, 7)
	cfg = append(cfg, 1, 8, 0, 0, 0, 0, 0, 0)
	chunk(chunkCfg, cfg)
	var msg []byte
	msg = o.AppendUint64(msg, 7)
	msg = o.AppendUint64(msg, 1700000000)
	msg = be.AppendUint32(msg, 2)
	msg = be.AppendUint16(msg, 1)
	msg = be.AppendUint16(msg, 3) // source id "pub"
	msg = be.AppendUint16(msg, 0)
	msg = be.AppendUint16(msg, 9) // topic
	msg = be.AppendUint16(msg, 1883)
	msg = append(msg, 1, 1)
	msg = append(msg, "pubhome/lampon"...)
	chunk(chunkMsgStore, msg)
	chunk(chunkRetain, o.AppendUint64(nil, 7))
	var cl []byte
	cl = o.AppendUint64(cl, 0)
	cl = be.AppendUint32(cl, 0xFFFFFFFF)
	cl = be.AppendUint16(cl, 4)
	cl = be.AppendUint16(cl, 2)
	cl = be.AppendUint16(cl, 1883)
	cl = be.AppendUint16(cl, 5)
	cl = append(cl, 0, 0, 0, 0)
	cl = append(cl, "c1alice"...)
	chunk(chunkClient, cl)
	var cm []byte
	cm = o.AppendUint64(cm, 7)
	cm = be.AppendUint16(cm, 4)
	cm = be.AppendUint16(cm, 2)
	cm = append(cm, 1, StateWaitPuback, 0x01, Out)
	cm = append(cm, "c1"...)
	chunk(chunkClientMsg, cm)
	var sub []byte
	sub = be.AppendUint32(sub, 9)
	sub = be.AppendUint16(sub, 2)
	sub = be.AppendUint16(sub, 6)
	sub = append(sub, 2, 0x04, 0, 0)
	sub = append(sub, "c1home/#"...)
	chunk(chunkSub, sub)
	return b
}

func TestReadBothByteOrders(t *testing.T) {
	for _, o := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		db, err := Read(bytes.NewReader(file(o, Version)))
		if err != nil {
			t.Fatalf("%v: %v", o, err)
		}
		m := db.Messages[7]
		if db.LastID != 7 || m == nil || m.Topic != "home/lamp" || string(m.Payload) != "on" || m.SourceID != "pub" ||
			m.ExpiresAt != 1700000000 || m.QoS != 1 || !m.Retain {
			t.Errorf("%v: message %+v, last id %d", o, m, db.LastID)
		}
		if len(db.Retained) != 1 || db.Retained[0] != 7 {
			t.Errorf("%v: retained %v", o, db.Retained)
		}
		if len(db.Clients) != 1 || !reflect.DeepEqual(db.Clients[0], Client{ID: "c1", Username: "alice", ExpiryInterval: 0xFFFFFFFF, LastMID: 4, ListenerPort: 1883}) {
			t.Errorf("%v: clients %+v", o, db.Clients)
		}
		if len(db.ClientMsgs) != 1 || !reflect.DeepEqual(db.ClientMsgs[0], ClientMsg{ClientID: "c1", StoreID: 7, MID: 4, QoS: 1, State: StateWaitPuback, Dup: true, Direction: Out}) {
			t.Errorf("%v: client messages %+v", o, db.ClientMsgs)
		}
		if len(db.Subs) != 1 || !reflect.DeepEqual(db.Subs[0], Sub{ClientID: "c1", Topic: "home/#", QoS: 2, Options: 0x04, Identifier: 9}) {
			t.Errorf("%v: subs %+v", o, db.Subs)
		}
	}
}

func TestReadRefusesOtherFiles(t *testing.T) {
	good := file(binary.LittleEndian, Version)
	for name, b := range map[string][]byte{
		"empty":           nil,
		"not mosquitto":   []byte("hello world, this is not a db"),
		"version 5":       file(binary.LittleEndian, 5),
		"truncated":       good[:len(good)-3],
		"huge chunk":      append(append([]byte{}, good[:len(Magic)+8]...), 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff),
		"short chunk":     append(append([]byte{}, good[:len(Magic)+8+8+16]...), 0, 0, 0, 4, 0, 0, 0, 2, 1, 2),
		"unknown chunk":   append(append([]byte{}, good...), 0, 0, 0, 99, 0, 0, 0, 0),
		"no config first": append(append([]byte{}, good[:len(Magic)+8]...), 0, 0, 0, 4, 0, 0, 0, 8, 1, 0, 0, 0, 0, 0, 0, 0),
	} {
		if _, err := Read(bytes.NewReader(b)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err %v, want ErrFormat", name, err)
		}
	}
}

// FuzzRead checks that any input gives a DB or ErrFormat, never a panic.
func FuzzRead(f *testing.F) {
	f.Add(file(binary.LittleEndian, Version))
	f.Add(file(binary.BigEndian, Version))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Read(bytes.NewReader(b)); err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v is not ErrFormat", err)
		}
	})
}
