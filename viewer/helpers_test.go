package viewer_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/auth/authtest"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
	"github.com/callscope/callscope/viewer"
	"github.com/callscope/callscope/web"
)

// The callers' credentials to query; the viewer holds only its own.
const (
	consoleToken = "console-test-token"
	viewerToken  = "viewer-test-token"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

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
	revs     *authredis.Revocations
	tokens   *authdb.Tokens
	rdb      *redis.Client
	prefix   string
	query    *httptest.Server
	viewer   *httptest.Server
	logs     *syncBuffer
	now      time.Time
	forwards chan http.Header
}

type options struct {
	limits    authredis.RateLimits
	deadRedis bool
	renderTTL time.Duration  // viewer.Config.RenderCacheTTL
	proxies   []netip.Prefix // viewer.Config.TrustedProxies
	redis     *redis.Client  // a Redis of the test's own (redistest.Server); nil: the shared one
}

func generous() authredis.RateLimits {
	l := authredis.DefaultRateLimits()
	l.ViewToken = redis_rate.PerSecond(100000)
	l.ViewIP = redis_rate.PerSecond(100000)
	l.Invalid = redis_rate.Limit{Rate: 1000, Burst: 1000, Period: time.Minute}
	return l
}

func setup(tb testing.TB, opt options) *bundle {
	tb.Helper()
	if opt.limits == (authredis.RateLimits{}) {
		opt.limits = generous()
	}
	d := dbtest.New(tb)
	ts := tenantdb.NewStore(d)
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
	keys := &authtest.Keys{Server: map[string]crypto.PublicKey{b.server.KID: b.server.Public().Key},
		Tenant: map[string]map[string]crypto.PublicKey{"beta": {b.betaKey.KID: b.betaKey.Public().Key}}}
	rdb, prefix := opt.redis, "cs:"
	if rdb == nil {
		rdb, prefix = redistest.New(tb)
	}
	b.rdb, b.prefix = rdb, prefix
	b.revs = authredis.NewRevocations(rdb, prefix, nil)
	b.tokens = authdb.NewTokens(d, ts, b.revs, auth.DefaultLimits())
	b.revs.SetRebuild(b.tokens.SyncTenant)
	log := slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// query, on loopback, as serve mounts it.
	cached := tenantdb.NewCache(ts, time.Millisecond)
	qv := &auth.Verifier{Keys: keys, Tenants: cached, Revocations: b.revs, Memo: auth.NewMemo()}
	qe := web.New(log, "query")
	qs := query.NewServer(query.NewStore(d), cached, qv, query.Credentials{Console: consoleToken, Viewer: viewerToken}, log)
	qs.SetRevocationSync(b.tokens)
	qs.Routes(qe.Group(""))
	query.NewScenarioAPI(authdb.NewAPIKeys(d), query.NewStore(d)).Routes(qe.Group(""))
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

	qc := queryapi.NewClient(b.query.URL, viewerToken, nil)
	dir := viewer.NewDirectory(qc)
	vrevs := authredis.NewRevocations(rdb, prefix, nil)
	rl := authredis.NewRateLimiter(rdb, prefix, opt.limits)
	if opt.deadRedis {
		dead := deadRedis(tb)
		vrevs = authredis.NewRevocations(dead, prefix, nil)
		rl = authredis.NewRateLimiter(dead, prefix, opt.limits)
	}
	vrevs.SetRebuild(qc.SyncRevocations)
	vv := &auth.Verifier{Keys: dir, Tenants: dir, Revocations: vrevs, Memo: auth.NewMemo()}
	ve := web.New(log, "viewer")
	viewer.New(viewer.Config{PublicURL: "http://127.0.0.1", QueryURL: b.query.URL, RenderCacheTTL: opt.renderTTL, TrustedProxies: opt.proxies},
		qc, vv, authredis.NewGate(vv, rl), log).Routes(ve)
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
