// Package mqtt is gatemq's broker core: sessions, routing, retained messages,
// wills and $SYS, on top of the packet codec (mqtt/packet), the topic tree
// (mqtt/topic) and the per-session QoS state machines (gatemq/qos).
//
// The broker knows nothing about listeners: main hands it each accepted
// connection through [Server.ServeConn], or [Server.ServeListener] with
// what the listener changes (Mosquitto's max_qos, mount_point, ...), or
// [Server.ServeDetached], which may return while the connection is idle.
// Each connection has one reader goroutine (the caller of ServeConn) and,
// only while it has something to send, one writer owned by the
// connection. The writer is a goroutine of its own, except at everyday
// rates on a plain TCP socket: then whoever queued the output (the reader
// of the packet that caused it) writes it at once, without waiting, and
// hands over to a goroutine only what the socket does not take (writer.go,
// rawsock_linux.go). A connection served by ServeDetached that sends
// nothing for a quarter of a second (longer once it has shown that it
// sends every few seconds, up to 4 s) parks: its reader ends, and the
// server's idle poller starts a new one when the socket has something to
// read, so an idle connection holds no goroutine and no buffer (idle.go;
// about 1.5 KiB per idle plain socket connection on a 64-bit board, 0.9
// KiB on a 32-bit one; a TLS connection keeps its TLS state besides).
//
// A message travels like this: the reader decodes a PUBLISH into a view over
// its read buffer, copies it once into an immutable [Message] (the body of a
// packet over 4 KiB is not copied but becomes the message), matches the
// topic tree into a reused slice, and hands the same *Message to every
// matching session. QoS 1 and 2 deliveries go through the session's
// qos.Outbound (packet ids, inflight window, queue); QoS 0 deliveries go to the
// connection's bounded QoS 0 queue. The writer encodes headers straight
// from the shared message into a pooled buffer and writes when its queues
// drain; a large payload is not copied but written from the message itself
// (one writev per pass), so a message costs its size once, whatever the
// number of subscribers.
//
// With a Store, nothing that promises durability leaves before the records
// that justify it are committed (the write-ahead rule of DESIGN.md):
//
//   - the reader adds an inbound packet's records (the message once, its
//     routes to persistent sessions, a QoS 2 packet id) to its connection's
//     open batch, with what to do afterwards (deliver, acknowledge), and
//     reads on; the connection's committer commits all of it at once and
//     then acts in order (pipeline.go; the records themselves are written
//     by store.go) — so a pipelining publisher shares
//     one fsync among its messages, and other connections' commits share it
//     too (flashstore's group commit);
//   - the writer records the packet id (stage "sent") of every QoS 2
//     PUBLISH it is about to send, in one commit per pass, before writing
//     (a QoS 1 PUBLISH needs none: after a crash its route is still
//     "queued" and it is sent again, as at least once allows);
//   - PUBREC from a subscriber records stage "released" before PUBREL;
//     PUBREL from a publisher removes its packet id before PUBCOMP;
//   - removals after PUBACK/PUBCOMP promise nothing and ride along with
//     the next commit.
//
// After a crash, Recover rebuilds sessions, subscriptions, retained
// messages, inbound packet ids and every delivery in its stage (QoS 1 in
// flight comes back queued), so QoS 2 is delivered exactly once across
// power loss.
//
// # Files
//
// A QoS 2 PUBLISH with a store goes through these files in turn:
// inbound.go (checks, the qos.Inbound duplicate test, the Message),
// route.go (the match), pipeline.go (queued with its acknowledgement),
// store.go (Server.record writes all of its records: the message, its
// routes, the inbound packet id, the retained entry), pipeline.go again
// (commit, then the actions in order), route.go again (fan-out, deliver).
// Its later PUBREC/PUBREL/PUBCOMP go through acks.go, whose records are
// written by Server.addRec in store.go.
//
//   - server.go, options.go, stats.go, sys.go: the Server, its options and
//     defaults, its counters and $SYS (with Mosquitto's load averages).
//
// Log lines about clients use Mosquitto's words and, for its log types
// that are not levels, mqtt/logdest's TypeKey attribute; mqtt/logdest
// sends them where log_dest says.
//   - client.go: one connection: its reader loop and packet dispatch.
//   - reading.go: the reader's pooled state (buffers, decoded packet) and
//     its read deadlines; idle.go, idle_linux.go: parking idle connections
//     and the idle poller; watch.go: closing connections when their ctx
//     ends.
//   - connect.go: CONNECT in steps (negotiate, authenticate, takeWill,
//     attachSession), CONNACK, session takeover.
//   - auth.go: access control: Auth, identities, ACL checks.
//   - inbound.go: an inbound PUBLISH: checks, topic alias, QoS 2 Method B,
//     routeInbound (the view becomes a Message and enters the pipeline).
//   - acks.go: PUBACK, PUBREC, PUBREL and PUBCOMP from the client.
//   - route.go: routing: match (retained swap, No Local, subscription
//     identifiers, read ACL), fanout, deliver, dropQueued, the broker's own
//     Publish.
//   - shared.go: shared subscriptions: which member of a group gets a
//     message, and redelivery when a member's session ends.
//   - pipeline.go: a connection's store pipeline: open batch, committer,
//     actions in order.
//   - store.go: the Store interface, txn batches and the helpers through
//     which every record is written; record and addRec write all the
//     records of a message's way.
//   - writer.go: a connection's writer: queues, encoding, stage "sent".
//   - outbuf.go: what a writer pass sends: its buffer with the large
//     payloads of shared messages in their places, one writev.
//   - subscribe.go: SUBSCRIBE, UNSUBSCRIBE, retained messages on
//     subscribe.
//   - lifecycle.go: the end of a connection or session: detach, wills,
//     expiry, endSession.
//   - recover.go: Recover: decodeStore, then the rebuild steps.
//   - import.go: RecoverWithMosquitto: Mosquitto's saved state (read by
//     mqtt/mosqdb) written as the broker's records, then Recover.
//   - session.go, message.go, props.go, stage.go: sessions, messages, 5.0
//     message properties, delivery stages.
//   - limits.go, local.go: limits against abuse; in-process subscriptions.
package mqtt
