package qos_test

import (
	"fmt"

	"gatemq/qos"
)

// A QoS 2 delivery to a client that disconnects after PUBREC and resumes
// its session: the broker resends PUBREL, never the PUBLISH.
func ExampleOutbound() {
	out := qos.NewOutbound[string](2, 100)
	out.Enqueue("hello", 2)
	out.Enqueue("world", 1)
	for {
		d, ok := out.Next()
		if !ok {
			break
		}
		fmt.Printf("PUBLISH id=%d qos=%d dup=%v %s\n", d.ID, d.QoS, d.Dup, d.Msg)
	}
	if _, ok := out.Pubrec(1); ok {
		fmt.Println("PUBREL id=1")
	}
	// The connection drops; the client comes back with Clean Start 0.
	for _, d := range out.Resume() {
		if d.Stage == qos.Released {
			fmt.Printf("PUBREL id=%d\n", d.ID)
		} else {
			fmt.Printf("PUBLISH id=%d qos=%d dup=%v %s\n", d.ID, d.QoS, d.Dup, d.Msg)
		}
	}
	out.Pubcomp(1)
	out.Puback(2)
	fmt.Println("in flight:", out.Inflight())
	// Output:
	// PUBLISH id=1 qos=2 dup=false hello
	// PUBLISH id=2 qos=1 dup=false world
	// PUBREL id=1
	// PUBREL id=1
	// PUBLISH id=2 qos=1 dup=true world
	// in flight: 0
}

// Inbound QoS 2 with a publisher that retransmits before PUBREL.
func ExampleInbound() {
	in := qos.NewInbound(10)
	for range 3 {
		isNew, full := in.Publish(42)
		switch {
		case full:
			fmt.Println("refuse")
		case isNew:
			fmt.Println("deliver onward, PUBREC 42")
		default:
			fmt.Println("PUBREC 42 again, no delivery")
		}
	}
	fmt.Println("PUBREL known:", in.Release(42), "-> PUBCOMP 42")
	fmt.Println("PUBREL known:", in.Release(42), "-> PUBCOMP 42 (0x92 in 5.0)")
	// Output:
	// deliver onward, PUBREC 42
	// PUBREC 42 again, no delivery
	// PUBREC 42 again, no delivery
	// PUBREL known: true -> PUBCOMP 42
	// PUBREL known: false -> PUBCOMP 42 (0x92 in 5.0)
}
