package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

func TestTokens_RevocationSync(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)
	revoked, rc := b.MustMint(t, b.acme, mintReq())
	kept, _ := b.MustMint(t, b.acme, mintReq())
	betaTok, _ := b.MustMint(t, b.beta, mintReq())

	if err := b.tokens.RevokeToken(ctx, b.beta.ID, rc.ID); !callscope.Is(err, callscope.NotFound) {
		t.Fatalf("beta revoking acme's jti: %v, want NotFound", err)
	}
	if err := b.tokens.RevokeToken(ctx, b.acme.ID, rc.ID); err != nil {
		t.Fatal(err)
	}

	// Recorded in PostgreSQL...
	var revokedAt *time.Time
	if err := b.d.Owner().QueryRow(ctx, `SELECT revoked_at FROM view_tokens WHERE jti = $1`, rc.ID).Scan(&revokedAt); err != nil || revokedAt == nil {
		t.Fatalf("revoked_at not recorded: %v %v", revokedAt, err)
	}
	// ...and in Redis, expiring with the token.
	ttl, err := b.rdb.TTL(ctx, b.prefix+"rev:{acme}:"+rc.ID).Result()
	if err != nil || ttl <= 0 || ttl > time.Until(rc.Expiry)+auth.MaxLeeway+time.Second {
		t.Fatalf("Redis revocation TTL %v (%v), token expires in %v", ttl, err, time.Until(rc.Expiry))
	}
	active, _ := b.tokens.ListTokens(ctx, b.acme.ID, auth.TokenFilter{ActiveOnly: true})
	if len(active) != 1 {
		t.Errorf("active links after one revocation: %d, want 1", len(active))
	}

	mustRefuse := func(t *testing.T, tok string, want error) {
		t.Helper()
		if _, err := b.v.Verify(ctx, tok); !errors.Is(err, want) {
			t.Fatalf("Verify: %v, want %v", err, want)
		}
	}
	mustAccept := func(t *testing.T, tok string) {
		t.Helper()
		if _, err := b.v.Verify(ctx, tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	mustRefuse(t, revoked, auth.ErrRevoked)
	mustAccept(t, kept)

	// Tenant-wide: everything acme issued until now; beta untouched.
	if _, err := b.tokens.RevokeAllTenantTokens(ctx, b.acme.ID); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, kept, auth.ErrRevoked)
	mustAccept(t, betaTok)
	if tn, _ := b.tenants.ByID(ctx, b.acme.ID); tn.TokensValidAfter == nil {
		t.Fatal("tenant epoch not recorded in PostgreSQL")
	}
	if active, _ := b.tokens.ListTokens(ctx, b.acme.ID, auth.TokenFilter{ActiveOnly: true}); len(active) != 0 {
		t.Errorf("active links after revoke-all: %+v", active)
	}

	// Redis forgets everything (a restart without persistence)...
	flushPrefix(t, b)
	mustAccept(t, revoked)
	mustAccept(t, kept)
	// ...and the start-up sync restores it from PostgreSQL.
	n, err := b.tokens.SyncRevocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // two revoked jtis (the second by revoke-all) + one epoch
		t.Errorf("SyncRevocations wrote %d keys, want 3", n)
	}
	mustRefuse(t, revoked, auth.ErrRevoked)
	mustRefuse(t, kept, auth.ErrRevoked)
	mustAccept(t, betaTok)
	if _, err := b.tokens.SyncRevocations(ctx); err != nil {
		t.Fatalf("second sync: %v", err)
	}
}

func TestTokens_RedisDownRevokeFails(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)
	_, c := b.MustMint(t, b.acme, mintReq())
	dead := auth.NewTokens(b.d, b.tenants, auth.NewRevocations(DeadRedis(t), b.prefix, nil))
	err := dead.RevokeToken(ctx, b.acme.ID, c.ID)
	if !callscope.Is(err, callscope.Unavailable) {
		t.Fatalf("revoke with Redis down: %v, want Unavailable", err)
	}
	// PostgreSQL kept the record, so a sync (or a retry) completes it.
	if n, err := b.tokens.SyncRevocations(ctx); err != nil || n != 1 {
		t.Fatalf("sync after a failed publish: %d, %v", n, err)
	}
}

func flushPrefix(tb testing.TB, b *pgBundle) {
	tb.Helper()
	ctx := context.Background()
	iter := b.rdb.Scan(ctx, 0, b.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		b.rdb.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatal(err)
	}
}
