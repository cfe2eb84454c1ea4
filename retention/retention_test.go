package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/retention"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// now is the fixed clock of these tests: mid-morning, so that anything
// that mistook "now" for "today" would show.
var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestCutoff(t *testing.T) {
	paris := time.FixedZone("UTC+1", 3600)
	tests := []struct {
		name string
		now  time.Time
		days int
		want time.Time
	}{
		{"MidDay", now, 7, time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)},
		{"Midnight", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), 7, time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)},
		{"LastNanosecond", time.Date(2026, 11, 26, 23, 59, 59, 999999999, time.UTC), 7, time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)},
		// 00:30 in UTC+1 is still the previous UTC day.
		{"OtherZone", time.Date(2026, 11, 26, 0, 30, 0, 0, paris), 1, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		{"Global90", now, 90, time.Date(2026, 8, 28, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retention.Cutoff(tt.now, tt.days); !got.Equal(tt.want) {
				t.Errorf("Cutoff(%s, %d) = %s, want %s", tt.now, tt.days, got, tt.want)
			}
		})
	}
}

type bundle struct {
	db      *db.DB
	tenants *tenantdb.Store
	reg     *prometheus.Registry
	enf     *retention.Enforcer
}

func setup(t *testing.T, cfg retention.Config) *bundle {
	t.Helper()
	d := dbtest.New(t)
	b := &bundle{db: d, tenants: tenantdb.NewStore(d), reg: prometheus.NewRegistry()}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return now }
	}
	var err error
	b.enf, err = retention.New(d, b.tenants, cfg, b.reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) MustTenant(tb testing.TB, slug string, days int) tenant.Tenant {
	tb.Helper()
	tn, err := b.tenants.Create(context.Background(), tenant.New{Slug: slug, RetentionDays: days})
	if err != nil {
		tb.Fatal(err)
	}
	return tn
}

func (b *bundle) MustPartitions(tb testing.TB, days ...time.Time) {
	tb.Helper()
	for _, d := range days {
		if _, err := b.db.EnsurePartitions(context.Background(), d, d); err != nil {
			tb.Fatal(err)
		}
	}
}

// MustMessage stores one SIP message row of tenantID captured at at.
func (b *bundle) MustMessage(tb testing.TB, tenantID int64, at time.Time, callID string) {
	tb.Helper()
	_, err := b.db.Owner().Exec(context.Background(), `INSERT INTO sip_messages
		(tenant_id, captured_at, received_at, call_id, src_ip, src_port, dst_ip, dst_port, transport, capture_id, payload)
		VALUES ($1, $2, $2, $3, '127.0.0.1', 5060, '127.0.0.2', 5060, 'udp', 1, 'INVITE sip:x SIP/2.0')`,
		tenantID, at, callID)
	if err != nil {
		tb.Fatal(err)
	}
}

func (b *bundle) MustEvent(tb testing.TB, tenantID int64, at time.Time) {
	tb.Helper()
	_, err := b.db.Owner().Exec(context.Background(), `INSERT INTO hep_events
		(tenant_id, captured_at, received_at, payload_type, call_id, src_ip, src_port, dst_ip, dst_port, capture_id, payload)
		VALUES ($1, $2, $2, 100, 'c', '127.0.0.1', 5060, '127.0.0.2', 5060, 1, 'log')`, tenantID, at)
	if err != nil {
		tb.Fatal(err)
	}
}

// count returns how many rows of tenantID sit in table (the parent, so
// every partition and DEFAULT) at exactly at, or at any time when at is zero.
func (b *bundle) count(tb testing.TB, table string, tenantID int64, at time.Time) int {
	tb.Helper()
	var n int
	err := b.db.Owner().QueryRow(context.Background(),
		`SELECT count(*) FROM `+table+` WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR captured_at = $2)`,
		tenantID, nullTime(at)).Scan(&n)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (b *bundle) exists(tb testing.TB, rel string) bool {
	tb.Helper()
	var ok bool
	if err := b.db.Owner().QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, rel).Scan(&ok); err != nil {
		tb.Fatal(err)
	}
	return ok
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

const µs = time.Microsecond

func TestRun(t *testing.T) {
	ctx := context.Background()
	b := setup(t, retention.Config{MaxDays: 90, BatchSize: 2})
	a := b.MustTenant(t, "aa", 7)    // cutoff 2026-11-19
	bb := b.MustTenant(t, "bb", 30)  // cutoff 2026-10-27
	c := b.MustTenant(t, "cc", 3650) // capped by the global 90: cutoff 2026-08-28

	aCut, bCut, gCut := day(2026, 11, 19), day(2026, 10, 27), day(2026, 8, 28)
	b.MustPartitions(t, day(2026, 8, 27), day(2026, 8, 28), day(2026, 11, 18), day(2026, 11, 19))

	for _, tn := range []tenant.Tenant{a, bb} {
		b.MustMessage(t, tn.ID, aCut.Add(-µs), "edge-before")
		b.MustMessage(t, tn.ID, aCut, "edge-at")
		// 2026-11-10 has no partition: DEFAULT.
		b.MustMessage(t, tn.ID, day(2026, 11, 10), "default")
		b.MustEvent(t, tn.ID, aCut.Add(-µs))
	}
	for i := range 5 { // several batches of 2
		b.MustMessage(t, a.ID, day(2026, 11, 18).Add(time.Duration(i)*time.Hour), "batch")
	}
	b.MustMessage(t, bb.ID, bCut.Add(-µs), "b-edge-before") // DEFAULT (no partition for 10-26)
	b.MustMessage(t, bb.ID, bCut, "b-edge-at")
	b.MustMessage(t, bb.ID, gCut, "b-global-day")
	b.MustMessage(t, c.ID, gCut.Add(-µs), "c-dropped-day")
	b.MustMessage(t, c.ID, gCut, "c-kept-day")
	b.MustMessage(t, c.ID, day(2026, 5, 1), "c-default-old")

	rep, err := b.enf.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("TenantCutoffExact", func(t *testing.T) {
		if n := b.count(t, "sip_messages", a.ID, aCut.Add(-µs)); n != 0 {
			t.Errorf("row 1µs before A's cutoff: %d left, want 0", n)
		}
		if n := b.count(t, "sip_messages", a.ID, aCut); n != 1 {
			t.Errorf("row at A's cutoff: %d left, want 1", n)
		}
		if n := b.count(t, "hep_events", a.ID, aCut.Add(-µs)); n != 0 {
			t.Errorf("A's event before cutoff: %d left, want 0", n)
		}
		if n := b.count(t, "sip_messages", a.ID, time.Time{}); n != 1 {
			t.Errorf("A has %d rows, want only the one at the cutoff", n)
		}
		if n := b.count(t, "sip_messages", bb.ID, bCut.Add(-µs)); n != 0 {
			t.Errorf("B's row 1µs before its cutoff (in DEFAULT): %d left, want 0", n)
		}
		if n := b.count(t, "sip_messages", bb.ID, bCut); n != 1 {
			t.Errorf("B's row at its cutoff: %d left, want 1", n)
		}
	})
	t.Run("OtherTenantUntouched", func(t *testing.T) {
		// B keeps 30 days: A's 7-day cutoff must not reach B's rows.
		for _, at := range []time.Time{aCut.Add(-µs), aCut, day(2026, 11, 10)} {
			if n := b.count(t, "sip_messages", bb.ID, at); n != 1 {
				t.Errorf("B's row at %s: %d left, want 1", at, n)
			}
		}
		if n := b.count(t, "hep_events", bb.ID, aCut.Add(-µs)); n != 1 {
			t.Errorf("B's event: %d left, want 1", n)
		}
	})
	t.Run("PartitionsDroppedOnlyWhenWhollyPast", func(t *testing.T) {
		for _, rel := range []string{"sip_messages_20260827", "hep_events_20260827"} {
			if b.exists(t, rel) {
				t.Errorf("%s still exists; its whole day is before %s", rel, gCut)
			}
		}
		for _, rel := range []string{"sip_messages_20260828", "hep_events_20260828", "sip_messages_20261118"} {
			if !b.exists(t, rel) {
				t.Errorf("%s was dropped", rel)
			}
		}
		if n := b.count(t, "sip_messages", c.ID, gCut); n != 1 {
			t.Errorf("C's row on the first kept day: %d, want 1", n)
		}
		if n := b.count(t, "sip_messages", bb.ID, gCut); n != 0 {
			t.Errorf("B's row on the first globally kept day: %d, want 0 (B keeps 30 days)", n)
		}
		if len(rep.Dropped) != 2 {
			t.Errorf("Dropped = %v, want the two 20260827 partitions", rep.Dropped)
		}
	})
	t.Run("DefaultPartition", func(t *testing.T) {
		if n := b.count(t, "sip_messages", c.ID, day(2026, 5, 1)); n != 0 {
			t.Errorf("C's row past the global maximum in DEFAULT: %d left", n)
		}
		if n := b.count(t, "sip_messages", a.ID, day(2026, 11, 10)); n != 0 {
			t.Errorf("A's row past its retention in DEFAULT: %d left", n)
		}
		if rep.DefaultDeleted != 1 {
			t.Errorf("DefaultDeleted = %d, want 1", rep.DefaultDeleted)
		}
	})
	t.Run("PartitionsAhead", func(t *testing.T) {
		for _, d := range []time.Time{day(2026, 11, 26), day(2026, 11, 27), day(2026, 11, 28)} {
			for _, table := range db.PartitionedTables {
				if !b.exists(t, db.PartitionName(table, d)) {
					t.Errorf("%s missing", db.PartitionName(table, d))
				}
			}
		}
	})
	t.Run("Report", func(t *testing.T) {
		want := map[string]int64{"aa": 1 + 1 + 5 + 1, "bb": 1 + 1, "cc": 0}
		for _, tr := range rep.Tenants {
			if tr.Deleted != want[tr.Slug] {
				t.Errorf("%s: Deleted = %d, want %d", tr.Slug, tr.Deleted, want[tr.Slug])
			}
		}
		if got := rep.Tenants[2]; got.Slug != "cc" || got.Days != 90 || !got.Cutoff.Equal(gCut) {
			t.Errorf("cc: %+v, want 90 days from %s", got, gCut)
		}
		if got := gather(t, b.reg, "callscope_retention_deleted_rows_total", "table", "sip_messages"); got != 10 {
			t.Errorf("deleted sip_messages metric = %v, want 10 (A 7, B 2, DEFAULT 1)", got)
		}
		if got := gather(t, b.reg, "callscope_retention_dropped_partitions_total", "table", "hep_events"); got != 1 {
			t.Errorf("dropped hep_events metric = %v, want 1", got)
		}
	})
	t.Run("SecondRunIsIdle", func(t *testing.T) {
		rep, err := b.enf.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Created)+len(rep.Dropped) != 0 || rep.DefaultDeleted != 0 {
			t.Errorf("second run: %+v", rep)
		}
		for _, tr := range rep.Tenants {
			if tr.Deleted != 0 {
				t.Errorf("second run deleted %d rows of %s", tr.Deleted, tr.Slug)
			}
		}
	})
}

func TestRunSkipsWhileAnotherProcessRuns(t *testing.T) {
	ctx := context.Background()
	b := setup(t, retention.Config{MaxDays: 90})
	conn, err := b.db.Owner().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(0x63_73_72_74)); err != nil {
		t.Fatal(err)
	}
	rep, err := b.enf.Run(ctx)
	if err != nil || !rep.Skipped {
		t.Fatalf("Run = %+v, %v; want skipped", rep, err)
	}
	conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`) //nolint:errcheck
	if rep, err := b.enf.Run(ctx); err != nil || rep.Skipped {
		t.Fatalf("Run after unlock = %+v, %v", rep, err)
	}
}

func TestNoGlobalMaximum(t *testing.T) {
	b := setup(t, retention.Config{MaxDays: 0})
	a := b.MustTenant(t, "aa", 3650)
	b.MustPartitions(t, day(2020, 1, 1))
	b.MustMessage(t, a.ID, day(2020, 1, 1), "old")
	rep, err := b.enf.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Dropped) != 0 || !b.exists(t, "sip_messages_20200101") || b.count(t, "sip_messages", a.ID, time.Time{}) != 1 {
		t.Errorf("MaxDays 0 dropped or deleted something: %+v", rep)
	}
}

func TestLoop(t *testing.T) {
	b := setup(t, retention.Config{MaxDays: 90})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.enf.Loop(ctx, time.Hour) }()
	// The first pass runs at once; wait for it through its metric.
	for gather(t, b.reg, "callscope_retention_runs_total", "result", "ok") < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Loop = %v, want nil after cancel", err)
	}
}

// gather returns the value of the metric name whose label has value, or 0.
func gather(tb testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			matched := false
			for _, l := range m.GetLabel() {
				matched = matched || l.GetName() == label && l.GetValue() == value
			}
			if !matched {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}
