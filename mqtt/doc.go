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
package mqtt
