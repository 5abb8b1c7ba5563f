package auth

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"strconv"
	"strings"

	"gatemq/internal/digest"
	"gatemq/internal/fmt"
)

// Sizes and defaults of Mosquitto's password hashes.
const (
	// DefaultIterations is mosquitto_passwd's PBKDF2 iteration count, used by
	// HashPBKDF2 when it is given 0 or less.
	DefaultIterations = 101
	// SaltSize is the salt length in bytes that Mosquitto writes and requires.
	SaltSize = 12
	// HashSize is the SHA-512 digest length in bytes.
	HashSize = 64
	// maxIterations bounds the iteration count accepted from a file, so that
	// a typo cannot make every CONNECT burn seconds of a router's CPU.
	maxIterations = 10_000_000
	// maxField bounds usernames and passwords, as Mosquitto does (65535).
	maxField = 65535
	// maxLine bounds one line of a password or ACL file.
	maxLine = 1 << 20
)

// Hash kinds, the number between the first two '$' of an entry.
const (
	kindSHA512 = 6 // $6$SALT$HASH: SHA-512(password || salt), Mosquitto 1.x
	kindPBKDF2 = 7 // $7$ITER$SALT$HASH: PBKDF2-HMAC-SHA512, Mosquitto 2.x
)

// entry is one decoded password hash.
type entry struct {
	kind       int
	iterations int
	salt       [SaltSize]byte
	hash       [HashSize]byte
}

// digest computes password's hash with e's kind, iterations and salt. It
// returns nil if the hash cannot be computed (pbkdf2 refusing its input).
func (e *entry) digest(password []byte) []byte {
	if e.kind == kindSHA512 {
		sum := digest.SHA512(password, e.salt[:])
		return sum[:]
	}
	return digest.PBKDF2SHA512(password, e.salt[:], e.iterations, HashSize)
}

// Passwords is a loaded password file: usernames and their hashes. It is
// immutable once returned, so one value may be shared by all connections;
// a reload builds a new one. The zero value and nil hold no users.
type Passwords struct {
	users map[string]*entry
	dummy entry // hashed for unknown users, so they cost what a known one does
}

// Load reads a password file in mosquitto_passwd's format. Any line it
// cannot use is an error (*ParseError with the line number) rather than an
// entry silently dropped; see the package documentation.
func Load(path string) (*Passwords, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: password file: %w", err)
	}
	defer f.Close()
	return ParsePasswords(f, path)
}

// ParsePasswords reads a password file from r; name is used in errors.
//
// Each line is USER:HASH, where HASH is $7$ITERATIONS$SALT$DIGEST or
// $6$SALT$DIGEST with SALT and DIGEST in standard base64 (12 and 64 bytes).
// Blanks around USER and HASH are ignored, as are empty lines and lines
// starting with '#'. A user may appear once.
func ParsePasswords(r io.Reader, name string) (*Passwords, error) {
	p := &Passwords{users: make(map[string]*entry)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLine)
	counts := make(map[[2]int]int) // (kind, iterations) -> entries, to pick the dummy
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || text[0] == '#' {
			continue
		}
		perr := func(format string, args ...any) error {
			return &ParseError{Path: name, Line: line, Msg: fmt.Sprintf(format, args...)}
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok {
			return nil, perr("want USER:HASH, found no ':'")
		}
		user, hash = trimBlanks(user), trimBlanks(hash)
		if user == "" {
			return nil, perr("empty username")
		}
		if len(user) > maxField {
			return nil, perr("username longer than %d bytes", maxField)
		}
		if strings.Contains(hash, ":") {
			return nil, perr("user %q: unexpected ':' after the hash", user)
		}
		if _, dup := p.users[user]; dup {
			return nil, perr("user %q appears twice", user)
		}
		e, err := parseHash(hash)
		if err != nil {
			return nil, perr("user %q: %v", user, err)
		}
		p.users[user] = e
		counts[[2]int{e.kind, e.iterations}]++
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, &ParseError{Path: name, Line: line + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("auth: reading %s: %w", name, err)
	}
	p.dummy = entry{kind: kindPBKDF2, iterations: DefaultIterations}
	best := 0
	for k, n := range counts { // the most common (kind, iterations); ties go to the smaller
		cur := [2]int{p.dummy.kind, p.dummy.iterations}
		if n > best || n == best && (k[0] < cur[0] || k[0] == cur[0] && k[1] < cur[1]) {
			best, p.dummy.kind, p.dummy.iterations = n, k[0], k[1]
		}
	}
	return p, nil
}

// trimBlanks removes spaces and tabs at both ends, as Mosquitto does.
func trimBlanks(s string) string { return strings.Trim(s, " \t") }

// parseHash decodes the HASH part of an entry.
func parseHash(s string) (*entry, error) {
	parts := strings.Split(s, "$")
	if len(parts) < 2 || parts[0] != "" {
		return nil, fmt.Errorf("hash must start with $6$ or $7$")
	}
	e := &entry{}
	switch parts[1] {
	case "6":
		if len(parts) != 4 {
			return nil, fmt.Errorf("want $6$SALT$HASH")
		}
		e.kind = kindSHA512
		parts = parts[2:]
	case "7":
		if len(parts) != 5 {
			return nil, fmt.Errorf("want $7$ITERATIONS$SALT$HASH")
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || n > maxIterations {
			return nil, fmt.Errorf("iterations %q: want a number from 1 to %d", parts[2], maxIterations)
		}
		e.kind, e.iterations = kindPBKDF2, n
		parts = parts[3:]
	default:
		return nil, fmt.Errorf("unknown hash type $%s$ (want $6$ or $7$)", parts[1])
	}
	if err := decodeB64(e.salt[:], parts[0]); err != nil {
		return nil, fmt.Errorf("salt: %v", err)
	}
	if err := decodeB64(e.hash[:], parts[1]); err != nil {
		return nil, fmt.Errorf("hash: %v", err)
	}
	return e, nil
}

// decodeB64 decodes standard base64 (padding optional) into dst, which it
// must fill exactly.
func decodeB64(dst []byte, s string) error {
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return fmt.Errorf("not base64: %v", err)
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%d bytes, want %d", len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

// Check reports whether password is user's password. It takes the same time
// whether or not user exists (an unknown user costs one hash of the file's
// most common kind) and compares digests in constant time.
//
// A nil password means the client sent none: it never matches, as in
// Mosquitto, even for a user whose password is empty; pass a non-nil empty
// slice for an empty password. A nil *Passwords knows no user.
func (p *Passwords) Check(user string, password []byte) bool {
	if p == nil {
		return false
	}
	e, known := p.users[user]
	if !known {
		e = &p.dummy
	}
	sum := e.digest(password)
	match := len(sum) == HashSize && digest.Equal(sum, e.hash[:])
	return known && match && password != nil
}

// Has reports whether user has an entry.
func (p *Passwords) Has(user string) bool {
	if p == nil {
		return false
	}
	_, ok := p.users[user]
	return ok
}

// Len returns the number of users.
func (p *Passwords) Len() int {
	if p == nil {
		return 0
	}
	return len(p.users)
}

// HashPBKDF2 returns a new "$7$ITERATIONS$SALT$HASH" string for password
// with a fresh random salt, as mosquitto_passwd 2.x writes it. iterations
// <= 0 means DefaultIterations. The password must be 1 to 65535 bytes
// (ErrPassword otherwise).
func HashPBKDF2(password []byte, iterations int) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	if iterations <= 0 {
		iterations = DefaultIterations
	}
	if iterations > maxIterations {
		return "", fmt.Errorf("auth: iterations %d: at most %d", iterations, maxIterations)
	}
	e := entry{kind: kindPBKDF2, iterations: iterations}
	if err := digest.Random(e.salt[:]); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	sum := e.digest(password)
	if len(sum) != HashSize {
		return "", fmt.Errorf("auth: pbkdf2 refused the input")
	}
	copy(e.hash[:], sum)
	return e.String(), nil
}

// hashSHA512 returns a "$6$SALT$HASH" string (Mosquitto 1.x), for tests.
func hashSHA512(password []byte) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	e := entry{kind: kindSHA512}
	if err := digest.Random(e.salt[:]); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	copy(e.hash[:], e.digest(password))
	return e.String(), nil
}

// String formats e as it appears after "USER:" in the file.
func (e *entry) String() string {
	var b bytes.Buffer
	if e.kind == kindSHA512 {
		b.WriteString("$6$")
	} else {
		fmt.Fprintf(&b, "$7$%d$", e.iterations)
	}
	b.WriteString(base64.StdEncoding.EncodeToString(e.salt[:]))
	b.WriteByte('$')
	b.WriteString(base64.StdEncoding.EncodeToString(e.hash[:]))
	return b.String()
}

// checkPassword enforces what HashPBKDF2 accepts.
func checkPassword(password []byte) error {
	switch {
	case len(password) == 0:
		return fmt.Errorf("%w: empty", ErrPassword)
	case len(password) > maxField:
		return fmt.Errorf("%w: longer than %d bytes", ErrPassword, maxField)
	}
	return nil
}
