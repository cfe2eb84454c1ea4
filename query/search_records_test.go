package query_test

import (
	"context"
	"testing"
	"time"

	"github.com/callscope/callscope/ingest/loadgen"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
)

// TestSearchStatusIsTheFinalOne: a REGISTER challenged with 401 and then
// accepted with 200 is a 200 in search, found by status=200 and not by
// status=401.
func TestSearchStatusIsTheFinalOne(t *testing.T) {
	b := setup(t)
	var rows []querytest.Row
	for i := range loadgen.RegisterMessages {
		p, fromClient := loadgen.RegisterMessage(nil, "reg-1@h", i)
		src, dst := ap("192.0.2.10:5060"), ap("198.51.100.20:5060")
		if !fromClient {
			src, dst = dst, src
		}
		rows = append(rows, querytest.Row{TenantID: b.acme.ID, CapturedAt: t0.Add(time.Duration(i) * 20 * time.Millisecond),
			Src: src, Dst: dst, Transport: "udp", Payload: p})
	}
	querytest.MustInsert(t, b.db.Owner(), rows...)
	ctx := context.Background()
	for _, tc := range []struct {
		status int
		found  bool
	}{{200, true}, {401, false}} {
		got, _, err := b.store.Search(ctx, queryapi.Filter{From: t0.Add(-time.Minute), To: t0.Add(time.Minute), Status: tc.status})
		if err != nil {
			t.Fatal(err)
		}
		if (len(got) == 1) != tc.found {
			t.Errorf("status=%d found %d calls, want found=%v", tc.status, len(got), tc.found)
		}
		if tc.found && (got[0].FinalStatus != 200 || got[0].Outcome != "ok") {
			t.Errorf("the registration is listed as %d %s", got[0].FinalStatus, got[0].Outcome)
		}
	}
}
