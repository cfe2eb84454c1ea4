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
// accept anything the fuzzer made up, and always return a classified
// Unauthorized error. Seeds include a valid token, so mutations explore
// the parser past the cheap checks.
func FuzzVerify(f *testing.F) {
	server := MustSigningKey(f)
	keys := &memKeys{server: map[string]crypto.PublicKey{server.KID: server.Private.Public()}}
	v := &auth.Verifier{
		Keys: keys, Tenants: memTenants{"acme": true}, Revocations: noRevocations{},
		Now: func() time.Time { return testNow },
	}
	valid := MustMint(f, server, validClaims(auth.ServerIssuer, "acme"))
	for _, seed := range []string{
		valid, "", ".", "..", "...", "a.b.c", "a.b.c.d.e", "{}", `{"payload":"e30"}`,
		strings.Repeat(".", 100), valid[:len(valid)-2], valid + "A", strings.ToUpper(valid),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err == nil {
			if tok != valid {
				// A different string that verifies: only possible if it
				// decodes to the same signed bytes, which strict base64url forbids.
				t.Fatalf("accepted a mutated token %q: %+v", tok, c)
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
