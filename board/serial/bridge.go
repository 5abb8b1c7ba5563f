package serial

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	goserial "go.bug.st/serial"

	"gatemq/internal/fmt"
	"gatemq/internal/textlog"
)

// Broker is what a Bridge needs from the MQTT broker. gatemq's in-process
// client API satisfies it through a small adapter in main.
type Broker interface {
	// Publish routes a message to the matching subscribers and retains it
	// when retain is set. It must not keep payload after it returns.
	Publish(topic string, payload []byte, qos byte, retain bool) error
	// Subscribe calls fn for every message matching filter until cancel
	// is called (and at once for matching retained messages, with retained
	// true). fn runs on the publisher's goroutine: the bridge copies the
	// payload into a bounded queue and returns at once.
	Subscribe(filter string, fn func(topic string, payload []byte, retained bool)) (cancel func(), err error)
}

// The payloads of a port's retained status topic.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// ErrRunning is returned by Run when the bridge is already running.
var ErrRunning error = constError("serial: bridge already running")

// Stats counts what a bridge did since it was made.
type Stats struct {
	Opens         uint64 // successful opens of the device
	OpenFailures  uint64 // failed attempts to open it
	BytesRead     uint64
	Lines         uint64 // lines (DSMR telegrams, NMEA fixes) parsed and published
	Messages      uint64 // readings published
	Garbage       uint64 // lines skipped: invalid UTF-8 or control bytes (noise, binary); DSMR: runs of noise between telegrams
	TooLong       uint64 // lines skipped: longer than MaxLine (DSMR: telegrams without '!' within MaxLine)
	Partial       uint64 // unfinished lines dropped when the device went away (DSMR: also telegrams cut short by the next '/')
	ParseErrors   uint64 // lines skipped: not in the port's format (or a key on the cmd/status topic)
	PublishErrors uint64 // readings the broker refused
	CmdWritten    uint64 // commands written to the device
	CmdDropped    uint64 // commands dropped: device absent, queue full, too long, or write failed
	CmdIgnored    uint64 // retained commands not replayed on subscribe
	// ChecksumErrors counts DSMR telegrams whose CRC did not match (or
	// that lacked one) and NMEA sentences whose checksum did not (or that
	// had none); they are skipped.
	ChecksumErrors uint64
	CmdOffline     uint64 // commands dropped because the device was not connected (also in CmdDropped)
}

// bridgeCounters are Stats as atomics (read by Bridge.Stats at any time).
type bridgeCounters struct {
	_ [0]func() // not comparable: no generated == function (flash size)
	opens, openFailures, bytesRead, lines, messages, garbage, tooLong, partial,
	parseErrors, publishErrors, cmdWritten, cmdDropped, cmdIgnored atomic.Uint64
	checksumErrors, cmdOffline atomic.Uint64
}

// opener opens a device; tests replace goserial.Open with pipes.
type opener func(device string, mode *goserial.Mode) (io.ReadWriteCloser, error)

// Bridge moves lines from one serial device to MQTT topics and commands
// from MQTT back to the device. Make it with NewBridge and drive it with
// Run, which owns every goroutine the bridge starts.
type Bridge struct {
	cfg    Config // normalized
	mode   *goserial.Mode
	broker Broker
	log    *textlog.Logger
	open   opener
	ending []byte

	cmds    chan []byte // commands for the device, line ending included
	online  atomic.Bool // the device is open: commands are accepted
	running atomic.Bool
	// cmdWarned is set after the writer's first warning of a session.
	cmdWarned atomic.Bool
	// offlineWarnAt is when a command dropped for an absent device was
	// last logged at Warn (UnixNano; 0 never).
	offlineWarnAt atomic.Int64
	st            bridgeCounters

	// State of Run's goroutine only.
	split     *lineSplitter
	frame     framer // split, or the format's own (dsmr)
	parser    *lineParser
	dsmr      *dsmrDecoder // dsmr only
	nmea      *nmeaState   // nmea only
	readBuf   []byte
	emit      func([]byte)
	topics    map[string]keyTopic // key -> topic, at most maxDiscoveredKeys
	reserved  map[string]bool     // keys whose topic is the cmd or status topic
	status    string              // last status published
	warned    map[string]bool     // warnings given since the device was opened
	keyTopic0 string              // KeyTopic before {key}
	keyTopic1 string              // KeyTopic after {key}

	mb *modbusPoller // FormatModbus only
}

// NewBridge checks cfg and returns a bridge for it. log may be nil (no
// logging). Nothing is opened or started before Run.
func NewBridge(cfg Config, broker Broker, log *textlog.Logger) (*Bridge, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if broker == nil {
		return nil, errors.New("serial: NewBridge with a nil Broker")
	}
	c := cfg.Normalize()
	mode, _ := c.Mode() // checked
	if c.GatewayID == "" {
		c.GatewayID, _ = GatewayID(IDSource{})
	}
	if log == nil {
		log = textlog.New(textlog.DiscardHandler{})
	}
	ending, _ := lineEnding(c.LineEnding) // checked
	b := &Bridge{
		cfg:      c,
		mode:     mode,
		broker:   broker,
		log:      log.With("serial", c.Name, "device", c.Device),
		open:     openSerial,
		ending:   []byte(ending),
		cmds:     make(chan []byte, c.CmdQueue),
		split:    newLineSplitter(c.MaxLine),
		parser:   newLineParser(c),
		readBuf:  make([]byte, min(c.MaxLine, 4096)),
		topics:   make(map[string]keyTopic),
		reserved: make(map[string]bool),
		warned:   make(map[string]bool),
	}
	b.keyTopic0, b.keyTopic1, _ = strings.Cut(c.KeyTopic, "{key}")
	b.useFormat()
	return b, nil
}

// Config returns the bridge's normalized config (defaults applied, topics
// expanded). Its maps and slices are shared: do not modify them.
func (b *Bridge) Config() Config { return b.cfg }

// Stats returns a snapshot of the bridge's counters. It is safe to call at
// any time from any goroutine.
func (b *Bridge) Stats() Stats {
	s := &b.st
	return Stats{
		Opens: s.opens.Load(), OpenFailures: s.openFailures.Load(), BytesRead: s.bytesRead.Load(),
		Lines: s.lines.Load(), Messages: s.messages.Load(), Garbage: s.garbage.Load(),
		TooLong: s.tooLong.Load(), Partial: s.partial.Load(), ParseErrors: s.parseErrors.Load(),
		PublishErrors: s.publishErrors.Load(), CmdWritten: s.cmdWritten.Load(),
		CmdDropped: s.cmdDropped.Load(), CmdIgnored: s.cmdIgnored.Load(),
		ChecksumErrors: s.checksumErrors.Load(), CmdOffline: s.cmdOffline.Load(),
	}
}

// Run bridges the port until ctx is done: it subscribes to the command
// topic, announces discovery, opens the device (retrying with back-off
// between RetryMin and RetryMax while it is absent), reads and publishes
// lines, writes commands, and reopens the device whenever it goes away.
// It publishes the retained status online while the device is open and
// offline otherwise, and offline when it returns. Run returns nil once ctx
// is done and every goroutine it started has ended; it returns an error
// only if the command subscription fails, or ErrRunning if another Run of
// b has not returned.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer b.running.Store(false)
	if b.cfg.CmdTopic != "" {
		cancel, err := b.broker.Subscribe(b.cfg.CmdTopic, b.onCommand)
		if err != nil {
			return fmt.Errorf("serial: serial %s: subscribing to %s: %w", b.cfg.Name, b.cfg.CmdTopic, err)
		}
		defer cancel()
	}
	if b.mb != nil {
		cancel, err := b.mb.subscribe()
		if err != nil {
			return err
		}
		defer cancel()
	}
	b.announceStatic()
	delay, failing := b.cfg.RetryMin, false
	for ctx.Err() == nil {
		conn, err := b.open(b.cfg.Device, b.mode)
		if err != nil {
			b.st.openFailures.Add(1)
			if !failing {
				b.log.Warn("serial device not available; retrying in the background", "err", err)
				failing = true
			} else {
				b.log.Debug("serial device still not available", "err", err, "retry_in", delay)
			}
			b.setStatus(StatusOffline)
			if !sleepCtx(ctx, delay) {
				break
			}
			delay = min(2*delay, b.cfg.RetryMax)
			continue
		}
		b.st.opens.Add(1)
		b.log.Info("serial device open", "baud", b.cfg.Baud, "format", b.cfg.Format, "topic", b.cfg.Topic)
		clear(b.warned)
		b.cmdWarned.Store(false)
		delay, failing = b.cfg.RetryMin, true // a loss is logged below, not again by the retries
		err = b.serve(ctx, conn)
		b.setStatus(StatusOffline)
		if ctx.Err() != nil {
			break
		}
		st := b.Stats()
		b.log.Warn("serial device lost; reopening when it returns", "err", err,
			"lines", st.Lines, "garbage", st.Garbage, "too_long", st.TooLong, "parse_errors", st.ParseErrors,
			"checksum_errors", st.ChecksumErrors, "cmd_written", st.CmdWritten, "cmd_dropped", st.CmdDropped)
		if !sleepCtx(ctx, delay) {
			break
		}
	}
	b.setStatus(StatusOffline)
	b.drainCmds()
	st := b.Stats()
	b.log.Info("serial bridge stopped", "lines", st.Lines, "messages", st.Messages, "garbage", st.Garbage,
		"too_long", st.TooLong, "partial", st.Partial, "parse_errors", st.ParseErrors,
		"checksum_errors", st.ChecksumErrors, "cmd_written", st.CmdWritten, "cmd_dropped", st.CmdDropped,
		"cmd_offline", st.CmdOffline)
	return nil
}

// sleepCtx waits d or until ctx is done; it reports whether ctx is still
// live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// setStatus publishes the retained status when it changes.
func (b *Bridge) setStatus(s string) {
	if b.cfg.StatusTopic == "" || b.status == s {
		return
	}
	if err := b.broker.Publish(b.cfg.StatusTopic, []byte(s), 1, true); err != nil {
		b.log.Warn("publishing serial status", "topic", b.cfg.StatusTopic, "err", err)
		return
	}
	b.status = s
}

// warnOnce logs at Warn the first time kind happens after the device was
// opened, and at Debug after that.
func (b *Bridge) warnOnce(kind, msg string, args ...any) {
	if b.warned[kind] {
		b.log.Debug(msg, args...)
		return
	}
	b.warned[kind] = true
	b.log.Warn(msg+" (further ones are logged at debug level and counted)", args...)
}
