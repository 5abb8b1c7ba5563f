package logdest

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Syslog priorities: the facilities gatemq uses and the severities
// (RFC 5424), as log/syslog's.
const (
	sysDaemon  = 3 << 3
	sysLocal0  = 16 << 3
	sysErr     = 3
	sysWarning = 4
	sysNotice  = 5
	sysInfo    = 6
	sysDebug   = 7
)

// syslogWriter is a connection to syslog that writes what log/syslog's
// Writer writes, byte for byte: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG\n" to
// a local socket, "<PRI>RFC3339 HOST TAG[PID]: MSG\n" over the network;
// it reconnects once when a write fails. log/syslog formats these lines
// with fmt, which the -tags nossl build otherwise does without (with what
// it drags in, about 80 KB of the linux/mipsle binary);
// TestSyslogMatchesLogSyslog holds this writer to log/syslog.
type syslogWriter struct {
	_        [0]func() // not comparable: no generated == function (flash size)
	facility int
	tag      string
	hostname string
	network  string // "" for the local syslog
	raddr    string

	mu   sync.Mutex
	conn net.Conn
	// local is whether conn is a local socket (the short format).
	local bool
}

// dialSyslogWriter connects to syslog at network and raddr, or to the
// local syslog (/dev/log, ...) when network is "", as syslog.Dial does.
func dialSyslogWriter(network, raddr string, facility int, tag string) (*syslogWriter, error) {
	hostname, _ := os.Hostname()
	w := &syslogWriter{facility: facility, tag: tag, hostname: hostname, network: network, raddr: raddr}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.connect(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *syslogWriter) connect() error {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
	if w.network == "" {
		if w.hostname == "" {
			w.hostname = "localhost"
		}
		for _, network := range []string{"unixgram", "unix"} {
			for _, path := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
				if c, err := net.Dial(network, path); err == nil {
					w.conn, w.local = c, true
					return nil
				}
			}
		}
		return errors.New("Unix syslog delivery error")
	}
	c, err := net.Dial(w.network, w.raddr)
	if err != nil {
		return err
	}
	w.conn, w.local = c, w.network == "unixgram" || w.network == "unix"
	if w.hostname == "" {
		w.hostname = c.LocalAddr().String()
	}
	return nil
}

// write sends msg with the severity sev, reconnecting once if that fails.
func (w *syslogWriter) write(sev int, msg string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		if err := w.send(sev, msg); err == nil {
			return nil
		}
	}
	if err := w.connect(); err != nil {
		return err
	}
	return w.send(sev, msg)
}

func (w *syslogWriter) send(sev int, msg string) error {
	b := append(make([]byte, 0, 64+len(msg)), '<')
	b = strconv.AppendInt(b, int64(w.facility|sev), 10)
	b = append(b, '>')
	if w.local {
		b = time.Now().AppendFormat(b, time.Stamp)
	} else {
		b = time.Now().AppendFormat(b, time.RFC3339)
		b = append(b, ' ')
		b = append(b, w.hostname...)
	}
	b = append(b, ' ')
	b = append(b, w.tag...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, "]: "...)
	b = append(b, msg...)
	if !strings.HasSuffix(msg, "\n") {
		b = append(b, '\n')
	}
	_, err := w.conn.Write(b)
	return err
}

// Close closes the connection.
func (w *syslogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}
