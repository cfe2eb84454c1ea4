package calls_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
	"github.com/callscope/callscope/web"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// bundle is a database with two tenants, their API keys, stored calls and
// the calls API over them.
type bundle struct {
	db            *db.DB
	acme, globex  tenant.Tenant
	acmeKey, gKey string
	store         *calls.Store
	srv           *httptest.Server
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	d := dbtest.New(t)
	ts := tenantdb.NewStore(d)
	b := &bundle{db: d, store: calls.NewStore(d, func() time.Time { return t0.Add(24 * time.Hour) })}
	var err error
	if b.acme, err = ts.Create(ctx, tenant.New{Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	if b.globex, err = ts.Create(ctx, tenant.New{Slug: "globex"}); err != nil {
		t.Fatal(err)
	}
	keys := authdb.NewAPIKeys(d)
	if b.acmeKey, _, err = keys.CreateAPIKey(ctx, b.acme.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if b.gKey, _, err = keys.CreateAPIKey(ctx, b.globex.ID, "test"); err != nil {
		t.Fatal(err)
	}
	e := web.New(slog.New(slog.DiscardHandler), "query")
	calls.NewAPI(b.store, func(ctx context.Context, key string) (int64, error) {
		k, err := keys.AuthenticateAPIKey(ctx, key)
		return k.TenantID, err
	}).Routes(e.Group(""))
	b.srv = httptest.NewServer(e)
	t.Cleanup(b.srv.Close)
	return b
}

// store writes calls' messages and rebuilds their records, as an upgrade
// from stored messages does.
func (b *bundle) save(t *testing.T, cs ...querytest.Call) {
	t.Helper()
	var rows []querytest.Row
	first, last := cs[0].Start, cs[0].Start
	for _, c := range cs {
		rows = append(rows, c.Rows()...)
		first, last = minT(first, c.Start), maxT(last, c.Start)
	}
	querytest.MustInsert(t, b.db.Owner(), rows...)
	if _, err := calls.Rebuild(context.Background(), b.db, 0, first, last.Add(time.Minute), nil); err != nil {
		t.Fatal(err)
	}
}

func minT(a, c time.Time) time.Time {
	if c.Before(a) {
		return c
	}
	return a
}

func maxT(a, c time.Time) time.Time {
	if c.After(a) {
		return c
	}
	return a
}

// get calls the API with key and decodes a 200 into v; it returns the
// status and the error body of any other answer.
func (b *bundle) get(t *testing.T, key, path string, v any) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("GET %s: %d, body not JSON: %v", path, resp.StatusCode, err)
	}
	if resp.StatusCode == 200 && v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, string(raw)
}

func window(from, to time.Time) string {
	return "from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339))
}

func TestListAndFilters(t *testing.T) {
	b := setup(t)
	var cs []querytest.Call
	for i := range 12 {
		c := querytest.Call{TenantID: b.acme.ID, CallID: fmt.Sprintf("c-%02d@h", i), Start: t0.Add(time.Duration(i) * time.Minute),
			FromUser: fmt.Sprintf("+44207%04d", i), ToUser: fmt.Sprintf("+1555%04d", i)}
		switch i % 4 {
		case 1:
			c.Status = 486
		case 2:
			c.Status = 404
		}
		cs = append(cs, c)
	}
	b.save(t, cs...)
	day := window(t0, t0.Add(24*time.Hour))

	var all calls.ListResponse
	if code, body := b.get(t, b.acmeKey, "/api/v1/calls?"+day, &all); code != 200 {
		t.Fatalf("list: %d %s", code, body)
	}
	if len(all.Calls) != 12 || all.Calls[0].CallID != "c-11@h" || all.Calls[11].CallID != "c-00@h" || all.NextCursor != nil {
		t.Fatalf("list: %d calls, first %s, next %v", len(all.Calls), all.Calls[0].CallID, all.NextCursor)
	}
	answered := all.Calls[11]
	if answered.Outcome != callrec.OutcomeAnswered || *answered.FinalStatus != 200 || answered.PDDMs == nil ||
		*answered.DurationMs != 30000 || answered.AnsweredAt == nil || *answered.FromUser != "+442070000" || answered.Messages != 7 {
		raw, _ := json.Marshal(answered)
		t.Errorf("answered call record: %s", raw)
	}

	filters := []struct {
		name, query string
		want        []string
	}{
		{"CallID", "call_id=c-03@h", []string{"c-03@h"}},
		{"FromUserExact", "from_user=%2B442070005", []string{"c-05@h"}},
		{"FromUserPrefix", "from_user=%2B44207000*", []string{"c-09@h", "c-08@h", "c-07@h", "c-06@h", "c-05@h", "c-04@h", "c-03@h", "c-02@h", "c-01@h", "c-00@h"}},
		{"ToUserSuffix", "to_user=*0011", []string{"c-11@h"}},
		{"RURIUserExact", "ruri_user=%2B15550002", []string{"c-02@h"}},
		{"Status", "status=486", []string{"c-09@h", "c-05@h", "c-01@h"}},
		{"StatusClass", "status=4xx", []string{"c-10@h", "c-09@h", "c-06@h", "c-05@h", "c-02@h", "c-01@h"}},
		{"StatusAndUser", "status=404&from_user=*0006", []string{"c-06@h"}},
		{"Kind", "kind=invite&limit=2", []string{"c-11@h", "c-10@h"}},
		{"KindNone", "kind=register", nil},
	}
	// User filters join few candidates to their records, and check many
	// record by record: both ways give the same answers.
	for _, way := range []struct {
		name string
		max  int64
	}{{"FewCandidates", 5000}, {"ManyCandidates", 0}} {
		t.Run(way.name, func(t *testing.T) {
			defer calls.SetMaxCandidates(way.max)()
			for _, tc := range filters {
				t.Run(tc.name, func(t *testing.T) {
					var got calls.ListResponse
					if code, body := b.get(t, b.acmeKey, "/api/v1/calls?"+day+"&"+tc.query, &got); code != 200 {
						t.Fatalf("%d %s", code, body)
					}
					var ids []string
					for _, r := range got.Calls {
						ids = append(ids, r.CallID)
					}
					if strings.Join(ids, " ") != strings.Join(tc.want, " ") {
						t.Errorf("calls %v, want %v", ids, tc.want)
					}
				})
			}
		})
	}

	t.Run("Pages", func(t *testing.T) {
		var seen []string
		path := "/api/v1/calls?" + day + "&limit=5"
		for range 4 {
			var page calls.ListResponse
			if code, body := b.get(t, b.acmeKey, path, &page); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			for _, r := range page.Calls {
				seen = append(seen, r.CallID)
			}
			if page.NextCursor == nil {
				break
			}
			path = "/api/v1/calls?" + day + "&limit=5&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		if len(seen) != 12 || seen[0] != "c-11@h" || seen[11] != "c-00@h" {
			t.Errorf("pages gave %v", seen)
		}
	})
}

func TestGet(t *testing.T) {
	b := setup(t)
	b.save(t, querytest.Call{TenantID: b.acme.ID, CallID: "one a%40b/c@h", Start: t0, Status: 486},
		querytest.Call{TenantID: b.acme.ID, CallID: "one a%40b/c@h" + calls.B2BSuffix, Start: t0.Add(time.Second)})
	path := "/api/v1/calls/" + url.PathEscape("one a%40b/c@h") + "?" + window(t0.Add(-time.Hour), t0.Add(time.Hour))
	var r callrec.Record
	if code, body := b.get(t, b.acmeKey, path, &r); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if r.CallID != "one a%40b/c@h" || r.Outcome != callrec.OutcomeBusy || len(r.Legs) != 1 || r.Legs[0] != "one a%40b/c@h"+calls.B2BSuffix {
		t.Errorf("record %s: %s, legs %v", r.CallID, r.Outcome, r.Legs)
	}
	// Outside the window: the same 404 as a call that never existed.
	code, outside := b.get(t, b.acmeKey, "/api/v1/calls/"+url.PathEscape("one a%40b/c@h")+"?"+window(t0.Add(time.Hour), t0.Add(2*time.Hour)), nil)
	_, missing := b.get(t, b.acmeKey, "/api/v1/calls/nope?"+window(t0.Add(-time.Hour), t0.Add(time.Hour)), nil)
	if code != 404 || stripRequestID(outside) != stripRequestID(missing) {
		t.Errorf("outside the window: %d %s; missing: %s", code, outside, missing)
	}
}

// TestOtherTenantSeesNothing: globex's key lists none of acme's calls and
// gets acme's call as the 404 of a call that does not exist.
func TestOtherTenantSeesNothing(t *testing.T) {
	b := setup(t)
	b.save(t, querytest.Call{TenantID: b.acme.ID, CallID: "secret@acme", Start: t0, FromUser: "ceo"})
	day := window(t0.Add(-time.Hour), t0.Add(time.Hour))
	var list calls.ListResponse
	for _, q := range []string{"", "&call_id=secret@acme", "&from_user=ceo", "&status=200"} {
		if code, body := b.get(t, b.gKey, "/api/v1/calls?"+day+q, &list); code != 200 || len(list.Calls) != 0 {
			t.Errorf("globex lists %q: %d %s", q, code, body)
		}
	}
	code, theirs := b.get(t, b.gKey, "/api/v1/calls/secret@acme?"+day, nil)
	_, none := b.get(t, b.gKey, "/api/v1/calls/never@acme?"+day, nil)
	if code != 404 || stripRequestID(theirs) != stripRequestID(none) {
		t.Errorf("globex reads acme's call: %d %s (a missing call: %s)", code, theirs, none)
	}
	if code, _ := b.get(t, b.acmeKey, "/api/v1/calls/secret@acme?"+day, nil); code != 200 {
		t.Errorf("acme reads its own call: %d", code)
	}
}

func stripRequestID(body string) string {
	var v struct {
		Error struct{ Code, Message, Field string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &v)
	return fmt.Sprintf("%+v", v.Error)
}

func TestBadInput(t *testing.T) {
	b := setup(t)
	day := window(t0, t0.Add(time.Hour))
	for _, tc := range []struct {
		name, key, path string
		code            int
		field           string
	}{
		{"NoKey", "", "/api/v1/calls?" + day, 401, ""},
		{"WrongKey", "cs_notakeyatall000000000000000000000000000000", "/api/v1/calls?" + day, 401, ""},
		{"FromAfterTo", "acme", "/api/v1/calls?" + window(t0.Add(time.Hour), t0), 400, "from"},
		{"RangeTooLong", "acme", "/api/v1/calls?" + window(t0, t0.Add(32*24*time.Hour)), 400, "to"},
		{"NoFrom", "acme", "/api/v1/calls?to=" + url.QueryEscape(t0.Format(time.RFC3339)), 400, "from"},
		{"BadTime", "acme", "/api/v1/calls?from=yesterday&to=today", 400, "from"},
		{"UnknownStatus", "acme", "/api/v1/calls?" + day + "&status=4x", 400, "status"},
		{"StatusOutOfRange", "acme", "/api/v1/calls?" + day + "&status=700", 400, "status"},
		{"BadCursor", "acme", "/api/v1/calls?" + day + "&cursor=bm9wZQ", 400, "cursor"},
		{"BadKind", "acme", "/api/v1/calls?" + day + "&kind=fax", 400, "kind"},
		{"BadLimit", "acme", "/api/v1/calls?" + day + "&limit=1001", 400, "limit"},
		{"BadUserPattern", "acme", "/api/v1/calls?" + day + "&from_user=*12*", 400, "from_user"},
		{"UnknownParameter", "acme", "/api/v1/calls?" + day + "&stauts=486", 400, "stauts"},
		{"GetFromAfterTo", "acme", "/api/v1/calls/x?" + window(t0.Add(time.Hour), t0), 400, "from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == "acme" {
				key = b.acmeKey
			}
			code, body := b.get(t, key, tc.path, nil)
			var v struct {
				Error struct{ Field string } `json:"error"`
			}
			_ = json.Unmarshal([]byte(body), &v)
			if code != tc.code || v.Error.Field != tc.field {
				t.Errorf("%d %s, want %d naming %q", code, body, tc.code, tc.field)
			}
		})
	}
}

// TestRebuildIsIdempotent: rebuilding a range twice, or a wider range,
// writes the same records.
func TestRebuildIsIdempotent(t *testing.T) {
	b := setup(t)
	b.save(t, querytest.Call{TenantID: b.acme.ID, CallID: "r1@h", Start: t0},
		querytest.Call{TenantID: b.globex.ID, CallID: "r1@h", Start: t0, Status: 503})
	state := func(tid int64) string {
		var s []byte
		if err := b.db.Owner().QueryRow(context.Background(), `SELECT state FROM call_records WHERE tenant_id = $1 AND call_id = 'r1@h'`, tid).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return string(s)
	}
	before := state(b.acme.ID)
	rep, err := calls.Rebuild(context.Background(), b.db, b.acme.ID, t0.Add(-2*time.Hour), t0.Add(2*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls != 1 || rep.Messages != 7 || state(b.acme.ID) != before || state(b.acme.ID) == state(b.globex.ID) {
		t.Errorf("rebuild: %+v", rep)
	}
}

// TestRebuildWholeCall: rebuilding only the day after midnight recomputes
// a call that started before it from all of its messages, and folds in its
// media reports; records are replaced, not added to.
func TestRebuildWholeCall(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	midnight := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	c := querytest.Call{TenantID: b.acme.ID, CallID: "night@h", Start: midnight.Add(-10 * time.Second)} // BYE 21.5 s after midnight
	if err := querytest.CopyMessages(ctx, b.db.Owner(), c.Rows()); err != nil {
		t.Fatal(err)
	}
	querytest.MustInsertEvents(t, b.db.Owner(), querytest.Event{TenantID: b.acme.ID, CapturedAt: midnight.Add(5 * time.Second),
		PayloadType: 35, CallID: "night@h", CorrelationID: "night@h", Src: netip.MustParseAddrPort("10.0.0.1:4000"),
		Dst: netip.MustParseAddrPort("10.0.0.2:4000"), Payload: []byte(`{"MOS":3.7}`)})
	for range 2 {
		if _, err := calls.Rebuild(ctx, b.db, b.acme.ID, midnight, midnight.Add(24*time.Hour), nil); err != nil {
			t.Fatal(err)
		}
	}
	r, err := b.store.Get(ctx, b.acme.ID, "night@h", midnight.Add(-time.Hour), midnight.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !r.StartedAt.Equal(c.Start) || r.Messages != 7 || r.DurationMs == nil || *r.DurationMs != 30000 ||
		r.QoS == nil || r.QoS.Reports != 1 || *r.QoS.WorstMOS != 3.7 {
		raw, _ := json.Marshal(r)
		t.Errorf("record across midnight rebuilt from the second day: %s", raw)
	}
}
