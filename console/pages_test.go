package console_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/tenant"
)

// insertCall writes a plausible answered call for t, started at start.
func (b *bundle) insertCall(tb testing.TB, t tenant.Tenant, callID string, start time.Time, status int) {
	tb.Helper()
	querytest.MustInsert(tb, b.db.Owner(), querytest.Call{TenantID: t.ID, CallID: callID, Start: start,
		Status: status, CaptureID: 7, FromUser: "alice", ToUser: "bob"}.Rows()...)
}

func TestCallPage(t *testing.T) {
	b := setup(t)
	now := b.clock.Now().Truncate(time.Second)
	b.insertCall(t, b.acme, "call-a@acme", now.Add(-time.Hour), 200)
	if _, err := b.tenants.Update(t.Context(), b.acme.ID, tenant.Update{Aliases: map[string]string{"10.0.0.2:5060": "Carrier SBC"}}); err != nil {
		t.Fatal(err)
	}
	br := b.MustAdminBrowser(t)
	link, ok := br.get("/calls?range=24h").testid("call-link").Attr("href")
	if !ok {
		t.Fatal("no call link")
	}
	p := br.get(link)
	mustStatus(t, p, http.StatusOK)
	if got := p.testid("call-id").Text(); got != "call-a@acme" {
		t.Errorf("call id %q", got)
	}
	if p.doc.Find("svg.ladder-svg").Length() != 1 {
		t.Error("no ladder")
	}
	if !strings.Contains(p.doc.Find("svg.ladder-svg").Text(), "Carrier SBC") {
		t.Error("the tenant's alias is not on the ladder")
	}
	// The summary the viewer shows, from the call record.
	if got := p.testid("call-outcome").Text(); got != "Answered — 200 OK" {
		t.Errorf("summary outcome %q", got)
	}
	if p.testid("window-cut").Length() != 0 {
		t.Error("the whole call announced as cut")
	}
	if p.doc.Find(`[data-testid="raw-message"], .raw pre, details`).Length() == 0 && !strings.Contains(string(p.body), "INVITE sip:bob@") {
		t.Error("raw messages missing")
	}

	t.Run("Downloads", func(t *testing.T) {
		pcapURL, _ := p.testid("pcap-download").Attr("href")
		d := br.get(pcapURL)
		mustStatus(t, d, http.StatusOK)
		if d.header.Get("Content-Type") != "application/vnd.tcpdump.pcap" || len(d.body) < 24 ||
			!strings.Contains(d.header.Get("Content-Disposition"), `filename="call-call-a_acme.pcap"`) {
			t.Errorf("pcap: %s %q %d bytes", d.header.Get("Content-Type"), d.header.Get("Content-Disposition"), len(d.body))
		}
		textURL, _ := p.testid("text-download").Attr("href")
		d = br.get(textURL)
		mustStatus(t, d, http.StatusOK)
		if !strings.Contains(string(d.body), "Call-ID: call-a@acme") {
			t.Errorf("text export:\n%.300s", d.body)
		}
	})
	t.Run("OtherTenantIsNotFound", func(t *testing.T) {
		u, _ := url.Parse(link)
		q := u.Query()
		q.Set("tenant", strconv.FormatInt(b.beta.ID, 10))
		mustStatus(t, br.get("/calls/view?"+q.Encode()), http.StatusNotFound)
		mustStatus(t, br.get("/calls/pcap?"+q.Encode()), http.StatusNotFound)
	})
	t.Run("Share", func(t *testing.T) {
		form := url.Values{}
		p.testid("share-form").Find("input").Each(func(_ int, s *goquery.Selection) {
			if n, ok := s.Attr("name"); ok && n != "pcap" {
				v, _ := s.Attr("value")
				form.Set(n, v)
			}
		})
		form.Set("ttl", "15m")
		form.Set("pcap", "on")
		sp := br.post("/calls/share", form)
		mustStatus(t, sp, http.StatusOK)
		u, _ := sp.testid("share-url").Attr("value")
		if !strings.HasPrefix(u, "https://view.example.com/v/") {
			t.Fatalf("share url %q", u)
		}
		if !strings.Contains(sp.testid("share-snippet").Text(), `<iframe src="`+u+`"`) {
			t.Errorf("snippet %q", sp.testid("share-snippet").Text())
		}
		toks, err := b.tokens.ListTokens(t.Context(), b.acme.ID, authdb.TokenFilter{ActiveOnly: true})
		if err != nil || len(toks) != 1 || toks[0].IssuedBy != "console:"+adminEmail || toks[0].CallID != "call-a@acme" ||
			toks[0].ExpiresAt.Sub(toks[0].IssuedAt) != 15*time.Minute || len(toks[0].Scopes) != 1 {
			t.Fatalf("recorded tokens %+v, %v", toks, err)
		}

		t.Run("InvalidKeepsInput", func(t *testing.T) {
			form.Set("to", "not a time")
			form.Set("ttl", "9h")
			sp := br.post("/calls/share", form)
			mustStatus(t, sp, http.StatusBadRequest)
			if sp.testid("error-to").Length() != 1 || sp.testid("error-ttl").Length() != 1 {
				t.Fatal("errors not on their fields")
			}
			if v, _ := sp.doc.Find("#share-to").Attr("value"); v != "not a time" {
				t.Errorf("to kept as %q", v)
			}
		})
	})
}

func TestTenantsPages(t *testing.T) {
	b := setup(t)
	br := b.MustAdminBrowser(t)

	t.Run("List", func(t *testing.T) {
		p := br.get("/tenants")
		mustStatus(t, p, http.StatusOK)
		if p.testid("tenant-row").Length() != 2 {
			t.Fatalf("%d tenants", p.testid("tenant-row").Length())
		}
	})
	t.Run("Create", func(t *testing.T) {
		mustRedirect(t, br.post("/tenants", url.Values{"slug": {"gamma"}, "name": {"Gamma"}, "retention_days": {"14"},
			"embed_origins": {"https://App.Gamma.example/\nhttps://portal.gamma.example:8443"}}), "/tenants?created=gamma")
		g, err := b.tenants.BySlug(t.Context(), "gamma")
		if err != nil || g.RetentionDays != 14 || len(g.EmbedOrigins) != 2 || g.EmbedOrigins[0] != "https://app.gamma.example" {
			t.Fatalf("%+v %v", g, err)
		}
		if br.get("/tenants?created=gamma").testid("notice").Length() != 1 {
			t.Error("no notice")
		}
	})
	t.Run("CreateInvalidKeepsInput", func(t *testing.T) {
		for name, tc := range map[string]struct {
			form  url.Values
			field string
		}{
			"Slug":      {url.Values{"slug": {"Bad Slug"}, "name": {"X"}, "embed_origins": {"https://ok.example"}}, "slug"},
			"Taken":     {url.Values{"slug": {"acme"}, "name": {"X"}}, "slug"},
			"Origin":    {url.Values{"slug": {"delta"}, "name": {"X"}, "embed_origins": {"https://ok.example/path"}}, "embed_origins"},
			"Retention": {url.Values{"slug": {"delta"}, "name": {"X"}, "retention_days": {"0"}}, "retention_days"},
		} {
			t.Run(name, func(t *testing.T) {
				p := br.post("/tenants", tc.form)
				mustStatus(t, p, http.StatusBadRequest)
				if p.testid("error-"+tc.field).Length() != 1 {
					t.Fatalf("no error on %s: %s", tc.field, p.testid("form-error").Text())
				}
				if v, _ := p.doc.Find("#slug").Attr("value"); v != tc.form.Get("slug") {
					t.Errorf("slug kept as %q", v)
				}
				if got := p.doc.Find("#embed_origins").Text(); got != tc.form.Get("embed_origins") {
					t.Errorf("origins kept as %q", got)
				}
			})
		}
	})
	t.Run("SuspendResume", func(t *testing.T) {
		p := br.get("/tenants/beta")
		mustStatus(t, p, http.StatusOK)
		mustRedirect(t, br.post("/tenants/beta/status", url.Values{"status": {"suspended"}}), "/tenants/beta")
		p = br.get("/tenants/beta?done=suspended")
		if p.testid("tenant-status").Text() != "suspended" || p.testid("resume").Length() != 1 {
			t.Fatal("not suspended")
		}
		mustRedirect(t, br.post("/tenants/beta/status", url.Values{"status": {"active"}}), "/tenants/beta")
		if tt, _ := b.tenants.BySlug(t.Context(), "beta"); !tt.Active() {
			t.Fatal("not resumed")
		}
		mustStatus(t, br.post("/tenants/beta/status", url.Values{"status": {"deleted"}}), http.StatusBadRequest)
	})
	t.Run("Settings", func(t *testing.T) {
		mustRedirect(t, br.post("/tenants/acme/settings", url.Values{"name": {"ACME"}, "retention_days": {"90"},
			"embed_origins": {"https://app.acme.example"}}), "/tenants/acme?done=saved")
		p := br.post("/tenants/acme/settings", url.Values{"name": {"ACME 2"}, "retention_days": {"90"},
			"embed_origins": {"javascript:alert(1)"}})
		mustStatus(t, p, http.StatusBadRequest)
		if p.testid("error-embed_origins").Length() != 1 || p.doc.Find("#embed_origins").Text() != "javascript:alert(1)" {
			t.Fatal("origin error not shown with the input kept")
		}
		if v, _ := p.doc.Find("#name").Attr("value"); v != "ACME 2" {
			t.Errorf("name kept as %q", v)
		}
		a, _ := b.tenants.BySlug(t.Context(), "acme")
		if a.Name != "ACME" || a.RetentionDays != 90 || len(a.EmbedOrigins) != 1 || a.ShowInternalEvents {
			t.Errorf("%+v", a)
		}
		if _, on := br.get("/tenants/acme").testid("internal-events").Attr("checked"); on {
			t.Error("internal events box checked for a tenant without them")
		}
		// The toggle turns the tenant's internal events on, and off again.
		mustRedirect(t, br.post("/tenants/acme/settings", url.Values{"name": {"ACME"}, "retention_days": {"90"},
			"embed_origins": {"https://app.acme.example"}, "internal_events": {"on"}}), "/tenants/acme?done=saved")
		if a, _ := b.tenants.BySlug(t.Context(), "acme"); !a.ShowInternalEvents {
			t.Error("internal events not turned on")
		}
		if _, ok := br.get("/tenants/acme").testid("internal-events").Attr("checked"); !ok {
			t.Error("internal events box not checked")
		}
		mustRedirect(t, br.post("/tenants/acme/settings", url.Values{"name": {"ACME"}, "retention_days": {"90"},
			"embed_origins": {"https://app.acme.example"}}), "/tenants/acme?done=saved")
		if a, _ := b.tenants.BySlug(t.Context(), "acme"); a.ShowInternalEvents {
			t.Error("internal events not turned off")
		}
	})
	t.Run("Aliases", func(t *testing.T) {
		mustRedirect(t, br.post("/tenants/acme/aliases", url.Values{"aliases": {"10.0.0.1 = PBX\n192.0.2.7:5060 = SBC\n"}}), "/tenants/acme")
		a, _ := b.tenants.BySlug(t.Context(), "acme")
		if a.Aliases["10.0.0.1"] != "PBX" || a.Aliases["192.0.2.7:5060"] != "SBC" {
			t.Fatalf("%v", a.Aliases)
		}
		bad := "10.0.0.1 = PBX\nsbc.example = SBC"
		p := br.post("/tenants/acme/aliases", url.Values{"aliases": {bad}})
		mustStatus(t, p, http.StatusBadRequest)
		if p.testid("error-aliases").Length() != 1 || p.doc.Find("#aliases").Text() != bad {
			t.Fatal("alias error not shown with the input kept")
		}
	})
	t.Run("UnknownTenant", func(t *testing.T) {
		p := br.get("/tenants/nope")
		mustStatus(t, p, http.StatusNotFound)
		if p.testid("error").Length() != 1 {
			t.Error("no error page")
		}
	})
}

func TestNodesPage(t *testing.T) {
	b := setup(t)
	if err := b.tenants.NoteUnclaimed(t.Context(), []tenant.Unclaimed{{CaptureID: 4242, LastSource: netip.MustParseAddr("192.0.2.10"),
		LastReason: "unknown capture id", Packets: 17, LastSeen: b.clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	br := b.MustAdminBrowser(t)
	p := br.get("/nodes")
	mustStatus(t, p, http.StatusOK)
	if p.testid("unclaimed-row").Length() != 1 {
		t.Fatal("unclaimed capture id not listed")
	}

	t.Run("AddWithGeneratedKey", func(t *testing.T) {
		p := br.post("/nodes", url.Values{"tenant": {strconv.FormatInt(b.acme.ID, 10)}, "capture_id": {"2001"}, "name": {"edge-1"},
			"auth_mode": {"generate"}, "cidrs": {"192.0.2.0/24\n198.51.100.7"}})
		mustStatus(t, p, http.StatusOK)
		key, _ := p.testid("auth-key").Attr("value")
		nodes, _ := b.tenants.Nodes(t.Context(), b.acme.ID)
		if len(key) < 20 || len(nodes) != 1 || !nodes[0].CheckAuthKey([]byte(key)) || len(nodes[0].AllowedCIDRs) != 2 {
			t.Fatalf("key %q nodes %+v", key, nodes)
		}
		// Shown once: the next view of the page does not have it.
		if strings.Contains(string(br.get("/nodes").body), key) {
			t.Fatal("auth key shown again")
		}
	})
	t.Run("InvalidKeepsInput", func(t *testing.T) {
		p := br.post("/nodes", url.Values{"tenant": {strconv.FormatInt(b.acme.ID, 10)}, "capture_id": {"99999999999"},
			"name": {"edge-2"}, "auth_mode": {"none"}, "cidrs": {"not-a-cidr"}})
		mustStatus(t, p, http.StatusBadRequest)
		if p.testid("error-capture_id").Length() != 1 {
			t.Fatal("capture id error missing")
		}
		if v, _ := p.doc.Find("#name").Attr("value"); v != "edge-2" || p.doc.Find("#cidrs").Text() != "not-a-cidr" {
			t.Error("input lost")
		}
		p = br.post("/nodes", url.Values{"tenant": {strconv.FormatInt(b.beta.ID, 10)}, "capture_id": {"2001"}, "auth_mode": {"none"}})
		mustStatus(t, p, http.StatusBadRequest)
		if p.testid("error-capture_id").Length() != 1 {
			t.Error("taken capture id not reported on its field")
		}
	})
	t.Run("Claim", func(t *testing.T) {
		form := p.doc.Find(`[data-testid="claim-form"]`)
		id, _ := form.Find(`input[name="capture_id"]`).Attr("value")
		mustRedirect(t, br.post("/nodes", url.Values{"capture_id": {id}, "auth_mode": {"none"},
			"tenant": {strconv.FormatInt(b.beta.ID, 10)}}), "/nodes?added=4242")
		p := br.get("/nodes?added=4242")
		if p.testid("unclaimed-row").Length() != 0 || p.doc.Find(`[data-testid="node-row"][data-capture-id="4242"]`).Length() != 1 {
			t.Fatal("claimed node not moved")
		}
	})
	t.Run("Health", func(t *testing.T) {
		now := b.clock.Now()
		if err := b.tenants.RecordNodeStats(t.Context(), []tenant.NodeStat{
			{TenantID: b.acme.ID, CaptureID: 2001, Minute: now, Outcome: tenant.OutcomeAccepted, Packets: 7, LastSeen: now.Add(-12 * time.Second)},
			{TenantID: b.acme.ID, CaptureID: 2001, Minute: now, Outcome: "bad_auth_key", Packets: 40, LastSeen: now.Add(-3 * time.Second)},
		}); err != nil {
			t.Fatal(err)
		}
		if err := b.tenants.ReportIngestStatus(t.Context(), tenant.IngestStatus{Instance: "edge-ingest :9060", StartedAt: now,
			LagSeconds: 40, BacklogBytes: 12_500_000, Trend: tenant.CatchingUp}); err != nil {
			t.Fatal(err)
		}
		p := br.get("/nodes")
		mustStatus(t, p, http.StatusOK)
		row := p.doc.Find(`[data-testid="node-row"][data-capture-id="2001"]`)
		if got := row.Find(`[data-testid="drop-reason"]`).AttrOr("data-reason", ""); got != "bad_auth_key" ||
			strings.TrimSpace(row.Find(`[data-testid="node-accepted"]`).Text()) != "7" ||
			!strings.Contains(row.Find(`[data-testid="node-dropped"]`).Text(), "40") ||
			strings.TrimSpace(row.Find(`[data-testid="node-last-packet"]`).Text()) != "3 s ago" {
			t.Errorf("node 2001's health cells: %q", row.Text())
		}
		ingest := p.testid("ingest-row")
		if ingest.AttrOr("data-trend", "") != tenant.CatchingUp || !strings.Contains(ingest.Text(), "behind by 40 s (12.5 MB waiting), catching up") {
			t.Errorf("ingest status: %q", ingest.Text())
		}
		// The tenant's own page shows its node's health; another tenant's
		// page shows none of it.
		if !strings.Contains(br.get("/tenants/"+b.acme.Slug).doc.Find(`[data-testid="node-dropped"]`).Text(), "bad_auth_key") {
			t.Error("acme's page lacks its node's drops")
		}
		if strings.Contains(string(br.get("/tenants/"+b.beta.Slug).body), "bad_auth_key") {
			t.Error("beta's page shows acme's node health")
		}
	})
	t.Run("Remove", func(t *testing.T) {
		mustRedirect(t, br.post("/nodes/remove", url.Values{"tenant": {strconv.FormatInt(b.beta.ID, 10)}, "capture_id": {"4242"}}), "/nodes?removed=4242")
		if n, _ := b.tenants.Nodes(t.Context(), b.beta.ID); len(n) != 0 {
			t.Fatal("not removed")
		}
		// Removing acme's node under beta's id finds nothing.
		mustStatus(t, br.post("/nodes/remove", url.Values{"tenant": {strconv.FormatInt(b.beta.ID, 10)}, "capture_id": {"2001"}}), http.StatusNotFound)
	})
}

func TestKeysPage(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	_, betaKey, err := b.apikeys.CreateAPIKey(ctx, b.beta.ID, "beta orchestrator")
	if err != nil {
		t.Fatal(err)
	}
	br := b.MustAdminBrowser(t)

	p := br.post("/tenants/acme/apikeys", url.Values{"name": {"acme orchestrator"}})
	mustStatus(t, p, http.StatusOK)
	plain, _ := p.testid("api-key-plaintext").Attr("value")
	if k, err := b.apikeys.AuthenticateAPIKey(ctx, plain); err != nil || k.TenantID != b.acme.ID {
		t.Fatalf("shown key does not work: %v", err)
	}
	t.Run("ListsOnlyThisTenantWithoutSecrets", func(t *testing.T) {
		p := br.get("/tenants/acme/keys")
		mustStatus(t, p, http.StatusOK)
		rows := p.testid("api-key-row")
		if rows.Length() != 1 || strings.Contains(string(p.body), betaKey.Prefix) {
			t.Fatalf("acme's page lists %d keys (beta's prefix present: %v)", rows.Length(), strings.Contains(string(p.body), betaKey.Prefix))
		}
		if strings.Contains(string(p.body), plain) {
			t.Fatal("secret listed")
		}
	})
	t.Run("NameRequired", func(t *testing.T) {
		p := br.post("/tenants/acme/apikeys", url.Values{"name": {""}})
		mustStatus(t, p, http.StatusBadRequest)
		if p.testid("error-key_name").Length() != 1 {
			t.Fatal("no error")
		}
	})
	t.Run("RevokeOtherTenantsKeyIsNotFound", func(t *testing.T) {
		mustStatus(t, br.post("/tenants/acme/apikeys/revoke", url.Values{"prefix": {betaKey.Prefix}}), http.StatusNotFound)
		if _, err := b.apikeys.AuthenticateAPIKey(ctx, plain); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Revoke", func(t *testing.T) {
		prefix, _ := br.get("/tenants/acme/keys").testid("api-key-row").Attr("data-prefix")
		mustRedirect(t, br.post("/tenants/acme/apikeys/revoke", url.Values{"prefix": {prefix}}), "/tenants/acme/keys")
		if _, err := b.apikeys.AuthenticateAPIKey(ctx, plain); err == nil {
			t.Fatal("revoked key still works")
		}
	})
	t.Run("TenantKeys", func(t *testing.T) {
		jwk := `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"acme-2026"}`
		mustRedirect(t, br.post("/tenants/acme/tenantkeys", url.Values{"jwk": {jwk}}), "/tenants/acme/keys?done=added")
		p := br.get("/tenants/acme/keys")
		if p.testid("tenant-key-row").Length() != 1 {
			t.Fatal("key not listed")
		}
		if br.get("/tenants/beta/keys").testid("tenant-key-row").Length() != 0 {
			t.Fatal("acme's key listed for beta")
		}
		bad := `{"kty":"oct","k":"c2VjcmV0"}`
		p = br.post("/tenants/acme/tenantkeys", url.Values{"jwk": {bad}})
		mustStatus(t, p, http.StatusBadRequest)
		if p.testid("error-jwk").Length() != 1 || p.doc.Find("#jwk").Text() != bad {
			t.Fatal("jwk error not shown with input kept")
		}
		mustRedirect(t, br.post("/tenants/acme/tenantkeys/disable", url.Values{"kid": {"acme-2026"}}), "/tenants/acme/keys")
		if br.get("/tenants/acme/keys").testid("tenant-key-disable").Length() != 0 {
			t.Fatal("still enabled")
		}
	})
}

func TestLinksPage(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	now := time.Now()
	req := auth.MintRequest{CallID: "c1@acme", WindowStart: now.Add(-time.Hour), WindowEnd: now, TTL: 10 * time.Minute, IssuedBy: "cli"}
	_, c1, err := b.minter.Mint(ctx, b.acme, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.minter.Mint(ctx, b.acme, req); err != nil {
		t.Fatal(err)
	}
	_, cb, err := b.minter.Mint(ctx, b.beta, req)
	if err != nil {
		t.Fatal(err)
	}
	br := b.MustAdminBrowser(t)
	p := br.get("/tenants/acme/links")
	mustStatus(t, p, http.StatusOK)
	if p.testid("link-row").Length() != 2 || strings.Contains(string(p.body), cb.ID) {
		t.Fatalf("acme lists %d links (beta's present: %v)", p.testid("link-row").Length(), strings.Contains(string(p.body), cb.ID))
	}
	if p.testid("no-views").Length() != 1 {
		t.Error("audit section missing")
	}
	t.Run("RevokeOne", func(t *testing.T) {
		// jtis are per tenant: beta's jti revoked on acme's page revokes that
		// jti among acme's tokens only, and beta's link stays live.
		mustRedirect(t, br.post("/tenants/acme/links/revoke", url.Values{"jti": {cb.ID}}), "/tenants/acme/links?done=revoked")
		if beta := br.get("/tenants/beta/links"); beta.testid("link-row").Length() != 1 || !strings.Contains(string(beta.body), cb.ID) {
			t.Fatal("acme's page revoked beta's link")
		}
		mustRedirect(t, br.post("/tenants/acme/links/revoke", url.Values{"jti": {c1.ID}}), "/tenants/acme/links?done=revoked")
		if br.get("/tenants/acme/links").testid("link-row").Length() != 1 {
			t.Fatal("revoked link still listed")
		}
	})
	t.Run("RevokeAll", func(t *testing.T) {
		mustRedirect(t, br.post("/tenants/acme/links/revoke-all", nil), "/tenants/acme/links?done=revoked-all")
		if br.get("/tenants/acme/links").testid("link-row").Length() != 0 {
			t.Fatal("links still listed")
		}
		if br.get("/tenants/beta/links").testid("link-row").Length() != 1 {
			t.Fatal("beta's link was revoked too")
		}
		a, _ := b.tenants.BySlug(ctx, "acme")
		if a.TokensValidAfter == nil {
			t.Fatal("no tenant epoch recorded")
		}
	})
}

func TestWithoutOptionalStores(t *testing.T) {
	b := setup(t, options{noStores: true})
	br := b.MustAdminBrowser(t)
	p := br.get("/tenants/acme/keys")
	mustStatus(t, p, http.StatusOK)
	if p.testid("apikeys-unavailable").Length() != 1 || p.testid("tenantkeys-unavailable").Length() != 1 {
		t.Error("keys page does not say keys are unavailable")
	}
	p = br.get("/tenants/acme/links")
	if p.testid("links-unavailable").Length() != 1 || p.testid("views-unavailable").Length() != 1 {
		t.Error("links page does not say links are unavailable")
	}
	mustStatus(t, br.post("/tenants/acme/apikeys", url.Values{"name": {"x"}}), http.StatusServiceUnavailable)
}
