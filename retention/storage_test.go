package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/callscope/callscope/retention"
)

func TestStorage(t *testing.T) {
	ctx := context.Background()
	b := setup(t, retention.Config{MaxDays: 90})
	x := b.MustTenant(t, "xx", 30)
	y := b.MustTenant(t, "yy", 30)
	b.MustTenant(t, "zz", 30) // no rows
	d := day(2026, 11, 25)
	b.MustPartitions(t, d)
	for i := range 40 {
		id := x.ID
		if i%4 == 3 {
			id = y.ID
		}
		b.MustMessage(t, id, d.Add(time.Duration(i)*time.Second), "call")
	}

	check := func(t *testing.T) {
		t.Helper()
		got, err := b.enf.Storage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].Slug != "xx" || got[1].Slug != "yy" || got[2].Slug != "zz" {
			t.Fatalf("Storage = %+v, want xx, yy, zz", got)
		}
		if got[0].Rows != 30 || got[1].Rows != 10 || got[2].Rows != 0 || got[2].Bytes != 0 {
			t.Errorf("rows = %d, %d, %d; want 30, 10, 0", got[0].Rows, got[1].Rows, got[2].Rows)
		}
		// xx holds three quarters of the only non-empty partition.
		if got[1].Bytes <= 0 || got[0].Bytes < 3*got[1].Bytes-3 || got[0].Bytes > 3*got[1].Bytes+3 {
			t.Errorf("bytes = %d, %d; want 3:1", got[0].Bytes, got[1].Bytes)
		}
		if g := gather(t, b.reg, "callscope_tenant_storage_bytes", "tenant", "xx"); g != float64(got[0].Bytes) {
			t.Errorf("gauge for xx = %v, want %d", g, got[0].Bytes)
		}
	}
	// A fresh partition has no statistics: shares come from the sample,
	// which covers the whole of a partition this small.
	t.Run("Sampled", check)
	// After ANALYZE (which reads every row of a small table) the shares
	// come from pg_stats and must agree.
	if _, err := b.db.Owner().Exec(ctx, `ANALYZE sip_messages_20261125`); err != nil {
		t.Fatal(err)
	}
	t.Run("Statistics", check)
}
