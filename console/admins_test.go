package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/go-redis/redis_rate/v10"

	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/adminaudit/adminaudittest"
	"github.com/callscope/callscope/console"
)

const otherEmail, otherPassword = "night@example.com", "night shift password"

// TestAdminsPage: list, add, disable, enable and reset from the console.
func TestAdminsPage(t *testing.T) {
	ctx := context.Background()
	// Many logins of one account: more than the guessing budget allows.
	b := setup(t, options{cfg: func(c *console.Config) { c.LoginPerAccount = redis_rate.PerMinute(100) }})
	br := b.MustAdminBrowser(t)

	t.Run("Add", func(t *testing.T) {
		p := br.post("/admins", url.Values{"email": {"not an email"}, "password": {"short"}})
		mustStatus(t, p, http.StatusBadRequest)
		if p.testid("error-email").Length() != 1 {
			t.Errorf("no error on the email field:\n%s", p.testid("admin-form").Text())
		}
		if v, _ := p.doc.Find("#email").Attr("value"); v != "not an email" {
			t.Errorf("email kept as %q", v)
		}
		p = br.post("/admins", url.Values{"email": {otherEmail}, "password": {"short"}})
		if mustStatus(t, p, http.StatusBadRequest); p.testid("error-password").Length() != 1 {
			t.Errorf("no error on the password field")
		}
		mustRedirect(t, br.post("/admins", url.Values{"email": {otherEmail}, "password": {otherPassword}}), "/admins?done=created")
		p = br.post("/admins", url.Values{"email": {otherEmail}, "password": {otherPassword}})
		if mustStatus(t, p, http.StatusBadRequest); !strings.Contains(p.testid("error-email").Text(), "already exists") {
			t.Errorf("duplicate: %q", p.testid("error-email").Text())
		}
		p = br.get("/admins")
		if n := p.testid("admin-row").Length(); n != 2 {
			t.Fatalf("%d admins listed, want 2", n)
		}
		// No disable button on one's own row.
		if p.doc.Find(`[data-testid="admin-row"][data-email="`+adminEmail+`"] [data-testid="admin-disable"]`).Length() != 0 {
			t.Error("the page offers to disable the admin looking at it")
		}
	})

	t.Run("DisableEndsSessionsAndLogins", func(t *testing.T) {
		night := b.browser(t)
		mustRedirect(t, night.loginAs(otherEmail, otherPassword), "/calls")
		mustStatus(t, night.get("/tenants"), http.StatusOK)

		mustRedirect(t, br.post("/admins/disable", url.Values{"email": {otherEmail}}), "/admins?done=disabled")
		if st := br.get("/admins").doc.Find(`[data-email="` + otherEmail + `"] [data-testid="admin-status"]`).Text(); st != "disabled" {
			t.Errorf("status shown %q", st)
		}
		// Mid-session: the next request is sent to the login page, for good.
		mustRedirect(t, night.get("/tenants"), "/login")
		mustRedirect(t, night.post("/tenants", url.Values{"slug": {"night"}, "name": {"N"}}), "/login")
		if _, err := b.tenants.BySlug(ctx, "night"); err == nil {
			t.Fatal("a disabled admin's session created a tenant")
		}
		// At login: refused like a wrong password.
		p := b.browser(t).loginAs(otherEmail, otherPassword)
		if mustStatus(t, p, http.StatusUnauthorized); !strings.Contains(p.testid("form-error").Text(), "Wrong email or password") {
			t.Errorf("login of a disabled admin: %q", p.testid("form-error").Text())
		}

		mustRedirect(t, br.post("/admins/enable", url.Values{"email": {otherEmail}}), "/admins?done=enabled")
		mustRedirect(t, b.browser(t).loginAs(otherEmail, otherPassword), "/calls")
		// The session ended by disabling stays ended.
		mustRedirect(t, night.get("/tenants"), "/login")
	})

	t.Run("CannotDisableSelf", func(t *testing.T) {
		p := br.post("/admins/disable", url.Values{"email": {strings.ToUpper(adminEmail)}})
		mustStatus(t, p, http.StatusBadRequest)
		if a, err := b.admins.ByEmail(ctx, adminEmail); err != nil || a.Disabled {
			t.Fatalf("the admin disabled themselves: %+v %v", a, err)
		}
		mustStatus(t, br.get("/admins"), http.StatusOK)
	})

	t.Run("ResetEndsSessions", func(t *testing.T) {
		night := b.browser(t)
		mustRedirect(t, night.loginAs(otherEmail, otherPassword), "/calls")
		p := br.post("/admins/reset", url.Values{"email": {otherEmail}, "password": {"short"}})
		if mustStatus(t, p, http.StatusBadRequest); p.testid("error-reset_password").Length() != 1 {
			t.Errorf("no error on the new password field")
		}
		if v, _ := p.doc.Find(`#reset_email option[selected]`).Attr("value"); v != otherEmail {
			t.Errorf("chosen admin kept as %q", v)
		}
		p = br.post("/admins/reset", url.Values{"email": {"nobody@example.com"}, "password": {"a new long password"}})
		if mustStatus(t, p, http.StatusBadRequest); p.testid("error-reset_email").Length() != 1 {
			t.Errorf("no error on the admin field")
		}
		mustStatus(t, night.get("/tenants"), http.StatusOK) // a refused reset changes nothing

		mustRedirect(t, br.post("/admins/reset", url.Values{"email": {otherEmail}, "password": {"a new long password"}}), "/admins?done=reset")
		mustRedirect(t, night.get("/tenants"), "/login")
		if p := b.browser(t).loginAs(otherEmail, otherPassword); p.status != http.StatusUnauthorized {
			t.Errorf("the old password still logs in: %d", p.status)
		}
		mustRedirect(t, b.browser(t).loginAs(otherEmail, "a new long password"), "/calls")
		// The admin who reset it keeps their session.
		mustStatus(t, br.get("/admins"), http.StatusOK)
	})

	t.Run("ResetOwnPassword", func(t *testing.T) {
		me := b.MustAdminBrowser(t)
		mustRedirect(t, me.post("/admins/reset", url.Values{"email": {adminEmail}, "password": {"my brand new password"}}), "/login")
		mustRedirect(t, me.get("/admins"), "/login")
		mustRedirect(t, br.get("/admins"), "/login") // every session of that admin
		mustRedirect(t, b.browser(t).loginAs(adminEmail, "my brand new password"), "/calls")
	})
}

// Every new form refuses a post without the session's token or from
// another site, and changes nothing.
func TestAdminFormsCSRF(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	if _, err := b.admins.Create(ctx, otherEmail, otherPassword); err != nil {
		t.Fatal(err)
	}
	br := b.MustAdminBrowser(t)
	posts := map[string]url.Values{
		"/admins":         {"email": {"new@example.com"}, "password": {otherPassword}},
		"/admins/disable": {"email": {otherEmail}},
		"/admins/enable":  {"email": {otherEmail}},
		"/admins/reset":   {"email": {otherEmail}, "password": {"a hijacked password"}},
	}
	for path, form := range posts {
		for name, headers := range map[string]map[string]string{
			"NoToken":       nil,
			"CrossSite":     {"Sec-Fetch-Site": "cross-site"},
			"ForeignOrigin": {"Origin": "https://evil.example"},
		} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if name != "NoToken" {
				f.Set("csrf", br.csrf)
			}
			req, _ := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			if p := br.do(req); p.status != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", path, name, p.status)
			}
		}
	}
	if _, err := b.admins.ByEmail(ctx, "new@example.com"); err == nil {
		t.Error("an admin was created through a refused form")
	}
	if a, _ := b.admins.ByEmail(ctx, otherEmail); a.Disabled || a.SessionEpoch != 0 {
		t.Errorf("a refused form changed %s: %+v", otherEmail, a)
	}
	if got, _ := b.adminlog.List(ctx, adminaudit.Filter{Action: adminaudit.AdminCreate}); len(got) != 0 {
		t.Errorf("refused forms were audited: %+v", got)
	}
}

// Every console action writes exactly one audit row naming the admin, the
// action, the tenant and what was acted on.
func TestEveryActionIsAudited(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	if _, err := b.admins.Create(ctx, otherEmail, otherPassword); err != nil {
		t.Fatal(err)
	}
	br := b.browser(t)
	log := adminaudittest.Follow(t, b.adminlog)
	expect := func(t *testing.T, action adminaudit.Action, tenantID int64, target string) adminaudit.Entry {
		t.Helper()
		e := log.Next(t)
		tid := int64(0)
		if e.TenantID != nil {
			tid = *e.TenantID
		}
		if e.Action != action || tid != tenantID || (target != "*" && e.Target != target) || e.Actor != adminEmail ||
			e.AdminID == nil || e.ClientIP == nil || !e.ClientIP.IsLoopback() {
			t.Fatalf("audit row %+v, want %s on tenant %d target %q by %s from loopback", e, action, tenantID, target, adminEmail)
		}
		return e
	}

	mustRedirect(t, br.loginAs(adminEmail, adminPassword), "/calls")
	expect(t, adminaudit.Login, 0, "")
	br.get("/tenants")

	mustRedirect(t, br.post("/tenants", url.Values{"slug": {"gamma"}, "name": {"Gamma"}, "retention_days": {"7"}, "embed_origins": {"https://app.gamma.example"}}), "/tenants?created=gamma")
	gamma, _ := b.tenants.BySlug(ctx, "gamma")
	if e := expect(t, adminaudit.TenantCreate, gamma.ID, "gamma"); !strings.Contains(e.Detail, "retention 7 days") || !strings.Contains(e.Detail, "https://app.gamma.example") {
		t.Errorf("detail %q", e.Detail)
	}
	mustRedirect(t, br.post("/tenants/gamma/status", url.Values{"status": {"suspended"}}), "/tenants/gamma")
	expect(t, adminaudit.TenantSuspend, gamma.ID, "gamma")
	mustRedirect(t, br.post("/tenants/gamma/status", url.Values{"status": {"active"}}), "/tenants/gamma")
	expect(t, adminaudit.TenantResume, gamma.ID, "gamma")
	mustRedirect(t, br.post("/tenants/gamma/settings", url.Values{"name": {"Gamma Ltd"}, "retention_days": {"9"}, "embed_origins": {""}}), "/tenants/gamma")
	if e := expect(t, adminaudit.TenantSettings, gamma.ID, "gamma"); !strings.Contains(e.Detail, `name "Gamma Ltd", retention 9 days`) {
		t.Errorf("detail %q", e.Detail)
	}
	mustRedirect(t, br.post("/tenants/gamma/aliases", url.Values{"aliases": {"10.0.0.1 = PBX\n10.0.0.2:5060 = SBC"}}), "/tenants/gamma")
	if e := expect(t, adminaudit.TenantAliases, gamma.ID, "gamma"); e.Detail != "10.0.0.1 = PBX; 10.0.0.2:5060 = SBC" {
		t.Errorf("detail %q", e.Detail)
	}
	mustRedirect(t, br.post("/nodes", url.Values{"tenant": {strconv.FormatInt(gamma.ID, 10)}, "capture_id": {"4321"}, "name": {"edge"}, "auth_mode": {"none"}}), "/nodes?added=4321")
	expect(t, adminaudit.NodeAdd, gamma.ID, "4321")
	mustRedirect(t, br.post("/nodes/remove", url.Values{"tenant": {strconv.FormatInt(gamma.ID, 10)}, "capture_id": {"4321"}}), "/nodes?removed=4321")
	expect(t, adminaudit.NodeRemove, gamma.ID, "4321")

	mustStatus(t, br.post("/tenants/gamma/apikeys", url.Values{"name": {"orchestrator"}}), http.StatusOK)
	key := expect(t, adminaudit.APIKeyCreate, gamma.ID, "*")
	mustRedirect(t, br.post("/tenants/gamma/apikeys/revoke", url.Values{"prefix": {key.Target}}), "/tenants/gamma/keys")
	expect(t, adminaudit.APIKeyRevoke, gamma.ID, key.Target)
	jwk := `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"gamma-2026"}`
	mustRedirect(t, br.post("/tenants/gamma/tenantkeys", url.Values{"jwk": {jwk}}), "/tenants/gamma/keys?done=added")
	expect(t, adminaudit.TenantKeyAdd, gamma.ID, "gamma-2026")
	mustRedirect(t, br.post("/tenants/gamma/tenantkeys/disable", url.Values{"kid": {"gamma-2026"}}), "/tenants/gamma/keys?done=disabled")
	expect(t, adminaudit.TenantKeyDisable, gamma.ID, "gamma-2026")

	now := b.clock.Now().UTC()
	mustStatus(t, br.post("/calls/share", url.Values{"tenant": {strconv.FormatInt(gamma.ID, 10)}, "call_id": {"c1@gamma"},
		"from": {now.Add(-time.Hour).Format("2006-01-02T15:04:05")}, "to": {now.Format("2006-01-02T15:04:05")}, "ttl": {"15m"}, "pcap": {"on"}}), http.StatusOK)
	link := expect(t, adminaudit.LinkShare, gamma.ID, "*")
	if !strings.Contains(link.Detail, `call "c1@gamma"`) || !strings.Contains(link.Detail, "scopes pcap") {
		t.Errorf("detail %q", link.Detail)
	}
	mustRedirect(t, br.post("/tenants/gamma/links/revoke", url.Values{"jti": {link.Target}}), "/tenants/gamma/links")
	expect(t, adminaudit.LinkRevoke, gamma.ID, link.Target)
	mustRedirect(t, br.post("/tenants/gamma/links/revoke-all", nil), "/tenants/gamma/links")
	expect(t, adminaudit.LinkRevokeAll, gamma.ID, "")

	mustRedirect(t, br.post("/admins", url.Values{"email": {"third@example.com"}, "password": {otherPassword}}), "/admins")
	expect(t, adminaudit.AdminCreate, 0, "third@example.com")
	mustRedirect(t, br.post("/admins/disable", url.Values{"email": {otherEmail}}), "/admins")
	expect(t, adminaudit.AdminDisable, 0, otherEmail)
	mustRedirect(t, br.post("/admins/enable", url.Values{"email": {otherEmail}}), "/admins")
	expect(t, adminaudit.AdminEnable, 0, otherEmail)
	mustRedirect(t, br.post("/admins/reset", url.Values{"email": {otherEmail}, "password": {"another long password"}}), "/admins")
	expect(t, adminaudit.AdminReset, 0, otherEmail)

	mustRedirect(t, br.post("/logout", nil), "/login")
	expect(t, adminaudit.Logout, 0, "")

	// Refused actions are not audited.
	br = b.MustAdminBrowser(t)
	expect(t, adminaudit.Login, 0, "")
	br.post("/tenants", url.Values{"slug": {"Bad Slug"}})
	br.post("/nodes/remove", url.Values{"tenant": {strconv.FormatInt(gamma.ID, 10)}, "capture_id": {"9999"}})
	br.post("/admins/disable", url.Values{"email": {adminEmail}})
	log.None(t)
}

func TestAuditPage(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	if _, err := b.admins.Create(ctx, otherEmail, otherPassword); err != nil {
		t.Fatal(err)
	}
	br := b.MustAdminBrowser(t) // one login row
	mustRedirect(t, br.post("/tenants/acme/status", url.Values{"status": {"suspended"}}), "/tenants/acme")
	night := b.browser(t)
	mustRedirect(t, night.loginAs(otherEmail, otherPassword), "/calls")
	night.get("/tenants")
	mustRedirect(t, night.post("/tenants/beta/aliases", url.Values{"aliases": {"10.0.0.9 = <b>SBC</b>"}}), "/tenants/beta")
	if err := b.adminlog.Record(ctx, adminaudit.Record{Actor: adminaudit.CLI, Action: adminaudit.NodeAdd, TenantID: b.acme.ID, Target: "2001"}); err != nil {
		t.Fatal(err)
	}

	rows := func(p page) []string {
		var out []string
		p.testid("audit-row").Each(func(_ int, s *goquery.Selection) {
			a, _ := s.Attr("data-action")
			out = append(out, s.Find(`[data-testid="audit-actor"]`).Text()+" "+a+" "+s.Find(`[data-testid="audit-tenant"]`).Text())
		})
		return out
	}
	p := br.get("/audit")
	mustStatus(t, p, http.StatusOK)
	want := []string{"cli node.add acme", otherEmail + " tenant.aliases beta", otherEmail + " login —", adminEmail + " tenant.suspend acme", adminEmail + " login —"}
	if got := rows(p); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("audit page rows:\n  got  %q\n  want %q", got, want)
	}
	// SIP-free, but still admin-typed text: escaped like everything else.
	if !strings.Contains(string(p.body), "&lt;b&gt;SBC&lt;/b&gt;") || strings.Contains(string(p.body), "<b>SBC</b>") {
		t.Error("alias text not escaped on the audit page")
	}
	for q, want := range map[string][]string{
		"actor=" + url.QueryEscape(otherEmail): {otherEmail + " tenant.aliases beta", otherEmail + " login —"},
		"actor=cli":                            {"cli node.add acme"},
		"action=login":                         {otherEmail + " login —", adminEmail + " login —"},
		"action=login&actor=" + adminEmail:     {adminEmail + " login —"},
		"tenant=acme":                          {"cli node.add acme", adminEmail + " tenant.suspend acme"},
		"tenant=beta&actor=" + adminEmail:      nil,
	} {
		p := br.get("/audit?" + q)
		mustStatus(t, p, http.StatusOK)
		if got := rows(p); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s:\n  got  %q\n  want %q", q, got, want)
		}
		if len(want) == 0 && p.testid("audit-empty").Length() != 1 {
			t.Errorf("%s: no empty-state message", q)
		}
	}
	// The filter keeps what was chosen.
	if v, _ := br.get("/audit?action=login").doc.Find(`#action option[selected]`).Attr("value"); v != "login" {
		t.Errorf("action kept as %q", v)
	}
	// Every invalid field is reported next to it, all at once.
	p = br.get("/audit?actor=mallory@example.com&action=tenant.drop&tenant=nope&before=x")
	mustStatus(t, p, http.StatusBadRequest)
	for _, id := range []string{"error-actor", "error-action", "error-tenant", "form-error"} {
		if p.testid(id).Length() != 1 {
			t.Errorf("no %s", id)
		}
	}
	if p.testid("audit-row").Length() != 0 {
		t.Error("rows listed under an invalid filter")
	}
}

func TestAuditPagePages(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	for i := range 150 {
		if err := b.adminlog.Record(ctx, adminaudit.Record{Actor: adminaudit.CLI, Action: adminaudit.NodeAdd, TenantID: b.acme.ID, Target: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	br := b.MustAdminBrowser(t)
	p := br.get("/audit?actor=cli")
	if n := p.testid("audit-row").Length(); n != 100 {
		t.Fatalf("first page: %d rows", n)
	}
	if got := p.testid("audit-target").First().Text(); got != "149" {
		t.Errorf("first row %q, want the newest", got)
	}
	next, ok := p.testid("next-page").Attr("href")
	if !ok || !strings.Contains(next, "actor=cli") {
		t.Fatalf("next page link %q", next)
	}
	p = br.get(next)
	if n := p.testid("audit-row").Length(); n != 50 || p.testid("audit-target").First().Text() != "49" || p.testid("next-page").Length() != 0 {
		t.Fatalf("second page: %d rows from %q", n, p.testid("audit-target").First().Text())
	}
}
