package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/callscope/callscope/retention"
)

// TestRunCallRecords: a tenant's call records of calls that started before
// its cutoff go, to the microsecond; the other tenant's stay; the global
// maximum reaches them through the capped tenant retention.
func TestRunCallRecords(t *testing.T) {
	ctx := context.Background()
	b := setup(t, retention.Config{MaxDays: 90, BatchSize: 2})
	a := b.MustTenant(t, "aa", 7)    // cutoff 2026-11-19
	c := b.MustTenant(t, "cc", 3650) // capped: cutoff 2026-08-28
	aCut, gCut := day(2026, 11, 19), day(2026, 8, 28)
	record := func(tenantID int64, callID string, started time.Time) {
		_, err := b.db.Owner().Exec(ctx, `INSERT INTO call_records (tenant_id, call_id, started_at, ended_at, kind, messages, state)
			VALUES ($1, $2, $3::timestamptz, $3::timestamptz + interval '1 hour', 'invite', 7, '\x01')`, tenantID, callID, started)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"1", "2", "3"} { // several delete batches
		record(a.ID, "a-before-"+id, aCut.Add(-time.Hour))
	}
	record(a.ID, "a-edge-before", aCut.Add(-µs))
	record(a.ID, "a-at", aCut)
	record(c.ID, "c-edge-before", aCut.Add(-µs))
	record(c.ID, "c-past-global", gCut.Add(-µs))
	record(c.ID, "c-at-global", gCut)

	if _, err := b.enf.Run(ctx); err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	rows, err := b.db.Owner().Query(ctx, `SELECT call_id FROM call_records`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		left[id] = true
	}
	for id, want := range map[string]bool{"a-before-1": false, "a-before-3": false, "a-edge-before": false, "a-at": true,
		"c-edge-before": true, "c-past-global": false, "c-at-global": true} {
		if left[id] != want {
			t.Errorf("record %s kept = %v, want %v", id, left[id], want)
		}
	}
	if got := gather(t, b.reg, "callscope_retention_deleted_rows_total", "table", "call_records"); got != 5 {
		t.Errorf("deleted call_records metric = %v, want 5", got)
	}
}
