package authdb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

func TestTenantKeys(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)

	t.Run("Register", func(t *testing.T) {
		for _, tt := range []struct {
			file, wantKID, wantAlg string
		}{
			{"jwk/ed25519_public.json", "tenant-ed-1", "EdDSA"},
			{"jwk/p256_public.json", "tenant-ec-1", "ES256"},
			// No kid in the file: the RFC 7638 thumbprint becomes the kid.
			{"jwk/ed25519_public_bare.json", "", "EdDSA"},
		} {
			k, err := b.TenantKeys.AddTenantKey(ctx, b.Acme.ID, MustReadFile(t, tt.file))
			if err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			if tt.wantKID == "" {
				jwk, _ := auth.ParsePublicJWK(MustReadFile(t, tt.file))
				tt.wantKID, _ = auth.Thumbprint(jwk.Key)
			}
			if k.KID != tt.wantKID || k.Alg != tt.wantAlg || !k.Enabled || k.TenantID != b.Acme.ID {
				t.Errorf("%s: got %+v", tt.file, k)
			}
		}
		_, err := b.TenantKeys.AddTenantKey(ctx, b.Acme.ID, MustReadFile(t, "jwk/ed25519_public.json"))
		if !callscope.Is(err, callscope.Conflict) {
			t.Errorf("same kid twice: %v, want Conflict", err)
		}
		// The same kid in another tenant is that tenant's business.
		if _, err := b.TenantKeys.AddTenantKey(ctx, b.Beta.ID, MustReadFile(t, "jwk/ed25519_public.json")); err != nil {
			t.Errorf("beta registering a kid acme uses: %v", err)
		}
		if _, err := b.TenantKeys.AddTenantKey(ctx, 999999, MustReadFile(t, "jwk/p256_public.json")); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("unknown tenant: %v, want NotFound", err)
		}
	})

	t.Run("RefusesPrivateAndOddKeys", func(t *testing.T) {
		for _, file := range []string{
			"ed25519_private.json", "p256_private.json", "oct.json", "rsa_public.json",
			"p384_public.json", "x25519_public.json", "p256_off_curve.json",
			"ed25519_alg_es256.json", "ed25519_use_enc.json",
		} {
			_, err := b.TenantKeys.AddTenantKey(ctx, b.Beta.ID, MustReadFile(t, "jwk/"+file))
			if !callscope.Is(err, callscope.Invalid) {
				t.Errorf("%s: %v, want Invalid", file, err)
			}
		}
		for _, raw := range []string{``, `null`, `[]`, `{"kty":"OKP"}`} {
			if _, err := b.TenantKeys.AddTenantKey(ctx, b.Beta.ID, []byte(raw)); !callscope.Is(err, callscope.Invalid) {
				t.Errorf("%q: %v, want Invalid", raw, err)
			}
		}
	})

	t.Run("ListIsPerTenantAndPublicOnly", func(t *testing.T) {
		acme, err := b.TenantKeys.ListTenantKeys(ctx, b.Acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		beta, err := b.TenantKeys.ListTenantKeys(ctx, b.Beta.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(acme) != 3 || len(beta) != 1 {
			t.Fatalf("acme has %d keys, beta %d", len(acme), len(beta))
		}
		for _, k := range append(acme, beta...) {
			if _, err := auth.ParsePublicJWK(k.JWK); err != nil {
				t.Errorf("stored JWK %s does not parse as a public key: %v", k.KID, err)
			}
		}
	})

	t.Run("DisableAndLookup", func(t *testing.T) {
		if _, err := b.TenantKeys.TenantKey(ctx, "acme", "tenant-ec-1"); err != nil {
			t.Fatal(err)
		}
		if err := b.TenantKeys.DisableTenantKey(ctx, b.Acme.ID, "tenant-ec-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.TenantKeys.TenantKey(ctx, "acme", "tenant-ec-1"); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("disabled key: %v, want NotFound", err)
		}
		if err := b.TenantKeys.DisableTenantKey(ctx, b.Beta.ID, "tenant-ec-1"); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("beta disabling acme's key: %v, want NotFound", err)
		}
		if _, err := b.TenantKeys.TenantKey(ctx, "no-such-tenant", "tenant-ed-1"); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("unknown tenant: %v, want NotFound", err)
		}
	})
}

// TestTenantKeys_CrossTenant runs tenant-signed tokens end to end through a
// Verifier on the PostgreSQL-backed resolver: acme's registered key may only
// ever vouch for tid acme.
func TestTenantKeys_CrossTenant(t *testing.T) {
	ctx := context.Background()
	b := setupPG(t)
	acmeKey := MustSigningKey(t)
	if _, err := b.TenantKeys.AddTenantKey(ctx, b.Acme.ID, publicJWK(t, acmeKey.Private.Public(), "acme-1")); err != nil {
		t.Fatal(err)
	}
	ec := mustP256(t)
	if _, err := b.TenantKeys.AddTenantKey(ctx, b.Acme.ID, publicJWK(t, &ec.PublicKey, "acme-ec")); err != nil {
		t.Fatal(err)
	}
	claims := func(iss, tid string) map[string]any {
		now := time.Now()
		return map[string]any{
			"iss": iss, "aud": auth.Audience, "tid": tid, "call_id": "c1",
			"window_start": now.Add(-time.Hour).Unix(), "window_end": now.Unix(),
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": auth.NewJTI(),
		}
	}
	for _, tt := range []struct {
		name string
		tok  string
		want error // nil: accepted
	}{
		{"OwnTenantEd25519", Forge(t, header("EdDSA", "acme-1"), claims("acme", "acme"), edSigner(acmeKey.Private)), nil},
		{"OwnTenantP256", Forge(t, header("ES256", "acme-ec"), claims("acme", "acme"), ecSigner(t, ec)), nil},
		{"OtherTid", Forge(t, header("EdDSA", "acme-1"), claims("acme", "beta"), edSigner(acmeKey.Private)), auth.ErrSignature},
		{"ClaimsToBeBeta", Forge(t, header("EdDSA", "acme-1"), claims("beta", "beta"), edSigner(acmeKey.Private)), auth.ErrSignature},
		{"PassesForServer", Forge(t, header("EdDSA", "acme-1"), claims(auth.ServerIssuer, "beta"), edSigner(acmeKey.Private)), auth.ErrSignature},
		{"PassesForServerOwnTid", Forge(t, header("EdDSA", "acme-1"), claims(auth.ServerIssuer, "acme"), edSigner(acmeKey.Private)), auth.ErrSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := b.V.Verify(ctx, tt.tok)
			if tt.want == nil {
				if err != nil || c.Tenant != "acme" {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || c != nil {
				t.Fatalf("got %v, %v; want %v", c, err, tt.want)
			}
		})
	}
	t.Run("DisabledKeyStopsVerifying", func(t *testing.T) {
		tok := Forge(t, header("EdDSA", "acme-1"), claims("acme", "acme"), edSigner(acmeKey.Private))
		if err := b.TenantKeys.DisableTenantKey(ctx, b.Acme.ID, "acme-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.V.Verify(ctx, tok); !errors.Is(err, auth.ErrSignature) {
			t.Fatalf("disabled key: %v", err)
		}
	})
	t.Run("SuspendedTenant", func(t *testing.T) {
		tok := Forge(t, header("ES256", "acme-ec"), claims("acme", "acme"), ecSigner(t, ec))
		if _, err := b.V.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		suspend(t, b, b.Acme.ID)
		b.Cached.Forget("acme") // as the console will after suspending
		if _, err := b.V.Verify(ctx, tok); !errors.Is(err, auth.ErrTenantInactive) {
			t.Fatalf("suspended tenant: %v", err)
		}
	})
}
