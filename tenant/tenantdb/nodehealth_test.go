package tenantdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/callscope/callscope/tenant"
)

func TestNodeHealth(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	acme := mustCreate(t, b.store, "acme")
	globex := mustCreate(t, b.store, "globex")
	now := time.Now().UTC().Truncate(time.Millisecond)
	minute := now.Truncate(time.Minute)

	// Two ingest processes report the same minute: the counts add up.
	for _, last := range []time.Time{now.Add(-2 * time.Second), now} {
		if err := b.store.RecordNodeStats(ctx, []tenant.NodeStat{
			{TenantID: acme.ID, CaptureID: 2001, Minute: minute, Outcome: tenant.OutcomeAccepted, Packets: 10, LastSeen: last},
			{TenantID: acme.ID, CaptureID: 2001, Minute: minute, Outcome: "bad_auth_key", Packets: 3, LastSeen: last.Add(-time.Second)},
			{TenantID: globex.ID, CaptureID: 3001, Minute: minute, Outcome: "source_not_allowed", Packets: 1, LastSeen: last},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// An hour and more ago: outside the window, and pruned.
	old := minute.Add(-2 * time.Hour)
	if err := b.store.RecordNodeStats(ctx, []tenant.NodeStat{
		{TenantID: acme.ID, CaptureID: 2001, Minute: old, Outcome: tenant.OutcomeAccepted, Packets: 1000, LastSeen: old},
		{TenantID: acme.ID + 1000, CaptureID: 9, Minute: minute, Outcome: tenant.OutcomeAccepted, Packets: 1, LastSeen: now}, // no such tenant: left out
	}); err != nil {
		t.Fatal(err)
	}

	since := now.Add(-time.Hour)
	h, err := b.store.NodeHealth(ctx, acme.ID, since)
	if err != nil {
		t.Fatal(err)
	}
	got := h[tenant.NodeKey{TenantID: acme.ID, CaptureID: 2001}]
	if len(h) != 1 || got.Accepted != 20 || got.Dropped["bad_auth_key"] != 6 || got.Drops() != 6 || !got.LastPacket.Equal(now) {
		t.Fatalf("acme's health = %+v", h)
	}

	t.Run("OtherTenantSeesNothing", func(t *testing.T) {
		h, err := b.store.NodeHealth(ctx, globex.ID, since)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := h[tenant.NodeKey{TenantID: acme.ID, CaptureID: 2001}]; ok || len(h) != 1 {
			t.Fatalf("globex sees %+v", h)
		}
	})
	t.Run("Admins", func(t *testing.T) {
		all, err := b.store.AllNodeHealth(ctx, since)
		if err != nil || len(all) != 2 || all[tenant.NodeKey{TenantID: globex.ID, CaptureID: 3001}].Dropped["source_not_allowed"] != 2 {
			t.Fatalf("AllNodeHealth = %+v, %v", all, err)
		}
	})
	t.Run("Prune", func(t *testing.T) {
		if err := b.store.PruneNodeStats(ctx, minute.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		all, err := b.store.AllNodeHealth(ctx, old)
		if err != nil || all[tenant.NodeKey{TenantID: acme.ID, CaptureID: 2001}].Accepted != 20 {
			t.Fatalf("after prune: %+v, %v", all, err)
		}
	})
}

func TestIngestStatus(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	started := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	st := tenant.IngestStatus{Instance: "host-a 127.0.0.1:9060", StartedAt: started, LagSeconds: 40.4,
		BacklogBytes: 12_500_000, SpoolBytes: 10_000_000, Trend: tenant.CatchingUp}
	if err := b.store.ReportIngestStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	st.Instance, st.Trend, st.LagSeconds = "host-b 127.0.0.1:9060", tenant.CaughtUp, 0.2
	if err := b.store.ReportIngestStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	all, err := b.store.IngestStatuses(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("IngestStatuses = %+v, %v", all, err)
	}
	if got := all[0].Summary(); got != "behind by 40 s (12.5 MB waiting), catching up" {
		t.Errorf("summary %q", got)
	}
	if got := all[1].Summary(); got != "caught up" {
		t.Errorf("summary %q", got)
	}
	if all[0].Silent(time.Now()) || !all[0].Silent(time.Now().Add(2*time.Minute)) || !all[0].StartedAt.Equal(started) {
		t.Errorf("status %+v", all[0])
	}
}
