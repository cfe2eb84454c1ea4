package authdb_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
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
				errs <- authdb.NewKeyStore(d, MustSealer(t, testSecret)).EnsureActive(ctx)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		list, err := authdb.NewKeyStore(d, nil).List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || !list[0].Active {
			t.Fatalf("want exactly one active key, got %+v", list)
		}
	})

	t.Run("RotateAndRetire", func(t *testing.T) {
		b := setupPG(t)
		old, err := b.Keys.Active(ctx)
		if err != nil {
			t.Fatal(err)
		}
		oldTok, _ := b.MustMint(t, b.Acme, mintReq())

		info, err := b.Keys.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := b.Keys.Active(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cur.KID != info.KID || cur.KID == old.KID || !info.Active {
			t.Fatalf("after rotate: active %s, rotated to %+v, old %s", cur.KID, info, old.KID)
		}
		newTok, _ := b.MustMint(t, b.Acme, mintReq())
		if kid := headerKID(t, newTok); kid != cur.KID {
			t.Errorf("new token signed by %s, want the new key %s", kid, cur.KID)
		}
		// The old key keeps verifying until retired.
		if _, err := b.V.Verify(ctx, oldTok); err != nil {
			t.Fatalf("token of the rotated-out key refused: %v", err)
		}
		pub, err := b.Keys.PublicKeys(ctx)
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

		if err := b.Keys.Retire(ctx, cur.KID); !callscope.Is(err, callscope.Conflict) {
			t.Errorf("retiring the active key: %v, want Conflict", err)
		}
		if err := b.Keys.Retire(ctx, "no-such-kid"); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("retiring an unknown key: %v, want NotFound", err)
		}
		if err := b.Keys.Retire(ctx, old.KID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.V.Verify(ctx, oldTok); !errors.Is(err, auth.ErrSignature) {
			t.Errorf("token of a retired key: %v, want ErrSignature", err)
		}
		if _, err := b.V.Verify(ctx, newTok); err != nil {
			t.Errorf("token of the active key: %v", err)
		}
		if pub, _ := b.Keys.PublicKeys(ctx); len(pub) != 1 || pub[0].KID != cur.KID {
			t.Errorf("JWKS after retire: %+v", pub)
		}
	})

	t.Run("PrivateKeyNeverInClear", func(t *testing.T) {
		b := setupPG(t)
		k, err := b.Keys.Active(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sealed, public []byte
		if err := b.DB.Owner().QueryRow(ctx, `SELECT private_sealed, public_key FROM signing_keys WHERE kid = $1`, k.KID).Scan(&sealed, &public); err != nil {
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
		before, err := b.Keys.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		other := authdb.NewKeyStore(b.DB, MustSealer(t, "another-secret-of-at-least-32-characters"))
		for name, op := range map[string]func() error{
			"Active":       func() error { _, err := other.Active(ctx); return err },
			"CheckSecret":  func() error { return other.CheckSecret(ctx) },
			"EnsureActive": func() error { return other.EnsureActive(ctx) },
			"Rotate":       func() error { _, err := other.Rotate(ctx); return err },
		} {
			err := op()
			if !errors.Is(err, authdb.ErrWrongSecretKey) || !callscope.Is(err, callscope.Invalid) {
				t.Errorf("%s under the wrong secret: %v, want ErrWrongSecretKey", name, err)
			}
			if err != nil && strings.Contains(err.Error(), "another-secret") {
				t.Errorf("%s: the error shows the secret", name)
			}
		}
		// Refused before anything changed: the same keys, the same active one.
		after, err := b.Keys.List(ctx)
		if err != nil || len(after) != len(before) || after[0].KID != before[0].KID || !after[0].Active {
			t.Errorf("keys changed by a refused rotation: %+v -> %+v (%v)", before, after, err)
		}
		if _, err := b.Keys.Active(ctx); err != nil {
			t.Errorf("the right secret after the refusal: %v", err)
		}
	})

	t.Run("NoSecretVerifiesButCannotSign", func(t *testing.T) {
		b := setupPG(t)
		tok, _ := b.MustMint(t, b.Acme, mintReq())
		ro := authdb.NewKeyStore(b.DB, nil)
		if _, err := ro.Active(ctx); !errors.Is(err, authdb.ErrNoSecretKey) {
			t.Errorf("Active without a secret: %v", err)
		}
		if _, err := ro.Rotate(ctx); !errors.Is(err, authdb.ErrNoSecretKey) {
			t.Errorf("Rotate without a secret: %v", err)
		}
		v := *b.V
		v.Keys = authdb.Resolver{Server: ro, Tenants: b.TenantKeys}
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("verify-only store refused a valid token: %v", err)
		}
	})

	t.Run("HostileKidsAreNotFound", func(t *testing.T) {
		b := setupPG(t)
		for _, kid := range []string{"", "' OR 1=1 --", "../../etc/passwd", string(bytes.Repeat([]byte("k"), 10<<10))} {
			if _, err := b.Keys.ServerKey(ctx, kid); !callscope.Is(err, callscope.NotFound) {
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
