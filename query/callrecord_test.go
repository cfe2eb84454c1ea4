package query_test

import (
	"context"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
)

// TestCallRecordOfToken: a call read carries the record of the token's
// tenant and Call-ID, never another tenant's record of the same Call-ID.
func TestCallRecordOfToken(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "shared@x", Start: t0, Status: 486, FromUser: "alice", ToUser: "bob"},
		querytest.Call{TenantID: b.beta.ID, CallID: "shared@x", Start: t0, FromUser: "mallory", ToUser: "trent"},
		querytest.Call{TenantID: b.beta.ID, CallID: "beta-only@x", Start: t0},
	)
	from, to := t0.Add(-time.Hour), t0.Add(time.Hour)
	acme := queryapi.TenantInfo{ID: b.acme.ID, Slug: "acme"}
	beta := queryapi.TenantInfo{ID: b.beta.ID, Slug: "beta"}

	t.Run("OK", func(t *testing.T) {
		c, err := b.store.CallOf(ctx, acme, "shared@x", from, to)
		if err != nil {
			t.Fatal(err)
		}
		r := c.Record
		if r == nil {
			t.Fatal("no record")
		}
		if r.FinalStatus == nil || *r.FinalStatus != 486 || r.FromUser == nil || *r.FromUser != "alice" {
			t.Errorf("record %+v, want acme's busy call from alice", r)
		}
		if int(r.Messages) != c.OwnMessages() || r.Messages != 4 {
			t.Errorf("record counts %d messages, %d read", r.Messages, c.OwnMessages())
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		c, err := b.store.CallOf(ctx, beta, "shared@x", from, to)
		if err != nil {
			t.Fatal(err)
		}
		if r := c.Record; r == nil || r.FinalStatus == nil || *r.FinalStatus != 200 || *r.FromUser != "mallory" {
			t.Errorf("beta's read of shared@x has record %+v, want beta's own", r)
		}
		for _, m := range c.Messages {
			if m.Status == 486 {
				t.Fatal("beta's read holds acme's 486")
			}
		}
		if _, err := b.store.CallOf(ctx, acme, "beta-only@x", from, to); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("acme's token for beta's call: %v, want NotFound", err)
		}
	})
	t.Run("WindowCutsTheCall", func(t *testing.T) {
		// The 486 comes a few hundred milliseconds after the INVITE: a window
		// that starts after the INVITE holds part of the call, and the record
		// (of the whole call) says how much is missing.
		c, err := b.store.CallOf(ctx, acme, "shared@x", t0.Add(time.Millisecond), to)
		if err != nil {
			t.Fatal(err)
		}
		if c.Record == nil || c.OwnMessages() >= int(c.Record.Messages) {
			t.Fatalf("read %d of a record of %v messages, want fewer", c.OwnMessages(), c.Record)
		}
	})
	t.Run("NoRecordOutsideWindow", func(t *testing.T) {
		if _, err := b.store.CallOf(ctx, acme, "shared@x", t0.Add(time.Hour), t0.Add(2*time.Hour)); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("window after the call: %v, want NotFound", err)
		}
	})
}

// TestInternalEvents: a token's read leaves the call's LOG lines (and any
// other internal payload) out unless its tenant turned them on; media
// reports stay. The admin's read has everything.
func TestInternalEvents(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "logged@x", Start: t0})
	ev := func(pt int, payload string) querytest.Event {
		return querytest.Event{TenantID: b.acme.ID, CapturedAt: t0.Add(time.Millisecond), PayloadType: pt, CallID: "logged@x",
			Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte(payload)}
	}
	querytest.MustInsertEvents(t, b.db.Owner(),
		ev(100, "dispatcher: internal route 7"),
		ev(5, `{"type":200,"ssrc":1,"report_blocks":[{"source_ssrc":2,"fraction_lost":0,"packets_lost":0,"ia_jitter":8}]}`),
		ev(54, "an operator's own payload"))
	from, to := t0.Add(-time.Hour), t0.Add(time.Hour)
	kinds := func(c *queryapi.Call) (out []string) {
		for _, e := range c.Events {
			out = append(out, e.Kind())
		}
		return out
	}
	for _, tc := range []struct {
		name string
		read func() (*queryapi.Call, error)
		want int
	}{
		{"TokenDefault", func() (*queryapi.Call, error) {
			return b.store.CallOf(ctx, queryapi.TenantInfo{ID: b.acme.ID, Slug: "acme"}, "logged@x", from, to)
		}, 1},
		{"TokenTenantOptedIn", func() (*queryapi.Call, error) {
			return b.store.CallOf(ctx, queryapi.TenantInfo{ID: b.acme.ID, Slug: "acme", ShowInternalEvents: true}, "logged@x", from, to)
		}, 3},
		{"Admin", func() (*queryapi.Call, error) { return b.store.Call(ctx, b.acme.ID, "logged@x", from, to) }, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.read()
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(c); len(got) != tc.want {
				t.Fatalf("events %v, want %d", got, tc.want)
			}
			if tc.want == 1 && c.Events[0].Kind() != "rtcp" {
				t.Errorf("events %v, want the RTCP report only", kinds(c))
			}
		})
	}
}
