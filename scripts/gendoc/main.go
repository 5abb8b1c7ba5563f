// Command gendoc writes the documentation generated from directives.txt,
// the directive table that also drives gatemq's config parser and its -h:
//
//   - README.md: the directive table between the "directives:begin" and
//     "directives:end" markers;
//   - man/gatemq.conf.5: the config file's man page;
//   - man/gatemq.8: the command's man page, its options taken from the
//     output of `gatemq -h` (built here with go build).
//
// Run from the repository's top folder, by `go generate` (see config.go).
// With -check it writes nothing and fails if a file would change (make
// test and TestGeneratedDocs run it that way).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// directive is one entry of directives.txt (see its header).
type directive struct {
	name, status, scope, syntax, text, section string
}

func main() {
	check := flag.Bool("check", false, "write nothing; exit 1 if a generated file is out of date")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}

func run(check bool) error {
	raw, err := os.ReadFile("directives.txt")
	if err != nil {
		return err
	}
	ds, err := parse(string(raw))
	if err != nil {
		return err
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		return err
	}
	newReadme, err := spliceReadme(string(readme), markdown(ds))
	if err != nil {
		return err
	}
	help, err := gatemqHelp()
	if err != nil {
		return err
	}
	files := map[string]string{
		"README.md":         newReadme,
		"man/gatemq.conf.5": confPage(ds),
		"man/gatemq.8":      commandPage(help),
	}
	stale := false
	for _, name := range []string{"README.md", "man/gatemq.conf.5", "man/gatemq.8"} {
		old, _ := os.ReadFile(name)
		if string(old) == files[name] {
			continue
		}
		if check {
			fmt.Fprintf(os.Stderr, "gendoc: %s is out of date: run go generate .\n", name)
			stale = true
			continue
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, []byte(files[name]), 0o644); err != nil {
			return err
		}
	}
	if stale {
		return fmt.Errorf("generated files out of date")
	}
	return nil
}

// parse reads the table; see directives.txt's header for the format.
func parse(text string) ([]directive, error) {
	var ds []directive
	section := ""
	for n, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		case line[0] == '\t' || line[0] == ' ':
			if len(ds) == 0 {
				return nil, fmt.Errorf("directives.txt:%d: text before the first entry", n+1)
			}
			d := &ds[len(ds)-1]
			d.text = strings.TrimSpace(d.text + " " + strings.TrimSpace(line))
		default:
			f := strings.SplitN(line, " | ", 4)
			if len(f) != 4 {
				return nil, fmt.Errorf("directives.txt:%d: want NAME | STATUS | SCOPE | SYNTAX", n+1)
			}
			ds = append(ds, directive{name: strings.TrimSpace(f[0]), status: strings.TrimSpace(f[1]),
				scope: strings.TrimSpace(f[2]), syntax: strings.TrimSpace(f[3]), section: section})
		}
	}
	return ds, nil
}

// statusWords are the README's and man page's words for each status.
var statusWords = map[string]string{
	"honoured": "honoured",
	"info":     "accepted, no action needed",
	"refused":  "refused",
}

const (
	beginMark = "<!-- directives:begin (generated from directives.txt by scripts/gendoc; do not edit) -->"
	endMark   = "<!-- directives:end -->"
)

// markdown is the README's directive table, one per section.
func markdown(ds []directive) string {
	var b strings.Builder
	section := ""
	for _, d := range ds {
		if d.section != section {
			section = d.section
			fmt.Fprintf(&b, "\n#### %s\n\n| directive | status | what gatemq does |\n|---|---|---|\n", section)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", mdEscape(d.syntax), statusWords[d.status], mdEscape(d.text))
	}
	return b.String()
}

// mdEscape keeps '|' from ending a table cell.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// spliceReadme replaces what stands between the markers with table.
func spliceReadme(readme, table string) (string, error) {
	i := strings.Index(readme, beginMark)
	j := strings.Index(readme, endMark)
	if i < 0 || j < i {
		return "", fmt.Errorf("README.md has no %q ... %q markers", beginMark, endMark)
	}
	return readme[:i+len(beginMark)] + "\n" + table + "\n" + readme[j:], nil
}

// roff escapes text for a man page: backslashes, dashes, and a leading dot or apostrophe.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// confPage is man/gatemq.conf.5.
func confPage(ds []directive) string {
	var b strings.Builder
	b.WriteString(`.\" Generated from directives.txt by scripts/gendoc; do not edit.
.TH GATEMQ.CONF 5 "" "gatemq" "File Formats"
.SH NAME
gatemq.conf \- the configuration file of the gatemq MQTT broker
.SH SYNOPSIS
.B gatemq \-c
.I /etc/gatemq/gatemq.conf
.SH DESCRIPTION
gatemq reads a file in the style of
.BR mosquitto.conf (5):
one directive per line, its values separated by spaces,
.B #
starting a comment (at the start of a line, or after a space).
Every directive of Mosquitto 2.0 is listed below with what gatemq does with it.
A directive is
.B honoured
(the text says what it does),
.B accepted
with one INFO line at start saying why it needs no action in gatemq, or
.B refused
with the reason: gatemq then lists every problem of the file, each with its file and line, and exits with status 1.
A directive that is in no list is an error too.
.PP
Directives of the listener scope apply to the listener defined last; before any
.B listener
line they apply to the default listener.
`)
	section := ""
	for _, d := range ds {
		if d.section != section {
			section = d.section
			fmt.Fprintf(&b, ".SH %s\n", strings.ToUpper(roff(section)))
		}
		fmt.Fprintf(&b, ".TP\n.B %s\n", roff(d.syntax))
		switch d.status {
		case "info":
			b.WriteString("(Accepted, no action needed.)\n")
		case "refused":
			b.WriteString("(Refused.)\n")
		}
		fmt.Fprintf(&b, "%s\n", roff(d.text))
	}
	b.WriteString(`.SH EXAMPLE
.nf
listener 1883 0.0.0.0
password_file /etc/gatemq/passwd
acl_file /etc/gatemq/acl
persistence_location /overlay/gatemq
log_dest syslog
.fi
.SH SEE ALSO
.BR gatemq (8),
.BR mosquitto.conf (5)
`)
	return b.String()
}

// gatemqHelp builds gatemq and returns its -h output.
func gatemqHelp() (string, error) {
	dir, err := os.MkdirTemp("", "gendoc-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gatemq")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gatemq -h: %v\n%s", err, out.String())
	}
	return out.String(), nil
}

// commandPage is man/gatemq.8, with the options of help (gatemq -h).
func commandPage(help string) string {
	var b strings.Builder
	b.WriteString(`.\" Generated by scripts/gendoc from gatemq -h; do not edit.
.TH GATEMQ 8 "" "gatemq" "System Administration"
.SH NAME
gatemq \- an MQTT broker for routers and home hubs
.SH SYNOPSIS
.B gatemq
.RB [ \-c
.IR file ]
.RB [ \-p
.IR port ]
.RB [ \-listen
.IR address:port ]...
.RB [ \-data
.IR folder " | " \-memory ]
.RB [ \-v ]
.br
.B gatemq passwd
.RB [ \-c | \-D ]
.RB [ \-b ]
.I file user
.RI [ password ]
.SH DESCRIPTION
gatemq is an MQTT 3.1.1 and 5.0 broker in one static binary, meant to replace Mosquitto 2.0 on routers and
Raspberry Pis: it reads
.BR mosquitto.conf (5)
files (see
.BR gatemq.conf (5)),
Mosquitto's password and ACL files, and logs the way Mosquitto does.
Messages it has acknowledged at QoS 1 and 2 are kept in a log on flash and survive a power cut.
.PP
With no config file and no flags it listens on port 1883 of the loopback addresses only, as Mosquitto 2 does.
SIGHUP reloads the password and ACL files, the certificates and the log file;
SIGTERM and SIGINT stop it gracefully.
.SH OPTIONS
`)
	lines := strings.Split(help, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "Config file") {
			break
		}
		if !strings.HasPrefix(l, "  -") {
			continue
		}
		head, desc, _ := strings.Cut(strings.TrimPrefix(l, "  "), "\t")
		fields := strings.Fields(head)
		if len(fields) > 1 {
			b.WriteString(".TP\n.BI \"" + roff(fields[0]) + " \" " + roff(fields[1]) + "\n")
		} else {
			b.WriteString(".TP\n.B " + roff(fields[0]) + "\n")
		}
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "    \t") {
			i++
			desc += " " + strings.TrimSpace(lines[i])
		}
		b.WriteString(roff(strings.TrimSpace(desc)) + "\n")
	}
	b.WriteString(`.SH FILES
.TP
.I /etc/gatemq/gatemq.conf
the config file that packages install (any file given with
.BR \-c ;
an existing
.I /etc/mosquitto/mosquitto.conf
works unchanged).
.SH EXIT STATUS
0 after SIGTERM or SIGINT; 1 when the config file has errors (all are listed, each with its file and line),
a port is taken, the user of
.B user
does not exist, or the state cannot be opened; 2 for a usage error.
.SH SEE ALSO
.BR gatemq.conf (5),
.BR mosquitto (8),
.BR mosquitto_passwd (1)
`)
	return b.String()
}
