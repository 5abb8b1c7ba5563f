package modbus

// crcTable is the CRC-16/MODBUS table (reflected polynomial 0xA001).
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC returns the CRC-16/MODBUS of b (initial value 0xFFFF, reflected
// polynomial 0xA001, no final XOR). On the wire it follows the frame low
// byte first.
func CRC(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^c]
	}
	return crc
}

// appendCRC appends the CRC of dst[start:] to dst, low byte first.
func appendCRC(dst []byte, start int) []byte {
	c := CRC(dst[start:])
	return append(dst, byte(c), byte(c>>8))
}

// crcOK reports whether frame ends in the CRC of what precedes it.
func crcOK(frame []byte) bool {
	n := len(frame)
	return n >= 4 && CRC(frame[:n-2]) == uint16(frame[n-2])|uint16(frame[n-1])<<8
}
