package query

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/query/queryapi"
)

// TestExplainSearchBench prints EXPLAIN (ANALYZE, BUFFERS) of every
// BenchmarkSearchBench case against callscope_bench_query, run as the
// application role inside the same transaction shape Search uses. It runs
// only with CALLSCOPE_BENCH_DB=1 and is how the plans in BENCHMARKS.md were
// read:
//
//	CALLSCOPE_BENCH_DB=1 go test -run TestExplainSearchBench -v ./query
func TestExplainSearchBench(t *testing.T) {
	if os.Getenv("CALLSCOPE_BENCH_DB") != "1" {
		t.Skip("set CALLSCOPE_BENCH_DB=1 after TestLoadBenchDatabase")
	}
	ctx := context.Background()
	url := dbtest.BenchURL()
	d, err := db.Open(ctx, url, db.Options{})
	if err != nil {
		t.Skip(err)
	}
	defer d.Close()
	var tid int64
	if err := d.Owner().QueryRow(ctx, `SELECT id FROM tenants WHERE slug = 'bench-03'`).Scan(&tid); err != nil {
		t.Skip(err)
	}
	day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	from, to := day, day.Add(24*time.Hour)
	only := os.Getenv("CALLSCOPE_EXPLAIN_CASE")
	for _, tc := range BenchFilters(from, to, tid) {
		if only != "" && !strings.Contains(tc.Name, only) {
			continue
		}
		t.Run(tc.Name, func(t *testing.T) {
			f := tc.F
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			run := func(tx pgx.Tx) error {
				tenants := []int64{f.TenantID}
				if f.TenantID == 0 {
					rows, _ := tx.Query(ctx, `SELECT id FROM tenants ORDER BY id`)
					var err error
					if tenants, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
						return err
					}
				}
				q, args := searchSQL(f, tenants)
				rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q, append([]any{searchExecMode}, args...)...)
				if err != nil {
					return err
				}
				lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
				t.Log("\n" + strings.Join(lines, "\n"))
				return err
			}
			if f.TenantID == 0 {
				err = d.AllTenants(ctx, run)
			} else {
				err = d.InTenant(ctx, f.TenantID, run)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// BenchFilter is one named search case of the 10-million-message benchmark.
type BenchFilter struct {
	Name string
	F    queryapi.Filter
}

// BenchFilters are the search cases of the 10-million-message benchmark:
// tenant tid's day [from, to), and every tenant's.
func BenchFilters(from, to time.Time, tid int64) []BenchFilter {
	return []BenchFilter{
		{"FromUserExact", queryapi.Filter{From: from, To: to, TenantID: tid, FromUser: "+440000123403"}},
		{"FromUserPrefix", queryapi.Filter{From: from, To: to, TenantID: tid, FromUser: "+4400001234*"}},
		{"FromUserPrefixBroad", queryapi.Filter{From: from, To: to, TenantID: tid, FromUser: "+44000*"}},
		{"NumberSuffix", queryapi.Filter{From: from, To: to, TenantID: tid, FromUser: "*0123403"}},
		{"ToUserSuffix", queryapi.Filter{From: from, To: to, TenantID: tid, ToUser: "*123403"}},
		{"NumberSuffixAllTenants", queryapi.Filter{From: from, To: to, FromUser: "*0123403"}},
		{"ToUserSuffixAllTenants", queryapi.Filter{From: from, To: to, ToUser: "*123403"}},
		{"Latest", queryapi.Filter{From: from, To: to, TenantID: tid}},
		{"LatestAllTenants", queryapi.Filter{From: from, To: to}},
	}
}
