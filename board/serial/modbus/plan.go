package modbus

import (
	"cmp"
	"sort"
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

// byPlace sorts indexes of points by slave, table and address, and equal
// points by index (the order a stable sort keeps). It is a sort.Interface
// rather than a slices.SortStableFunc: the sort package's one
// interface-based sort is already in the binary, while each generic sort
// instantiation adds about 10 KB of code and metadata on linux/mipsle.
type byPlace struct {
	idx    []int
	points []Point
}

func (s byPlace) Len() int      { return len(s.idx) }
func (s byPlace) Swap(i, j int) { s.idx[i], s.idx[j] = s.idx[j], s.idx[i] }
func (s byPlace) Less(i, j int) bool {
	a, b := s.idx[i], s.idx[j]
	pa, pb := s.points[a], s.points[b]
	return cmp.Or(cmp.Compare(pa.Slave, pb.Slave), cmp.Compare(pa.Kind, pb.Kind), cmp.Compare(pa.Address, pb.Address), cmp.Compare(a, b)) < 0
}

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
	sort.Sort(byPlace{idx, points})
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
