package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/callscope/callscope"
	"github.com/go-jose/go-jose/v4"
)

// SigningKey is a server signing key. Only the query service holds these.
type SigningKey struct {
	KID     string
	Private ed25519.PrivateKey
}

// PublicKey is a verification key under its kid, as published in the JWKS
// or registered by a tenant.
type PublicKey struct {
	KID string
	Key crypto.PublicKey // ed25519.PublicKey or *ecdsa.PublicKey on P-256
}

// NewSigningKey generates an Ed25519 server key. Its kid is the base64url
// RFC 7638 thumbprint of the public key: opaque, stable, and unique without
// coordination between replicas.
func NewSigningKey() (SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("auth.NewSigningKey: %w", err)
	}
	kid, err := Thumbprint(pub)
	if err != nil {
		return SigningKey{}, fmt.Errorf("auth.NewSigningKey: %w", err)
	}
	return SigningKey{KID: kid, Private: priv}, nil
}

// Public returns the verification half of k.
func (k SigningKey) Public() PublicKey {
	return PublicKey{KID: k.KID, Key: k.Private.Public()}
}

// Thumbprint returns the base64url SHA-256 JWK thumbprint (RFC 7638) of an
// Ed25519 or P-256 public key, a good default kid for registered keys.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	if _, err := algFor(pub); err != nil {
		return "", err
	}
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("auth.Thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// JWKS renders public keys for GET /.well-known/jwks.json. Private keys
// passed by mistake are reduced to their public half, so the endpoint can
// never leak one; keys of any other type than Ed25519 and P-256 are left out.
func JWKS(pub []PublicKey) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(pub))}
	for _, p := range pub {
		key := p.Key
		switch k := key.(type) {
		case ed25519.PrivateKey:
			key = k.Public()
		case *ecdsa.PrivateKey:
			key = k.Public()
		}
		alg, err := algFor(key)
		if err != nil {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: key, KeyID: p.KID, Algorithm: string(alg), Use: "sig"})
	}
	return set
}

// maxJWKBytes bounds ParsePublicJWK's input; a P-256 JWK is ~200 bytes.
const maxJWKBytes = 8 << 10

// ParsePublicJWK parses a tenant's public key for client-signed tokens
// (`callscope key add SLUG --jwk FILE`). It accepts only an Ed25519 (kty OKP)
// or P-256 (kty EC) public key. It returns a callscope Invalid error for
// anything else: private keys, RSA, symmetric keys, other curves, a "use"
// other than "sig", an "alg" that does not match the key, or a kid that
// ValidKID refuses.
func ParsePublicJWK(data []byte) (jose.JSONWebKey, error) {
	if len(data) > maxJWKBytes {
		return jose.JSONWebKey{}, fieldErr("jwk", "too large")
	}
	// Look at the raw members first: go-jose would happily parse a private
	// or symmetric key, and we want a precise reason for each refusal.
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return jose.JSONWebKey{}, fieldErr("jwk", "not a JSON object")
	}
	str := func(name string) string {
		var s string
		_ = json.Unmarshal(raw[name], &s)
		return s
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := raw[private]; ok {
			if private == "k" {
				return jose.JSONWebKey{}, fieldErr("jwk", "symmetric keys are not accepted")
			}
			return jose.JSONWebKey{}, fieldErr("jwk", "this is a private key: register the public key only")
		}
	}
	kty, crv := str("kty"), str("crv")
	var wantAlg jose.SignatureAlgorithm
	switch {
	case kty == "OKP" && crv == "Ed25519":
		wantAlg = jose.EdDSA
	case kty == "EC" && crv == "P-256":
		wantAlg = jose.ES256
	case kty == "RSA":
		return jose.JSONWebKey{}, fieldErr("jwk", "RSA keys are not accepted: use Ed25519 or P-256")
	case kty == "oct":
		return jose.JSONWebKey{}, fieldErr("jwk", "symmetric keys are not accepted")
	case kty == "OKP" || kty == "EC":
		return jose.JSONWebKey{}, fieldErr("jwk", "unsupported curve: use Ed25519 or P-256")
	default:
		return jose.JSONWebKey{}, fieldErr("jwk", "unsupported key type: use Ed25519 (OKP) or P-256 (EC)")
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return jose.JSONWebKey{}, &callscope.Error{Kind: callscope.Invalid, Field: "jwk", Message: "invalid key material", Err: err}
	}
	if !jwk.Valid() || !jwk.IsPublic() {
		return jose.JSONWebKey{}, fieldErr("jwk", "invalid public key")
	}
	if got, err := algFor(jwk.Key); err != nil || got != wantAlg {
		return jose.JSONWebKey{}, fieldErr("jwk", "unsupported key")
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return jose.JSONWebKey{}, fieldErr("jwk", `"use" must be "sig"`)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(wantAlg) {
		return jose.JSONWebKey{}, fieldErr("jwk", fmt.Sprintf(`"alg" must be %q for this key`, wantAlg))
	}
	if jwk.KeyID != "" && !ValidKID(jwk.KeyID) {
		return jose.JSONWebKey{}, fieldErr("kid", "must be 1 to 128 printable ASCII characters")
	}
	jwk.Algorithm = string(wantAlg)
	// Certificates are never used for trust here; drop them so nothing
	// downstream is tempted to.
	jwk.Certificates, jwk.CertificatesURL = nil, nil
	return jwk, nil
}

// MaxKIDLen bounds a kid. Longer ones are refused before any key lookup.
const MaxKIDLen = 128

// ValidKID reports whether kid is 1..128 printable ASCII characters without
// space. The kid is attacker-chosen: it is only ever compared for equality,
// never used as a path, URL or query fragment, but bounding it keeps logs
// and key lookups sane.
func ValidKID(kid string) bool {
	if len(kid) == 0 || len(kid) > MaxKIDLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] <= ' ' || kid[i] > '~' {
			return false
		}
	}
	return true
}

// algFor returns the only signature algorithm a verification key may be
// used with. Binding the algorithm to the key type (not to the header)
// is what defeats algorithm-confusion attacks.
func algFor(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return jose.EdDSA, nil
		}
	case *ecdsa.PublicKey:
		if k != nil && k.Curve == elliptic.P256() {
			return jose.ES256, nil
		}
	}
	return "", callscope.Errorf(callscope.Invalid, "unsupported key type %T: use Ed25519 or P-256", pub)
}
