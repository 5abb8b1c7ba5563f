package mqtt

import "testing"

// The prefixes of topic lines remap topics both ways, by the first
// matching line of the right direction, as Mosquitto does.
func TestBridgeTopicMapping(t *testing.T) {
	b := &bridge{cfg: BridgeConfig{Topics: []BridgeTopic{
		{Pattern: "sensors/#", Direction: BridgeOut, LocalPrefix: "local/", RemotePrefix: "site1/"},
		{Pattern: "cmd/#", Direction: BridgeIn, LocalPrefix: "local/", RemotePrefix: "site1/"},
		{Pattern: "chat/#", Direction: BridgeBoth},
		{Pattern: "", Direction: BridgeBoth, LocalPrefix: "here/status", RemotePrefix: "there/status"},
	}}}
	for _, tc := range []struct{ local, remote string }{
		{"local/sensors/t1", "site1/sensors/t1"},
		{"chat/a", "chat/a"},
		{"here/status", "there/status"},
	} {
		if got := b.remoteTopic(tc.local); got != tc.remote {
			t.Errorf("remoteTopic(%q) = %q, want %q", tc.local, got, tc.remote)
		}
	}
	for _, tc := range []struct {
		remote, local string
		ok            bool
	}{
		{"site1/cmd/valve", "local/cmd/valve", true},
		{"chat/b", "chat/b", true},
		{"there/status", "here/status", true},
		{"site1/sensors/t1", "", false}, // an out-only topic does not come in
		{"other/x", "", false},
	} {
		got, ok := b.localTopic([]byte(tc.remote))
		if ok != tc.ok || string(got) != tc.local {
			t.Errorf("localTopic(%q) = %q %v, want %q %v", tc.remote, got, ok, tc.local, tc.ok)
		}
	}
}
