package mqtt

import (
	"encoding/binary"

	"gatemq/flashstore"
)

// migrateChunk is how many bytes of rewritten routes migrateRoutes
// gathers before it commits them: a log with a long queue written before
// sessions were numbered is rewritten in steps, never as one batch the
// size of the queue.
const migrateChunk = 256 << 10

// migrateRoutes rewrites the routes that rr read keyed by client ID (a log
// written before sessions were numbered) under their session's number:
// each one's old record is removed and a numbered one put in the same
// batch, so a crash between two steps leaves every route under exactly
// one key, and the next start goes on where this one stopped. The records
// already in t (among them the sessions given numbers, which the new keys
// need) go with the first step. It returns the transaction to go on with.
func (s *Server) migrateRoutes(t *txn, rr *restoredRoutes, msgs *storedBlocks) (*txn, error) {
	if rr.legacy == 0 {
		return t, nil
	}
	var err error
	step := func(ss *session, msg uint32, qos byte, pid uint16, stage uint8, seq uint64) {
		sm := msgs.at(int(msg))
		var id [8]byte
		binary.BigEndian.PutUint64(id[:], sm.id)
		t.b.Delete(flashstore.KindRoute, t.legacyKey(ss.id, id[:]))
		t.putRoute(ss, sm, qos, pid, stage, seq)
		if err == nil && t.b.Size() >= migrateChunk {
			if err = s.commitTxn(t); err == nil {
				t = s.beginTxn()
			}
		}
	}
	for _, r := range rr.flight {
		if r.legacy && err == nil {
			step(rr.sessions[r.ss], r.msg, r.qos, r.pid, r.stage, r.seq)
		}
	}
	for b, blk := range rr.queued {
		for _, r := range blk[:min(routeBlock, rr.nqueued-b*routeBlock)] {
			if r.ssq&legacyBit != 0 && err == nil {
				step(rr.sessions[r.ssq>>3], r.msg, byte(r.ssq&3), 0, flashstore.RouteQueued, r.seq)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("store: routes keyed by session number now", "routes", rr.legacy)
	return t, nil
}
