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
)

// TestExplainCallBench prints EXPLAIN (ANALYZE, BUFFERS) of the statements
// readCall sends for the viewer benchmark's call (viewer's
// TestSeedBenchCall), as the application role in the tenant's transaction,
// after running them six times so that a cached generic plan shows if
// PostgreSQL picks one. Only with CALLSCOPE_BENCH_DB=1:
//
//	CALLSCOPE_BENCH_DB=1 go test -run TestExplainCallBench -v ./query
func TestExplainCallBench(t *testing.T) {
	ctx := context.Background()
	d, tid, from, to := benchCall(t)
	s := NewStore(d)
	for range 6 {
		c, err := s.Call(ctx, tid, "view-bench-20", from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Messages) != 20 {
			t.Fatalf("%d messages", len(c.Messages))
		}
	}
	err := d.InTenant(ctx, tid, func(tx pgx.Tx) error {
		for _, stmt := range callStatements() {
			rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+stmt, tid, "view-bench-20", from, to, LegWindow, []string{"view-bench-20" + B2BSuffix}, false)
			if err != nil {
				return err
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			t.Log("\n" + strings.Join(lines, "\n"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCallBench reads the viewer benchmark's call the way the view
// route does, one read at a time, as the application role: the query
// service's share of a cold view plus PostgreSQL's. Only with
// CALLSCOPE_BENCH_DB=1:
//
//	CALLSCOPE_BENCH_DB=1 go test -run XXX -bench CallBench -benchtime 3000x ./query
func BenchmarkCallBench(b *testing.B) {
	ctx := context.Background()
	d, tid, from, to := benchCall(b)
	s := NewStore(d)
	b.ReportAllocs()
	for b.Loop() {
		c, err := s.Call(ctx, tid, "view-bench-20", from, to)
		if err != nil {
			b.Fatal(err)
		}
		if len(c.Messages) != 20 {
			b.Fatalf("%d messages", len(c.Messages))
		}
	}
}

// benchCall opens the bench database as the application role (one
// connection, closed when tb ends) and returns the tenant and window of the
// viewer benchmark's call, or skips tb without CALLSCOPE_BENCH_DB=1 or the
// database.
func benchCall(tb testing.TB) (d *db.DB, tenantID int64, from, to time.Time) {
	tb.Helper()
	if os.Getenv("CALLSCOPE_BENCH_DB") != "1" {
		tb.Skip("set CALLSCOPE_BENCH_DB=1 after TestLoadBenchDatabase")
	}
	ctx := context.Background()
	d, err := db.Open(ctx, dbtest.BenchURL(), db.Options{AppMaxConns: 1})
	if err != nil {
		tb.Skip(err)
	}
	tb.Cleanup(d.Close)
	if err := d.Owner().QueryRow(ctx, `SELECT id FROM tenants WHERE slug = 'bench-03'`).Scan(&tenantID); err != nil {
		tb.Skip(err)
	}
	from = time.Date(2026, 2, 1, 11, 59, 0, 0, time.UTC)
	return d, tenantID, from, from.Add(6 * time.Minute)
}
