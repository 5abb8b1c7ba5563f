package mqtt

import (
	"gatemq/mqtt/auth"
	"gatemq/mqtt/packet"
)

// SetAuth puts a new access-control policy in force, e.g. after SIGHUP
// reloaded the files. Every connected client's credentials are checked
// again, as Mosquitto does on reload: a client whose user was removed,
// whose password changed, or who is anonymous where anonymous clients are
// no longer allowed is disconnected (5.0: DISCONNECT 0x87 not authorized).
// The others keep their connections, with their ACL rules rebuilt from the
// new policy at once.
func (s *Server) SetAuth(p *auth.Policy) {
	s.authMu.Lock()
	s.auth = p
	s.authMu.Unlock()
	var refused []*client
	for _, ss := range s.sessionList() {
		ss.mu.Lock()
		if ss.identity != nil {
			ss.acl.Store(p.Rules(*ss.identity, ss.id))
			if ss.conn != nil && p.Authenticate(*ss.identity) != auth.Admitted {
				ss.acl.Store(auth.DenyAll())
				refused = append(refused, ss.conn)
			}
		}
		ss.mu.Unlock()
	}
	for _, c := range refused {
		s.stats.authRevoked.Add(1)
		s.log.Info("disconnecting a client the reloaded password file or allow_anonymous no longer admits", "client", c.id, "remote", c.remote())
		c.kickOut(packet.NotAuthorized)
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
