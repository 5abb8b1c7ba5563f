package mqtt

import (
	"gatemq/mqtt/auth"
)

// SetAuth puts a new access-control policy in force, e.g. after SIGHUP
// reloaded the files. Connected clients keep their connections; their ACL
// rules are rebuilt from the new policy at once.
func (s *Server) SetAuth(p *auth.Policy) {
	s.authMu.Lock()
	s.auth = p
	s.authMu.Unlock()
	sessions := s.sessionList()
	for _, ss := range sessions {
		ss.mu.Lock()
		if ss.identity != nil {
			ss.acl.Store(p.Rules(*ss.identity, ss.id))
		}
		ss.mu.Unlock()
	}
}

// currentAuth returns the access-control policy in force (nil: none).
func (s *Server) currentAuth() *auth.Policy {
	s.authMu.RLock()
	defer s.authMu.RUnlock()
	return s.auth
}

// allowed reports whether the session's ACL grants access to topic (a nil
// ACL grants everything).
func (ss *session) allowed(topic string, access auth.Access) bool {
	c := ss.acl.Load()
	return c == nil || c.Check(topic, access)
}
