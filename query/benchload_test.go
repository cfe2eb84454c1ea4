package query_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// benchURL is the database the 10-million-message benchmarks reuse.
func benchURL() string { return dbtest.BenchURL() }

// benchDay is the UTC day the generator fills.
var benchDay = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

// TestLoadBenchDatabase fills callscope_bench_query with ~10 million messages:
// 1.43 million 7-message calls spread over one day across 20 tenants, the
// volume of an operator with ~100 calls per second at peak, and ~1.5
// million LOG, RTCP and QoS events, with the calls' records (querytest.Copy
// merges them as ingest does; a database loaded before records existed
// gets them from `callscope calls rebuild --from 2026-02-01T00:00:00Z --to
// 2026-02-02T00:00:00Z`). It runs only with CALLSCOPE_BENCH_LOAD=1 and
// takes minutes:
//
//	CALLSCOPE_BENCH_LOAD=1 go test -run TestLoadBenchDatabase -timeout 2h ./query/
func TestLoadBenchDatabase(t *testing.T) {
	if os.Getenv("CALLSCOPE_BENCH_LOAD") != "1" {
		t.Skip("set CALLSCOPE_BENCH_LOAD=1 to (re)build callscope_bench_query")
	}
	ctx := context.Background()
	d, err := db.Open(ctx, benchURL(), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.EnsurePartitions(ctx, benchDay.Add(-24*time.Hour), benchDay.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ts := tenantdb.NewStore(d)
	var ids []int64
	for i := range 20 {
		slug := fmt.Sprintf("bench-%02d", i)
		tn, err := ts.BySlug(ctx, slug)
		if err != nil {
			tn, err = ts.Create(ctx, tenant.New{Slug: slug})
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tn.ID)
	}
	const calls = 1_430_000
	step := 24 * time.Hour / calls
	batch := make([]querytest.Row, 0, 70000)
	for i := range calls {
		c := querytest.Call{TenantID: ids[i%len(ids)], CallID: fmt.Sprintf("bench-%d@10.1.%d.%d", i, i%250, i%200),
			Start: benchDay.Add(time.Duration(i) * step), FromUser: fmt.Sprintf("+44%010d", i), ToUser: fmt.Sprintf("+1555%07d", i%9_999_999),
			Caller: ap(fmt.Sprintf("10.1.%d.%d:5060", i%250, 1+i%200)), Callee: ap("10.2.0.1:5060")}
		if i%4 == 0 {
			c.Status = 486
			c.XCID = fmt.Sprintf("corr-%d", i)
		}
		batch = append(batch, c.Rows()...)
		if len(batch) >= 63000 {
			if err := querytest.Copy(ctx, d.Owner(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := querytest.Copy(ctx, d.Owner(), batch); err != nil {
		t.Fatal(err)
	}
	// Events as a capture agent with RTCP and QoS reporting sends them: a
	// LOG or RTCP line per INVITE of a quarter of the calls, keyed by
	// Call-ID, and a QoS report per message of an eighth, keyed by the
	// correlation value only (~1.5 M in all). Without them the call read's
	// event lookups ran over empty partitions and a plan that read a whole
	// day of events per view went unnoticed.
	for _, stmt := range []string{
		`INSERT INTO hep_events (tenant_id, captured_at, received_at, payload_type, call_id, correlation_id,
			src_ip, src_port, dst_ip, dst_port, capture_id, payload)
		SELECT tenant_id, captured_at + interval '1 ms', received_at, CASE WHEN hashtext(call_id) & 16 = 0 THEN 100 ELSE 5 END,
			call_id, call_id, src_ip, src_port, dst_ip, dst_port, capture_id, convert_to('event of ' || call_id || ' ' || repeat('x', 120), 'UTF8')
		FROM sip_messages WHERE captured_at >= $1 AND captured_at < $2 AND hashtext(call_id) & 3 = 0 AND method = 'INVITE'`,
		`INSERT INTO hep_events (tenant_id, captured_at, received_at, payload_type, call_id, correlation_id,
			src_ip, src_port, dst_ip, dst_port, capture_id, payload)
		SELECT tenant_id, captured_at + interval '2 ms', received_at, 34, NULL, call_id,
			src_ip, src_port, dst_ip, dst_port, capture_id, convert_to('{"mos":4.3}', 'UTF8')
		FROM sip_messages WHERE captured_at >= $1 AND captured_at < $2 AND hashtext(call_id) & 7 = 1`,
	} {
		if _, err := d.Owner().Exec(ctx, stmt, benchDay, benchDay.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Owner().Exec(ctx, "ANALYZE sip_messages, hep_events"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSearchBench measures admin search over the 24 h of the bench
// database (skipped unless CALLSCOPE_BENCH_DB=1): by from-user exact, prefix
// and suffix, to-user suffix, and the latest calls, one tenant and across
// tenants (query.BenchFilters), reporting the 95th percentile too:
//
//	CALLSCOPE_BENCH_DB=1 go test -run XXX -bench SearchBench -benchtime 200x ./query
func BenchmarkSearchBench(b *testing.B) {
	ctx := context.Background()
	if os.Getenv("CALLSCOPE_BENCH_DB") != "1" {
		b.Skip("set CALLSCOPE_BENCH_DB=1 after TestLoadBenchDatabase")
	}
	d, err := db.Open(ctx, benchURL(), db.Options{})
	if err != nil {
		b.Skip(err)
	}
	defer d.Close()
	s := query.NewStore(d)
	tn, err := tenantdb.NewStore(d).BySlug(ctx, "bench-03")
	if err != nil {
		b.Skip(err)
	}
	for _, tc := range query.BenchFilters(benchDay, benchDay.Add(24*time.Hour), tn.ID) {
		b.Run(tc.Name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, _, err := s.Search(ctx, tc.F); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			// The target is on the 95th percentile, so report it next to
			// the mean.
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// BenchmarkSearch measures a suffix search on the 20k-call test table.
func BenchmarkSearch(b *testing.B) {
	bb := setup(b)
	var rows []querytest.Row
	for i := range 5000 {
		rows = append(rows, querytest.Call{TenantID: bb.acme.ID, CallID: fmt.Sprintf("s-%d", i), Start: t0.Add(time.Duration(i) * time.Second),
			FromUser: fmt.Sprintf("+4420%07d", i)}.Rows()...)
	}
	querytest.MustInsert(b, bb.db.Owner(), rows...)
	bb.db.Owner().Exec(context.Background(), "ANALYZE sip_messages")
	f := queryapi.Filter{From: t0, To: t0.Add(24 * time.Hour), TenantID: bb.acme.ID, FromUser: "*0001234"}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := bb.store.Search(context.Background(), f); err != nil {
			b.Fatal(err)
		}
	}
}
