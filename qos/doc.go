// Package qos holds the QoS 1 and QoS 2 state of one MQTT session, in both
// directions, as plain state machines.
//
// [Outbound] is the sender side (broker -> client): a FIFO queue of messages
// waiting for room, the in-flight window with its packet identifiers, the
// acknowledgement transitions (PUBACK, PUBREC, PUBCOMP) and the list of
// packets to resend when a client resumes its session. [Inbound] is the
// receiver side (client -> broker) for QoS 2, using Method B of MQTT 3.1.1
// §4.3.3: it remembers the packet identifiers whose PUBLISH was accepted and
// answered with PUBREC until the matching PUBREL arrives, so that a
// retransmitted PUBLISH is answered again but never delivered twice.
//
// Outbound and inbound packet identifiers are separate spaces
// (MQTT 5.0 §2.2.1: "separately for the Client and the Server in a Session"),
// so a session holds one Outbound and one Inbound and never mixes their ids.
//
// The package is pure: it does no I/O, starts no goroutine, reads no clock and
// imports nothing of gatemq. Its types are not safe for concurrent use; the
// caller serialises access (for example under its session lock). Every method
// reports what the caller must send; none sends anything itself.
//
// # Usage
//
//	out := qos.NewOutbound[*Message](receiveMax, maxQueued)
//	if !out.Enqueue(msg, 2) {
//		// queue full: drop according to policy
//	}
//	for {
//		d, ok := out.Next()
//		if !ok {
//			break // window full or queue empty
//		}
//		writePublish(d.ID, d.Msg, d.QoS, d.Dup) // d.Stage == qos.Sent
//	}
//	// on PUBREC id from the client:
//	if _, ok := out.Pubrec(id); ok {
//		writePubrel(id)
//	}
//	// on PUBCOMP id: out.Pubcomp(id), then call Next again to fill the window.
//
//	// on reconnect with a session present [MQTT-4.4.0-1]:
//	for _, d := range out.Resume() {
//		if d.Stage == qos.Released {
//			writePubrel(d.ID)
//		} else {
//			writePublish(d.ID, d.Msg, d.QoS, d.Dup) // Dup == true
//		}
//	}
//
//	in := qos.NewInbound(serverReceiveMax)
//	// on PUBLISH QoS 2 id (after the checks that could make forwarding fail):
//	isNew, full := in.Publish(id)
//	switch {
//	case full:
//		// 5.0: DISCONNECT 0x93 Receive Maximum exceeded
//	case isNew:
//		// make the onward copies durable, deliver, then PUBREC
//	default:
//		// retransmission: PUBREC again, no onward delivery [MQTT-4.3.3-10]
//	}
//	// on PUBREL id: in.Release(id); answer PUBCOMP (5.0: reason 0x92 if it returned false).
//
// # Ordering
//
// Outbound keeps its in-flight messages in the order they were first sent.
// [Outbound.Resume] and [Outbound.Drain] report them in that order, which is
// the order MQTT requires for resent PUBLISH packets [MQTT-4.6.0-1]. A client
// that follows [MQTT-4.6.0-2..3] acknowledges in the same order, so the PUBREL
// packets of Resume then also follow the order of their PUBRECs [MQTT-4.6.0-4].
//
// # Memory
//
// An idle Outbound or Inbound holds no slices or maps. Buffers grow with use
// and are released once they empty after a burst, so a session that once held
// thousands of messages does not keep that memory while idle. A queue costs
// the size of M plus one byte per message: up to 1024 messages in one
// buffer, a longer queue in blocks of 1024 that are never copied to grow, so
// an offline session's backlog of hundreds of thousands costs little more
// than its messages' handles. The steady-state cycles (Enqueue, Next,
// Puback; Enqueue, Next, Pubrec, Pubcomp; Publish, Release) do not allocate.
package qos
