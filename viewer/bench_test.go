package viewer_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/querytest"
)

// twentyMessageCall is a call with two correlated legs and two
// retransmissions: 7 + 7 + 4 + 2 messages.
func twentyMessageCall(tenantID int64, callID string, start time.Time) []querytest.Row {
	a := querytest.Call{TenantID: tenantID, CallID: callID, Start: start}.Rows()
	bl := querytest.Call{TenantID: tenantID, CallID: callID + query.B2BSuffix, Start: start.Add(3 * time.Millisecond),
		Caller: ap("10.0.0.2:5060"), Callee: ap("10.0.0.3:5060")}.Rows()
	x := querytest.Call{TenantID: tenantID, CallID: callID + "-x", XCID: callID, Start: start.Add(time.Millisecond), Status: 486,
		Caller: ap("10.0.0.2:5062"), Callee: ap("10.0.0.4:5060")}.Rows()
	r1, r2 := a[0], bl[0]
	r1.CapturedAt = r1.CapturedAt.Add(500 * time.Millisecond)
	r2.CapturedAt = r2.CapturedAt.Add(500 * time.Millisecond)
	rows := append(append(append(a, bl...), x...), r1, r2)
	return rows
}

// BenchmarkViewerRender: GET /v/{token} of a 20-message call through the
// whole stack: viewer handler, Redis limits and revocation, the query
// service on loopback (verify again, PostgreSQL), ladder and templ.
func BenchmarkViewerRender(b *testing.B) {
	bb := setup(b, options{})
	querytest.MustInsert(b, bb.db.Owner(), twentyMessageCall(bb.acme.ID, "bench-call", t0)...)
	url := bb.viewer.URL + "/v/" + mint(b, bb.server, bb.claims("acme", "bench-call"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
