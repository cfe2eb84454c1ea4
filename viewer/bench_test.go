package viewer_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/tenant/tenantdb"
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
// Uncached renders every time; Cached serves the render cache after the
// full admission checks (one token, so every view after the first hits).
func BenchmarkViewerRender(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"Uncached", -1}, {"Cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			bb := setup(b, options{renderTTL: bc.ttl})
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
		})
	}
}

// TestSeedBenchCall puts the 20-message call of BenchmarkViewerRender into
// the 10-million-message bench database (query's TestLoadBenchDatabase),
// tenant bench-03, call "view-bench-20" at 2026-02-01T12:00:00Z, with a LOG
// event per leg, once. The
// load test of BENCHMARKS.md mints links for it and drives a real
// `callscope serve` with viewer/viewload:
//
//	CALLSCOPE_BENCH_SEED=1 go test -run TestSeedBenchCall ./viewer
func TestSeedBenchCall(t *testing.T) {
	if os.Getenv("CALLSCOPE_BENCH_SEED") != "1" {
		t.Skip("set CALLSCOPE_BENCH_SEED=1 to seed callscope_bench_query")
	}
	ctx := context.Background()
	url := dbtest.BenchURL()
	d, err := db.Open(ctx, url, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tn, err := tenantdb.NewStore(d).BySlug(ctx, "bench-03")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.Owner().QueryRow(ctx, `SELECT count(*) FROM sip_messages WHERE tenant_id = $1 AND call_id LIKE 'view-bench-20%'`, tn.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		t.Logf("already seeded (%d messages)", n)
		return
	}
	rows := twentyMessageCall(tn.ID, "view-bench-20", time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC))
	if len(rows) != 20 {
		t.Fatalf("%d rows", len(rows))
	}
	querytest.MustInsert(t, d.Owner(), rows...)
	// A LOG line per leg, as Kamailio's dispatcher would report it: the
	// view draws them as notes, and the call read's event lookups find rows.
	start := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	for i, leg := range []string{"view-bench-20", "view-bench-20-x", "view-bench-20" + query.B2BSuffix} {
		querytest.MustInsertEvents(t, d.Owner(), querytest.Event{TenantID: tn.ID, CapturedAt: start.Add(time.Duration(2+2*i) * time.Millisecond),
			PayloadType: 100, CallID: leg, CorrelationID: leg, Src: rows[0].Src, Dst: rows[0].Dst, Payload: []byte("dispatcher: routed " + leg)})
	}
}

// TestMintBenchTokens mints CALLSCOPE_BENCH_MINT links for the bench call
// into CALLSCOPE_BENCH_TOKENS (one per line), in-process: the CLI costs a
// process and a connection per link, and a run of "every view is the first
// view of its link" needs tens of thousands (viewload uses each line once
// while it has not wrapped around). CALLSCOPE_SECRET_KEY must be the one
// the bench server runs with.
//
//	CALLSCOPE_BENCH_MINT=60000 CALLSCOPE_BENCH_TOKENS=/tmp/fresh.txt CALLSCOPE_SECRET_KEY=... \
//	  go test -run TestMintBenchTokens -timeout 30m ./viewer
func TestMintBenchTokens(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CALLSCOPE_BENCH_MINT"))
	out := os.Getenv("CALLSCOPE_BENCH_TOKENS")
	if n <= 0 || out == "" {
		t.Skip("set CALLSCOPE_BENCH_MINT=N and CALLSCOPE_BENCH_TOKENS=file to mint bench links")
	}
	ctx := context.Background()
	url := dbtest.BenchURL()
	d, err := db.Open(ctx, url, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sealer, err := auth.NewSealer(os.Getenv("CALLSCOPE_SECRET_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	ts := tenantdb.NewStore(d)
	tn, err := ts.BySlug(ctx, "bench-03")
	if err != nil {
		t.Fatal(err)
	}
	keys := authdb.NewKeyStore(d, sealer)
	if err := keys.EnsureActive(ctx); err != nil {
		t.Fatal(err)
	}
	lim := auth.DefaultLimits()
	lim.MaxLifetime = 24 * time.Hour
	m := auth.NewMinter(keys, authdb.NewTokens(d, ts, nil, lim), lim, "")
	req := auth.MintRequest{CallID: "view-bench-20", TTL: 3 * time.Hour, IssuedBy: "cli",
		WindowStart: time.Date(2026, 2, 1, 11, 59, 0, 0, time.UTC), WindowEnd: time.Date(2026, 2, 1, 12, 5, 0, 0, time.UTC)}
	toks := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				tok, _, err := m.Mint(ctx, tn, req)
				if err != nil {
					errs <- fmt.Errorf("mint %d: %w", i, err)
					return
				}
				toks[i] = tok
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, []byte(strings.Join(toks, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d links in %s", n, out)
}

// BenchmarkViewerFirstView: GET /v/{token} where every view is the first of
// its link, as when each customer opens the link they were sent: no memo of
// the token (parse and signature check in the viewer and again in query),
// no render cache. The links are minted before the clock starts.
func BenchmarkViewerFirstView(b *testing.B) {
	bb := setup(b, options{renderTTL: -1})
	querytest.MustInsert(b, bb.db.Owner(), twentyMessageCall(bb.acme.ID, "bench-call", t0)...)
	urls := make([]string, b.N)
	for i := range urls {
		urls[i] = bb.viewer.URL + "/v/" + mint(b, bb.server, bb.claims("acme", "bench-call"))
	}
	var next atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(urls[next.Add(1)-1])
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
