package mqtt

import (
	"context"
	"net"
	"time"
)

// BridgeConfig is one bridge: a `connection NAME` block of mosquitto.conf,
// a link from this broker to an upstream broker over which the matching
// topics are forwarded out, in or both ways. The zero value is not usable;
// the config parser fills in Mosquitto's defaults.
type BridgeConfig struct {
	// Name is the connection's name (`connection NAME`); it names the
	// bridge in log lines, and the config parser derives the default
	// client ids from it (RemoteClientID HOSTNAME.NAME, LocalClientID
	// local.HOSTNAME.NAME, as Mosquitto does).
	Name string
	// Addresses are the upstream's host:port, tried in order (failover);
	// RoundRobin says Mosquitto's round_robin: on a lost connection try
	// the next address rather than going back to the first.
	Addresses  []string
	RoundRobin bool
	// Topics are the bridge's `topic` lines.
	Topics []BridgeTopic
	// ProtocolVersion is 4 (mqttv311) or 5 (mqttv50).
	ProtocolVersion byte
	// CleanSession is the upstream session's clean flag (cleansession);
	// LocalCleanSession the local one's (local_cleansession).
	CleanSession, LocalCleanSession bool
	// RemoteClientID, RemoteUsername, RemotePassword are sent in CONNECT
	// to the upstream; LocalClientID names the bridge's local session.
	RemoteClientID, RemoteUsername, RemotePassword string
	HasRemotePassword                              bool
	LocalClientID                                  string
	// KeepAlive is keepalive_interval.
	KeepAlive time.Duration
	// RestartBase and RestartCap are restart_timeout: with RestartCap 0 a
	// constant wait between attempts, otherwise a backoff from RestartBase
	// up to RestartCap.
	RestartBase, RestartCap time.Duration
	// StartType is "automatic", "lazy" or "once"; Threshold and
	// IdleTimeout serve lazy bridges.
	StartType   string
	Threshold   int
	IdleTimeout time.Duration
	// Notifications publishes the connection state (retained 1/0) to
	// NotificationTopic, which the config parser always fills in (as
	// Mosquitto: $SYS/broker/connection/REMOTE_CLIENTID/state unless
	// notification_topic says otherwise); NotificationsLocalOnly keeps it
	// off the upstream.
	Notifications          bool
	NotificationTopic      string
	NotificationsLocalOnly bool
	// TryPrivate marks the CONNECT as a bridge's (3.1.1: protocol level
	// 0x84) so a Mosquitto upstream does not send our messages back.
	TryPrivate bool
	// AttemptUnsubscribe sends UNSUBSCRIBE for `in` topics at start, as
	// Mosquitto does (bridge_attempt_unsubscribe).
	AttemptUnsubscribe bool
	// OutgoingRetain keeps the RETAIN flag of forwarded messages
	// (bridge_outgoing_retain).
	OutgoingRetain bool
	// MaxPacketSize is the largest packet accepted from the upstream
	// (bridge_max_packet_size; 0 = no limit of our own).
	MaxPacketSize uint32
	// MaxInflight is the window of QoS 1/2 messages in flight toward the
	// upstream when it does not announce a Receive Maximum (3.1.1);
	// default 20, what a default Mosquitto accepts.
	MaxInflight int
	// Dial opens a connection to one address (TCP, or TLS with the
	// bridge_* certificates and ALPN); main builds it. The connection it
	// returns is ready for MQTT bytes.
	Dial func(ctx context.Context, address string) (net.Conn, error)
}

// BridgeDirection says which way a bridge topic's messages travel.
type BridgeDirection uint8

// The directions of a `topic` line.
const (
	BridgeOut  BridgeDirection = 1 << iota // local → upstream
	BridgeIn                               // upstream → local
	BridgeBoth = BridgeOut | BridgeIn
)

// BridgeTopic is one `topic PATTERN [out|in|both] [QOS] [LOCAL REMOTE]`
// line. A message matching LocalPrefix+Pattern locally is sent upstream
// as RemotePrefix+Pattern, and the other way round.
type BridgeTopic struct {
	_            [0]func() // not comparable: no generated == function (flash size)
	Pattern      string
	Direction    BridgeDirection
	QoS          byte
	LocalPrefix  string
	RemotePrefix string
}
