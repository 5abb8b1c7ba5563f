package modbus

import (
	"math"
	"strings"

	"gatemq/internal/fmt"
)

// Kind is one of the four Modbus data tables.
type Kind uint8

// The data tables (Modbus Application Protocol 4.3).
const (
	Coil          Kind = iota + 1 // read-write bits, functions 1 and 5
	DiscreteInput                 // read-only bits, function 2
	Holding                       // read-write registers, functions 3, 6 and 16
	Input                         // read-only registers, function 4
)

// KindNames are the names ParseKind accepts, in Kind order.
var KindNames = []string{"coil", "discrete", "holding", "input"}

// ParseKind parses a kind's name (KindNames).
func ParseKind(s string) (Kind, error) {
	for i, n := range KindNames {
		if s == n {
			return Kind(i + 1), nil
		}
	}
	return 0, fmt.Errorf("modbus: unknown kind %q (%s)", s, strings.Join(KindNames, ", "))
}

func (k Kind) String() string {
	if k < Coil || k > Input {
		return fmt.Sprintf("Kind(%d)", uint8(k))
	}
	return KindNames[k-1]
}

// IsBit reports whether k holds bits (coils, discrete inputs) rather than
// 16-bit registers.
func (k Kind) IsBit() bool { return k == Coil || k == DiscreteInput }

// Writable reports whether a master may write k (coils, holding registers).
func (k Kind) Writable() bool { return k == Coil || k == Holding }

// ReadFunction is the function code that reads k.
func (k Kind) ReadFunction() byte {
	switch k {
	case Coil:
		return FuncReadCoils
	case DiscreteInput:
		return FuncReadDiscreteInputs
	case Holding:
		return FuncReadHoldingRegisters
	}
	return FuncReadInputRegisters
}

// MaxRead is the largest quantity of k one read may ask for.
func (k Kind) MaxRead() int {
	if k.IsBit() {
		return MaxReadBits
	}
	return MaxReadRegisters
}

// Order is how a 32-bit value's four bytes ABCD (A the most significant)
// lie in its two registers on the wire. Meters differ.
type Order uint8

// The orders of 32-bit values, by the suffix of their type names.
const (
	ABCD Order = iota // "": high word first, each word big-endian (the Modbus convention)
	CDAB              // "-ws": words swapped, low word first
	BADC              // "-bs": bytes swapped within each word
	DCBA              // "-le": little-endian throughout
)

var orderSuffixes = [...]string{ABCD: "", CDAB: "-ws", BADC: "-bs", DCBA: "-le"}

type base uint8

const (
	baseBool base = iota + 1
	baseInt16
	baseUint16
	baseInt32
	baseUint32
	baseFloat32
)

var baseNames = [...]string{baseBool: "bool", baseInt16: "int16", baseUint16: "uint16",
	baseInt32: "int32", baseUint32: "uint32", baseFloat32: "float32"}

// Type is how a value is stored: bool, int16, uint16, int32, uint32 or
// float32, the 32-bit ones in an Order. A bool is a coil or discrete input,
// or a register that is non-zero. Its zero value is not a valid type.
type Type struct {
	b     base
	order Order
}

// TypeNames returns the names ParseType accepts.
func TypeNames() []string {
	var names []string
	for b := baseBool; b <= baseFloat32; b++ {
		for o, suf := range orderSuffixes {
			if o > 0 && b < baseInt32 {
				break
			}
			names = append(names, baseNames[b]+suf)
		}
	}
	return names
}

// ParseType parses a type's name: bool, int16, uint16, int32, uint32 or
// float32, the 32-bit ones optionally followed by -ws (word-swapped), -bs
// (byte-swapped) or -le (little-endian).
func ParseType(s string) (Type, error) {
	for b := baseBool; b <= baseFloat32; b++ {
		rest, ok := strings.CutPrefix(s, baseNames[b])
		if !ok {
			continue
		}
		for o, suf := range orderSuffixes {
			if rest == suf && (o == 0 || b >= baseInt32) {
				return Type{b: b, order: Order(o)}, nil
			}
		}
	}
	return Type{}, fmt.Errorf("modbus: unknown type %q (%s)", s, strings.Join(TypeNames(), ", "))
}

func (t Type) String() string {
	if t.b < baseBool || t.b > baseFloat32 {
		return "invalid"
	}
	return baseNames[t.b] + orderSuffixes[t.order]
}

// Words is how many registers a value of t takes (1 or 2); on a bit table
// a bool takes one bit.
func (t Type) Words() int {
	if t.b >= baseInt32 {
		return 2
	}
	return 1
}

// IsBool reports whether t is bool.
func (t Type) IsBool() bool { return t.b == baseBool }

// IsFloat reports whether t is a float32 type.
func (t Type) IsFloat() bool { return t.b == baseFloat32 }

// Range returns the smallest and largest value t holds.
func (t Type) Range() (lo, hi float64) {
	switch t.b {
	case baseBool:
		return 0, 1
	case baseInt16:
		return math.MinInt16, math.MaxInt16
	case baseUint16:
		return 0, math.MaxUint16
	case baseInt32:
		return math.MinInt32, math.MaxInt32
	case baseUint32:
		return 0, math.MaxUint32
	}
	return -math.MaxFloat32, math.MaxFloat32
}

// ErrRange is returned by Encode for a value its type cannot hold.
var ErrRange error = constError("modbus: value out of the type's range")

// join32 makes the 32 bits of a value from its two registers as read.
func (t Type) join32(w0, w1 uint16) uint32 {
	switch t.order {
	case CDAB:
		w0, w1 = w1, w0
	case BADC:
		w0, w1 = swap16(w0), swap16(w1)
	case DCBA:
		w0, w1 = swap16(w1), swap16(w0)
	}
	return uint32(w0)<<16 | uint32(w1)
}

// split32 is join32's inverse.
func (t Type) split32(v uint32) (w0, w1 uint16) {
	w0, w1 = uint16(v>>16), uint16(v)
	switch t.order {
	case CDAB:
		w0, w1 = w1, w0
	case BADC:
		w0, w1 = swap16(w0), swap16(w1)
	case DCBA:
		w0, w1 = swap16(w1), swap16(w0)
	}
	return w0, w1
}

func swap16(w uint16) uint16 { return w<<8 | w>>8 }

// Decode returns the value held in regs, which has t.Words() registers as
// read from the slave (a bool is 1 when its register is not 0).
func (t Type) Decode(regs []uint16) float64 {
	switch t.b {
	case baseBool:
		if regs[0] != 0 {
			return 1
		}
		return 0
	case baseInt16:
		return float64(int16(regs[0]))
	case baseUint16:
		return float64(regs[0])
	}
	v := t.join32(regs[0], regs[1])
	switch t.b {
	case baseInt32:
		return float64(int32(v))
	case baseUint32:
		return float64(v)
	}
	return float64(math.Float32frombits(v))
}

// Encode appends to dst the registers that hold v: a whole number for the
// integer types (it is not rounded here) and 0 or 1 for bool. It returns
// ErrRange for a value t cannot hold, a fraction for an integer type
// included, and for NaN or an infinity.
func (t Type) Encode(dst []uint16, v float64) ([]uint16, error) {
	lo, hi := t.Range()
	if math.IsNaN(v) || v < lo || v > hi || !t.IsFloat() && v != math.Trunc(v) {
		return dst, ErrRange
	}
	switch t.b {
	case baseBool:
		return append(dst, uint16(v)), nil
	case baseInt16:
		return append(dst, uint16(int16(v))), nil
	case baseUint16:
		return append(dst, uint16(v)), nil
	}
	var bits uint32
	switch t.b {
	case baseInt32:
		bits = uint32(int32(v))
	case baseUint32:
		bits = uint32(v)
	default:
		bits = math.Float32bits(float32(v))
	}
	w0, w1 := t.split32(bits)
	return append(dst, w0, w1), nil
}
