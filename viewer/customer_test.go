package viewer_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

func doc(tb testing.TB, body string) *goquery.Document {
	tb.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestViewerLogLines: a tenant that did not turn internal events on never
// shows its proxies' LOG lines through the viewer, in the page or the text
// export; one that did, does. Media reports show either way, as figures.
func TestViewerLogLines(t *testing.T) {
	b := setup(t, options{renderTTL: -1})
	ctx := context.Background()
	const secret = "dispatcher: routed via internal-gw-7"
	for _, tn := range []tenant.Tenant{b.acme, b.beta} {
		b.insert(t, querytest.Call{TenantID: tn.ID, CallID: "logged@x", Start: t0})
		querytest.MustInsertEvents(t, b.db.Owner(),
			querytest.Event{TenantID: tn.ID, CapturedAt: t0.Add(time.Millisecond), PayloadType: 100, CallID: "logged@x",
				Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"), Payload: []byte(secret)},
			querytest.Event{TenantID: tn.ID, CapturedAt: t0.Add(2 * time.Second), PayloadType: 5, CallID: "logged@x",
				Src: ap("10.0.0.2:5060"), Dst: ap("10.0.0.9:9060"),
				Payload: []byte(`{"type":201,"ssrc":1,"report_blocks":[{"source_ssrc":2,"fraction_lost":0,"packets_lost":0,"ia_jitter":16}]}`)})
	}
	on := true
	if _, err := tenantdb.NewStore(b.db).Update(ctx, b.beta.ID, tenant.Update{ShowInternalEvents: &on}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, slug string
		want       bool
	}{{"Default", "acme", false}, {"TenantOptedIn", "beta", true}} {
		t.Run(tc.name, func(t *testing.T) {
			url := b.viewer.URL + "/v/" + mint(t, b.server, b.claims(tc.slug, "logged@x"))
			page := do(t, http.MethodGet, url, nil, nil)
			text := do(t, http.MethodGet, url+"/text", nil, nil)
			if page.status != http.StatusOK || text.status != http.StatusOK {
				t.Fatalf("status %d, %d", page.status, text.status)
			}
			for what, body := range map[string]string{"page": page.body, "text": text.body} {
				if got := strings.Contains(body, "internal-gw-7"); got != tc.want {
					t.Errorf("%s shows the LOG line: %v, want %v", what, got, tc.want)
				}
			}
			if !strings.Contains(page.body, "jitter 2.0 ms") || strings.Contains(page.body, "report_blocks") {
				t.Error("the RTCP report is not shown as figures")
			}
			if doc(t, page.body).Find(`#qos-jitter svg`).Length() != 1 {
				t.Error("no jitter chart")
			}
		})
	}
}

// TestViewerSummary: the page opens with the call record's summary; a
// window that cuts the call says how much it shows; a window with nothing
// in it says so, not that the call may have expired; another tenant's
// record of the same Call-ID never shows.
func TestViewerSummary(t *testing.T) {
	b := setup(t, options{renderTTL: -1})
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "busy@x", Start: t0, Status: 486, FromUser: "alice", ToUser: "bob"},
		querytest.Call{TenantID: b.beta.ID, CallID: "busy@x", Start: t0, FromUser: "mallory", ToUser: "trent"},
		// Half its messages before t0: a window from t0 (windows are whole
		// seconds) cuts it.
		querytest.Call{TenantID: b.acme.ID, CallID: "cut@x", Start: t0.Add(-500 * time.Millisecond), Status: 486},
	)
	view := func(t *testing.T, c func() string) response {
		t.Helper()
		return do(t, http.MethodGet, b.viewer.URL+"/v/"+c(), nil, nil)
	}
	t.Run("OK", func(t *testing.T) {
		r := view(t, func() string { return mint(t, b.server, b.claims("acme", "busy@x")) })
		d := doc(t, r.body)
		if got := d.Find(`[data-testid="call-outcome"]`).Text(); got != "Busy — 486 Busy Here" {
			t.Errorf("outcome %q", got)
		}
		if got := strings.Join(strings.Fields(d.Find(`[data-testid="call-summary"] h1`).Text()), " "); got != "alice → bob" {
			t.Errorf("parties %q", got)
		}
		if d.Find(`[data-testid="window-cut"]`).Length() != 0 || strings.Contains(r.body, "mallory") {
			t.Error("whole call announced as cut, or beta's record shown")
		}
		if got := d.Find("head title").Text(); got != "alice → bob · Busy — 486 Busy Here" {
			t.Errorf("title %q", got)
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		r := view(t, func() string { return mint(t, b.server, b.claims("beta", "busy@x")) })
		if strings.Contains(r.body, "486") || !strings.Contains(r.body, "mallory") {
			t.Error("beta's view shows acme's call")
		}
	})
	t.Run("CutWindow", func(t *testing.T) {
		c := b.claims("acme", "cut@x")
		c.WindowStart = t0
		r := view(t, func() string { return mint(t, b.server, c) })
		got := doc(t, r.body).Find(`[data-testid="window-cut"]`).Text()
		if strings.TrimSpace(got) != "This link shows 2 of 4 messages of the call." {
			t.Errorf("cut window note %q", got)
		}
	})
	t.Run("EmptyWindow", func(t *testing.T) {
		c := b.claims("acme", "busy@x")
		c.WindowStart, c.WindowEnd = t0.Add(2*time.Hour), t0.Add(3*time.Hour)
		r := view(t, func() string { return mint(t, b.server, c) })
		d := doc(t, r.body)
		if kind, _ := d.Find(`[data-testid="error"]`).Attr("data-kind"); r.status != http.StatusNotFound || kind != "empty_window" {
			t.Fatalf("status %d kind %q", r.status, kind)
		}
		if strings.Contains(r.body, "retention") || !strings.Contains(r.body, "Nothing was captured for this call in the link&#39;s time window.") {
			t.Errorf("empty window page:\n%s", d.Find(".error-page").Text())
		}
		if got := d.Find(`[data-testid="error-window"]`).Text(); !strings.Contains(got, "Sun 1 Mar 2026 12:00–13:00 UTC") {
			t.Errorf("window %q", got)
		}
	})
	t.Run("Compact", func(t *testing.T) {
		r := do(t, http.MethodGet, b.viewer.URL+"/v/"+mint(t, b.server, b.claims("acme", "busy@x"))+"?compact=1", nil, nil)
		d := doc(t, r.body)
		if d.Find(`[data-testid="call-summary"]`).Length() != 1 || d.Find(`[data-testid="message-table"]`).Length() != 0 ||
			d.Find(`[data-testid="message-detail"]`).Length() != 4 {
			t.Error("compact view is not summary, ladder and details")
		}
		if href, _ := d.Find(`[data-testid="other-view"]`).Attr("href"); strings.Contains(href, "compact") {
			t.Errorf("full view link %q", href)
		}
	})
}
