package ingest

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/ingest/loadgen"
)

// loadgenBatch is a full batch (5000 rows) of the load generator's traffic:
// 7-message INVITE dialogs and 4-message registrations, 9 to 1, each call
// whole in the batch as hepload sends them.
func loadgenBatch(tenantID int64) []*row {
	var rows []*row
	src, dst := netip.MustParseAddrPort("192.0.2.10:5060"), netip.MustParseAddrPort("198.51.100.20:5060")
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for n := 0; len(rows) < 5000; n++ {
		id := loadgen.CallID("bench", n)
		msgs := loadgen.CallMessages
		if n%10 == 9 {
			msgs = loadgen.RegisterMessages
		}
		for i := range msgs {
			var p []byte
			if msgs == loadgen.CallMessages {
				p, _ = loadgen.Message(nil, id, i)
			} else {
				p, _ = loadgen.RegisterMessage(nil, id, i)
			}
			r := &row{kind: kindSIP, tenantID: tenantID, capturedAt: at.Add(time.Duration(len(rows)) * time.Microsecond).UnixMicro(),
				src: src, dst: dst, captureID: 2001}
			r.setText(fCallID, []byte(id))
			for f := fCorrelation; f < fPayload; f++ {
				r.end[f] = uint32(len(r.buf))
			}
			r.setRaw(fPayload, p)
			rows = append(rows, r)
		}
	}
	return rows
}

// BenchmarkRecordsFold measures what records cost ingest's writer in Go
// per 5000-row batch: re-reading each message, folding it into its call's
// state and encoding the states, without PostgreSQL.
func BenchmarkRecordsFold(b *testing.B) {
	rows := loadgenBatch(1)
	cb := callrec.NewBatch()
	b.ReportAllocs()
	for b.Loop() {
		cb.Reset()
		var m callrec.Message
		for _, r := range rows {
			m = callrec.Message{At: time.UnixMicro(r.capturedAt), Src: r.src, Dst: r.dst, Node: "2001", Payload: r.field(fPayload)}
			cb.AddSIP(r.tenantID, r.field(fCallID), &m)
		}
		for _, k := range cb.States() {
			if _, err := k.State.AppendBinary(nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rows)), "ns/message")
}

// BenchmarkRecordsApply measures calls.Apply of a batch's states on a
// test database: new calls (insert) and the same calls again (lock,
// merge, update).
func BenchmarkRecordsApply(b *testing.B) {
	d := dbtest.New(b)
	ctx := context.Background()
	rows := loadgenBatch(1)
	for _, again := range []bool{false, true} {
		name := "New"
		if again {
			name = "Existing"
		}
		b.Run(name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				cb := callrec.NewBatch()
				var m callrec.Message
				for _, r := range rows {
					m = callrec.Message{At: time.UnixMicro(r.capturedAt), Src: r.src, Dst: r.dst, Node: "2001", Payload: r.field(fPayload)}
					id := r.field(fCallID)
					if !again {
						id = append(id, byte('a'+n%26), byte('a'+n/26%26), byte('a'+n/676%26))
					}
					cb.AddSIP(1, id, &m)
				}
				n++
				tx, err := d.Owner().Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := calls.Apply(ctx, tx, cb.States()); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
