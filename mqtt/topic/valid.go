package topic

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// MaxLen is the largest topic name or filter, in bytes, that MQTT can carry
// [MQTT-4.7.3-3].
const MaxLen = 65535

// sharePrefix starts a 5.0 shared subscription filter (§4.8.2).
const sharePrefix = "$share/"

// ValidName reports whether b is a valid topic name for PUBLISH: 1..65535
// bytes of well-formed UTF-8 without U+0000 and without the wildcards '+' and
// '#'. It returns nil or one of the package's sentinel errors (ErrEmpty,
// ErrTooLong, ErrNullChar, ErrWildcardInName, ErrInvalidUTF8). It does not
// allocate. A name beginning with '$' is valid; whether a client may publish
// to it is the broker's policy.
func ValidName(b []byte) error {
	if err := checkString(b); err != nil {
		return err
	}
	if bytes.IndexByte(b, '+') >= 0 || bytes.IndexByte(b, '#') >= 0 {
		return ErrWildcardInName // [MQTT-4.7.1-1] [MQTT-3.3.2-2]
	}
	return nil
}

// ValidFilter checks a SUBSCRIBE or UNSUBSCRIBE topic filter: 1..65535 bytes
// of well-formed UTF-8 without U+0000, '+' occupying a whole level and '#'
// only as the whole last level. A shared subscription "$share/{group}/{filter}"
// is valid when group is non-empty without '+' or '#' and filter is a valid
// plain filter (see ParseShared): a filter that itself starts with "$share/"
// is not read as a share again. It returns nil or a sentinel error and does
// not allocate.
func ValidFilter(f []byte) error {
	if err := checkString(f); err != nil {
		return err
	}
	if bytes.HasPrefix(f, []byte(sharePrefix)) {
		rest := f[len(sharePrefix):]
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			return ErrBadShareFilter // [MQTT-4.8.2-2]
		}
		if i == 0 || bytes.IndexByte(rest[:i], '+') >= 0 || bytes.IndexByte(rest[:i], '#') >= 0 {
			return ErrBadShareName // [MQTT-4.8.2-1]
		}
		f = rest[i+1:]
		if len(f) == 0 {
			return ErrBadShareFilter // [MQTT-4.8.2-2]
		}
	}
	return checkWildcards(f)
}

// checkString applies the rules common to names and filters.
func checkString(b []byte) error {
	switch {
	case len(b) == 0:
		return ErrEmpty // [MQTT-4.7.3-1]
	case len(b) > MaxLen:
		return ErrTooLong // [MQTT-4.7.3-3]
	case bytes.IndexByte(b, 0) >= 0:
		return ErrNullChar // [MQTT-4.7.3-2]
	case !utf8.Valid(b):
		return ErrInvalidUTF8 // [MQTT-1.5.3-1]
	}
	return nil
}

// checkWildcards checks the placement of '+' and '#' in a plain filter.
func checkWildcards(f []byte) error {
	for i, c := range f {
		switch c {
		case '+':
			if (i > 0 && f[i-1] != '/') || (i+1 < len(f) && f[i+1] != '/') {
				return ErrBadPlus // [MQTT-4.7.1-3]
			}
		case '#':
			if (i > 0 && f[i-1] != '/') || i+1 != len(f) {
				return ErrBadHash // [MQTT-4.7.1-2]
			}
		}
	}
	return nil
}

// ParseShared splits a shared subscription filter "$share/{group}/{filter}"
// into ("group", "filter", true). For any other f, including a malformed
// "$share/group" without a following '/', it returns ("", f, false). The
// returned strings are substrings of f. It does not validate; call
// ValidFilter first.
func ParseShared(f string) (group, filter string, ok bool) {
	rest, found := strings.CutPrefix(f, sharePrefix)
	if !found {
		return "", f, false
	}
	group, filter, found = strings.Cut(rest, "/")
	if !found || group == "" {
		return "", f, false
	}
	return group, filter, true
}

// Levels returns the number of levels of a topic name or filter (one more
// than its '/' count). Each level costs a trie node in Tree and Retained, so
// the broker should cap it for clients it does not trust: a 65535-byte name
// of slashes would otherwise take megabytes.
func Levels(b []byte) int {
	return bytes.Count(b, []byte{'/'}) + 1
}
