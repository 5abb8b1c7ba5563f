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
// new policy at once. Clients of listeners with their own policy
// (SetListenerAuth) are judged by that one.
func (s *Server) SetAuth(p *auth.Policy) {
	s.authMu.Lock()
	s.auth = p
	s.authMu.Unlock()
	s.recheckAuth()
}

// SetListenerAuth gives listeners their own access-control policies
// (Mosquitto's per_listener_settings true), by listener name
// (ListenerOptions.Name), replacing the ones set before; a listener
// without one uses the broker's (SetAuth). Clients are checked again as
// SetAuth does. A session that is offline keeps the policy of the
// listener it last connected through, as in Mosquitto; after a restart,
// until its client connects again, it is judged by the broker's.
func (s *Server) SetListenerAuth(policies map[string]*auth.Policy) {
	s.authMu.Lock()
	s.listenerAuth = policies
	s.authMu.Unlock()
	s.recheckAuth()
}

// recheckAuth applies the policies in force to every session.
func (s *Server) recheckAuth() {
	var refused []*client
	for _, ss := range s.sessionList() {
		ss.mu.Lock()
		if ss.identity != nil {
			p := s.authFor(ss.listener)
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

// currentAuth returns the broker's access-control policy (nil: none).
func (s *Server) currentAuth() *auth.Policy {
	s.authMu.RLock()
	defer s.authMu.RUnlock()
	return s.auth
}

// authFor returns the policy for clients of listener: its own, else the
// broker's.
func (s *Server) authFor(listener string) *auth.Policy {
	s.authMu.RLock()
	defer s.authMu.RUnlock()
	if p, ok := s.listenerAuth[listener]; ok {
		return p
	}
	return s.auth
}

// allowed reports whether the session's ACL grants access to topic (a nil
// ACL grants everything).
func (ss *session) allowed(topic string, access auth.Access) bool {
	c := ss.acl.Load()
	return c == nil || c.Check(topic, access)
}
