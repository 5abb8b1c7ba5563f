package serial

import (
	"context"
	"io"
	"sync"
)

// session is one open period of the device.
type session struct {
	_    [0]func() // not comparable: no generated == function (flash size)
	conn io.ReadWriteCloser
	once sync.Once
}

// close closes the device once; a Read or Write in progress returns.
func (s *session) close() { s.once.Do(func() { _ = s.conn.Close() }) }

// serve runs one session: the writer goroutine for commands, and the read
// loop on the caller's goroutine. It returns the read error once the
// device is closed and the writer has ended.
func (b *Bridge) serve(ctx context.Context, conn io.ReadWriteCloser) error {
	if b.mb != nil {
		return b.serveModbus(ctx, conn)
	}
	s := &session{conn: conn}
	sctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(sctx, s.close) // Close ends a blocked Read
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.writeLoop(sctx, cancel, s)
	}()
	b.drainCmds() // nothing stale from the last session reaches the device
	b.frame.reset()
	b.setStatus(StatusOnline)
	b.online.Store(true)

	err := b.readLoop(conn)

	b.online.Store(false)
	cancel()
	s.close() // waits for the AfterFunc's close, if that one runs
	wg.Wait()
	stop()
	b.drainCmds()
	if b.frame.reset() {
		b.st.partial.Add(1)
	}
	return err
}

// maxEmptyReads ends a session whose Read keeps returning nothing without
// an error (it never should: no read timeout is set).
const maxEmptyReads = 100

// readLoop reads until Read fails (the device went away or was closed).
func (b *Bridge) readLoop(r io.Reader) error {
	empty := 0
	for {
		n, err := r.Read(b.readBuf)
		if n > 0 {
			empty = 0
			b.st.bytesRead.Add(uint64(n))
			if tl := b.frame.feed(b.readBuf[:n], b.emit); tl > 0 {
				b.st.tooLong.Add(uint64(tl))
				b.warnOnce("too_long", "serial line (DSMR: telegram) longer than serial_max_line skipped", "max_line", b.cfg.MaxLine)
			}
		}
		if err != nil {
			return err
		}
		if n == 0 {
			if empty++; empty >= maxEmptyReads {
				return io.ErrNoProgress
			}
		}
	}
}

// handleLine publishes the readings of one line.
func (b *Bridge) handleLine(line []byte) {
	if !isText(line) {
		b.st.garbage.Add(1)
		b.warnOnce("garbage", "serial line with binary data or invalid UTF-8 skipped (wrong baud rate?)", "len", len(line))
		return
	}
	rs, err := b.parser.parse(line)
	if err != nil {
		b.st.parseErrors.Add(1)
		b.warnOnce("parse", "serial line not in the port's format skipped", "format", b.cfg.Format, "err", err, "line", string(line))
		return
	}
	b.publishReadings(rs)
}

// publishReadings publishes the readings of one line, telegram or fix, or
// none of them if one has the key of the command or status topic.
func (b *Bridge) publishReadings(rs []reading) {
	for _, r := range rs {
		if r.key != nil && b.reserved[string(r.key)] {
			b.st.parseErrors.Add(1)
			b.warnOnce("reserved", "serial reading skipped: its topic is the port's command or status topic", "key", string(r.key))
			return
		}
	}
	b.st.lines.Add(1)
	for _, r := range rs {
		topic := b.cfg.Topic
		if r.key != nil {
			topic = b.topicOf(r.key, r.value)
		}
		if err := b.broker.Publish(topic, r.value, b.cfg.QoS, b.cfg.Retain); err != nil {
			b.st.publishErrors.Add(1)
			b.warnOnce("publish", "publishing a serial reading", "topic", topic, "err", err)
			continue
		}
		b.st.messages.Add(1)
	}
}

// keyTopic is what the bridge keeps of a key: its topic, and whether a
// value of it was seen (the first one can change its announcement).
type keyTopic struct {
	topic  string
	valued bool
}

// topicOf returns the topic of key, caching it and announcing it to Home
// Assistant the first time (for at most maxDiscoveredKeys keys; after that
// topics are built per reading and new keys are not announced). value is
// the key's value (nil when announcing a key from the config before any
// value): when the first one makes a key announced without a value
// numeric, the key is announced again with its state class.
func (b *Bridge) topicOf(key, value []byte) string {
	if kt, ok := b.topics[string(key)]; ok {
		if !kt.valued && value != nil {
			kt.valued = true
			b.topics[string(key)] = kt
			k := string(key)
			if b.announces() && keyMetaOf(&b.cfg, k, nil) != keyMetaOf(&b.cfg, k, value) {
				b.announce(k, kt.topic, "", value)
			}
		}
		return kt.topic
	}
	k := string(key)
	t := b.keyTopic0 + k + b.keyTopic1
	if len(b.topics) >= maxDiscoveredKeys {
		b.warnOnce("keys", "serial port has many distinct keys: new ones are not announced to Home Assistant", "max", maxDiscoveredKeys)
		return t
	}
	b.topics[k] = keyTopic{topic: t, valued: value != nil}
	if b.announces() {
		b.announce(k, t, "", value)
	}
	return t
}

// announces reports whether keys get their own discovery message when
// first seen (not for a JSON port that publishes whole lines).
func (b *Bridge) announces() bool {
	return b.cfg.Discovery && (b.cfg.Format != FormatJSON || b.cfg.JSONSplit)
}

// markReserved records the keys whose topic would be the command or status
// topic, so that a device cannot echo into its own command topic.
func (b *Bridge) markReserved() {
	for _, t := range []string{b.cfg.CmdTopic, b.cfg.StatusTopic} {
		if t == "" {
			continue
		}
		if rest, ok := trimPrefixSuffix(t, b.keyTopic0, b.keyTopic1); ok && rest != "" {
			b.reserved[rest] = true
		}
	}
}

func trimPrefixSuffix(s, pre, suf string) (string, bool) {
	if len(s) < len(pre)+len(suf) || s[:len(pre)] != pre || s[len(s)-len(suf):] != suf {
		return "", false
	}
	return s[len(pre) : len(s)-len(suf)], true
}

// announceStatic marks reserved keys and publishes the discovery messages
// of the keys known from the config (and an nmea port's device tracker).
func (b *Bridge) announceStatic() {
	if b.mb != nil {
		b.mb.announce()
		return
	}
	b.markReserved()
	if !b.cfg.Discovery {
		return
	}
	if b.cfg.Format == FormatNMEA {
		topic := trackerTopic(&b.cfg)
		if err := b.broker.Publish(topic, trackerPayload(&b.cfg), 1, true); err != nil {
			b.log.Warn("publishing Home Assistant discovery", "topic", topic, "err", err)
		}
	}
	for _, k := range staticKeys(&b.cfg) {
		switch {
		case b.cfg.Format == FormatRaw:
			b.announce(k, b.cfg.Topic, "", nil)
		case b.cfg.Format == FormatJSON && !b.cfg.JSONSplit:
			b.announce(k, b.cfg.Topic, "{{ value_json['"+k+"'] }}", nil)
		case !b.reserved[k]:
			b.topicOf([]byte(k), nil) // announces it
		}
	}
}

// announce publishes the retained discovery config of one key.
func (b *Bridge) announce(key, stateTopic, template string, value []byte) {
	topic := discoveryTopic(&b.cfg, key)
	if err := b.broker.Publish(topic, discoveryPayload(&b.cfg, key, stateTopic, template, value), 1, true); err != nil {
		b.log.Warn("publishing Home Assistant discovery", "topic", topic, "err", err)
	}
}
