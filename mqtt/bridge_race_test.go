package mqtt

import (
	"fmt"
	"testing"
	"time"
)

// Two in-process brokers on real listeners, the edge bridging to the
// upstream, driven by Paho on both sides: the bridge's goroutines (the
// connection loop, the keep alive, the writer and the reader) under the
// race detector, through a reconnect and a shutdown.
func TestBridgeInProcess(t *testing.T) {
	for _, v := range []byte{4, 5} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			up := startBroker(t, Options{})
			edge := startBroker(t, Options{SysInterval: time.Second, Bridges: []BridgeConfig{{
				Name: "up", Addresses: []string{up.addr}, ProtocolVersion: v,
				Topics: []BridgeTopic{
					{Pattern: "sensors/#", Direction: BridgeOut, QoS: 2, LocalPrefix: "local/", RemotePrefix: "site1/"},
					{Pattern: "cmd/#", Direction: BridgeIn, QoS: 1, LocalPrefix: "local/", RemotePrefix: "site1/"},
					{Pattern: "chat/#", Direction: BridgeBoth, QoS: 1},
				},
				RemoteClientID: "edge", LocalClientID: "local.edge", KeepAlive: 5 * time.Second,
				RestartBase: 50 * time.Millisecond, StartType: "automatic",
				Notifications: true, NotificationTopic: "$SYS/broker/connection/edge/state",
				TryPrivate: true, AttemptUnsubscribe: true, OutgoingRetain: true, MaxInflight: 20,
			}}})
			if _, tok := dialPaho(t, pahoOpts(edge, "local.edge")); tok.Error() == nil {
				t.Error("a client connected with the bridge's local client id")
			}
			upSub := connectPaho(t, pahoOpts(up, "up-sub"))
			upSub.sub(t, "site1/#", 2)
			upSub.sub(t, "chat/#", 2)
			edgeSub := connectPaho(t, pahoOpts(edge, "edge-sub"))
			edgeSub.sub(t, "local/#", 2)
			edgeSub.sub(t, "chat/#", 2)
			edgeSub.sub(t, "$SYS/broker/connection/edge/state", 0)
			edgeSub.col.waitFor(t, "$SYS/broker/connection/edge/state", "1")
			upPub := connectPaho(t, pahoOpts(up, "up-pub"))
			edgePub := connectPaho(t, pahoOpts(edge, "edge-pub"))

			for i := range 50 {
				edgePub.pub(t, "local/sensors/t", byte(i%3), false, fmt.Sprint("out-", i))
				upPub.pub(t, "site1/cmd/x", byte(i%2), false, fmt.Sprint("in-", i))
			}
			upSub.col.waitFor(t, "site1/sensors/t", "out-49")
			edgeSub.col.waitFor(t, "local/cmd/x", "in-49")

			// The upstream drops the bridge: it reconnects by itself.
			up.srv.sessMu.Lock()
			var bridgeConn *client
			for c := range up.srv.clients {
				if c.id == "edge" {
					bridgeConn = c
				}
			}
			up.srv.sessMu.Unlock()
			if bridgeConn == nil {
				t.Fatal("no bridge connection on the upstream")
			}
			bridgeConn.conn.Close()
			edgePub.pub(t, "chat/a", 1, false, "after-reconnect")
			upSub.col.waitFor(t, "chat/a", "after-reconnect")
			upPub.pub(t, "chat/b", 1, false, "from-up")
			edgeSub.col.waitFor(t, "chat/b", "from-up")
			time.Sleep(200 * time.Millisecond)
			if n := len(edgeSub.col.on("chat/a")); n != 1 {
				t.Errorf("chat/a reached the edge subscriber %d times, want 1 (a loop?)", n)
			}
			if n := len(upSub.col.on("chat/b")); n != 1 {
				t.Errorf("chat/b reached the upstream subscriber %d times, want 1 (a loop?)", n)
			}
		})
	}
}
