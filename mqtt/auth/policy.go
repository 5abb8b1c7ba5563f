package auth

import "gatemq/internal/fmt"

// Policy is the broker's whole access control, the one value the broker
// asks: who may connect (password_file and allow_anonymous) and what each
// client may publish, subscribe to and receive (acl_file). A Policy is
// immutable; a reload (SIGHUP) loads a new one and the broker swaps it in.
// A nil *Policy lets everyone connect and do everything.
type Policy struct {
	allowAnonymous bool
	passwords      *Passwords // nil: any username is accepted
	acl            *ACL       // nil: everything allowed
	settings       Settings
}

// Settings say where a Policy comes from: the config file's directives and
// the default that the listeners imply.
type Settings struct {
	_ [0]func() // not comparable: no generated == function (flash size)
	// PasswordFile and ACLFile are password_file and acl_file ("" for
	// none).
	PasswordFile, ACLFile string
	// AllowAnonymous is allow_anonymous as the config file sets it; nil
	// when the file does not say, then DefaultAnonymous decides.
	AllowAnonymous *bool
	// DefaultAnonymous is Mosquitto 2's default for allow_anonymous: true
	// only when no listener was configured (the broker then listens on the
	// loopback addresses alone), false as soon as any listener is.
	DefaultAnonymous bool
}

// LoadPolicy reads the files that s names and returns the policy they make.
// An error names the file (and, for a bad line, its number); a reload that
// fails keeps the policy in force.
func LoadPolicy(s Settings) (*Policy, error) {
	anonymous := s.DefaultAnonymous
	if s.AllowAnonymous != nil {
		anonymous = *s.AllowAnonymous
	}
	p := &Policy{allowAnonymous: anonymous, settings: s}
	if s.PasswordFile != "" {
		pw, err := Load(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
		p.passwords = pw
	}
	if s.ACLFile != "" {
		acl, err := LoadACL(s.ACLFile)
		if err != nil {
			return nil, fmt.Errorf("acl_file: %w", err)
		}
		p.acl = acl
	}
	return p, nil
}

// NewPolicy builds a policy from values already loaded (nil passwords:
// any username is accepted; nil acl: everything allowed).
func NewPolicy(allowAnonymous bool, passwords *Passwords, acl *ACL) *Policy {
	return &Policy{allowAnonymous: allowAnonymous, passwords: passwords, acl: acl}
}

// Settings returns what the policy was loaded from.
func (p *Policy) Settings() Settings {
	if p == nil {
		return Settings{}
	}
	return p.settings
}

// AllowsAnonymous reports whether clients without a username may connect.
func (p *Policy) AllowsAnonymous() bool { return p == nil || p.allowAnonymous }

// Credentials are what a client presented when it connected.
type Credentials struct {
	// Anonymous is true when the client sent no username.
	Anonymous bool
	// Username and Password are as sent (Password nil when absent).
	Username string
	Password []byte
	// Certificate is true when Username is the Common Name of a verified
	// client certificate (use_identity_as_username): the certificate is
	// the credential, the password file is not asked.
	Certificate bool
}

// Verdict is the answer to a connection attempt.
type Verdict uint8

// Verdicts of Authenticate.
const (
	// Admitted: the client may connect.
	Admitted Verdict = iota
	// AnonymousRefused: no username and allow_anonymous is false
	// (CONNACK "not authorized").
	AnonymousRefused
	// BadCredentials: unknown user or wrong password (CONNACK "bad
	// username or password").
	BadCredentials
)

// Authenticate decides whether a client with these credentials may
// connect.
func (p *Policy) Authenticate(c Credentials) Verdict {
	switch {
	case p == nil:
		return Admitted
	case c.Anonymous:
		if p.allowAnonymous {
			return Admitted
		}
		return AnonymousRefused
	case c.Certificate || p.passwords == nil:
		return Admitted
	case p.passwords.Check(c.Username, c.Password):
		return Admitted
	}
	return BadCredentials
}

// ChecksPasswords reports whether a password file judges usernames (so a
// successful login says something about the address it came from).
func (p *Policy) ChecksPasswords() bool { return p != nil && p.passwords != nil }

// Rules returns the ACL as it applies to one connected client (nil: all
// allowed). Build it when the client connects and again after a reload.
func (p *Policy) Rules(c Credentials, clientID string) *Client {
	if p == nil {
		return nil
	}
	return p.acl.For(c.Username, clientID, c.Anonymous)
}
