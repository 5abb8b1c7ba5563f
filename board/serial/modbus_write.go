package serial

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"

	"gatemq/board/serial/modbus"
	"gatemq/internal/fmt"
)

// subscribe subscribes to the set topic of every writable register; the
// returned function cancels them all.
func (p *modbusPoller) subscribe() (cancel func(), err error) {
	var cancels []func()
	cancel = func() {
		for _, c := range cancels {
			c()
		}
	}
	for i := range p.regs {
		if p.regs[i].setTopic == "" {
			continue
		}
		c, err := p.b.broker.Subscribe(p.regs[i].setTopic, p.onSet(i))
		if err != nil {
			cancel()
			return nil, fmt.Errorf("serial: serial %s: subscribing to %s: %w", p.b.cfg.Name, p.regs[i].setTopic, err)
		}
		cancels = append(cancels, c)
	}
	return cancel, nil
}

// onSet returns the handler of register i's set topic. It runs on the
// publisher's goroutine, so it only queues the payload for the poller (or
// counts it as dropped) and returns. A retained set message, which the
// broker hands over when the subscription is made, is never replayed; a
// set message while the device is absent is dropped, not kept for later.
func (p *modbusPoller) onSet(i int) func(string, []byte, bool) {
	return func(_ string, payload []byte, retained bool) {
		b := p.b
		switch {
		case retained:
			b.st.cmdIgnored.Add(1)
			return
		case len(payload) > maxSetPayload:
			p.st.writesRefused.Add(1)
			b.log.Debug("modbus write refused: payload too long", "register", p.regs[i].Name, "len", len(payload))
			return
		case !b.online.Load():
			b.st.cmdDropped.Add(1)
			b.log.Debug("modbus write dropped: device not available", "register", p.regs[i].Name)
			return
		}
		select {
		case p.writes <- mbWrite{reg: i, payload: string(payload)}:
		default:
			b.st.cmdDropped.Add(1)
			b.log.Debug("modbus write dropped: queue full", "queue", cap(p.writes))
		}
	}
}

// pendingWrites carries out the writes waiting, if any.
func (p *modbusPoller) pendingWrites(sctx context.Context) error {
	for {
		select {
		case w := <-p.writes:
			if err := p.write(sctx, w); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// write carries out one set message: the value is checked, scaled back and
// rounded, written with function 5, 6 or 16, then read back and published.
// Only errors that end the session are returned.
func (p *modbusPoller) write(sctx context.Context, w mbWrite) error {
	reg := &p.regs[w.reg]
	req, err := reg.writeRequest(w.payload)
	if err != nil {
		p.st.writesRefused.Add(1)
		p.b.warnOnce("refused "+reg.Name, "modbus write refused", "register", reg.Name, "payload", w.payload, "err", err)
		return nil
	}
	_, err = p.transact(sctx, &req, p.retries)
	var es errSession
	switch {
	case errors.As(err, &es):
		p.b.st.cmdDropped.Add(1)
		return es.err
	case err != nil:
		p.st.writesFailed.Add(1)
		p.b.warnOnce("write "+reg.Name, "modbus write failed", "register", reg.Name, "slave", reg.Slave, "payload", w.payload, "err", err)
		return p.judge(reg.slave, &req, err)
	}
	p.b.st.cmdWritten.Add(1)
	p.b.log.Debug("modbus write done", "register", reg.Name, "payload", w.payload, "values", req.Values)
	// Read the register back: what the slave holds now is the state.
	rd := modbus.Read{Slave: reg.slave.id, Kind: reg.kind, Address: uint16(reg.Address),
		Quantity: uint16(reg.typ.Words()), Points: []int{w.reg}}
	rq := rd.Request()
	resp, err := p.transact(sctx, &rq, p.retries)
	if err = p.judge(reg.slave, &rq, err); err != nil {
		return err
	}
	if resp.Data != nil {
		p.publishRead(&rd, resp)
	}
	return nil
}

// parseSetValue reads a set message: a number, or ON/OFF (also true/false),
// which are 1 and 0.
func parseSetValue(payload string) (float64, error) {
	s := strings.TrimSpace(payload)
	switch strings.ToLower(s) {
	case "on", "true":
		return 1, nil
	case "off", "false":
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number or ON/OFF", s)
	}
	return v, nil
}

// writeRequest turns a set message into the request that writes it: the
// value is scaled back ((v - Offset) / Scale), rounded to a whole number
// for an integer type, and checked against the type's range.
func (r *mbReg) writeRequest(payload string) (modbus.Request, error) {
	v, err := parseSetValue(payload)
	if err != nil {
		return modbus.Request{}, err
	}
	req := modbus.Request{Slave: r.slave.id, Address: uint16(r.Address)}
	if r.typ.IsBool() {
		if v != 0 && v != 1 {
			return req, fmt.Errorf("%v: want ON, OFF, 1 or 0", v)
		}
		if r.kind == modbus.Coil {
			req.Function, req.Values = modbus.FuncWriteSingleCoil, []uint16{modbus.CoilOff}
			if v == 1 {
				req.Values[0] = modbus.CoilOn
			}
			return req, nil
		}
	}
	raw := (v - r.Offset) / r.Scale
	if !r.typ.IsFloat() {
		raw = math.Round(raw)
	}
	req.Values, err = r.typ.Encode(nil, raw)
	if err != nil {
		lo, hi := r.typ.Range()
		return req, fmt.Errorf("%v is %v in the register, outside %s's %v..%v", v, raw, r.typ, lo, hi)
	}
	if len(req.Values) == 1 {
		req.Function = modbus.FuncWriteSingleRegister
	} else {
		req.Function, req.Quantity = modbus.FuncWriteMultipleRegisters, uint16(len(req.Values))
	}
	return req, nil
}
