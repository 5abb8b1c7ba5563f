package modbus

import (
	"encoding/binary"

	"gatemq/internal/fmt"
)

// Function codes of the requests this package frames (Modbus Application
// Protocol v1.1b3, section 6).
const (
	FuncReadCoils              byte = 0x01
	FuncReadDiscreteInputs     byte = 0x02
	FuncReadHoldingRegisters   byte = 0x03
	FuncReadInputRegisters     byte = 0x04
	FuncWriteSingleCoil        byte = 0x05
	FuncWriteSingleRegister    byte = 0x06
	FuncWriteMultipleRegisters byte = 0x10
)

// Limits of a frame and of one request.
const (
	// MaxADU is the longest RTU frame: address, PDU of at most 253 bytes,
	// CRC (Modbus over Serial Line v1.02, 2.5.1.1).
	MaxADU = 256
	// MinSlave and MaxSlave bound a unicast slave address (0 is the
	// broadcast address, 248..255 are reserved).
	MinSlave = 1
	MaxSlave = 247
	// MaxReadBits and MaxReadRegisters bound the quantity of one read
	// (6.1, 6.2: 2000 coils or inputs; 6.3, 6.4: 125 registers).
	MaxReadBits      = 2000
	MaxReadRegisters = 125
	// MaxWriteRegisters bounds function 16's quantity (6.12).
	MaxWriteRegisters = 123
)

// Coil values of function 5 (6.5): 0xFF00 requests ON, 0x0000 OFF.
const (
	CoilOn  uint16 = 0xFF00
	CoilOff uint16 = 0x0000
)

// Errors of framing and decoding. An exception response is an
// *ExceptionError instead.
var (
	ErrCRC        error = constError("modbus: CRC mismatch")
	ErrWrongSlave error = constError("modbus: answer from another slave address")
	ErrFunction   error = constError("modbus: unexpected function code")
	ErrLength     error = constError("modbus: frame length or byte count does not match")
	ErrEcho       error = constError("modbus: write answer does not echo the request")
	ErrRequest    error = constError("modbus: bad request")
)

// ExceptionError is a slave's exception response (7): the request reached
// the slave, which refused it.
type ExceptionError struct {
	Function byte // the request's function code
	Code     byte // the exception code
}

func (e *ExceptionError) Error() string {
	return fmt.Sprintf("modbus: exception %d (%s) to function %d", e.Code, exceptionName(e.Code), e.Function)
}

func exceptionName(code byte) string {
	switch code {
	case 1:
		return "illegal function"
	case 2:
		return "illegal data address"
	case 3:
		return "illegal data value"
	case 4:
		return "slave device failure"
	case 5:
		return "acknowledge"
	case 6:
		return "slave device busy"
	case 8:
		return "memory parity error"
	case 0x0A:
		return "gateway path unavailable"
	case 0x0B:
		return "gateway target failed to respond"
	}
	return "unknown"
}

// Request is one request of the master. Values holds what a write sends:
// one value for function 5 (CoilOn or CoilOff) and 6, Quantity values for
// function 16; reads leave it nil.
type Request struct {
	Slave    byte
	Function byte
	Address  uint16
	Quantity uint16 // reads and function 16; ignored by 5 and 6
	Values   []uint16
}

// check reports whether r can be sent.
func (r *Request) check() error {
	if r.Slave < MinSlave || r.Slave > MaxSlave {
		return fmt.Errorf("%w: slave address %d", ErrRequest, r.Slave)
	}
	last := int(r.Address) + int(r.Quantity) - 1
	switch r.Function {
	case FuncReadCoils, FuncReadDiscreteInputs:
		if r.Quantity < 1 || r.Quantity > MaxReadBits || last > 0xFFFF {
			return fmt.Errorf("%w: %d bits at %d", ErrRequest, r.Quantity, r.Address)
		}
	case FuncReadHoldingRegisters, FuncReadInputRegisters:
		if r.Quantity < 1 || r.Quantity > MaxReadRegisters || last > 0xFFFF {
			return fmt.Errorf("%w: %d registers at %d", ErrRequest, r.Quantity, r.Address)
		}
	case FuncWriteSingleCoil:
		if len(r.Values) != 1 || r.Values[0] != CoilOn && r.Values[0] != CoilOff {
			return fmt.Errorf("%w: a coil is written 0xFF00 or 0x0000", ErrRequest)
		}
	case FuncWriteSingleRegister:
		if len(r.Values) != 1 {
			return fmt.Errorf("%w: function 6 writes one value", ErrRequest)
		}
	case FuncWriteMultipleRegisters:
		if r.Quantity < 1 || r.Quantity > MaxWriteRegisters || last > 0xFFFF || len(r.Values) != int(r.Quantity) {
			return fmt.Errorf("%w: %d registers at %d with %d values", ErrRequest, r.Quantity, r.Address, len(r.Values))
		}
	default:
		return fmt.Errorf("%w: function %d", ErrRequest, r.Function)
	}
	return nil
}

// AppendRequest appends r's RTU frame (address, PDU, CRC) to dst.
func AppendRequest(dst []byte, r *Request) ([]byte, error) {
	if err := r.check(); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, r.Slave, r.Function)
	dst = binary.BigEndian.AppendUint16(dst, r.Address)
	switch r.Function {
	case FuncWriteSingleCoil, FuncWriteSingleRegister:
		dst = binary.BigEndian.AppendUint16(dst, r.Values[0])
	case FuncWriteMultipleRegisters:
		dst = binary.BigEndian.AppendUint16(dst, r.Quantity)
		dst = append(dst, byte(2*r.Quantity))
		for _, v := range r.Values {
			dst = binary.BigEndian.AppendUint16(dst, v)
		}
	default:
		dst = binary.BigEndian.AppendUint16(dst, r.Quantity)
	}
	return appendCRC(dst, start), nil
}

// dataLen is the byte count of the answer to a read of q items.
func (r *Request) dataLen() int {
	if r.Function == FuncReadCoils || r.Function == FuncReadDiscreteInputs {
		return (int(r.Quantity) + 7) / 8
	}
	return 2 * int(r.Quantity)
}

func (r *Request) isRead() bool {
	return r.Function >= FuncReadCoils && r.Function <= FuncReadInputRegisters
}

// ResponseLen returns the length of the frame that answers r, judged from
// its first bytes b: 0 while b is too short to tell. An exception response
// is 5 bytes; an answer to a read is 5 plus the byte count the read asks
// for; an answer to a write is 8. It returns ErrFunction when b's function
// code is neither r's nor r's exception code, and ErrLength when a read's
// byte count is not the one r asks for: such bytes cannot be framed, and
// the caller waits for the bus to go silent.
func ResponseLen(r *Request, b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	switch b[1] {
	case r.Function | 0x80:
		return 5, nil
	case r.Function:
	default:
		return 0, ErrFunction
	}
	if !r.isRead() {
		return 8, nil
	}
	if len(b) < 3 {
		return 0, nil
	}
	if int(b[2]) != r.dataLen() {
		return 0, ErrLength
	}
	return 5 + int(b[2]), nil
}

// Response is a decoded answer. Data is the answer's data: a read's bytes
// after the byte count (registers big-endian, bits packed low bit first),
// empty for a write. It points into the frame given to DecodeResponse and
// is valid as long as that frame is.
type Response struct {
	Data []byte
}

// Register returns the i-th register of a read's answer.
func (r Response) Register(i int) uint16 { return binary.BigEndian.Uint16(r.Data[2*i:]) }

// Bit returns the i-th coil or input of a read's answer.
func (r Response) Bit(i int) bool { return r.Data[i/8]>>(i%8)&1 != 0 }

// DecodeResponse checks frame, whose length ResponseLen gave, as the answer
// to r: CRC first (ErrCRC), then the slave address (ErrWrongSlave), then
// the function (an exception response is an *ExceptionError; another
// function is ErrFunction), the length and byte count (ErrLength), and for
// a write the echo of address and value or quantity (ErrEcho).
func DecodeResponse(r *Request, frame []byte) (Response, error) {
	if len(frame) < 5 || len(frame) > MaxADU {
		return Response{}, ErrLength
	}
	if !crcOK(frame) {
		return Response{}, ErrCRC
	}
	if frame[0] != r.Slave {
		return Response{}, ErrWrongSlave
	}
	switch frame[1] {
	case r.Function | 0x80:
		if len(frame) != 5 {
			return Response{}, ErrLength
		}
		return Response{}, &ExceptionError{Function: r.Function, Code: frame[2]}
	case r.Function:
	default:
		return Response{}, ErrFunction
	}
	if r.isRead() {
		n := r.dataLen()
		if len(frame) != 5+n || int(frame[2]) != n {
			return Response{}, ErrLength
		}
		return Response{Data: frame[3 : 3+n]}, nil
	}
	if len(frame) != 8 {
		return Response{}, ErrLength
	}
	want := r.Quantity
	if r.Function != FuncWriteMultipleRegisters {
		want = r.Values[0]
	}
	if binary.BigEndian.Uint16(frame[2:]) != r.Address || binary.BigEndian.Uint16(frame[4:]) != want {
		return Response{}, ErrEcho
	}
	return Response{}, nil
}

// The slave's side, for simulators and tests.

// RequestLen returns the length of the request frame that starts with b, 0
// while b is too short to tell, or ErrFunction for a function this package
// does not frame.
func RequestLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	switch b[1] {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters,
		FuncWriteSingleCoil, FuncWriteSingleRegister:
		return 8, nil
	case FuncWriteMultipleRegisters:
		if len(b) < 7 {
			return 0, nil
		}
		return 9 + int(b[6]), nil
	}
	return 0, ErrFunction
}

// DecodeRequest decodes a request frame whose length RequestLen gave. The
// Values of the result are newly allocated.
func DecodeRequest(frame []byte) (Request, error) {
	if len(frame) < 8 || len(frame) > MaxADU {
		return Request{}, ErrLength
	}
	if !crcOK(frame) {
		return Request{}, ErrCRC
	}
	r := Request{Slave: frame[0], Function: frame[1], Address: binary.BigEndian.Uint16(frame[2:])}
	v := binary.BigEndian.Uint16(frame[4:])
	switch r.Function {
	case FuncWriteSingleCoil, FuncWriteSingleRegister:
		if len(frame) != 8 {
			return Request{}, ErrLength
		}
		r.Values = []uint16{v}
	case FuncWriteMultipleRegisters:
		r.Quantity = v
		if len(frame) < 9 || int(frame[6]) != 2*int(v) || len(frame) != 9+int(frame[6]) {
			return Request{}, ErrLength
		}
		for i := range int(v) {
			r.Values = append(r.Values, binary.BigEndian.Uint16(frame[7+2*i:]))
		}
	default:
		if len(frame) != 8 {
			return Request{}, ErrLength
		}
		r.Quantity = v
	}
	if err := r.check(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// AppendResponse appends the frame answering r to dst: for a read, data is
// the answer's data (ResponseData's layout) and must be as long as r asks;
// a write's answer echoes r and ignores data.
func AppendResponse(dst []byte, r *Request, data []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, r.Slave, r.Function)
	switch {
	case r.isRead():
		if len(data) != r.dataLen() {
			return dst[:start], ErrLength
		}
		dst = append(dst, byte(len(data)))
		dst = append(dst, data...)
	case r.Function == FuncWriteMultipleRegisters:
		dst = binary.BigEndian.AppendUint16(dst, r.Address)
		dst = binary.BigEndian.AppendUint16(dst, r.Quantity)
	case len(r.Values) == 1:
		dst = binary.BigEndian.AppendUint16(dst, r.Address)
		dst = binary.BigEndian.AppendUint16(dst, r.Values[0])
	default:
		return dst[:start], ErrRequest
	}
	return appendCRC(dst, start), nil
}

// AppendException appends an exception response of slave to function with
// code to dst.
func AppendException(dst []byte, slave, function, code byte) []byte {
	start := len(dst)
	dst = append(dst, slave, function|0x80, code)
	return appendCRC(dst, start)
}
