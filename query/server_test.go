package query_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/auth/authtest"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/tenant/tenantdb"
	"github.com/callscope/callscope/web"
)

// The callers' credentials: each opens only its own routes.
const (
	consoleToken = "console-test-token-0123456789"
	viewerToken  = "viewer-test-token-0123456789"
)

var testCreds = query.Credentials{Console: consoleToken, Viewer: viewerToken}

type httpBundle struct {
	*bundle
	server  auth.SigningKey
	betaKey auth.SigningKey
	revs    *authredis.Revocations
	srv     *httptest.Server
	client  *queryapi.Client // the console's
	edge    *queryapi.Client // the viewer's
	now     time.Time
}

func setupHTTP(t *testing.T) *httpBundle {
	t.Helper()
	b := setup(t)
	rdb, prefix := redistest.New(t)
	h := &httpBundle{bundle: b, now: time.Now().Truncate(time.Second)}
	var err error
	if h.server, err = auth.NewSigningKey(); err != nil {
		t.Fatal(err)
	}
	if h.betaKey, err = auth.NewSigningKey(); err != nil {
		t.Fatal(err)
	}
	keys := &authtest.Keys{Server: map[string]crypto.PublicKey{h.server.KID: h.server.Public().Key},
		Tenant: map[string]map[string]crypto.PublicKey{"beta": {h.betaKey.KID: h.betaKey.Public().Key}}}
	h.revs = emptyRevocations(rdb, prefix)
	cached := tenantdb.NewCache(b.tenants, time.Millisecond)
	v := &auth.Verifier{Keys: keys, Tenants: cached, Revocations: h.revs, Memo: auth.NewMemo()}
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)), "query")
	qs := query.NewServer(b.store, cached, v, testCreds, slog.New(slog.NewTextHandler(io.Discard, nil)))
	qs.SetCallRecords(calls.NewStore(b.db, nil))
	qs.Routes(e.Group(""))
	h.srv = httptest.NewServer(e)
	t.Cleanup(h.srv.Close)
	h.client = queryapi.NewClient(h.srv.URL, consoleToken, nil)
	h.edge = queryapi.NewClient(h.srv.URL, viewerToken, nil)
	return h
}

// emptyRevocations is the Redis revocation store over a PostgreSQL record
// holding no revocation: a tenant's missing state is rebuilt empty.
func emptyRevocations(rdb redis.UniversalClient, prefix string) *authredis.Revocations {
	r := authredis.NewRevocations(rdb, prefix, nil)
	r.SetRebuild(func(ctx context.Context, tenant string) error {
		return r.Restore(ctx, auth.TenantRevocations{Tenant: tenant})
	})
	return r
}

// mint signs a server token for tenant slug and callID over [from, to].
func (h *httpBundle) mint(t *testing.T, slug, callID string, from, to time.Time, scopes ...string) string {
	t.Helper()
	tok, err := auth.Mint(h.server, auth.Claims{Tenant: slug, CallID: callID, WindowStart: from, WindowEnd: to,
		IssuedAt: h.now, Expiry: h.now.Add(15 * time.Minute), Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

var requestIDRE = regexp.MustCompile(`"request_id":"[^"]*"`)

// TestCallersCredentials: each caller's credential opens its own routes
// and no other. The viewer's, the credential of the public edge, is
// refused on every admin route: a compromised edge reads nothing of any
// tenant that a valid token could not.
func TestCallersCredentials(t *testing.T) {
	h := setupHTTP(t)
	admin := []string{
		"/internal/v1/admin/search?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/call?tenant_id=1&call_id=x&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/pcap?tenant_id=1&call_id=x&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/text?tenant_id=1&call_id=x&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/calls?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/calls?tenant=1&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/stats?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
	}
	edge := []string{
		"/internal/v1/tenants/public?slug=acme",
		"/internal/v1/keys/server?kid=" + h.server.KID,
		"/internal/v1/keys/tenant?tenant=beta&kid=" + h.betaKey.KID,
	}
	view := h.mint(t, "acme", "x", t0, t0.Add(time.Hour))
	check := func(paths []string, own string, refused ...string) {
		t.Helper()
		for _, path := range paths {
			for _, tok := range refused {
				if status, _ := get(t, h.srv.URL+path, tok); status != http.StatusUnauthorized {
					t.Errorf("%s with %.12q: %d, want 401", path, tok, status)
				}
			}
			if status, _ := get(t, h.srv.URL+path, own); status == http.StatusUnauthorized {
				t.Errorf("%s refuses its own caller's credential", path)
			}
		}
	}
	check(admin, consoleToken, "", "wrong", consoleToken+"x", strings.ToUpper(consoleToken), viewerToken, view)
	check(edge, viewerToken, "", "wrong", viewerToken+"x", consoleToken, view)
	for _, path := range []string{"/internal/v1/audit/views", "/internal/v1/revocations/sync?tenant=acme"} {
		for _, tok := range []string{consoleToken, view, ""} {
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader("[]"))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST %s with %.12q: %d, want 401", path, tok, resp.StatusCode)
			}
		}
	}
	// Through the client, as a compromised viewer would try.
	if _, _, err := h.edge.Search(context.Background(), queryapi.Filter{From: t0, To: t0.Add(time.Hour)}); !callscope.Is(err, callscope.Unauthorized) {
		t.Errorf("the viewer's client searches every tenant: %v", err)
	}
}

func TestClientAdmin(t *testing.T) {
	h := setupHTTP(t)
	ctx := context.Background()
	h.insert(t, querytest.Call{TenantID: h.acme.ID, CallID: "adm-1", Start: t0, FromUser: "+3312345678"})
	calls, next, err := h.client.Search(ctx, queryapi.Filter{From: t0, To: t0.Add(time.Hour), FromUser: "*5678"})
	if err != nil || next != "" || len(calls) != 1 || calls[0].TenantSlug != "acme" {
		t.Fatalf("search: %+v %q %v", calls, next, err)
	}
	_, _, err = h.client.Search(ctx, queryapi.Filter{To: t0})
	var ce *callscope.Error
	if !errors.As(err, &ce) || ce.Kind != callscope.Invalid || ce.Field != "from" {
		t.Errorf("search without from: %v", err)
	}
	c, err := h.client.Call(ctx, h.acme.ID, "adm-1", t0, t0.Add(time.Hour))
	if err != nil || len(c.Messages) != 7 || c.Messages[0].Src != ap("10.0.0.1:5060") {
		t.Fatalf("call: %v", err)
	}
	if _, err := h.client.Call(ctx, h.beta.ID, "adm-1", t0, t0.Add(time.Hour)); !callscope.Is(err, callscope.NotFound) {
		t.Errorf("beta's adm-1: %v", err)
	}
	if p, err := h.client.PCAP(ctx, h.acme.ID, "adm-1", t0, t0.Add(time.Hour)); err != nil || len(p) < 24 {
		t.Errorf("pcap: %d bytes, %v", len(p), err)
	}
	if txt, err := h.client.Text(ctx, h.acme.ID, "adm-1", t0, t0.Add(time.Hour)); err != nil || !strings.Contains(string(txt), "Call-ID: adm-1") {
		t.Errorf("text: %v", err)
	}
	tp, err := h.edge.TenantPublic(ctx, "acme")
	if err != nil || !tp.Active || !slices.Equal(tp.EmbedOrigins, []string{"https://app.acme.example"}) {
		t.Errorf("tenant public: %+v %v", tp, err)
	}
	if _, err := h.edge.TenantPublic(ctx, "nope"); !callscope.Is(err, callscope.NotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
	k, err := h.edge.ServerKey(ctx, h.server.KID)
	if err != nil || !h.server.Public().Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(k) {
		t.Errorf("server key: %v", err)
	}
	if _, err := h.edge.TenantKey(ctx, "beta", h.betaKey.KID); err != nil {
		t.Errorf("tenant key: %v", err)
	}
	// A kid is compared exactly: a kid that percent-decodes to the real one
	// is another kid, for query as for the viewer.
	escaped := "%" + strconv.FormatInt(int64(h.server.KID[0]), 16) + h.server.KID[1:]
	for _, kid := range []string{"nope", "a/b", "..%2f", strings.Repeat("k", 200), escaped} {
		if _, err := h.edge.ServerKey(ctx, kid); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("kid %q: %v", kid, err)
		}
	}
	if _, err := h.edge.TenantKey(ctx, "acme", h.betaKey.KID); !callscope.Is(err, callscope.NotFound) {
		t.Errorf("beta's key under acme: %v", err)
	}
}

func TestViewTokenScope(t *testing.T) {
	h := setupHTTP(t)
	ctx := context.Background()
	// Both tenants hold a call with the same Call-ID.
	h.insert(t,
		querytest.Call{TenantID: h.acme.ID, CallID: "same@id", Start: t0, FromUser: "acme-secret"},
		querytest.Call{TenantID: h.beta.ID, CallID: "same@id", Start: t0, FromUser: "beta-caller"},
		querytest.Call{TenantID: h.acme.ID, CallID: "only-acme", Start: t0},
	)
	win := [2]time.Time{t0.Add(-time.Minute), t0.Add(time.Hour)}

	t.Run("OK", func(t *testing.T) {
		c, err := h.client.ViewCall(ctx, h.mint(t, "acme", "same@id", win[0], win[1]))
		if err != nil || c.Tenant.Slug != "acme" || !strings.Contains(string(c.Messages[0].Payload), "acme-secret") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("SameCallIDOtherTenant", func(t *testing.T) {
		for _, tok := range []string{
			h.mint(t, "beta", "same@id", win[0], win[1]),
			// beta's own key, beta's own call
			mustTenantToken(t, h.betaKey, "beta", "same@id", h.now, win),
		} {
			c, err := h.client.ViewCall(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range c.Messages {
				if strings.Contains(string(m.Payload), "acme-secret") || c.Tenant.Slug != "beta" {
					t.Fatal("beta's token reads acme's call")
				}
			}
		}
	})
	notFound := func(t *testing.T, path, tok string) string {
		t.Helper()
		status, body := get(t, h.srv.URL+path, tok)
		if status != http.StatusNotFound {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		return requestIDRE.ReplaceAllString(string(body), "")
	}
	missing := notFound(t, "/internal/v1/view/call", h.mint(t, "acme", "does-not-exist", win[0], win[1]))
	for name, tc := range map[string]struct{ path, tok string }{
		"OtherTenantsCall":  {"/internal/v1/view/call", h.mint(t, "beta", "only-acme", win[0], win[1])},
		"OutsideWindow":     {"/internal/v1/view/call", h.mint(t, "acme", "only-acme", t0.Add(time.Hour), t0.Add(2*time.Hour))},
		"WindowEndsBefore":  {"/internal/v1/view/text", h.mint(t, "acme", "only-acme", t0.Add(-time.Hour), t0.Add(-time.Second))},
		"PCAPWithoutScope":  {"/internal/v1/view/pcap", h.mint(t, "acme", "only-acme", win[0], win[1])},
		"OtherTenantPCAP":   {"/internal/v1/view/pcap", h.mint(t, "beta", "only-acme", win[0], win[1], auth.ScopePCAP)},
		"UnknownTenantSlug": {"/internal/v1/view/call", h.mint(t, "ghost", "only-acme", win[0], win[1])},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "UnknownTenantSlug" {
				// An unknown tenant fails verification (tenant status) first.
				status, _ := get(t, h.srv.URL+tc.path, tc.tok)
				if status != http.StatusUnauthorized {
					t.Errorf("status %d", status)
				}
				return
			}
			if got := notFound(t, tc.path, tc.tok); got != missing {
				t.Errorf("body %s differs from a missing call's %s", got, missing)
			}
		})
	}
	t.Run("PCAPWithScope", func(t *testing.T) {
		p, err := h.client.ViewPCAP(ctx, h.mint(t, "acme", "only-acme", win[0], win[1], auth.ScopePCAP))
		if err != nil || len(p) < 100 {
			t.Errorf("%d bytes, %v", len(p), err)
		}
	})
	t.Run("Text", func(t *testing.T) {
		txt, err := h.client.ViewText(ctx, h.mint(t, "acme", "only-acme", win[0], win[1]))
		if err != nil || !strings.Contains(string(txt), "Call-ID: only-acme") {
			t.Errorf("%v", err)
		}
	})
}

func mustTenantToken(t *testing.T, key auth.SigningKey, slug, callID string, now time.Time, win [2]time.Time) string {
	t.Helper()
	tok, err := auth.Mint(key, auth.Claims{Issuer: slug, Tenant: slug, CallID: callID, WindowStart: win[0], WindowEnd: win[1],
		IssuedAt: now, Expiry: now.Add(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestViewTokenRefusals(t *testing.T) {
	h := setupHTTP(t)
	ctx := context.Background()
	win := [2]time.Time{t0, t0.Add(time.Hour)}
	expired, err := auth.Mint(h.server, auth.Claims{Tenant: "acme", CallID: "c", WindowStart: win[0], WindowEnd: win[1],
		IssuedAt: h.now.Add(-2 * time.Hour), Expiry: h.now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	revokedTok := h.mint(t, "acme", "c", win[0], win[1])
	if err := h.revs.RevokeAllBefore(ctx, "acme", h.now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	other, _ := auth.NewSigningKey()
	forged, _ := auth.Mint(other, auth.Claims{Tenant: "acme", CallID: "c", WindowStart: win[0], WindowEnd: win[1],
		IssuedAt: h.now, Expiry: h.now.Add(time.Minute)})
	for _, tc := range []struct {
		name, token string
		refusal     auth.Refusal
	}{
		{"Expired", expired, auth.ErrExpired},
		{"Revoked", revokedTok, auth.ErrRevoked},
		{"UnknownKey", forged, auth.ErrSignature},
		{"Garbage", "not-a-token", auth.ErrMalformed},
		{"Empty", "", auth.ErrMalformed},
		{"Oversized", strings.Repeat("a", auth.MaxTokenBytes+1), auth.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/internal/v1/view/call", "/internal/v1/view/text", "/internal/v1/view/pcap"} {
				status, body := get(t, h.srv.URL+path, tc.token)
				var e struct {
					Error struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				// The answer's code is the refusal itself.
				if err := json.Unmarshal(body, &e); err != nil || status != http.StatusUnauthorized || e.Error.Code != string(tc.refusal) {
					t.Errorf("%s: %d %s", path, status, body)
				}
				if tc.token != "" && strings.Contains(string(body), tc.token) {
					t.Errorf("%s: the body repeats the token", path)
				}
			}
			// The client gives the same refusal back.
			_, err := h.client.ViewCall(ctx, tc.token)
			if r, _ := auth.RefusalOf(err); !callscope.Is(err, callscope.Unauthorized) || r != tc.refusal || !errors.Is(err, tc.refusal) {
				t.Errorf("client: %v", err)
			}
		})
	}
	t.Run("RedisDown", func(t *testing.T) {
		h.revsDown(t)
	})
}

// revsDown checks that a revocation store that cannot answer refuses.
func (h *httpBundle) revsDown(t *testing.T) {
	dead := authredis.NewRevocations(deadRedis(t), "x:", nil)
	keys := &authtest.Keys{Server: map[string]crypto.PublicKey{h.server.KID: h.server.Public().Key}}
	cached := tenantdb.NewCache(h.tenants, 0)
	v := &auth.Verifier{Keys: keys, Tenants: cached, Revocations: dead}
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)), "query")
	query.NewServer(h.store, cached, v, testCreds, slog.New(slog.NewTextHandler(io.Discard, nil))).Routes(e.Group(""))
	srv := httptest.NewServer(e)
	defer srv.Close()
	_, err := queryapi.NewClient(srv.URL, consoleToken, nil).ViewCall(context.Background(), h.mint(t, "acme", "c", t0, t0.Add(time.Hour)))
	if !callscope.Is(err, callscope.Unavailable) || auth.Outcome(err) != "unavailable" {
		t.Errorf("redis down: %v", err)
	}
}

// TestClientCallList: the console's client lists and aggregates call
// records, one tenant's alone when it names one; the viewer's client, the
// public edge's credential, reads neither.
func TestClientCallList(t *testing.T) {
	h := setupHTTP(t)
	ctx := context.Background()
	h.insert(t,
		querytest.Call{TenantID: h.acme.ID, CallID: "a1", Start: t0, Status: 486},
		querytest.Call{TenantID: h.acme.ID, CallID: "a2", Start: t0.Add(time.Minute)},
		querytest.Call{TenantID: h.beta.ID, CallID: "b1", Start: t0.Add(30 * time.Second), Status: 486})
	f := queryapi.CallFilter{TenantID: h.acme.ID, From: t0, To: t0.Add(time.Hour), Outcomes: []string{queryapi.Class4xx}}
	p, err := h.client.ListCalls(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Calls) != 1 || p.Calls[0].CallID != "a1" || p.Calls[0].TenantSlug != "acme" || p.Total != 1 {
		t.Errorf("acme 4xx: %+v", p)
	}
	f.TenantID = 0
	if p, err = h.client.ListCalls(ctx, f); err != nil || p.Total != 2 {
		t.Errorf("every tenant's 4xx: %+v, %v", p, err)
	}
	f.TenantID = h.beta.ID
	st, err := h.client.CallStats(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total.Calls != 1 || st.Total.ByClass[queryapi.Class4xx] != 1 {
		t.Errorf("beta stats: %+v", st.Total)
	}
	f.Port = 70000
	if _, err := h.client.ListCalls(ctx, f); !callscope.Is(err, callscope.Invalid) {
		t.Errorf("port 70000: %v", err)
	}
	f.Port = 0
	if _, err := h.edge.ListCalls(ctx, f); !callscope.Is(err, callscope.Unauthorized) {
		t.Errorf("the viewer's client lists calls: %v", err)
	}
	if _, err := h.edge.CallStats(ctx, f); !callscope.Is(err, callscope.Unauthorized) {
		t.Errorf("the viewer's client reads statistics: %v", err)
	}
}
