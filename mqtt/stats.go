package mqtt

import "sync/atomic"

// Stats are the broker's counters, read by $SYS and by tests. All fields are
// updated atomically; read them with [Server.Stats].
type Stats struct {
	ClientsConnected    int64
	ClientsTotal        int64 // sessions known, connected or not
	ClientsMaximum      int64
	ClientsDisconnected int64 // persistent sessions without a connection
	MessagesReceived    uint64
	MessagesSent        uint64
	PublishReceived     uint64
	PublishSent         uint64
	PublishDropped      uint64 // deliveries dropped (queue full, QoS 0 overflow, too large)
	BytesReceived       uint64
	BytesSent           uint64
	Subscriptions       int64
	// Limits against abuse: what each refused or ended.
	SubscriptionsRefused uint64 // over max_subscriptions or the topic limits
	TopicsRefused        uint64 // PUBLISH topics over the topic limits
	AuthFailures         uint64 // CONNECTs refused for bad credentials
	AuthBackoffRefused   uint64 // CONNECTs refused while their address backs off
	SlowConsumersDropped uint64 // connections closed because they did not read
	ConnectTimeouts      uint64 // sockets closed for sending no CONNECT in time
	ConnectsTooLarge     uint64 // CONNECTs refused for being over MaxConnectSize
	AuthRevoked          uint64 // clients disconnected because a reload no longer admits them
	DeliveriesDenied     uint64 // deliveries dropped because the receiver may not read the topic (checked when sent)
	ReceiveMaxExceeded   uint64 // connections closed for more unacknowledged QoS 1/2 PUBLISHes than Receive Maximum
	// BodiesUnreadable counts queued deliveries dropped because their
	// message could not be read back from the store (corrupt or missing).
	BodiesUnreadable uint64
	// QueuedBytes is the topic and payload bytes of the QoS 1/2 messages
	// queued beyond the sessions' in-flight windows (max_queued_bytes
	// counts them per session).
	QueuedBytes int64
	// CachedBodies and CachedBytes are what the body cache holds.
	CachedBodies, CachedBytes int
	Retained                  int64
	Inflight                  int64
	Queued                    int64
}

// counters is the live, atomically updated form of Stats.
type counters struct {
	// The clients connected now and at most: 32 bits, as they are counts
	// of open sockets, and on a 32-bit router (mipsle, armv5) a 64-bit
	// atomic takes a lock.
	clientsConnected atomic.Int32
	clientsMaximum   atomic.Int32
	messagesReceived atomic.Uint64
	messagesSent     atomic.Uint64
	publishReceived  atomic.Uint64
	publishSent      atomic.Uint64
	publishDropped   atomic.Uint64
	bytesReceived    atomic.Uint64
	bytesSent        atomic.Uint64
	subsRefused      atomic.Uint64
	topicsRefused    atomic.Uint64
	authFailures     atomic.Uint64
	authBackoff      atomic.Uint64
	slowConsumers    atomic.Uint64
	connectTimeouts  atomic.Uint64
	connectsTooLarge atomic.Uint64
	authRevoked      atomic.Uint64
	deliveriesDenied atomic.Uint64
	receiveMaxExceed atomic.Uint64
	bodiesUnreadable atomic.Uint64
	sockets          atomic.Uint64 // connections accepted ($SYS/broker/load/sockets)
	connects         atomic.Uint64 // CONNECTs accepted ($SYS/broker/load/connections)
}

// connected counts one more connected client and keeps the maximum.
func (c *counters) connected() {
	n := c.clientsConnected.Add(1)
	for {
		max := c.clientsMaximum.Load()
		if n <= max || c.clientsMaximum.CompareAndSwap(max, n) {
			return
		}
	}
}
