package auth

import "strings"

// Topic matching for ACL rules, self-contained so that this package imports
// nothing of gatemq. Filters and topics are '/'-separated levels; '+' is one
// whole level, '#' the last level and everything below (including the
// parent: "a/#" matches "a"). A topic starting with '$' is matched only by a
// filter whose first level is the same literal ([MQTT-4.7.2-1]; Mosquitto's
// mosquitto_topic_matches_sub applies the rule in both directions).

// levels walks the levels of a filter or topic without allocating.
type levels struct {
	rest string
	done bool
}

// next returns the next level and true, or "" and false at the end.
func (l *levels) next() (string, bool) {
	if l.done {
		return "", false
	}
	i := strings.IndexByte(l.rest, '/')
	if i < 0 {
		l.done = true
		return l.rest, true
	}
	lv := l.rest[:i]
	l.rest = l.rest[i+1:]
	return lv, true
}

// firstLevel returns s up to its first '/'.
func firstLevel(s string) string {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}

func isWild(level string) bool { return level == "+" || level == "#" }

// validFilter reports whether f is a well-formed topic filter: not empty,
// at most 65535 bytes, '+' and '#' only as whole levels, '#' only last.
// This is Mosquitto's mosquitto_sub_topic_check, used on ACL lines.
func validFilter(f string) bool {
	if f == "" || len(f) > maxField {
		return false
	}
	l := levels{rest: f}
	for {
		lv, ok := l.next()
		if !ok {
			return true
		}
		if lv == "#" && !l.done {
			return false
		}
		if len(lv) > 1 && strings.ContainsAny(lv, "+#") {
			return false
		}
	}
}

// matchTopic reports whether filter matches the topic name t.
func matchTopic(filter, t string) bool {
	if (t != "" && t[0] == '$') != (filter != "" && filter[0] == '$') {
		return false
	}
	f, tl := levels{rest: filter}, levels{rest: t}
	for {
		fv, fok := f.next()
		tv, tok := tl.next()
		if !fok {
			return !tok
		}
		if fv == "#" {
			return true
		}
		if !tok || (fv != "+" && fv != tv) {
			return false
		}
	}
}

// dollarApart reports whether no topic can match both a and b because one
// starts with a wildcard (so never matches a '$' topic) and the other with a
// literal '$' level (so matches only '$' topics).
func dollarApart(a, b string) bool {
	a0, b0 := firstLevel(a), firstLevel(b)
	aDollar := strings.HasPrefix(a0, "$")
	bDollar := strings.HasPrefix(b0, "$")
	return isWild(a0) && bDollar || isWild(b0) && aDollar
}

// overlap reports whether some topic name is matched by both filters.
func overlap(a, b string) bool {
	if dollarApart(a, b) {
		return false
	}
	al, bl := levels{rest: a}, levels{rest: b}
	for {
		av, aok := al.next()
		bv, bok := bl.next()
		if aok && av == "#" || bok && bv == "#" {
			return true
		}
		if !aok || !bok {
			return !aok && !bok
		}
		if av != "+" && bv != "+" && av != bv {
			return false
		}
	}
}

// covers reports whether filter r matches every topic name that filter f
// matches.
func covers(r, f string) bool {
	if dollarApart(r, f) {
		return false
	}
	rl, fl := levels{rest: r}, levels{rest: f}
	for i := 0; ; i++ {
		rv, rok := rl.next()
		fv, fok := fl.next()
		switch {
		case rok && rv == "#":
			return true
		case !fok:
			return !rok
		case !rok:
			return false
		case fv == "#":
			// f matches any further levels. Only r's "#" (above) takes
			// them all, except that a first-level "#" never matches zero
			// levels, which "+/#" takes as well.
			return i == 0 && rv == "+" && rl.rest == "#" && !rl.done
		case rv == "+":
			// f's level is one level, literal or '+': r's '+' takes it
		case fv == "+", rv != fv:
			return false
		}
	}
}
