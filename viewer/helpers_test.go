package viewer_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"github.com/redis/go-redis/v9"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/viewer"
	"github.com/callscope/callscope/web"
)

const serviceToken = "viewer-test-service-token"

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type memKeys struct {
	mu     sync.Mutex
	server map[string]crypto.PublicKey
	tenant map[string]map[string]crypto.PublicKey
}

func (m *memKeys) ServerKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.server[kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

func (m *memKeys) TenantKey(_ context.Context, tenant, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.tenant[tenant][kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

// syncBuffer is a log sink safe for the servers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type bundle struct {
	db       *db.DB
	acme     tenant.Tenant
	beta     tenant.Tenant
	server   auth.SigningKey
	betaKey  auth.SigningKey
	revs     *auth.Revocations
	query    *httptest.Server
	viewer   *httptest.Server
	logs     *syncBuffer
	now      time.Time
	forwards chan http.Header
}

type options struct {
	limits    auth.RateLimits
	deadRedis bool
	renderTTL time.Duration // viewer.Config.RenderCacheTTL
}

func generous() auth.RateLimits {
	l := auth.DefaultRateLimits()
	l.ViewJTI = redis_rate.PerSecond(100000)
	l.ViewIP = redis_rate.PerSecond(100000)
	l.Invalid = redis_rate.Limit{Rate: 1000, Burst: 1000, Period: time.Minute}
	return l
}

func setup(tb testing.TB, opt options) *bundle {
	tb.Helper()
	if opt.limits == (auth.RateLimits{}) {
		opt.limits = generous()
	}
	d := dbtest.New(tb)
	ts := tenant.NewStore(d)
	b := &bundle{db: d, logs: &syncBuffer{}, now: time.Now().Truncate(time.Second), forwards: make(chan http.Header, 4)}
	var err error
	ctx := context.Background()
	if b.acme, err = ts.Create(ctx, tenant.New{Slug: "acme", EmbedOrigins: []string{"https://app.acme.example", "https://portal.acme.example:8443"}}); err != nil {
		tb.Fatal(err)
	}
	if b.beta, err = ts.Create(ctx, tenant.New{Slug: "beta"}); err != nil {
		tb.Fatal(err)
	}
	b.server, _ = auth.NewSigningKey()
	b.betaKey, _ = auth.NewSigningKey()
	keys := &memKeys{server: map[string]crypto.PublicKey{b.server.KID: b.server.Public().Key},
		tenant: map[string]map[string]crypto.PublicKey{"beta": {b.betaKey.KID: b.betaKey.Public().Key}}}
	rdb, prefix := redistest.New(tb)
	b.revs = auth.NewRevocations(rdb, prefix, nil)
	log := slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// query, on loopback, as the lead mounts it.
	qv := &auth.Verifier{Keys: keys, Tenants: query.ActiveTenants(ts), Revocations: b.revs, Memo: auth.NewSigCache()}
	qe := web.New(log, "query")
	query.NewServer(query.NewStore(d), ts, qv, serviceToken, log).Routes(qe.Group(""))
	query.NewScenarioAPI(auth.NewAPIKeys(d), query.NewStore(d)).Routes(qe.Group(""))
	// Stand-ins for the auth engineer's mint API and JWKS, to see what the
	// viewer forwards.
	qe.POST("/api/v1/view-tokens", func(c echo.Context) error {
		h := c.Request().Header.Clone()
		body, _ := io.ReadAll(c.Request().Body)
		h.Set("X-Test-Body", string(body))
		b.forwards <- h
		return c.JSON(http.StatusCreated, map[string]string{"jti": "j1"})
	})
	qe.GET("/.well-known/jwks.json", func(c echo.Context) error {
		return c.JSON(http.StatusOK, auth.JWKS([]auth.PublicKey{b.server.Public()}))
	})
	b.query = httptest.NewServer(qe)
	tb.Cleanup(b.query.Close)

	qc := query.NewClient(b.query.URL, serviceToken, nil)
	dir := viewer.NewDirectory(qc)
	vrdb := rdb
	vrevs := auth.RevocationChecker(b.revs)
	rl := auth.NewRateLimiter(rdb, prefix, opt.limits)
	if opt.deadRedis {
		dead := deadRedis(tb)
		vrevs = auth.NewRevocations(dead, prefix, nil)
		rl = auth.NewRateLimiter(dead, prefix, opt.limits)
	}
	_ = vrdb
	vv := &auth.Verifier{Keys: dir, Tenants: dir, Revocations: vrevs, Memo: auth.NewSigCache()}
	ve := web.New(log, "viewer")
	viewer.New(viewer.Config{PublicURL: "http://127.0.0.1", QueryURL: b.query.URL, ServiceToken: serviceToken, RenderCacheTTL: opt.renderTTL}, qc, vv, rl, log).Routes(ve)
	b.viewer = httptest.NewServer(ve)
	tb.Cleanup(b.viewer.Close)
	return b
}

func (b *bundle) insert(tb testing.TB, calls ...querytest.Call) {
	tb.Helper()
	var rows []querytest.Row
	for _, c := range calls {
		rows = append(rows, c.Rows()...)
	}
	querytest.MustInsert(tb, b.db.Owner(), rows...)
}

func (b *bundle) claims(slug, callID string, scopes ...string) auth.Claims {
	return auth.Claims{Tenant: slug, CallID: callID, WindowStart: t0.Add(-time.Minute), WindowEnd: t0.Add(time.Hour),
		IssuedAt: b.now, Expiry: b.now.Add(15 * time.Minute), Scopes: scopes}
}

func mint(tb testing.TB, key auth.SigningKey, c auth.Claims) string {
	tb.Helper()
	tok, err := auth.Mint(key, c)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// rawToken signs arbitrary header and claims JSON with an Ed25519 key, for
// the shapes auth.Mint refuses to produce.
func rawToken(key ed25519.PrivateKey, header, claims string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	return signing + "." + enc.EncodeToString(ed25519.Sign(key, []byte(signing)))
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(tb testing.TB, method, url string, body io.Reader, hdr map[string]string) response {
	tb.Helper()
	req, _ := http.NewRequest(method, url, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// Every /v/ answer, page or error, says its length (web.Blob) rather
	// than arriving in chunks.
	if strings.Contains(url, "/v/") && resp.ContentLength != int64(len(b)) {
		tb.Errorf("%s %s: Content-Length %d, body of %d bytes", method, url, resp.ContentLength, len(b))
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func get(tb testing.TB, url string) response { return do(tb, http.MethodGet, url, nil, nil) }

// checkHeaders asserts the headers every viewer response carries.
func checkHeaders(tb testing.TB, what string, h http.Header, ancestors string) {
	tb.Helper()
	want := "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors " + ancestors + "; base-uri 'none'; form-action 'none'"
	if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != want {
		tb.Errorf("%s: CSP %q, want %q", what, got, want)
	}
	if h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
		tb.Errorf("%s: Referrer-Policy %q nosniff %q", what, h.Get("Referrer-Policy"), h.Get("X-Content-Type-Options"))
	}
	if !strings.HasPrefix(what, "/static/") && h.Get("Cache-Control") != "no-store" {
		tb.Errorf("%s: Cache-Control %q", what, h.Get("Cache-Control"))
	}
}

func deadRedis(tb testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
