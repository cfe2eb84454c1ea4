package auth_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/callscope/callscope/auth"
)

// interopFile is testdata/interop/tokens.json: tokens and keys made by
// Node.js's crypto (testdata/interop/generate.mjs), another JOSE
// implementation than the go-jose that Verify parses with.
type interopFile struct {
	Keys   map[string]json.RawMessage `json:"keys"`
	Tokens map[string]string          `json:"tokens"`
}

func loadInterop(t *testing.T) (interopFile, map[string]crypto.PublicKey) {
	t.Helper()
	raw, err := os.ReadFile("testdata/interop/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	var f interopFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	keys := map[string]crypto.PublicKey{}
	for name, j := range f.Keys {
		jwk, err := auth.ParsePublicJWK(j)
		if err != nil {
			t.Fatalf("key %s: %v", name, err)
		}
		keys[name] = jwk.Key
	}
	return f, keys
}

// TestVerify_OtherImplementation: tokens Node.js signed (its own member
// order, spacing, an audience array) verify, server- and tenant-signed,
// EdDSA and ES256; the same tokens altered do not.
func TestVerify_OtherImplementation(t *testing.T) {
	f, keys := loadInterop(t)
	b := setup(t)
	b.Keys.Server["node-srv"] = keys["server_ed25519"]
	b.Keys.Tenant["acme"]["node-ed"] = keys["tenant_ed25519"]
	b.Keys.Tenant["acme"]["node-ec"] = keys["tenant_p256"]
	ctx := context.Background()
	for name, tok := range f.Tokens {
		t.Run(name, func(t *testing.T) {
			c, err := b.V.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Tenant != "acme" || c.CallID != "c1@acme" || !strings.HasPrefix(c.ID, "node-") {
				t.Errorf("claims %+v", c)
			}
			if name == "tenant_es256" && !c.HasScope(auth.ScopePCAP) {
				t.Error("scope pcap lost")
			}
			parts := strings.Split(tok, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[5] ^= 0x01
			forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
			if _, err := b.V.Verify(ctx, forged); !errors.Is(err, auth.ErrSignature) {
				t.Errorf("altered signature: %v, want %v", err, auth.ErrSignature)
			}
		})
	}
}
