package query_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
)

func callIDs(cs []queryapi.CallSummary) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.CallID
	}
	return out
}

func TestSearchFilters(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	node := uint32(77)
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "c1@acme", Start: t0, FromUser: "+442071234567", ToUser: "100"},
		querytest.Call{TenantID: b.acme.ID, CallID: "c2@acme", Start: t0.Add(time.Minute), FromUser: "+442079990000", ToUser: "200",
			Status: 486, Caller: ap("192.168.5.9:5060"), XCID: "corr-2", UserAgent: "Linphone/5.2"},
		querytest.Call{TenantID: b.acme.ID, CallID: "c3@acme", Start: t0.Add(2 * time.Minute), FromUser: "alice", ToUser: "+15551234567",
			Transport: "tcp", CaptureID: node, Callee: ap("[2001:db8::5]:5061"), Caller: ap("[2001:db8::1]:5060")},
		// Tenant beta holds a call of the same shape: acme never sees it.
		querytest.Call{TenantID: b.beta.ID, CallID: "c1@acme", Start: t0, FromUser: "+442071234567", ToUser: "100"},
	)
	base := queryapi.Filter{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), TenantID: b.acme.ID}
	for _, tc := range []struct {
		name string
		f    func(*queryapi.Filter)
		want []string
	}{
		{"All", func(*queryapi.Filter) {}, []string{"c3@acme", "c2@acme", "c1@acme"}},
		{"CallID", func(f *queryapi.Filter) { f.CallID = "c2@acme" }, []string{"c2@acme"}},
		{"CorrelationID", func(f *queryapi.Filter) { f.CorrelationID = "corr-2" }, []string{"c2@acme"}},
		{"FromExact", func(f *queryapi.Filter) { f.FromUser = "alice" }, []string{"c3@acme"}},
		{"FromPrefix", func(f *queryapi.Filter) { f.FromUser = "+44207*" }, []string{"c2@acme", "c1@acme"}},
		{"FromSuffix", func(f *queryapi.Filter) { f.FromUser = "*4567" }, []string{"c1@acme"}},
		{"ToSuffix", func(f *queryapi.Filter) { f.ToUser = "*4567" }, []string{"c3@acme"}},
		{"ToPrefix", func(f *queryapi.Filter) { f.ToUser = "2*" }, []string{"c2@acme"}},
		{"RURIExact", func(f *queryapi.Filter) { f.RURIUser = "100" }, []string{"c1@acme"}},
		{"LikeWildcardsAreLiteral", func(f *queryapi.Filter) { f.FromUser = "ali_e" }, nil},
		{"IP", func(f *queryapi.Filter) { f.IP = "192.168.5.9" }, []string{"c2@acme"}},
		{"CIDR", func(f *queryapi.Filter) { f.IP = "192.168.0.0/16" }, []string{"c2@acme"}},
		{"IPv6CIDRAsDestination", func(f *queryapi.Filter) { f.IP = "2001:db8::/64" }, []string{"c3@acme"}},
		{"Method", func(f *queryapi.Filter) { f.Method = "invite" }, []string{"c3@acme", "c2@acme", "c1@acme"}},
		{"MethodNone", func(f *queryapi.Filter) { f.Method = "REGISTER" }, nil},
		{"Status", func(f *queryapi.Filter) { f.Status = 486 }, []string{"c2@acme"}},
		{"UserAgent", func(f *queryapi.Filter) { f.UserAgent = "linphone" }, []string{"c2@acme"}},
		{"CaptureID", func(f *queryapi.Filter) { f.CaptureID = &node }, []string{"c3@acme"}},
		{"TimeRange", func(f *queryapi.Filter) { f.From, f.To = t0.Add(30*time.Second), t0.Add(90*time.Second) }, []string{"c2@acme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.f(&f)
			got, next, err := b.store.Search(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(callIDs(got), tc.want) {
				t.Errorf("got %v, want %v", callIDs(got), tc.want)
			}
			if next != "" {
				t.Errorf("next = %q on a single page", next)
			}
		})
	}
}

func TestSearchSummary(t *testing.T) {
	b := setup(t)
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "ok", Start: t0, FromUser: "a", ToUser: "b"},
		querytest.Call{TenantID: b.acme.ID, CallID: "busy", Start: t0.Add(time.Second), Status: 486},
	)
	got, _, err := b.store.Search(context.Background(), queryapi.Filter{From: t0, To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d calls", len(got))
	}
	busy, ok := got[0], got[1]
	if ok.CallID != "ok" || ok.TenantSlug != "acme" || ok.FromUser != "a" || ok.ToUser != "b" || ok.Method != "INVITE" ||
		ok.FinalStatus != 200 || ok.Messages != 7 || !ok.First.Equal(t0) || !ok.Last.Equal(t0.Add(31503*time.Millisecond)) ||
		ok.Duration != 30*time.Second || ok.Outcome != "answered" { // the record's: answer (1.5 s) to BYE (31.5 s)
		t.Errorf("answered call summary: %+v", ok)
	}
	if busy.FinalStatus != 486 || busy.Messages != 4 || busy.Duration != 0 || busy.Outcome != "busy" {
		t.Errorf("busy call summary: %+v", busy)
	}
}

func TestSearchPagination(t *testing.T) {
	b := setup(t)
	var calls []querytest.Call
	var want []string
	for i := range 23 {
		id := fmt.Sprintf("call-%02d", i)
		// Two calls share each start time: the keyset must order ties too.
		calls = append(calls, querytest.Call{TenantID: b.acme.ID, CallID: id, Start: t0.Add(time.Duration(i/2) * time.Second)})
	}
	b.insert(t, calls...)
	for i := 22; i >= 0; i-- {
		// Newest first, ties by call id ascending.
		want = append(want, fmt.Sprintf("call-%02d", i))
	}
	slices.SortStableFunc(want, func(a, b string) int {
		var x, y int
		fmt.Sscanf(a, "call-%d", &x)
		fmt.Sscanf(b, "call-%d", &y)
		if x/2 != y/2 {
			return y/2 - x/2
		}
		return strings.Compare(a, b)
	})
	f := queryapi.Filter{From: t0, To: t0.Add(time.Hour), TenantID: b.acme.ID, Limit: 5}
	var got []string
	for page := 0; ; page++ {
		calls, next, err := b.store.Search(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) > 5 {
			t.Fatalf("page of %d", len(calls))
		}
		got = append(got, callIDs(calls)...)
		if next == "" {
			break
		}
		if page > 10 {
			t.Fatal("pagination does not end")
		}
		f.Cursor = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages:\n got %v\nwant %v", got, want)
	}
}

// A call's retransmitted INVITE and the same INVITE seen by a second capture
// node are one call, not three.
func TestSearchOneLinePerCall(t *testing.T) {
	b := setup(t)
	rows := querytest.Call{TenantID: b.acme.ID, CallID: "dup", Start: t0}.Rows()
	retrans := rows[0]
	retrans.CapturedAt = retrans.CapturedAt.Add(500 * time.Millisecond)
	hop := rows[0]
	hop.CaptureID = 2
	hop.CapturedAt = hop.CapturedAt.Add(time.Millisecond)
	querytest.MustInsert(t, b.db.Owner(), append(rows, retrans, hop)...)
	got, _, err := b.store.Search(context.Background(), queryapi.Filter{From: t0, To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Messages != 9 {
		t.Errorf("got %+v", got)
	}
}

func TestSearchInvalid(t *testing.T) {
	b := setup(t)
	for _, tc := range []struct {
		name, field string
		f           queryapi.Filter
	}{
		{"NoFrom", "from", queryapi.Filter{To: t0}},
		{"NoTo", "to", queryapi.Filter{From: t0}},
		{"Reversed", "to", queryapi.Filter{From: t0, To: t0.Add(-time.Second)}},
		{"TooLong", "to", queryapi.Filter{From: t0, To: t0.Add(32 * 24 * time.Hour)}},
		{"BothWildcards", "from_user", queryapi.Filter{From: t0, To: t0.Add(time.Hour), FromUser: "*12*"}},
		{"InnerWildcard", "to_user", queryapi.Filter{From: t0, To: t0.Add(time.Hour), ToUser: "1*2"}},
		{"BadIP", "ip", queryapi.Filter{From: t0, To: t0.Add(time.Hour), IP: "10.0.0.300"}},
		{"BadCursor", "cursor", queryapi.Filter{From: t0, To: t0.Add(time.Hour), Cursor: "!!"}},
		{"BadLimit", "limit", queryapi.Filter{From: t0, To: t0.Add(time.Hour), Limit: queryapi.MaxLimit + 1}},
		{"BadStatus", "status", queryapi.Filter{From: t0, To: t0.Add(time.Hour), Status: 99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := b.store.Search(context.Background(), tc.f)
			var e *callscope.Error
			if !callscope.Is(err, callscope.Invalid) || !errorsAs(err, &e) || e.Field != tc.field {
				t.Errorf("err = %v, want Invalid on %s", err, tc.field)
			}
		})
	}
}

func TestSearchTenantScoping(t *testing.T) {
	b := setup(t)
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "a1", Start: t0, FromUser: "secret"},
		querytest.Call{TenantID: b.beta.ID, CallID: "b1", Start: t0, FromUser: "other"},
	)
	f := queryapi.Filter{From: t0, To: t0.Add(time.Hour), TenantID: b.beta.ID}
	got, _, err := b.store.Search(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(callIDs(got), []string{"b1"}) {
		t.Errorf("beta sees %v", callIDs(got))
	}
	f.FromUser = "secret"
	if got, _, _ := b.store.Search(context.Background(), f); len(got) != 0 {
		t.Errorf("beta found acme's call: %v", callIDs(got))
	}
	f.TenantID = 0
	got, _, err = b.store.Search(context.Background(), queryapi.Filter{From: t0, To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("admin search across tenants got %v", callIDs(got))
	}
}

// The suffix search must be an index scan on the reversed-string index, not
// a scan of a day of messages.
func TestSearchSuffixUsesIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 20k calls")
	}
	b := setup(t)
	ctx := context.Background()
	var rows []querytest.Row
	for i := range 20000 {
		c := querytest.Call{TenantID: b.acme.ID, CallID: fmt.Sprintf("bulk-%d", i), Start: t0.Add(time.Duration(i) * 100 * time.Millisecond),
			FromUser: fmt.Sprintf("+4420%07d", i), ToUser: fmt.Sprintf("%d", 1000+i%500)}
		if i%3 == 0 {
			c.Status = 486
		}
		rows = append(rows, c.Rows()...)
	}
	if err := querytest.Copy(ctx, b.db.Owner(), rows); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Owner().Exec(ctx, "ANALYZE sip_messages"); err != nil {
		t.Fatal(err)
	}
	var children []string
	r, err := b.db.Owner().Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'sip_messages_from_user_rev'::regclass`)
	if err != nil {
		t.Fatal(err)
	}
	children, err = pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil || len(children) == 0 {
		t.Fatalf("no partition indexes of sip_messages_from_user_rev: %v", err)
	}
	plan := strings.Join(query.MustExplain(t, b.store, queryapi.Filter{From: t0, To: t0.Add(24 * time.Hour), TenantID: b.acme.ID, FromUser: "*0001234"}), "\n")
	found := false
	for _, c := range children {
		found = found || strings.Contains(plan, c)
	}
	if !found {
		t.Errorf("suffix search does not use sip_messages_from_user_rev (%v):\n%s", children, plan)
	}
	got, _, err := b.store.Search(ctx, queryapi.Filter{From: t0, To: t0.Add(24 * time.Hour), TenantID: b.acme.ID, FromUser: "*0001234"})
	if err != nil || !slices.Equal(callIDs(got), []string{"bulk-1234"}) {
		t.Errorf("got %v, %v", callIDs(got), err)
	}
}
