package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"gatemq/flashstore"
)

// parseConfText parses text as "test.conf" on top of the defaults.
func parseConfText(t *testing.T, text string) (config, error) {
	t.Helper()
	return parseConfig(strings.NewReader(text), "test.conf", defaultConfig())
}

func TestConfigDefaults(t *testing.T) {
	c := defaultConfig()
	want := config{
		MaxInflight: 1000, MaxQueued: 1000, MaxKeepalive: 65535, MaxConnections: -1,
		SysInterval: 10 * time.Second, ConnectTimeout: 10 * time.Second,
		Sync: flashstore.SyncAlways, SyncInterval: time.Second,
		LogTimestamp: true, LogFacility: -1, ConnectionMessages: true,
		AllowZeroLengthClientID: true, RetainAvailable: true, CheckRetainSource: true,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("DefaultConfig() =\n%+v\nwant\n%+v", c, want)
	}
}

// routerConf is a realistic mosquitto.conf from a router, in mosquitto 2 style.
const routerConf = `# /etc/mosquitto/mosquitto.conf on the router
# Place your local configuration in /etc/mosquitto/conf.d/

pid_file /var/run/mosquitto.pid
user mosquitto

persistence true
persistence_location /overlay/mosquitto/
persistent_client_expiration 14d

log_dest syslog
log_dest stdout
log_type error
log_type warning
log_timestamp true

sys_interval 30
max_inflight_messages 40
max_queued_messages 200
max_queued_bytes 1048576
message_size_limit 65536
max_keepalive 300
max_connections 64

allow_anonymous true

# LAN side
listener 1883 192.168.1.1
protocol mqtt

	# local tools (indented comment)
listener 1884 127.0.0.1  # trailing comment
`

func TestConfigRouterFile(t *testing.T) {
	got, err := parseConfText(t, routerConf)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultConfig()
	want.PidFile = "/var/run/mosquitto.pid"
	want.User = "mosquitto"
	want.Persistence, want.PersistenceSet = true, true
	want.PersistenceLocation = "/overlay/mosquitto/"
	want.PersistentClientExpiration = 14 * 24 * time.Hour
	want.LogDest = []string{"syslog", "stdout"}
	want.LogType = []string{"error", "warning"}
	want.SysInterval = 30 * time.Second
	want.MaxInflight = 40
	want.MaxQueued = 200
	want.MaxQueuedBytes = 1048576
	want.MessageSizeLimit = 65536
	want.MaxKeepalive = 300
	want.MaxConnections = 64
	want.AllowAnonymous, want.AllowAnonymousSet = true, true
	want.Listeners = []listenerConf{
		{Port: 1883, Address: "192.168.1.1", Protocol: "mqtt", Line: 28},
		{Port: 1884, Address: "127.0.0.1", Protocol: "mqtt", Line: 32},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("router file parsed as\n%+v\nwant\n%+v", got, want)
	}
}

func TestConfigGood(t *testing.T) {
	mqttL := func(port int, addr string, line int) listenerConf {
		return listenerConf{Port: port, Address: addr, Protocol: "mqtt", Line: line}
	}
	cases := []struct {
		name string
		text string
		want func(c *config)
	}{
		{"empty", "", func(c *config) {}},
		{"comments and blanks", "# a\n\n   \n\t# b\r\n\r\n", func(c *config) {}},
		{"byte order mark", "\ufeffmax_keepalive 60\n", func(c *config) { c.MaxKeepalive = 60 }},
		{"crlf", "max_keepalive 60\r\nsys_interval 0\r\n", func(c *config) { c.MaxKeepalive = 60; c.SysInterval = 0 }},
		{"no final newline", "max_keepalive 60", func(c *config) { c.MaxKeepalive = 60 }},
		{"tabs between fields", "max_keepalive\t\t60\n", func(c *config) { c.MaxKeepalive = 60 }},
		{"trailing comment after tab", "max_keepalive 60\t# one minute\n", func(c *config) { c.MaxKeepalive = 60 }},
		{"hash inside a value is kept", "persistence_location /data#1\n", func(c *config) { c.PersistenceLocation = "/data#1" }},
		{"path with spaces", "persistence_location  /mnt/usb stick/mq \n", func(c *config) { c.PersistenceLocation = "/mnt/usb stick/mq" }},
		{"listener all addresses", "\nlistener 1883\n", func(c *config) { c.Listeners = []listenerConf{mqttL(1883, "", 2)} }},
		{"listener ipv6", "listener 1883 ::1\nlistener 1884 [fd00::1]\n", func(c *config) {
			c.Listeners = []listenerConf{mqttL(1883, "::1", 1), mqttL(1884, "fd00::1", 2)}
		}},
		{"listener same port other address", "listener 1883 127.0.0.1\nlistener 1883 192.168.1.1\n", func(c *config) {
			c.Listeners = []listenerConf{mqttL(1883, "127.0.0.1", 1), mqttL(1883, "192.168.1.1", 2)}
		}},
		{"legacy port", "port 1884\n", func(c *config) { c.Listeners = []listenerConf{mqttL(1884, "", 1)} }},
		{"legacy port twice: last wins", "port 1884\nport 1885\n", func(c *config) { c.Listeners = []listenerConf{mqttL(1885, "", 2)} }},
		{"legacy port and bind_address", "bind_address 10.0.0.1\nport 1884\nlistener 8883\n", func(c *config) {
			c.Listeners = []listenerConf{mqttL(1884, "10.0.0.1", 2), mqttL(8883, "", 3)}
		}},
		{"bind_address alone uses 1883", "bind_address 10.0.0.1\n", func(c *config) { c.Listeners = []listenerConf{mqttL(1883, "10.0.0.1", 1)} }},
		{"protocol mqtt before any listener", "protocol mqtt\nlistener 1883\n", func(c *config) { c.Listeners = []listenerConf{mqttL(1883, "", 2)} }},
		{"max_connections 0 is unlimited", "max_connections 0\n", func(c *config) { c.MaxConnections = -1 }},
		{"max_connections -1", "max_connections -1\n", func(c *config) { c.MaxConnections = -1 }},
		{"limits at their bounds", "max_inflight_messages 0\nmax_queued_messages 0\nmessage_size_limit 268435455\nmax_packet_size 20\nmax_keepalive 0\n", func(c *config) {
			c.MaxInflight, c.MaxQueued, c.MessageSizeLimit, c.MaxPacketSize, c.MaxKeepalive = 0, 0, 268435455, 20, 0
		}},
		{"max_packet_size 0", "max_packet_size 0\n", func(c *config) { c.MaxPacketSize = 268435460 }}, // no limit but MQTT's, as in mosquitto
		{"max_packet_size MQTT max", "max_packet_size 268435460\n", func(c *config) { c.MaxPacketSize = 268435460 }},
		{"allow_anonymous false", "allow_anonymous false\n", func(c *config) { c.AllowAnonymousSet = true }},
		{"persistence false", "persistence false\n", func(c *config) { c.PersistenceSet = true }},
		{"expiration hours", "persistent_client_expiration 1h\n", func(c *config) { c.PersistentClientExpiration = time.Hour }},
		{"expiration weeks", "persistent_client_expiration 2w\n", func(c *config) { c.PersistentClientExpiration = 14 * 24 * time.Hour }},
		{"expiration months", "persistent_client_expiration 1m\n", func(c *config) { c.PersistentClientExpiration = 30 * 24 * time.Hour }},
		{"expiration years", "persistent_client_expiration 1y\n", func(c *config) { c.PersistentClientExpiration = 365 * 24 * time.Hour }},
		{"log_dest file with spaces", "log_dest file /var/log/mosquitto log.txt\nlog_dest stderr\n", func(c *config) {
			c.LogDest = []string{"file /var/log/mosquitto log.txt", "stderr"}
		}},
		{"log_type all", "log_type all\nlog_type none\n", func(c *config) { c.LogType = []string{"all", "none"} }},
		{"connect_timeout", "connect_timeout 30\n", func(c *config) { c.ConnectTimeout = 30 * time.Second }},
		{"switches", "set_tcp_nodelay true\nlog_timestamp false\nretain_available false\n", func(c *config) { c.NoDelay, c.NoDelaySet, c.LogTimestamp, c.RetainAvailable = true, true, false, false }},
		{"sync none", "sync none\n", func(c *config) { c.Sync = flashstore.SyncNone }},
		{"sync interval default", "sync interval\n", func(c *config) { c.Sync = flashstore.SyncInterval }},
		{"sync interval 5", "sync interval 5\n", func(c *config) { c.Sync, c.SyncInterval = flashstore.SyncInterval, 5*time.Second }},
		{"sync always after none", "sync none\nsync always\n", func(c *config) {}},
		{"store_max_bytes plain", "store_max_bytes 1000\n", func(c *config) { c.StoreMaxBytes = 1000 }},
		{"store_max_bytes k", "store_max_bytes 512k\n", func(c *config) { c.StoreMaxBytes = 512 << 10 }},
		{"store_max_bytes M", "store_max_bytes 8M\n", func(c *config) { c.StoreMaxBytes = 8 << 20 }},
		{"store_max_bytes g", "store_max_bytes 1g\n", func(c *config) { c.StoreMaxBytes = 1 << 30 }},
		{"later value wins", "max_keepalive 60\nmax_keepalive 120\n", func(c *config) { c.MaxKeepalive = 120 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfText(t, tc.text)
			if err != nil {
				t.Fatal(err)
			}
			want := defaultConfig()
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("parsed as\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// confErrorCase is a config text with the line and words of its first
// error, for checkConfError.
type confErrorCase struct {
	name   string
	text   string
	line   int
	substr string
}

func TestConfigErrors(t *testing.T) {
	cases := []confErrorCase{
		{"unknown directive", "# x\n\nfoo bar\n", 3, `unknown directive "foo"`},
		{"unknown directive with suggestion", "max_keepalive 60\nmax_inflight_message 10\n", 2, "did you mean max_inflight_messages?"},
		{"directive is case-sensitive", "Listener 1883\n", 1, "did you mean listener?"},

		{"listener without port", "listener\n", 1, "listener takes a port and an optional address"},
		{"listener with three values", "listener 1883 0.0.0.0 extra\n", 1, "got 3 values"},
		{"listener port not a number", "listener mqtt\n", 1, `listener port must be a number, got "mqtt"`},
		{"listener port 0", "\n\nlistener 0\n", 3, "between 1 and 65535, got 0"},
		{"listener port too big", "listener 65536\n", 1, "between 1 and 65535, got 65536"},
		{"listener negative port", "listener -1883\n", 1, "got -1883"},
		{"port too big", "port 70000\n", 1, "port must be between 1 and 65535, got 70000"},
		{"port not a number", "port x\n", 1, `port must be a whole number, got "x"`},
		{"duplicate listener", "listener 1883\nmax_keepalive 60\nlistener 1883\n", 3, "listener 1883 repeats the one on line 1"},
		{"port and listener on the same port", "listener 1883\nport 1883\n", 1, "repeats the one on line 2"},
		{"duplicate listener with address", "listener 1883 ::1\nlistener 1883 [::1]\n", 2, "listener 1883 ::1 repeats the one on line 1"},

		{"protocol without value", "listener 1883\nprotocol\n", 2, "protocol takes exactly one value, got 0"},
		{"protocol unknown", "listener 1883\nprotocol mqtts\n", 2, `protocol must be mqtt or websockets, got "mqtts"`},

		{"bool missing", "allow_anonymous\n", 1, "allow_anonymous takes exactly one value, got 0"},
		{"bool two values", "allow_anonymous true false\n", 1, "got 2"},
		{"bool yes", "allow_anonymous yes\n", 1, `allow_anonymous must be true or false, got "yes"`},
		{"bool 1", "persistence 1\n", 1, `persistence must be true or false, got "1"`},
		{"bool capitalised", "persistence True\n", 1, `got "True"`},

		{"number missing", "max_keepalive\n", 1, "max_keepalive takes exactly one value, got 0"},
		{"number two values", "max_keepalive 60 120\n", 1, "got 2"},
		{"number not numeric", "max_inflight_messages ten\n", 1, `max_inflight_messages must be a whole number, got "ten"`},
		{"number fractional", "sys_interval 1.5\n", 1, `sys_interval must be a whole number, got "1.5"`},
		{"number negative", "max_queued_messages -1\n", 1, "max_queued_messages must not be negative, got -1"},
		{"message_size_limit negative", "message_size_limit -5\n", 1, "must not be negative, got -5"},
		{"sys_interval negative", "sys_interval -1\n", 1, "must not be negative"},
		{"max_connections below -1", "max_connections -2\n", 1, "max_connections must be between -1 and"},
		{"max_inflight too big", "max_inflight_messages 65536\n", 1, "between 0 and 65535, got 65536"},
		{"message_size_limit too big", "message_size_limit 268435456\n", 1, "between 0 and 268435455"},
		{"max_packet_size too small", "max_packet_size 10\n", 1, "max_packet_size must be 0 (no limit) or at least 20, got 10"},
		{"max_keepalive too big", "max_keepalive 65536\n", 1, "between 0 and 65535"},
		{"connect_timeout 0", "connect_timeout 0\n", 1, "connect_timeout must be between 1 and 65535, got 0"},
		{"number out of int64", "max_queued_bytes 99999999999999999999\n", 1, "is out of range"},

		{"expiration without unit", "persistent_client_expiration 14\n", 1, `persistent_client_expiration must be a positive number followed by h, d, w, m or y (e.g. 14d), got "14"`},
		{"expiration zero", "persistent_client_expiration 0d\n", 1, "positive number"},
		{"expiration seconds unit", "persistent_client_expiration 5s\n", 1, "positive number"},
		{"expiration not a number", "persistent_client_expiration xd\n", 1, "positive number"},
		{"expiration overflow", "persistent_client_expiration 9999999999999y\n", 1, "is too long"},

		{"log_dest missing", "log_dest\n", 1, "log_dest needs a value"},
		{"log_dest unknown", "log_dest console\n", 1, `log_dest must be one of stdout, stderr, syslog, topic, dlt, none, file, got "console"`},
		{"log_dest extra value", "log_dest stdout stderr\n", 1, "log_dest stdout takes no further value"},
		{"log_dest file without path", "log_dest file\n", 1, "log_dest file needs a path"},
		{"log_dest file twice", "log_dest file /a\nlog_dest syslog\nlog_dest file /b\n", 3, "duplicate log_dest file (first on line 1)"},
		{"log_type unknown", "log_type verbose\n", 1, `log_type must be one of`},

		{"string missing", "user\n", 1, "user needs a value"},
		{"string duplicate", "\npid_file /run/a.pid\nuser x\npid_file /run/b.pid\n", 4, "duplicate pid_file (first on line 2)"},
		{"persistence_location missing", "persistence_location   # none\n", 1, "persistence_location needs a value"},

		{"sync missing", "sync\n", 1, "sync needs a policy"},
		{"sync unknown", "sync sometimes\n", 1, `sync must be always, interval or none, got "sometimes"`},
		{"sync always extra", "sync always now\n", 1, "sync always takes no further value"},
		{"sync interval 0", "sync interval 0\n", 1, "sync interval must be between 1 and 3600, got 0"},
		{"sync interval not numeric", "sync interval 1s\n", 1, `sync interval must be a whole number, got "1s"`},
		{"store_max_bytes unit", "store_max_bytes 8X\n", 1, `store_max_bytes must be a byte count like 8388608, 8192k or 8M, got "8X"`},
		{"store_max_bytes negative", "store_max_bytes -1\n", 1, "byte count"},
		{"store_max_bytes overflow", "store_max_bytes 9999999999999G\n", 1, "out of range"},

		{"invalid utf-8", "max_keepalive 60\nuser \xff\xfe\n", 2, "invalid UTF-8"},
		{"line too long", "max_keepalive 60\n" + "user " + strings.Repeat("x", 70000) + "\n", 2, "line longer than 65536 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkConfError(t, tc.text, tc.line, tc.substr, false)
		})
	}
}

// checkConfError parses text and checks the error's line, text and kind.
func checkConfError(t *testing.T, text string, line int, substr string, notYet bool) {
	t.Helper()
	before := defaultConfig()
	got, err := parseConfText(t, text)
	if err == nil {
		t.Fatalf("no error for %q; parsed as %+v", text, got)
	}
	prefix := fmt.Sprintf("test.conf:%d: ", line)
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error %q does not start with %q", err, prefix)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
	var ce *configError
	if !errors.As(err, &ce) || ce.Line != line || ce.Name != "test.conf" {
		t.Errorf("error %#v is not a *ConfigError at test.conf line %d", err, line)
	}
	if errors.Is(err, errNotSupportedYet) != notYet {
		t.Errorf("errors.Is(%q, ErrNotSupportedYet) = %v, want %v", err, !notYet, notYet)
	}
	if !reflect.DeepEqual(got, before) {
		t.Errorf("on error ParseConfig returned %+v, want the input config unchanged", got)
	}
}

func TestConfigNotSupportedYet(t *testing.T) {
	cases := []confErrorCase{
		{"bridge psk", "bridge_psk 0123\n", 1, "directive bridge_psk is not supported by gatemq: TLS with pre-shared keys"},
		{"bridge mqttv31", "connection c\naddress h\ntopic t\nbridge_protocol_version mqttv31\n", 4, "bridge_protocol_version mqttv31 (MQTT 3.1;"},
		{"bridge ocsp", "connection c\naddress h\ntopic t\nbridge_require_ocsp true\n", 4, "bridge_require_ocsp true (Go's TLS client"},
		{"plugin option", "plugin_opt_path /x\n", 1, "directive plugin_opt_path"},
		{"log_dest dlt", "log_dest dlt\n", 1, "log_dest dlt (the automotive"},
		{"max_inflight_bytes", "max_inflight_bytes 100\n", 1, "max_inflight_bytes 100 (only 0"},
		{"tls_keyform engine", "tls_keyform engine\n", 1, "tls_keyform engine"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkConfError(t, tc.text, tc.line, tc.substr, true)
		})
	}
	// Every refused directive is refused the same way, wherever it is,
	// with the table's reason.
	for _, d := range directiveTable() {
		if d.Status != "refused" {
			continue
		}
		name := strings.ReplaceAll(d.Name, "*", "x")
		t.Run(name, func(t *testing.T) {
			checkConfError(t, "max_keepalive 60\n\n"+name+" x\n", 3, "directive "+name+" is not supported by gatemq: "+d.Text, true)
		})
	}
}

func TestConfigReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("max_keepalive 60\nport 1884\n"), iotest.ErrReader(boom))
	_, err := parseConfig(r, "x.conf", defaultConfig())
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "x.conf:3: ") {
		t.Fatalf("ParseConfig with a failing reader = %v, want x.conf:3: wrapping boom", err)
	}
}

// TestConfigLayering parses on top of a config that already has listeners and
// log settings: the file's are appended, and the input is not modified.
func TestConfigLayering(t *testing.T) {
	base := defaultConfig()
	base.Listeners = make([]listenerConf, 1, 4) // spare capacity: appending in place would be visible
	base.Listeners[0] = listenerConf{Port: 1883, Address: "127.0.0.1", Protocol: "mqtt"}
	base.LogType = make([]string, 1, 4)
	base.LogType[0] = "error"
	base.PersistenceLocation = "/board/default"
	snapshot := base
	snapshot.Listeners = append([]listenerConf(nil), base.Listeners...)
	snapshot.LogType = append([]string(nil), base.LogType...)

	got, err := parseConfig(strings.NewReader("listener 1884\nlog_type warning\npersistence_location /data\nprotocol mqtt\n"), "f.conf", base)
	if err != nil {
		t.Fatal(err)
	}
	wantListeners := []listenerConf{base.Listeners[0], {Port: 1884, Protocol: "mqtt", Line: 1}}
	if !reflect.DeepEqual(got.Listeners, wantListeners) {
		t.Errorf("Listeners = %+v, want %+v", got.Listeners, wantListeners)
	}
	if !reflect.DeepEqual(got.LogType, []string{"error", "warning"}) {
		t.Errorf("LogType = %v", got.LogType)
	}
	if got.PersistenceLocation != "/data" {
		t.Errorf("PersistenceLocation = %q, want the file's /data", got.PersistenceLocation)
	}
	if !reflect.DeepEqual(base, snapshot) || !reflect.DeepEqual(base.Listeners[:2][1], listenerConf{}) || base.LogType[:2][1] != "" {
		t.Errorf("ParseConfig modified its input: %+v", base)
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gatemq.conf")
	if err := os.WriteFile(path, []byte(routerConf), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadConfigFile(path, defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Listeners) != 2 || got.MaxInflight != 40 {
		t.Fatalf("LoadConfigFile = %+v", got)
	}

	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("listener 1883\n\nmax_inflight_messages lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfigFile(bad, defaultConfig()); err == nil || !strings.HasPrefix(err.Error(), bad+":3: ") {
		t.Fatalf("LoadConfigFile(bad) = %v, want an error at %s:3", err, bad)
	}

	if _, err := loadConfigFile(filepath.Join(dir, "missing.conf"), defaultConfig()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadConfigFile(missing) = %v, want ErrNotExist", err)
	}
	if _, err := loadConfigFile(dir, defaultConfig()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("LoadConfigFile(dir) = %v, want a directory error", err)
	}
}

func TestConfigStripComment(t *testing.T) {
	cases := map[string]string{
		"# all":              "",
		"   # indented":      "",
		"a b # c":            "a b ",
		"a b\t#c":            "a b\t",
		"a#b":                "a#b",
		"pass w#rd # secret": "pass w#rd ",
		"#":                  "",
		"":                   "",
	}
	for in, want := range cases {
		if got := confStripComment(in); got != want {
			t.Errorf("confStripComment(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzparseConfig checks that any input gives a config or a located
// *configError, never a panic. The seeds run as part of go test.
func FuzzParseConfig(f *testing.F) {
	f.Add(routerConf)
	f.Add("listener 1883 ::1\nprotocol websockets\n")
	f.Add("port 1\nbind_address x\nlistener 1 x\n")
	f.Add("persistent_client_expiration 1y\nstore_max_bytes 1G\nsync interval 9\n")
	f.Add("log_dest file \xff\n")
	f.Add("connection c\naddress h:1 [::1]:2\ntopic # both 2 a/ b/\ntopic \"\" in 0 x y\nconnection d\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := parseConfig(strings.NewReader(text), "fuzz.conf", defaultConfig())
		if err != nil {
			var ce *configError
			if !errors.As(err, &ce) || ce.Line < 1 || !strings.HasPrefix(err.Error(), "fuzz.conf:") {
				t.Fatalf("error %q is not a located ConfigError", err)
			}
			return
		}
		for _, l := range c.Listeners {
			if l.Port < 1 || l.Port > 65535 || (l.Protocol != "mqtt" && l.Protocol != "websockets") || l.Line < 1 {
				t.Fatalf("bad listener %+v from %q", l, text)
			}
		}
	})
}

// TestConfigListenerTLSAndWebSockets checks the per-listener TLS directives
// and protocol websockets, and that they need a listener line before them.
func TestConfigListenerTLSAndWebSockets(t *testing.T) {
	text := "listener 8883\ncafile /etc/ca.pem\ncertfile /etc/c.pem\nkeyfile /etc/k.pem\nrequire_certificate true\nuse_identity_as_username true\ntls_version tlsv1.3\nlistener 9001\nprotocol websockets\n"
	c, err := parseConfig(strings.NewReader(text), "test.conf", defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 2 {
		t.Fatalf("listeners %+v", c.Listeners)
	}
	l := c.Listeners[0]
	if l.CAFile != "/etc/ca.pem" || l.CertFile != "/etc/c.pem" || l.KeyFile != "/etc/k.pem" || !l.RequireCertificate || !l.UseIdentityAsUsername || l.TLSVersion != "tlsv1.3" {
		t.Errorf("TLS listener %+v", l)
	}
	if c.Listeners[1].Protocol != "websockets" || c.Listeners[1].CertFile != "" {
		t.Errorf("websockets listener %+v", c.Listeners[1])
	}
	for _, bad := range []string{"certfile /x\n", "tls_version tlsv1.2\n", "protocol websockets\n", "listener 8883\ntls_version ssl3\n"} {
		if _, err := parseConfig(strings.NewReader(bad), "test.conf", defaultConfig()); err == nil || !strings.Contains(err.Error(), "test.conf:") {
			t.Errorf("%q: error %v, want a located error", bad, err)
		}
	}
}

// TestConfigMaxConnectionsPerListener checks Mosquitto's rule: after a
// listener line max_connections caps that listener; before any, the broker.
func TestConfigMaxConnectionsPerListener(t *testing.T) {
	c, err := parseConfig(strings.NewReader("max_connections 50\nlistener 1883\nmax_connections 10\nlistener 1884\n"), "test.conf", defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxConnections != 50 || c.Listeners[0].MaxConnections != 10 || c.Listeners[1].MaxConnections != 0 {
		t.Fatalf("global %d, listeners %d and %d; want 50, 10, 0", c.MaxConnections, c.Listeners[0].MaxConnections, c.Listeners[1].MaxConnections)
	}
}
