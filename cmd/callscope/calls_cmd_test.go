package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callscope/callscope/query/querytest"
)

// TestCallsRebuild: messages stored without records (as before an upgrade)
// get them from `calls rebuild`, for the tenant named or for all.
func TestCallsRebuild(t *testing.T) {
	c := newCLI(t)
	c.mustRun("tenant", "create", "acme")
	c.mustRun("tenant", "create", "globex")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, c.env["CALLSCOPE_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ids := map[string]int64{}
	for _, slug := range []string{"acme", "globex"} {
		var id int64
		if err := pool.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = $1`, slug).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[slug] = id
	}
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	rows := querytest.Call{TenantID: ids["acme"], CallID: "up@h", Start: start, Status: 486}.Rows()
	rows = append(rows, querytest.Call{TenantID: ids["globex"], CallID: "up@h", Start: start}.Rows()...)
	if err := querytest.CopyMessages(ctx, pool, rows); err != nil {
		t.Fatal(err)
	}
	records := func() (n int, acme int) {
		if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(max(final_status) FILTER (WHERE tenant_id = $1), 0)
			FROM call_records`, ids["acme"]).Scan(&n, &acme); err != nil {
			t.Fatal(err)
		}
		return n, acme
	}

	out := c.mustRun("calls", "rebuild", "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-02T00:00:00Z", "--tenant", "acme")
	if n, st := records(); !strings.Contains(out, "rebuilt 1 call records from 4 messages") || n != 1 || st != 486 {
		t.Errorf("--tenant acme: %d records (acme's final %d):\n%s", n, st, out)
	}
	c.mustRun("calls", "rebuild", "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-02T00:00:00Z")
	if n, _ := records(); n != 2 {
		t.Errorf("every tenant: %d records, want 2", n)
	}
	for _, args := range [][]string{
		{"calls"},
		{"calls", "rebuild", "--from", "yesterday", "--to", "2026-03-02T00:00:00Z"},
		{"calls", "rebuild", "--from", "2026-03-02T00:00:00Z", "--to", "2026-03-01T00:00:00Z"},
	} {
		if _, err := c.run("", args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
