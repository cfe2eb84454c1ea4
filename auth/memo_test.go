package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callscope/callscope/auth"
)

// TestVerifiedTokenMemo: a token verified once skips the signature check
// the next time, but never a decision: key removal, key replacement under
// the same kid, expiry, tenant suspension and revocation all refuse it on
// the very next Verify.
func TestVerifiedTokenMemo(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(b *bundle, c auth.Claims)
		want   error
	}{
		{"key removed", func(b *bundle, _ auth.Claims) { delete(b.Keys.Tenant["acme"], b.AcmeEd.KID) }, auth.ErrSignature},
		{"other key under the same kid", func(b *bundle, _ auth.Claims) {
			b.Keys.Tenant["acme"][b.AcmeEd.KID] = MustSigningKey(t).Private.Public()
		}, auth.ErrSignature},
		{"tenant suspended", func(b *bundle, _ auth.Claims) { b.Tenants["acme"] = false }, auth.ErrTenantInactive},
		{"jti revoked", func(b *bundle, c auth.Claims) {
			if err := b.Revs.RevokeJTI(ctx, "acme", c.ID, c.Expiry); err != nil {
				t.Fatal(err)
			}
		}, auth.ErrRevoked},
		{"expired", func(b *bundle, c auth.Claims) {
			b.V.Now = func() time.Time { return c.Expiry.Add(time.Hour) }
		}, auth.ErrExpired},
		{"key store down", func(b *bundle, _ auth.Claims) { b.Keys.Err = errors.New("down") }, auth.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			c := validClaims("acme", "acme")
			tok := MustMint(t, b.AcmeEd, c)
			for i := range 2 { // the second one is served by the memo
				got, err := b.V.Verify(ctx, tok)
				if err != nil {
					t.Fatalf("verify %d: %v", i, err)
				}
				if got.ID != c.ID || got.Tenant != "acme" {
					t.Fatalf("verify %d: claims %+v", i, got)
				}
				got.Tenant = "beta" // callers get their own copy
			}
			tc.change(b, c)
			if _, err := b.V.Verify(ctx, tok); !errors.Is(err, tc.want) {
				t.Errorf("after the change: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestVerifiedTokenMemoPerVerifier: what one Verifier found authentic is
// not taken on trust by another with different keys.
func TestVerifiedTokenMemoPerVerifier(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	tok := MustMint(t, b.AcmeEd, validClaims("acme", "acme"))
	if _, err := b.V.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	other := &auth.Verifier{Keys: &memKeys{}, Tenants: b.Tenants, Revocations: b.Revs,
		Limits: auth.DefaultLimits(), Now: b.V.Now}
	if _, err := other.Verify(ctx, tok); !errors.Is(err, auth.ErrSignature) {
		t.Errorf("other verifier: %v", err)
	}
}
