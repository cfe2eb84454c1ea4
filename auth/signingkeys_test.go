package auth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db/dbtest"
)

func TestKeyStore(t *testing.T) {
	ctx := context.Background()

	t.Run("ConcurrentFirstStartsCreateOneKey", func(t *testing.T) {
		d := dbtest.New(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Separate stores, as separate replicas would have.
				errs <- auth.NewKeyStore(d, MustSealer(t, testSecret)).EnsureActive(ctx)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		list, err := auth.NewKeyStore(d, nil).List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || !list[0].Active {
			t.Fatalf("want exactly one active key, got %+v", list)
		}
	})

	t.Run("RotateAndRetire", func(t *testing.T) {
		b := setupPG(t)
		old, err := b.keys.Active(ctx)
		if err != nil {
			t.Fatal(err)
		}
		oldTok, _ := b.MustMint(t, b.acme, mintReq())

		info, err := b.keys.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := b.keys.Active(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cur.KID != info.KID || cur.KID == old.KID || !info.Active {
			t.Fatalf("after rotate: active %s, rotated to %+v, old %s", cur.KID, info, old.KID)
		}
		newTok, _ := b.MustMint(t, b.acme, mintReq())
		if kid := headerKID(t, newTok); kid != cur.KID {
			t.Errorf("new token signed by %s, want the new key %s", kid, cur.KID)
		}
		// The old key keeps verifying until retired.
		if _, err := b.v.Verify(ctx, oldTok); err != nil {
			t.Fatalf("token of the rotated-out key refused: %v", err)
		}
		pub, err := b.keys.PublicKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pub) != 2 {
			t.Fatalf("JWKS has %d keys, want old and new", len(pub))
		}
		for _, p := range pub {
			if _, ok := p.Key.(ed25519.PublicKey); !ok {
				t.Errorf("JWKS key %s is %T", p.KID, p.Key)
			}
		}

		if err := b.keys.Retire(ctx, cur.KID); !callscope.Is(err, callscope.Conflict) {
			t.Errorf("retiring the active key: %v, want Conflict", err)
		}
		if err := b.keys.Retire(ctx, "no-such-kid"); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("retiring an unknown key: %v, want NotFound", err)
		}
		if err := b.keys.Retire(ctx, old.KID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.v.Verify(ctx, oldTok); !errors.Is(err, auth.ErrSignature) {
			t.Errorf("token of a retired key: %v, want ErrSignature", err)
		}
		if _, err := b.v.Verify(ctx, newTok); err != nil {
			t.Errorf("token of the active key: %v", err)
		}
		if pub, _ := b.keys.PublicKeys(ctx); len(pub) != 1 || pub[0].KID != cur.KID {
			t.Errorf("JWKS after retire: %+v", pub)
		}
	})

	t.Run("PrivateKeyNeverInClear", func(t *testing.T) {
		b := setupPG(t)
		k, err := b.keys.Active(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sealed, public []byte
		if err := b.d.Owner().QueryRow(ctx, `SELECT private_sealed, public_key FROM signing_keys WHERE kid = $1`, k.KID).Scan(&sealed, &public); err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string][]byte{"seed": k.Private.Seed(), "private key": k.Private, "seed half": k.Private.Seed()[:16]} {
			if bytes.Contains(sealed, secret) {
				t.Errorf("the stored row contains the %s in clear", name)
			}
		}
		if !bytes.Equal(public, k.Private.Public().(ed25519.PublicKey)) {
			t.Error("public_key column is not the public key")
		}
		// version byte + 12-byte nonce + 32-byte seed + 16-byte tag
		if len(sealed) != 1+12+32+16 {
			t.Errorf("sealed blob is %d bytes", len(sealed))
		}
	})

	t.Run("WrongSecretCannotOpen", func(t *testing.T) {
		b := setupPG(t)
		other := auth.NewKeyStore(b.d, MustSealer(t, "another-secret-of-at-least-32-characters"))
		if _, err := other.Active(ctx); !callscope.Is(err, callscope.Internal) {
			t.Fatalf("Active under the wrong secret: %v, want Internal", err)
		}
	})

	t.Run("NoSecretVerifiesButCannotSign", func(t *testing.T) {
		b := setupPG(t)
		tok, _ := b.MustMint(t, b.acme, mintReq())
		ro := auth.NewKeyStore(b.d, nil)
		if _, err := ro.Active(ctx); !errors.Is(err, auth.ErrNoSecretKey) {
			t.Errorf("Active without a secret: %v", err)
		}
		if _, err := ro.Rotate(ctx); !errors.Is(err, auth.ErrNoSecretKey) {
			t.Errorf("Rotate without a secret: %v", err)
		}
		v := *b.v
		v.Keys = auth.Resolver{Server: ro, Tenants: b.tkeys}
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("verify-only store refused a valid token: %v", err)
		}
	})

	t.Run("HostileKidsAreNotFound", func(t *testing.T) {
		b := setupPG(t)
		for _, kid := range []string{"", "' OR 1=1 --", "../../etc/passwd", string(bytes.Repeat([]byte("k"), 10<<10))} {
			if _, err := b.keys.ServerKey(ctx, kid); !callscope.Is(err, callscope.NotFound) {
				t.Errorf("ServerKey(%.20q): %v, want NotFound", kid, err)
			}
		}
	})
}

func headerKID(tb testing.TB, tok string) string {
	tb.Helper()
	var h struct {
		KID string `json:"kid"`
	}
	mustDecodeSegment(tb, tok[:bytes.IndexByte([]byte(tok), '.')], &h)
	return h.KID
}
