package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDependencies keeps the arrows of DESIGN.md pointing one way:
// the broker core never imports the transport, the board or their
// libraries; qos, transport, board and board/serial import nothing of this
// module but internal/digest, the leaf that hashes without the FIPS module
// in -tags nossl, internal/textlog, the leaf that logs without log/slog,
// and internal/fmt, the leaf that formats without fmt in -tags nossl
// (board/serial/modbus, the codec, only internal/fmt; transport declares
// the Logger it needs and flashstore too); board (the profiles) does not
// need the serial library, which only board/serial uses; flashstore
// imports only the standard library and internal/fmt (its records'
// generated code uses its own flashstore/internal/msgp, not msgp's runtime
// package, whose init links encoding/json); transport speaks WebSocket
// itself, without net/http (which always brings crypto/tls) or a WebSocket
// library.
func TestPackageDependencies(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string // prefixes of import paths
		onlyOurs  []string // the only gatemq packages allowed (nil: any)
	}{
		{"gatemq/mqtt", []string{"gatemq/transport", "gatemq/board", "go.bug.st/serial", "net/http", "crypto/tls", "github.com/gorilla/websocket"},
			[]string{"gatemq/mqtt", "gatemq/qos", "gatemq/flashstore", "gatemq/internal/digest", "gatemq/internal/textlog", "gatemq/internal/fmt"}},
		{"gatemq/qos", nil, []string{"gatemq/qos"}},
		{"gatemq/transport", []string{"net/http", "github.com/gorilla/websocket"}, []string{"gatemq/transport", "gatemq/internal/digest", "gatemq/internal/fmt"}},
		{"gatemq/board", []string{"gatemq/mqtt", "gatemq/board/serial", "go.bug.st/serial"}, []string{"gatemq/board", "gatemq/internal/fmt"}},
		{"gatemq/board/serial", []string{"gatemq/mqtt", "gatemq/transport", "gatemq/flashstore"}, []string{"gatemq/board/serial", "gatemq/internal/digest", "gatemq/internal/textlog", "gatemq/internal/fmt"}},
		{"gatemq/board/serial/modbus", []string{"go.bug.st/serial"}, []string{"gatemq/board/serial/modbus", "gatemq/internal/fmt"}},
		{"gatemq/mqtt/auth", nil, []string{"gatemq/mqtt/auth", "gatemq/internal/digest", "gatemq/internal/fmt"}},
		{"gatemq/internal/digest", nil, []string{"gatemq/internal/digest"}},
		{"gatemq/internal/fmt", nil, []string{"gatemq/internal/fmt"}},
		{"gatemq/internal/cliflag", nil, []string{"gatemq/internal/cliflag"}},
		{"gatemq/internal/textlog", nil, []string{"gatemq/internal/textlog", "gatemq/internal/fmt"}},
		{"gatemq/mqtt/packet", nil, []string{"gatemq/mqtt/packet"}},
		{"gatemq/mqtt/topic", nil, []string{"gatemq/mqtt/topic"}},
		{"gatemq/mqtt/logdest", nil, []string{"gatemq/mqtt/logdest", "gatemq/internal/textlog", "gatemq/internal/fmt"}},
		{"gatemq/mqtt/mosqdb", nil, []string{"gatemq/mqtt/mosqdb", "gatemq/internal/fmt"}},
		{"gatemq/flashstore", []string{"github.com/", "go.bug.st", "golang.org/x"}, []string{"gatemq/flashstore", "gatemq/internal/fmt"}},
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

// TestBinaryDependencies keeps net/http and gorilla/websocket out of the
// binary, in the full build and in -tags nossl, which also leaves out TLS:
// on linux/mipsle net/http alone costs 0.6 MB, 1.7 MB without TLS. Test
// files may use them (the WebSocket clients of the interoperability
// tests), and go.mod keeps gorilla/websocket for Paho's ws:// client.
// runtime/pprof (about 200 KB with compress/gzip) is only in a build with
// -tags profile, for -cpuprofile. regexp (262 KB, linked by go.bug.st/serial
// at init until third_party/go.bug.st/serial's patch) stays out too. The
// -tags nossl build has no crypto package at all: any of them links Go's
// FIPS 140 module (about 180 KB there); internal/digest hashes instead.
// log/slog links encoding/json at init (its default handler can write
// JSON): together about 200 KB, so gatemq logs with internal/textlog, and
// the Home Assistant discovery messages are written without encoding/json.
// runtime/metrics (19 KB: its descriptions and the runtime's code for
// every metric) gives way to runtime.ReadMemStats. flag, log/syslog and
// os/user format with fmt, which only they would link in -tags nossl
// (see TestNosslLinksNoFmt): internal/cliflag, logdest's syslogWriter and
// main's lookupUser do their work.
func TestBinaryDependencies(t *testing.T) {
	for _, tags := range []string{"", "nossl"} {
		forbidden := []string{"net/http", "github.com/gorilla/websocket", "runtime/pprof", "regexp", "log/slog", "encoding/json",
			"runtime/metrics", "flag", "log/syslog", "os/user"}
		if tags == "nossl" {
			forbidden = append(forbidden, "crypto", "math/big")
		}
		out, err := exec.Command("go", "list", "-tags", tags, "-deps", ".").Output()
		if err != nil {
			t.Fatalf("go list -tags %q -deps .: %v", tags, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("the binary (tags %q) links %s", tags, dep)
				}
			}
		}
	}
}

// TestNosslLinksNoFmt keeps package fmt out of the -tags nossl binary:
// with what it drags in (reflect's printing of any value, fmtsort, the
// sorts it instantiates) it is about 80 KB there, and nothing but gatemq
// would link it (crypto/tls and crypto/x509 do in the full build). Some
// standard packages import fmt for functions gatemq does not call, so
// this looks at the linked symbols, not at go list. gatemq formats with
// internal/fmt, which is fmt in the full build and its own formatter in
// this one.
func TestNosslLinksNoFmt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "gatemq-nossl")
	if out, err := exec.Command("go", "build", "-tags", "nossl", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nossl: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) == 3 && (strings.HasPrefix(f[2], "fmt.") || strings.HasPrefix(f[2], "internal/fmtsort.")) {
			t.Errorf("the -tags nossl binary links %s", f[2])
		}
	}
}

// TestRootIsOnlyTheBinary keeps the root package to what the binary itself
// is (main, the mosquitto.conf dialect, the passwd subcommand): at most
// six non-test files, none of which exports a name, since nothing can
// import package main. The sixth is bridgeconfig.go: the bridges'
// connection blocks are part of the mosquitto.conf dialect, as large as
// the serial blocks of serialconfig.go, and the mqtt package they
// configure cannot read mosquitto.conf itself.
func TestRootIsOnlyTheBinary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var src []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src = append(src, name)
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			for _, id := range declNames(d) {
				if id.IsExported() {
					t.Errorf("%s: %s is exported; the root is package main and exports nothing", fset.Position(id.Pos()), id.Name)
				}
			}
		}
	}
	if len(src) > 6 {
		t.Errorf("the root holds %d non-test files (%s), at most 6: move what a file configures next to it", len(src), strings.Join(src, " "))
	}
}

// declNames returns the names a top-level declaration introduces. Methods
// are left out: those that satisfy an interface (Error, String, Publish)
// must be exported, and they are reachable only through their unexported
// types.
func declNames(d ast.Decl) []*ast.Ident {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv != nil {
			return nil
		}
		return []*ast.Ident{d.Name}
	case *ast.GenDecl:
		var out []*ast.Ident
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				out = append(out, s.Name)
			case *ast.ValueSpec:
				out = append(out, s.Names...)
			}
		}
		return out
	}
	return nil
}
