package auth

import "context"

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
	return v.authentic(ctx, token)
}
