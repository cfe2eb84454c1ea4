package authdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/redisdb/redistest"
)

func TestTokens_RevocationSync(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)
	revoked, rc := b.MustMint(t, b.Acme, mintReq())
	kept, _ := b.MustMint(t, b.Acme, mintReq())
	betaTok, _ := b.MustMint(t, b.Beta, mintReq())

	// jtis are per tenant: beta revoking acme's jti revokes that jti in
	// beta's namespace, and acme's token stays valid.
	if err := b.Tokens.RevokeToken(ctx, b.Beta.ID, rc.ID); err != nil {
		t.Fatalf("beta revoking a jti of its own namespace: %v", err)
	}
	if _, err := b.V.Verify(ctx, revoked); err != nil {
		t.Fatalf("acme's token after beta revoked the same jti: %v", err)
	}
	if err := b.Tokens.RevokeToken(ctx, b.Acme.ID, rc.ID); err != nil {
		t.Fatal(err)
	}

	// Recorded in PostgreSQL...
	var revokedAt *time.Time
	if err := b.DB.Owner().QueryRow(ctx, `SELECT revoked_at FROM view_tokens WHERE jti = $1`, rc.ID).Scan(&revokedAt); err != nil || revokedAt == nil {
		t.Fatalf("revoked_at not recorded: %v %v", revokedAt, err)
	}
	// ...and in Redis, expiring with the token.
	ttl, err := b.RDB.TTL(ctx, b.Prefix+"rev:{acme}:"+rc.ID).Result()
	if err != nil || ttl <= 0 || ttl > time.Until(rc.Expiry)+auth.MaxLeeway+time.Second {
		t.Fatalf("Redis revocation TTL %v (%v), token expires in %v", ttl, err, time.Until(rc.Expiry))
	}
	active, _ := b.Tokens.ListTokens(ctx, b.Acme.ID, authdb.TokenFilter{ActiveOnly: true})
	if len(active) != 1 {
		t.Errorf("active links after one revocation: %d, want 1", len(active))
	}

	mustRefuse := func(t *testing.T, tok string, want error) {
		t.Helper()
		if _, err := b.V.Verify(ctx, tok); !errors.Is(err, want) {
			t.Fatalf("Verify: %v, want %v", err, want)
		}
	}
	mustAccept := func(t *testing.T, tok string) {
		t.Helper()
		if _, err := b.V.Verify(ctx, tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	mustRefuse(t, revoked, auth.ErrRevoked)
	mustAccept(t, kept)

	// Tenant-wide: everything acme issued until now; beta untouched.
	if _, err := b.Tokens.RevokeAllTenantTokens(ctx, b.Acme.ID); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, kept, auth.ErrRevoked)
	mustAccept(t, betaTok)
	if tn, _ := b.Tenants.ByID(ctx, b.Acme.ID); tn.TokensValidAfter == nil {
		t.Fatal("tenant epoch not recorded in PostgreSQL")
	}
	if active, _ := b.Tokens.ListTokens(ctx, b.Acme.ID, authdb.TokenFilter{ActiveOnly: true}); len(active) != 0 {
		t.Errorf("active links after revoke-all: %+v", active)
	}

	// Redis forgets everything (a restart without persistence): the next
	// check finds the state gone and rebuilds it from PostgreSQL first.
	flushPrefix(t, b)
	mustRefuse(t, revoked, auth.ErrRevoked)
	mustRefuse(t, kept, auth.ErrRevoked)
	mustAccept(t, betaTok)
	// The start-up sync restores every tenant's state.
	flushPrefix(t, b)
	n, err := b.Tokens.SyncRevocations(ctx)
	if err != nil || n != 2 {
		t.Fatalf("SyncRevocations: %d tenants, %v; want 2", n, err)
	}
	b.Revs.SetRebuild(nil) // what the sync wrote must be enough
	mustRefuse(t, revoked, auth.ErrRevoked)
	mustRefuse(t, kept, auth.ErrRevoked)
	mustAccept(t, betaTok)
	if _, err := b.Tokens.SyncRevocations(ctx); err != nil {
		t.Fatalf("second sync: %v", err)
	}
}

func TestTokens_RedisDownRevokeFails(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)
	_, c := b.MustMint(t, b.Acme, mintReq())
	dead := authdb.NewTokens(b.DB, b.Tenants, authredis.NewRevocations(DeadRedis(t), b.Prefix, nil), auth.DefaultLimits())
	err := dead.RevokeToken(ctx, b.Acme.ID, c.ID)
	if !callscope.Is(err, callscope.Unavailable) {
		t.Fatalf("revoke with Redis down: %v, want Unavailable", err)
	}
	// PostgreSQL kept the record, so a sync (or a retry) completes it.
	if _, err := b.Tokens.SyncRevocations(ctx); err != nil {
		t.Fatalf("sync after a failed publish: %v", err)
	}
	if got, err := b.Revs.CheckRevoked(ctx, "acme", c.ID, c.IssuedAt); err != nil || !got {
		t.Errorf("after the sync: revoked %v, %v", got, err)
	}
}

func flushPrefix(tb testing.TB, b *pgBundle) {
	tb.Helper()
	ctx := context.Background()
	iter := b.RDB.Scan(ctx, 0, b.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		b.RDB.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatal(err)
	}
}

// TestTokens_RevokeUnseenJTI: a token the tenant signed with its own key,
// which the server never saw, is revoked by its jti like a minted one, and
// stays revoked when Redis loses its data; another tenant's token with the
// same jti is untouched.
func TestTokens_RevokeUnseenJTI(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)
	acmeKey, betaKey := MustSigningKey(t), MustSigningKey(t)
	for slug, k := range map[string]auth.SigningKey{"acme": acmeKey, "beta": betaKey} {
		tn, _ := b.Tenants.BySlug(ctx, slug)
		if _, err := b.TenantKeys.AddTenantKey(ctx, tn.ID, publicJWK(t, k.Private.Public(), k.KID)); err != nil {
			t.Fatal(err)
		}
	}
	own := func(slug string, k auth.SigningKey) string {
		c := validClaims(slug, slug)
		c.IssuedAt, c.Expiry = time.Now().Truncate(time.Second), time.Now().Add(10*time.Minute)
		c.WindowStart, c.WindowEnd = c.IssuedAt.Add(-time.Hour), c.IssuedAt
		c.ID = "orchestrator-jti-7"
		return MustMint(t, k, c)
	}
	acmeTok, betaTok := own("acme", acmeKey), own("beta", betaKey)
	for _, tok := range []string{acmeTok, betaTok} {
		if _, err := b.V.Verify(ctx, tok); err != nil {
			t.Fatalf("before: %v", err)
		}
	}
	if err := b.Tokens.RevokeToken(ctx, b.Acme.ID, "orchestrator-jti-7"); err != nil {
		t.Fatalf("revoking a jti the server never issued: %v", err)
	}
	if _, err := b.V.Verify(ctx, acmeTok); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("acme's own token after its revocation: %v", err)
	}
	if _, err := b.V.Verify(ctx, betaTok); err != nil {
		t.Errorf("beta's token with the same jti: %v", err)
	}
	flushPrefix(t, b)
	if _, err := b.V.Verify(ctx, acmeTok); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("after Redis lost its data: %v, want revoked (rebuilt from token_revocations)", err)
	}
	for _, bad := range []string{"", "with space", strings.Repeat("j", 257)} {
		if err := b.Tokens.RevokeToken(ctx, b.Acme.ID, bad); !callscope.Is(err, callscope.Invalid) {
			t.Errorf("jti %.10q: %v, want Invalid", bad, err)
		}
	}
}

// TestRevocationsSurviveFlushDB is the reproduction of Redis losing its
// data, on a redis-server of the test's own and the real PostgreSQL:
// revoke, FLUSHDB, and the revoked link stays refused; while PostgreSQL
// cannot be read the view is refused (fail closed), and once it can the
// state is rebuilt without a restart.
func TestRevocationsSurviveFlushDB(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)
	rdb := redistest.Server(t)
	revs := authredis.NewRevocations(rdb, "cs:", nil)
	tokens := authdb.NewTokens(b.DB, b.Tenants, revs, auth.DefaultLimits())
	revs.SetRebuild(tokens.SyncTenant)
	v := *b.V
	v.Revocations = revs
	minter := auth.NewMinter(b.Keys, tokens, auth.DefaultLimits(), "https://view.example.com")

	revoked, rc, err := minter.Mint(ctx, b.Acme, mintReq())
	if err != nil {
		t.Fatal(err)
	}
	live, _, err := minter.Mint(ctx, b.Acme, mintReq())
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.RevokeToken(ctx, b.Acme.ID, rc.ID); err != nil {
		t.Fatal(err)
	}
	check := func(stage string, wantRevoked, wantLive error) {
		t.Helper()
		if _, err := v.Verify(ctx, revoked); !errors.Is(err, wantRevoked) {
			t.Errorf("%s: revoked link: %v, want %v", stage, err, wantRevoked)
		}
		if _, err := v.Verify(ctx, live); !errors.Is(err, wantLive) && !(wantLive == nil && err == nil) {
			t.Errorf("%s: live link: %v, want %v", stage, err, wantLive)
		}
	}
	check("before", auth.ErrRevoked, nil)

	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	revs.SetRebuild(func(context.Context, string) error { return errors.New("postgres unreachable") })
	check("flushed, no rebuild possible", auth.ErrUnavailable, auth.ErrUnavailable)

	revs.SetRebuild(tokens.SyncTenant)
	check("flushed, rebuilt", auth.ErrRevoked, nil)
}
