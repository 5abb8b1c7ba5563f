package qos

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestRingModel runs random pushes, pushes at the front and pops against
// a slice, in phases that grow the ring well past a block and drain it
// again, so that it turns long and short again many times; after every
// step the contents, the invariants of checkRing and the memory it holds
// are checked.
func TestRingModel(t *testing.T) {
	seeds := 3
	if testing.Short() || raceOn {
		seeds = 1
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			var r ring[int]
			// The reference: a window of a large array, with room to
			// grow at both ends for all the steps.
			all, start := make([]queued[int], 1<<18), 1<<17
			ref := all[start:start]
			pushFront := func(q queued[int]) {
				start--
				all[start] = q
				ref = all[start : start+len(ref)+1]
			}
			next := 0
			val := func() int { next++; return next } // never 0, the zero value
			check := func(step int, op string) {
				if err := checkRingSlots(&r, step%64 == 0 || len(r.buf) <= 64); err != nil {
					t.Fatalf("step %d (%s): %v", step, op, err)
				}
				if r.len() != len(ref) {
					t.Fatalf("step %d (%s): len %d, want %d", step, op, r.len(), len(ref))
				}
				// Spot-check a few positions and the ends (a full scan
				// every step would be quadratic).
				for _, i := range []int{0, len(ref) - 1, rng.IntN(len(ref) + 1), rng.IntN(len(ref) + 1)} {
					if i < 0 || i >= len(ref) {
						continue
					}
					if q := r.at(i); q != ref[i] || *r.msgPtr(i) != ref[i].msg {
						t.Fatalf("step %d (%s): at(%d) = %v, want %v", step, op, i, q, ref[i])
					}
				}
				// A long ring holds at most its entries' blocks and a
				// spare; a short one at most 4 times its entries
				// (ringKeepCap when nearly empty).
				if r.long() {
					if held := (len(r.lr.msg) + 1) * blockLen; held > r.n+3*blockLen {
						t.Fatalf("step %d: long ring of %d holds %d slots", step, r.n, held)
					}
				} else if len(r.buf) > max(4*r.n, ringKeepCap) && len(r.buf) > ringMinCap {
					t.Fatalf("step %d: short ring of %d holds %d slots", step, r.n, len(r.buf))
				}
			}
			step := 0
			for phase := range 6 {
				target := rng.IntN(5 * blockLen)
				if phase%2 == 1 {
					target = rng.IntN(blockLen / 2)
				}
				for range 10 * blockLen {
					step++
					grow := len(ref) < target
					switch k := rng.IntN(100); {
					case k < 3: // a burst of Unsend: pop some, push them back at the front
						var popped []queued[int]
						for range rng.IntN(40) {
							q, ok := r.pop()
							if ok != (len(ref) > 0) {
								t.Fatalf("step %d: pop ok %v with %d", step, ok, len(ref))
							}
							if !ok {
								break
							}
							if q != ref[0] {
								t.Fatalf("step %d: pop = %v, want %v", step, q, ref[0])
							}
							ref, start = ref[1:], start+1
							popped = append(popped, q)
							check(step, "pop")
						}
						for i := len(popped) - 1; i >= 0; i-- {
							r.pushFront(popped[i])
							pushFront(popped[i])
							check(step, "pushFront")
						}
					case k < 6:
						q := queued[int]{val(), byte(1 + rng.IntN(2))}
						r.pushFront(q)
						pushFront(q)
						check(step, "pushFront")
					case grow && k < 80 || !grow && k < 30:
						q := queued[int]{val(), byte(1 + rng.IntN(2))}
						r.push(q)
						ref = append(ref, q)
						check(step, "push")
					default:
						q, ok := r.pop()
						if ok != (len(ref) > 0) || ok && q != ref[0] {
							t.Fatalf("step %d: pop = %v %v, want %d left", step, q, ok, len(ref))
						}
						if ok {
							ref, start = ref[1:], start+1
						}
						check(step, "pop")
					}
					if len(ref) > 0 && rng.IntN(1000) == 0 { // full scan now and then
						for i := range ref {
							if r.at(i) != ref[i] {
								t.Fatalf("step %d: at(%d) = %v, want %v", step, i, r.at(i), ref[i])
							}
						}
					}
				}
			}
			for len(ref) > 0 {
				q, _ := r.pop()
				if q != ref[0] {
					t.Fatalf("final drain: %v, want %v", q, ref[0])
				}
				ref, start = ref[1:], start+1
				check(step, "drain")
			}
			if len(r.buf) > ringKeepCap || r.long() {
				t.Fatalf("drained ring keeps %d slots (long %v)", len(r.buf), r.long())
			}
		})
	}
}

// TestRingReserve: reserve sizes a short ring's buffer once; past a
// block the ring grows by blocks without moving what it holds.
func TestRingReserve(t *testing.T) {
	var r ring[int]
	r.reserve(5)
	if len(r.buf) != 8 {
		t.Fatalf("reserve(5): cap %d, want 8", len(r.buf))
	}
	r.reserve(100000)
	if len(r.buf) != blockLen {
		t.Fatalf("reserve(100000): cap %d, want %d", len(r.buf), blockLen)
	}
	buf := &r.buf[0]
	for i := range 3 * blockLen {
		r.push(queued[int]{i, 1})
	}
	if !r.long() || unsafe.Pointer(&r.lr.msg[0][0]) != unsafe.Pointer(buf) {
		t.Fatal("the full buffer did not become the first block")
	}
	first := r.lr.msg[0]
	for i := range blockLen / 2 {
		r.pushFront(queued[int]{-1 - i, 2})
		r.pop()
		r.pop()
	}
	if err := checkRing(&r); err != nil {
		t.Fatal(err)
	}
	if r.lr.msg[0] != first {
		t.Fatal("the first block moved")
	}
}

// TestRingEntrySize: an entry of a long queue costs the size of M and
// one byte; a block of 1024 entries of pointer-sized multiples fills its
// allocation exactly; a ring in a session that queues nothing is nine
// words.
func TestRingEntrySize(t *testing.T) {
	if n, w := unsafe.Sizeof(ring[int]{}), unsafe.Sizeof(uintptr(0)); n > 9*w {
		t.Fatalf("a ring is %d bytes", n)
	}
	type m24 struct{ a, b, c uintptr }
	var r ring[m24]
	for i := range 10 * blockLen {
		r.push(queued[m24]{m24{uintptr(i), 0, 0}, 1})
	}
	held := len(r.lr.msg)*int(unsafe.Sizeof([blockLen]m24{})+blockLen) + cap(r.lr.msg)*2*int(unsafe.Sizeof(uintptr(0)))
	if per := float64(held) / float64(r.len()); per > float64(unsafe.Sizeof(m24{})+1)*1.01 {
		t.Fatalf("%.1f B per entry of %d B", per, unsafe.Sizeof(m24{}))
	}
}
