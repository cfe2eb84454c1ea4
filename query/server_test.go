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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/web"
)

const serviceToken = "svc-test-token-0123456789"

// MemKeys is an in-memory KeyResolver / KeySource.
type MemKeys struct {
	mu     sync.Mutex
	Server map[string]crypto.PublicKey
	Tenant map[string]map[string]crypto.PublicKey
}

func (m *MemKeys) ServerKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.Server[kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

func (m *MemKeys) TenantKey(_ context.Context, tenant, kid string) (crypto.PublicKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.Tenant[tenant][kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

type httpBundle struct {
	*bundle
	server  auth.SigningKey
	betaKey auth.SigningKey
	revs    *auth.Revocations
	srv     *httptest.Server
	client  *query.Client
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
	keys := &MemKeys{Server: map[string]crypto.PublicKey{h.server.KID: h.server.Public().Key},
		Tenant: map[string]map[string]crypto.PublicKey{"beta": {h.betaKey.KID: h.betaKey.Public().Key}}}
	h.revs = auth.NewRevocations(rdb, prefix, nil)
	v := &auth.Verifier{Keys: keys, Tenants: query.ActiveTenants(b.tenants), Revocations: h.revs, Memo: auth.NewSigCache()}
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)), "query")
	query.NewServer(b.store, b.tenants, v, serviceToken, slog.New(slog.NewTextHandler(io.Discard, nil))).Routes(e.Group(""))
	h.srv = httptest.NewServer(e)
	t.Cleanup(h.srv.Close)
	h.client = query.NewClient(h.srv.URL, serviceToken, nil)
	return h
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

func TestServiceTokenRequired(t *testing.T) {
	h := setupHTTP(t)
	for _, path := range []string{
		"/internal/v1/admin/search?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/call?tenant_id=1&call_id=x&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/pcap?tenant_id=1&call_id=x&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/admin/text?tenant_id=1&call_id=x&from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z",
		"/internal/v1/tenants/acme/public",
		"/internal/v1/keys/server/" + h.server.KID,
	} {
		for _, tok := range []string{"", "wrong", serviceToken + "x", strings.ToUpper(serviceToken)} {
			if status, _ := get(t, h.srv.URL+path, tok); status != http.StatusUnauthorized {
				t.Errorf("%s with %q: %d", path, tok, status)
			}
		}
		if status, _ := get(t, h.srv.URL+path, serviceToken); status == http.StatusUnauthorized {
			t.Errorf("%s refuses the service token", path)
		}
	}
	// A view token is not a service token.
	tok := h.mint(t, "acme", "x", t0, t0.Add(time.Hour))
	if status, _ := get(t, h.srv.URL+"/internal/v1/tenants/acme/public", tok); status != http.StatusUnauthorized {
		t.Errorf("view token opens a service route: %d", status)
	}
}

func TestClientAdmin(t *testing.T) {
	h := setupHTTP(t)
	ctx := context.Background()
	h.insert(t, querytest.Call{TenantID: h.acme.ID, CallID: "adm-1", Start: t0, FromUser: "+3312345678"})
	calls, next, err := h.client.Search(ctx, query.Filter{From: t0, To: t0.Add(time.Hour), FromUser: "*5678"})
	if err != nil || next != "" || len(calls) != 1 || calls[0].TenantSlug != "acme" {
		t.Fatalf("search: %+v %q %v", calls, next, err)
	}
	_, _, err = h.client.Search(ctx, query.Filter{To: t0})
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
	tp, err := h.client.TenantPublic(ctx, "acme")
	if err != nil || !tp.Active || !slices.Equal(tp.EmbedOrigins, []string{"https://app.acme.example"}) {
		t.Errorf("tenant public: %+v %v", tp, err)
	}
	if _, err := h.client.TenantPublic(ctx, "nope"); !callscope.Is(err, callscope.NotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
	k, err := h.client.ServerKey(ctx, h.server.KID)
	if err != nil || !h.server.Public().Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(k) {
		t.Errorf("server key: %v", err)
	}
	if _, err := h.client.TenantKey(ctx, "beta", h.betaKey.KID); err != nil {
		t.Errorf("tenant key: %v", err)
	}
	for _, kid := range []string{"nope", "a/b", "..%2f", strings.Repeat("k", 200)} {
		if _, err := h.client.ServerKey(ctx, kid); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("kid %q: %v", kid, err)
		}
	}
	if _, err := h.client.TenantKey(ctx, "acme", h.betaKey.KID); !callscope.Is(err, callscope.NotFound) {
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
		name, token, code string
		origins           bool
	}{
		{"Expired", expired, query.CodeExpired, true},
		{"Revoked", revokedTok, query.CodeRevoked, true},
		{"UnknownKey", forged, query.CodeInvalid, false},
		{"Garbage", "not-a-token", query.CodeInvalid, false},
		{"Empty", "", query.CodeInvalid, false},
		{"Oversized", strings.Repeat("a", auth.MaxTokenBytes+1), query.CodeInvalid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/internal/v1/view/call", "/internal/v1/view/text", "/internal/v1/view/pcap"} {
				status, body := get(t, h.srv.URL+path, tc.token)
				var e struct {
					Error struct {
						Code         string   `json:"code"`
						EmbedOrigins []string `json:"embed_origins"`
					} `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || status != http.StatusUnauthorized || e.Error.Code != tc.code {
					t.Errorf("%s: %d %s", path, status, body)
				}
				if got := len(e.Error.EmbedOrigins) > 0; got != tc.origins {
					t.Errorf("%s: embed origins %v", path, e.Error.EmbedOrigins)
				}
				if tc.token != "" && strings.Contains(string(body), tc.token) {
					t.Errorf("%s: the body repeats the token", path)
				}
			}
			_, err := h.client.ViewCall(ctx, tc.token)
			var te *query.TokenError
			if !callscope.Is(err, callscope.Unauthorized) || !errors.As(err, &te) || te.Code != tc.code {
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
	dead := auth.NewRevocations(deadRedis(t), "x:", nil)
	keys := &MemKeys{Server: map[string]crypto.PublicKey{h.server.KID: h.server.Public().Key}}
	v := &auth.Verifier{Keys: keys, Tenants: query.ActiveTenants(h.tenants), Revocations: dead}
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)), "query")
	query.NewServer(h.store, h.tenants, v, serviceToken, slog.New(slog.NewTextHandler(io.Discard, nil))).Routes(e.Group(""))
	srv := httptest.NewServer(e)
	defer srv.Close()
	_, err := query.NewClient(srv.URL, serviceToken, nil).ViewCall(context.Background(), h.mint(t, "acme", "c", t0, t0.Add(time.Hour)))
	if !callscope.Is(err, callscope.Unavailable) || auth.Outcome(err) != "unavailable" {
		t.Errorf("redis down: %v", err)
	}
}
