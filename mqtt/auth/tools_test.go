package auth

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// requireTool returns the path of an external program the test drives, or
// skips the test loudly; with GATEMQ_REQUIRE_TOOLS=1 a missing tool fails
// it instead (make test sets it after installing the Debian packages).
func requireTool(t *testing.T, name, debianPkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (Debian package %s: apt-get install -y %s)", name, debianPkg, debianPkg)
	if os.Getenv("GATEMQ_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg + "; GATEMQ_REQUIRE_TOOLS=1 makes this a failure")
	}
	t.Skip("SKIPPED, interoperability not checked: " + msg)
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMosquitto runs Debian's mosquitto with the given config lines plus a
// listener on a free loopback port, waits until it accepts connections,
// and stops it when the test ends. It returns the port.
func startMosquitto(t *testing.T, conf string) int {
	t.Helper()
	bin := requireTool(t, "mosquitto", "mosquitto")
	dir := t.TempDir()
	port := freePort(t)
	if os.Geteuid() == 0 {
		// mosquitto drops root for user "mosquitto", who cannot read t.TempDir().
		conf = "user root\n" + conf
	}
	conf += fmt.Sprintf("\nlistener %d 127.0.0.1\n", port)
	cfgPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return port
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("mosquitto exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %d after 10s:\n%s", port, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a condition: the port opening
	}
}

// runTool runs a client program with a deadline and returns its combined
// output and exit error.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
