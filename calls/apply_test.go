package calls_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/db/dbtest"
)

// TestApplyConcurrentWriters: writers merging overlapping sets of calls at
// the same time (several ingest processes, or one's parallel COPYs) queue
// on shared records but never deadlock, and no message is lost or counted
// twice.
func TestApplyConcurrentWriters(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	const writers, rounds, keys = 4, 15, 60
	var mu sync.Mutex
	sent := map[string]int64{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for r := range rounds {
				b := callrec.NewBatch()
				n := map[string]int64{}
				for range 40 {
					id := fmt.Sprintf("k-%02d@h", rng.IntN(keys))
					payload := fmt.Sprintf("OPTIONS sip:x SIP/2.0\r\nCall-ID: %s\r\nCSeq: %d OPTIONS\r\nFrom: <sip:w%d@h>;tag=%d\r\n\r\n", id, r, w, w)
					m := callrec.Message{At: time.Unix(1700000000, int64(w*1000+r)), Node: "n",
						Src: netip.MustParseAddrPort("10.0.0.1:5060"), Dst: netip.MustParseAddrPort("10.0.0.2:5060"), Payload: []byte(payload)}
					b.AddSIP(1, []byte(id), &m)
					n[id]++
				}
				err := pgx.BeginFunc(ctx, d.Owner(), func(tx pgx.Tx) error { return calls.Apply(ctx, tx, b.States()) })
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for id, c := range n {
					sent[id] += c
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err) // a deadlock shows here (SQLSTATE 40P01)
	}
	rows, err := d.Owner().Query(ctx, `SELECT call_id, messages FROM call_records`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var id string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { got[id] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sent) {
		t.Errorf("%d records, want %d", len(got), len(sent))
	}
	for id, want := range sent {
		if got[id] != want {
			t.Errorf("%s: %d messages, want %d", id, got[id], want)
		}
	}
}
