package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-redis/redis_rate/v10"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/auth/authdb/authdbtest"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/auth/authtest"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/web"
)

// apiBundle serves the token API of a pgBundle over HTTP and captures every
// log line of the requests.
type apiBundle struct {
	*authdbtest.Bundle
	srv  *httptest.Server
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func setupAPI(tb testing.TB, limits authredis.RateLimits) *apiBundle {
	tb.Helper()
	b := &apiBundle{Bundle: authdbtest.Setup(tb), logs: &lockedBuffer{}}
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := web.New(log, "query")
	limiter := authredis.NewRateLimiter(b.RDB, b.Prefix, limits)
	query.NewTokenAPI(b.APIKeys, b.Minter, b.Tokens, b.Keys, limiter).Routes(e.Group(""))
	b.srv = httptest.NewServer(e)
	tb.Cleanup(b.srv.Close)
	return b
}

type apiError struct {
	Error struct {
		Code, Message, Field string
	} `json:"error"`
}

func (b *apiBundle) do(tb testing.TB, method, path, apiKey, body string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res, out
}

// mintBody is a valid request body with overrides.
func mintBody(over map[string]any) string {
	now := time.Now().UTC()
	m := map[string]any{
		"call_id": "c1@acme", "window_start": now.Add(-time.Hour).Format(time.RFC3339),
		"window_end": now.Format(time.RFC3339), "ttl_seconds": 600, "scopes": []string{"pcap"},
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestAPI_Mint(t *testing.T) {
	ctx := context.Background()
	b := setupAPI(t, authredis.DefaultRateLimits())
	key, k := b.MustAPIKey(t, b.Acme)

	t.Run("Created", func(t *testing.T) {
		res, body := b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(nil))
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		var r query.MintResponse
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if r.URL != "https://view.example.com/v/"+r.Token || r.JTI == "" || time.Until(r.ExpiresAt) > 10*time.Minute || time.Until(r.ExpiresAt) < 9*time.Minute {
			t.Fatalf("response %+v", r)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		c, err := b.V.Verify(ctx, r.Token)
		if err != nil {
			t.Fatalf("minted token refused: %v", err)
		}
		if c.Tenant != "acme" || c.CallID != "c1@acme" || c.ID != r.JTI || !c.HasScope("pcap") || c.Issuer != auth.ServerIssuer {
			t.Errorf("claims %+v", c)
		}
		issued, err := b.Tokens.ListTokens(ctx, b.Acme.ID, authdb.TokenFilter{ActiveOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(issued) != 1 || issued[0].JTI != r.JTI || issued[0].IssuedBy != "apikey:"+k.Prefix {
			t.Errorf("view_tokens: %+v", issued)
		}
		if other, _ := b.Tokens.ListTokens(ctx, b.Beta.ID, authdb.TokenFilter{}); len(other) != 0 {
			t.Errorf("beta lists acme's tokens: %+v", other)
		}
	})

	t.Run("DefaultTTLAndNoScopes", func(t *testing.T) {
		res, body := b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(map[string]any{"ttl_seconds": nil, "scopes": nil}))
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
		var r query.MintResponse
		_ = json.Unmarshal(body, &r)
		c, err := b.V.Verify(ctx, r.Token)
		if err != nil {
			t.Fatal(err)
		}
		if c.Expiry.Sub(c.IssuedAt) != auth.DefaultTTL || c.HasScope("pcap") {
			t.Errorf("lifetime %s, scopes %v", c.Expiry.Sub(c.IssuedAt), c.Scopes)
		}
	})

	now := time.Now().UTC()
	rfc := func(t time.Time) string { return t.Format(time.RFC3339) }
	for _, tt := range []struct {
		name, field string
		body        string
	}{
		{"CallIDMissing", "call_id", mintBody(map[string]any{"call_id": nil})},
		{"CallIDEmpty", "call_id", mintBody(map[string]any{"call_id": ""})},
		{"CallIDTooLong", "call_id", mintBody(map[string]any{"call_id": strings.Repeat("x", 257)})},
		{"CallIDControl", "call_id", mintBody(map[string]any{"call_id": "a\nb"})},
		{"CallIDNotString", "call_id", mintBody(map[string]any{"call_id": 42})},
		{"WindowStartMissing", "window_start", mintBody(map[string]any{"window_start": nil})},
		{"WindowStartNotRFC3339", "window_start", mintBody(map[string]any{"window_start": "yesterday"})},
		{"WindowEndMissing", "window_end", mintBody(map[string]any{"window_end": nil})},
		{"WindowEndNotRFC3339", "window_end", mintBody(map[string]any{"window_end": "2026-03-01 12:00"})},
		{"WindowEndBeforeStart", "window_end", mintBody(map[string]any{"window_start": rfc(now), "window_end": rfc(now.Add(-time.Minute))})},
		{"WindowEmpty", "window_end", mintBody(map[string]any{"window_start": rfc(now), "window_end": rfc(now)})},
		{"WindowTooLong", "window_end", mintBody(map[string]any{"window_start": rfc(now.Add(-25 * time.Hour)), "window_end": rfc(now)})},
		{"TTLTooLong", "ttl_seconds", mintBody(map[string]any{"ttl_seconds": 3601})},
		{"TTLZero", "ttl_seconds", mintBody(map[string]any{"ttl_seconds": 0})},
		{"TTLNegative", "ttl_seconds", mintBody(map[string]any{"ttl_seconds": -5})},
		{"TTLFraction", "ttl_seconds", mintBody(map[string]any{"ttl_seconds": 1.5})},
		{"TTLString", "ttl_seconds", mintBody(map[string]any{"ttl_seconds": "600"})},
		{"UnknownScope", "scopes", mintBody(map[string]any{"scopes": []string{"pcap", "admin"}})},
		{"ScopesNotArray", "scopes", mintBody(map[string]any{"scopes": "pcap"})},
		{"NotJSON", "body", "call_id=c1"},
		{"TooLarge", "body", `{"call_id":"` + strings.Repeat("x", 20<<10) + `"}`},
	} {
		t.Run("Invalid/"+tt.name, func(t *testing.T) {
			res, body := b.do(t, "POST", "/api/v1/view-tokens", key, tt.body)
			var e apiError
			_ = json.Unmarshal(body, &e)
			if res.StatusCode != http.StatusBadRequest || e.Error.Field != tt.field || e.Error.Code != "invalid" {
				t.Fatalf("status %d, body %s; want 400 naming %q", res.StatusCode, body, tt.field)
			}
		})
	}

	t.Run("Unauthorized", func(t *testing.T) {
		revoked, rk := b.MustAPIKey(t, b.Acme)
		if err := b.APIKeys.RevokeAPIKey(ctx, b.Acme.ID, rk.Prefix); err != nil {
			t.Fatal(err)
		}
		for name, k := range map[string]string{
			"None": "", "Garbage": "hello", "Unknown": "cs_" + strings.Repeat("Q", 43), "Revoked": revoked,
		} {
			res, body := b.do(t, "POST", "/api/v1/view-tokens", k, mintBody(nil))
			if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: status %d %s", name, res.StatusCode, body)
			}
		}
	})

	t.Run("SuspendedTenantCannotMint", func(t *testing.T) {
		gkey, _ := b.MustAPIKey(t, b.Beta)
		b.Suspend(t, b.Beta.ID)
		res, body := b.do(t, "POST", "/api/v1/view-tokens", gkey, mintBody(nil))
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("status %d %s", res.StatusCode, body)
		}
	})
}

func TestAPI_RateLimit(t *testing.T) {
	lim := authredis.DefaultRateLimits()
	lim.Mint = redis_rate.Limit{Rate: 1, Burst: 2, Period: time.Hour}
	b := setupAPI(t, lim)
	key, _ := b.MustAPIKey(t, b.Acme)
	other, _ := b.MustAPIKey(t, b.Acme)
	for i := range 2 {
		if res, body := b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(nil)); res.StatusCode != http.StatusCreated {
			t.Fatalf("request %d: %d %s", i, res.StatusCode, body)
		}
	}
	res, body := b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(nil))
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third request: %d %s", res.StatusCode, body)
	}
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	// The budget is the key's, not the tenant's.
	if res, body := b.do(t, "POST", "/api/v1/view-tokens", other, mintBody(nil)); res.StatusCode != http.StatusCreated {
		t.Fatalf("another key: %d %s", res.StatusCode, body)
	}
}

func TestAPI_Revoke(t *testing.T) {
	ctx := context.Background()
	b := setupAPI(t, authredis.DefaultRateLimits())
	acmeKey, _ := b.MustAPIKey(t, b.Acme)
	betaKey, _ := b.MustAPIKey(t, b.Beta)
	tok, c := b.MustMint(t, b.Acme, authdbtest.MintRequest())

	t.Run("OtherTenantRevokesOnlyItsOwn", func(t *testing.T) {
		// jtis are per tenant: beta's DELETE of the same jti revokes that
		// jti among beta's tokens, and acme's token keeps working.
		res, body := b.do(t, "DELETE", "/api/v1/view-tokens/"+c.ID, betaKey, "")
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("beta deleting a jti: %d %s", res.StatusCode, body)
		}
		if _, err := b.V.Verify(ctx, tok); err != nil {
			t.Fatalf("token revoked by another tenant: %v", err)
		}
	})
	t.Run("TenantSignedNeverSeen", func(t *testing.T) {
		// A token acme signed with its own key, which the server never saw.
		k := authtest.MustSigningKey(t)
		jwk, _ := json.Marshal(jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.KID})
		if _, err := b.TenantKeys.AddTenantKey(ctx, b.Acme.ID, jwk); err != nil {
			t.Fatal(err)
		}
		now := time.Now().Truncate(time.Second)
		own, err := auth.Mint(k, auth.Claims{Issuer: "acme", Tenant: "acme", CallID: "c9", ID: "orchestrator-7",
			WindowStart: now.Add(-time.Hour), WindowEnd: now, IssuedAt: now, Expiry: now.Add(10 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.V.Verify(ctx, own); err != nil {
			t.Fatalf("before: %v", err)
		}
		if res, body := b.do(t, "DELETE", "/api/v1/view-tokens/orchestrator-7", acmeKey, ""); res.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d %s", res.StatusCode, body)
		}
		if _, err := b.V.Verify(ctx, own); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("tenant-signed token after DELETE: %v, want revoked", err)
		}
	})
	t.Run("MalformedJTI", func(t *testing.T) {
		res, body := b.do(t, "DELETE", "/api/v1/view-tokens/with%20space", acmeKey, "")
		var e apiError
		_ = json.Unmarshal(body, &e)
		if res.StatusCode != http.StatusBadRequest || e.Error.Field != "jti" {
			t.Fatalf("status %d %s", res.StatusCode, body)
		}
	})
	t.Run("NoKey", func(t *testing.T) {
		if res, _ := b.do(t, "DELETE", "/api/v1/view-tokens/"+c.ID, "", ""); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
	t.Run("Own", func(t *testing.T) {
		res, body := b.do(t, "DELETE", "/api/v1/view-tokens/"+c.ID, acmeKey, "")
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d %s", res.StatusCode, body)
		}
		if _, err := b.V.Verify(ctx, tok); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("revoked token: %v", err)
		}
		if res, _ := b.do(t, "DELETE", "/api/v1/view-tokens/"+c.ID, acmeKey, ""); res.StatusCode != http.StatusNoContent {
			t.Errorf("revoking twice: %d", res.StatusCode)
		}
	})
}

func TestAPI_JWKS(t *testing.T) {
	ctx := context.Background()
	b := setupAPI(t, authredis.DefaultRateLimits())
	if _, err := b.Keys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	res, body := b.do(t, "GET", "/.well-known/jwks.json", "", "")
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("status %d, Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("want both keys, got %s", body)
	}
	for _, k := range set.Keys {
		if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["kid"] == "" {
			t.Errorf("key %v", k)
		}
		if _, private := k["d"]; private {
			t.Fatal("JWKS publishes a private key")
		}
	}
}

// TestAPI_TokenNeverLogged runs a full cycle (mint, a refused mint, revoke)
// and greps every log line for the token, its parts and the API key.
func TestAPI_TokenNeverLogged(t *testing.T) {
	b := setupAPI(t, authredis.DefaultRateLimits())
	key, _ := b.MustAPIKey(t, b.Acme)
	res, body := b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(nil))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	var r query.MintResponse
	_ = json.Unmarshal(body, &r)
	b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(map[string]any{"ttl_seconds": 99999}))
	b.do(t, "POST", "/api/v1/view-tokens", key+"x", mintBody(nil))
	b.do(t, "DELETE", "/api/v1/view-tokens/"+r.JTI, key, "")
	logs := b.logs.String()
	if !strings.Contains(logs, "/api/v1/view-tokens") {
		t.Fatalf("no access log captured:\n%s", logs)
	}
	for _, secret := range append(authtest.Segments(r.Token), key, key[3:]) {
		if strings.Contains(logs, secret) {
			t.Fatalf("a log line carries a secret:\n%s", logs)
		}
	}
}

// TestAPI_Errors: what a newcomer meets first. A wrong method is a 405
// naming the methods the path takes; an unknown member is refused by name;
// broken JSON says where it broke; a TTL too long is one message however
// long it is.
func TestAPI_Errors(t *testing.T) {
	b := setupAPI(t, authredis.DefaultRateLimits())
	key, _ := b.MustAPIKey(t, b.Acme)
	read := func(body []byte) apiError {
		var e apiError
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("not a JSON error: %s", body)
		}
		return e
	}
	t.Run("WrongMethod", func(t *testing.T) {
		res, body := b.do(t, "GET", "/api/v1/view-tokens", key, "")
		if res.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(res.Header.Get("Allow"), "POST") {
			t.Fatalf("GET: %d Allow %q %s", res.StatusCode, res.Header.Get("Allow"), body)
		}
		if e := read(body); e.Error.Code != "method_not_allowed" {
			t.Errorf("code %q", e.Error.Code)
		}
	})
	t.Run("UnknownMember", func(t *testing.T) {
		res, body := b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(map[string]any{"ttl": 600}))
		if e := read(body); res.StatusCode != http.StatusBadRequest || e.Error.Field != "ttl" || !strings.Contains(e.Error.Message, "ttl_seconds") {
			t.Errorf("%d %s", res.StatusCode, body)
		}
	})
	t.Run("BrokenJSON", func(t *testing.T) {
		res, body := b.do(t, "POST", "/api/v1/view-tokens", key, "{\n\"call_id\": \"c1\",\n\"window_start\" \"x\"}")
		if e := read(body); res.StatusCode != http.StatusBadRequest || e.Error.Field != "body" || !strings.Contains(e.Error.Message, "line 3") {
			t.Errorf("%d %s", res.StatusCode, body)
		}
		res, body = b.do(t, "POST", "/api/v1/view-tokens", key, `{"call_id": "c1"`)
		if e := read(body); res.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error.Message, "end of JSON input") {
			t.Errorf("truncated: %d %s", res.StatusCode, body)
		}
	})
	t.Run("TTLTooLongOneMessage", func(t *testing.T) {
		var msgs []string
		for _, ttl := range []any{86400000, 99999999999, json.Number("99999999999999999999999")} {
			res, body := b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(map[string]any{"ttl_seconds": ttl}))
			e := read(body)
			if res.StatusCode != http.StatusBadRequest || e.Error.Field != "ttl_seconds" {
				t.Errorf("ttl %v: %d %s", ttl, res.StatusCode, body)
			}
			msgs = append(msgs, e.Error.Message)
		}
		if msgs[0] != msgs[1] || msgs[1] != msgs[2] || !strings.Contains(msgs[0], "3600") {
			t.Errorf("messages differ for one fault: %q", msgs)
		}
	})
	t.Run("TTLNotPositive", func(t *testing.T) {
		for _, ttl := range []any{0, -5, "600", 1.5} {
			res, body := b.do(t, "POST", "/api/v1/view-tokens", key, mintBody(map[string]any{"ttl_seconds": ttl}))
			if e := read(body); res.StatusCode != http.StatusBadRequest || e.Error.Field != "ttl_seconds" {
				t.Errorf("ttl %v: %d %s", ttl, res.StatusCode, body)
			}
		}
	})
}
