//go:build !linux

package mqtt

import (
	"errors"
	"syscall"
)

// idlePollerSupported says that no connection parks here: each keeps its
// reader goroutine while idle.
const idlePollerSupported = false

// idlePoller is not available on this system (see idle_linux.go).
type idlePoller struct{}

func newIdlePoller() (*idlePoller, error) {
	return nil, errors.New("mqtt: no idle poller on this system")
}

func (p *idlePoller) park(*client, syscall.Conn) bool { return false }
func (p *idlePoller) unpark(*client)                  {}
func (p *idlePoller) parkedCount() int                { return 0 }
func (p *idlePoller) close()                          {}
