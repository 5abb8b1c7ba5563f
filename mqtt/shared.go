package mqtt

import (
	"gatemq/mqtt/topic"
)

// pickShared keeps, in place, one member of each shared subscription group
// that matched: connected members first, spread by message id.
func pickShared(subs []topic.Sub[*session], msgID uint64) []topic.Sub[*session] {
	shared := false
	for i := range subs {
		if subs[i].Group != "" {
			shared = true
			break
		}
	}
	if !shared {
		return subs
	}
	out := subs[:0]
	for i := 0; i < len(subs); i++ {
		s := subs[i]
		if s.Group == "" {
			out = append(out, s)
			continue
		}
		if s.Key == nil { // already handled with its group
			continue
		}
		// Members of this group, in match order.
		var members [16]int
		idx := members[:0]
		for j := i; j < len(subs); j++ {
			if subs[j].Key != nil && subs[j].Group == s.Group {
				idx = append(idx, j)
			}
		}
		start := int(msgID % uint64(len(idx)))
		chosen := idx[start]
		for k := range idx {
			j := idx[(start+k)%len(idx)]
			ss := subs[j].Key
			ss.mu.Lock()
			online := ss.conn != nil || ss.local != nil
			ss.mu.Unlock()
			if online {
				chosen = j
				break
			}
		}
		pick := subs[chosen]
		for _, j := range idx {
			subs[j].Key = nil
		}
		out = append(out, pick)
	}
	clear(subs[len(out):])
	return out
}

// redeliverShared gives each message another member of its shared
// subscription group, if one is left.
func (s *Server) redeliverShared(redo []target) {
	for _, r := range redo {
		m := r.om.msg()
		s.subMu.Lock()
		subs := s.subs.Match(topicBytes(m.Topic), nil)
		s.subMu.Unlock()
		members := subs[:0]
		for _, sub := range subs {
			if sub.Group == r.om.group() {
				members = append(members, sub)
			}
		}
		if len(members) == 0 {
			s.log.Debug("shared message dropped: no member left", "group", r.om.group(), "topic", m.Topic)
			continue
		}
		pick := pickShared(members, m.ID+1)[0]
		tg := target{ss: pick.Key, om: hotOut(m), qos: min(r.qos, pick.QoS)}
		tg.om.subID = pick.ID
		tg.om.setMore(&outMore{group: r.om.group()})
		if tg.ss.persistent && tg.qos > 0 {
			if t := s.beginTxn(); t != nil {
				s.putQueued(t, tg.ss, m, tg.qos)
				if err := s.commitTxn(t); err != nil {
					continue
				}
			}
		}
		s.deliver(tg.ss, tg.om, tg.qos, nil)
	}
}
