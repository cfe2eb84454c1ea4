package authdb_test

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/db/dbtest"
)

func TestAuditWriter(t *testing.T) {
	b := setupPG(t)
	w := authdb.NewAuditWriter(b.DB, authdb.AuditOptions{BatchSize: 2, FlushInterval: time.Hour})
	at := time.Now().UTC().Truncate(time.Microsecond)
	entries := []authdb.AuditEntry{
		{Tenant: "acme", ViewedAt: at, JTI: "a1", CallID: "c1", ClientIP: netip.MustParseAddr("192.0.2.7"), UserAgent: "Mozilla/5.0"},
		{Tenant: "acme", ViewedAt: at.Add(time.Second), JTI: "a2", CallID: "c2", ClientIP: netip.MustParseAddr("::ffff:192.0.2.8"), UserAgent: "bad \xff utf8 \x00 nul"},
		{Tenant: "acme", ViewedAt: at.Add(2 * time.Second), JTI: "a3", CallID: "c3", UserAgent: strings.Repeat("u", 2000)},
		{Tenant: "beta", ViewedAt: at, JTI: "b1", CallID: "c9", ClientIP: netip.MustParseAddr("2001:db8::1")},
		{Tenant: "nobody", ViewedAt: at, JTI: "x", CallID: "x"},
	}
	for _, e := range entries {
		if !w.Record(e) {
			t.Fatal("Record dropped with an empty queue")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	cancel() // the rest is written by the shutdown flush
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w.Written() != 4 {
		t.Errorf("written %d rows, want 4 (the unknown tenant's view is not kept)", w.Written())
	}

	acme, err := w.ListAudit(context.Background(), b.Acme.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(acme) != 3 || acme[0].JTI != "a3" || acme[2].JTI != "a1" {
		t.Fatalf("acme's audit, newest first: %+v", acme)
	}
	if acme[2].ClientIP == nil || acme[2].ClientIP.String() != "192.0.2.7" || acme[2].UserAgent != "Mozilla/5.0" || !acme[2].ViewedAt.Equal(at) {
		t.Errorf("row %+v", acme[2])
	}
	if acme[1].ClientIP == nil || acme[1].ClientIP.String() != "192.0.2.8" {
		t.Errorf("mapped IPv4 not unmapped: %v", acme[1].ClientIP)
	}
	if acme[0].ClientIP != nil || len(acme[0].UserAgent) != 512 {
		t.Errorf("no IP / long agent: %v, %d", acme[0].ClientIP, len(acme[0].UserAgent))
	}

	beta, err := w.ListAudit(context.Background(), b.Beta.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(beta) != 1 || beta[0].JTI != "b1" {
		t.Fatalf("beta's audit: %+v", beta)
	}
	for _, r := range beta {
		if strings.HasPrefix(r.JTI, "a") {
			t.Fatalf("beta sees acme's view %+v", r)
		}
	}
}

func TestAuditWriter_RecordNeverBlocks(t *testing.T) {
	b := setupPG(t)
	w := authdb.NewAuditWriter(b.DB, authdb.AuditOptions{QueueSize: 2})
	for i := range 5 {
		w.Record(authdb.AuditEntry{Tenant: "acme", JTI: "j", CallID: "c", ViewedAt: time.Unix(int64(i), 0)})
	}
	if w.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", w.Dropped())
	}
}

// TestAuditWriter_LossIsNeverSilent: a batch PostgreSQL will not take is
// tried again with backoff, then reported as lost; so are entries the full
// queue turned away.
func TestAuditWriter_LossIsNeverSilent(t *testing.T) {
	d := dbtest.New(t)
	d.Close() // every write fails
	type drop struct {
		reason string
		n      int
		err    error
	}
	var (
		mu    sync.Mutex
		drops []drop
	)
	w := authdb.NewAuditWriter(d, authdb.AuditOptions{QueueSize: 2, BatchSize: 10, FlushInterval: time.Hour,
		Retries: 2, RetryBackoff: time.Millisecond,
		OnDrop: func(reason string, n int, err error) {
			mu.Lock()
			defer mu.Unlock()
			drops = append(drops, drop{reason, n, err})
		}})
	for i := range 3 {
		w.Record(authdb.AuditEntry{Tenant: "acme", JTI: "j", CallID: "c", ViewedAt: time.Unix(int64(i), 0)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Run(ctx); err == nil {
		t.Fatal("the final flush to a closed database reported no error")
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"queue_full": 1, "write_failed": 2}
	got := map[string]int{}
	for _, d := range drops {
		got[d.reason] += d.n
		if d.reason == "write_failed" && d.err == nil {
			t.Error("a failed batch reported without its error")
		}
	}
	if got["queue_full"] != want["queue_full"] || got["write_failed"] != want["write_failed"] || w.Dropped() != 3 || w.Failures() != 1 {
		t.Errorf("drops %v (dropped %d, failures %d), want %v", got, w.Dropped(), w.Failures(), want)
	}
}
