package console_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/callscope/callscope/query/querytest"
)

// listData stores, for acme, a call answered 2 h ago and one busy (486) 30
// minutes ago whose From user is "=cmd|' /C calc'!A0" (a formula); for
// beta, a busy call 20 minutes ago.
func listData(t *testing.T, b *bundle) time.Time {
	t.Helper()
	now := b.clock.Now().Truncate(time.Second)
	b.insertCall(t, b.acme, "call-a@acme", now.Add(-2*time.Hour), 200)
	querytest.MustInsert(t, b.db.Owner(), querytest.Call{TenantID: b.acme.ID, CallID: "call-f@acme", Start: now.Add(-30 * time.Minute),
		Status: 486, CaptureID: 7, FromUser: "=cmd|' /C calc'!A0", ToUser: "bob"}.Rows()...)
	b.insertCall(t, b.beta, "call-b@beta", now.Add(-20*time.Minute), 486)
	return now
}

func rowIDs(p page) []string {
	var ids []string
	p.testid("result").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-call-id")
		ids = append(ids, id)
	})
	return ids
}

func TestListPage(t *testing.T) {
	b := setup(t)
	now := listData(t, b)
	br := b.MustAdminBrowser(t)

	t.Run("DefaultsToLastHourAcrossTenants", func(t *testing.T) {
		p := br.get("/calls")
		mustStatus(t, p, http.StatusOK)
		if got := rowIDs(p); !slices.Equal(got, []string{"call-b@beta", "call-f@acme"}) {
			t.Fatalf("rows %q", got)
		}
		if got := p.testid("total").Text(); got != "2 calls" {
			t.Errorf("total %q", got)
		}
		first := p.testid("result").First()
		if got := first.Find(`[data-testid="result-tenant"]`).Text(); got != "beta" {
			t.Errorf("tenant %q", got)
		}
		if got := first.Find(`[data-testid="result-status"]`).Text(); got != "486" {
			t.Errorf("status %q", got)
		}
		if got := first.Find(`[data-testid="result-src"]`).Text(); got != "10.0.0.1:5060" {
			t.Errorf("source %q", got)
		}
		if got := first.Find(`[data-testid="result-pdd"]`).Text(); got != "900 ms" {
			t.Errorf("PDD %q", got)
		}
		// 24-hour UTC, like the results.
		if r := p.testid("range").Text(); !strings.HasSuffix(r, " UTC") || strings.Contains(r, "M ") {
			t.Errorf("range %q", r)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		q := url.Values{"range": {"24h"}, "tenant": {strconv.FormatInt(b.acme.ID, 10)}, "outcome": {"2xx"}, "dur_min": {"29"}, "to_user": {"BOB"}}
		p := br.get("/calls?" + q.Encode())
		mustStatus(t, p, http.StatusOK)
		if got := rowIDs(p); !slices.Equal(got, []string{"call-a@acme"}) {
			t.Fatalf("rows %q", got)
		}
		if v, _ := p.doc.Find("#to_user").Attr("value"); v != "BOB" {
			t.Errorf("to_user kept as %q", v)
		}
		if _, ok := p.testid("outcome-2xx").Attr("checked"); !ok {
			t.Error("outcome 2xx not kept checked")
		}
		q.Set("outcome", "4xx")
		if p := br.get("/calls?" + q.Encode()); p.testid("no-results").Length() != 1 {
			t.Error("no empty-state message")
		}
		custom := url.Values{"range": {"custom"}, "from": {now.Add(-3 * time.Hour).Format("2006-01-02 15:04")},
			"to": {now.Add(-time.Hour).Format("2006-01-02 15:04")}}
		if got := rowIDs(br.get("/calls?" + custom.Encode())); !slices.Equal(got, []string{"call-a@acme"}) {
			t.Errorf("custom range: %q", got)
		}
	})
	t.Run("OneTenantNeverShowsAnother", func(t *testing.T) {
		q := url.Values{"range": {"24h"}, "tenant": {strconv.FormatInt(b.acme.ID, 10)}, "outcome": {"4xx"}}
		p := br.get("/calls?" + q.Encode())
		if got := rowIDs(p); !slices.Equal(got, []string{"call-f@acme"}) || p.testid("total").Text() != "1 call" {
			t.Errorf("acme's 4xx: %q, %q", got, p.testid("total").Text())
		}
	})
	t.Run("EveryFieldErrorAtOnce", func(t *testing.T) {
		q := url.Values{"range": {"custom"}, "from": {"yesterday"}, "to": {now.Format("2006-01-02 15:04")}, "status": {"999"},
			"dur_min": {"ten"}, "pdd_min": {"900"}, "pdd_max": {"100"}, "from_user": {"*a*"}, "ip": {"10.0.0.0/33"},
			"port": {"0"}, "mos": {"9"}, "call_id": {"abc"}}
		p := br.get("/calls?" + q.Encode())
		mustStatus(t, p, http.StatusBadRequest)
		for _, id := range []string{"from", "status", "duration", "pdd", "from_user", "ip", "port", "mos"} {
			if p.testid("error-"+id).Length() != 1 {
				t.Errorf("no error next to %s", id)
			}
		}
		for id, want := range map[string]string{"from": "yesterday", "call_id": "abc", "status": "999", "ip": "10.0.0.0/33", "dur_min": "ten"} {
			if v, _ := p.doc.Find("#" + id).Attr("value"); v != want {
				t.Errorf("%s = %q, want %q", id, v, want)
			}
		}
	})
	t.Run("PagesAndColumns", func(t *testing.T) {
		q := url.Values{"range": {"24h"}, "limit": {"1"}, "cols": {"time", "callid", "pdd"}}
		p := br.get("/calls?" + q.Encode())
		if p.testid("result-tenant").Length() != 0 || p.testid("result-pdd").Length() != 1 {
			t.Error("the column chooser is not obeyed")
		}
		if p.testid("total").Text() != "3 calls" || p.testid("prev-page").Length() != 0 {
			t.Errorf("first page: %q", p.testid("total").Text())
		}
		next, _ := p.testid("next-page").Attr("href")
		p2 := br.get(next)
		if got := rowIDs(p2); !slices.Equal(got, []string{"call-f@acme"}) {
			t.Fatalf("page 2: %q", got)
		}
		prev, _ := p2.testid("prev-page").Attr("href")
		if got := rowIDs(br.get(prev)); !slices.Equal(got, []string{"call-b@beta"}) {
			t.Errorf("back: %q", got)
		}
		// Sorted by PDD, shortest first: the answered call rang at 40 ms.
		byPDD, _ := p.testid("sort-pdd").Attr("href")
		u, _ := url.Parse(byPDD)
		uq := u.Query()
		uq.Set("order", "asc")
		sorted := br.get("/calls?" + uq.Encode())
		if got := rowIDs(sorted); len(got) != 1 || got[0] != "call-a@acme" {
			t.Errorf("by PDD: %q", got)
		}
	})
	t.Run("CSV", func(t *testing.T) {
		resp := br.get("/calls/export.csv?" + url.Values{"range": {"24h"}}.Encode())
		mustStatus(t, resp, http.StatusOK)
		if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("content type %q", ct)
		}
		recs, err := csv.NewReader(strings.NewReader(string(resp.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4 || recs[0][0] != "started_at" || recs[1][2] != "call-b@beta" {
			t.Fatalf("CSV %q", recs)
		}
		if got := recs[2][4]; got != "'=cmd|' /C calc'!A0" {
			t.Errorf("a formula in a cell: %q", got)
		}
	})
	t.Run("Live", func(t *testing.T) {
		p := br.get("/calls/live")
		mustStatus(t, p, http.StatusOK)
		refresh, _ := p.doc.Find(`meta[http-equiv="refresh"]`).Attr("content")
		if !strings.HasPrefix(refresh, "5; url=/calls/live?") || !strings.Contains(refresh, "seen=") {
			t.Fatalf("refresh %q", refresh)
		}
		if p.testid("new-call").Length() != 0 {
			t.Error("a first view marks calls new")
		}
		// A call arriving after the view was drawn is marked on the next.
		b.insertCall(t, b.acme, "call-n@acme", b.clock.Now().Add(time.Second), 200)
		next := br.get(strings.TrimPrefix(refresh, "5; url="))
		if got := rowIDs(next); len(got) == 0 || got[0] != "call-n@acme" || next.testid("new-call").Length() != 1 {
			t.Errorf("after a new call: %q, %d marked", got, next.testid("new-call").Length())
		}
	})
}

func TestStatsPage(t *testing.T) {
	b := setup(t)
	listData(t, b)
	br := b.MustAdminBrowser(t)
	p := br.get("/stats?range=24h")
	mustStatus(t, p, http.StatusOK)
	if got := p.testid("figure-calls").Text(); got != "3" {
		t.Errorf("calls %q", got)
	}
	for _, id := range []string{"calls-by-outcome", "asr-ner", "acd", "pdd", "codes", "failing-destinations", "user-agents", "nodes"} {
		if p.doc.Find("figure#"+id+" svg").Length() != 1 {
			t.Errorf("no chart %s", id)
		}
	}
	// Every figure opens the calls it counts: the 4xx tile, and the 486
	// bar of the final responses.
	link, _ := p.testid("figure-4xx").Attr("href")
	if got := rowIDs(br.get(link)); !slices.Equal(got, []string{"call-b@beta", "call-f@acme"}) || p.testid("figure-4xx").Text() != "2" {
		t.Errorf("4xx: %s opens %q", p.testid("figure-4xx").Text(), got)
	}
	bar, _ := p.doc.Find(`figure#codes a`).First().Attr("href")
	if got := rowIDs(br.get(bar)); len(got) != 2 {
		t.Errorf("the first code bar opens %q", got)
	}
	// One tenant's statistics count its calls alone.
	one := br.get("/stats?range=24h&tenant=" + strconv.FormatInt(b.acme.ID, 10))
	if got := one.testid("figure-calls").Text(); got != "2" || one.testid("figure-4xx").Text() != "1" {
		t.Errorf("acme: %s calls, %s 4xx", got, one.testid("figure-4xx").Text())
	}
	link, _ = one.testid("figure-4xx").Attr("href")
	if got := rowIDs(br.get(link)); !slices.Equal(got, []string{"call-f@acme"}) {
		t.Errorf("acme's 4xx opens %q", got)
	}
	bad := br.get("/stats?range=custom&from=soon")
	mustStatus(t, bad, http.StatusBadRequest)
	if bad.testid("error-from").Length() != 1 {
		t.Error("no error next to from")
	}
}
