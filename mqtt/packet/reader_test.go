package packet

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestReaderReusesPacketCleanly reads every valid row of the byte table
// through one Reader into one Packet, in several shuffled orders of the
// rows, so that 3.1.1 packets follow 5.0 ones with properties, CONNECTs,
// SUBSCRIBEs and decode errors: each packet read must equal the row's, with
// nothing left over from the one before (Read clears only the fields a
// 3.1.1 PUBLISH or acknowledgement uses unless the last decode filled
// more, clearRead).
func TestReaderReusesPacketCleanly(t *testing.T) {
	var rows []*testCase
	for i := range packetCases {
		tc := &packetCases[i]
		if tc.IOErr == nil && (tc.ErrCode != 0 || tc.Packet != nil) {
			rows = append(rows, tc)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var p Packet
	for round := range 5 {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, tc := range rows {
			r := NewReader(bufio.NewReader(bytes.NewReader(tc.Raw)), 0)
			err := r.Read(tc.Version, &p)
			if tc.ErrCode != 0 {
				if err == nil {
					t.Fatalf("round %d, %s: no error", round, tc.Name)
				}
				continue
			}
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, tc.Name, err)
			}
			if !equalPacket(&p, tc.Packet) {
				t.Fatalf("round %d, %s: read%s\nwant%s", round, tc.Name, dump(&p), dump(tc.Packet))
			}
		}
	}
}
