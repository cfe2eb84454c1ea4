package authdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authtest"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// BenchmarkVerifyPG verifies a server-minted token through the
// PostgreSQL-backed resolver and tenant status, warmed (keys and status in
// their caches), with the revocation MGET against the local Redis.
func BenchmarkVerifyPG(b *testing.B) {
	ctx := context.Background()
	bd := setupPG(b)
	v := *bd.V
	v.Tenants = tenantdb.NewCache(bd.Tenants, time.Hour)
	tok, _ := bd.MustMint(b, bd.Acme, mintReq())
	if _, err := v.Verify(ctx, tok); err != nil { // warm the caches
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		revs auth.RevocationChecker
	}{
		{"Redis", bd.Revs},
		{"NoRevocation", authtest.NoRevocations{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := v
			v.Revocations = bc.revs
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("CachedKeyLookup", func(b *testing.B) {
		kid := headerKID(b, tok)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Keys.ServerKey(ctx, kid); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMinterMint is the whole mint of the API minus HTTP: checks,
// signing with the cached active key, and the view_tokens INSERT (one
// PostgreSQL transaction) that records the link.
func BenchmarkMinterMint(b *testing.B) {
	ctx := context.Background()
	bd := setupPG(b)
	r := mintReq()
	if _, _, err := bd.Minter.Mint(ctx, bd.Acme, r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := bd.Minter.Mint(ctx, bd.Acme, r); err != nil {
			b.Fatal(err)
		}
	}
}
