package viewer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/go-redis/redis_rate/v10"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/query/querytest"
)

const acmeAncestors = "https://app.acme.example https://portal.acme.example:8443"

func TestViewPage(t *testing.T) {
	b := setup(t, options{})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "page-1@acme", Start: t0})
	tok := mint(t, b.server, b.claims("acme", "page-1@acme", auth.ScopePCAP))

	r := get(t, b.viewer.URL+"/v/"+tok+"?theme=dark")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkHeaders(t, "page", r.header, acmeAncestors)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Find(`[data-testid="call-id"]`).Text(); got != "page-1@acme" {
		t.Errorf("call id %q", got)
	}
	if doc.Find(`[data-testid="pcap-download"]`).Length() != 1 || doc.Find(`[data-testid="text-download"]`).Length() != 1 {
		t.Error("download links missing")
	}
	if doc.Find("svg").Length() == 0 {
		t.Error("no ladder svg")
	}
	if doc.Find("script").Length() != 0 {
		t.Error("the page carries a script")
	}

	for _, sub := range []struct{ path, ctype string }{{"/text", "text/plain"}, {"/pcap", "application/vnd.tcpdump.pcap"}} {
		r := get(t, b.viewer.URL+"/v/"+tok+sub.path)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), sub.ctype) {
			t.Errorf("%s: %d %s", sub.path, r.status, r.header.Get("Content-Type"))
		}
		checkHeaders(t, sub.path, r.header, acmeAncestors)
	}

	// Without scope pcap: no link, and the download is a not-found page.
	noPCAP := mint(t, b.server, b.claims("acme", "page-1@acme"))
	r = get(t, b.viewer.URL+"/v/"+noPCAP)
	if strings.Contains(r.body, "pcap-download") {
		t.Error("pcap link shown without scope")
	}
	r = get(t, b.viewer.URL+"/v/"+noPCAP+"/pcap")
	if r.status != http.StatusNotFound || !strings.Contains(r.body, `data-kind="not_found"`) {
		t.Errorf("pcap without scope: %d", r.status)
	}
	checkHeaders(t, "pcap without scope", r.header, acmeAncestors)
}

// Both tenants hold a call with the same Call-ID: beta's token shows beta's.
func TestViewTenantIsolation(t *testing.T) {
	b := setup(t, options{})
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "same@id", Start: t0, FromUser: "acmesecret"},
		querytest.Call{TenantID: b.beta.ID, CallID: "same@id", Start: t0, FromUser: "betacaller"},
		querytest.Call{TenantID: b.acme.ID, CallID: "acme-only", Start: t0},
	)
	for _, tok := range []string{
		mint(t, b.server, b.claims("beta", "same@id")),
		mint(t, b.betaKey, func() auth.Claims { c := b.claims("beta", "same@id"); c.Issuer = "beta"; return c }()),
	} {
		r := get(t, b.viewer.URL+"/v/"+tok)
		if r.status != http.StatusOK || strings.Contains(r.body, "acmesecret") || !strings.Contains(r.body, "betacaller") {
			t.Errorf("beta's token: %d, acme's data shown: %v", r.status, strings.Contains(r.body, "acmesecret"))
		}
		checkHeaders(t, "beta page", r.header, "'none'")
	}
	missing := get(t, b.viewer.URL+"/v/"+mint(t, b.server, b.claims("beta", "never-existed")))
	other := get(t, b.viewer.URL+"/v/"+mint(t, b.server, b.claims("beta", "acme-only")))
	if other.status != http.StatusNotFound || missing.status != http.StatusNotFound {
		t.Fatalf("statuses %d %d", other.status, missing.status)
	}
	strip := func(s string) string {
		i := strings.Index(s, `data-testid="request-id">`)
		j := strings.Index(s[i:], "<")
		return s[:i] + s[i+j:]
	}
	if strip(other.body) != strip(missing.body) {
		t.Error("another tenant's call does not look like a missing one")
	}
}

func TestRefusedTokens(t *testing.T) {
	b := setup(t, options{})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0})
	ctx := context.Background()
	c := b.claims("acme", "c1", auth.ScopePCAP)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	claimsJSON := fmt.Sprintf(`{"iss":"callscope","aud":"callscope-viewer","tid":"acme","call_id":"c1","window_start":%d,"window_end":%d,"iat":%d,"exp":%d,"jti":"x1"}`,
		c.WindowStart.Unix(), c.WindowEnd.Unix(), b.now.Unix(), b.now.Add(time.Minute).Unix())

	expired := c
	expired.IssuedAt, expired.Expiry = b.now.Add(-time.Hour), b.now.Add(-30*time.Minute)
	revoked := c
	revoked.ID = "revoked-jti"
	if err := b.revs.RevokeJTI(ctx, "acme", "revoked-jti", b.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wrongTenantKey := c
	wrongTenantKey.Issuer = "acme" // signed with beta's key, claiming acme
	crossTenant := c
	crossTenant.Issuer, crossTenant.Tenant = "beta", "acme"
	longLife := c
	longLife.Expiry = b.now.Add(3 * time.Hour)
	valid := mint(t, b.server, c)
	tampered := valid[:len(valid)-4] + "AAAA"
	if tampered == valid {
		tampered = valid[:len(valid)-4] + "BBBB"
	}

	for _, tc := range []struct {
		name, token, kind string
		status            int
		ancestors         string
	}{
		{"AlgNone", rawToken(stranger, `{"alg":"none","typ":"call-view+jwt","kid":"`+b.server.KID+`"}`, claimsJSON), "invalid", 401, "'none'"},
		{"AlgHS256", rawToken(stranger, `{"alg":"HS256","typ":"call-view+jwt","kid":"`+b.server.KID+`"}`, claimsJSON), "invalid", 401, "'none'"},
		{"WrongKid", rawToken(stranger, `{"alg":"EdDSA","typ":"call-view+jwt","kid":"no-such-kid"}`, claimsJSON), "invalid", 401, "'none'"},
		{"KnownKidWrongKey", rawToken(stranger, `{"alg":"EdDSA","typ":"call-view+jwt","kid":"`+b.server.KID+`"}`, claimsJSON), "invalid", 401, "'none'"},
		{"HostileKid", rawToken(stranger, `{"alg":"EdDSA","typ":"call-view+jwt","kid":"../../etc/passwd"}`, claimsJSON), "invalid", 401, "'none'"},
		{"JKU", rawToken(stranger, `{"alg":"EdDSA","typ":"call-view+jwt","kid":"k","jku":"http://127.0.0.1/keys"}`, claimsJSON), "invalid", 401, "'none'"},
		{"NoTyp", rawToken(b.server.Private, `{"alg":"EdDSA","kid":"`+b.server.KID+`"}`, claimsJSON), "invalid", 401, "'none'"},
		{"Tampered", tampered, "invalid", 401, "'none'"},
		{"WrongTenantKey", mint(t, b.betaKey, wrongTenantKey), "invalid", 401, "'none'"},
		{"TenantKeyForOtherTenant", mint(t, b.betaKey, crossTenant), "invalid", 401, "'none'"},
		{"LifetimeTooLong", mint(t, b.server, longLife), "invalid", 401, "'none'"},
		{"Expired", mint(t, b.server, expired), "expired", 401, acmeAncestors},
		{"Revoked", mint(t, b.server, revoked), "revoked", 401, acmeAncestors},
		{"Oversized", strings.Repeat("a", 2100) + "." + strings.Repeat("b", 2100) + ".c", "invalid", 401, "'none'"},
		{"Garbage", "hello<script>", "invalid", 401, "'none'"},
		{"TwoSegments", "abc.def", "invalid", 401, "'none'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sub := range []string{"", "/text", "/pcap"} {
				r := get(t, b.viewer.URL+"/v/"+tc.token+sub)
				if r.status != tc.status || !strings.Contains(r.body, `data-kind="`+tc.kind+`"`) {
					t.Errorf("%q: status %d, want %d kind %s", sub, r.status, tc.status, tc.kind)
				}
				checkHeaders(t, tc.name+sub, r.header, tc.ancestors)
				if strings.Contains(r.body, tc.token) {
					t.Errorf("%q: the page repeats the token", sub)
				}
				for _, leak := range []string{"signature", "kid", "algorithm", "key"} {
					if strings.Contains(strings.ToLower(r.body), leak) {
						t.Errorf("%q: the page says %q", sub, leak)
					}
				}
			}
		})
	}
	t.Run("TenantSuspended", func(t *testing.T) {
		if _, err := b.db.Owner().Exec(ctx, `UPDATE tenants SET status = 'suspended' WHERE slug = 'beta'`); err != nil {
			t.Fatal(err)
		}
		r := get(t, b.viewer.URL+"/v/"+mint(t, b.server, b.claims("beta", "c1")))
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `data-kind="revoked"`) {
			t.Errorf("suspended tenant: %d", r.status)
		}
	})
}

func TestInvalidTokenBudget(t *testing.T) {
	lim := generous()
	lim.Invalid = redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Minute}
	b := setup(t, options{limits: lim})
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	bad := rawToken(stranger, `{"alg":"EdDSA","typ":"call-view+jwt","kid":"`+b.server.KID+`"}`, `{"iss":"callscope"}`)
	for i := range 2 {
		if r := get(t, b.viewer.URL+"/v/"+bad); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	// The budget is spent: even a valid token from this IP waits.
	r := get(t, b.viewer.URL+"/v/"+mint(t, b.server, b.claims("acme", "c1")))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, `data-kind="rate_limited"`) {
		t.Errorf("status %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	checkHeaders(t, "rate limited", r.header, "'none'")
}

func TestViewRateLimitPerToken(t *testing.T) {
	lim := generous()
	lim.ViewToken = redis_rate.Limit{Rate: 1, Burst: 1, Period: time.Minute}
	b := setup(t, options{limits: lim})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0})
	tok := mint(t, b.server, b.claims("acme", "c1"))
	if r := get(t, b.viewer.URL+"/v/"+tok); r.status != http.StatusOK {
		t.Fatalf("first view: %d", r.status)
	}
	r := get(t, b.viewer.URL+"/v/"+tok)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("second view: %d", r.status)
	}
	checkHeaders(t, "rate limited", r.header, acmeAncestors)
}

func TestRedisDownFailsClosed(t *testing.T) {
	b := setup(t, options{deadRedis: true})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0})
	for _, sub := range []string{"", "/text", "/pcap"} {
		r := get(t, b.viewer.URL+"/v/"+mint(t, b.server, b.claims("acme", "c1", auth.ScopePCAP))+sub)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, `data-kind="unavailable"`) {
			t.Errorf("%q: %d", sub, r.status)
		}
		checkHeaders(t, "redis down"+sub, r.header, "'none'")
	}
}

func TestHeadersOnEveryRoute(t *testing.T) {
	b := setup(t, options{})
	for _, tc := range []struct {
		method, path string
	}{
		{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/nope"}, {"GET", "/v/"}, {"GET", "/v/a.b.c/other"},
		{"POST", "/v/a.b.c"}, {"GET", "/.well-known/jwks.json"}, {"DELETE", "/api/v1/view-tokens/j1"},
		{"GET", "/static/app.css"}, {"GET", "/static/nope.css"},
	} {
		r := do(t, tc.method, b.viewer.URL+tc.path, nil, nil)
		checkHeaders(t, tc.path, r.header, "'none'")
	}
	if r := get(t, b.viewer.URL+"/readyz"); r.status != http.StatusOK {
		t.Errorf("readyz %d %s", r.status, r.body)
	}
}

func TestForwardMintAPI(t *testing.T) {
	b := setup(t, options{})
	r := do(t, http.MethodPost, b.viewer.URL+"/api/v1/view-tokens", strings.NewReader(`{"call_id":"c1"}`),
		map[string]string{"Authorization": "Bearer csk_test", "Content-Type": "application/json", "X-Forwarded-For": "6.6.6.6"})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	h := <-b.forwards
	if h.Get("Authorization") != "Bearer csk_test" || h.Get("X-Test-Body") != `{"call_id":"c1"}` {
		t.Errorf("forwarded headers %v", h)
	}
	if xff := h.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q: the client's own claim must not pass", xff)
	}
	checkHeaders(t, "mint", r.header, "'none'")
	r = get(t, b.viewer.URL+"/.well-known/jwks.json")
	if r.status != http.StatusOK || !strings.Contains(r.body, b.server.KID) {
		t.Errorf("jwks: %d %s", r.status, r.body)
	}
}
