package calls_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
)

// findSetup stores, for acme: ten calls a minute apart (0-9), every third
// busy (486), call 4 cancelled (487), call 7 from "Carol" at 10.9.0.7 on
// node 7 with user agent "Yealink SIP-T46U"; and for globex two calls,
// one busy, that no acme filter may see.
func findSetup(t *testing.T) *bundle {
	t.Helper()
	b := setup(t)
	var cs []querytest.Call
	for i := range 10 {
		c := querytest.Call{TenantID: b.acme.ID, CallID: fmt.Sprintf("acme-%d@h", i), Start: t0.Add(time.Duration(i) * time.Minute),
			ToUser: fmt.Sprintf("+4420%04d", i), CaptureID: 1}
		switch {
		case i == 4:
			c.Status = 487
		case i%3 == 0:
			c.Status = 486
		}
		if i == 7 {
			c.FromUser, c.Caller, c.CaptureID, c.UserAgent = "Carol", netip.MustParseAddrPort("10.9.0.7:5070"), 7, "Yealink SIP-T46U"
		}
		cs = append(cs, c)
	}
	cs = append(cs,
		querytest.Call{TenantID: b.globex.ID, CallID: "globex-1@h", Start: t0.Add(30 * time.Second), Status: 486, ToUser: "+44200003"},
		querytest.Call{TenantID: b.globex.ID, CallID: "globex-2@h", Start: t0.Add(90 * time.Second), FromUser: "carol"})
	b.save(t, cs...)
	return b
}

func ids(p queryapi.CallPage) []string {
	out := []string{}
	for _, c := range p.Calls {
		out = append(out, c.CallID)
	}
	return out
}

func TestFind(t *testing.T) {
	b := findSetup(t)
	ctx := context.Background()
	hour := func(f queryapi.CallFilter) queryapi.CallFilter {
		f.From, f.To = t0, t0.Add(time.Hour)
		return f
	}
	ms := func(v int64) *int64 { return &v }
	acme := b.acme.ID
	for _, tc := range []struct {
		name string
		f    queryapi.CallFilter
		want []string
	}{
		{"All", hour(queryapi.CallFilter{TenantID: acme}), []string{"acme-9@h", "acme-8@h", "acme-7@h", "acme-6@h", "acme-5@h", "acme-4@h", "acme-3@h", "acme-2@h", "acme-1@h", "acme-0@h"}},
		{"EveryTenant", hour(queryapi.CallFilter{Limit: 3}), []string{"acme-9@h", "acme-8@h", "acme-7@h"}},
		{"Class4xxNotCancelled", hour(queryapi.CallFilter{TenantID: acme, Outcomes: []string{"4xx"}}), []string{"acme-9@h", "acme-6@h", "acme-3@h", "acme-0@h"}},
		{"Cancelled", hour(queryapi.CallFilter{TenantID: acme, Outcomes: []string{"cancelled"}}), []string{"acme-4@h"}},
		{"Status487", hour(queryapi.CallFilter{TenantID: acme, Status: 487}), []string{"acme-4@h"}},
		{"ClassesOr", hour(queryapi.CallFilter{TenantID: acme, Outcomes: []string{"cancelled", "noanswer"}, Limit: 5}), []string{"acme-4@h"}},
		{"Answered", hour(queryapi.CallFilter{TenantID: acme, Outcomes: []string{"2xx"}}), []string{"acme-8@h", "acme-7@h", "acme-5@h", "acme-2@h", "acme-1@h"}},
		{"DurationMin", hour(queryapi.CallFilter{TenantID: acme, DurationMin: ms(29000)}), []string{"acme-8@h", "acme-7@h", "acme-5@h", "acme-2@h", "acme-1@h"}},
		{"PDDMin", hour(queryapi.CallFilter{TenantID: acme, PDDMin: ms(500)}), []string{"acme-9@h", "acme-6@h", "acme-4@h", "acme-3@h", "acme-0@h"}},
		{"PDDMax", hour(queryapi.CallFilter{TenantID: acme, PDDMax: ms(100), DurationMax: ms(60000), Outcomes: []string{"2xx"}, Limit: 1}), []string{"acme-8@h"}},
		{"CallIDPrefix", hour(queryapi.CallFilter{TenantID: acme, CallID: "acme-7*"}), []string{"acme-7@h"}},
		{"CallIDExact", hour(queryapi.CallFilter{CallID: "globex-1@h"}), []string{"globex-1@h"}},
		{"FromUserCaseInsensitive", hour(queryapi.CallFilter{TenantID: acme, FromUser: "CAROL"}), []string{"acme-7@h"}},
		{"FromUserEveryTenant", hour(queryapi.CallFilter{FromUser: "car*"}), []string{"acme-7@h", "globex-2@h"}},
		{"ToUserSuffix", hour(queryapi.CallFilter{TenantID: acme, ToUser: "*0003"}), []string{"acme-3@h"}},
		{"RURIPrefix", hour(queryapi.CallFilter{TenantID: acme, RURIUser: "+44200008*"}), []string{"acme-8@h"}},
		{"IP", hour(queryapi.CallFilter{TenantID: acme, IP: "10.9.0.7"}), []string{"acme-7@h"}},
		{"CIDR", hour(queryapi.CallFilter{TenantID: acme, IP: "10.9.0.0/16", Port: 5070}), []string{"acme-7@h"}},
		{"PortNone", hour(queryapi.CallFilter{TenantID: acme, Port: 5071}), []string{}},
		{"UAPart", hour(queryapi.CallFilter{TenantID: acme, UserAgent: "*t46*"}), []string{"acme-7@h"}},
		{"UAExactCaseInsensitive", hour(queryapi.CallFilter{TenantID: acme, UserAgent: "yealink sip-t46u"}), []string{"acme-7@h"}},
		{"Node", hour(queryapi.CallFilter{TenantID: acme, Node: "7"}), []string{"acme-7@h"}},
		{"KindNone", hour(queryapi.CallFilter{TenantID: acme, Kind: "register"}), []string{}},
		{"SortPDDAsc", hour(queryapi.CallFilter{TenantID: acme, Sort: queryapi.SortPDD, Asc: true, Limit: 2}), []string{"acme-1@h", "acme-2@h"}},
		{"SortDuration", hour(queryapi.CallFilter{TenantID: acme, Sort: queryapi.SortDuration, Limit: 2}), []string{"acme-8@h", "acme-7@h"}},
		{"SortDurationEveryTenant", hour(queryapi.CallFilter{Sort: queryapi.SortDuration, Limit: 7}), []string{"acme-8@h", "acme-7@h", "acme-5@h", "acme-2@h", "globex-2@h", "acme-1@h", "acme-9@h"}},
		{"MOSNone", hour(queryapi.CallFilter{TenantID: acme, MOSBelow: ptr(4.0)}), []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := b.store.Find(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			limit := tc.f.Limit
			if got := ids(p); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if limit == 0 && p.Total != len(tc.want) {
				t.Errorf("total %d, want %d", p.Total, len(tc.want))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestFindOtherTenant: a tenant's filter never lists or counts another
// tenant's call, whatever else it says.
func TestFindOtherTenant(t *testing.T) {
	b := findSetup(t)
	ctx := context.Background()
	for _, f := range []queryapi.CallFilter{
		{TenantID: b.acme.ID, CallID: "globex-1@h"},
		{TenantID: b.acme.ID, CallID: "globex*"},
		{TenantID: b.acme.ID, ToUser: "BOB", Outcomes: []string{"2xx"}},
		{TenantID: b.globex.ID, CallID: "acme*"},
		{TenantID: b.globex.ID, IP: "10.9.0.7"},
	} {
		f.From, f.To = t0, t0.Add(time.Hour)
		p, err := b.store.Find(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Calls) != 0 || p.Total != 0 {
			t.Errorf("%+v: got %q (total %d), want none", f, ids(p), p.Total)
		}
		st, err := b.store.Stats(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total.Calls != 0 || len(st.Codes) != 0 || len(st.UserAgents) != 0 {
			t.Errorf("%+v: stats count %d calls, want none", f, st.Total.Calls)
		}
	}
	g, err := b.store.Find(ctx, queryapi.CallFilter{TenantID: b.globex.ID, From: t0, To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(g); !slices.Equal(got, []string{"globex-2@h", "globex-1@h"}) || g.Total != 2 {
		t.Errorf("globex: %q total %d", got, g.Total)
	}
	for _, c := range g.Calls {
		if c.TenantSlug != "globex" {
			t.Errorf("%s: tenant %q", c.CallID, c.TenantSlug)
		}
	}
}

// TestFindPages walks the list on and back by its cursors.
func TestFindPages(t *testing.T) {
	b := findSetup(t)
	ctx := context.Background()
	f := queryapi.CallFilter{TenantID: b.acme.ID, From: t0, To: t0.Add(time.Hour), Limit: 4}
	var seen [][]string
	var pages []queryapi.CallPage
	for {
		p, err := b.store.Find(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		seen, pages = append(seen, ids(p)), append(pages, p)
		if p.Total != 10 {
			t.Errorf("total %d on page %d", p.Total, len(seen))
		}
		if p.Next == "" {
			break
		}
		f.After, f.Before = p.Next, ""
	}
	want := [][]string{{"acme-9@h", "acme-8@h", "acme-7@h", "acme-6@h"}, {"acme-5@h", "acme-4@h", "acme-3@h", "acme-2@h"}, {"acme-1@h", "acme-0@h"}}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("pages %q, want %q", seen, want)
	}
	if pages[0].Prev != "" {
		t.Error("the first page has a previous page")
	}
	// Back from the last page: the middle one, then the first.
	f.After, f.Before = "", pages[2].Prev
	p, err := b.store.Find(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(p), want[1]) || p.Next == "" || p.Prev == "" {
		t.Fatalf("back: %q next %q prev %q", ids(p), p.Next, p.Prev)
	}
	f.Before = p.Prev
	if p, err = b.store.Find(ctx, f); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(p), want[0]) || p.Prev != "" {
		t.Fatalf("back to the first: %q prev %q", ids(p), p.Prev)
	}
	// A cursor of another order is refused by name.
	f.Before, f.Sort = "", queryapi.SortPDD
	f.After = pages[0].Next
	if _, err := b.store.Find(ctx, f); !callscope.Is(err, callscope.Invalid) {
		t.Errorf("time cursor on a PDD list: %v", err)
	}
}

// TestStats: each figure is the count the list gives for the same filter
// narrowed to it, and the figures are right for the calls stored.
func TestStats(t *testing.T) {
	b := findSetup(t)
	ctx := context.Background()
	f := queryapi.CallFilter{TenantID: b.acme.ID, From: t0, To: t0.Add(time.Hour)}
	st, err := b.store.Stats(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bucket != time.Minute || len(st.Buckets) != 60 {
		t.Fatalf("bucket %v × %d", st.Bucket, len(st.Buckets))
	}
	tot := st.Total
	if tot.Calls != 10 || tot.Answered != 5 || tot.ByClass["4xx"] != 4 || tot.ByClass["cancelled"] != 1 || tot.Completed != 10 {
		t.Errorf("total %+v", tot)
	}
	if tot.ACDMs == nil || *tot.ACDMs != 30000 {
		t.Errorf("ACD %v", tot.ACDMs)
	}
	if tot.PDDP50Ms == nil || *tot.PDDP50Ms != 40 || *tot.PDDP95Ms != 900 {
		t.Errorf("PDD p50 %v p95 %v", tot.PDDP50Ms, tot.PDDP95Ms)
	}
	if b4 := st.Buckets[4]; b4.Calls != 1 || b4.ByClass["cancelled"] != 1 {
		t.Errorf("bucket 4: %+v", b4)
	}
	wantCodes := []queryapi.CodeCount{{Status: 200, Count: 5}, {Status: 486, Count: 4}, {Status: 487, Count: 1}}
	if fmt.Sprint(st.Codes) != fmt.Sprint(wantCodes) {
		t.Errorf("codes %v", st.Codes)
	}
	if len(st.FailingDestinations) != 4 || st.FailingDestinations[0].Count != 1 {
		t.Errorf("failing destinations %v", st.FailingDestinations)
	}
	if fmt.Sprint(st.UserAgents) != fmt.Sprint([]queryapi.TopEntry{{Value: "callscope-test-uas", Count: 10}, {Value: "callscope-test/1.0", Count: 9}, {Value: "yealink sip-t46u", Count: 1}}) {
		t.Errorf("user agents %v", st.UserAgents)
	}
	if fmt.Sprint(st.Nodes) != fmt.Sprint([]queryapi.TopEntry{{Value: "1", Count: 9}, {Value: "7", Count: 1}}) {
		t.Errorf("nodes %v", st.Nodes)
	}
	count := func(g queryapi.CallFilter) int64 {
		t.Helper()
		p, err := b.store.Find(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		return int64(p.Total)
	}
	for _, cls := range queryapi.Classes {
		g := f
		g.Outcomes = []string{cls}
		if n := count(g); n != tot.ByClass[cls] {
			t.Errorf("class %s: list %d, stats %d", cls, n, tot.ByClass[cls])
		}
	}
	for _, c := range st.Codes {
		g := f
		g.Status = c.Status
		if n := count(g); n != c.Count {
			t.Errorf("status %d: list %d, stats %d", c.Status, n, c.Count)
		}
	}
	for _, d := range st.FailingDestinations {
		g := f
		g.Outcomes, g.RURIUser = []string{"4xx", "5xx", "6xx"}, d.Value
		if n := count(g); n != d.Count {
			t.Errorf("destination %s: list %d, stats %d", d.Value, n, d.Count)
		}
	}
	for _, u := range st.UserAgents {
		g := f
		g.UserAgent = u.Value
		if n := count(g); n != u.Count {
			t.Errorf("user agent %s: list %d, stats %d", u.Value, n, u.Count)
		}
	}
	for _, nd := range st.Nodes {
		g := f
		g.Node = nd.Value
		if n := count(g); n != nd.Count {
			t.Errorf("node %s: list %d, stats %d", nd.Value, n, nd.Count)
		}
	}
	g := f
	g.From, g.To = st.Buckets[3].Start, st.Buckets[3].Start.Add(st.Bucket)
	g.Outcomes = []string{"4xx"}
	if n := count(g); n != st.Buckets[3].ByClass["4xx"] || n != 1 {
		t.Errorf("bucket 3, 4xx: list %d, stats %d", n, st.Buckets[3].ByClass["4xx"])
	}
	all, err := b.store.Stats(ctx, queryapi.CallFilter{From: t0, To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if all.Total.Calls != 12 || all.Total.ByClass["4xx"] != 5 {
		t.Errorf("every tenant: %+v", all.Total)
	}
}

func TestCallFilterProblems(t *testing.T) {
	q := map[string][]string{"from": {"yesterday"}, "to": {"2026-03-01T10:00:00Z"}, "status": {"999"}, "dur_min": {"-1"},
		"pdd_min": {"500"}, "pdd_max": {"100"}, "from_user": {"*a*"}, "ip": {"300.1.1.1"}, "port": {"70000"},
		"ua": {"**"}, "kind": {"fax"}, "mos": {"7"}, "sort": {"size"}, "outcome": {"7xx"}, "call_id": {"a*b"}}
	_, bad := queryapi.ParseCallFilter(q)
	for _, field := range []string{"from", "status", "duration", "pdd", "from_user", "ip", "port", "ua", "kind", "mos", "sort", "outcome", "call_id"} {
		if bad[field] == "" {
			t.Errorf("%s: no problem reported (%v)", field, bad)
		}
	}
}

// TestRefreshColumns: records whose 0011 columns are empty (stored before
// them) get them back from their states.
func TestRefreshColumns(t *testing.T) {
	b := findSetup(t)
	ctx := context.Background()
	if _, err := b.db.Owner().Exec(ctx, `UPDATE call_records SET cancelled = false, pdd_ms = NULL, duration_ms = NULL,
		from_user = NULL, to_user = NULL, ruri_user = NULL, src_ip = NULL, src_port = NULL, dst_ip = NULL, dst_port = NULL,
		user_agents = NULL, nodes = NULL, worst_mos = NULL`); err != nil {
		t.Fatal(err)
	}
	f := queryapi.CallFilter{TenantID: b.acme.ID, From: t0, To: t0.Add(time.Hour), FromUser: "carol"}
	if p, err := b.store.Find(ctx, f); err != nil || p.Total != 0 {
		t.Fatalf("before: %v, %v", p.Total, err)
	}
	n, err := calls.RefreshColumns(ctx, b.db, nil)
	if err != nil || n != 12 {
		t.Fatalf("refreshed %d, %v", n, err)
	}
	p, err := b.store.Find(ctx, f)
	if err != nil || !slices.Equal(ids(p), []string{"acme-7@h"}) {
		t.Fatalf("after: %q, %v", ids(p), err)
	}
	f = queryapi.CallFilter{TenantID: b.acme.ID, From: t0, To: t0.Add(time.Hour), Outcomes: []string{"cancelled"}}
	if p, err := b.store.Find(ctx, f); err != nil || !slices.Equal(ids(p), []string{"acme-4@h"}) {
		t.Fatalf("cancelled after: %q, %v", ids(p), err)
	}
}
