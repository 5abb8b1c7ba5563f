package auth

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Fuzz targets for the two files this package reads from outside: the
// password file and the ACL file. Seeds are the golden and matrix files of
// the other tests, lines of each kind of error, and the files under
// testdata/fuzz.

// fuzzSecret is the password of the entry that FuzzParsePasswords writes
// with SetEntry; its hash uses one PBKDF2 round so each run stays cheap.
const fuzzSecret = "fuzz-secret"

// cheapEntry reports whether hashing against e is fast enough to do in
// every fuzz run (a file may ask for up to 10,000,000 PBKDF2 rounds).
func cheapEntry(e *entry) bool { return e.kind == kindSHA512 || e.iterations <= 1000 }

// fuzzLines splits a password file as mosquitto_passwd's editing does:
// at '\n', without the empty piece after a final newline.
func fuzzLines(content []byte) []string {
	if len(content) == 0 {
		return nil
	}
	lines := strings.Split(string(content), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// fuzzLineUser is the username of a password-file line as ParsePasswords
// reads it, and false for lines that hold no entry (blank, comment, no ':').
func fuzzLineUser(line string) (string, bool) {
	s := strings.TrimRight(line, "\r")
	if strings.TrimSpace(s) == "" || s[0] == '#' {
		return "", false
	}
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return "", false
	}
	return strings.Trim(s[:i], " \t"), true
}

// joinLines is the inverse of fuzzLines for the editing helpers' output:
// every line ends with '\n'.
func joinLines(lines []string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// wantParseError fails unless err is a *ParseError naming the fuzz file and
// a line.
func wantParseError(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is %T, not *ParseError", err, err)
	}
	if pe.Path != "fuzz" || pe.Line < 1 || pe.Msg == "" {
		t.Fatalf("ParseError without a position: %+v", pe)
	}
}

// FuzzParsePasswords parses arbitrary bytes as a password file and edits
// them as `gatemq passwd` does. Properties:
//   - parsing never panics, and fails only with a *ParseError;
//   - a parsed file's entries print (entry.String) to a file that parses to
//     the same entries, and its Check calls never panic: no password matches
//     for an unknown user or a nil password;
//   - SetEntry and DeleteEntry keep every line of other users, comments and
//     blank lines as they were, in order; SetEntry leaves exactly one line for
//     the user, in the place of its first one; a file that parsed still
//     parses after either, with the user's entry changed and no other;
//   - after SetEntry the user's new password checks and a wrong one does not.
func FuzzParsePasswords(f *testing.F) {
	bad := []string{
		"alice", // no ':'
		":$7$101$K3QHE8dPRXhL/GrW$AF6YE5bPBecc88E04snLWLIe4lLAyPLp66xaNkiCAgNBUNScR4r63qLxdW77SO+fZVVh3FJlL0YuR7A5mPwOQQ==",
		"alice:$7$0$K3QHE8dPRXhL/GrW$AF6YE5bPBecc88E04snLWLIe4lLAyPLp66xaNkiCAgNBUNScR4r63qLxdW77SO+fZVVh3FJlL0YuR7A5mPwOQQ==",
		"alice:$7$99999999$K3QHE8dPRXhL/GrW$AF6YE5bPBecc88E04snLWLIe4lLAyPLp66xaNkiCAgNBUNScR4r63qLxdW77SO+fZVVh3FJlL0YuR7A5mPwOQQ==",
		"alice:$7$101$K3QHE8dPRXhL$AF6YE5bPBecc88E04snLWLIe4lLAyPLp66xaNkiCAgNBUNScR4r63qLxdW77SO+fZVVh3FJlL0YuR7A5mPwOQQ==",
		"alice:$7$101$K3QHE8dPRXhL/GrW$AF6YE5bPBecc88E0",
		"alice:$5$K3QHE8dPRXhL/GrW$AF6YE5bPBecc88E04snLWLIe4lLAyPLp66xaNkiCAgNBUNScR4r63qLxdW77SO+fZVVh3FJlL0YuR7A5mPwOQQ==",
		"alice:$6$K3QHE8dPRXhL/GrW$AF6YE5bPBecc88E04snLWLIe4lLAyPLp66xaNkiCAgNBUNScR4r63qLxdW77SO+fZVVh3FJlL0YuR7A5mPwOQQ==:x",
		"alice:plain",
		"alice:$6$!!!!$????",
	}
	f.Add([]byte(goldenPasswd), "alice", []byte("apass"))
	f.Add([]byte(goldenPasswd), "carol", []byte("cpass"))
	f.Add([]byte(goldenPasswd), "dave", []byte("dpass"))
	f.Add([]byte(goldenPasswd), "zz", []byte(""))
	f.Add([]byte(goldenPasswd), "eve", []byte("x"))
	f.Add([]byte(goldenPasswd+"\n"), " alice", []byte("apass"))
	f.Add([]byte(strings.ReplaceAll(goldenPasswd, "\n", "\r\n")), "carol", []byte("cpass"))
	f.Add([]byte("  dave\t:\t"+strings.SplitN(goldenPasswd, "dave:", 2)[1]), "dave", []byte("dpass"))
	f.Add([]byte("# only a comment\n\n   \n"), "new", []byte("p"))
	f.Add([]byte(nil), "", []byte(nil))
	f.Add([]byte(goldenPasswd+"\n"+strings.Split(goldenPasswd, "\n")[1]), "alice", []byte("apass")) // alice twice
	for _, l := range bad {
		f.Add([]byte("# x\n"+l+"\n"), "alice", []byte("apass"))
	}
	newHash, err := HashPBKDF2([]byte(fuzzSecret), 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, user string, password []byte) {
		p, err := ParsePasswords(bytes.NewReader(data), "fuzz")
		if err != nil {
			wantParseError(t, err)
			p = nil
		} else {
			checkPasswords(t, p, user, password)
		}
		if p != nil && p.Len() > 0 {
			// Also edit a user the file has, to replace a line.
			first := slices.Sorted(maps.Keys(p.users))[0]
			checkEdit(t, data, p, first, newHash)
		}
		checkEdit(t, data, p, user, newHash)
	})
}

// checkPasswords tests a parsed password file.
func checkPasswords(t *testing.T, p *Passwords, user string, password []byte) {
	if p.Len() != len(p.users) {
		t.Fatalf("Len = %d for %d users", p.Len(), len(p.users))
	}
	var text strings.Builder
	for _, u := range slices.Sorted(maps.Keys(p.users)) {
		if u == "" || strings.Trim(u, " \t") != u || strings.Contains(u, ":") || strings.ContainsAny(u, "\n") {
			t.Fatalf("username %q kept untrimmed, empty or with a separator", u)
		}
		if !p.Has(u) {
			t.Fatalf("Has(%q) = false for a user of the file", u)
		}
		e := p.users[u]
		if cheapEntry(e) && p.Check(u, nil) {
			t.Fatalf("Check(%q, nil) matched", u)
		}
		fmt.Fprintf(&text, "%s:%s\n", u, e.String())
	}
	again, err := ParsePasswords(strings.NewReader(text.String()), "again")
	if err != nil {
		t.Fatalf("printed entries do not parse: %v\n%s", err, text.String())
	}
	if !reflect.DeepEqual(again.users, p.users) || again.dummy != p.dummy {
		t.Fatalf("printed entries parse differently:\n%s", text.String())
	}
	e, known := p.users[user]
	if !known {
		e = &p.dummy
	}
	if !cheapEntry(e) {
		return
	}
	if p.Check(user, nil) {
		t.Fatalf("Check(%q, nil) matched", user)
	}
	if p.Check(user, password) && !known {
		t.Fatalf("Check(%q) matched a user the file does not have", user)
	}
}

// checkEdit sets and deletes user's entry in data and checks the result
// against the line-by-line model; parsed is data parsed, nil if it did not.
func checkEdit(t *testing.T, data []byte, parsed *Passwords, user, hash string) {
	lines := fuzzLines(data)
	var others []string // every line that is not user's, in order
	first := -1         // index in others where user's first line was
	for _, l := range lines {
		if u, ok := fuzzLineUser(l); ok && u == user {
			if first < 0 {
				first = len(others)
			}
			continue
		}
		others = append(others, l)
	}

	deleted, found := DeleteEntry(data, user)
	if found != (first >= 0) {
		t.Fatalf("DeleteEntry(%q) found = %v; the file has it: %v", user, found, first >= 0)
	}
	if want := joinLines(others); !bytes.Equal(deleted, want) {
		t.Fatalf("DeleteEntry(%q) changed other lines:\n got %q\nwant %q", user, deleted, want)
	}

	out, replaced, err := SetEntry(data, user, hash)
	if verr := ValidUsername(user); verr != nil {
		if err == nil || !errors.Is(err, ErrUsername) {
			t.Fatalf("SetEntry accepted username %q that ValidUsername refuses (%v): %v", user, verr, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("SetEntry(%q): %v", user, err)
	}
	if replaced != found {
		t.Fatalf("SetEntry(%q) replaced = %v, DeleteEntry found = %v", user, replaced, found)
	}
	at := first
	if at < 0 {
		at = len(others)
	}
	want := slices.Insert(slices.Clone(others), at, user+":"+hash)
	if w := joinLines(want); !bytes.Equal(out, w) {
		t.Fatalf("SetEntry(%q) wrote\n %q\nwant\n %q", user, out, w)
	}

	if parsed == nil {
		return
	}
	// A file that parsed still does, with only user's entry changed.
	p, err := ParsePasswords(bytes.NewReader(out), "fuzz")
	if err != nil {
		t.Fatalf("SetEntry(%q) made a valid file invalid: %v\n%q", user, err, out)
	}
	wantUsers := maps.Clone(parsed.users)
	wantUsers[user] = p.users[user]
	if p.users[user] == nil || !reflect.DeepEqual(p.users, wantUsers) {
		t.Fatalf("SetEntry(%q) changed other entries", user)
	}
	if !p.Check(user, []byte(fuzzSecret)) || p.Check(user, []byte(fuzzSecret+"x")) {
		t.Fatalf("SetEntry(%q): the new password does not check", user)
	}
	d, err := ParsePasswords(bytes.NewReader(deleted), "fuzz")
	if err != nil {
		t.Fatalf("DeleteEntry(%q) made a valid file invalid: %v", user, err)
	}
	delete(wantUsers, user)
	if !reflect.DeepEqual(d.users, wantUsers) {
		t.Fatalf("DeleteEntry(%q) changed other entries", user)
	}
	again, found := DeleteEntry(out, user)
	if !found || !bytes.Equal(again, deleted) {
		t.Fatalf("DeleteEntry(SetEntry(%q)) differs from DeleteEntry:\n got %q\nwant %q", user, again, deleted)
	}
}

// formatACL prints a parsed ACL back in the file format: the anonymous
// section, the patterns, then each user's section (names sorted).
func formatACL(a *ACL) string {
	var b strings.Builder
	words := map[Access]string{0: "deny", Read: "read", Write: "write", Read | Write: "readwrite"}
	set := func(kind string, s *ruleSet) {
		for _, r := range append(slices.Clone(s.denies), s.grants...) {
			fmt.Fprintf(&b, "%s %s %s\n", kind, words[r.access], r.filter)
		}
	}
	if a.anon != nil {
		set("topic", a.anon)
	}
	set("pattern", &a.patterns)
	for _, name := range slices.Sorted(maps.Keys(a.users)) {
		fmt.Fprintf(&b, "user %s\n", name)
		set("topic", a.users[name])
	}
	return b.String()
}

// sameRules compares two parsed ACLs, warnings aside.
func sameRules(a, b *ACL) bool {
	return reflect.DeepEqual(a.anon, b.anon) && reflect.DeepEqual(a.users, b.users) &&
		reflect.DeepEqual(a.patterns, b.patterns)
}

// topicOf turns a filter into a topic name it matches: each '+' and '#'
// level becomes "x".
func topicOf(filter string) string {
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		if isWild(l) {
			levels[i] = "x"
		}
	}
	return strings.Join(levels, "/")
}

// FuzzParseACL parses arbitrary bytes as an acl_file. Properties:
//   - parsing never panics, and fails only with a *ParseError;
//   - a parsed file prints (formatACL) to a file that parses to the same
//     rules;
//   - For and Check never panic, ACL.Check agrees with For(...).Check, and
//     for a topic name without wildcards, Subscribe is judged as Read (a
//     one-topic filter is covered by a deny, or shares a topic with a
//     grant, exactly when the rule matches the topic);
//   - Write and Read are judged by the matching rules alone: a client
//     whose own section and patterns hold no rule of that access (and no
//     deny) is refused.
//
// Each run asks about the fuzzed topic and one topic derived from each of
// the first rules, for the fuzzed client, an anonymous one and the file's
// first users.
func FuzzParseACL(f *testing.F) {
	docExample := "topic read $SYS/#\nuser alice\ntopic readwrite home/#\ntopic deny home/secret\npattern write devices/%c/#\n"
	f.Add([]byte(matrixACL), "alice", "cid-alice", false, "a/secret")
	f.Add([]byte(matrixACL), "bob", "cid-bob", false, "$test/x")
	f.Add([]byte(matrixACL), "", "cid-anon", true, "pub/x")
	f.Add([]byte(matrixACL), "ev+l", "cid-evil", false, "evil/x")
	f.Add([]byte(matrixACL), "carol", "c+d", false, "p/carol/x")
	f.Add([]byte(docExample), "alice", "dev1", false, "devices/dev1/x")
	f.Add([]byte(docExample), "", "dev1", true, "$SYS/broker/uptime")
	f.Add([]byte(strings.ReplaceAll(docExample, "\n", "\r\n")), "alice", "c", false, "home/secret")
	f.Add([]byte("topic read\ntopic deny\npattern %u\nuser  a b \t\n\ttopic\treadwrite\ta b\n  # comment\n"), "a b", "c", false, "a b")
	f.Add([]byte("pattern read %u/%c/%%/%\nuser u\n"), "u/v", "c/d", false, "u/v/c/d/%%/%")
	f.Add([]byte("user x\ntopic deny +/#\ntopic read #\npattern read #\n"), "x", "c", false, "a")
	for _, l := range []string{"user", "topic", "pattern", "topic rw a", "topic read a/#/b", "topic read a+", "topic read +a/b", "bogus a", "topic read " + strings.Repeat("x", 70000)} {
		f.Add([]byte("user u\n"+l+"\n"), "u", "c", false, "a")
	}
	f.Fuzz(func(t *testing.T, data []byte, username, clientID string, anonymous bool, topic string) {
		a, err := ParseACL(bytes.NewReader(data), "fuzz")
		if err != nil {
			wantParseError(t, err)
			return
		}
		text := formatACL(a)
		again, err := ParseACL(strings.NewReader(text), "again")
		if err != nil {
			t.Fatalf("printed ACL does not parse: %v\n%s", err, text)
		}
		if !sameRules(a, again) {
			t.Fatalf("printed ACL parses differently:\n%s", text)
		}

		topics := []string{topic}
		addTopics := func(s *ruleSet) {
			for _, r := range append(slices.Clone(s.denies), s.grants...) {
				if len(topics) < 12 {
					topics = append(topics, topicOf(r.filter))
				}
			}
		}
		if a.anon != nil {
			addTopics(a.anon)
		}
		addTopics(&a.patterns)
		names := slices.Sorted(maps.Keys(a.users))
		for _, n := range names {
			addTopics(a.users[n])
		}
		type client struct {
			user, id string
			anon     bool
		}
		clients := []client{{username, clientID, anonymous}, {"", clientID, true}}
		for _, n := range names[:min(len(names), 3)] {
			clients = append(clients, client{n, clientID, false})
		}
		for _, cl := range clients {
			c := a.For(cl.user, cl.id, cl.anon)
			for _, tp := range topics {
				var got [3]bool
				for i, acc := range []Access{Read, Write, Subscribe} {
					got[i] = c.Check(tp, acc)
					if one := a.Check(cl.user, cl.id, cl.anon, tp, acc); one != got[i] {
						t.Fatalf("ACL.Check(%q, %q, %v, %q, %v) = %v, Client.Check = %v", cl.user, cl.id, cl.anon, tp, acc, one, got[i])
					}
				}
				if tp != "" && !strings.ContainsAny(tp, "+#") && got[0] != got[2] {
					t.Fatalf("client (%q, %q, anonymous %v), topic %q: Read %v but Subscribe %v\n%s",
						cl.user, cl.id, cl.anon, tp, got[0], got[2], text)
				}
				for i, acc := range []Access{Read, Write} {
					if got[i] && !hasGrant(c, acc) {
						t.Fatalf("client (%q, %q, anonymous %v) allowed %v on %q without any rule granting it", cl.user, cl.id, cl.anon, acc, tp)
					}
				}
			}
		}
	})
}

// hasGrant reports whether any rule that applies to c grants access.
func hasGrant(c *Client, access Access) bool {
	grants := func(s *ruleSet) bool {
		return s != nil && slices.ContainsFunc(s.grants, func(r rule) bool { return r.access&access != 0 })
	}
	return grants(c.own) || !c.dangerous && grants(&c.patterns)
}
