// Package modbustest simulates Modbus RTU slaves for tests: a Bus holds
// the tables of several slave addresses and answers request frames the way
// a device would, and can be told to fall silent or to misbehave.
package modbustest

import (
	"encoding/binary"
	"sync"

	"gatemq/board/serial/modbus"
)

// Slave is the data of one slave address. Addresses not in a map are
// answered with exception 2 (illegal data address).
type Slave struct {
	Coils    map[uint16]bool
	Discrete map[uint16]bool
	Holding  map[uint16]uint16
	Input    map[uint16]uint16
	// Silent makes the slave ignore its requests, as an absent one would.
	Silent bool
}

// NewSlave returns a slave with empty tables.
func NewSlave() *Slave {
	return &Slave{Coils: map[uint16]bool{}, Discrete: map[uint16]bool{}, Holding: map[uint16]uint16{}, Input: map[uint16]uint16{}}
}

// Bus is a set of slaves on one line. Its methods are safe for concurrent
// use; change a Slave's fields through Do.
type Bus struct {
	mu     sync.Mutex
	slaves map[byte]*Slave
	writes []modbus.Request
	// Mangle, when set, may change an answer before it goes out (tests of
	// bad wires): it gets the request and the answer and returns what is
	// sent (nil sends nothing).
	mangle func(req modbus.Request, answer []byte) []byte
}

// NewBus returns a bus with the given slaves.
func NewBus(slaves map[byte]*Slave) *Bus { return &Bus{slaves: slaves} }

// Do runs fn with the bus locked, to read or change its slaves.
func (b *Bus) Do(fn func(slaves map[byte]*Slave)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fn(b.slaves)
}

// SetMangle sets the function that may change answers (nil: none).
func (b *Bus) SetMangle(fn func(req modbus.Request, answer []byte) []byte) {
	b.mu.Lock()
	b.mangle = fn
	b.mu.Unlock()
}

// Writes returns the write requests carried out so far.
func (b *Bus) Writes() []modbus.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]modbus.Request(nil), b.writes...)
}

// Handle answers one request frame: it returns the answer frame, or nil
// when nobody answers (a bad frame, an unknown or silent slave).
func (b *Bus) Handle(frame []byte) []byte {
	req, err := modbus.DecodeRequest(frame)
	if err != nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.slaves[req.Slave]
	if s == nil || s.Silent {
		return nil
	}
	ans := b.answer(s, &req)
	if b.mangle != nil {
		ans = b.mangle(req, ans)
	}
	return ans
}

func (b *Bus) answer(s *Slave, req *modbus.Request) []byte {
	illegal := func() []byte { return modbus.AppendException(nil, req.Slave, req.Function, 2) }
	var data []byte
	switch req.Function {
	case modbus.FuncReadCoils, modbus.FuncReadDiscreteInputs:
		m := s.Coils
		if req.Function == modbus.FuncReadDiscreteInputs {
			m = s.Discrete
		}
		data = make([]byte, (int(req.Quantity)+7)/8)
		for i := range int(req.Quantity) {
			v, ok := m[req.Address+uint16(i)]
			if !ok {
				return illegal()
			}
			if v {
				data[i/8] |= 1 << (i % 8)
			}
		}
	case modbus.FuncReadHoldingRegisters, modbus.FuncReadInputRegisters:
		m := s.Holding
		if req.Function == modbus.FuncReadInputRegisters {
			m = s.Input
		}
		for i := range int(req.Quantity) {
			v, ok := m[req.Address+uint16(i)]
			if !ok {
				return illegal()
			}
			data = binary.BigEndian.AppendUint16(data, v)
		}
	case modbus.FuncWriteSingleCoil:
		if _, ok := s.Coils[req.Address]; !ok {
			return illegal()
		}
		s.Coils[req.Address] = req.Values[0] == modbus.CoilOn
		b.writes = append(b.writes, *req)
	case modbus.FuncWriteSingleRegister, modbus.FuncWriteMultipleRegisters:
		for i := range req.Values {
			if _, ok := s.Holding[req.Address+uint16(i)]; !ok {
				return illegal()
			}
		}
		for i, v := range req.Values {
			s.Holding[req.Address+uint16(i)] = v
		}
		b.writes = append(b.writes, *req)
	}
	ans, err := modbus.AppendResponse(nil, req, data)
	if err != nil {
		return modbus.AppendException(nil, req.Slave, req.Function, 4)
	}
	return ans
}
