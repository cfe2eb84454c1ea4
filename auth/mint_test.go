package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

func TestMint_WireFormat(t *testing.T) {
	k := MustSigningKey(t)
	c := validClaims("", "acme")
	c.Scopes = []string{"pcap"}
	tok := MustMint(t, k, c)

	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	var hdr map[string]any
	mustDecodeSegment(t, parts[0], &hdr)
	if len(hdr) != 3 || hdr["alg"] != "EdDSA" || hdr["typ"] != auth.TokenType || hdr["kid"] != k.KID {
		t.Errorf("header = %v", hdr)
	}
	var claims map[string]any
	mustDecodeSegment(t, parts[1], &claims)
	want := map[string]any{
		"iss": auth.ServerIssuer, "aud": auth.Audience, "tid": "acme", "call_id": "c1@acme",
		"window_start": float64(testNow.Add(-time.Hour).Unix()), "window_end": float64(testNow.Unix()),
		"iat": float64(testNow.Unix()), "exp": float64(testNow.Add(15 * time.Minute).Unix()),
		"jti": c.ID, "scp": []any{"pcap"},
	}
	if len(claims) != len(want) {
		t.Errorf("claims = %v, want %v", claims, want)
	}
	for k, v := range want {
		got, _ := json.Marshal(claims[k])
		if w, _ := json.Marshal(v); string(got) != string(w) {
			t.Errorf("claim %s = %s, want %s", k, got, w)
		}
	}
	if _, ok := claims["nbf"]; ok {
		t.Error("nbf present though zero")
	}
}

func TestMint_DefaultsAndNbf(t *testing.T) {
	k := MustSigningKey(t)
	c := validClaims("", "acme")
	c.ID, c.NotBefore = "", testNow
	var claims map[string]any
	mustDecodeSegment(t, strings.Split(MustMint(t, k, c), ".")[1], &claims)
	jti, _ := claims["jti"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(raw) != 16 {
		t.Errorf("jti %q is not 128 bits base64url", jti)
	}
	if claims["nbf"] != float64(testNow.Unix()) {
		t.Errorf("nbf = %v", claims["nbf"])
	}
}

func TestMint_Refuses(t *testing.T) {
	k := MustSigningKey(t)
	for _, tt := range []struct {
		name  string
		field string
		edit  func(c *auth.Claims, k *auth.SigningKey)
	}{
		{"NoTenant", "tid", func(c *auth.Claims, _ *auth.SigningKey) { c.Tenant = "" }},
		{"NoCallID", "call_id", func(c *auth.Claims, _ *auth.SigningKey) { c.CallID = "" }},
		{"NoIat", "iat", func(c *auth.Claims, _ *auth.SigningKey) { c.IssuedAt = time.Time{} }},
		{"ExpBeforeIat", "exp", func(c *auth.Claims, _ *auth.SigningKey) { c.Expiry = c.IssuedAt }},
		{"EmptyWindow", "window_end", func(c *auth.Claims, _ *auth.SigningKey) { c.WindowEnd = c.WindowStart }},
		{"NoKey", "key", func(_ *auth.Claims, k *auth.SigningKey) { k.Private = nil }},
		{"TooLarge", "claims", func(c *auth.Claims, _ *auth.SigningKey) { c.CallID = strings.Repeat("x", 4000) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, key := validClaims("", "acme"), k
			tt.edit(&c, &key)
			_, err := auth.Mint(key, c)
			if !callscope.Is(err, callscope.Invalid) {
				t.Fatalf("err = %v, want Invalid", err)
			}
			if f, _ := callscope.Public(err); f != tt.field {
				t.Errorf("field = %q, want %q", f, tt.field)
			}
		})
	}
}

func TestNewJTI_Unique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		j := auth.NewJTI()
		if seen[j] || len(j) != 22 {
			t.Fatalf("jti %q repeated or wrong length", j)
		}
		seen[j] = true
	}
}
