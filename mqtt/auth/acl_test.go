package auth

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// matrixACL exercises every rule kind; TestACLMatrix states by hand what it
// allows, and TestACLAgainstMosquitto checks the same table against Debian's
// mosquitto.
const matrixACL = `# anonymous section: clients without a username
topic read pub/#
topic read $test/anon
pattern read end/%c

user alice
topic readwrite a/#
topic deny a/secret
topic read r/+
topic write w/x
topic readwrite all/#

user bob
topic read a/#
  topic   write   b/#
topic deny b/no/#
topic readwrite $test/#

user ev+l
topic read end/#
topic readwrite evil/#

user observer
topic read #
topic read $test/#

user writer
topic write #
topic write $test/#

pattern readwrite p/%u/#
pattern read c/%c
pattern deny p/%u/deny
pattern write all/deny/%c
pattern read +/%c/x
`

// matrixUser is a client of the matrix: its username (anonymous if ""),
// client ID, and the topics of matrixTopics it may read and write.
type matrixUser struct {
	name, clientID string
	read, write    []string
}

var matrixTopics = []string{
	"x", "pub/x", "a/x", "a/secret", "a/secret/y", "r/x", "r/x/y", "w/x", "all/x",
	"all/deny/cid-anon", "all/deny/cid-alice", "all/deny/cid-bob", "all/deny/cid-carol",
	"b/x", "b/no", "b/no/x", "$test/anon", "$test/x", "$test/cid-anon/x",
	"p/alice/x", "p/alice/deny", "p/bob/x", "p/carol/x",
	"c/cid-anon", "c/cid-alice", "c/cid-bob", "c/cid-carol", "q/cid-anon/x", "q/cid-bob/x",
	"evil/x", "end/x", "c/cid-evil", "all/deny/cid-evil",
}

func matrixUsers() []matrixUser {
	return []matrixUser{
		{name: "", clientID: "cid-anon",
			read:  []string{"pub/x", "$test/anon", "c/cid-anon", "q/cid-anon/x"},
			write: []string{"all/deny/cid-anon"}},
		{name: "alice", clientID: "cid-alice",
			read: []string{"a/x", "a/secret/y", "r/x", "all/x", "all/deny/cid-anon", "all/deny/cid-alice",
				"all/deny/cid-bob", "all/deny/cid-carol", "all/deny/cid-evil", "p/alice/x", "c/cid-alice"},
			write: []string{"a/x", "a/secret/y", "w/x", "all/x", "all/deny/cid-anon", "all/deny/cid-alice",
				"all/deny/cid-bob", "all/deny/cid-carol", "all/deny/cid-evil", "p/alice/x"}},
		{name: "bob", clientID: "cid-bob",
			read: []string{"a/x", "a/secret", "a/secret/y", "$test/anon", "$test/x", "$test/cid-anon/x",
				"p/bob/x", "c/cid-bob", "q/cid-bob/x"},
			write: []string{"b/x", "$test/anon", "$test/x", "$test/cid-anon/x", "p/bob/x", "all/deny/cid-bob"}},
		{name: "carol", clientID: "cid-carol", // no section of her own: patterns only
			read:  []string{"p/carol/x", "c/cid-carol"},
			write: []string{"p/carol/x", "all/deny/cid-carol"}},
		{name: "ev+l", clientID: "cid-evil", // '+' in the username: every pattern refuses
			read:  []string{"evil/x", "end/x"},
			write: []string{"evil/x"}},
	}
}

func parseACL(t *testing.T, s string) *ACL {
	t.Helper()
	a, err := ParseACL(strings.NewReader(s), "acl")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestACLMatrix(t *testing.T) {
	a := parseACL(t, matrixACL)
	for _, u := range matrixUsers() {
		rules := a.For(u.name, u.clientID, u.name == "")
		for _, topic := range matrixTopics {
			for _, acc := range []Access{Read, Write} {
				want := slices.Contains(u.read, topic)
				if acc == Write {
					want = slices.Contains(u.write, topic)
				}
				if got := rules.Check(topic, acc); got != want {
					t.Errorf("user %q: %s %q = %v, want %v", u.name, acc, topic, got, want)
				}
				if got := a.Check(u.name, u.clientID, u.name == "", topic, acc); got != want {
					t.Errorf("ACL.Check(%q): %s %q = %v, want %v", u.name, acc, topic, got, want)
				}
			}
		}
	}
}

func TestACLSubscribe(t *testing.T) {
	a := parseACL(t, matrixACL)
	cases := []struct {
		user, cid string
		allow     []string
		refuse    []string
	}{
		{"", "cid-anon",
			[]string{"pub/#", "#", "$test/anon", "$test/#", "+/cid-anon/#", "a/#" /* a/cid-anon/x is readable */},
			[]string{"a/b", "$SYS/#", "c/cid-alice", "end/x"}},
		{"alice", "cid-alice",
			[]string{"a/#", "a/+", "a/x", "r/#", "#", "+/+", "p/alice/#", "c/cid-alice",
				"p/+/deny" /* shares p/alice/deny with a grant; deny covers only part: delivery drops it */},
			[]string{"a/secret", "w/x", "$test/#", "p/alice/deny", "p/bob/x", "c/cid-bob"}},
		{"bob", "cid-bob",
			[]string{"$test/#", "a/secret", "b/#" /* b/cid-bob/x via +/%c/x */, "#"},
			[]string{"b/no/#", "b/no", "b/no/x/y", "$SYS/#", "b/x"}},
		{"ev+l", "cid-evil",
			[]string{"evil/#", "end/#", "#"},
			[]string{"c/cid-evil", "p/ev+l/x"}},
		{"carol", "cid-carol",
			[]string{"p/carol/#", "p/#", "c/+"},
			[]string{"p/alice/#", "c/cid-bob", "x"}},
	}
	for _, c := range cases {
		rules := a.For(c.user, c.cid, c.user == "")
		for _, f := range c.allow {
			if !rules.Check(f, Subscribe) {
				t.Errorf("user %q: subscribe %q refused, want granted", c.user, f)
			}
		}
		for _, f := range c.refuse {
			if rules.Check(f, Subscribe) {
				t.Errorf("user %q: subscribe %q granted, want refused", c.user, f)
			}
		}
	}
}

func TestACLDetails(t *testing.T) {
	var nilACL *ACL
	if !nilACL.Check("u", "c", false, "any/topic", Write) || nilACL.For("u", "c", false) != nil {
		t.Fatal("nil ACL must allow everything")
	}
	a := parseACL(t, `topic readwrite anon/only
user u
topic read shared/#
user u
topic write shared/w
`)
	// Sections of one name merge; the anonymous section is not everyone's.
	if !a.Check("u", "c", false, "shared/a", Read) || !a.Check("u", "c", false, "shared/w", Write) {
		t.Error("sections of one user must merge")
	}
	if a.Check("u", "c", false, "anon/only", Read) || !a.Check("", "c", true, "anon/only", Read) {
		t.Error("anonymous section must apply to anonymous clients only")
	}
	if a.Check("", "c", false, "anon/only", Read) {
		t.Error("an empty username is not anonymous")
	}
	// A '/' in a username adds levels; %c with no %u applies to anonymous.
	b := parseACL(t, "pattern read d/%u/x\npattern write %c/w\npattern read %%c/lit\n")
	if !b.Check("a/b", "c", false, "d/a/b/x", Read) {
		t.Error("'/' in username should add a level, as in Mosquitto")
	}
	if b.Check("", "c", true, "d//x", Read) {
		t.Errorf("a %%u pattern applied to an anonymous client")
	}
	if !b.Check("", "dev1", true, "dev1/w", Write) || b.Check("", "dev1", true, "dev1/w", Read) {
		t.Errorf("a %%c pattern must apply to an anonymous client")
	}
	if !b.Check("u", "c", false, "%c/lit", Read) {
		t.Errorf(`"%%%%c" should read as a percent sign, then the client ID`)
	}
	if b.Check("u", "dev#", false, "dev#/w", Write) || b.Check("u+", "c", false, "c/w", Write) {
		t.Error("'+' or '#' in client ID or username must refuse patterns")
	}
	// Combined access: any granted bit allows (Mosquitto's access & rule).
	if !b.Check("u", "c", false, "c/w", Read|Write) {
		t.Error("Read|Write with a write grant")
	}
}

func TestACLWarnings(t *testing.T) {
	a := parseACL(t, "topic read\npattern read fixed/topic\ntopic deny x\n")
	w := a.Warnings()
	if len(w) != 2 || !strings.HasPrefix(w[0], "acl:1: ") || !strings.HasPrefix(w[1], "acl:2: ") {
		t.Fatalf("warnings = %q", w)
	}
	// "topic read" is the topic named "read", readwrite, as in Mosquitto.
	if !a.Check("", "c", true, "read", Write) {
		t.Error(`"topic read" should allow writing the topic "read"`)
	}
	if (*ACL)(nil).Warnings() != nil {
		t.Error("nil ACL warnings")
	}
}

func TestParseACLErrors(t *testing.T) {
	cases := []struct{ text, msg string }{
		{"topic", "needs a topic filter"},
		{"pattern   ", "needs a topic filter"},
		{"topic rw a/b", `unknown access "rw"`},
		{"topic read a/#/b", "invalid topic filter"},
		{"topic read a/b # comment", "invalid topic filter"},
		{"pattern write x+", "invalid topic filter"},
		{"user", "user needs a name"},
		{"user \t ", "user needs a name"},
		{"users bob", `unknown line "users"`},
		{"Topic read x", `unknown line "Topic"`},
		{"topic read " + strings.Repeat("a", maxLine), "longer than"},
	}
	for _, c := range cases {
		text := "# c\n\ntopic read ok\n" + c.text + "\ntopic read fine\n"
		_, err := ParseACL(strings.NewReader(text), "f.acl")
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 4 || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%q: err = %v; want line 4 and %q", c.text, err, c.msg)
		}
	}
	// Blanks and comments are fine anywhere; CRLF line ends too.
	a := parseACL(t, "   # indented comment\r\n\t\r\nuser  spaced name  \r\ntopic read  a b \r\n")
	if !a.Check("spaced name", "c", false, "a b", Read) {
		t.Error("user and topic may contain inner spaces; outer blanks are trimmed")
	}
}

func TestLoadACLFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(path, []byte(matrixACL), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := LoadACL(path)
	if err != nil || !a.Check("alice", "x", false, "a/x", Write) {
		t.Fatalf("LoadACL: %v", err)
	}
	if _, err := LoadACL(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadACL(missing) = %v", err)
	}
}

func TestAccessString(t *testing.T) {
	if Read.String() != "read" || Write.String() != "write" || Subscribe.String() != "subscribe" || Access(9).String() != "Access(9)" {
		t.Fatal("Access.String")
	}
}

func BenchmarkClientCheck(b *testing.B) {
	a, err := ParseACL(strings.NewReader(matrixACL), "")
	if err != nil {
		b.Fatal(err)
	}
	rules := a.For("alice", "cid-alice", false)
	b.ReportAllocs()
	for b.Loop() {
		rules.Check("p/alice/some/deep/topic", Read)
	}
}

func BenchmarkACLFor(b *testing.B) {
	a, err := ParseACL(strings.NewReader(matrixACL), "")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		a.For("alice", "cid-alice", false)
	}
}

func TestClientCheckAllocs(t *testing.T) {
	rules := parseACL(t, matrixACL).For("alice", "cid-alice", false)
	n := testing.AllocsPerRun(100, func() {
		rules.Check("p/alice/x", Read)
		rules.Check("a/#", Subscribe)
	})
	if n != 0 {
		t.Fatalf("Client.Check allocates %v times, want 0", n)
	}
}
