package auth

import (
	"bytes"
	"context"

	"github.com/go-jose/go-jose/v4"
)

// Authentic checks only that token is a well-formed view token whose
// signature verifies under a key its issuer may use, and returns its claims
// WITHOUT checking audience, times, limits, tenant status or revocation.
//
// It exists for one purpose: after Verify refused a token as expired or
// revoked, the edges still want to know which tenant signed it, so that the
// error page may be framed by that tenant's embed origins. Never grant
// access on its result. Errors are Verify's (ErrMalformed, ErrSignature,
// ErrUnavailable), and contain no part of the token.
func (v *Verifier) Authentic(ctx context.Context, token string) (*Claims, error) {
	if v.Keys == nil {
		return nil, refuse(ErrUnavailable, "verifier is missing a store", nil)
	}
	if len(token) > MaxTokenBytes {
		return nil, refuse(ErrMalformed, "token exceeds 4096 bytes", nil)
	}
	hseg, pseg, _, ok := splitCompact(token)
	if !ok {
		return nil, refuse(ErrMalformed, "not a compact JWS of three base64url segments", nil)
	}
	hjson, err := b64.DecodeString(hseg)
	if err != nil {
		return nil, refuse(ErrMalformed, "header is not base64url", nil)
	}
	hdr, why := parseHeader(hjson)
	if why != "" {
		return nil, refuse(ErrMalformed, why, nil)
	}
	payload, err := b64.DecodeString(pseg)
	if err != nil {
		return nil, refuse(ErrMalformed, "claims are not base64url", nil)
	}
	c, why := parseClaims(payload)
	if why != "" {
		return nil, refuse(ErrMalformed, why, nil)
	}
	key, err := v.resolveKey(ctx, c, hdr.kid)
	if err != nil {
		return nil, err
	}
	alg, err := algFor(key)
	if err != nil || string(alg) != hdr.alg {
		return nil, refuse(ErrSignature, "algorithm does not match the key", nil)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return nil, refuse(ErrMalformed, "JWS does not parse", nil)
	}
	verified, err := jws.Verify(key)
	if err != nil || !bytes.Equal(verified, payload) {
		return nil, refuse(ErrSignature, "signature does not verify", nil)
	}
	return c, nil
}
