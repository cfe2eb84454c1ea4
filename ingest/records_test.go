package ingest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/demo"
	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/tenant"
)

// storedRecord reads a call's stored state and record.
func storedRecord(tb testing.TB, b *bundle, tenantID int64, callID string) ([]byte, callrec.Record) {
	tb.Helper()
	var state []byte
	if err := b.db.Owner().QueryRow(context.Background(),
		`SELECT state FROM call_records WHERE tenant_id = $1 AND call_id = $2`, tenantID, callID).Scan(&state); err != nil {
		tb.Fatalf("record of %s: %v", callID, err)
	}
	s, err := callrec.UnmarshalState(state)
	if err != nil {
		tb.Fatal(err)
	}
	return state, s.Record(callID, time.Now())
}

// twoTenants provisions acme (node 11) and globex (node 22), both named
// "proxy" so that their messages build identical records.
func twoTenants(t *testing.T, b *bundle) (acme, globex tenant.Tenant) {
	acme, globex = MustTenant(t, b.store, "acme"), MustTenant(t, b.store, "globex")
	MustNode(t, b.store, acme.ID, tenant.NewNode{CaptureID: 11, Name: "proxy"})
	MustNode(t, b.store, globex.ID, tenant.NewNode{CaptureID: 22, Name: "proxy"})
	b.srv.nodes.refresh(context.Background(), true)
	return acme, globex
}

func ms(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("%d ms", *p)
}

func sipCount(calls []demo.Call) int {
	n := 0
	for _, c := range calls {
		for _, m := range c.Messages {
			if m.Type == hep.PayloadSIP {
				n++
			}
		}
	}
	return n
}

// sendSplit sends packets in a shuffled order, in a few bursts far enough
// apart to land in different batches.
func sendSplit(t *testing.T, addr func() string, pkts [][]byte, rng *rand.Rand) {
	t.Helper()
	rng.Shuffle(len(pkts), func(i, j int) { pkts[i], pkts[j] = pkts[j], pkts[i] })
	for len(pkts) > 0 {
		n := 1 + rng.IntN(len(pkts))
		if err := demo.Send(context.Background(), addr(), pkts[:n]); err != nil {
			t.Fatal(err)
		}
		pkts = pkts[n:]
		time.Sleep(60 * time.Millisecond) // > FlushInterval: a new batch
	}
}

// TestRecordsAnyOrderAnyBatch: the demo calls sent shuffled and split over
// batches to one tenant, and in order in one go to another, give
// byte-identical records, with the outcomes an engineer expects: the
// REGISTER challenged with 401 then accepted is 200, not 401.
func TestRecordsAnyOrderAnyBatch(t *testing.T) {
	b := setup(t)
	acme, globex := twoTenants(t, b)
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	calls := demo.Calls(start, "rec")
	udp := func() string { return b.udp.String() }

	sendSplit(t, udp, demo.Packets(demo.Node{CaptureID: 11}, calls), rand.New(rand.NewPCG(1, 2)))
	if err := demo.Send(context.Background(), udp(), demo.Packets(demo.Node{CaptureID: 22}, calls)); err != nil {
		t.Fatal(err)
	}
	waitCount(t, b.db, 2*sipCount(calls), 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id LIKE 'demo-%'`)

	for _, tc := range []struct {
		callID, outcome string
		final           int
	}{
		{"demo-answered-rec", callrec.OutcomeAnswered, 200},
		{"demo-answered-rec_b2b-1", callrec.OutcomeAnswered, 200},
		{"demo-busy-rec", callrec.OutcomeBusy, 486},
		{"demo-register-rec", callrec.OutcomeOK, 200},
	} {
		a, ra := storedRecord(t, b, acme.ID, tc.callID)
		g, _ := storedRecord(t, b, globex.ID, tc.callID)
		if !bytes.Equal(a, g) {
			t.Errorf("%s: the record built from shuffled batches differs from the one built in order", tc.callID)
		}
		if ra.Outcome != tc.outcome || ra.FinalStatus == nil || *ra.FinalStatus != tc.final {
			t.Errorf("%s: outcome %s final %v, want %s %d", tc.callID, ra.Outcome, ra.FinalStatus, tc.outcome, tc.final)
		}
	}
	_, ans := storedRecord(t, b, acme.ID, "demo-answered-rec")
	if ans.PDDMs == nil || *ans.PDDMs != 126 || ans.DurationMs == nil || *ans.DurationMs != 8064 || ans.Messages != 14 {
		t.Errorf("answered demo call: pdd %s duration %s messages %d, want 126 ms, 8064 ms, 14", ms(ans.PDDMs), ms(ans.DurationMs), ans.Messages)
	}
}

// TestRecordsTwoIngestProcesses: two ingest servers on one database, each
// receiving part of every call at the same time, write one record per call
// equal to the one a single server builds.
func TestRecordsTwoIngestProcesses(t *testing.T) {
	b := setup(t)
	other := start(t, b.db, testConfig(t))
	acme, globex := twoTenants(t, b)
	other.srv.nodes.refresh(context.Background(), true)
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	calls := demo.Calls(start, "two")

	pkts := demo.Packets(demo.Node{CaptureID: 11}, calls)
	rng := rand.New(rand.NewPCG(3, 4))
	var one, two [][]byte
	for _, p := range pkts {
		if rng.IntN(2) == 0 {
			one = append(one, p)
		} else {
			two = append(two, p)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sendSplit(t, func() string { return other.udp.String() }, two, rand.New(rand.NewPCG(5, 6)))
	}()
	sendSplit(t, func() string { return b.udp.String() }, one, rand.New(rand.NewPCG(7, 8)))
	<-done
	if err := demo.Send(context.Background(), b.udp.String(), demo.Packets(demo.Node{CaptureID: 22}, calls)); err != nil {
		t.Fatal(err)
	}
	waitCount(t, b.db, 2*sipCount(calls), 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id LIKE 'demo-%'`)
	for _, c := range calls {
		a, _ := storedRecord(t, b, acme.ID, c.CallID)
		g, _ := storedRecord(t, b, globex.ID, c.CallID)
		if !bytes.Equal(a, g) {
			t.Errorf("%s: the record two processes wrote differs from one process's", c.CallID)
		}
	}
}

// TestRecordAcrossMidnight: a call answered before midnight UTC and hung
// up after it is one record with its full duration.
func TestRecordAcrossMidnight(t *testing.T) {
	b := setup(t)
	acme, _ := twoTenants(t, b)
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	calls := demo.Calls(midnight.Add(-5*time.Second), "midnight")[:1] // answered 2.5 s in, BYE 10.6 s in
	pkts := demo.Packets(demo.Node{CaptureID: 11}, calls)
	sendSplit(t, func() string { return b.udp.String() }, pkts, rand.New(rand.NewPCG(9, 10)))
	waitCount(t, b.db, sipCount(calls), 10*time.Second, `SELECT count(*) FROM sip_messages WHERE call_id LIKE 'demo-answered-midnight%'`)
	_, r := storedRecord(t, b, acme.ID, "demo-answered-midnight")
	if !r.StartedAt.Before(midnight) || !r.EndedAt.After(midnight) || r.Outcome != callrec.OutcomeAnswered ||
		r.DurationMs == nil || *r.DurationMs != 8064 {
		t.Errorf("record across midnight: %s - %s, %s, duration %s", r.StartedAt, r.EndedAt, r.Outcome, ms(r.DurationMs))
	}
}

// TestRecordsReplayedBatchCountedOnce: a batch written a second time (a
// spool replay after an ambiguous commit) leaves the records as they were.
func TestRecordsReplayedBatchCountedOnce(t *testing.T) {
	b := setup(t)
	acme, _ := twoTenants(t, b)
	start := time.Now().UTC().Add(-time.Minute)
	bt := &batch{id: newBatchID()}
	for _, p := range demo.Packets(demo.Node{CaptureID: 11}, demo.Calls(start, "replay")[1:2]) {
		h := b.srv.newHandler(trUDP)
		r, _, reason := h.build(p, testSrc, time.Now())
		if r == nil {
			t.Fatalf("packet dropped: %s", reason)
		}
		bt.rows = append(bt.rows, r)
	}
	ctx := context.Background()
	if err := b.srv.writeBatch(ctx, &copier{}, bt, nil); err != nil {
		t.Fatal(err)
	}
	before, r := storedRecord(t, b, acme.ID, "demo-busy-replay")
	if err := b.srv.writeBatch(ctx, &copier{}, bt, nil); err != errAlreadyWritten {
		t.Fatalf("second write: %v, want errAlreadyWritten", err)
	}
	after, _ := storedRecord(t, b, acme.ID, "demo-busy-replay")
	if !bytes.Equal(before, after) || r.Messages != int64(len(bt.rows)) {
		t.Errorf("replay changed the record (messages %d of %d)", r.Messages, len(bt.rows))
	}
}

// TestRecordQoS: RTCP and QoS reports that name a call in HEP's
// correlation chunk give its record a QoS summary, whether they arrive
// before or after its SIP messages.
func TestRecordQoS(t *testing.T) {
	b := setup(t)
	acme, _ := twoTenants(t, b)
	start := time.Now().UTC().Add(-time.Minute)
	calls := demo.Calls(start, "qos")[1:2] // the busy call
	report := func(pt uint8, payload string) []byte {
		p := sipPacket(11, []byte(payload))
		p.PayloadType = pt
		p.CorrelationID = []byte("demo-busy-qos")
		return p.AppendV3(nil)
	}
	// One report before the call's messages, two after.
	sendUDP(t, b.udp, report(hep.PayloadQoSFull, `{"MOS":3.1,"JITTER":12.5,"PACKET_LOSS":5,"EXPECTED_PK":100,"SSRC":7}`))
	time.Sleep(60 * time.Millisecond)
	if err := demo.Send(context.Background(), b.udp.String(), demo.Packets(demo.Node{CaptureID: 11}, calls)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	sendUDP(t, b.udp,
		report(hep.PayloadRTCP, `{"type":201,"ssrc":1,"report_blocks":[{"source_ssrc":7,"fraction_lost":128,"packets_lost":9,"ia_jitter":40}]}`),
		report(hep.PayloadLog, `not a report`))
	waitCount(t, b.db, 3, 10*time.Second, `SELECT count(*) FROM hep_events WHERE call_id = 'demo-busy-qos'`)
	_, r := storedRecord(t, b, acme.ID, "demo-busy-qos")
	q := r.QoS
	if q == nil || q.Reports != 2 || *q.WorstMOS != 3.1 || *q.MaxJitter != 12.5 || *q.MaxLossPct != 50 || *q.PacketsLost != 9 ||
		r.Outcome != callrec.OutcomeBusy {
		t.Errorf("record %s: outcome %s, qos %+v", r.CallID, r.Outcome, q)
	}
}
