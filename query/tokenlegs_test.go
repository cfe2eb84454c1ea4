package query_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
)

// TestTokenLegs: the read a view token makes (CallOf) reaches its call, the
// legs that point at it and the legs a capture node joined to it; it never
// follows what the call's own headers assert. The admin's read (Call)
// follows everything, and so does a tenant that opted in.
func TestTokenLegs(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "victim@v", Start: t0, UserAgent: "victim-phone"},
		querytest.Call{TenantID: b.acme.ID, CallID: "att@a", Start: t0.Add(time.Second), XCID: "victim@v"},
		querytest.Call{TenantID: b.acme.ID, CallID: "att@a" + query.B2BSuffix, Start: t0.Add(2 * time.Second)},
		querytest.Call{TenantID: b.acme.ID, CallID: "ptr@p", Start: t0.Add(3 * time.Second), XCID: "att@a"},
		querytest.Call{TenantID: b.acme.ID, CallID: "sharer@s", Start: t0.Add(4 * time.Second), XCID: "victim@v"},
		querytest.Call{TenantID: b.acme.ID, CallID: "joined@j", Start: t0.Add(5 * time.Second)},
		querytest.Call{TenantID: b.acme.ID, CallID: "victim@v" + query.B2BSuffix, Start: t0.Add(6 * time.Second)},
	)
	// The capture node joined att@a and joined@j with HEP's chunk: one
	// message of each carries the node's value.
	if _, err := b.db.Owner().Exec(ctx, `UPDATE sip_messages SET correlation_id = 'node-7', correlation_source = 'hep'
		WHERE (call_id = 'att@a' AND status = 100) OR call_id = 'joined@j'`); err != nil {
		t.Fatal(err)
	}
	// An event keyed by the victim's Call-ID as correlation value.
	querytest.MustInsertEvents(t, b.db.Owner(), querytest.Event{TenantID: b.acme.ID, CapturedAt: t0.Add(time.Second),
		PayloadType: 100, CorrelationID: "victim@v", Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte("victim's log")})
	from, to := t0.Add(-time.Hour), t0.Add(time.Hour)
	// The event is a LOG line: internal, shown to tokens of a tenant that
	// turned internal events on (TestInternalEvents covers the setting).
	acme := queryapi.TenantInfo{ID: b.acme.ID, Slug: "acme", ShowInternalEvents: true}

	legs := func(c *queryapi.Call) []string { return c.Legs[1:] }
	for _, tc := range []struct {
		name, callID  string
		follow, admin bool
		want          []string
		events        int
	}{
		{"TokenOfAttacker", "att@a", false, false, []string{"att@a_b2b-1", "joined@j", "ptr@p"}, 0},
		{"TokenNamedAsVictimsBLeg", "victim@v" + query.B2BSuffix, false, false, nil, 0},
		{"TokenOfSharer", "sharer@s", false, false, nil, 0},
		{"TokenOfVictim", "victim@v", false, false, []string{"att@a", "sharer@s", "victim@v_b2b-1"}, 1},
		{"TenantOptedIn", "att@a", true, false, []string{"att@a_b2b-1", "joined@j", "ptr@p", "sharer@s", "victim@v"}, 1},
		{"Admin", "att@a", false, true, []string{"att@a_b2b-1", "joined@j", "ptr@p", "sharer@s", "victim@v"}, 1},
		{"AdminOfBLegName", "victim@v" + query.B2BSuffix, false, true, []string{"victim@v"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *queryapi.Call
			var err error
			if tc.admin {
				c, err = b.store.Call(ctx, b.acme.ID, tc.callID, from, to)
			} else {
				ti := acme
				ti.FollowHeaderCorrelation = tc.follow
				c, err = b.store.CallOf(ctx, ti, tc.callID, from, to)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := legs(c); !slices.Equal(got, tc.want) {
				t.Errorf("legs %v, want %v", got, tc.want)
			}
			for _, m := range c.Messages {
				if m.CallID == "victim@v" && !slices.Contains(tc.want, "victim@v") && tc.callID != "victim@v" {
					t.Fatalf("the victim's messages are in the read of %s", tc.callID)
				}
			}
			if len(c.Events) != tc.events {
				t.Errorf("%d events, want %d", len(c.Events), tc.events)
			}
		})
	}
}
