package auth

import (
	"bufio"
	"io"
	"os"
	"strings"

	"gatemq/internal/fmt"
)

// Access is what a client wants to do with a topic.
type Access uint8

// Kinds of access checked by ACL.Check and Client.Check.
const (
	// Read: a message on this topic name may be delivered to the client
	// (live, retained, or a will).
	Read Access = 1 << iota
	// Write: the client may publish to this topic name.
	Write
	// Subscribe: the client may subscribe to this topic filter (see the
	// package documentation for how filters are judged).
	Subscribe
)

// String returns "read", "write", "subscribe" or "Access(N)".
func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	case Subscribe:
		return "subscribe"
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// rule is one topic or pattern line. access is Read, Write, both, or 0 for
// deny.
type rule struct {
	filter  string // as written; patterns still hold %u and %c
	access  Access
	hasUser bool // pattern contains %u
}

// ruleSet holds one section's rules: denies first, then grants, as
// Mosquitto orders them (a matching deny wins over any grant of the set).
type ruleSet struct {
	denies []rule
	grants []rule
}

func (s *ruleSet) add(r rule) {
	if r.access == 0 {
		s.denies = append(s.denies, r)
	} else {
		s.grants = append(s.grants, r)
	}
}

// ACL is a loaded acl_file. It is immutable once returned, so one value may
// be shared by all connections; a reload builds a new one. A nil *ACL
// allows everything (no acl_file configured).
type ACL struct {
	anon     *ruleSet            // topic lines before the first user line
	users    map[string]*ruleSet // topic lines after "user NAME", merged per name
	patterns ruleSet             // pattern lines, wherever they appear
	warnings []string
}

// LoadACL reads an acl_file in Mosquitto's format. A line it cannot use is
// an error (*ParseError with the line number); the broker should then keep
// the ACL it had.
func LoadACL(path string) (*ACL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: acl file: %w", err)
	}
	defer f.Close()
	return ParseACL(f, path)
}

// ParseACL reads an acl_file from r; name is used in errors and warnings.
// The format (Mosquitto 2.0's):
//
//	# comment (a '#' first on the line)
//	topic [read|write|readwrite|deny] FILTER   # applies to the current section
//	user NAME                                  # starts NAME's section
//	pattern [read|write|readwrite|deny] FILTER # all clients; %u and %c substituted
//
// Lines before the first "user" form the anonymous section, for clients
// that sent no username. The access word may be left out (readwrite); then
// the rest of the line is the filter. NAME and FILTER run to the end of the
// line and may contain spaces. Fields are separated by spaces or tabs.
func ParseACL(r io.Reader, name string) (*ACL, error) {
	a := &ACL{users: make(map[string]*ruleSet)}
	var cur *ruleSet // nil until the first topic line of the anonymous section
	inUser := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), " \t\r\n\v\f")
		perr := func(format string, args ...any) error {
			return &ParseError{Path: name, Line: line, Msg: fmt.Sprintf(format, args...)}
		}
		text = strings.TrimLeft(text, " \t")
		if text == "" || text[0] == '#' {
			continue
		}
		word, rest := cutField(text)
		switch word {
		case "user":
			if rest == "" {
				return nil, perr("user needs a name")
			}
			inUser = true
			cur = a.users[rest]
			if cur == nil {
				cur = &ruleSet{}
				a.users[rest] = cur
			}
		case "topic", "pattern":
			if rest == "" {
				return nil, perr("%s needs a topic filter", word)
			}
			acc, filter := cutField(rest)
			access := Read | Write
			switch {
			case filter == "":
				filter = acc
				if _, known := parseAccess(acc); known {
					a.warnings = append(a.warnings, fmt.Sprintf("%s:%d: %q gives readwrite access to the topic named %q, as in Mosquitto; was a filter forgotten?", name, line, text, acc))
				}
			default:
				var ok bool
				if access, ok = parseAccess(acc); !ok {
					return nil, perr("unknown access %q (want read, write, readwrite or deny)", acc)
				}
			}
			if !validFilter(filter) {
				return nil, perr("invalid topic filter %q ('+' and '#' must be whole levels, '#' the last)", filter)
			}
			if word == "pattern" {
				hasUser := strings.Contains(filter, "%u")
				if !hasUser && !strings.Contains(filter, "%c") {
					a.warnings = append(a.warnings, fmt.Sprintf("%s:%d: pattern %q contains neither %%u nor %%c", name, line, filter))
				}
				a.patterns.add(rule{filter: filter, access: access, hasUser: hasUser})
				continue
			}
			if !inUser && cur == nil {
				cur = &ruleSet{}
				a.anon = cur
			}
			cur.add(rule{filter: filter, access: access})
		default:
			return nil, perr("unknown line %q (want user, topic or pattern)", word)
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, &ParseError{Path: name, Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("auth: reading %s: %w", name, err)
	}
	return a, nil
}

// parseAccess maps an ACL access word to its bits (0 = deny).
func parseAccess(word string) (Access, bool) {
	switch word {
	case "read":
		return Read, true
	case "write":
		return Write, true
	case "readwrite":
		return Read | Write, true
	case "deny":
		return 0, true
	}
	return 0, false
}

// cutField splits s at its first run of blanks: the first field, and the
// rest with leading blanks removed.
func cutField(s string) (string, string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// Warnings returns what the loader found odd but accepted, as Mosquitto
// does (a pattern without %u or %c; a topic line whose only word is an
// access word), each as "FILE:LINE: text", for the log.
func (a *ACL) Warnings() []string {
	if a == nil {
		return nil
	}
	return a.warnings
}
