package mqtt

import (
	"time"

	"gatemq/internal/textlog"
	"gatemq/mqtt/auth"
)

// Options are the broker's limits and collaborators. The zero value of each
// field means the documented default (see [Options.withDefaults]).
type Options struct {
	_ [0]func() // not comparable: no generated == function (flash size)
	// MaxInflight is how many QoS 1/2 messages may await acknowledgement per
	// session (Mosquitto's max_inflight_messages). Default 1000 (Mosquitto's
	// is 20, mochi's 1024): with acknowledgements that wait for the flash, a
	// QoS 2 message holds its slot through two syncs, and a wider window
	// lets one sync cover many messages (fewer syncs, less wear, less CPU,
	// more throughput). A persistent session's in-flight deliveries keep no
	// body in RAM (the writer chills them as they leave), so the window
	// costs RAM per message only in its index. 0 in the config file means
	// 65535 and is translated by main.
	//
	// As in Mosquitto it bounds the other direction too: it is the Receive
	// Maximum the broker announces to 5.0 clients in CONNACK, and a client
	// that leaves more QoS 1/2 PUBLISHes unacknowledged is disconnected
	// with 0x93 (counted in $SYS/broker/limits/receive_maximum/exceeded).
	MaxInflight int
	// MaxQueued is how many QoS 1/2 messages may wait beyond the inflight
	// window per session (max_queued_messages). 0 means no limit.
	MaxQueued int
	// MaxQueuedBytes bounds the QoS 0 bytes waiting for a connected client;
	// QoS 0 messages beyond it are dropped and counted. Default 1 MiB.
	MaxQueuedBytes int
	// MaxSessionQueuedBytes is Mosquitto's max_queued_bytes: the most
	// topic and payload bytes of QoS 1/2 messages that may wait beyond a
	// session's in-flight window. Past it (or MaxQueued) new messages for
	// the session are handled as for a full queue: a connected
	// subscriber's publishers wait up to QueueWait, then the delivery is
	// dropped and counted; an offline session's are dropped at once. 0
	// means no limit.
	MaxSessionQueuedBytes int64
	// BodyCacheBytes is how many bytes of message bodies read back from
	// the store are kept for other sessions that send the same messages.
	// Default 256 KiB.
	BodyCacheBytes int
	// HotQueue is how many queued deliveries a connected persistent
	// session keeps with their bodies in RAM; beyond it, and for every
	// queued delivery of an offline session, only a 24-byte reference
	// stays in RAM and the body is read back from the store when it is
	// sent. Default 256.
	HotQueue int
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
	// max_queued_messages. The count is exact at every message (kept as
	// deliveries come and go, not by walking the sessions). 0 means no
	// limit.
	MaxQueuedTotal int
	// ConnectionMessages logs a line, worded as Mosquitto's, when a
	// connection opens, when a client connects ("New client connected from
	// ADDR as ID (p2, c1, k60, u'USER').") and when it ends ("Client ID
	// disconnected." or why), at level logdest.LevelNotice; subscriptions
	// and unsubscriptions are logged at Info with logdest.TypeKey
	// whatever it says (Mosquitto's connection_messages, log_type
	// subscribe/unsubscribe).
	ConnectionMessages bool
	// RefuseEmptyClientID refuses clients that connect with an empty
	// client id (allow_zero_length_clientid false): 3.1.1 CONNACK 0x02,
	// 5.0 0x85. By default the broker gives them one.
	RefuseEmptyClientID bool
	// AutoIDPrefix starts the client ids the broker gives (auto_id_prefix).
	// Default "auto-".
	AutoIDPrefix string
	// ClientIDPrefix, when set, refuses clients whose id does not start
	// with it, as not authorised (clientid_prefixes).
	ClientIDPrefix string
	// RetainUnavailable turns retained messages off (retain_available
	// false): 5.0 clients are told in CONNACK, and a client that publishes
	// a retained message is disconnected (5.0: DISCONNECT 0x9A).
	RetainUnavailable bool
	// SkipRetainSource sends retained messages to new subscribers without
	// checking that their publisher may still publish to the topic
	// (check_retain_source false). By default the check is made against
	// the access control in force, for messages retained since the start;
	// those recovered from the store have no recorded publisher rights
	// and are sent.
	SkipRetainSource bool
	// QueueQoS0 keeps QoS 0 messages for offline persistent sessions,
	// within max_queued_messages/bytes, in RAM only (Mosquitto's
	// queue_qos0_messages true).
	QueueQoS0 bool
	// UpgradeOutgoingQoS delivers every message at the QoS of the
	// subscription it matched, even above the QoS it was published with
	// (upgrade_outgoing_qos; not standard MQTT).
	UpgradeOutgoingQoS bool
	// Auth decides who may connect and what they may do (nil: everyone,
	// everything). Change it later with SetAuth.
	Auth *auth.Policy
	// Bridges are the links to upstream brokers (mosquitto.conf's
	// `connection` blocks), started by Serve... see bridge.go.
	Bridges []BridgeConfig
	// Store keeps the broker's state across restarts; nil keeps it in
	// memory only.
	Store Store
	// Logger receives the broker's structured logs. Default
	// textlog.Default() (as slog.Default: package log's output).
	Logger *textlog.Logger
}

// Default values of Options.
const (
	DefaultMaxInflight    = 1000
	DefaultMaxQueuedBytes = 1 << 20
	DefaultMaxPacketSize  = 268435455 + 5
	DefaultMaxConnectSize = 64 << 10
	DefaultMaxKeepalive   = 65535
	DefaultConnectTimeout = 10 * time.Second
	DefaultQueueWait      = 5 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
	DefaultBodyCacheBytes = 256 << 10
	DefaultHotQueue       = 256
)

// persistentExpiry is the session expiry of a 3.1.1 CleanSession 0 session.
func (o *Options) persistentExpiry() uint32 {
	if o.PersistentExpiry <= 0 {
		return expireNever
	}
	return uint32(min(o.PersistentExpiry/time.Second, time.Duration(expireNever-1)))
}

// receiveMaximum is the Receive Maximum announced to 5.0 clients: how
// many QoS 1/2 PUBLISHes each may leave unacknowledged (MaxInflight, at
// most 65535).
func (o *Options) receiveMaximum() int { return min(o.MaxInflight, 65535) }

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
	if o.MaxSessionQueuedBytes < 0 {
		o.MaxSessionQueuedBytes = 0
	}
	if o.BodyCacheBytes <= 0 {
		o.BodyCacheBytes = DefaultBodyCacheBytes
	}
	if o.HotQueue <= 0 {
		o.HotQueue = DefaultHotQueue
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
	if o.AutoIDPrefix == "" {
		o.AutoIDPrefix = "auto-"
	}
	if o.Version == "" {
		o.Version = "gatemq"
	}
	if o.Logger == nil {
		o.Logger = textlog.Default()
	}
	return o
}

// ListenerOptions are what one listener changes for its clients
// (ServeListener). The zero value changes nothing.
type ListenerOptions struct {
	// Name names the listener in logs, and picks its access-control
	// policy when it has one (Server.SetListenerAuth).
	Name string
	// LimitQoS caps the QoS at MaxQoS (max_qos): 5.0 clients are told in
	// CONNACK, a PUBLISH above it closes the connection (5.0: DISCONNECT
	// 0x9B) and subscriptions are granted at most MaxQoS.
	LimitQoS bool
	MaxQoS   byte
	// TopicAliasMax is how many topic aliases a 5.0 client may set up
	// (max_topic_alias): 0 means the default (DefaultTopicAliasMax),
	// negative means none.
	TopicAliasMax int
	// UsernameAsClientID makes the client's username its client id
	// (use_username_as_clientid); a client without one is refused as not
	// authorised.
	UsernameAsClientID bool
	// MountPoint (mount_point) isolates the listener's clients in a
	// subtree: it is put before every topic they publish (wills too) and
	// every filter they subscribe to, and taken off the topics of the
	// messages they receive, so they see only topics under it. Access
	// control sees the whole topic. "" for none.
	MountPoint string
	// OwnClientIDs makes RefuseEmptyClientID and AutoIDPrefix below
	// replace the broker's (Options) for this listener's clients
	// (per_listener_settings true); AutoIDPrefix "" is then "auto-".
	OwnClientIDs        bool
	RefuseEmptyClientID bool
	AutoIDPrefix        string
	// CertName, when not nil, is the verified client certificate's Common
	// Name, which replaces the username (use_identity_as_username); no
	// password is checked, and an empty name is refused.
	CertName *string
}

// listenerOptions returns a read-only copy of lo for a connection. The
// connections of one listener share one (the first maxSharedListenerOptions
// distinct settings are kept), unless lo names the connection's own
// certificate.
func (s *Server) listenerOptions(lo *ListenerOptions) *ListenerOptions {
	if lo.CertName != nil {
		own := *lo
		return &own
	}
	s.loMu.Lock()
	defer s.loMu.Unlock()
	if shared, ok := s.loShared[*lo]; ok {
		return shared
	}
	shared := new(ListenerOptions)
	*shared = *lo
	if len(s.loShared) < maxSharedListenerOptions {
		if s.loShared == nil {
			s.loShared = make(map[ListenerOptions]*ListenerOptions)
		}
		s.loShared[*lo] = shared
	}
	return shared
}

// maxSharedListenerOptions bounds the listener settings a Server keeps for
// sharing: a broker has a few listeners.
const maxSharedListenerOptions = 64

// DefaultTopicAliasMax is how many topic aliases a 5.0 client may set up
// towards the broker on one connection, unless its listener says.
const DefaultTopicAliasMax = 32

// topicAliasMax is the Topic Alias Maximum of lo's clients (0: none).
func (lo *ListenerOptions) topicAliasMax() int {
	switch {
	case lo.TopicAliasMax < 0:
		return 0
	case lo.TopicAliasMax == 0:
		return DefaultTopicAliasMax
	}
	return min(lo.TopicAliasMax, 65535)
}

// maxQoS is the highest QoS lo's clients may use.
func (lo *ListenerOptions) maxQoS() byte {
	if lo.LimitQoS {
		return min(lo.MaxQoS, 2)
	}
	return 2
}
