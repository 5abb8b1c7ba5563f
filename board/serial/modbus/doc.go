// Package modbus is a small Modbus RTU codec: frames with their
// CRC-16/MODBUS, the PDUs of the functions a polling master needs (read
// coils, discrete inputs, holding and input registers: 1–4; write a coil,
// a register, several registers: 5, 6, 16) and their exception responses,
// the conversion of register contents to numbers (bool, int16, uint16,
// int32, uint32, float32, 32-bit values in any of four byte orders), and
// the planning of a poll cycle into as few reads as possible. It does no
// I/O, reads no clock and keeps no state: the serial bridge (package
// board/serial) owns the port, the timing and the retries.
//
// # Frames
//
// An RTU frame is the slave address (1..247), the PDU (function code and
// data) and the CRC, low byte first; at most 256 bytes (MaxADU). Frames
// are told apart on the wire by silence: at least 3.5 character times
// between two frames. This package frames an answer by its length
// instead, which the request and the answer's first three bytes give
// (ResponseLen): the silent interval is the caller's business, used to
// resynchronise after noise.
//
//	01 03 00 00 00 0A C5 CD       read 10 holding registers of slave 1 from 0
//	01 03 14 <20 data bytes> CRC  the answer
//	01 83 02 C0 F1                exception 2 (illegal data address)
//
// # Usage
//
//	req := modbus.Request{Slave: 1, Function: modbus.FuncReadHoldingRegisters, Address: 0, Quantity: 10}
//	frame, err := modbus.AppendRequest(buf[:0], &req)
//	... write frame, then read bytes into in until
//	n, err := modbus.ResponseLen(&req, in)   // n > 0 && len(in) >= n
//	resp, err := modbus.DecodeResponse(&req, in[:n])
//	v := modbus.Type{...}.Decode([]uint16{resp.Register(0), resp.Register(1)})
//
// Response.Data points into the frame given to DecodeResponse and is
// valid as long as that frame is. Bad input — noise, a truncated or
// corrupted frame, an answer from another slave, a wrong byte count — is
// an error value, never a panic, and nothing is allocated by a length read
// from the wire.
//
// The slave's side (RequestLen, DecodeRequest, AppendResponse,
// AppendException) is here for simulators and tests.
package modbus
