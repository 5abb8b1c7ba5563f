package main

// Drop-in tests: real-world Mosquitto config files run unchanged under
// the built gatemq binary (Debian's default with a conf.d, a Home
// Assistant add-on's, an OpenWrt router's), with privileges dropped,
// pid and log files written, and Mosquitto's log lines.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// debianMosquittoConf is Debian's (and Raspberry Pi OS's)
// /etc/mosquitto/mosquitto.conf, used when the machine has none.
const debianMosquittoConf = `# Place your local configuration in /etc/mosquitto/conf.d/
#
# A full description of the configuration file is at
# /usr/share/doc/mosquitto/examples/mosquitto.conf.example

pid_file /run/mosquitto/mosquitto.pid

persistence true
persistence_location /var/lib/mosquitto/

log_dest file /var/log/mosquitto/mosquitto.log

include_dir /etc/mosquitto/conf.d
`

// waitFile waits until the file at path matches re and returns the match.
func waitFile(t *testing.T, p *proc, path string, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		b, _ := os.ReadFile(path)
		if m := re.FindStringSubmatch(string(b)); m != nil {
			return m
		}
		select {
		case <-tick.C:
		case <-p.done:
			t.Fatalf("%s exited (%v) before %s held %q:\n%s\n--- stderr:\n%s", p.name, p.err, path, re, b, p.stderr.String())
		case <-deadline:
			t.Fatalf("%s does not hold %q after %v:\n%s", path, re, timeout, b)
		}
	}
}

// writeFiles writes name -> text below dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// passwordFile writes a Mosquitto password file for user:password with
// `gatemq passwd`.
func passwordFile(t *testing.T, path, user, password string) {
	t.Helper()
	if code, _, stderr := runGatemq(t, "passwd", "-c", "-b", path, user, password); code != 0 {
		t.Fatalf("gatemq passwd: %s", stderr)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// procIDs returns the Uid: and Gid: lines' values from /proc/PID/status.
func procIDs(t *testing.T, pid int) (uids, gids []string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			uids = strings.Fields(v)
		}
		if v, ok := strings.CutPrefix(l, "Gid:"); ok {
			gids = strings.Fields(v)
		}
	}
	return uids, gids
}

// requireRoot skips loudly when the test is not run as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "needs root (privileges are dropped, mount namespaces)"
		if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
			t.Fatalf("GATEMQ_REQUIRE_TOOLS=1 but the test %s", msg)
		}
		fmt.Fprintf(os.Stderr, "\n!!!!!!!!!! SKIPPING %s: %s !!!!!!!!!!\n\n", t.Name(), msg)
		t.Skipf("SKIPPED, NOT TESTED: %s", msg)
	}
}

// TestDropInDebianDefault runs Debian's default mosquitto.conf, unchanged
// and at its own paths, as root: a private mount namespace puts fresh
// folders at /etc/mosquitto (the config with a conf.d holding a listener,
// a password file, an ACL and `user nobody`), /var/lib/mosquitto,
// /var/log/mosquitto and /run. gatemq must drop to nobody after binding,
// write the pid and log files and serve the ports.
func TestDropInDebianDefault(t *testing.T) {
	requireRoot(t)
	unshare := requireTool(t, "unshare", "util-linux")
	m := &mosq{pub: requireTool(t, "mosquitto_pub", "mosquitto-clients"), sub: requireTool(t, "mosquitto_sub", "mosquitto-clients"),
		stdbuf: requireTool(t, "stdbuf", "coreutils")}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	mainConf := debianMosquittoConf
	if b, err := os.ReadFile("/etc/mosquitto/mosquitto.conf"); err == nil {
		mainConf = string(b) // the machine's own, unchanged
	}
	port := freePort(t)
	etc, lib, logs, run := filepath.Join(root, "etc"), filepath.Join(root, "lib"), filepath.Join(root, "log"), filepath.Join(root, "run")
	writeFiles(t, root, map[string]string{
		"etc/mosquitto.conf":    mainConf,
		"etc/conf.d/README":     "Any files placed in this directory that have a .conf ending will be loaded as config files.\n",
		"etc/conf.d/local.conf": fmt.Sprintf("user nobody\nlistener %d 127.0.0.1\npassword_file /etc/mosquitto/passwd\nacl_file /etc/mosquitto/acl\n", port),
		"etc/acl":               "user alice\ntopic readwrite home/#\n",
	})
	passwordFile(t, filepath.Join(etc, "passwd"), "alice", "secret")
	for _, d := range []string{lib, logs, filepath.Join(run, "mosquitto")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	if err := os.Chown(lib, uid, gid); err != nil { // as Debian's package does for its user
		t.Fatal(err)
	}
	script := fmt.Sprintf(`set -e
mkdir -p /var/lib/mosquitto /var/log/mosquitto /etc/mosquitto
mount --bind %[1]s /etc/mosquitto
mount --bind %[2]s /var/lib/mosquitto
mount --bind %[3]s /var/log/mosquitto
mount --bind %[4]s /run
exec %[5]s -c /etc/mosquitto/mosquitto.conf`, etc, lib, logs, run, gatemqBinary(t))
	p := startProc(t, nil, unshare, "--mount", "--propagation", "private", "sh", "-c", script)
	logFile := filepath.Join(logs, "mosquitto.log")
	waitFile(t, p, logFile, regexp.MustCompile(`msg="gatemq started"`), 20*time.Second)

	pid := p.cmd.Process.Pid
	uids, gids := procIDs(t, pid)
	for _, u := range uids {
		if u != nobody.Uid {
			t.Errorf("/proc/%d/status Uid: %v, want all %s (nobody)", pid, uids, nobody.Uid)
			break
		}
	}
	if len(gids) == 0 || gids[0] != nobody.Gid {
		t.Errorf("/proc/%d/status Gid: %v, want %s", pid, gids, nobody.Gid)
	}
	if b, err := os.ReadFile(filepath.Join(run, "mosquitto", "mosquitto.pid")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		t.Errorf("pid file holds %q (%v), want %d", b, err, pid)
	}

	// The port is still served, with the password file and the ACL.
	m.addr, m.host, m.port = "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1", strconv.Itoa(port)
	sub := m.subscribe(t, "-i", "debian-sub", "-u", "alice", "-P", "secret", "-t", "home/#", "-C", "1")
	m.publish(t, "", "-i", "debian-pub", "-u", "alice", "-P", "secret", "-t", "home/lamp", "-m", "on", "-q", "1")
	if got := messages(t, sub); len(got) != 1 || got[0] != "home/lamp on" {
		t.Errorf("subscriber got %q", got)
	}
	// The store is in Debian's folder and belongs to nobody.
	entries, _ := os.ReadDir(lib)
	if len(entries) == 0 {
		t.Errorf("nothing in persistence_location")
	}
	waitFile(t, p, logFile, regexp.MustCompile(`New client connected from 127\.0\.0\.1:\d+ as debian-pub \(p2, c1, k60, u'alice'\)\.`), 10*time.Second)
	waitFile(t, p, logFile, regexp.MustCompile(`Client debian-pub disconnected\.`), 10*time.Second)
	text, _ := os.ReadFile(logFile)
	for _, want := range []string{"dropped privileges", `msg="New connection from 127.0.0.1:`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("log file lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), "level=DEBUG") {
		t.Errorf("debug lines in the log file (log_type default):\n%s", text)
	}
}

// TestDropInHomeAssistantAddon runs a config in the style of Home
// Assistant's Mosquitto add-on: an MQTT and a WebSocket listener, password
// and ACL files, persistence in /data/ (a temporary folder here), logs on
// stdout with several log_type lines.
func TestDropInHomeAssistantAddon(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data") + "/"
	mqttPort, wsPort := freePort(t), freePort(t)
	passwordFile(t, filepath.Join(dir, "passwd"), "homeassistant", "hapass")
	writeFiles(t, dir, map[string]string{
		"acl": "user homeassistant\ntopic readwrite #\n",
		"mosquitto.conf": fmt.Sprintf(`# Home Assistant Mosquitto add-on
log_dest stdout
log_type error
log_type warning
log_type notice
log_type information
log_type subscribe
log_timestamp_format %%Y-%%m-%%d %%H:%%M:%%S
per_listener_settings false
allow_anonymous false
password_file %[1]s/passwd
acl_file %[1]s/acl

persistence true
persistence_location %[2]s

listener %[3]d
protocol mqtt

listener %[4]d
protocol websockets
`, dir, data, mqttPort, wsPort),
	})
	p := startProc(t, nil, gatemqBinary(t), "-c", filepath.Join(dir, "mosquitto.conf"))
	m := p.waitFor(t, p.stdout, regexp.MustCompile(`time="[0-9-]+ [0-9:]+" level=INFO msg="gatemq started".*listening="([^"]*)"`), 15*time.Second)
	if !strings.Contains(m[1], ":"+strconv.Itoa(wsPort)+" (websockets)") {
		t.Errorf("start line does not mark the WebSocket listener: %q", m[1])
	}
	if p.stderr.String() != "" {
		t.Errorf("stderr is not a log_dest here, but got:\n%s", p.stderr.String())
	}
	received := newOutputBuffer()
	ws := twMustPaho(t, "ws://127.0.0.1:"+strconv.Itoa(wsPort), "ha-ws", nil, received, "homeassistant", "hapass")
	if tok := ws.Subscribe("homeassistant/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	tcp := twMustPaho(t, "tcp://127.0.0.1:"+strconv.Itoa(mqttPort), "ha-tcp", nil, nil, "homeassistant", "hapass")
	if tok := tcp.Publish("homeassistant/status", 1, true, "online"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	p.waitFor(t, received, regexp.MustCompile(`homeassistant/status online`), 10*time.Second)
	p.waitFor(t, p.stdout, regexp.MustCompile(`level=NOTICE msg="New client connected from 127\.0\.0\.1:\d+ as ha-tcp \(p2, c1, k30, u'homeassistant'\)\."`), 5*time.Second)
	p.waitFor(t, p.stdout, regexp.MustCompile(`msg="ha-ws 1 homeassistant/#" log_type=subscribe`), 5*time.Second)
	if _, err := twPaho(t, "tcp://127.0.0.1:"+strconv.Itoa(mqttPort), "intruder", nil, nil); err == nil {
		t.Error("an anonymous client was admitted")
	}
	p.waitFor(t, p.stdout, regexp.MustCompile(`msg="Client intruder disconnected, not authorised\."`), 5*time.Second)
	if entries, err := os.ReadDir(data); err != nil || len(entries) == 0 {
		t.Errorf("persistence_location %s is empty (%v)", data, err)
	}
}

// TestDropInOpenWrt runs a config as OpenWrt's mosquitto package writes it
// from UCI: every option spelled out, many of which need no action in
// gatemq (one INFO line each), syslog (absent here: gatemq goes on) and
// the $SYS log topics.
func TestDropInOpenWrt(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	userLine := "# user mosquitto (not root here)"
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("mosquitto"); err == nil {
			userLine = "user mosquitto"
			for _, d := range []string{dir, filepath.Dir(dir)} { // t.TempDir's folders are root's, mode 0700
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	conf := fmt.Sprintf(`# mosquitto.conf generated by /etc/init.d/mosquitto from /etc/config/mosquitto
%[1]s
pid_file %[2]s/mosquitto.pid
log_dest syslog
log_dest stderr
log_dest topic
log_type error
log_type warning
log_type notice
log_type information
log_facility 3
log_timestamp true
connection_messages true
autosave_interval 1800
autosave_on_changes false
persistence true
persistence_file mosquitto.db
persistence_location %[2]s/state/
per_listener_settings false
allow_duplicate_messages false
max_inflight_messages 20
max_queued_messages 100
queue_qos0_messages false
retain_available true
set_tcp_nodelay false
sys_interval 1
upgrade_outgoing_qos false
allow_anonymous true
allow_zero_length_clientid true
auto_id_prefix lan-
check_retain_source true
listener %[3]d 127.0.0.1
protocol mqtt
max_qos 2
`, userLine, dir, port)
	writeFiles(t, dir, map[string]string{"mosquitto.conf": conf})
	p := startProc(t, nil, gatemqBinary(t), "-c", filepath.Join(dir, "mosquitto.conf"))
	p.waitFor(t, p.stderr, regexp.MustCompile(`msg="gatemq started"`), 15*time.Second)
	for _, d := range []string{"autosave_interval", "autosave_on_changes", "allow_duplicate_messages"} {
		if !strings.Contains(p.stderr.String(), d+" accepted, no action needed: ") {
			t.Errorf("no INFO line for %s:\n%s", d, p.stderr.String())
		}
	}
	m := &mosq{pub: requireTool(t, "mosquitto_pub", "mosquitto-clients"), sub: requireTool(t, "mosquitto_sub", "mosquitto-clients"),
		stdbuf: requireTool(t, "stdbuf", "coreutils"), addr: "127.0.0.1:" + strconv.Itoa(port), host: "127.0.0.1", port: strconv.Itoa(port)}
	// The watcher's own "New client connected" line may come before or
	// after its subscription is in place: with two connections the first
	// three lines hold a client's line either way.
	logs := m.subscribe(t, "-i", "watcher", "-t", "$SYS/broker/log/N", "-C", "3")
	mqttConnect(t, m.addr, "").Close() // an empty id gets one with auto_id_prefix
	mqttConnect(t, m.addr, "").Close()
	got := messages(t, logs)
	joined := strings.Join(got, "\n")
	if !regexp.MustCompile(`\$SYS/broker/log/N time=\S+ level=NOTICE msg="New client connected from 127\.0\.0\.1:\d+ as lan-\S+ \(p2, c1, k60\)\."`).MatchString(joined) {
		t.Errorf("$SYS/broker/log/N got:\n%s", joined)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "mosquitto.pid")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(p.cmd.Process.Pid) {
		t.Errorf("pid file %q (%v)", b, err)
	}
	if _, err := net.Dial("tcp", m.addr); err != nil {
		t.Errorf("port not served: %v", err)
	}
}

// TestCLIConfigErrorsAllAtOnce checks that the binary lists every problem
// of a config file, each on its own line with file and line, and exits 1.
func TestCLIConfigErrorsAllAtOnce(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "max_inflight_bytes 100\nlisten 1883\nconnection cloud\nallow_anonymous maybe\n")
	code, _, stderr := runGatemq(t, "-c", cfg)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stderr)
	}
	for i, want := range []string{"max_inflight_bytes 100", `unknown directive "listen" (did you mean listener?`,
		"bridge cloud has no address", `allow_anonymous must be true or false, got "maybe"`} {
		line := fmt.Sprintf("gatemq: %s:%d: ", cfg, i+1)
		if !strings.Contains(stderr, line) || !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q ... %q:\n%s", line, want, stderr)
		}
	}
}

// TestCLIHelpListsDirectives checks that -h is complete without the
// README: every directive of the table with what gatemq does.
func TestCLIHelpListsDirectives(t *testing.T) {
	t.Parallel()
	_, _, stderr := runGatemq(t, "-h")
	for _, d := range directiveTable() {
		if !strings.Contains(stderr, "  "+d.Syntax) {
			t.Errorf("gatemq -h lacks %q", d.Syntax)
		}
	}
	for _, want := range []string{"autosave_interval SECONDS  [info]", "bridge_psk KEY  [refused]", "serial_baud N"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("gatemq -h lacks %q", want)
		}
	}
}

// TestCLIBusyPortSuggestsMosquitto checks the busy-port message names the
// address and suggests a Mosquitto that is still running.
func TestCLIBusyPortSuggestsMosquitto(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := runGatemq(t, "-memory", "-listen", ln.Addr().String())
	if code != 1 || !strings.Contains(stderr, "cannot listen on "+ln.Addr().String()) || !strings.Contains(stderr, "is Mosquitto still running?") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// TestCLIUnixSocketAndLogRotation serves a Unix socket listener next to a
// TCP one (the start line marks it), logs to a file, and reopens the file
// on SIGHUP after logrotate moved it.
func TestCLIUnixSocketAndLogRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "mqtt.sock")
	logFile := filepath.Join(dir, "gatemq.log")
	port := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf("listener 0 %s\nlistener %d 127.0.0.1\nallow_anonymous true\nlog_dest file %s\nlog_dest stderr\nlog_timestamp false\n", sock, port, logFile))
	b := startGatemq(t, "-c", cfg, "-memory")
	if !strings.Contains(strings.Join(b.listening, " "), sock+" (unix socket)") {
		t.Errorf("start line %q does not mark the Unix socket", b.listening)
	}
	m := &mosq{pub: requireTool(t, "mosquitto_pub", "mosquitto-clients"), sub: requireTool(t, "mosquitto_sub", "mosquitto-clients"),
		stdbuf: requireTool(t, "stdbuf", "coreutils"), host: "127.0.0.1", port: strconv.Itoa(port)}
	sub := startProc(t, nil, m.stdbuf, "-oL", m.sub, "--unix", sock, "-t", "u/#", "-v", "-C", "1", "-W", "10", "-i", "unix-sub")
	waitFile(t, b.proc, logFile, regexp.MustCompile(`as unix-sub \(p2, c1, k60\)`), 10*time.Second)
	m.publish(t, "", "-t", "u/x", "-m", "via tcp")
	sub.waitFor(t, sub.stdout, regexp.MustCompile(`u/x via tcp`), 10*time.Second)

	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, b.stderr, regexp.MustCompile(`reloaded password and ACL files`), 10*time.Second)
	m.publish(t, "", "-i", "after-rotation", "-t", "u/y", "-m", "x")
	waitFile(t, b.proc, logFile, regexp.MustCompile(`as after-rotation `), 10*time.Second)
	if text, _ := os.ReadFile(logFile); strings.Contains(string(text), "time=") {
		t.Errorf("log_timestamp false, but the file has times:\n%s", text)
	}
}

// TestCLIUser checks `user`: an unknown user stops gatemq as root; as
// another user the directive is ignored with an INFO line.
func TestCLIUser(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "user no-such-user-gatemq\n")
	if os.Geteuid() != 0 {
		b := startGatemqOnPort(t, "-c", cfg, "-memory")
		b.waitFor(t, b.stderr, regexp.MustCompile(`user no-such-user-gatemq ignored: gatemq does not run as root`), 5*time.Second)
		return
	}
	code, _, stderr := runGatemq(t, "-c", cfg, "-memory", "-p", strconv.Itoa(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "user no-such-user-gatemq: ") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// TestDropInMosquittoDB lets Debian's mosquitto save its state
// (mosquitto.db, format 6) with retained messages, a 3.1.1 persistent
// session with queued and in-flight messages and a 5.0 session, then
// starts gatemq on the same folder: it must import all of it on its first
// start, leave the file as it is, and not import again once it has its
// own log.
func TestDropInMosquittoDB(t *testing.T) {
	bin := requireTool(t, "mosquitto", "mosquitto")
	m := &mosq{pub: requireTool(t, "mosquitto_pub", "mosquitto-clients"), sub: requireTool(t, "mosquitto_sub", "mosquitto-clients"),
		stdbuf: requireTool(t, "stdbuf", "coreutils"), host: "127.0.0.1"}
	dir := t.TempDir()
	port := freePort(t)
	m.port, m.addr = strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(port)
	conf := filepath.Join(dir, "mosquitto.conf")
	writeFiles(t, dir, map[string]string{"mosquitto.conf": fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nuser root\n", port, dir)})
	mq := startProc(t, nil, bin, "-c", conf)
	waitFor := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", m.addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(waitFor) {
			t.Fatalf("mosquitto does not listen:\n%s", mq.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	run := func(path string, args ...string) {
		t.Helper()
		p := startProc(t, nil, path, append([]string{"-h", "127.0.0.1", "-p", m.port}, args...)...)
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Fatalf("%s %v exited %d: %s", path, args, code, p.stderr.String())
		}
	}
	run(m.pub, "-t", "home/lamp", "-m", "on", "-r", "-q", "1")
	run(m.pub, "-t", "home/temp", "-m", "21.5", "-r")
	// The retained home/lamp goes to sess1 as it subscribes and stays in
	// flight (-E leaves before the PUBACK).
	run(m.sub, "-i", "sess1", "-c", "-q", "1", "-t", "alerts/+", "-t", "home/#", "-E")
	run(m.sub, "-i", "sess5", "-c", "-q", "2", "-t", "v5/#", "-V", "mqttv5", "-x", "3600", "-E")
	run(m.pub, "-t", "alerts/door", "-m", "open", "-q", "1")
	run(m.pub, "-t", "alerts/window", "-m", "shut", "-q", "1")
	run(m.pub, "-t", "v5/x", "-m", "five", "-q", "2", "-V", "mqttv5")
	_ = mq.cmd.Process.Signal(syscall.SIGTERM)
	if code := mq.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("mosquitto exited %d", code)
	}
	dbPath := filepath.Join(dir, "mosquitto.db")
	before, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatalf("mosquitto saved no state: %v", err)
	}

	g := startProc(t, nil, gatemqBinary(t), "-c", conf)
	g.waitFor(t, g.stderr, regexp.MustCompile(`msg="gatemq started"`), 15*time.Second)
	// skipped: about one run in ten Mosquitto still holds a record it
	// does not deliver (a QoS 0 copy) when SIGTERM saves its state.
	if !regexp.MustCompile(`msg="imported Mosquitto's saved state \(the file is left as it is\)" file=\S+mosquitto.db sessions=2 subscriptions=3 queued=3 inflight=1 retained=2 inbound_qos2=0 skipped=[01]`).MatchString(g.stderr.String()) {
		t.Errorf("no import line with the expected counts:\n%s", g.stderr.String())
	}
	got := messagesOf(t, m, "-i", "sess1", "-c", "-q", "1", "-t", "alerts/+", "-C", "3")
	if strings.Join(got, ",") != "alerts/door open,alerts/window shut,home/lamp on" {
		t.Errorf("sess1 got %q, want its message in flight and its two queued ones", got)
	}
	if got := messagesOf(t, m, "-i", "sess5", "-c", "-q", "2", "-t", "v5/#", "-V", "mqttv5", "-x", "3600", "-C", "1"); strings.Join(got, ",") != "v5/x five" {
		t.Errorf("sess5 got %q", got)
	}
	if got := messagesOf(t, m, "-t", "home/#", "-C", "2"); strings.Join(got, ",") != "home/lamp on,home/temp 21.5" {
		t.Errorf("retained: %q", got)
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	g.wait(t, 10*time.Second)
	after, _ := os.ReadFile(dbPath)
	if !bytes.Equal(before, after) {
		t.Error("gatemq changed mosquitto.db")
	}
	// Its own log is there now: no second import.
	g2 := startProc(t, nil, gatemqBinary(t), "-c", conf)
	g2.waitFor(t, g2.stderr, regexp.MustCompile(`msg="gatemq started"`), 15*time.Second)
	if strings.Contains(g2.stderr.String(), "imported Mosquitto") {
		t.Errorf("imported again:\n%s", g2.stderr.String())
	}
	if got := messagesOf(t, m, "-t", "home/#", "-C", "2"); strings.Join(got, ",") != "home/lamp on,home/temp 21.5" {
		t.Errorf("retained after restart: %q", got)
	}
}

// messagesOf runs mosquitto_sub -v with args (which should hold -C) and
// returns its "topic payload" lines, sorted.
func messagesOf(t *testing.T, m *mosq, args ...string) []string {
	t.Helper()
	p := startProc(t, nil, m.sub, append([]string{"-h", m.host, "-p", m.port, "-v", "-W", "10"}, args...)...)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("mosquitto_sub %v exited %d: %s", args, code, p.stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
	slices.Sort(lines)
	return lines
}

// TestDropInPerListenerSettings runs per_listener_settings true with two
// listeners: one with a password file, one for anonymous clients limited
// by its own ACL; then a reload turns anonymous clients away on the
// second one.
func TestDropInPerListenerSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	passwordFile(t, filepath.Join(dir, "passwd"), "alice", "secret")
	p1, p2 := freePort(t), freePort(t)
	conf := func(anon bool) string {
		return fmt.Sprintf(`per_listener_settings true
listener %[1]d 127.0.0.1
password_file %[3]s/passwd

listener %[2]d 127.0.0.1
allow_anonymous %[4]v
acl_file %[3]s/acl
`, p1, p2, dir, anon)
	}
	writeFiles(t, dir, map[string]string{"gatemq.conf": conf(true), "acl": "topic read public/#\n"})
	b := startGatemq(t, "-c", filepath.Join(dir, "gatemq.conf"), "-memory")
	m := &mosq{pub: requireTool(t, "mosquitto_pub", "mosquitto-clients"), sub: requireTool(t, "mosquitto_sub", "mosquitto-clients"),
		stdbuf: requireTool(t, "stdbuf", "coreutils"), host: "127.0.0.1"}
	code := func(port int, args ...string) int {
		t.Helper()
		p := startProc(t, nil, m.pub, append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "public/x", "-m", "1"}, args...)...)
		return p.wait(t, 10*time.Second)
	}
	if code(p1) == 0 {
		t.Error("anonymous client admitted on the listener with a password file")
	}
	if code(p1, "-u", "alice", "-P", "secret") != 0 {
		t.Error("alice refused on her listener")
	}
	if code(p2) != 0 {
		t.Error("anonymous client refused on the anonymous listener")
	}
	// The second listener's ACL applies there only: reading is allowed,
	// and the subscription is granted.
	m.port = strconv.Itoa(p2)
	sub := m.subscribe(t, "-i", "anon-sub", "-t", "public/#")
	if err := os.WriteFile(filepath.Join(dir, "gatemq.conf"), []byte(conf(false)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, b.stderr, regexp.MustCompile(`disconnecting a client the reloaded password file or allow_anonymous no longer admits" client=anon-sub`), 10*time.Second)
	sub.wait(t, 10*time.Second)
	if code(p2) == 0 {
		t.Error("anonymous client admitted after the reload")
	}
}
