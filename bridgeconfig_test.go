package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gatemq/mqtt"
)

// hostname is this machine's name, the start of Mosquitto's default
// remote client id.
func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// parseBridges parses text and returns its bridges.
func parseBridges(t *testing.T, text string) []bridgeConf {
	t.Helper()
	c, err := parseConfText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	return c.Bridges
}

// defaultBridge is a bridge named name, at test.conf:line, with Mosquitto
// 2.0's defaults (from mosquitto.conf(5) and Mosquitto's conf.c) and no
// address or topic.
func defaultBridge(t *testing.T, name string, line int) bridgeConf {
	remote := hostname(t) + "." + name // as Mosquitto: hostname.NAME
	return bridgeConf{File: "test.conf", Line: line, BridgeConfig: mqtt.BridgeConfig{
		Name:               name,
		ProtocolVersion:    4,
		CleanSession:       false,
		LocalCleanSession:  false,
		RemoteClientID:     remote,
		LocalClientID:      "local." + remote,
		KeepAlive:          60 * time.Second,
		RestartBase:        5 * time.Second,
		RestartCap:         30 * time.Second,
		StartType:          "automatic",
		Threshold:          10,
		IdleTimeout:        60 * time.Second,
		Notifications:      true,
		NotificationTopic:  "$SYS/broker/connection/" + remote + "/state",
		TryPrivate:         true,
		AttemptUnsubscribe: true,
		OutgoingRetain:     true,
		MaxInflight:        20,
	}}
}

// TestBridgeConfigDefaults: the smallest bridge gets Mosquitto's defaults.
func TestBridgeConfigDefaults(t *testing.T) {
	bs := parseBridges(t, "connection cloud\naddress broker.example\ntopic sensors/#\n")
	want := defaultBridge(t, "cloud", 1)
	want.Addresses = []string{"broker.example:1883"}
	want.Topics = []mqtt.BridgeTopic{{Pattern: "sensors/#", Direction: mqtt.BridgeOut, QoS: 0}}
	if !reflect.DeepEqual(bs, []bridgeConf{want}) {
		t.Fatalf("parsed as\n%+v\nwant\n%+v", bs, want)
	}
}

// TestBridgeConfigFull parses a realistic router bridge with every kind of
// directive, Mosquitto's old names among them, and two bridges.
func TestBridgeConfigFull(t *testing.T) {
	text := `# uplink to the cloud broker
connection cloud
addresses mqtt1.example.com:8883 mqtt2.example.com:8884
round_robin true
bridge_protocol_version mqttv50
cleansession true
local_cleansession false
clientid router-7
local_clientid router-7-here
username router 7
password s3cret with spaces
keepalive_interval 120
restart_timeout 20
start_type lazy
threshold 50
idle_timeout 300
notification_topic routers/7/bridge
notifications_local_only true
try_private false
bridge_attempt_unsubscribe false
bridge_outgoing_retain false
bridge_max_packet_size 131072
bridge_max_inflight 10
bridge_bind_address 192.168.1.1
bridge_cafile /etc/ssl/ca.pem
bridge_capath /etc/ssl/certs
bridge_certfile /etc/gatemq/router.pem
bridge_keyfile /etc/gatemq/router.key
bridge_insecure false
bridge_tls_version tlsv1.3
bridge_alpn x-mqtt
bridge_require_ocsp false
topic # out 1 "" routers/7/
topic cmd/# in 2 routers/7/ ""

connection backup
address [fd00::1]:1884
notifications false
topic "" both 1 status/here status/there
max_keepalive 300
`
	c, err := parseConfText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxKeepalive != 300 {
		t.Errorf("max_keepalive after a bridge block: %d, want 300 (global directives stay global)", c.MaxKeepalive)
	}
	backup := defaultBridge(t, "backup", 36)
	backup.Addresses = []string{"[fd00::1]:1884"}
	backup.Topics = []mqtt.BridgeTopic{{Pattern: "", Direction: mqtt.BridgeBoth, QoS: 1, LocalPrefix: "status/here", RemotePrefix: "status/there"}}
	backup.Notifications = false
	want := []bridgeConf{{File: "test.conf", Line: 2,
		CAFile: "/etc/ssl/ca.pem", CAPath: "/etc/ssl/certs", CertFile: "/etc/gatemq/router.pem", KeyFile: "/etc/gatemq/router.key",
		TLSVersion: "tlsv1.3", ALPN: "x-mqtt", BindAddress: "192.168.1.1",
		BridgeConfig: mqtt.BridgeConfig{
			Name:      "cloud",
			Addresses: []string{"mqtt1.example.com:8883", "mqtt2.example.com:8884"},
			Topics: []mqtt.BridgeTopic{
				{Pattern: "#", Direction: mqtt.BridgeOut, QoS: 1, RemotePrefix: "routers/7/"},
				{Pattern: "cmd/#", Direction: mqtt.BridgeIn, QoS: 2, LocalPrefix: "routers/7/"},
			},
			RoundRobin:             true,
			ProtocolVersion:        5,
			CleanSession:           true,
			LocalCleanSession:      false,
			RemoteClientID:         "router-7",
			LocalClientID:          "router-7-here",
			RemoteUsername:         "router 7",
			RemotePassword:         "s3cret with spaces",
			HasRemotePassword:      true,
			KeepAlive:              120 * time.Second,
			RestartBase:            20 * time.Second,
			RestartCap:             0, // one value: a constant wait
			StartType:              "lazy",
			Threshold:              50,
			IdleTimeout:            300 * time.Second,
			Notifications:          true,
			NotificationTopic:      "routers/7/bridge",
			NotificationsLocalOnly: true,
			TryPrivate:             false,
			AttemptUnsubscribe:     false,
			OutgoingRetain:         false,
			MaxPacketSize:          131072,
			MaxInflight:            10,
		}}, backup}
	if !reflect.DeepEqual(c.Bridges, want) {
		t.Fatalf("parsed as\n%+v\nwant\n%+v", c.Bridges, want)
	}
	if !c.Bridges[0].tls() || c.Bridges[1].tls() {
		t.Errorf("tls(): %v %v, want true false", c.Bridges[0].tls(), c.Bridges[1].tls())
	}
}

// TestBridgeConfigTopics checks the topic line: Mosquitto's defaults, ""
// for an empty pattern or prefix, the direction in any case, and a
// pattern that is just # (not a comment).
func TestBridgeConfigTopics(t *testing.T) {
	out, in, both := mqtt.BridgeOut, mqtt.BridgeIn, mqtt.BridgeBoth
	cases := []struct {
		line string
		want mqtt.BridgeTopic
	}{
		{"topic #", mqtt.BridgeTopic{Pattern: "#", Direction: out}},
		{"topic # # a comment", mqtt.BridgeTopic{Pattern: "#", Direction: out}},
		{"topic #\t# a comment", mqtt.BridgeTopic{Pattern: "#", Direction: out}},
		{"  topic   #   both   1  ", mqtt.BridgeTopic{Pattern: "#", Direction: both, QoS: 1}},
		{"topic a/+/c IN", mqtt.BridgeTopic{Pattern: "a/+/c", Direction: in}},
		{"topic a/# Both 2", mqtt.BridgeTopic{Pattern: "a/#", Direction: both, QoS: 2}},
		{"topic a/# out 1 # comment after the QoS", mqtt.BridgeTopic{Pattern: "a/#", Direction: out, QoS: 1}},
		{"topic clients/total in 0 test/mosquitto/org/ $SYS/broker/", mqtt.BridgeTopic{Pattern: "clients/total", Direction: in,
			LocalPrefix: "test/mosquitto/org/", RemotePrefix: "$SYS/broker/"}},
		{`topic pattern out 0 L/ ""`, mqtt.BridgeTopic{Pattern: "pattern", Direction: out, LocalPrefix: "L/"}},
		{`topic pattern out 0 "" R/`, mqtt.BridgeTopic{Pattern: "pattern", Direction: out, RemotePrefix: "R/"}},
		{`topic pattern out 0 "" ""`, mqtt.BridgeTopic{Pattern: "pattern", Direction: out}},
		{`topic pattern out 0 L/`, mqtt.BridgeTopic{Pattern: "pattern", Direction: out, LocalPrefix: "L/"}}, // Mosquitto: no remote prefix
		{`topic "" in 1 local remote`, mqtt.BridgeTopic{Pattern: "", Direction: in, QoS: 1, LocalPrefix: "local", RemotePrefix: "remote"}},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			bs := parseBridges(t, "connection c\naddress h\n"+tc.line+"\n")
			if len(bs[0].Topics) != 1 || !reflect.DeepEqual(bs[0].Topics[0], tc.want) {
				t.Errorf("%q parsed as %+v, want %+v", tc.line, bs[0].Topics, tc.want)
			}
		})
	}
}

// TestBridgeConfigAddresses checks the address forms Mosquitto accepts.
func TestBridgeConfigAddresses(t *testing.T) {
	cases := map[string][]string{
		"address broker":                      {"broker:1883"},
		"address broker:8883":                 {"broker:8883"},
		"address 10.0.0.1:1884 10.0.0.2":      {"10.0.0.1:1884", "10.0.0.2:1883"},
		"address fd00::1:1883":                {"[fd00::1]:1883"},
		"address [fd00::1]:8883":              {"[fd00::1]:8883"},
		"address [fd00::1]":                   {"[fd00::1]:1883"},
		"addresses a b c # and a comment":     {"a:1883", "b:1883", "c:1883"},
		"address broker.example.com:1883\t  ": {"broker.example.com:1883"},
	}
	for line, want := range cases {
		bs := parseBridges(t, "connection c\n"+line+"\ntopic t\n")
		if !reflect.DeepEqual(bs[0].Addresses, want) {
			t.Errorf("%q: addresses %q, want %q", line, bs[0].Addresses, want)
		}
	}
}

// TestBridgeConfigLowValuesRaised: values Mosquitto raises to its minimum
// (with a notice) are raised here too, and said so at start.
func TestBridgeConfigLowValuesRaised(t *testing.T) {
	c, err := parseConfText(t, "connection c\naddress h\ntopic t\nkeepalive_interval 2\nrestart_timeout 0\nthreshold 0\nidle_timeout 0\n")
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bridges[0]
	if b.KeepAlive != 5*time.Second || b.RestartBase != time.Second || b.RestartCap != 0 || b.Threshold != 1 || b.IdleTimeout != time.Second {
		t.Errorf("keepalive %v, restart %v..%v, threshold %d, idle %v; want 5s, 1s..0, 1, 1s", b.KeepAlive, b.RestartBase, b.RestartCap, b.Threshold, b.IdleTimeout)
	}
	want := []string{
		"test.conf:4: keepalive_interval 2 is too low: using 5 seconds, as Mosquitto does",
		"test.conf:5: restart_timeout 0 is too low: using 1 second, as Mosquitto does",
		"test.conf:6: threshold 0 is too low: using 1 message, as Mosquitto does",
		"test.conf:7: idle_timeout 0 is too low: using 1 second, as Mosquitto does",
	}
	if !reflect.DeepEqual(c.Notices, want) {
		t.Errorf("notices\n%q\nwant\n%q", c.Notices, want)
	}
}

// TestBridgeConfigIncludeDir: as in Mosquitto, a file of include_dir
// starts outside any bridge, its blocks end with it, and the block around
// the include_dir line goes on after it.
func TestBridgeConfigIncludeDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.conf", "connection inner\naddress inner.example\ntopic in/# in\n")
	c, err := parseConfText(t, "connection outer\naddress outer.example\ninclude_dir "+dir+"\ntopic out/#\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bridges) != 2 || c.Bridges[0].Name != "outer" || len(c.Bridges[0].Topics) != 1 || c.Bridges[0].Topics[0].Pattern != "out/#" ||
		c.Bridges[1].Name != "inner" || c.Bridges[1].File != filepath.Join(dir, "a.conf") || len(c.Bridges[1].Topics) != 1 {
		t.Fatalf("bridges %+v", c.Bridges)
	}
	writeFile(t, dir, "b.conf", "topic lost/#\n")
	_, err = parseConfText(t, "connection outer\naddress outer.example\ntopic out/#\ninclude_dir "+dir+"\n")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "b.conf")+":1: topic outside a bridge block") {
		t.Errorf("a topic line at the top of an included file: %v, want it outside any bridge", err)
	}
}

func TestBridgeConfigErrors(t *testing.T) {
	const block = "connection c\naddress h\ntopic t\n" // lines 1-3
	cases := []confErrorCase{
		{"directive before any block", "max_keepalive 60\ntopic a/#\n", 2, "topic outside a bridge block (start one with: connection NAME)"},
		{"address before any block", "address h\n", 1, "address outside a bridge block"},
		{"info directive before any block", "local_username u\n", 1, "local_username outside a bridge block"},
		{"connection without name", "connection\n", 1, "connection takes the bridge's name"},
		{"connection name twice", block + "connection c\naddress h\ntopic t\n", 4, "bridge c is defined twice (first at test.conf:1)"},
		{"no address", "\nconnection c\ntopic t\n", 2, "bridge c has no address (add: address HOST[:PORT])"},
		{"no topic", "connection c\naddress h\n", 1, "bridge c has no topic"},
		{"no topic, next block", "connection c\naddress h\nconnection d\naddress h\ntopic t\n", 1, "bridge c has no topic"},
		{"address twice", block + "address h2\n", 4, "duplicate address in bridge c (first on line 2)"},
		{"address and addresses", block + "addresses h2\n", 4, "duplicate address in bridge c"},
		{"remote_clientid and clientid", block + "remote_clientid a\nclientid b\n", 5, "duplicate remote_clientid in bridge c (first on line 4)"},
		{"address without host", "connection c\naddress :1883\ntopic t\n", 2, `address ":1883" has no host`},
		{"address bad port", "connection c\naddress h:mqtt\ntopic t\n", 2, `address port must be a number, got "mqtt"`},
		{"address port 0", "connection c\naddress h:0\ntopic t\n", 2, "address port must be between 1 and 65535, got 0"},
		{"address ipv6 without port", "connection c\naddress fd00::1\ntopic t\n", 2, "an IPv6 address needs a port after it"},
		{"address empty", "connection c\naddress\ntopic t\n", 2, "address needs at least one HOST[:PORT]"},
		{"topic without pattern", block + "topic\n", 4, "topic takes 1 to 5 values"},
		{"topic bad direction", block + "topic a/# up\n", 4, `topic direction must be out, in or both, got "up"`},
		{"topic bad qos", block + "topic a/# out 3\n", 4, "topic QoS must be between 0 and 2, got 3"},
		{"topic qos not a number", block + "topic a/# out x\n", 4, `topic QoS must be a whole number, got "x"`},
		{"topic wildcard in local prefix", block + "topic a/# out 0 home/+/ remote/\n", 4, `topic local prefix "home/+/" may hold no wildcard (+ #)`},
		{"topic wildcard in remote prefix", block + "topic a out 0 home/ remote/#\n", 4, `topic remote prefix "remote/#" may hold no wildcard`},
		{"topic empty pattern without prefixes", block + `topic "" out 0` + "\n", 4, `topic "" (an empty pattern) needs both a local and a remote prefix`},
		{"topic empty pattern, one prefix", block + `topic "" out 0 local ""` + "\n", 4, `needs both a local and a remote prefix`},
		{"topic bad filter", block + "topic a/#/b\n", 4, `the local filter "a/#/b" is not a valid MQTT topic filter`},
		{"topic prefix makes a bad filter", block + "topic +/x out 0 local remote/\n", 4, `the local filter "local+/x" is not a valid`},
		{"topic too many values", block + "topic a out 0 l/ r/ extra\n", 4, "topic takes 1 to 5 values"},
		{"protocol version unknown", block + "bridge_protocol_version mqttv5\n", 4, `bridge_protocol_version must be one of mqttv31, mqttv311, mqttv50, got "mqttv5"`},
		{"start_type manual", block + "start_type manual\n", 4, "start_type manual is not supported (nor by Mosquitto)"},
		{"start_type unknown", block + "start_type sometimes\n", 4, "start_type must be one of automatic, lazy, once"},
		{"keepalive too high", block + "keepalive_interval 65536\n", 4, "keepalive_interval must be between 0 and 65535"},
		{"restart_timeout cap below base", block + "restart_timeout 30 10\n", 4, "restart_timeout cap 10 is lower than the base 30"},
		{"restart_timeout three values", block + "restart_timeout 1 2 3\n", 4, "restart_timeout takes a constant or a base and a cap"},
		{"bool", block + "round_robin yes\n", 4, `round_robin must be true or false, got "yes"`},
		{"max_inflight 0", block + "bridge_max_inflight 0\n", 4, "bridge_max_inflight must be between 1 and 65535, got 0"},
		{"max_packet_size negative", block + "bridge_max_packet_size -1\n", 4, "bridge_max_packet_size must not be negative"},
		{"bind address a name", block + "bridge_bind_address wan.example\n", 4, `bridge_bind_address must be an IP address of this machine, got "wan.example"`},
		{"tls_version unknown", block + "bridge_cafile /ca\nbridge_tls_version tlsv1\n", 5, `bridge_tls_version must be one of tlsv1.1, tlsv1.2, tlsv1.3, got "tlsv1"`},
		{"string without value", block + "remote_username\n", 4, "remote_username needs a value"},
		{"password without username", block + "remote_password pw\n", 4, "bridge c: remote_password needs remote_username"},
		{"certfile without keyfile", block + "bridge_cafile /ca\nbridge_certfile /c\n", 5, "bridge_certfile and bridge_keyfile go together"},
		{"certfile without ca", block + "bridge_certfile /c\nbridge_keyfile /k\n", 4, "bridge_certfile needs bridge_cafile or bridge_capath"},
		{"insecure without ca", block + "bridge_insecure true\n", 4, "bridge_insecure needs bridge_cafile or bridge_capath"},
		{"alpn without ca", block + "bridge_alpn mqtt\n", 4, "bridge_alpn needs bridge_cafile or bridge_capath"},
		{"notification topic with wildcard", block + "notification_topic a/#\n", 4, `notification_topic "a/#" is not a valid MQTT topic name`},
		{"name makes a bad notification topic", "connection a+b\naddress h\ntopic t\n", 1, "its notification topic"},
		{"same local client id", block + "connection d\naddress h\ntopic t\nlocal_clientid local.%HOST%.c\n", 4, "local client id local.%HOST%.c is also bridge c's (test.conf:1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.ReplaceAll(tc.text, "%HOST%", hostname(t))
			checkConfError(t, text, tc.line, strings.ReplaceAll(tc.substr, "%HOST%", hostname(t)), false)
		})
	}
}

// TestBridgeConfigOneError: a refused connection line gives one error,
// not one more for each of its block's lines.
func TestBridgeConfigOneError(t *testing.T) {
	_, err := parseConfText(t, "connection\naddress h\ntopic t\nremote_username u\n")
	if err == nil || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("errors %v, want one", err)
	}
}
