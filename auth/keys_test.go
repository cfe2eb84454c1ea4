package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

func MustReadFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParsePublicJWK(t *testing.T) {
	for _, tt := range []struct {
		file    string
		wantAlg string // "" when refused
		wantMsg string // substring of the public message when refused
	}{
		{"ed25519_public.json", "EdDSA", ""},
		{"ed25519_public_bare.json", "EdDSA", ""},
		{"p256_public.json", "ES256", ""},
		{"ed25519_private.json", "", "private key"},
		{"p256_private.json", "", "private key"},
		{"rsa_public.json", "", "RSA"},
		{"oct.json", "", "symmetric"},
		{"p384_public.json", "", "curve"},
		{"x25519_public.json", "", "curve"},
		{"ed25519_use_enc.json", "", "use"},
		{"ed25519_alg_es256.json", "", "alg"},
		{"p256_off_curve.json", "", "invalid"},
	} {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			jwk, err := auth.ParsePublicJWK(MustReadFile(t, filepath.Join("jwk", tt.file)))
			if tt.wantAlg != "" {
				if err != nil {
					t.Fatalf("ParsePublicJWK: %v", err)
				}
				if jwk.Algorithm != tt.wantAlg || !jwk.IsPublic() {
					t.Errorf("alg = %q public = %v", jwk.Algorithm, jwk.IsPublic())
				}
				return
			}
			if !callscope.Is(err, callscope.Invalid) {
				t.Fatalf("err = %v, want a callscope Invalid error", err)
			}
			if _, msg := callscope.Public(err); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q does not mention %q", msg, tt.wantMsg)
			}
		})
	}
	for name, in := range map[string]string{
		"NotJSON":   "kty=OKP",
		"Array":     `[{"kty":"OKP"}]`,
		"Null":      "null",
		"TooLarge":  `{"kty":"OKP","crv":"Ed25519","x":"` + strings.Repeat("A", 9000) + `"}`,
		"BadKid":    `{"kty":"OKP","crv":"Ed25519","kid":"has space","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		"NoKeyType": `{"crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := auth.ParsePublicJWK([]byte(in)); !callscope.Is(err, callscope.Invalid) {
				t.Fatalf("err = %v, want Invalid", err)
			}
		})
	}
}

func TestNewSigningKey(t *testing.T) {
	a, b := MustSigningKey(t), MustSigningKey(t)
	if a.KID == b.KID || !auth.ValidKID(a.KID) {
		t.Fatalf("kids %q %q", a.KID, b.KID)
	}
	if tp, err := auth.Thumbprint(a.Private.Public()); err != nil || tp != a.KID {
		t.Errorf("kid is not the thumbprint: %q %v", tp, err)
	}
}

func TestJWKS(t *testing.T) {
	k := MustSigningKey(t)
	ec := mustP256(t)
	set := auth.JWKS([]auth.PublicKey{
		k.Public(),
		{KID: "ec", Key: &ec.PublicKey},
		{KID: "leak", Key: k.Private}, // a private key by mistake: only its public half is published
		{KID: "hmac", Key: []byte("secret")},
	})
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), `"d"`) || strings.Contains(string(raw), `"k"`) {
		t.Fatalf("JWKS leaks private material: %s", raw)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("%d keys, want 3 (hmac left out): %s", len(set.Keys), raw)
	}
	for _, key := range set.Keys {
		if key.Use != "sig" || !key.IsPublic() {
			t.Errorf("key %q: use %q public %v", key.KeyID, key.Use, key.IsPublic())
		}
		// Round-trip through the tenant-key parser: what we publish is what we accept.
		one, _ := json.Marshal(key)
		if _, err := auth.ParsePublicJWK(one); err != nil {
			t.Errorf("published key %q does not parse back: %v", key.KeyID, err)
		}
	}
	if _, ok := set.Keys[0].Key.(ed25519.PublicKey); !ok {
		t.Errorf("first key is %T", set.Keys[0].Key)
	}
	if _, ok := set.Keys[1].Key.(*ecdsa.PublicKey); !ok || set.Keys[1].Algorithm != "ES256" {
		t.Errorf("second key is %T %s", set.Keys[1].Key, set.Keys[1].Algorithm)
	}
}

func TestValidKID(t *testing.T) {
	for kid, want := range map[string]bool{
		"abc":                    true,
		"../../etc/passwd":       true, // opaque: refused later as unknown, never used as a path
		"":                       false,
		"a b":                    false,
		"tab\t":                  false,
		"é":                      false,
		strings.Repeat("k", 128): true,
		strings.Repeat("k", 129): false,
	} {
		if got := auth.ValidKID(kid); got != want {
			t.Errorf("ValidKID(%q) = %v, want %v", kid, got, want)
		}
	}
}
