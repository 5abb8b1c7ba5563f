package modbus

import (
	"cmp"
	"slices"
)

// Point is one value to poll: Words registers (or one bit) of a table of
// a slave, from Address on.
type Point struct {
	Slave   byte
	Kind    Kind
	Address uint16
	Words   uint16 // registers it takes (Type.Words); 1 on a bit table
}

// end is one past the point's last address.
func (p Point) end() int { return int(p.Address) + int(p.Words) }

// Read is one read request of a poll cycle and the points it covers.
type Read struct {
	Slave    byte
	Kind     Kind
	Address  uint16
	Quantity uint16
	// Points are the indexes, in the slice given to Plan, of the points
	// this read covers, by address.
	Points []int
}

// Request returns the read's request.
func (r *Read) Request() Request {
	return Request{Slave: r.Slave, Function: r.Kind.ReadFunction(), Address: r.Address, Quantity: r.Quantity}
}

// Offset is where point p (covered by r) starts in r's answer: its first
// register's or its bit's index.
func (r *Read) Offset(p Point) int { return int(p.Address) - int(r.Address) }

// Plan merges points into as few reads as it can: points of one slave and
// table whose addresses touch or overlap share a read, as long as the read
// stays within the table's limit (125 registers, 2000 bits). Gaps are
// never read across (a slave may refuse an address nobody asked for), and
// a point is never split between two reads. Reads come ordered by slave,
// table and address. Points must be valid (Words >= 1, within the address
// space).
func Plan(points []Point) []Read {
	idx := make([]int, len(points))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		pa, pb := points[a], points[b]
		return cmp.Or(cmp.Compare(pa.Slave, pb.Slave), cmp.Compare(pa.Kind, pb.Kind), cmp.Compare(pa.Address, pb.Address))
	})
	var reads []Read
	for _, i := range idx {
		p := points[i]
		if n := len(reads); n > 0 {
			r := &reads[n-1]
			end := int(r.Address) + int(r.Quantity)
			if r.Slave == p.Slave && r.Kind == p.Kind && int(p.Address) <= end && max(end, p.end())-int(r.Address) <= p.Kind.MaxRead() {
				r.Quantity = uint16(max(end, p.end()) - int(r.Address))
				r.Points = append(r.Points, i)
				continue
			}
		}
		reads = append(reads, Read{Slave: p.Slave, Kind: p.Kind, Address: p.Address, Quantity: p.Words, Points: []int{i}})
	}
	return reads
}
