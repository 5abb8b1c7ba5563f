package serial

import (
	"context"
	"slices"
	"sync"

	"gatemq/internal/textlog"
)

// Start starts one bridge per port, each running until stop is called, and
// returns the function that stops them all: stop publishes each port's
// offline status and returns once every bridge goroutine has ended, so
// call it while broker still takes messages. Calling stop again does
// nothing more. A port whose bridge cannot be made (see NewBridge) is
// logged and left out; the other ports start. log may be nil (no
// logging).
func Start(ports []Config, broker Broker, log *textlog.Logger) (stop func()) {
	if log == nil {
		log = textlog.New(textlog.DiscardHandler{})
	}
	if len(ports) > 0 {
		id, from := GatewayID(IDSource{})
		if id == "" {
			log.Warn("serial: no machine id and no MAC address: Home Assistant unique_ids hold no gateway id")
		} else {
			log.Debug("serial: Home Assistant unique_ids use this gateway's id", "gateway_id", id, "from", from)
		}
		ports = slices.Clone(ports)
		for i := range ports {
			if ports[i].GatewayID == "" {
				ports[i].GatewayID = id
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, pc := range ports {
		b, err := NewBridge(pc, broker, log)
		if err != nil {
			log.Error("serial port not started", "serial", pc.Name, "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Run(ctx); err != nil {
				log.Error("serial bridge stopped", "serial", pc.Name, "err", err)
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
