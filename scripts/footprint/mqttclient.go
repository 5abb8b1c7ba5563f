package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// connectAll opens n MQTT 3.1.1 clients, each subscribed at QoS 1 to its
// own topic and to fp/all. Persistent clients use clean session 0.
func connectAll(addr string, n int, persistent bool) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	const workers = 16
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				c, err := client(addr, fmt.Sprintf("fp-%05d", i), persistent)
				if err != nil {
					errs[w] = fmt.Errorf("client %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	return conns, errors.Join(errs...)
}

// closeAll closes every connection (RST, so no TIME_WAIT piles up).
func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		}
	}
}

// client connects, subscribes and waits for the SUBACK.
func client(addr, id string, persistent bool) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	flags := byte(0x02)
	if persistent {
		flags = 0
	}
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 0}, mqttString(id)...)
	pkt := append(append([]byte{0x10}, remLen(len(body))...), body...)
	sub := []byte{0, 1}
	sub = append(append(sub, mqttString("fp/"+id)...), 1)
	sub = append(append(sub, mqttString("fp/all")...), 1)
	pkt = append(append(append(pkt, 0x82), remLen(len(sub))...), sub...)
	if _, err := c.Write(pkt); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	for _, want := range []byte{0x20, 0x90} { // CONNACK, SUBACK
		typ, _, err := readPacket(br)
		if err != nil || typ != want {
			c.Close()
			return nil, fmt.Errorf("want packet %#x, got %#x (%v)", want, typ, err)
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// publishBacklog publishes n QoS 1 messages to fp/all and waits for each
// PUBACK (so every one is queued before it returns).
func publishBacklog(addr string, n, size int) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0}, mqttString("fp-publisher")...)
	if _, err := c.Write(append(append([]byte{0x10}, remLen(len(body))...), body...)); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	if typ, _, err := readPacket(br); err != nil || typ != 0x20 {
		return fmt.Errorf("publisher CONNACK: %#x %v", typ, err)
	}
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	for i := 1; i <= n; i++ {
		id := uint16(i%65535 + 1)
		pb := append(mqttString("fp/all"), byte(id>>8), byte(id))
		pb = append(pb, payload...)
		if _, err := c.Write(append(append([]byte{0x32}, remLen(len(pb))...), pb...)); err != nil {
			return err
		}
		if typ, _, err := readPacket(br); err != nil || typ != 0x40 {
			return fmt.Errorf("PUBACK %d: %#x %v", i, typ, err)
		}
	}
	return nil
}

// readPacket reads one MQTT packet and returns its type byte (flags
// cleared) and body.
func readPacket(br *bufio.Reader) (byte, []byte, error) {
	h, err := br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for range 4 {
		b, err := br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		mul *= 128
	}
	body := make([]byte, n)
	_, err = io.ReadFull(br, body)
	return h & 0xf0, body, err
}

// mqttString encodes s as an MQTT UTF-8 string (2-byte length prefix).
func mqttString(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...)
}

// remLen encodes n as an MQTT variable byte integer (remaining length).
func remLen(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}
