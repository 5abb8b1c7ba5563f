package mqtt

import (
	"log/slog"
	"time"

	"gatemq/mqtt/auth"
)

// Options are the broker's limits and collaborators. The zero value of each
// field means the documented default (see [Options.withDefaults]).
type Options struct {
	// MaxInflight is how many QoS 1/2 messages may await acknowledgement per
	// session (Mosquitto's max_inflight_messages). Default 100 (Mosquitto's
	// is 20): with acknowledgements that wait for the flash, a QoS 2 message
	// holds its slot through two syncs, and a wider window lets one sync
	// cover many messages (fewer syncs, less wear, more throughput). 0 in the
	// config file means 65535 and is translated by main.
	MaxInflight int
	// MaxQueued is how many QoS 1/2 messages may wait beyond the inflight
	// window per session (max_queued_messages). 0 means no limit.
	MaxQueued int
	// MaxQueuedBytes bounds the QoS 0 bytes waiting for a connected client;
	// QoS 0 messages beyond it are dropped and counted. Default 1 MiB.
	MaxQueuedBytes int
	// MaxPacketSize is the largest packet accepted from a client (bytes,
	// whole packet). Default 268435460 (MQTT's own maximum); main sets it
	// from the board's memory when the config does not.
	MaxPacketSize int
	// MaxConnectSize is the largest packet accepted before a connection's
	// CONNECT is accepted (bytes, whole packet; MaxPacketSize when that is
	// smaller): a larger CONNECT is refused after its fixed header (5.0:
	// CONNACK 0x95), so a peer that has not authenticated cannot make the
	// broker read or hold more. Default 64 KiB, room for any usual CONNECT
	// (a will payload included).
	MaxConnectSize int
	// MessageSizeLimit is the largest PUBLISH payload accepted; a larger one
	// is dropped (acknowledged, like Mosquitto). 0 means no limit.
	MessageSizeLimit int
	// MaxKeepalive is the largest keep alive a client may ask for; a 3.1.1
	// client asking more is refused (identifier rejected, as Mosquitto does).
	MaxKeepalive int
	// ConnectTimeout closes a socket that has not sent CONNECT in this time.
	// Default 10 s.
	ConnectTimeout time.Duration
	// QueueWait is how long a publisher waits for room in a connected
	// subscriber's full queue before that delivery is dropped and counted.
	// Default 5 s. Waiting, not dropping, is what keeps QoS 1/2 lossless
	// when a subscriber is slower than its publishers.
	QueueWait time.Duration
	// WriteTimeout closes a connection whose socket accepts no bytes for this
	// long. Default 60 s.
	WriteTimeout time.Duration
	// SysInterval is how often $SYS topics are published; 0 disables them.
	SysInterval time.Duration
	// Version is reported on $SYS/broker/version.
	Version string
	// PersistentExpiry ends an offline 3.1.1 CleanSession 0 session after
	// this long (Mosquitto's persistent_client_expiration); 0 means never.
	PersistentExpiry time.Duration
	// MaxSubscriptions is how many subscriptions one session may hold; more
	// are refused in SUBACK (0x80; 5.0: 0x97). Default 1000.
	MaxSubscriptions int
	// MaxTopicLength and MaxTopicLevels bound topic names and filters
	// (defaults 4096 bytes, 64 levels): a longer PUBLISH topic closes the
	// connection (5.0: DISCONNECT 0x90), a longer filter is refused in
	// SUBACK.
	MaxTopicLength, MaxTopicLevels int
	// ConnectionsRefused, when set, reports the connections the listeners
	// refused because of their caps, for $SYS.
	ConnectionsRefused func() uint64
	// MaxQueuedTotal bounds the QoS 1/2 deliveries held for offline
	// sessions broker-wide (queued and in flight, all sessions): past it,
	// new messages for offline sessions are dropped and counted, as at
	// max_queued_messages. It is checked every QueuedTotalCheck, so it may be
	// passed by what arrives in between. 0 means no limit.
	MaxQueuedTotal int
	// Auth decides who may connect and what they may do (nil: everyone,
	// everything). Change it later with SetAuth.
	Auth *auth.Policy
	// Store keeps the broker's state across restarts; nil keeps it in
	// memory only.
	Store Store
	// Logger receives the broker's structured logs. Default slog.Default().
	Logger *slog.Logger
}

// Default values of Options.
const (
	DefaultMaxInflight    = 100
	DefaultMaxQueuedBytes = 1 << 20
	DefaultMaxPacketSize  = 268435455 + 5
	DefaultMaxConnectSize = 64 << 10
	DefaultMaxKeepalive   = 65535
	DefaultConnectTimeout = 10 * time.Second
	DefaultQueueWait      = 5 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
)

// persistentExpiry is the session expiry of a 3.1.1 CleanSession 0 session.
func (o *Options) persistentExpiry() uint32 {
	if o.PersistentExpiry <= 0 {
		return expireNever
	}
	return uint32(min(o.PersistentExpiry/time.Second, time.Duration(expireNever-1)))
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.MaxInflight <= 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	if o.MaxQueued < 0 {
		o.MaxQueued = 0
	}
	if o.MaxQueuedBytes <= 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if o.MaxPacketSize <= 0 {
		o.MaxPacketSize = DefaultMaxPacketSize
	}
	if o.MaxConnectSize <= 0 {
		o.MaxConnectSize = DefaultMaxConnectSize
	}
	o.MaxConnectSize = min(o.MaxConnectSize, o.MaxPacketSize)
	if o.MaxKeepalive <= 0 {
		o.MaxKeepalive = DefaultMaxKeepalive
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.QueueWait <= 0 {
		o.QueueWait = DefaultQueueWait
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if o.MaxTopicLength <= 0 {
		o.MaxTopicLength = DefaultMaxTopicLength
	}
	if o.MaxTopicLevels <= 0 {
		o.MaxTopicLevels = DefaultMaxTopicLevels
	}
	if o.Version == "" {
		o.Version = "gatemq"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
