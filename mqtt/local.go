package mqtt

import (
	"errors"
	"strconv"

	"gatemq/mqtt/topic"
)

// LocalHandler receives the messages of an in-process subscription. It runs
// on the publisher's goroutine, so it must return quickly and must not call
// back into the broker's Subscribe; copying into a bounded queue is the
// expected use. retained is true for retained messages sent when the
// subscription is made. payload must not be modified or kept past the call
// without copying.
type LocalHandler func(topic string, payload []byte, retained bool)

// Subscribe makes an in-process subscription (used by the serial bridge and
// other built-in clients, which need no socket). Matching messages are
// handed to fn as they are routed, at most once per message, and the
// retained messages matching filter are handed over at once. The returned
// cancel removes the subscription; it is safe to call more than once.
func (s *Server) Subscribe(filter string, fn LocalHandler) (cancel func(), err error) {
	if fn == nil {
		return nil, errors.New("mqtt: Subscribe with a nil handler")
	}
	if err := topic.ValidFilter([]byte(filter)); err != nil {
		return nil, err
	}
	group, plain, _ := topic.ParseShared(filter)
	ss := s.newSession("$local-"+strconv.FormatUint(s.nextAutoID.Add(1), 36), false)
	ss.local = fn
	ss.subs[filter] = subOpts{qos: 2}
	s.retMu.Lock()
	s.addSub(ss, filter, subOpts{qos: 2})
	var ms []*Message
	if group == "" {
		ms = s.retainedMatching(plain, ss)
	}
	s.retMu.Unlock()
	for _, m := range ms {
		fn(m.Topic, m.Payload, true)
	}
	return func() { s.redeliverShared(s.endSession(ss, nil)) }, nil
}
