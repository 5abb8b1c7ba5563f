// Package mqtt is gatemq's broker core: sessions, routing, retained messages,
// wills and $SYS, on top of the packet codec (mqtt/packet), the topic tree
// (mqtt/topic) and the per-session QoS state machines (gatemq/qos).
//
// The broker knows nothing about listeners: main hands it each accepted
// connection through [Server.ServeConn]. Each connection has one reader
// goroutine (the caller of ServeConn) and, only while it has something to
// send, one writer goroutine owned by the connection.
//
// A message travels like this: the reader decodes a PUBLISH into a view over
// its read buffer, copies it once into an immutable [Message], matches the
// topic tree into a reused slice, and hands the same *Message to every
// matching session. QoS 1 and 2 deliveries go through the session's
// qos.Outbound (packet ids, inflight window, queue); QoS 0 deliveries go to the
// connection's bounded QoS 0 queue. The writer encodes straight from the
// shared message into a pooled buffer and writes when its queues drain.
//
// With a Store, nothing that promises durability leaves before the records
// that justify it are committed (the write-ahead rule of DESIGN.md):
//
//   - the reader adds an inbound packet's records (the message once, its
//     routes to persistent sessions, a QoS 2 packet id) to its connection's
//     open batch, with what to do afterwards (deliver, acknowledge), and
//     reads on; the connection's committer commits all of it at once and
//     then acts in order (pipeline.go) — so a pipelining publisher shares
//     one fsync among its messages, and other connections' commits share it
//     too (flashstore's group commit);
//   - the writer records the packet id (stage "sent") of every QoS 1/2
//     PUBLISH it is about to send, in one commit per pass, before writing;
//   - PUBREC from a subscriber records stage "released" before PUBREL;
//     PUBREL from a publisher removes its packet id before PUBCOMP;
//   - removals after PUBACK/PUBCOMP promise nothing and ride along with
//     the next commit.
//
// After a crash, Recover rebuilds sessions, subscriptions, retained
// messages, inbound packet ids and every delivery in its stage, so QoS 2 is
// delivered exactly once across power loss.
package mqtt
