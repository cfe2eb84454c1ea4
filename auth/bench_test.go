package auth_test

import (
	"context"
	"testing"

	"github.com/callscope/callscope/auth"
)

// BenchmarkVerify: keys come from the in-memory resolver (as from a warm
// cache). "Redis" includes the MGET round trip to the local Redis;
// "NoRevocation" isolates parsing and signature verification.
func BenchmarkVerify(b *testing.B) {
	bd := setup(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		revs auth.RevocationChecker
	}{
		{"Redis", bd.Revs},
		{"NoRevocation", noRevocations{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := *bd.V
			v.Revocations = bc.revs
			tok := MustMint(b, bd.Server, validClaims(auth.ServerIssuer, "acme"))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("FirstSight", func(b *testing.B) {
		// A link's first view: no memo, so the parse and the signature
		// check run every time (revocation left out, as in NoRevocation).
		v := *bd.V
		v.Revocations, v.Memo = noRevocations{}, nil
		tok := MustMint(b, bd.Server, validClaims(auth.ServerIssuer, "acme"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RejectGarbage", func(b *testing.B) {
		// The cost an attacker imposes with a malformed link.
		tok := "eyJhbGciOiJub25lIn0.e30.x"
		b.ReportAllocs()
		for b.Loop() {
			_, _ = bd.V.Verify(ctx, tok)
		}
	})
}

func BenchmarkMint(b *testing.B) {
	k := MustSigningKey(b)
	c := validClaims(auth.ServerIssuer, "acme")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.Mint(k, c); err != nil {
			b.Fatal(err)
		}
	}
}
