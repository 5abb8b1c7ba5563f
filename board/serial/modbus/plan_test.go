package modbus

import (
	"fmt"
	"testing"
)

func TestPlan(t *testing.T) {
	points := []Point{
		0: {Slave: 1, Kind: Input, Address: 0x0000, Words: 2},
		1: {Slave: 1, Kind: Input, Address: 0x000C, Words: 2},
		2: {Slave: 1, Kind: Holding, Address: 0x0010, Words: 1},
		3: {Slave: 2, Kind: Coil, Address: 0, Words: 1},
		4: {Slave: 1, Kind: Input, Address: 0x0002, Words: 2}, // touches 0
		5: {Slave: 1, Kind: Input, Address: 0x0003, Words: 1}, // overlaps 4
		6: {Slave: 2, Kind: Coil, Address: 1, Words: 1},
		7: {Slave: 2, Kind: DiscreteInput, Address: 1, Words: 1}, // another table
		8: {Slave: 1, Kind: Holding, Address: 0x0012, Words: 1},  // a gap of one: not merged
	}
	got := fmt.Sprint(Plan(points))
	want := "[{1 holding 16 1 [2]} {1 holding 18 1 [8]} {1 input 0 4 [0 4 5]} {1 input 12 2 [1]} {2 coil 0 2 [3 6]} {2 discrete 1 1 [7]}]"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestPlanLimits(t *testing.T) {
	// 200 adjacent registers: 125 in the first read; a 2-register value is
	// never split, so the first read stops at 124.
	var points []Point
	for a := 0; a < 200; a += 2 {
		points = append(points, Point{Slave: 3, Kind: Holding, Address: uint16(a), Words: 2})
	}
	reads := Plan(points)
	if len(reads) != 2 || reads[0].Quantity != 124 || reads[1].Address != 124 || reads[1].Quantity != 76 {
		t.Fatalf("%+v", reads)
	}
	for _, r := range reads {
		for _, i := range r.Points {
			if off := r.Offset(points[i]); off < 0 || off+int(points[i].Words) > int(r.Quantity) {
				t.Fatalf("point %d outside its read", i)
			}
		}
		req := r.Request()
		if _, err := AppendRequest(nil, &req); err != nil {
			t.Fatal(err)
		}
	}
	// 2500 coils: 2000 + 500.
	points = points[:0]
	for a := range 2500 {
		points = append(points, Point{Slave: 3, Kind: Coil, Address: uint16(a), Words: 1})
	}
	if reads := Plan(points); len(reads) != 2 || reads[0].Quantity != 2000 || reads[1].Quantity != 500 {
		t.Fatalf("coils: %d reads", len(reads))
	}
	// The top of the address space.
	reads = Plan([]Point{{Slave: 1, Kind: Input, Address: 0xFFFE, Words: 2}})
	if req := reads[0].Request(); req.Quantity != 2 {
		t.Fatalf("%+v", req)
	} else if _, err := AppendRequest(nil, &req); err != nil {
		t.Fatal(err)
	}
}
