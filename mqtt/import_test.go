package mqtt

import (
	"testing"
	"time"

	"gatemq/flashstore"
	"gatemq/mqtt/mosqdb"
)

// TestRecoverWithMosquitto imports a Mosquitto state with a message in
// each stage: queued, waiting for PUBACK, waiting for PUBCOMP, a QoS 0
// one (not kept), an inbound QoS 2 message awaiting PUBREL (published on
// import) and one for an unknown client.
func TestRecoverWithMosquitto(t *testing.T) {
	st, _, err := flashstore.Open(flashstore.Options{Dir: t.TempDir(), Sync: flashstore.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msg := func(id uint64, topic, payload string, qos byte) *mosqdb.Message {
		return &mosqdb.Message{ID: id, Topic: topic, Payload: []byte(payload), QoS: qos, SourceID: "src"}
	}
	db := &mosqdb.DB{
		LastID: 20,
		Messages: map[uint64]*mosqdb.Message{
			11: msg(11, "q/queued", "1", 1), 12: msg(12, "q/acked", "2", 1), 13: msg(13, "q/rel", "3", 2),
			14: msg(14, "q/zero", "4", 0), 15: msg(15, "q/inbound", "5", 2),
		},
		Clients: []mosqdb.Client{{ID: "c", ExpiryInterval: expireNever}, {ID: "p", Username: "bob", ExpiryInterval: 60}},
		Subs:    []mosqdb.Sub{{ClientID: "c", Topic: "q/#", QoS: 2}, {ClientID: "ghost", Topic: "#", QoS: 1}},
		ClientMsgs: []mosqdb.ClientMsg{
			{ClientID: "c", StoreID: 12, MID: 5, QoS: 1, State: mosqdb.StateWaitPuback, Direction: mosqdb.Out},
			{ClientID: "c", StoreID: 13, MID: 6, QoS: 2, State: mosqdb.StateWaitPubcomp, Direction: mosqdb.Out},
			{ClientID: "c", StoreID: 11, MID: 7, QoS: 1, State: mosqdb.StateQueued, Direction: mosqdb.Out},
			{ClientID: "c", StoreID: 14, QoS: 0, State: mosqdb.StatePublishQoS0, Direction: mosqdb.Out},
			{ClientID: "p", StoreID: 15, MID: 9, QoS: 2, State: mosqdb.StateWaitPubrel, Direction: mosqdb.In},
		},
	}
	tb := startBroker(t, Options{Store: st})
	rs, is, err := tb.srv.RecoverWithMosquitto(db, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := ImportStats{Sessions: 2, Subscriptions: 1, Queued: 1, Inflight: 2, Inbound: 1, Skipped: 2}
	if is != want {
		t.Errorf("import stats %+v, want %+v", is, want)
	}
	if rs.Sessions != 2 || rs.Inbound != 1 {
		t.Errorf("recovery stats %+v", rs)
	}
	// c resumes: the PUBLISH awaiting PUBACK again with DUP and its id,
	// the PUBREL awaiting PUBCOMP, then the queued message and the inbound
	// one published on import.
	r := dialRaw(t, tb)
	r.connect("c", false, 30, nil, true)
	p := r.expect(tPUBLISH, 0x0a).publish(t) // DUP, QoS 1
	if p.topic != "q/acked" || p.id != 5 {
		t.Errorf("first resend %+v", p)
	}
	r.expectAck(tPUBREL, 6)
	var got []string
	for range 2 {
		pk := r.read()
		if pk.typ != tPUBLISH {
			t.Fatalf("packet type %d", pk.typ)
		}
		got = append(got, pk.publish(t).topic)
	}
	if got[0] != "q/queued" || got[1] != "q/inbound" {
		t.Errorf("then %v, want q/queued then q/inbound", got)
	}
	// p's inbound QoS 2 id is still awaiting its PUBREL.
	pr := dialRaw(t, tb)
	pr.connect("p", false, 30, nil, true)
	pr.send(ackPkt(tPUBREL, 9))
	pr.expectAck(tPUBCOMP, 9)
}
