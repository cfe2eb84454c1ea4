package calls_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
)

// benchDay is the day query's TestLoadBenchDatabase fills: 1.43 M calls,
// 10 M messages, over 20 tenants (~71,500 calls each); its records come
// with the load, or from `callscope calls rebuild` on a database loaded
// before records existed.
var benchDay = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

// benchFilter is one listing of the bench: a filter and the tenant it
// runs for, bench-03 unless said.
type benchFilter struct {
	name   string
	f      calls.Filter
	tenant string
}

// benchFilters are the calls API's filters over the whole bench day. The
// loader gives tenant bench-NN the calls i = NN mod 20, from
// +44<i, 10 digits> to +1555<i mod 9,999,999, 7 digits>, busy (486) when
// i is a multiple of 4: bench-03 has no busy call, every call of bench-04
// is busy.
func benchFilters() []benchFilter {
	day := func(f calls.Filter) calls.Filter { f.From, f.To = benchDay, benchDay.Add(24*time.Hour); return f }
	return []benchFilter{
		{"Latest", day(calls.Filter{}), ""},
		{"Latest1000", day(calls.Filter{Limit: 1000}), ""},
		{"CallID", day(calls.Filter{CallID: "bench-123403@10.1.153.3"}), ""},
		{"FromUserExact", day(calls.Filter{FromUser: "+440000123403"}), ""},
		{"FromUserPrefix", day(calls.Filter{FromUser: "+4400001234*"}), ""},
		{"FromUserPrefixBroad", day(calls.Filter{FromUser: "+44000*"}), ""},
		{"FromUserSuffix", day(calls.Filter{FromUser: "*0123403"}), ""},
		{"ToUserSuffix", day(calls.Filter{ToUser: "*123403"}), ""},
		{"RURIUserExact", day(calls.Filter{RURIUser: "+15550123403"}), ""},
		{"Status486", day(calls.Filter{Status: "486"}), ""},
		{"Status4xx", day(calls.Filter{Status: "4xx"}), ""},
		{"Status200", day(calls.Filter{Status: "200"}), ""},
		{"Status503None", day(calls.Filter{Status: "503"}), ""},
		{"KindInvite", day(calls.Filter{Kind: "invite"}), ""},
		{"KindRegisterNone", day(calls.Filter{Kind: "register"}), ""},
		{"Status486FromUserPrefix", day(calls.Filter{Status: "486", FromUser: "+440000*"}), ""},
		{"AllBusy/Status486", day(calls.Filter{Status: "486"}), "bench-04"},
		{"AllBusy/Status4xx", day(calls.Filter{Status: "4xx"}), "bench-04"},
		{"AllBusy/Status4xxLimit1000", day(calls.Filter{Status: "4xx", Limit: 1000}), "bench-04"},
		{"AllBusy/Status200None", day(calls.Filter{Status: "200"}), "bench-04"},
	}
}

// BenchmarkListBench measures the calls API's listing over 24 h of the
// bench database, every filter, as the application role, reporting the
// 95th percentile (the target is p95 < 100 ms). Only with
// CALLSCOPE_BENCH_DB=1:
//
//	CALLSCOPE_BENCH_DB=1 go test -run XXX -bench ListBench -benchtime 100x ./calls
func BenchmarkListBench(b *testing.B) {
	ctx := context.Background()
	d, tids := benchDB(b)
	s := calls.NewStore(d, nil)
	for _, tc := range benchFilters() {
		tid := tids[tc.tenant]
		b.Run(tc.name, func(b *testing.B) {
			var took []time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				recs, _, err := s.List(ctx, tid, tc.f)
				if err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
				n = len(recs)
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(n), "calls")
		})
	}
}

// TestExplainListBench prints the plans of the bench filters' listings.
// Only with CALLSCOPE_BENCH_DB=1:
//
//	CALLSCOPE_BENCH_DB=1 go test -run TestExplainListBench -v ./calls
func TestExplainListBench(t *testing.T) {
	ctx := context.Background()
	d, tids := benchDB(t)
	for _, tc := range benchFilters() {
		tid, f := tids[tc.tenant], tc.f
		if err := f.Validate(); err != nil {
			t.Fatal(err)
		}
		q, args := calls.ListSQL(tid, f, tc.name == "FromUserPrefixBroad")
		err := d.InTenant(ctx, tid, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
			if err != nil {
				return err
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			for _, l := range lines {
				t.Log(tc.name + ": " + l)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// benchDB opens the bench database and returns the ids of bench-03 (under
// "" too) and bench-04.
func benchDB(tb testing.TB) (*db.DB, map[string]int64) {
	tb.Helper()
	if os.Getenv("CALLSCOPE_BENCH_DB") != "1" {
		tb.Skip("set CALLSCOPE_BENCH_DB=1 after query's TestLoadBenchDatabase (and calls rebuild on an older load)")
	}
	ctx := context.Background()
	d, err := db.Open(ctx, dbtest.BenchURL(), db.Options{AppMaxConns: 2})
	if err != nil {
		tb.Skip(err)
	}
	tb.Cleanup(d.Close)
	tids := map[string]int64{}
	for _, slug := range []string{"bench-03", "bench-04"} {
		var id int64
		if err := d.Owner().QueryRow(ctx, `SELECT id FROM tenants WHERE slug = $1`, slug).Scan(&id); err != nil {
			tb.Skip(err)
		}
		tids[slug] = id
	}
	tids[""] = tids["bench-03"]
	return d, tids
}

// TestRefreshBenchColumns fills the columns of migration 0011 in a bench
// database whose records were copied from one loaded before it. Only with
// CALLSCOPE_BENCH_DB=1 and CALLSCOPE_BENCH_REFRESH=1:
//
//	CALLSCOPE_BENCH_DB=1 CALLSCOPE_BENCH_REFRESH=1 go test -run TestRefreshBenchColumns -timeout 1h -v ./calls
func TestRefreshBenchColumns(t *testing.T) {
	if os.Getenv("CALLSCOPE_BENCH_REFRESH") != "1" {
		t.Skip("set CALLSCOPE_BENCH_REFRESH=1")
	}
	d, _ := benchDB(t)
	ctx := context.Background()
	start := time.Now()
	n, err := calls.RefreshColumns(ctx, d, func(n int) {
		if n%100000 == 0 {
			t.Logf("%d records, %v", n, time.Since(start).Round(time.Second))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Owner().Exec(ctx, `VACUUM (ANALYZE) call_records`); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records refreshed in %v", n, time.Since(start).Round(time.Second))
}
