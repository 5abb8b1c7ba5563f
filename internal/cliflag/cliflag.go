// Package cliflag parses gatemq's command lines as the standard library's
// flag.FlagSet with flag.ContinueOnError does, and prints the same -h
// text, for the flags gatemq has: booleans, strings, ints and repeatable
// strings, all with zero defaults. Package flag formats its messages
// with fmt, which the -tags nossl build otherwise does without;
// TestMatchesFlag holds this package to package flag.
package cliflag

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
)

// FlagSet is a set of flags and, after Parse, the arguments after them.
type FlagSet struct {
	name  string
	out   io.Writer
	flags []*flagDef
	args  []string
	Usage func() // nil: "Usage of NAME:" and the flags, as flag's
}

// flagDef is one flag: its name, its usage text and where its value goes
// (exactly one of the pointers is set).
type flagDef struct {
	_           [0]func() // not comparable: no generated == function (flash size)
	name, usage string
	b           *bool
	s           *string
	i           *int
	list        *[]string
}

// ErrHelp is what Parse returns for -h or -help (when no flag has that
// name), with flag.ErrHelp's text.
var ErrHelp = errors.New("flag: help requested")

// New returns an empty FlagSet whose errors and usage go to out.
func New(name string, out io.Writer) *FlagSet { return &FlagSet{name: name, out: out} }

// BoolVar defines a boolean flag (-name, -name=false).
func (f *FlagSet) BoolVar(p *bool, name, usage string) {
	f.flags = append(f.flags, &flagDef{name: name, usage: usage, b: p})
}

// StringVar defines a string flag.
func (f *FlagSet) StringVar(p *string, name, usage string) {
	f.flags = append(f.flags, &flagDef{name: name, usage: usage, s: p})
}

// IntVar defines an int flag (decimal, 0x hex, 0 octal).
func (f *FlagSet) IntVar(p *int, name, usage string) {
	f.flags = append(f.flags, &flagDef{name: name, usage: usage, i: p})
}

// ListVar defines a repeatable string flag: each use appends to *p.
func (f *FlagSet) ListVar(p *[]string, name, usage string) {
	f.flags = append(f.flags, &flagDef{name: name, usage: usage, list: p})
}

// Args are the arguments after the flags.
func (f *FlagSet) Args() []string { return f.args }

// Parse reads the flags at the start of args, as flag.FlagSet.Parse: a
// "--" or the first argument that is not a flag ends them. On an error it
// prints it and the usage to the output and returns it; -h and -help
// print the usage and return ErrHelp.
func (f *FlagSet) Parse(args []string) error {
	for len(args) > 0 {
		s := args[0]
		if len(s) < 2 || s[0] != '-' {
			break
		}
		minuses := 1
		if s[1] == '-' {
			minuses++
			if len(s) == 2 { // "--" ends the flags
				args = args[1:]
				break
			}
		}
		name := s[minuses:]
		if len(name) == 0 || name[0] == '-' || name[0] == '=' {
			return f.fail("bad flag syntax: " + s)
		}
		args = args[1:]
		value, hasValue := "", false
		if i := strings.IndexByte(name, '='); i > 0 {
			name, value, hasValue = name[:i], name[i+1:], true
		}
		fl := f.lookup(name)
		if fl == nil {
			if name == "help" || name == "h" {
				f.usage()
				return ErrHelp
			}
			return f.fail("flag provided but not defined: -" + name)
		}
		if fl.b != nil {
			v := true
			if hasValue {
				var err error
				if v, err = strconv.ParseBool(value); err != nil {
					return f.fail("invalid boolean value " + strconv.Quote(value) + " for -" + name + ": parse error")
				}
			}
			*fl.b = v
			continue
		}
		if !hasValue && len(args) > 0 {
			value, hasValue, args = args[0], true, args[1:]
		}
		if !hasValue {
			return f.fail("flag needs an argument: -" + name)
		}
		switch {
		case fl.s != nil:
			*fl.s = value
		case fl.list != nil:
			*fl.list = append(*fl.list, value)
		case fl.i != nil:
			n, err := strconv.ParseInt(value, 0, strconv.IntSize)
			if err != nil {
				why := "parse error"
				if errors.Is(err, strconv.ErrRange) {
					why = "value out of range"
				}
				return f.fail("invalid value " + strconv.Quote(value) + " for flag -" + name + ": " + why)
			}
			*fl.i = int(n)
		}
	}
	f.args = args
	return nil
}

func (f *FlagSet) lookup(name string) *flagDef {
	for _, fl := range f.flags {
		if fl.name == name {
			return fl
		}
	}
	return nil
}

// fail prints msg and the usage, and returns msg as the error.
func (f *FlagSet) fail(msg string) error {
	io.WriteString(f.out, msg+"\n")
	f.usage()
	return errors.New(msg)
}

func (f *FlagSet) usage() {
	if f.Usage != nil {
		f.Usage()
		return
	}
	io.WriteString(f.out, "Usage of "+f.name+":\n")
	f.PrintDefaults()
}

// PrintDefaults prints the flags sorted by name, as flag.PrintDefaults:
// "  -name ARG" (ARG from the first `quoted` word of the usage, else the
// type's name; none for booleans), then the usage after a tab, on the
// same line for a one-letter boolean, else on the next.
func (f *FlagSet) PrintDefaults() {
	sorted := slices.Clone(f.flags)
	for i := 1; i < len(sorted); i++ { // few flags: an insertion sort
		for j := i; j > 0 && sorted[j].name < sorted[j-1].name; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	for _, fl := range sorted {
		b := "  -" + fl.name
		arg, usage := fl.unquoteUsage()
		if arg != "" {
			b += " " + arg
		}
		if len(b) <= 4 {
			b += "\t"
		} else {
			b += "\n    \t"
		}
		b += strings.ReplaceAll(usage, "\n", "\n    \t")
		io.WriteString(f.out, b+"\n")
	}
}

// unquoteUsage is flag.UnquoteUsage: the name between the first pair of
// back quotes of the usage (which loses the quotes), else the value's
// type name.
func (fl *flagDef) unquoteUsage() (name, usage string) {
	usage = fl.usage
	if i := strings.IndexByte(usage, '`'); i >= 0 {
		if j := strings.IndexByte(usage[i+1:], '`'); j >= 0 {
			j += i + 1
			return usage[i+1 : j], usage[:i] + usage[i+1:j] + usage[j+1:]
		}
	}
	switch {
	case fl.b != nil:
		return "", usage
	case fl.s != nil:
		return "string", usage
	case fl.i != nil:
		return "int", usage
	}
	return "value", usage
}
