package auth

import "strings"

// Client is the ACL as it applies to one client: its own section (the
// anonymous one, or its user's) and the patterns with its username and
// client ID substituted. Build it with ACL.For when the client connects and
// keep it for the connection (rebuild it after an ACL reload); Check does
// not allocate. A nil *Client allows everything (no acl_file). A Client is
// immutable and safe for concurrent use.
type Client struct {
	own       *ruleSet // nil: no section for this client
	patterns  ruleSet  // substituted; rules with %u dropped for anonymous clients
	dangerous bool     // patterns exist and the username or client ID holds '+' or '#'
}

// DenyAll is a Client that allows nothing: the rules of a client whose
// credentials a reload no longer accepts, until its connection is closed.
func DenyAll() *Client { return &Client{own: &ruleSet{}, dangerous: true} }

// For returns the rules that apply to a client. anonymous means the client
// sent no username (username is then ignored); an empty but present
// username is not anonymous. clientID must be the ID the broker uses for
// the client, including one it assigned. A nil *ACL returns a nil *Client.
func (a *ACL) For(username, clientID string, anonymous bool) *Client {
	if a == nil {
		return nil
	}
	c := &Client{}
	if anonymous {
		c.own = a.anon
	} else {
		c.own = a.users[username]
	}
	if len(a.patterns.denies)+len(a.patterns.grants) == 0 {
		return c
	}
	if !anonymous && strings.ContainsAny(username, "+#") || strings.ContainsAny(clientID, "+#") {
		c.dangerous = true
		return c
	}
	c.patterns.denies = substitute(a.patterns.denies, username, clientID, anonymous)
	c.patterns.grants = substitute(a.patterns.grants, username, clientID, anonymous)
	return c
}

// substitute returns rules with %c replaced by clientID and %u by username;
// rules with %u are left out for anonymous clients (as in Mosquitto).
func substitute(rules []rule, username, clientID string, anonymous bool) []rule {
	out := make([]rule, 0, len(rules))
	var b strings.Builder
	for _, r := range rules {
		if r.hasUser && anonymous {
			continue
		}
		b.Reset()
		f := r.filter
		for i := 0; i < len(f); i++ {
			if f[i] == '%' && i+1 < len(f) {
				switch f[i+1] {
				case 'c':
					b.WriteString(clientID)
					i++
					continue
				case 'u':
					b.WriteString(username)
					i++
					continue
				}
			}
			b.WriteByte(f[i])
		}
		out = append(out, rule{filter: b.String(), access: r.access})
	}
	return out
}

// Check reports whether the client may have access to topic: a topic name
// for Read and Write, a topic filter for Subscribe (with any "$share/NAME/"
// prefix removed by the caller). Pass one kind of access at a time.
//
// The client's own section is consulted first: a matching deny refuses, a
// matching grant of that access allows. Only if it decides nothing are the
// patterns consulted the same way (after refusing outright a client whose
// username or client ID contains '+' or '#'). Nothing matching refuses.
// For Subscribe, a deny matches when it covers the whole filter and a read
// grant when it shares at least one topic with the filter; see the package
// documentation.
func (c *Client) Check(topic string, access Access) bool {
	if c == nil {
		return true
	}
	if c.own != nil {
		if allowed, decided := c.own.decide(topic, access); decided {
			return allowed
		}
	}
	if c.dangerous {
		return false
	}
	allowed, _ := c.patterns.decide(topic, access)
	return allowed
}

// decide applies one section: a matching deny refuses, then a matching
// grant with the access allows; decided is false when no rule applies.
func (s *ruleSet) decide(topic string, access Access) (allowed, decided bool) {
	if access == Subscribe {
		for i := range s.denies {
			if covers(s.denies[i].filter, topic) {
				return false, true
			}
		}
		for i := range s.grants {
			if s.grants[i].access&Read != 0 && overlap(s.grants[i].filter, topic) {
				return true, true
			}
		}
		return false, false
	}
	for i := range s.denies {
		if matchTopic(s.denies[i].filter, topic) {
			return false, true
		}
	}
	for i := range s.grants {
		if s.grants[i].access&access != 0 && matchTopic(s.grants[i].filter, topic) {
			return true, true
		}
	}
	return false, false
}

// Check is For(username, clientID, anonymous).Check(topic, access), for
// one-off checks; it allocates, so a broker should keep the Client from For
// for each connection instead. A nil *ACL allows everything.
func (a *ACL) Check(username, clientID string, anonymous bool, topic string, access Access) bool {
	return a.For(username, clientID, anonymous).Check(topic, access)
}
