package cliflag

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

// stdList is a []string as a flag.Value, for package flag.
type stdList struct{ l *[]string }

func (s stdList) String() string {
	if s.l == nil {
		return ""
	}
	return strings.Join(*s.l, ",")
}
func (s stdList) Set(v string) error { *s.l = append(*s.l, v); return nil }

// TestMatchesFlag: a FlagSet parses what package flag parses, with
// the same errors, output (-h text included) and remaining arguments.
func TestMatchesFlag(t *testing.T) {
	type vals struct {
		c, data string
		p       int
		listen  []string
		v, m    bool
	}
	usage := func(s string) string { return s }
	define := func(v *vals, boolVar func(*bool, string, string), strVar func(*string, string, string), intVar func(*int, string, string), listVar func(*[]string, string, string)) {
		strVar(&v.c, "c", usage("config `file` in mosquitto.conf style"))
		intVar(&v.p, "p", "listen on this `port`")
		listVar(&v.listen, "listen", "listen on `address:port` (repeatable)")
		strVar(&v.data, "data", "a folder\nover two lines")
		boolVar(&v.m, "memory", "memory only")
		boolVar(&v.v, "v", "verbose")
	}
	for _, args := range [][]string{
		nil,
		{"-v"},
		{"-v=false", "-memory"},
		{"--v", "-c", "x.conf", "rest", "-p", "1"},
		{"-c=a=b", "-listen", "1", "-listen=2", "--", "-v"},
		{"-p", "0x10"},
		{"-p", "nope"},
		{"-p", "99999999999999999999"},
		{"-v=maybe"},
		{"-x"},
		{"-h"},
		{"--help"},
		{"-c"},
		{"---c"},
		{"-=x"},
		{"-"},
		{"-", "-v"},
		{"x", "-v"},
	} {
		var sv, ov vals
		var sout, oout bytes.Buffer
		std := flag.NewFlagSet("test", flag.ContinueOnError)
		std.SetOutput(&sout)
		define(&sv,
			func(p *bool, n, u string) { std.BoolVar(p, n, false, u) },
			func(p *string, n, u string) { std.StringVar(p, n, "", u) },
			func(p *int, n, u string) { std.IntVar(p, n, 0, u) },
			func(p *[]string, n, u string) { std.Var(stdList{p}, n, u) })
		own := New("test", &oout)
		define(&ov, own.BoolVar, own.StringVar, own.IntVar, own.ListVar)
		serr, oerr := std.Parse(args), own.Parse(args)
		switch {
		case errors.Is(serr, flag.ErrHelp) != (oerr == ErrHelp):
			t.Errorf("%q: error %v, flag's %v", args, oerr, serr)
		case (serr == nil) != (oerr == nil) || serr != nil && serr.Error() != oerr.Error() && oerr != ErrHelp:
			t.Errorf("%q: error %v, flag's %v", args, oerr, serr)
		}
		if oout.String() != sout.String() {
			t.Errorf("%q: output\n%s\nflag's\n%s", args, oout.String(), sout.String())
		}
		if serr == nil {
			if strings.Join(own.Args(), "|") != strings.Join(std.Args(), "|") {
				t.Errorf("%q: args %q, flag's %q", args, own.Args(), std.Args())
			}
			if ov.c != sv.c || ov.data != sv.data || ov.p != sv.p || ov.v != sv.v || ov.m != sv.m || strings.Join(ov.listen, "|") != strings.Join(sv.listen, "|") {
				t.Errorf("%q: values %+v, flag's %+v", args, ov, sv)
			}
		}
	}
}
