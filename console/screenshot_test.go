package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/callscope/callscope/tenant"
)

// TestScreenshots renders a few pages in headless Chromium for a person to
// look at. It runs only with CONSOLE_SCREENSHOTS=<dir>: it needs Chromium
// and its output is judged by eye, not asserted.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set CONSOLE_SCREENSHOTS=<dir> to take screenshots")
	}
	b := setup(t)
	now := b.clock.Now().Truncate(time.Second)
	b.insertCall(t, b.acme, "a84b4c76e66710@pbx.acme.example", now.Add(-2*time.Hour), 200)
	b.insertCall(t, b.beta, "77f1-busy@beta", now.Add(-time.Hour), 486)
	// The nodes page with a node whose auth key is mistyped, one that is
	// fine, and an ingest process that is behind.
	for _, n := range []tenant.NewNode{{CaptureID: 2001, Name: "proxy-a", AuthKey: "k3y"}, {CaptureID: 2002, Name: "proxy-b"}} {
		if _, err := b.tenants.AddNode(t.Context(), b.acme.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.tenants.RecordNodeStats(t.Context(), []tenant.NodeStat{
		{TenantID: b.acme.ID, CaptureID: 2001, Minute: now, Outcome: "bad_auth_key", Packets: 5321, LastSeen: now.Add(-2 * time.Second)},
		{TenantID: b.acme.ID, CaptureID: 2002, Minute: now, Outcome: tenant.OutcomeAccepted, Packets: 118230, LastSeen: now.Add(-time.Second)},
		{TenantID: b.acme.ID, CaptureID: 2002, Minute: now, Outcome: "queue_full", Packets: 12, LastSeen: now.Add(-40 * time.Second)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.tenants.ReportIngestStatus(t.Context(), tenant.IngestStatus{Instance: "ingest-1 0.0.0.0:9060", StartedAt: now,
		LagSeconds: 41, BacklogBytes: 734_000_000, SpoolBytes: 700_000_000, Trend: tenant.CatchingUp}); err != nil {
		t.Fatal(err)
	}
	br := b.MustAdminBrowser(t)
	br.post("/tenants/beta/aliases", url.Values{"aliases": {"10.0.0.1 = PBX\n192.0.2.7:5060 = Carrier SBC"}})
	br.post("/admins", url.Values{"email": {"night@example.com"}, "password": {"night shift password"}})
	br.post("/admins/disable", url.Values{"email": {"night@example.com"}})
	u, _ := url.Parse(b.srv.URL)
	sid := cookieValue(br.hc.Jar.Cookies(u), "callscope_session")
	// Chromium's --screenshot cannot log in: a proxy adds the session cookie.
	target, _ := url.Parse(b.srv.URL)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "callscope_session", Value: sid})
		r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, target.Host
		r.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}))
	defer proxy.Close()
	link, _ := br.get("/calls?range=24h").testid("call-link").Attr("href")
	pages := map[string]string{
		"calls": "/calls?range=24h", "call": link, "stats": "/stats?range=24h", "tenants": "/tenants", "tenant": "/tenants/acme",
		"nodes": "/nodes", "keys": "/tenants/acme/keys", "links": "/tenants/acme/links",
		"admins": "/admins", "audit": "/audit",
		"search-error": "/calls?range=custom&from=yesterday&to=" + url.QueryEscape(now.Format("2006-01-02 15:04")) + "&status=999&port=0",
	}
	for name, path := range pages {
		out := filepath.Join(dir, name+".png")
		cmd := exec.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
			"--window-size=1280,"+strconv.Itoa(1000), "--screenshot="+out, proxy.URL+path)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
	}
	// The login page needs no cookie.
	cmd := exec.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
		"--window-size=1280,700", "--screenshot="+filepath.Join(dir, "login.png"), b.srv.URL+"/login")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
}
