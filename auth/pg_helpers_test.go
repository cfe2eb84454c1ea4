package auth_test

import (
	"context"
	"crypto"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// pgBundle is the PostgreSQL-backed auth of one test: its own database and
// Redis prefix, tenants acme and beta, every store, and a Verifier reading
// keys, tenant status and revocations from them on the real clock.
type pgBundle struct {
	d          *db.DB
	tenants    *tenantdb.Store
	acme, beta tenant.Tenant
	rdb        *redis.Client
	prefix     string
	revs       *auth.Revocations
	keys       *auth.KeyStore
	tkeys      *auth.TenantKeys
	apikeys    *auth.APIKeys
	tokens     *auth.Tokens
	minter     *auth.Minter
	status     *auth.TenantStatusCache
	v          *auth.Verifier
}

func setupPG(tb testing.TB) *pgBundle {
	tb.Helper()
	ctx := context.Background()
	b := &pgBundle{d: dbtest.New(tb)}
	b.tenants = tenantdb.NewStore(b.d)
	b.acme = MustTenant(tb, b.tenants, "acme")
	b.beta = MustTenant(tb, b.tenants, "beta")
	b.rdb, b.prefix = redistest.New(tb)
	b.revs = auth.NewRevocations(b.rdb, b.prefix, nil)
	b.keys = auth.NewKeyStore(b.d, MustSealer(tb, testSecret))
	if err := b.keys.EnsureActive(ctx); err != nil {
		tb.Fatal(err)
	}
	b.tkeys = auth.NewTenantKeys(b.d, b.tenants)
	b.apikeys = auth.NewAPIKeys(b.d)
	b.tokens = auth.NewTokens(b.d, b.tenants, b.revs)
	b.minter = auth.NewMinter(b.keys, b.tokens, auth.DefaultLimits(), "https://view.example.com")
	b.status = auth.NewTenantStatus(b.tenants, time.Millisecond)
	b.v = &auth.Verifier{
		Keys:        auth.Resolver{Server: b.keys, Tenants: b.tkeys},
		Tenants:     b.status,
		Revocations: b.revs,
		Limits:      auth.DefaultLimits(),
	}
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

// mintReq is a valid request for call "c1@acme" over the last hour.
func mintReq() auth.MintRequest {
	now := time.Now()
	return auth.MintRequest{CallID: "c1@acme", WindowStart: now.Add(-time.Hour), WindowEnd: now, IssuedBy: "cli"}
}

func (b *pgBundle) MustMint(tb testing.TB, t tenant.Tenant, r auth.MintRequest) (string, auth.Claims) {
	tb.Helper()
	tok, c, err := b.minter.Mint(context.Background(), t, r)
	if err != nil {
		tb.Fatalf("Minter.Mint: %v", err)
	}
	return tok, c
}

// MustAPIKey creates an API key for t and returns its plaintext.
func (b *pgBundle) MustAPIKey(tb testing.TB, t tenant.Tenant) (string, auth.APIKey) {
	tb.Helper()
	plain, k, err := b.apikeys.CreateAPIKey(context.Background(), t.ID, "orchestrator")
	if err != nil {
		tb.Fatal(err)
	}
	return plain, k
}

// publicJWK renders pub as a JWK with kid, as a tenant would register it.
func publicJWK(tb testing.TB, pub crypto.PublicKey, kid string) []byte {
	tb.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func suspend(tb testing.TB, b *pgBundle, tenantID int64) {
	tb.Helper()
	s := tenant.Suspended
	if _, err := b.tenants.Update(context.Background(), tenantID, tenant.Update{Status: &s}); err != nil {
		tb.Fatal(err)
	}
}
