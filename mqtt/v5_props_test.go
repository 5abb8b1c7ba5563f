package mqtt

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// MQTT 5.0 application message metadata (§3.3.2.3, §4.10 request/response):
// forwarded untouched [MQTT-3.3.2-15..20], Payload Format Indicator checked.

// requestProps is a property set using every forwarded property, with
// binary correlation data and repeated user property keys.
func requestProps() *paho.PublishProperties {
	return &paho.PublishProperties{
		PayloadFormat:   bytep(1),
		ContentType:     "application/json; charset=utf-8",
		ResponseTopic:   "rr/resp/client-1",
		CorrelationData: []byte{0x00, 0x01, 0xfe, 0xff, 0x00},
		User: paho.UserProperties{
			{Key: "k", Value: "v1"},
			{Key: "trace", Value: "ü-√-☃"},
			{Key: "k", Value: "v2"},
			{Key: "empty", Value: ""},
		},
	}
}

// bytep returns a pointer for paho.golang's Payload Format Indicator.
func bytep(v byte) *byte { return &v }

// checkMetadata compares the forwarded properties of got with want.
func checkMetadata(t testing.TB, what string, got paho.PublishProperties, want *paho.PublishProperties) {
	t.Helper()
	if (got.PayloadFormat == nil) != (want.PayloadFormat == nil) || got.PayloadFormat != nil && *got.PayloadFormat != *want.PayloadFormat {
		t.Errorf("%s: Payload Format Indicator %s, want %s", what, ptrStr(got.PayloadFormat), ptrStr(want.PayloadFormat))
	}
	if got.ContentType != want.ContentType {
		t.Errorf("%s: Content Type %q, want %q", what, got.ContentType, want.ContentType)
	}
	if got.ResponseTopic != want.ResponseTopic {
		t.Errorf("%s: Response Topic %q, want %q", what, got.ResponseTopic, want.ResponseTopic)
	}
	if !bytes.Equal(got.CorrelationData, want.CorrelationData) || (got.CorrelationData == nil) != (want.CorrelationData == nil) {
		t.Errorf("%s: Correlation Data % x, want % x", what, got.CorrelationData, want.CorrelationData)
	}
	if !slices.Equal(got.User, want.User) && !(len(got.User) == 0 && len(want.User) == 0) {
		t.Errorf("%s: User Properties %q, want %q in this order [MQTT-3.3.2-18]", what, got.User, want.User)
	}
}

// TestV5RequestResponseMetadata checks that Response Topic, Correlation
// Data, User Properties (order and repeats kept), Content Type and Payload
// Format Indicator reach subscribers unaltered at every QoS, live, from the
// retained store and from an offline session's queue, and that a responder
// can answer on the Response Topic with the Correlation Data (§4.10).
func TestV5RequestResponseMetadata(t *testing.T) {
	tb := startBroker(t, Options{})
	responder := connectV5(t, tb, v5Connect("rr-responder", &paho.ConnectProperties{SessionExpiryInterval: u32p(60)}))
	responder.sub(t, "rr/req/#", 2)
	requester := connectV5(t, tb, v5Connect("rr-client", nil))
	requester.sub(t, "rr/resp/client-1", 2)
	want := requestProps()

	for q := range byte(3) {
		payload := fmt.Sprintf(`{"q":%d,"x":"ü"}`, q)
		requester.pub2(t, &paho.Publish{Topic: "rr/req/live", QoS: q, Payload: []byte(payload), Properties: requestProps()})
		got := responder.col.waitFor(t, "rr/req/live", payload)
		checkMetadata(t, fmt.Sprint("QoS ", q), last(t, got).props, want)
	}
	// The responder answers with the Correlation Data.
	req := responder.col.all()[0].props
	responder.pub2(t, &paho.Publish{Topic: req.ResponseTopic, QoS: 1, Payload: []byte("answer"),
		Properties: &paho.PublishProperties{CorrelationData: req.CorrelationData}})
	got := requester.col.waitFor(t, "rr/resp/client-1", "answer")
	checkMetadata(t, "response", last(t, got).props, &paho.PublishProperties{CorrelationData: want.CorrelationData})

	// Retained: stored with its properties.
	requester.pub2(t, &paho.Publish{Topic: "rr/retained", QoS: 1, Retain: true, Payload: []byte("r"), Properties: requestProps()})
	late := connectV5(t, tb, v5Connect("rr-late", nil))
	late.sub(t, "rr/retained", 1)
	checkMetadata(t, "retained", last(t, late.col.waitFor(t, "rr/retained", "r")).props, want)

	// Queued for an offline session.
	responder.bye(t, &paho.Disconnect{})
	waitOffline(t, tb, 1)
	requester.pub2(t, &paho.Publish{Topic: "rr/req/queued", QoS: 1, Payload: []byte("queued"), Properties: requestProps()})
	responder = resumeV5(t, tb, "rr-responder", 60)
	checkMetadata(t, "queued", last(t, responder.col.waitFor(t, "rr/req/queued", "queued")).props, want)

	// A message without properties gets none added.
	requester.pub2(t, &paho.Publish{Topic: "rr/req/bare", QoS: 1, Payload: []byte("bare")})
	checkMetadata(t, "no properties", last(t, responder.col.waitFor(t, "rr/req/bare", "bare")).props, &paho.PublishProperties{})
}

// TestV5PayloadFormatInvalid checks §3.3.2.3.2 [MQTT-3.3.2-4]: a PUBLISH
// whose Payload Format Indicator says UTF-8 but whose payload is not is
// refused with PUBACK (QoS 1) or PUBREC (QoS 2) 0x99 and delivered to no
// one; a valid UTF-8 payload with the indicator passes. A will whose
// payload is declared UTF-8 but is not is refused with CONNACK 0x99.
func TestV5PayloadFormatInvalid(t *testing.T) {
	tb := startBroker(t, Options{})
	sub := connectV5(t, tb, v5Connect("pf-sub", nil))
	sub.sub(t, "pf/#", 2)
	pub := connectV5(t, tb, v5Connect("pf-pub", nil))

	bad := []byte{'o', 'k', 0xff, 0xfe}
	for _, q := range []byte{1, 2} {
		pr := pub.publish(t, &paho.Publish{Topic: "pf/t", QoS: q, Payload: bad, Properties: &paho.PublishProperties{PayloadFormat: bytep(1)}})
		if pr.ReasonCode != 0x99 {
			t.Errorf("QoS %d PUBLISH with Payload Format 1 and invalid UTF-8: reason code %#x, want 0x99", q, pr.ReasonCode)
		}
	}
	// Not UTF-8 but not declared as such: fine.
	pub.pub2(t, &paho.Publish{Topic: "pf/t", QoS: 1, Payload: bad, Properties: &paho.PublishProperties{PayloadFormat: bytep(0)}})
	pub.pub2(t, &paho.Publish{Topic: "pf/t", QoS: 1, Payload: []byte("grüße"), Properties: &paho.PublishProperties{PayloadFormat: bytep(1)}})
	got := sub.col.waitFor(t, "pf/t", "grüße")
	if len(got) != 2 || got[0].payload != string(bad) {
		t.Errorf("subscriber got %v, want only the undeclared binary payload and the valid UTF-8 one", got)
	}

	r := dialRaw(t, tb)
	r.send(connectV5Bytes("pf-will", nil, &rawWillV5{topic: "pf/will", payload: string(bad), props: []byte{0x01, 1}}))
	ca := r.expect(tCONNACK, 0).v5(t).Content.(*packets.Connack)
	if ca.ReasonCode != 0x99 {
		t.Errorf("CONNECT with a will declared UTF-8 but not: CONNACK reason %#x, want 0x99", ca.ReasonCode)
	}
	r.expectClosed()
}
