package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authtest"
)

func TestVerify_Accepts(t *testing.T) {
	b := setup(t)
	ctx := context.Background()

	t.Run("ServerToken", func(t *testing.T) {
		c := validClaims(auth.ServerIssuer, "acme")
		c.Scopes = []string{auth.ScopePCAP}
		got, err := b.V.Verify(ctx, MustMint(t, b.Server, c))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got.Tenant != "acme" || got.CallID != c.CallID || got.ID != c.ID || got.Issuer != auth.ServerIssuer ||
			!got.Expiry.Equal(c.Expiry) || !got.WindowStart.Equal(c.WindowStart) || !got.HasScope(auth.ScopePCAP) {
			t.Errorf("claims = %+v, want %+v", got, c)
		}
		if got.HasScope("admin") {
			t.Error("HasScope(admin) = true")
		}
	})
	t.Run("TenantEd25519", func(t *testing.T) {
		if _, err := b.V.Verify(ctx, MustMint(t, b.AcmeEd, validClaims("acme", "acme"))); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("TenantES256", func(t *testing.T) {
		tok := Forge(t, header("ES256", b.AcmeECK), claimsMap("acme", "acme"), ecSigner(t, b.AcmeEC))
		if _, err := b.V.Verify(ctx, tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("TenantES256_GoJose", func(t *testing.T) {
		// The same through another implementation, as an orchestrator would.
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: b.AcmeEC},
			(&jose.SignerOptions{}).WithType(auth.TokenType).WithHeader("kid", b.AcmeECK))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign([]byte(mustJSON(t, claimsMap("acme", "acme"))))
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := jws.CompactSerialize()
		if _, err := b.V.Verify(ctx, tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("AudienceArrayOfOne", func(t *testing.T) {
		m := claimsMap(auth.ServerIssuer, "acme")
		m["aud"] = []string{auth.Audience}
		if _, err := b.V.Verify(ctx, Forge(t, header("EdDSA", b.Server.KID), m, edSigner(b.Server.Private))); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("ExpiredWithinLeeway", func(t *testing.T) {
		c := validClaims(auth.ServerIssuer, "acme")
		c.IssuedAt, c.Expiry = testNow.Add(-10*time.Minute), testNow.Add(-29*time.Second)
		if _, err := b.V.Verify(ctx, MustMint(t, b.Server, c)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("UnknownClaimsIgnored", func(t *testing.T) {
		m := claimsMap(auth.ServerIssuer, "acme")
		m["sub"], m["custom"] = "someone", map[string]int{"a": 1}
		if _, err := b.V.Verify(ctx, Forge(t, header("EdDSA", b.Server.KID), m, edSigner(b.Server.Private))); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

func TestVerify_Refuses(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	srv := edSigner(b.Server.Private)
	// claims returns valid server claims for acme with edits applied.
	claims := func(edit func(m map[string]any)) map[string]any {
		m := claimsMap(auth.ServerIssuer, "acme")
		if edit != nil {
			edit(m)
		}
		return m
	}
	hdr := func(edit func(h map[string]any)) map[string]any {
		h := header("EdDSA", b.Server.KID)
		if edit != nil {
			edit(h)
		}
		return h
	}
	valid := func(t *testing.T) string { return MustMint(t, b.Server, validClaims(auth.ServerIssuer, "acme")) }
	b64 := base64.RawURLEncoding.EncodeToString

	for _, tt := range []struct {
		name  string
		token func(t *testing.T) string
		want  error
	}{
		{"AlgNone", func(t *testing.T) string {
			return b64([]byte(mustJSON(t, hdr(func(h map[string]any) { h["alg"] = "none" })))) + "." + b64([]byte(mustJSON(t, claims(nil)))) + "."
		}, auth.ErrMalformed},
		{"AlgNoneWithSignature", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["alg"] = "none" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"AlgNoneCapitalised", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["alg"] = "None" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"AlgNoNE", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["alg"] = "noNE" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"AlgEdDSALowercase", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["alg"] = "eddsa" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"HS256WithPublicKeyAsSecret", func(t *testing.T) string {
			secret := []byte(b.Server.Private.Public().(ed25519.PublicKey))
			return Forge(t, hdr(func(h map[string]any) { h["alg"] = "HS256" }), claims(nil), func(in []byte) []byte {
				m := hmac.New(sha256.New, secret)
				m.Write(in)
				return m.Sum(nil)
			})
		}, auth.ErrMalformed},
		{"RS256", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["alg"] = "RS256" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"ES384", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["alg"] = "ES384" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"UnknownKid", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["kid"] = "no-such-key" }), claims(nil), srv)
		}, auth.ErrSignature},
		{"KidSQL", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["kid"] = "' OR 1=1--" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"KidSQLNoSpaces", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["kid"] = "'OR'1'='1'--" }), claims(nil), srv)
		}, auth.ErrSignature},
		{"KidPath", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["kid"] = "../../etc/passwd" }), claims(nil), srv)
		}, auth.ErrSignature},
		{"Kid10KB", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["kid"] = strings.Repeat("k", 10<<10) }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"Kid129", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["kid"] = strings.Repeat("k", 129) }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"KidEmpty", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["kid"] = "" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"KidNotString", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["kid"] = 7 }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"X5U", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["x5u"] = "http://127.0.0.1:1/cert.pem" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"X5C", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["x5c"] = []string{"MIIB"} }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"EmbeddedJWK", func(t *testing.T) string {
			// The attacker signs with their own key and embeds it.
			evil := MustSigningKey(t)
			jwk := auth.JWKS([]auth.PublicKey{evil.Public()}).Keys[0]
			return Forge(t, hdr(func(h map[string]any) { h["jwk"] = jwk; h["kid"] = evil.KID }), claims(nil), edSigner(evil.Private))
		}, auth.ErrMalformed},
		{"Crit", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["crit"] = []string{"exp"} }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"B64False", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["b64"] = false }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"DuplicateAlg", func(t *testing.T) string {
			raw := `{"alg":"none","typ":"call-view+jwt","kid":"` + b.Server.KID + `","alg":"EdDSA"}`
			return Forge(t, raw, claims(nil), srv)
		}, auth.ErrMalformed},
		{"CaseVariantHeader", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["ALG"] = "none" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"HeaderNotObject", func(t *testing.T) string { return Forge(t, `["EdDSA"]`, claims(nil), srv) }, auth.ErrMalformed},
		{"MissingTyp", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { delete(h, "typ") }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"WrongTyp", func(t *testing.T) string {
			return Forge(t, hdr(func(h map[string]any) { h["typ"] = "JWT" }), claims(nil), srv)
		}, auth.ErrMalformed},
		{"Over4KiB", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["pad"] = strings.Repeat("x", 4096) }), srv)
		}, auth.ErrMalformed},
		{"TenThousandDots", func(t *testing.T) string { return strings.Repeat(".", 10000) }, auth.ErrMalformed},
		{"TwoThousandDots", func(t *testing.T) string { return strings.Repeat(".", 2000) }, auth.ErrMalformed},
		{"Empty", func(t *testing.T) string { return "" }, auth.ErrMalformed},
		{"EmptySignature", func(t *testing.T) string {
			tok := valid(t)
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}, auth.ErrMalformed},
		{"JSONSerialization", func(t *testing.T) string {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: b.Server.Private},
				(&jose.SignerOptions{}).WithType(auth.TokenType).WithHeader("kid", b.Server.KID))
			if err != nil {
				t.Fatal(err)
			}
			jws, err := s.Sign([]byte(mustJSON(t, claims(nil))))
			if err != nil {
				t.Fatal(err)
			}
			return jws.FullSerialize()
		}, auth.ErrMalformed},
		{"JWE", func(t *testing.T) string {
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: key},
				(&jose.EncrypterOptions{}).WithType(auth.TokenType))
			if err != nil {
				t.Fatal(err)
			}
			obj, err := enc.Encrypt([]byte(mustJSON(t, claims(nil))))
			if err != nil {
				t.Fatal(err)
			}
			s, err := obj.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(s, ".") != 4 {
				t.Fatalf("JWE has %d dots", strings.Count(s, "."))
			}
			return s
		}, auth.ErrMalformed},
		{"FlippedBitInPayload", func(t *testing.T) string {
			parts := strings.Split(valid(t), ".")
			p, _ := base64.RawURLEncoding.DecodeString(parts[1])
			i := strings.Index(string(p), "c1@acme")
			p[i] ^= 0x01 // 'c' -> 'b': still valid JSON, different call
			parts[1] = b64(p)
			return strings.Join(parts, ".")
		}, auth.ErrSignature},
		{"FlippedBitInSignature", func(t *testing.T) string {
			parts := strings.Split(valid(t), ".")
			s, _ := base64.RawURLEncoding.DecodeString(parts[2])
			s[10] ^= 0x80
			parts[2] = b64(s)
			return strings.Join(parts, ".")
		}, auth.ErrSignature},
		{"TruncatedSignature", func(t *testing.T) string {
			parts := strings.Split(valid(t), ".")
			s, _ := base64.RawURLEncoding.DecodeString(parts[2])
			parts[2] = b64(s[:63])
			return strings.Join(parts, ".")
		}, auth.ErrSignature},
		{"StandardBase64", func(t *testing.T) string {
			// "???" and ">>>" encode to '/' and '+' in standard base64.
			m := claims(func(m map[string]any) { m["x"] = "???>>>~~" })
			enc := base64.StdEncoding
			input := enc.EncodeToString([]byte(mustJSON(t, hdr(nil)))) + "." + enc.EncodeToString([]byte(mustJSON(t, m)))
			tok := input + "." + enc.EncodeToString(srv([]byte(input)))
			if !strings.ContainsAny(tok, "+/=") {
				t.Fatal("fixture has no standard-base64 characters")
			}
			return tok
		}, auth.ErrMalformed},
		{"StandardBase64Unpadded", func(t *testing.T) string {
			m := claims(func(m map[string]any) { m["x"] = "???>>>~~" })
			enc := base64.RawStdEncoding
			input := enc.EncodeToString([]byte(mustJSON(t, hdr(nil)))) + "." + enc.EncodeToString([]byte(mustJSON(t, m)))
			return input + "." + enc.EncodeToString(srv([]byte(input)))
		}, auth.ErrMalformed},
		{"Base64URLPadded", func(t *testing.T) string {
			enc := base64.URLEncoding
			input := enc.EncodeToString([]byte(mustJSON(t, hdr(nil)))) + "." + enc.EncodeToString([]byte(mustJSON(t, claims(nil))))
			return input + "." + enc.EncodeToString(srv([]byte(input)))
		}, auth.ErrMalformed},
		{"NewlineInSegment", func(t *testing.T) string {
			tok := valid(t)
			return tok[:10] + "\n" + tok[10:]
		}, auth.ErrMalformed},
		{"DuplicateClaim", func(t *testing.T) string {
			m := claims(nil)
			raw := strings.TrimSuffix(mustJSON(t, m), "}") + `,"tid":"beta"}`
			return Forge(t, hdr(nil), raw, srv)
		}, auth.ErrMalformed},
		{"ClaimsNotObject", func(t *testing.T) string { return Forge(t, hdr(nil), `"hello"`, srv) }, auth.ErrMalformed},
		{"MissingExp", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "exp") }), srv)
		}, auth.ErrMalformed},
		{"MissingIat", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "iat") }), srv)
		}, auth.ErrMalformed},
		{"MissingJti", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "jti") }), srv)
		}, auth.ErrMalformed},
		{"MissingAud", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "aud") }), srv)
		}, auth.ErrMalformed},
		{"MissingTid", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "tid") }), srv)
		}, auth.ErrMalformed},
		{"MissingCallID", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "call_id") }), srv)
		}, auth.ErrMalformed},
		{"MissingWindowStart", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "window_start") }), srv)
		}, auth.ErrMalformed},
		{"MissingWindowEnd", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "window_end") }), srv)
		}, auth.ErrMalformed},
		{"MissingIss", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { delete(m, "iss") }), srv)
		}, auth.ErrMalformed},
		{"NullExp", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["exp"] = nil }), srv)
		}, auth.ErrMalformed},
		{"ExpAsString", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["exp"] = "1772368200" }), srv)
		}, auth.ErrMalformed},
		{"ExpHuge", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["exp"] = 1e300 }), srv)
		}, auth.ErrMalformed},
		{"ScopesNotArray", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["scp"] = "pcap" }), srv)
		}, auth.ErrMalformed},
		{"LifetimeOverMaximum", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) {
				m["exp"] = testNow.Add(time.Hour + time.Second).Unix()
			}), srv)
		}, auth.ErrClaims},
		{"ExpBeforeIat", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["exp"] = testNow.Add(-time.Second).Unix() }), srv)
		}, auth.ErrClaims},
		{"WindowOverMaximum", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) {
				m["window_start"] = testNow.Add(-24*time.Hour - time.Second).Unix()
			}), srv)
		}, auth.ErrClaims},
		{"WindowEmpty", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["window_start"] = m["window_end"] }), srv)
		}, auth.ErrClaims},
		{"ExpiredByLeewayPlusOne", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) {
				m["iat"] = testNow.Add(-10 * time.Minute).Unix()
				m["exp"] = testNow.Add(-31 * time.Second).Unix()
			}), srv)
		}, auth.ErrExpired},
		{"IatInFuture", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) {
				m["iat"] = testNow.Add(31 * time.Second).Unix()
				m["exp"] = testNow.Add(10 * time.Minute).Unix()
			}), srv)
		}, auth.ErrNotYetValid},
		{"NbfInFuture", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["nbf"] = testNow.Add(time.Minute).Unix() }), srv)
		}, auth.ErrNotYetValid},
		{"WrongAud", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["aud"] = "callscope-console" }), srv)
		}, auth.ErrClaims},
		{"AudTwoElements", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["aud"] = []string{auth.Audience, "other"} }), srv)
		}, auth.ErrMalformed},
		{"TenantAKeyForTenantB", func(t *testing.T) string {
			// acme's key, beta as issuer and tenant: looked up under beta only.
			return Forge(t, header("EdDSA", b.AcmeEd.KID), claimsMap("beta", "beta"), edSigner(b.AcmeEd.Private))
		}, auth.ErrSignature},
		{"TenantAIssuerForTenantB", func(t *testing.T) string {
			return Forge(t, header("EdDSA", b.AcmeEd.KID), claimsMap("acme", "beta"), edSigner(b.AcmeEd.Private))
		}, auth.ErrSignature},
		{"TenantKeyWithServerIssuer", func(t *testing.T) string {
			return Forge(t, header("EdDSA", b.AcmeEd.KID), claimsMap(auth.ServerIssuer, "acme"), edSigner(b.AcmeEd.Private))
		}, auth.ErrSignature},
		{"ServerKeyWithTenantIssuer", func(t *testing.T) string {
			return Forge(t, header("EdDSA", b.Server.KID), claimsMap("acme", "acme"), srv)
		}, auth.ErrSignature},
		{"EdDSAHeaderWithP256Key", func(t *testing.T) string {
			return Forge(t, header("EdDSA", b.AcmeECK), claimsMap("acme", "acme"), ecSigner(t, b.AcmeEC))
		}, auth.ErrSignature},
		{"ES256HeaderWithEd25519Key", func(t *testing.T) string {
			return Forge(t, header("ES256", b.AcmeEd.KID), claimsMap("acme", "acme"), edSigner(b.AcmeEd.Private))
		}, auth.ErrSignature},
		{"UnknownTenant", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["tid"] = "nosuch" }), srv)
		}, auth.ErrTenantInactive},
		{"SuspendedTenant", func(t *testing.T) string {
			return Forge(t, hdr(nil), claims(func(m map[string]any) { m["tid"] = "frozen" }), srv)
		}, auth.ErrTenantInactive},
		{"RevokedJTI", func(t *testing.T) string {
			c := validClaims(auth.ServerIssuer, "acme")
			if err := b.Revs.RevokeJTI(ctx, "acme", c.ID, c.Expiry); err != nil {
				t.Fatal(err)
			}
			return MustMint(t, b.Server, c)
		}, auth.ErrRevoked},
		{"IatBeforeTenantEpoch", func(t *testing.T) string {
			if err := b.Revs.RevokeAllBefore(ctx, "beta", testNow.Add(-time.Minute)); err != nil {
				t.Fatal(err)
			}
			c := validClaims(auth.ServerIssuer, "beta")
			c.IssuedAt = testNow.Add(-2 * time.Minute)
			return MustMint(t, b.Server, c)
		}, auth.ErrRevoked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.token(t)
			got, err := b.V.Verify(ctx, tok)
			assertRefused(t, tok, got, err, tt.want)
		})
	}
}

// assertRefused checks the whole error contract of a refusal.
func assertRefused(t *testing.T, tok string, got *auth.Claims, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify accepted the token: %+v", got)
	}
	if got != nil {
		t.Errorf("Verify returned claims with an error")
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify error = %v (outcome %s), want %v", err, auth.Outcome(err), want)
	}
	wantKind := callscope.Unauthorized
	if want == auth.ErrUnavailable {
		wantKind = callscope.Unavailable
	}
	if k := callscope.KindOf(err); k != wantKind {
		t.Errorf("kind = %s, want %s", k, wantKind)
	}
	for _, seg := range segments(tok) {
		if strings.Contains(err.Error(), seg) {
			t.Errorf("error %q repeats part of the token", err)
		}
	}
	if _, msg := callscope.Public(err); msg == "" || msg == "internal error" {
		t.Errorf("public message = %q", msg)
	}
}

func TestVerify_HostileKidReachesStoreVerbatim(t *testing.T) {
	b := setup(t)
	kid := "../../etc/passwd"
	tok := Forge(t, header("EdDSA", kid), claimsMap(auth.ServerIssuer, "acme"), edSigner(b.Server.Private))
	if _, err := b.V.Verify(context.Background(), tok); !errors.Is(err, auth.ErrSignature) {
		t.Fatalf("err = %v", err)
	}
	if len(b.Keys.Asked) != 1 || b.Keys.Asked[0] != kid {
		t.Errorf("store asked for %q, want exactly [%q]", b.Keys.Asked, kid)
	}
}

func TestVerify_JKUNeverFetched(t *testing.T) {
	b := setup(t)
	var hits atomic.Int32
	evil := MustSigningKey(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = jsonEncode(w, auth.JWKS([]auth.PublicKey{evil.Public()}))
	}))
	defer ts.Close()

	for _, member := range []string{"jku", "x5u"} {
		t.Run(member, func(t *testing.T) {
			h := header("EdDSA", evil.KID)
			h[member] = ts.URL + "/jwks.json"
			tok := Forge(t, h, claimsMap(auth.ServerIssuer, "acme"), edSigner(evil.Private))
			got, err := b.V.Verify(context.Background(), tok)
			assertRefused(t, tok, got, err, auth.ErrMalformed)
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the jku/x5u server got %d requests, want 0", n)
	}
	if len(b.Keys.Asked) != 0 {
		t.Errorf("key store consulted for a token with a key URL: %q", b.Keys.Asked)
	}
}

func TestVerify_ExpiryLeewayBoundary(t *testing.T) {
	b := setup(t)
	for _, tt := range []struct {
		name string
		exp  time.Duration // relative to now
		want error
	}{
		{"LeewayMinusOne", -29 * time.Second, nil},
		{"ExactlyLeeway", -30 * time.Second, nil},
		{"LeewayPlusOne", -31 * time.Second, auth.ErrExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims(auth.ServerIssuer, "acme")
			c.IssuedAt, c.Expiry = testNow.Add(-10*time.Minute), testNow.Add(tt.exp)
			tok := MustMint(t, b.Server, c)
			got, err := b.V.Verify(context.Background(), tok)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			assertRefused(t, tok, got, err, tt.want)
		})
	}
}

func TestVerify_FailsClosed(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	tok := MustMint(t, b.Server, validClaims(auth.ServerIssuer, "acme"))

	t.Run("RevocationStoreDown", func(t *testing.T) {
		v := *b.V
		v.Revocations = &authtest.Revocations{Err: errors.New("connection refused")}
		got, err := v.Verify(ctx, tok)
		assertRefused(t, tok, got, err, auth.ErrUnavailable)
		if auth.Outcome(err) != "unavailable" {
			t.Errorf("Outcome = %q", auth.Outcome(err))
		}
	})
	t.Run("KeyStoreDown", func(t *testing.T) {
		v := *b.V
		v.Keys = &memKeys{Err: errors.New("connection refused")}
		got, err := v.Verify(ctx, tok)
		assertRefused(t, tok, got, err, auth.ErrUnavailable)
	})
	t.Run("TenantStoreDown", func(t *testing.T) {
		v := *b.V
		v.Tenants = failingTenants{}
		got, err := v.Verify(ctx, tok)
		assertRefused(t, tok, got, err, auth.ErrUnavailable)
	})
	t.Run("NoRevocationChecker", func(t *testing.T) {
		v := *b.V
		v.Revocations = nil
		got, err := v.Verify(ctx, tok)
		assertRefused(t, tok, got, err, auth.ErrUnavailable)
	})
}

type failingTenants struct{}

func (failingTenants) TenantActive(context.Context, string) (bool, error) {
	return false, errors.New("pool closed")
}

func TestVerify_ZeroLimitsAreDefaults(t *testing.T) {
	b := setup(t)
	v := *b.V
	v.Limits = auth.Limits{Leeway: 10 * time.Minute} // clamped to MaxLeeway
	c := validClaims(auth.ServerIssuer, "acme")
	c.IssuedAt, c.Expiry = testNow.Add(-30*time.Minute), testNow.Add(-61*time.Second)
	if _, err := v.Verify(context.Background(), MustMint(t, b.Server, c)); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("leeway not clamped: err = %v", err)
	}
	c = validClaims(auth.ServerIssuer, "acme")
	c.Expiry = testNow.Add(59 * time.Minute)
	if _, err := v.Verify(context.Background(), MustMint(t, b.Server, c)); err != nil {
		t.Fatalf("zero MaxLifetime should mean 1h: %v", err)
	}
}

func TestLimits_Validate(t *testing.T) {
	for _, tt := range []struct {
		name string
		l    auth.Limits
		ok   bool
	}{
		{"Default", auth.DefaultLimits(), true},
		{"ZeroLifetime", auth.Limits{MaxWindow: time.Hour, Leeway: time.Second}, false},
		{"ZeroWindow", auth.Limits{MaxLifetime: time.Hour, Leeway: time.Second}, false},
		{"LeewayTooLarge", auth.Limits{MaxLifetime: time.Hour, MaxWindow: time.Hour, Leeway: 61 * time.Second}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.l.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	for err, want := range map[error]string{
		nil:                    "ok",
		auth.ErrMalformed:      "malformed",
		auth.ErrSignature:      "bad_signature",
		auth.ErrClaims:         "invalid_claims",
		auth.ErrExpired:        "expired",
		auth.ErrNotYetValid:    "not_yet_valid",
		auth.ErrRevoked:        "revoked",
		auth.ErrTenantInactive: "tenant_inactive",
		auth.ErrUnavailable:    "unavailable",
		errors.New("boom"):     "error",
	} {
		if got := auth.Outcome(err); got != want {
			t.Errorf("Outcome(%v) = %q, want %q", err, got, want)
		}
	}
}

// TestVerify_TenantEpochCoversTheLeeway: a tenant-wide revocation at T
// refuses every token of the tenant that may have been signed before T. A
// tenant signs with its own clock, which Verify trusts to within the
// leeway, so a tenant-signed token with iat up to the leeway after T may
// be one of them; the server signs with its own clock, so its iat is
// taken as it is.
func TestVerify_TenantEpochCoversTheLeeway(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		at      time.Duration // the revocation, from now
		tenant  bool
		iat     time.Duration // after the revocation
		revoked bool
	}{
		{"TenantSignedJustBefore", -time.Minute, true, -time.Second, true},
		{"TenantSignedIatAheadInsideLeeway", -time.Minute, true, 29 * time.Second, true},
		// The reproduction: revoked now, presented now, iat 29 s ahead.
		{"TenantSignedIatInTheFuture", 0, true, 29 * time.Second, true},
		{"TenantSignedAfterLeeway", -time.Minute, true, 31 * time.Second, false},
		{"ServerSignedAfter", -time.Minute, false, time.Second, false},
		{"ServerSignedBefore", -time.Minute, false, -time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t)
			at := testNow.Add(tc.at)
			if err := b.Revs.RevokeAllBefore(ctx, "acme", at); err != nil {
				t.Fatal(err)
			}
			key, iss := b.Server, auth.ServerIssuer
			if tc.tenant {
				key, iss = b.AcmeEd, "acme"
			}
			c := validClaims(iss, "acme")
			c.IssuedAt = at.Add(tc.iat)
			c.Expiry = c.IssuedAt.Add(15 * time.Minute)
			_, err := b.V.Verify(ctx, MustMint(t, key, c))
			if got := errors.Is(err, auth.ErrRevoked); got != tc.revoked || (!tc.revoked && err != nil) {
				t.Errorf("err = %v, want revoked %v", err, tc.revoked)
			}
		})
	}
}

// TestFramingOrigins: only a refused token whose signature is good, and
// whose refusal says nothing against its tenant's page (expired, revoked),
// names the tenant whose origins may frame the error page.
func TestFramingOrigins(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	origins := func(_ context.Context, tenant string) ([]string, error) {
		return []string{"https://" + tenant + ".example"}, nil
	}
	expired := validClaims(auth.ServerIssuer, "acme")
	expired.IssuedAt, expired.Expiry = testNow.Add(-time.Hour), testNow.Add(-10*time.Minute)
	revoked := validClaims(auth.ServerIssuer, "acme")
	if err := b.Revs.RevokeJTI(ctx, "acme", revoked.ID, revoked.Expiry); err != nil {
		t.Fatal(err)
	}
	forged := MustMint(t, MustSigningKey(t), validClaims(auth.ServerIssuer, "acme"))
	for _, tc := range []struct {
		name string
		tok  string
		want bool
	}{
		{"Expired", MustMint(t, b.Server, expired), true},
		{"Revoked", MustMint(t, b.Server, revoked), true},
		{"BadSignature", forged, false},
		{"Garbage", "a.b.c", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.V.Verify(ctx, tc.tok)
			if err == nil {
				t.Fatal("accepted")
			}
			got := b.V.FramingOrigins(ctx, tc.tok, err, origins)
			if (len(got) == 1 && got[0] == "https://acme.example") != tc.want {
				t.Errorf("origins %v, want some: %v", got, tc.want)
			}
		})
	}
	// A forged token claiming an expired refusal still names nobody.
	if got := b.V.FramingOrigins(ctx, forged, auth.ErrExpired.Err(), origins); got != nil {
		t.Errorf("forged token framed by %v", got)
	}
}

// TestRefusalRoundTrip: a refusal crosses the wire as its string and comes
// back the same value, kind and public message included.
func TestRefusalRoundTrip(t *testing.T) {
	for _, r := range []auth.Refusal{auth.ErrMalformed, auth.ErrSignature, auth.ErrClaims, auth.ErrExpired,
		auth.ErrNotYetValid, auth.ErrRevoked, auth.ErrTenantInactive, auth.ErrUnavailable} {
		got, ok := auth.ParseRefusal(string(r))
		if !ok || got != r {
			t.Errorf("ParseRefusal(%q) = %q, %v", r, got, ok)
		}
		err := r.Err()
		if back, _ := auth.RefusalOf(err); back != r || !errors.Is(err, r) || callscope.KindOf(err) != r.Kind() {
			t.Errorf("%s: RefusalOf = %q, kind %s", r, back, callscope.KindOf(err))
		}
		if auth.Outcome(err) != string(r) {
			t.Errorf("Outcome = %q", auth.Outcome(err))
		}
	}
	if _, ok := auth.ParseRefusal("invalid"); ok {
		t.Error("a kind that is no refusal parsed as one")
	}
}
