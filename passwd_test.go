package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatemq/mqtt/auth"
)

// passwd runs the subcommand in-process and returns its exit code and output.
func passwd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = runPasswd(args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

// loadPasswords loads path with the broker's loader.
func loadPasswords(t *testing.T, path string) *auth.Passwords {
	t.Helper()
	p, err := auth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPasswdCreateUpdateDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	if code, out, errOut := passwd(t, "", "-c", "-b", path, "alice", "one"); code != 0 || !strings.Contains(out, "added") {
		t.Fatalf("-c -b: code %d, %q %q", code, out, errOut)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v err %v, want 0600", fi.Mode(), err)
	}
	// From a pipe, the first line is the password (CRLF trimmed).
	if code, _, errOut := passwd(t, "two words\r\nignored\n", path, "bob"); code != 0 {
		t.Fatalf("stdin: code %d: %s", code, errOut)
	}
	if code, out, _ := passwd(t, "", "-b", path, "alice", "three"); code != 0 || !strings.Contains(out, "updated") {
		t.Fatalf("update: code %d %q", code, out)
	}
	p := loadPasswords(t, path)
	for _, c := range []struct {
		user, pass string
		want       bool
	}{{"alice", "three", true}, {"alice", "one", false}, {"bob", "two words", true}, {"bob", "two words\r", false}} {
		if got := p.Check(c.user, []byte(c.pass)); got != c.want {
			t.Errorf("Check(%q, %q) = %v, want %v", c.user, c.pass, got, c.want)
		}
	}
	content, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(content), "alice:$7$101$") || strings.Count(string(content), "\n") != 2 {
		t.Fatalf("file:\n%s", content)
	}
	if code, out, _ := passwd(t, "", "-D", path, "alice"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("-D: code %d %q", code, out)
	}
	if p := loadPasswords(t, path); p.Has("alice") || !p.Has("bob") {
		t.Fatal("-D removed the wrong user")
	}
	if code, _, errOut := passwd(t, "", "-D", path, "alice"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("-D of a missing user: code %d %q", code, errOut)
	}
	// -c overwrites.
	if code, _, _ := passwd(t, "", "-c", "-b", path, "carol", "x"); code != 0 {
		t.Fatal("-c over an existing file failed")
	}
	if p := loadPasswords(t, path); p.Has("bob") || !p.Has("carol") {
		t.Fatal("-c did not start a new file")
	}
}

func TestPasswdErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	corrupt := filepath.Join(dir, "corrupt")
	if err := os.WriteFile(corrupt, []byte("ok:$7$1$AAAAAAAAAAAAAAAA$"+strings.Repeat("A", 86)+"==\nbroken line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"no args", "", nil, 2, "want 2 arguments"},
		{"c and D", "", []string{"-c", "-D", path, "u"}, 2, "cannot be combined"},
		{"D and b", "", []string{"-D", "-b", path, "u", "p"}, 2, "no password"},
		{"password without b", "", []string{path, "u", "p"}, 2, "needs -b"},
		{"unknown flag", "", []string{"-x", path, "u"}, 2, "-x"},
		{"missing file", "p\n", []string{path, "u"}, 1, "use -c"},
		{"missing file D", "", []string{"-D", path, "u"}, 1, "no such file"},
		{"corrupt file", "p\n", []string{corrupt, "u"}, 1, "corrupt:2"},
		{"empty password", "\n", []string{"-c", path, "u"}, 1, "empty"},
		{"no input", "", []string{"-c", path, "u"}, 1, "end of input"},
		{"colon user", "", []string{"-c", "-b", path, "a:b", "p"}, 1, "contains ':'"},
		{"empty user", "", []string{"-c", "-b", path, "", "p"}, 1, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := passwd(t, c.stdin, c.args...)
			if code != c.code || !strings.Contains(errOut, c.msg) {
				t.Fatalf("code %d, stderr %q; want %d and %q", code, errOut, c.code, c.msg)
			}
		})
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("a failed command created the file")
	}
	if code, out, _ := passwd(t, "", "-h"); code != 0 || !strings.Contains(out, "Usage: gatemq passwd") {
		t.Fatalf("-h: code %d %q", code, out)
	}
}

// TestPasswdFileAcceptedByMosquitto: a file written by `gatemq passwd`
// lets mosquitto_sub into Debian's mosquitto with the right password only,
// and one written by mosquitto_passwd is updated without harm.
func TestPasswdFileAcceptedByMosquitto(t *testing.T) {
	bin := requireTool(t, "mosquitto", "mosquitto")
	sub := requireTool(t, "mosquitto_sub", "mosquitto-clients")
	mpw := requireTool(t, "mosquitto_passwd", "mosquitto")
	path := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(mpw, "-c", "-b", path, "legacy", "old").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	if code, _, errOut := passwd(t, "s3cret\n", path, "dev"); code != 0 {
		t.Fatalf("gatemq passwd: %s", errOut)
	}
	port := freePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port, path)
	if os.Geteuid() == 0 {
		conf = "user root\n" + conf // else mosquitto drops to a user who cannot read t.TempDir()
	}
	p := startProc(t, nil, bin, "-c", writeConfig(t, conf))
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		select {
		case <-p.done:
			t.Fatalf("mosquitto exited: %v\n%s", p.err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("mosquitto does not accept connections")
		}
	}
	connect := func(user, pass string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, sub, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", user, "-P", pass,
			"-C", "1", "-W", "3", "-t", "$SYS/broker/version").CombinedOutput()
		return string(out), err
	}
	for _, c := range []struct {
		user, pass string
		ok         bool
	}{{"dev", "s3cret", true}, {"legacy", "old", true}, {"dev", "s3cret ", false}, {"dev", "", false}} {
		out, err := connect(c.user, c.pass)
		if ok := err == nil && strings.Contains(out, "mosquitto version"); ok != c.ok {
			t.Errorf("%s/%q: connected=%v (err %v, %q), want %v", c.user, c.pass, ok, err, out, c.ok)
		}
		if !c.ok && !strings.Contains(out, "not authorised") {
			t.Errorf("%s/%q: want 'not authorised', got %q", c.user, c.pass, out)
		}
	}
}
