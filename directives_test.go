package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatemq/mqtt"
)

// TestDirectiveTable checks the table itself: every entry has a known
// status and scope, a syntax that starts with its name, a text, and no
// name twice.
func TestDirectiveTable(t *testing.T) {
	ds, err := parseDirectiveTable(directivesText)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Name] {
			t.Errorf("%s is in the table twice", d.Name)
		}
		seen[d.Name] = true
		if d.Text == "" || d.Section == "" {
			t.Errorf("%s has no text or no section", d.Name)
		}
		if !strings.HasPrefix(d.Syntax, strings.TrimSuffix(d.Name, "*")) {
			t.Errorf("%s: syntax %q does not start with the name", d.Name, d.Syntax)
		}
		switch d.Scope {
		case "global", "listener", "bridge", "serial", "gatemq":
		default:
			t.Errorf("%s: scope %q", d.Name, d.Scope)
		}
	}
	// Every directive of Mosquitto 2.0's man page is in the table: the
	// entries are the lines indented by 7 spaces between GENERAL OPTIONS
	// and FILES, in the page as man renders it.
	cmd := exec.Command("sh", "-c", "zcat /usr/share/man/man5/mosquitto.conf.5.gz | man -l - | col -b")
	cmd.Env = append(os.Environ(), "MANWIDTH=120", "MANPAGER=cat", "PAGER=cat")
	man, err := cmd.Output()
	if err != nil || !strings.Contains(string(man), "GENERAL OPTIONS") {
		t.Logf("mosquitto.conf(5) not readable here (%v): skipping the comparison with it", err)
		return
	}
	text := string(man)
	text = text[strings.Index(text, "GENERAL OPTIONS"):]
	text = text[:strings.Index(text, "\nFILES")]
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "       ") || strings.HasPrefix(line, "        ") {
			continue
		}
		name := strings.Fields(line)[0]
		if name == "can" || name[0] < 'a' || name[0] > 'z' { // prose under the section titles
			continue
		}
		n++
		if _, ok := lookupDirective(name); !ok {
			t.Errorf("mosquitto.conf(5) directive %s is not in directives.txt", name)
		}
	}
	if n < 100 {
		t.Errorf("found only %d directives in mosquitto.conf(5)", n)
	}
}

// directiveCases give, for every honoured directive, a config and a check
// of its effect on the parsed config. (What the broker does with each is
// tested where it is done: mqtt, transport, logdest and the binary tests.)
var directiveCases = map[string]struct {
	text  string
	check func(c config) bool
}{
	"acl_file":                   {"acl_file /etc/acl", func(c config) bool { return c.ACLFile == "/etc/acl" }},
	"allow_anonymous":            {"allow_anonymous true", func(c config) bool { return c.AllowAnonymous && c.AllowAnonymousSet }},
	"allow_zero_length_clientid": {"allow_zero_length_clientid false", func(c config) bool { return !c.AllowZeroLengthClientID }},
	"auto_id_prefix":             {"auto_id_prefix lan-", func(c config) bool { return c.AutoIDPrefix == "lan-" }},
	"check_retain_source":        {"check_retain_source false", func(c config) bool { return !c.CheckRetainSource }},
	"clientid_prefixes":          {"clientid_prefixes sensor-", func(c config) bool { return c.ClientIDPrefixes == "sensor-" }},
	"connection_messages":        {"connection_messages false", func(c config) bool { return !c.ConnectionMessages }},
	"include_dir":                {"include_dir %DIR%", func(c config) bool { return c.MaxKeepalive == 33 }},
	"log_dest":                   {"log_dest file /var/log/x.log\nlog_dest topic", func(c config) bool { return strings.Join(c.LogDest, ",") == "file /var/log/x.log,topic" }},
	"log_facility":               {"log_facility 5", func(c config) bool { return c.LogFacility == 5 }},
	"log_timestamp":              {"log_timestamp false", func(c config) bool { return !c.LogTimestamp }},
	"log_timestamp_format":       {"log_timestamp_format %Y-%m-%d %H:%M", func(c config) bool { return c.LogTimestampFormat == "%Y-%m-%d %H:%M" }},
	"log_type":                   {"log_type subscribe\nlog_type error", func(c config) bool { return strings.Join(c.LogType, ",") == "subscribe,error" }},
	"max_inflight_bytes":         {"max_inflight_bytes 0", func(c config) bool { return true }},
	"max_inflight_messages":      {"max_inflight_messages 20", func(c config) bool { return c.MaxInflight == 20 }},
	"max_keepalive":              {"max_keepalive 120", func(c config) bool { return c.MaxKeepalive == 120 }},
	"max_packet_size":            {"max_packet_size 1000", func(c config) bool { return c.MaxPacketSize == 1000 }},
	"max_queued_bytes":           {"max_queued_bytes 5000", func(c config) bool { return c.MaxQueuedBytes == 5000 }},
	"max_queued_messages":        {"max_queued_messages 7", func(c config) bool { return c.MaxQueued == 7 }},
	"memory_limit":               {"memory_limit 33554432", func(c config) bool { return c.MemoryLimit == 32<<20 }},
	"message_size_limit":         {"message_size_limit 100", func(c config) bool { return c.MessageSizeLimit == 100 }},
	"password_file":              {"password_file /etc/pw", func(c config) bool { return c.PasswordFile == "/etc/pw" }},
	"per_listener_settings": {"per_listener_settings true\nlistener 1883\npassword_file /pw\nallow_zero_length_clientid false", func(c config) bool {
		return c.PerListenerSettings && c.PasswordFile == "" && reflect.DeepEqual(*c.Listeners[0].Auth, listenerAuth{PasswordFile: "/pw", RefuseEmptyClientID: true})
	}},
	"persistence":          {"persistence true", func(c config) bool { return c.Persistence && c.PersistenceSet }},
	"persistence_location": {"persistence_location /data/", func(c config) bool { return c.PersistenceLocation == "/data/" }},
	"persistence_file":     {"persistence_file old.db", func(c config) bool { return c.PersistenceFile == "old.db" }},
	"persistent_client_expiration": {"persistent_client_expiration 2w", func(c config) bool {
		return c.PersistentClientExpiration == 14*24*time.Hour
	}},
	"pid_file":                 {"pid_file /run/m.pid", func(c config) bool { return c.PidFile == "/run/m.pid" }},
	"queue_qos0_messages":      {"queue_qos0_messages true", func(c config) bool { return c.QueueQoS0 }},
	"retain_available":         {"retain_available false", func(c config) bool { return !c.RetainAvailable }},
	"set_tcp_nodelay":          {"set_tcp_nodelay false", func(c config) bool { return c.NoDelaySet && !c.NoDelay }},
	"sys_interval":             {"sys_interval 3", func(c config) bool { return c.SysInterval == 3*time.Second }},
	"upgrade_outgoing_qos":     {"upgrade_outgoing_qos true", func(c config) bool { return c.UpgradeOutgoingQoS }},
	"user":                     {"user mosquitto", func(c config) bool { return c.User == "mosquitto" }},
	"bind_address":             {"bind_address 10.0.0.1", func(c config) bool { return c.Listeners[0].Address == "10.0.0.1" && c.Listeners[0].Port == 1883 }},
	"bind_interface":           {"listener 1883\nbind_interface br-lan", func(c config) bool { return c.Listeners[0].BindInterface == "br-lan" }},
	"listener":                 {"listener 1883 ::\nlistener 0 /run/m.sock", func(c config) bool { return c.Listeners[0].Address == "::" && c.Listeners[1].unixSocket() }},
	"max_connections":          {"listener 1883\nmax_connections 4", func(c config) bool { return c.Listeners[0].MaxConnections == 4 }},
	"max_qos":                  {"listener 1883\nmax_qos 1", func(c config) bool { return c.Listeners[0].MaxQoS == 2 }},
	"max_topic_alias":          {"listener 1883\nmax_topic_alias 0", func(c config) bool { return c.Listeners[0].MaxTopicAlias == 1 }},
	"port":                     {"port 1884", func(c config) bool { return c.Listeners[0].Port == 1884 }},
	"mount_point":              {"listener 1883\nmount_point guest/", func(c config) bool { return c.Listeners[0].MountPoint == "guest/" }},
	"protocol":                 {"listener 9001\nprotocol websockets", func(c config) bool { return c.Listeners[0].Protocol == "websockets" }},
	"socket_domain":            {"listener 1883\nsocket_domain ipv4", func(c config) bool { return c.Listeners[0].SocketDomain == "ipv4" }},
	"use_username_as_clientid": {"listener 1883\nuse_username_as_clientid true", func(c config) bool { return c.Listeners[0].UseUsernameAsClientID }},
	"cafile":                   {"listener 8883\ncafile /ca.pem", func(c config) bool { return c.Listeners[0].CAFile == "/ca.pem" }},
	"certfile":                 {"listener 8883\ncertfile /c.pem", func(c config) bool { return c.Listeners[0].CertFile == "/c.pem" }},
	"keyfile":                  {"listener 8883\nkeyfile /k.pem", func(c config) bool { return c.Listeners[0].KeyFile == "/k.pem" }},
	"require_certificate":      {"listener 8883\nrequire_certificate true", func(c config) bool { return c.Listeners[0].RequireCertificate }},
	"tls_keyform":              {"listener 8883\ntls_keyform pem", func(c config) bool { return true }},
	"tls_version":              {"listener 8883\ntls_version tlsv1.3", func(c config) bool { return c.Listeners[0].TLSVersion == "tlsv1.3" }},
	"use_identity_as_username": {"listener 8883\nuse_identity_as_username true", func(c config) bool { return c.Listeners[0].UseIdentityAsUsername }},
	"use_subject_as_username":  {"listener 8883\nuse_subject_as_username true", func(c config) bool { return c.Listeners[0].UseSubjectAsUsername }},
	"capath":                   {"listener 8883\ncapath /etc/ssl/cas", func(c config) bool { return c.Listeners[0].CAPath == "/etc/ssl/cas" }},
	"crlfile":                  {"listener 8883\ncrlfile /crl.pem", func(c config) bool { return c.Listeners[0].CRLFile == "/crl.pem" }},
	"connect_timeout":          {"connect_timeout 5", func(c config) bool { return c.ConnectTimeout == 5*time.Second }},
	"max_queued_messages_total": {"max_queued_messages_total 9", func(c config) bool {
		return c.MaxQueuedTotal == 9 && c.MaxQueuedTotalSet
	}},
	"max_subscriptions": {"max_subscriptions 9", func(c config) bool { return c.MaxSubscriptions == 9 }},
	"max_topic_length":  {"max_topic_length 99", func(c config) bool { return c.MaxTopicLength == 99 }},
	"max_topic_levels":  {"max_topic_levels 9", func(c config) bool { return c.MaxTopicLevels == 9 }},
	"serial":            {"serial s1 /dev/ttyS1", func(c config) bool { return c.Serial.Ports[0].Device == "/dev/ttyS1" }},
	"serial_*":          {"serial s1 /dev/ttyS1\nserial_baud 19200", func(c config) bool { return c.Serial.Ports[0].Baud == 19200 }},
	"modbus_*": {"serial s1 /dev/ttyS1\nserial_format modbus\nmodbus_poll 5s\nmodbus_register 1 input 0 uint16 v",
		func(c config) bool {
			return c.Serial.Ports[0].Modbus.Poll == 5*time.Second && len(c.Serial.Ports[0].Modbus.Registers) == 1
		}},
	"store_max_bytes": {"store_max_bytes 4M", func(c config) bool { return c.StoreMaxBytes == 4<<20 }},
	"sync":            {"sync interval 5", func(c config) bool { return c.SyncInterval == 5*time.Second }},

	"connection": {bridgeBlock, func(c config) bool {
		return len(c.Bridges) == 1 && c.Bridges[0].Name == "cloud" && c.Bridges[0].Line == 1
	}},
	"address": bridgeCase("", func(b bridgeConf) bool { return slices.Equal(b.Addresses, []string{"broker.example:1883"}) }),
	"addresses": {"connection c\naddresses a.example b.example:1884\ntopic t", func(c config) bool {
		return slices.Equal(c.Bridges[0].Addresses, []string{"a.example:1883", "b.example:1884"})
	}},
	"topic": bridgeCase("topic # both 2 local/ remote/", func(b bridgeConf) bool {
		return len(b.Topics) == 2 && reflect.DeepEqual(b.Topics[1], mqtt.BridgeTopic{Pattern: "#", Direction: mqtt.BridgeBoth, QoS: 2, LocalPrefix: "local/", RemotePrefix: "remote/"})
	}),
	"round_robin":             bridgeCase("round_robin true", func(b bridgeConf) bool { return b.RoundRobin }),
	"bridge_protocol_version": bridgeCase("bridge_protocol_version mqttv50", func(b bridgeConf) bool { return b.ProtocolVersion == 5 }),
	"cleansession":            bridgeCase("cleansession true", func(b bridgeConf) bool { return b.CleanSession && b.LocalCleanSession }),
	"local_cleansession":      bridgeCase("local_cleansession true", func(b bridgeConf) bool { return !b.CleanSession && b.LocalCleanSession }),
	"remote_clientid":         bridgeCase("remote_clientid site1", func(b bridgeConf) bool { return b.RemoteClientID == "site1" && b.LocalClientID == "local.site1" }),
	"clientid":                bridgeCase("clientid site1", func(b bridgeConf) bool { return b.RemoteClientID == "site1" }),
	"local_clientid":          bridgeCase("local_clientid here", func(b bridgeConf) bool { return b.LocalClientID == "here" }),
	"remote_username":         bridgeCase("remote_username site 1", func(b bridgeConf) bool { return b.RemoteUsername == "site 1" }),
	"username":                bridgeCase("username site1", func(b bridgeConf) bool { return b.RemoteUsername == "site1" }),
	"remote_password": bridgeCase("remote_username u\nremote_password two words", func(b bridgeConf) bool {
		return b.RemotePassword == "two words" && b.HasRemotePassword
	}),
	"password":           bridgeCase("username u\npassword pw", func(b bridgeConf) bool { return b.RemotePassword == "pw" && b.HasRemotePassword }),
	"keepalive_interval": bridgeCase("keepalive_interval 30", func(b bridgeConf) bool { return b.KeepAlive == 30*time.Second }),
	"restart_timeout": bridgeCase("restart_timeout 10 60", func(b bridgeConf) bool {
		return b.RestartBase == 10*time.Second && b.RestartCap == time.Minute
	}),
	"start_type":                 bridgeCase("start_type lazy", func(b bridgeConf) bool { return b.StartType == "lazy" }),
	"threshold":                  bridgeCase("threshold 3", func(b bridgeConf) bool { return b.Threshold == 3 }),
	"idle_timeout":               bridgeCase("idle_timeout 90", func(b bridgeConf) bool { return b.IdleTimeout == 90*time.Second }),
	"notifications":              bridgeCase("notifications false", func(b bridgeConf) bool { return !b.Notifications }),
	"notification_topic":         bridgeCase("notification_topic site1/bridge state", func(b bridgeConf) bool { return b.NotificationTopic == "site1/bridge state" }),
	"notifications_local_only":   bridgeCase("notifications_local_only true", func(b bridgeConf) bool { return b.NotificationsLocalOnly }),
	"try_private":                bridgeCase("try_private false", func(b bridgeConf) bool { return !b.TryPrivate }),
	"bridge_attempt_unsubscribe": bridgeCase("bridge_attempt_unsubscribe false", func(b bridgeConf) bool { return !b.AttemptUnsubscribe }),
	"bridge_outgoing_retain":     bridgeCase("bridge_outgoing_retain false", func(b bridgeConf) bool { return !b.OutgoingRetain }),
	"bridge_max_packet_size":     bridgeCase("bridge_max_packet_size 65536", func(b bridgeConf) bool { return b.MaxPacketSize == 65536 }),
	"bridge_max_inflight":        bridgeCase("bridge_max_inflight 5", func(b bridgeConf) bool { return b.MaxInflight == 5 }),
	"bridge_bind_address":        bridgeCase("bridge_bind_address 192.168.1.1", func(b bridgeConf) bool { return b.BindAddress == "192.168.1.1" }),
	"bridge_cafile":              bridgeCase("bridge_cafile /etc/ca.pem", func(b bridgeConf) bool { return b.CAFile == "/etc/ca.pem" && b.tls() }),
	"bridge_capath":              bridgeCase("bridge_capath /etc/ssl/cas", func(b bridgeConf) bool { return b.CAPath == "/etc/ssl/cas" && b.tls() }),
	"bridge_certfile": bridgeCase("bridge_cafile /ca.pem\nbridge_certfile /c.pem\nbridge_keyfile /k.pem", func(b bridgeConf) bool {
		return b.CertFile == "/c.pem"
	}),
	"bridge_keyfile": bridgeCase("bridge_cafile /ca.pem\nbridge_certfile /c.pem\nbridge_keyfile /k.pem", func(b bridgeConf) bool {
		return b.KeyFile == "/k.pem"
	}),
	"bridge_insecure":     bridgeCase("bridge_cafile /ca.pem\nbridge_insecure true", func(b bridgeConf) bool { return b.Insecure }),
	"bridge_tls_version":  bridgeCase("bridge_cafile /ca.pem\nbridge_tls_version tlsv1.3", func(b bridgeConf) bool { return b.TLSVersion == "tlsv1.3" }),
	"bridge_alpn":         bridgeCase("bridge_cafile /ca.pem\nbridge_alpn mqtt", func(b bridgeConf) bool { return b.ALPN == "mqtt" }),
	"bridge_require_ocsp": bridgeCase("bridge_require_ocsp false", func(b bridgeConf) bool { return true }),
}

// bridgeBlock is the smallest bridge: a connection line, an address and a
// topic.
const bridgeBlock = "connection cloud\naddress broker.example\ntopic a/#\n"

// bridgeCase is a directiveCases entry for a bridge directive: lines
// added to bridgeBlock, and a check of the bridge they give.
func bridgeCase(lines string, check func(b bridgeConf) bool) struct {
	text  string
	check func(c config) bool
} {
	return struct {
		text  string
		check func(c config) bool
	}{bridgeBlock + lines, func(c config) bool { return len(c.Bridges) == 1 && check(c.Bridges[0]) }}
}

// TestConfigEveryDirective parses every directive of the table: an
// honoured one must change the config as its case says, an accepted one
// must give its INFO line, a refused one must be refused by name with the
// table's reason.
func TestConfigEveryDirective(t *testing.T) {
	inc := t.TempDir()
	if err := os.WriteFile(filepath.Join(inc, "k.conf"), []byte("max_keepalive 33\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range directiveTable() {
		name := strings.ReplaceAll(d.Name, "*", "x")
		t.Run(d.Name, func(t *testing.T) {
			switch d.Status {
			case "info":
				text, line := name+" 1\n", "1"
				if d.Scope == "bridge" {
					text, line = bridgeBlock+text, "4"
				}
				c, err := parseConfText(t, text)
				if err != nil {
					t.Fatal(err)
				}
				want := "test.conf:" + line + ": " + name + " accepted, no action needed: " + d.Text
				if len(c.Notices) != 1 || c.Notices[0] != want {
					t.Errorf("notices %q, want [%q]", c.Notices, want)
				}
			case "refused":
				_, err := parseConfText(t, name+" x\n")
				if err == nil || !strings.Contains(err.Error(), "directive "+name+" is not supported by gatemq: "+d.Text) {
					t.Errorf("error %v does not refuse %s with the table's reason", err, name)
				}
			case "honoured":
				tc, ok := directiveCases[d.Name]
				if !ok {
					t.Fatalf("no test case for honoured directive %s: add one to directiveCases", d.Name)
				}
				c, err := parseConfText(t, strings.ReplaceAll(tc.text, "%DIR%", inc)+"\n")
				if err != nil {
					t.Fatal(err)
				}
				if !tc.check(c) {
					t.Errorf("%q parsed as %+v", tc.text, c)
				}
				if len(c.Notices) != 0 {
					t.Errorf("honoured directive gave notices %q", c.Notices)
				}
			}
		})
	}
}

// TestConfigAllErrorsInOnePass checks that a file with several problems
// (in itself and in a file of its include_dir) reports all of them, each
// with its file and line.
func TestConfigAllErrorsInOnePass(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(inc, 0o755); err != nil {
		t.Fatal(err)
	}
	// The included file starts outside the main file's bridge block.
	if err := os.WriteFile(filepath.Join(inc, "b.conf"), []byte("listener 1883\nmax_qos 7\ntopic x/#\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "mosquitto.conf")
	text := "autosave_interval 1800\nmax_inflight_bytes 100\nfrobnicate 1\nconnection cloud\ninclude_dir " + inc +
		"\nmax_keepalive x\ntopic a/# out 3\naddress broker.example\n"
	if err := os.WriteFile(main, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadConfigFile(main, defaultConfig())
	if err == nil {
		t.Fatal("no error")
	}
	// A bridge block's own problems come when it ends (here: at the end
	// of the file), at its connection line.
	want := []string{
		main + ":2: max_inflight_bytes 100",
		main + `:3: unknown directive "frobnicate"`,
		filepath.Join(inc, "b.conf") + ":2: max_qos must be between 0 and 2, got 7",
		filepath.Join(inc, "b.conf") + ":3: topic outside a bridge block",
		main + `:6: max_keepalive must be a whole number, got "x"`,
		main + ":7: topic QoS must be between 0 and 2, got 3",
		main + ":4: bridge cloud has no topic",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want it to start %q", i, lines[i], w)
		}
	}
}

// TestConfigIncludeDirOrder checks Mosquitto's order of include_dir's
// files and that only *.conf files are read.
func TestConfigIncludeDirOrder(t *testing.T) {
	dir := t.TempDir()
	for i, n := range []string{"b.conf", "A.conf", "01.conf", "a.conf", "B.conf", "00.conf", "z.conf.bak", "README"} {
		text := "listener " + itoa(2000+i) + "\n"
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := parseConfText(t, "include_dir "+dir+"\n")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, l := range c.Listeners {
		got = append(got, l.Port)
	}
	// 00, 01, A, a, B, b
	want := []int{2005, 2002, 2001, 2003, 2004, 2000}
	if len(got) != len(want) {
		t.Fatalf("listeners %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("listeners %v, want %v", got, want)
		}
	}
	if _, err := parseConfText(t, "include_dir "+filepath.Join(dir, "missing")+"\n"); err == nil {
		t.Error("a missing include_dir folder is not an error")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestGeneratedDocs checks that README.md and the man pages match the
// directive table (scripts/gendoc -check) and that man reads the pages
// without warnings.
func TestGeneratedDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gatemq")
	}
	if out, err := exec.Command("go", "run", "./scripts/gendoc", "-check").CombinedOutput(); err != nil {
		t.Fatalf("generated docs are stale (run go generate .): %v\n%s", err, out)
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Logf("man is not installed: the pages are not rendered")
		return
	}
	for _, page := range []string{"man/gatemq.8", "man/gatemq.conf.5"} {
		cmd := exec.Command("man", "--warnings", "-l", page)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
		out, err := cmd.Output()
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		if err != nil || !strings.Contains(string(out), "NAME") {
			t.Errorf("man -l %s: %v\n%s", page, err, stderr)
		}
		if stderr != "" {
			t.Errorf("man -l %s warns:\n%s", page, stderr)
		}
	}
}
