package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/callscope/callscope/console"
)

func TestLogin(t *testing.T) {
	b := setup(t)

	t.Run("OK", func(t *testing.T) {
		br := b.browser(t)
		p := br.loginAs(adminEmail, adminPassword)
		mustRedirect(t, p, "/calls")
		var sess *http.Cookie
		for _, c := range p.header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "callscope_session=") {
				sess, _ = http.ParseSetCookie(c)
			}
		}
		if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" || len(sess.Value) != 43 {
			t.Fatalf("session cookie %+v", sess)
		}
		home := br.get("/calls")
		mustStatus(t, home, http.StatusOK)
		if got := home.testid("admin-email").Text(); got != adminEmail {
			t.Errorf("admin email %q", got)
		}
	})
	t.Run("RotatesSessionID", func(t *testing.T) {
		// A session id planted in the victim's browser before login
		// (fixation) is replaced at login, and the old session ends.
		u, _ := url.Parse(b.srv.URL)
		attacker := b.browser(t).MustLogin()
		planted := cookieValue(attacker.hc.Jar.Cookies(u), "callscope_session")
		victim := b.browser(t)
		lp := victim.get("/login")
		tok, _ := lp.doc.Find(`input[name="csrf"]`).Attr("value")
		victim.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "callscope_session", Value: planted, Path: "/"}})
		mustRedirect(t, victim.post("/login", url.Values{"csrf": {tok}, "email": {adminEmail}, "password": {adminPassword}}), "/calls")
		if got := cookieValue(victim.hc.Jar.Cookies(u), "callscope_session"); got == planted || got == "" {
			t.Fatal("session id kept across login")
		}
		mustRedirect(t, attacker.get("/calls"), "/login")
	})
	t.Run("WrongPasswordIsGeneric", func(t *testing.T) {
		br := b.browser(t)
		p1 := br.loginAs(adminEmail, "wrong password!")
		p2 := br.loginAs("nobody@example.com", "wrong password!")
		mustStatus(t, p1, http.StatusUnauthorized)
		mustStatus(t, p2, http.StatusUnauthorized)
		if p1.testid("form-error").Text() != p2.testid("form-error").Text() {
			t.Error("unknown email and wrong password answer differently")
		}
		if v, _ := p2.doc.Find("#email").Attr("value"); v != "nobody@example.com" {
			t.Errorf("email not kept: %q", v)
		}
	})
	t.Run("RefusesWithoutLoginToken", func(t *testing.T) {
		br := b.browser(t)
		p := br.post("/login", url.Values{"csrf": {"x"}, "email": {adminEmail}, "password": {adminPassword}})
		mustStatus(t, p, http.StatusForbidden)
	})
	t.Run("NoOpenRedirect", func(t *testing.T) {
		br := b.browser(t)
		lp := br.get("/login")
		tok, _ := lp.doc.Find(`input[name="csrf"]`).Attr("value")
		p := br.post("/login", url.Values{"csrf": {tok}, "email": {adminEmail}, "password": {adminPassword}, "next": {"//evil.example/x"}})
		mustRedirect(t, p, "/calls")
	})
}

func cookieValue(cs []*http.Cookie, name string) string {
	for _, c := range cs {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func TestLogout(t *testing.T) {
	b := setup(t)
	br := b.MustAdminBrowser(t)
	mustRedirect(t, br.post("/logout", nil), "/login")
	mustRedirect(t, br.get("/calls"), "/login")
}

func TestSessionExpiry(t *testing.T) {
	b := setup(t)
	t.Run("Idle", func(t *testing.T) {
		br := b.MustAdminBrowser(t)
		b.clock.Advance(29 * time.Minute)
		mustStatus(t, br.get("/calls"), http.StatusOK) // activity refreshes the idle deadline
		b.clock.Advance(29 * time.Minute)
		mustStatus(t, br.get("/calls"), http.StatusOK)
		b.clock.Advance(console.DefaultIdleTimeout)
		mustRedirect(t, br.get("/calls"), "/login?next=%2Fcalls")
	})
	t.Run("Absolute", func(t *testing.T) {
		br := b.MustAdminBrowser(t)
		for range 24 { // active every 29 minutes: 11h36m
			b.clock.Advance(29 * time.Minute)
			mustStatus(t, br.get("/tenants"), http.StatusOK)
		}
		b.clock.Advance(25 * time.Minute) // never idle, but 12h01m old
		mustRedirect(t, br.get("/tenants"), "/login")
	})
}

func TestLoginThrottling(t *testing.T) {
	t.Run("PerAccount", func(t *testing.T) {
		b := setup(t, options{cfg: func(c *console.Config) {
			c.LoginPerAccount = redis_rate.Limit{Rate: 3, Burst: 3, Period: time.Hour}
		}})
		br := b.browser(t)
		for i := range 3 {
			mustStatus(t, br.loginAs(adminEmail, "bad password "+string(rune('a'+i))), http.StatusUnauthorized)
		}
		p := br.loginAs(adminEmail, adminPassword) // even the right password waits
		mustStatus(t, p, http.StatusTooManyRequests)
		if !strings.Contains(p.testid("form-error").Text(), "Too many login attempts") || p.header.Get("Retry-After") == "" {
			t.Fatalf("throttle message %q, Retry-After %q", p.testid("form-error").Text(), p.header.Get("Retry-After"))
		}
		// Another account from the same place is not affected by this budget.
		mustStatus(t, br.loginAs("other@example.com", "bad password"), http.StatusUnauthorized)
	})
	t.Run("PerIP", func(t *testing.T) {
		b := setup(t, options{cfg: func(c *console.Config) {
			c.LoginPerIP = redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Hour}
		}})
		br := b.browser(t)
		mustStatus(t, br.loginAs("a@example.com", "bad password"), http.StatusUnauthorized)
		mustStatus(t, br.loginAs("b@example.com", "bad password"), http.StatusUnauthorized)
		mustStatus(t, br.loginAs("c@example.com", "bad password"), http.StatusTooManyRequests)
		// X-Forwarded-For is not trusted to pick another budget.
		lp := br.get("/login")
		tok, _ := lp.doc.Find(`input[name="csrf"]`).Attr("value")
		req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/login", strings.NewReader(url.Values{
			"csrf": {tok}, "email": {"d@example.com"}, "password": {"bad password"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		mustStatus(t, br.do(req), http.StatusTooManyRequests)
	})
}

func TestCSRF(t *testing.T) {
	b := setup(t)
	br := b.MustAdminBrowser(t)
	form := func(csrf string) url.Values {
		v := url.Values{"slug": {"gamma"}, "name": {"Gamma"}, "retention_days": {"30"}}
		if csrf != "-" {
			v.Set("csrf", csrf)
		}
		return v
	}
	for name, tc := range map[string]struct {
		form    url.Values
		headers map[string]string
	}{
		"NoToken":        {form: form("")},
		"WrongToken":     {form: form(strings.Repeat("A", 43))},
		"CrossSite":      {form: form(br.csrf), headers: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"ForeignOrigin":  {form: form(br.csrf), headers: map[string]string{"Origin": "https://evil.example"}},
		"NullOrigin":     {form: form(br.csrf), headers: map[string]string{"Origin": "null"}},
		"OtherSiteToken": {form: form(b.MustAdminBrowser(t).csrf)},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/tenants", strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			p := br.do(req)
			mustStatus(t, p, http.StatusForbidden)
			if _, err := b.tenants.BySlug(t.Context(), "gamma"); err == nil {
				t.Fatal("tenant created despite a refused CSRF check")
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		mustRedirect(t, br.post("/tenants", form(br.csrf)), "/tenants?created=gamma")
	})
}

func TestRequiresLogin(t *testing.T) {
	b := setup(t)
	br := b.browser(t)
	for _, path := range []string{"/", "/calls", "/calls/view?tenant=1&call_id=x&from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z",
		"/calls/pcap", "/calls/text", "/tenants", "/tenants/acme", "/tenants/acme/keys", "/tenants/acme/links", "/nodes", "/admins", "/audit"} {
		p := br.get(path)
		mustRedirect(t, p, "/login")
		if p.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: no security headers on the redirect", path)
		}
	}
	for _, path := range []string{"/logout", "/tenants", "/tenants/acme/status", "/nodes", "/nodes/remove", "/calls/share",
		"/tenants/acme/apikeys", "/tenants/acme/links/revoke-all", "/admins", "/admins/disable", "/admins/enable", "/admins/reset"} {
		mustRedirect(t, br.post(path, url.Values{"status": {"suspended"}, "email": {adminEmail}, "password": {"an attacker's password"}}), "/login")
	}
	if a, err := b.admins.ByEmail(t.Context(), adminEmail); err != nil || a.Disabled || a.SessionEpoch != 0 {
		t.Fatalf("an anonymous post changed the admin: %+v %v", a, err)
	}
	if ts, _ := b.tenants.BySlug(t.Context(), "acme"); !ts.Active() {
		t.Fatal("an anonymous post suspended a tenant")
	}
}

func TestSecurityHeaders(t *testing.T) {
	b := setup(t)
	br := b.MustAdminBrowser(t)
	for _, path := range []string{"/login", "/calls", "/tenants/nope", "/no/such/page"} {
		h := br.get(path).header
		for k, v := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
			"X-Frame-Options":         "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
		} {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q", path, k, h.Get(k))
			}
		}
	}
}
