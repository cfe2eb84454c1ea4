// Package authdbtest sets up the PostgreSQL-backed auth of one test: its
// own database (dbtest) and Redis prefix (redistest), tenants acme and
// beta, every store, and a Verifier reading from them. Tests only.
package authdbtest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// Secret is the secret key of the tests' signing keys.
const Secret = "0123456789abcdef0123456789abcdef-test-only"

// Bundle is one test's auth over PostgreSQL and Redis. The Verifier is on
// the real clock; a tenant's revocation state missing from Redis is rebuilt
// from PostgreSQL as in the query role.
type Bundle struct {
	DB         *db.DB
	Tenants    *tenantdb.Store
	Cached     *tenantdb.Cache // 1 ms: changes show at once
	Acme, Beta tenant.Tenant
	RDB        *redis.Client
	Prefix     string
	Revs       *authredis.Revocations
	Keys       *authdb.KeyStore
	TenantKeys *authdb.TenantKeys
	APIKeys    *authdb.APIKeys
	Tokens     *authdb.Tokens
	Minter     *auth.Minter
	V          *auth.Verifier
}

// Setup returns a fresh Bundle.
func Setup(tb testing.TB) *Bundle {
	tb.Helper()
	ctx := context.Background()
	b := &Bundle{DB: dbtest.New(tb)}
	b.Tenants = tenantdb.NewStore(b.DB)
	b.Acme = MustTenant(tb, b.Tenants, "acme")
	b.Beta = MustTenant(tb, b.Tenants, "beta")
	b.RDB, b.Prefix = redistest.New(tb)
	b.Revs = authredis.NewRevocations(b.RDB, b.Prefix, nil)
	b.Cached = tenantdb.NewCache(b.Tenants, time.Millisecond)
	b.Keys = authdb.NewKeyStore(b.DB, MustSealer(tb, Secret))
	if err := b.Keys.EnsureActive(ctx); err != nil {
		tb.Fatal(err)
	}
	b.TenantKeys = authdb.NewTenantKeys(b.DB, b.Cached)
	b.APIKeys = authdb.NewAPIKeys(b.DB)
	b.Tokens = authdb.NewTokens(b.DB, b.Tenants, b.Revs, auth.DefaultLimits())
	b.Revs.SetRebuild(b.Tokens.SyncTenant)
	b.Minter = auth.NewMinter(b.Keys, b.Tokens, auth.DefaultLimits(), "https://view.example.com")
	b.V = &auth.Verifier{
		Keys:        authdb.Resolver{Server: b.Keys, Tenants: b.TenantKeys},
		Tenants:     b.Cached,
		Revocations: b.Revs,
		Limits:      auth.DefaultLimits(),
	}
	return b
}

// MustTenant creates tenant slug.
func MustTenant(tb testing.TB, s *tenantdb.Store, slug string) tenant.Tenant {
	tb.Helper()
	t, err := s.Create(context.Background(), tenant.New{Slug: slug})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// MustSealer returns the sealer of secret.
func MustSealer(tb testing.TB, secret string) *auth.Sealer {
	tb.Helper()
	s, err := auth.NewSealer(secret)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// MintRequest is a valid request for call "c1@acme" over the last hour.
func MintRequest() auth.MintRequest {
	now := time.Now()
	return auth.MintRequest{CallID: "c1@acme", WindowStart: now.Add(-time.Hour), WindowEnd: now, IssuedBy: "cli"}
}

// MustMint mints r for t with the server's key.
func (b *Bundle) MustMint(tb testing.TB, t tenant.Tenant, r auth.MintRequest) (string, auth.Claims) {
	tb.Helper()
	tok, c, err := b.Minter.Mint(context.Background(), t, r)
	if err != nil {
		tb.Fatalf("Minter.Mint: %v", err)
	}
	return tok, c
}

// MustAPIKey creates an API key for t and returns its plaintext.
func (b *Bundle) MustAPIKey(tb testing.TB, t tenant.Tenant) (string, authdb.APIKey) {
	tb.Helper()
	plain, k, err := b.APIKeys.CreateAPIKey(context.Background(), t.ID, "orchestrator")
	if err != nil {
		tb.Fatal(err)
	}
	return plain, k
}

// Suspend suspends tenant tenantID.
func (b *Bundle) Suspend(tb testing.TB, tenantID int64) {
	tb.Helper()
	s := tenant.Suspended
	if _, err := b.Tenants.Update(context.Background(), tenantID, tenant.Update{Status: &s}); err != nil {
		tb.Fatal(err)
	}
}
