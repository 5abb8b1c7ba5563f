package serial

import (
	"math"
	"strconv"

	"gatemq/board/serial/modbus"
)

// publishRead publishes the values of the points read r covers from its
// answer resp.
func (p *modbusPoller) publishRead(r *modbus.Read, resp modbus.Response) {
	for _, i := range r.Points {
		reg := &p.regs[i]
		off := r.Offset(p.points[i])
		var raw float64
		if reg.kind.IsBit() {
			if resp.Bit(off) {
				raw = 1
			}
		} else {
			p.regBuf = p.regBuf[:0]
			for w := range reg.typ.Words() {
				p.regBuf = append(p.regBuf, resp.Register(off+w))
			}
			raw = reg.typ.Decode(p.regBuf)
		}
		p.publishValue(i, raw)
	}
}

// publishValue publishes register i's value from its raw number: ON or
// OFF for a bool, else raw*Scale+Offset as a decimal number.
func (p *modbusPoller) publishValue(i int, raw float64) {
	reg := &p.regs[i]
	text := reg.text[:0]
	switch {
	case reg.typ.IsBool():
		if raw != 0 {
			text = append(text, "ON"...)
		} else {
			text = append(text, "OFF"...)
		}
	case math.IsNaN(raw) || math.IsInf(raw, 0):
		p.st.invalid.Add(1)
		p.b.warnOnce("invalid "+reg.Name, "modbus register holds NaN or an infinity: not published", "register", reg.Name)
		return
	case reg.typ.IsFloat():
		text = strconv.AppendFloat(text, raw*reg.Scale+reg.Offset, 'f', -1, 32)
	default:
		text = strconv.AppendFloat(text, roundTo(raw*reg.Scale+reg.Offset, reg.decimals), 'f', -1, 64)
	}
	reg.text = text
	p.fresh[i] = true
	if err := p.b.broker.Publish(reg.topic, text, p.b.cfg.QoS, p.b.cfg.Retain); err != nil {
		p.b.st.publishErrors.Add(1)
		p.b.warnOnce("publish", "publishing a modbus value", "topic", reg.topic, "err", err)
		return
	}
	p.b.st.messages.Add(1)
}

// roundTo rounds v to d decimals, so that 3 * 0.1 reads 0.3.
func roundTo(v float64, d int) float64 {
	p := math.Pow10(d)
	if r := math.Round(v*p) / p; !math.IsInf(r, 0) && !math.IsNaN(r) {
		return r
	}
	return v
}

// publishJSON publishes the values read in this cycle as one JSON object
// on BASE (serial_json_state), in config order; bools are true or false.
func (p *modbusPoller) publishJSON() {
	if !p.b.cfg.JSONState {
		return
	}
	j := append(p.json[:0], '{')
	for i := range p.regs {
		if !p.fresh[i] {
			continue
		}
		reg := &p.regs[i]
		if len(j) > 1 {
			j = append(j, ',')
		}
		j = append(j, '"')
		j = append(j, reg.Name...) // a key: no character needs escaping
		j = append(j, `":`...)
		switch {
		case !reg.typ.IsBool():
			j = append(j, reg.text...)
		case string(reg.text) == "ON":
			j = append(j, "true"...)
		default:
			j = append(j, "false"...)
		}
	}
	j = append(j, '}')
	p.json = j
	if len(j) == 2 {
		return // nothing answered
	}
	if err := p.b.broker.Publish(p.b.cfg.Topic, j, p.b.cfg.QoS, p.b.cfg.Retain); err != nil {
		p.b.st.publishErrors.Add(1)
		p.b.warnOnce("publish", "publishing the modbus JSON state", "topic", p.b.cfg.Topic, "err", err)
		return
	}
	p.b.st.messages.Add(1)
}

// publishStats publishes the port's counters, retained at QoS 0, under
// $SYS/broker/serial/NAME/ (see the README for the list).
func (p *modbusPoller) publishStats() {
	if p.b.cfg.SysInterval <= 0 {
		return
	}
	base := "$SYS/broker/serial/" + p.b.cfg.Name + "/"
	var buf []byte
	pub := func(name string, n uint64) {
		buf = strconv.AppendUint(buf[:0], n, 10)
		_ = p.b.broker.Publish(base+name, buf, 0, true)
	}
	st, ms := p.b.Stats(), p.b.ModbusStats()
	pub("opens", st.Opens)
	pub("open_failures", st.OpenFailures)
	pub("bytes/read", st.BytesRead)
	pub("messages", st.Messages)
	pub("publish_errors", st.PublishErrors)
	pub("noise_bytes", ms.NoiseBytes)
	pub("invalid", ms.Invalid)
	pub("polls", ms.Cycles)
	pub("poll_us", uint64(ms.LastCycle.Microseconds()))
	pub("writes/done", st.CmdWritten)
	pub("writes/dropped", st.CmdDropped)
	pub("writes/ignored", st.CmdIgnored)
	pub("writes/refused", ms.WritesRefused)
	pub("writes/failed", ms.WritesFailed)
	for _, s := range ms.Slaves {
		sb := "slave/" + strconv.Itoa(s.Slave) + "/"
		pub(sb+"requests", s.Requests)
		pub(sb+"answers", s.Answers)
		pub(sb+"timeouts", s.Timeouts)
		pub(sb+"crc_errors", s.CRCErrors)
		pub(sb+"exceptions", s.Exceptions)
		pub(sb+"wrong_slave", s.WrongSlave)
		pub(sb+"malformed", s.Malformed)
		state := "not answering"
		if s.Answering {
			state = "answering"
		}
		_ = p.b.broker.Publish(base+sb+"state", []byte(state), 0, true)
	}
}
