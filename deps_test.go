package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageDependencies keeps the arrows of DESIGN.md pointing one way:
// the broker core never imports the transport, the board or their
// libraries; qos, transport, board and board/serial import nothing of this
// module; board (the profiles) does not need the serial library, which only
// board/serial uses; flashstore imports only msgp besides the standard
// library.
func TestPackageDependencies(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string // prefixes of import paths
		onlyOurs  []string // the only gatemq packages allowed (nil: any)
	}{
		{"gatemq/mqtt", []string{"gatemq/transport", "gatemq/board", "go.bug.st/serial", "net/http", "crypto/tls", "github.com/gorilla/websocket"},
			[]string{"gatemq/mqtt", "gatemq/qos", "gatemq/flashstore"}},
		{"gatemq/qos", nil, []string{"gatemq/qos"}},
		{"gatemq/transport", nil, []string{"gatemq/transport"}},
		{"gatemq/board", []string{"gatemq/mqtt", "gatemq/board/serial", "go.bug.st/serial"}, []string{"gatemq/board"}},
		{"gatemq/board/serial", []string{"gatemq/mqtt", "gatemq/transport", "gatemq/flashstore"}, []string{"gatemq/board/serial"}},
		{"gatemq/flashstore", []string{"github.com/eclipse", "go.bug.st", "github.com/gorilla"}, []string{"gatemq/flashstore"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", r.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", r.pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range r.forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s", r.pkg, dep)
				}
			}
			if strings.HasPrefix(dep, "gatemq/") || dep == "gatemq" {
				ok := false
				for _, a := range r.onlyOurs {
					if dep == a || strings.HasPrefix(dep, a+"/") {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s depends on %s", r.pkg, dep)
				}
			}
		}
	}
}
