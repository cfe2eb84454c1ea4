package auth_test

import (
	"context"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, never
// accept claims that were not signed, and always return a classified
// Unauthorized error. Seeds include a valid token, so mutations explore
// the parser past the cheap checks.
func FuzzVerify(f *testing.F) {
	server := MustSigningKey(f)
	keys := &memKeys{Server: map[string]crypto.PublicKey{server.KID: server.Private.Public()}}
	v := &auth.Verifier{
		Keys: keys, Tenants: memTenants{"acme": true}, Revocations: noRevocations{},
		Now: func() time.Time { return testNow },
	}
	signed := validClaims(auth.ServerIssuer, "acme")
	valid := MustMint(f, server, signed)
	for _, seed := range []string{
		valid, "", ".", "..", "...", "a.b.c", "a.b.c.d.e", "{}", `{"payload":"e30"}`,
		strings.Repeat(".", 100), valid[:len(valid)-2], valid + "A", strings.ToUpper(valid),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err == nil {
			// A string other than valid may verify only by spelling the
			// same signed bytes (base64 allows unused trailing bits to
			// differ): then its claims are exactly the ones signed.
			if c.ID != signed.ID || c.Tenant != signed.Tenant || c.CallID != signed.CallID ||
				!c.Expiry.Equal(signed.Expiry) || !c.WindowStart.Equal(signed.WindowStart) || !c.WindowEnd.Equal(signed.WindowEnd) {
				t.Fatalf("accepted %q with claims that were never signed: %+v", tok, c)
			}
			return
		}
		if c != nil {
			t.Fatal("claims returned with an error")
		}
		if callscope.KindOf(err) != callscope.Unauthorized || auth.Outcome(err) == "error" {
			t.Fatalf("unclassified error %v", err)
		}
	})
}
