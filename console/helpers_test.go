package console_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/go-redis/redis_rate/v10"

	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/console"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
	"github.com/callscope/callscope/web"
)

// cheapParams keep argon2id fast in tests; the cost is auth's to test.
var cheapParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const (
	adminEmail    = "ops@example.com"
	adminPassword = "correct horse battery"
)

// clock is the injectable time of sessions.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bundle is one console over its own database and Redis prefix, with a
// real query service behind it and every auth store wired.
type bundle struct {
	db         *db.DB
	tenants    *tenantdb.Store
	admins     *authdb.AdminStore
	apikeys    *authdb.APIKeys
	tkeys      *authdb.TenantKeys
	tokens     *authdb.Tokens
	minter     *auth.Minter
	audit      *authdb.AuditWriter
	adminlog   *adminaudit.Store
	clock      *clock
	srv        *httptest.Server
	acme, beta tenant.Tenant
}

type options struct {
	noStores bool
	cfg      func(*console.Config)
}

func setup(tb testing.TB, opts ...options) *bundle {
	tb.Helper()
	var o options
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := dbtest.New(tb)
	rdb, prefix := redistest.New(tb)
	b := &bundle{db: d, tenants: tenantdb.NewStore(d), admins: authdb.NewAdminStore(d, cheapParams),
		clock: &clock{t: time.Now().UTC()}}
	if _, err := b.admins.Create(ctx, adminEmail, adminPassword); err != nil {
		tb.Fatal(err)
	}
	b.acme = MustTenant(tb, b.tenants, "acme")
	b.beta = MustTenant(tb, b.tenants, "beta")

	qe := web.New(log, "query")
	qs := query.NewServer(query.NewStore(d), tenantdb.NewCache(b.tenants, time.Millisecond), nil, query.Credentials{Console: "svc"}, log)
	qs.SetCallRecords(calls.NewStore(d, b.clock.Now))
	qs.Routes(qe.Group(""))
	qsrv := httptest.NewServer(qe)
	tb.Cleanup(qsrv.Close)

	var stores console.Stores
	if !o.noStores {
		revs := authredis.NewRevocations(rdb, prefix, nil)
		sealer, err := auth.NewSealer("test secret that is long enough for the sealer")
		if err != nil {
			tb.Fatal(err)
		}
		keys := authdb.NewKeyStore(d, sealer)
		if err := keys.EnsureActive(ctx); err != nil {
			tb.Fatal(err)
		}
		b.apikeys, b.tkeys = authdb.NewAPIKeys(d), authdb.NewTenantKeys(d, tenantdb.NewCache(b.tenants, time.Millisecond))
		b.tokens = authdb.NewTokens(d, b.tenants, revs, auth.DefaultLimits())
		b.minter = auth.NewMinter(keys, b.tokens, auth.DefaultLimits(), "https://view.example.com")
		b.audit = authdb.NewAuditWriter(d, authdb.AuditOptions{})
		b.adminlog = adminaudit.NewStore(d)
		stores = console.Stores{APIKeys: b.apikeys, TenantKeys: b.tkeys, Minter: b.minter, Tokens: b.tokens, Audit: b.audit, AdminLog: b.adminlog}
	}
	cfg := console.Config{Now: b.clock.Now}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	s := console.New(cfg, b.admins, b.tenants, rdb, prefix, queryapi.NewClient(qsrv.URL, "svc", nil), stores, log)
	e := web.New(log, "console")
	s.Routes(e)
	b.srv = httptest.NewServer(e)
	tb.Cleanup(b.srv.Close)
	return b
}

func MustTenant(tb testing.TB, s *tenantdb.Store, slug string) tenant.Tenant {
	tb.Helper()
	t, err := s.Create(context.Background(), tenant.New{Slug: slug})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// browser is a cookie-keeping client that does not follow redirects and
// sends the headers a same-origin form post carries.
type browser struct {
	tb   testing.TB
	b    *bundle
	hc   *http.Client
	csrf string // the session's token, read from the last page
}

func (b *bundle) browser(tb testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, b: b, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is a response with its parsed document.
type page struct {
	status int
	header http.Header
	body   []byte
	doc    *goquery.Document
}

func (p page) testid(id string) *goquery.Selection { return p.doc.Find(`[data-testid="` + id + `"]`) }

func (br *browser) do(req *http.Request) page {
	br.tb.Helper()
	resp, err := br.hc.Do(req)
	if err != nil {
		br.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		br.tb.Fatal(err)
	}
	if v, ok := doc.Find(`input[name="csrf"]`).First().Attr("value"); ok && resp.Request.URL.Path != "/login" {
		br.csrf = v
	}
	return page{status: resp.StatusCode, header: resp.Header, body: body, doc: doc}
}

func (br *browser) get(path string) page {
	br.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, br.b.srv.URL+path, nil)
	return br.do(req)
}

// post sends form as a same-origin browser would, adding the session's
// CSRF token unless form has one.
func (br *browser) post(path string, form url.Values) page {
	br.tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", br.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, br.b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", br.b.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return br.do(req)
}

// loginAs fetches the login form and posts it; it returns the answer.
func (br *browser) loginAs(email, password string) page {
	br.tb.Helper()
	lp := br.get("/login")
	tok, _ := lp.doc.Find(`form[data-testid="login-form"] input[name="csrf"]`).Attr("value")
	return br.post("/login", url.Values{"csrf": {tok}, "email": {email}, "password": {password}, "next": {"/calls"}})
}

// MustLogin logs the browser in as the test admin and loads a page so the
// session's CSRF token is known.
func (br *browser) MustLogin() *browser {
	br.tb.Helper()
	p := br.loginAs(adminEmail, adminPassword)
	if p.status != http.StatusSeeOther {
		br.tb.Fatalf("login: status %d: %s", p.status, p.testid("form-error").Text())
	}
	br.get("/tenants")
	if br.csrf == "" {
		br.tb.Fatal("no CSRF token on the tenants page")
	}
	return br
}

func (b *bundle) MustAdminBrowser(tb testing.TB) *browser { return b.browser(tb).MustLogin() }

func mustStatus(tb testing.TB, p page, want int) {
	tb.Helper()
	if p.status != want {
		tb.Fatalf("status %d, want %d; body:\n%.2000s", p.status, want, p.body)
	}
}

func mustRedirect(tb testing.TB, p page, prefix string) {
	tb.Helper()
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), prefix) {
		tb.Fatalf("got %d Location %q, want 303 to %s", p.status, p.header.Get("Location"), prefix)
	}
}

var _ = redis_rate.PerMinute
