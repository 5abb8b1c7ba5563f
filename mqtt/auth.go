package mqtt

import (
	"gatemq/mqtt/auth"
)

// Auth is the broker's access control: who may connect (Mosquitto's
// password_file and allow_anonymous) and which topics each client may
// publish to, subscribe to and receive (Mosquitto's acl_file).
type Auth struct {
	// AllowAnonymous lets clients without a username connect.
	AllowAnonymous bool
	// Passwords, when set, must accept the username and password of every
	// client that sends a username. Without it any username is accepted
	// (as Mosquitto does without password_file).
	Passwords *auth.Passwords
	// ACL, when set, limits what each client may do; nil allows
	// everything.
	ACL *auth.ACL
}

// SetAuth replaces the access control, e.g. after SIGHUP reloaded the
// files. Connected clients keep their connections; their ACL rules are
// rebuilt from the new file at once.
func (s *Server) SetAuth(a *Auth) {
	s.authMu.Lock()
	s.auth = a
	s.authMu.Unlock()
	sessions := s.sessionList()
	for _, ss := range sessions {
		ss.mu.Lock()
		if ss.identity != nil {
			ss.acl.Store(aclFor(a, ss.identity, ss.id))
		}
		ss.mu.Unlock()
	}
}

// currentAuth returns the access control in force (nil: none).
func (s *Server) currentAuth() *Auth {
	s.authMu.RLock()
	defer s.authMu.RUnlock()
	return s.auth
}

// identity is who a connection authenticated as.
type identity struct {
	username  string
	anonymous bool
}

// aclFor returns the ACL rules of one client (nil: everything allowed).
func aclFor(a *Auth, id *identity, clientID string) *auth.Client {
	if a == nil || a.ACL == nil {
		return nil
	}
	return a.ACL.For(id.username, clientID, id.anonymous)
}

// withoutPasswords is a copy of a that accepts any username (for clients
// identified by their certificate).
func (a *Auth) withoutPasswords() *Auth {
	if a == nil {
		return nil
	}
	b := *a
	b.Passwords = nil
	return &b
}

// authenticate decides whether a CONNECT may go on: ok false means refused,
// with notAuthorized telling "not authorized" (anonymous refused) from "bad
// username or password".
func (a *Auth) authenticate(usernameFlag bool, username string, password []byte) (ok, notAuthorized bool) {
	if a == nil {
		return true, false
	}
	if !usernameFlag {
		return a.AllowAnonymous, !a.AllowAnonymous
	}
	if a.Passwords != nil && !a.Passwords.Check(username, password) {
		return false, false
	}
	return true, false
}

// allowed reports whether the session's ACL grants access to topic (a nil
// ACL grants everything).
func (ss *session) allowed(topic string, access auth.Access) bool {
	c := ss.acl.Load()
	return c == nil || c.Check(topic, access)
}
