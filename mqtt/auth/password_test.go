package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Lines written by Debian's mosquitto_passwd 2.0.11 (mosquitto_passwd -b
// FILE USER PASS; -H sha512 for carol; -I 5 for dave), kept as golden data
// so that the format is checked even where the tool is missing.
const goldenPasswd = `# written by mosquitto_passwd 2.0.11
alice:$7$101$K3QHE8dPRXhL/GrW$AF6YE5bPBecc88E04snLWLIe4lLAyPLp66xaNkiCAgNBUNScR4r63qLxdW77SO+fZVVh3FJlL0YuR7A5mPwOQQ==
carol:$6$318D/Gs0DSbagIPM$ONTX+jvQyEH4esyHCSfNG2z/RtjKV3zNE6OlBQWo2WNWfWebxedwFzmR5zxUomnLZo0eUv8Q2/umEXvL3Uj/hg==

dave:$7$5$7vEDnbKurZouMV3T$wxaZwifoUsQ960izQWn7UWI9CIAflHRGF876hY1IWjleXHSNs0gwKXTr5lIfgGcKPZPg4ngTcZveG2etW4A6pQ==
zz:$7$101$iCmfjTTHQBYa+ck3$k+vSMxrfqbsy7geakrKlNCHzKZfauNfr+mQtvmBR+zaxWGF7HHE6QAzjnPDqZFrRtKbkjcxs6HbMjbmE3jFqpg==`

func parseString(t *testing.T, s string) *Passwords {
	t.Helper()
	p, err := ParsePasswords(strings.NewReader(s), "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGoldenMosquittoPasswd(t *testing.T) {
	p := parseString(t, goldenPasswd)
	if p.Len() != 4 {
		t.Fatalf("Len = %d, want 4", p.Len())
	}
	cases := []struct {
		user, pass string
		want       bool
	}{
		{"alice", "apass", true},
		{"alice", "apasS", false},
		{"alice", "apass ", false},
		{"alice", "", false},
		{"carol", "cpass", true}, // $6$
		{"carol", "apass", false},
		{"dave", "dpass", true}, // 5 iterations
		{"dave", "dpas", false},
		{"zz", "", true}, // mosquitto_passwd -b allows an empty password
		{"zz", "x", false},
		{"nobody", "apass", false},
		{"Alice", "apass", false},
	}
	for _, c := range cases {
		if got := p.Check(c.user, []byte(c.pass)); got != c.want {
			t.Errorf("Check(%q, %q) = %v, want %v", c.user, c.pass, got, c.want)
		}
	}
	if p.Check("zz", nil) {
		t.Error("Check with a nil password (none sent) matched an empty password")
	}
	if !p.Has("dave") || p.Has("eve") {
		t.Error("Has is wrong")
	}
}

func TestNilPasswords(t *testing.T) {
	var p *Passwords
	if p.Check("a", []byte("b")) || p.Has("a") || p.Len() != 0 {
		t.Fatal("nil *Passwords must know no user")
	}
}

func TestHashRoundTrip(t *testing.T) {
	h7, err := HashPBKDF2([]byte("s3cret"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h7, "$7$101$") {
		t.Fatalf("HashPBKDF2 = %q, want $7$101$ prefix", h7)
	}
	h7b, _ := HashPBKDF2([]byte("s3cret"), 0)
	if h7 == h7b {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	h1000, err := HashPBKDF2([]byte("x\x00y"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	h6, err := hashSHA512([]byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	p := parseString(t, "u7:"+h7+"\n  u1000 :\t"+h1000+" \r\nu6:"+h6+"\n")
	for _, c := range []struct {
		user, pass string
		want       bool
	}{
		{"u7", "s3cret", true}, {"u7", "s3cre", false},
		{"u1000", "x\x00y", true}, {"u1000", "x", false},
		{"u6", "old", true}, {"u6", "Old", false},
	} {
		if got := p.Check(c.user, []byte(c.pass)); got != c.want {
			t.Errorf("Check(%q, %q) = %v, want %v", c.user, c.pass, got, c.want)
		}
	}
	for _, bad := range [][]byte{nil, {}, make([]byte, 65536)} {
		if _, err := HashPBKDF2(bad, 0); !errors.Is(err, ErrPassword) {
			t.Errorf("HashPBKDF2(%d bytes) err = %v, want ErrPassword", len(bad), err)
		}
	}
	if _, err := HashPBKDF2([]byte("x"), maxIterations+1); err == nil {
		t.Error("HashPBKDF2 accepted too many iterations")
	}
}

func TestParsePasswordErrors(t *testing.T) {
	good := "ok:$7$101$K3QHE8dPRXhL/GrW$AF6YE5bPBecc88E04snLWLIe4lLAyPLp66xaNkiCAgNBUNScR4r63qLxdW77SO+fZVVh3FJlL0YuR7A5mPwOQQ=="
	hashOf := func(line string) string { _, h, _ := strings.Cut(line, ":"); return h }
	h := hashOf(good)
	cases := []struct {
		name, text, msg string
	}{
		{"no colon", "justaname", "no ':'"},
		{"empty user", ":" + h, "empty username"},
		{"empty hash", "u:", "must start with"},
		{"plain text", "u:secret", "must start with"},
		{"unknown kind", "u:$5$abc$def", "unknown hash type"},
		{"6 short", "u:$6$abc", "want $6$SALT$HASH"},
		{"7 short", "u:$7$101$abc", "want $7$ITERATIONS$SALT$HASH"},
		{"iterations zero", "u:" + strings.Replace(h, "$101$", "$0$", 1), "iterations"},
		{"iterations text", "u:" + strings.Replace(h, "$101$", "$x$", 1), "iterations"},
		{"iterations huge", "u:" + strings.Replace(h, "$101$", "$99999999$", 1), "iterations"},
		{"salt size", "u:" + strings.Replace(h, "K3QHE8dPRXhL/GrW", "K3QHE8dPRXhL", 1), "salt: 9 bytes"},
		{"salt base64", "u:" + strings.Replace(h, "K3QHE8dPRXhL/GrW", "K3QHE8dPRXhL/Gr!", 1), "salt: not base64"},
		{"hash size", "u:" + strings.TrimSuffix(h, "R7A5mPwOQQ==") + "==", "hash:"},
		{"extra colon", "u:" + h + ":x", "unexpected ':'"},
		{"duplicate", "ok:" + h, "appears twice"},
		{"long line", "u:" + strings.Repeat("x", maxLine+10), "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := "# comment\n" + good + "\n\n" + c.text + "\n"
			_, err := ParsePasswords(strings.NewReader(text), "pw")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			if pe.Line != 4 || pe.Path != "pw" || !strings.Contains(pe.Msg, c.msg) {
				t.Fatalf("err = %v; want line 4 and %q", err, c.msg)
			}
			if !strings.HasPrefix(err.Error(), "auth: pw:4: ") {
				t.Fatalf("Error() = %q", err.Error())
			}
		})
	}
}

func TestRawBase64Accepted(t *testing.T) {
	h, err := HashPBKDF2([]byte("pw"), 3)
	if err != nil {
		t.Fatal(err)
	}
	p := parseString(t, "u:"+strings.TrimRight(h, "=")+"\n")
	if !p.Check("u", []byte("pw")) {
		t.Fatal("unpadded base64 hash not accepted")
	}
}

func TestDummyFollowsTheFile(t *testing.T) {
	var lines []string
	for i, it := range []int{5, 5, 1000, 5} {
		h, err := HashPBKDF2([]byte("p"), it)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(rune('a'+i))+":"+h)
	}
	p := parseString(t, strings.Join(lines, "\n"))
	if p.dummy.kind != kindPBKDF2 || p.dummy.iterations != 5 {
		t.Fatalf("dummy = %+v, want pbkdf2 with 5 iterations (the common entry)", p.dummy)
	}
	if empty := parseString(t, ""); empty.dummy.iterations != DefaultIterations {
		t.Fatalf("empty file dummy = %+v", empty.dummy)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pw")
	if err := os.WriteFile(path, []byte(goldenPasswd), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil || !p.Check("alice", []byte("apass")) {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) err = %v, want ErrNotExist", err)
	}
}

func BenchmarkCheckPBKDF2(b *testing.B) {
	h, _ := HashPBKDF2([]byte("password"), 0)
	p, _ := ParsePasswords(strings.NewReader("u:"+h), "")
	pw := []byte("password")
	b.ReportAllocs()
	for b.Loop() {
		if !p.Check("u", pw) {
			b.Fatal("no match")
		}
	}
}
