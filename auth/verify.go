package auth

import (
	"context"
	"crypto"
	"crypto/sha256"
	"time"

	"github.com/callscope/callscope"
)

// KeyResolver finds verification keys by kid. The PostgreSQL key store
// implements it; a caching layer may sit in front. kid is attacker-chosen:
// implementations compare it for equality only and should not repeat it in
// errors.
type KeyResolver interface {
	// ServerKey returns the verification key of the server signing key kid,
	// or a NotFound callscope error.
	ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error)
	// TenantKey returns an enabled key registered by tenant slug under kid,
	// or NotFound.
	TenantKey(ctx context.Context, tenant, kid string) (crypto.PublicKey, error)
}

// TenantStatus tells whether a tenant may serve views. Returns NotFound if
// the tenant does not exist.
type TenantStatus interface {
	TenantActive(ctx context.Context, slug string) (bool, error)
}

// RevocationChecker answers whether a token was revoked, by jti or by the
// tenant's epoch. It must fail closed: an error means "refuse".
type RevocationChecker interface {
	CheckRevoked(ctx context.Context, tenant, jti string, issuedAt time.Time) (revoked bool, err error)
}

// Verifier is the one view-token verification used by viewer and query
// alike. All of Keys, Tenants and Revocations are required; Limits zero
// fields take DefaultLimits and the leeway never exceeds MaxLeeway; Now
// defaults to time.Now. A Verifier is safe for concurrent use.
type Verifier struct {
	Keys        KeyResolver
	Tenants     TenantStatus
	Revocations RevocationChecker
	Limits      Limits
	Now         func() time.Time
	// Observe, when set, is told the outcome of every verification
	// (nil error for a valid token), e.g. for metrics by auth.Outcome.
	Observe func(err error)
	// Memo, when set, remembers tokens found authentic so that repeated
	// views skip the parse and signature check (never a policy check).
	Memo *SigCache
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks token completely and returns its claims. Checks run from
// the cheapest to the dearest, so garbage costs no crypto and no I/O:
// size; three base64url segments; header (alg allowlist, typ, kid, no key
// references); claims present and typed; key lookup in the namespace the
// issuer selects (the server's, or the tenant tid's own when iss == tid);
// signature with the algorithm the key type dictates; audience, times and
// server limits; tenant active; revocation.
//
// Every refusal is a *callscope.Error wrapping one of ErrMalformed,
// ErrSignature, ErrClaims, ErrExpired, ErrNotYetValid, ErrRevoked,
// ErrTenantInactive (kind Unauthorized) or ErrUnavailable (kind Unavailable:
// a store or Redis failed, and the token is refused). No error contains any
// part of the token.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verify(ctx, token)
	if v.Observe != nil {
		v.Observe(err)
	}
	return c, err
}

func (v *Verifier) verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verifyLocal(ctx, token)
	if err != nil {
		return nil, err
	}
	revoked, err := v.Revocations.CheckRevoked(ctx, c.Tenant, c.ID, c.IssuedAt)
	if err := revocationOutcome(revoked, err); err != nil {
		return nil, err
	}
	return c, nil
}

// revocationOutcome is Verify's answer to a revocation check.
func revocationOutcome(revoked bool, err error) error {
	switch {
	case err != nil:
		return refuse(ErrUnavailable, "revocation check", err)
	case revoked:
		return refuse(ErrRevoked, "jti revoked or issued before the tenant epoch", nil)
	}
	return nil
}

// verifyLocal is every check of Verify but revocation: the token is
// authentic, its claims within policy, its tenant active. The caller must
// still check revocation (Verify, VerifyView).
func (v *Verifier) verifyLocal(ctx context.Context, token string) (*Claims, error) {
	if v.Keys == nil || v.Tenants == nil || v.Revocations == nil {
		return nil, refuse(ErrUnavailable, "verifier is missing a store", nil)
	}
	c, err := v.authentic(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}

	active, err := v.Tenants.TenantActive(ctx, c.Tenant)
	switch {
	case callscope.Is(err, callscope.NotFound):
		return nil, refuse(ErrTenantInactive, "tenant does not exist", nil)
	case err != nil:
		return nil, refuse(ErrUnavailable, "tenant status", err)
	case !active:
		return nil, refuse(ErrTenantInactive, "tenant is suspended", nil)
	}
	return c, nil
}

// authentic checks that token is a well-formed view token whose signature
// verifies under a key its issuer may use, and returns its claims. The
// policy checks (audience, times, limits, tenant, revocation) are Verify's.
func (v *Verifier) authentic(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenBytes {
		return nil, refuse(ErrMalformed, "token exceeds 4096 bytes", nil)
	}
	// A token this Verifier already found authentic skips the parse and
	// the signature check (see SigCache for why that changes no answer).
	mk := sha256.Sum256([]byte(token))
	if e, ok := v.Memo.get(mk, v.now()); ok {
		// The same bytes verified before under e.key: the key must still
		// be the one the issuer's namespace and kid resolve to now.
		key, err := v.resolveKey(ctx, &e.claims, e.kid)
		if err != nil {
			return nil, err
		}
		if sameKey(key, e.key) {
			return e.claimsCopy(), nil
		}
		// Same kid, another key: check the signature afresh below.
	}
	hseg, pseg, sseg, ok := splitCompact(token)
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
	// The key, not the header, decides the algorithm: an EdDSA header with
	// a P-256 key (or the reverse) is refused, and HMAC can never happen.
	alg, err := algFor(key)
	if err != nil {
		return nil, refuse(ErrSignature, "key store returned an unsupported key type", nil)
	}
	if string(alg) != hdr.alg {
		return nil, refuse(ErrSignature, "algorithm does not match the key", nil)
	}
	sig, err := b64.DecodeString(sseg)
	if err != nil {
		return nil, refuse(ErrMalformed, "signature is not base64url", nil)
	}
	if !checkSignature(key, token[:len(hseg)+1+len(pseg)], sig) {
		return nil, refuse(ErrSignature, "signature does not verify", nil)
	}
	v.Memo.put(mk, c, hdr.kid, key)
	return c, nil
}

// resolveKey picks the key namespace from the issuer. A tenant-signed token
// must name itself as issuer AND tenant, and its key is looked up under that
// tenant only: tenant A's key can never vouch for tid B, and no tenant key
// can pass for a server key.
func (v *Verifier) resolveKey(ctx context.Context, c *Claims, kid string) (crypto.PublicKey, error) {
	var (
		key crypto.PublicKey
		err error
	)
	if c.Issuer == ServerIssuer {
		key, err = v.Keys.ServerKey(ctx, kid)
	} else {
		if c.Issuer != c.Tenant {
			return nil, refuse(ErrSignature, "issuer is neither the server nor the token's tenant", nil)
		}
		key, err = v.Keys.TenantKey(ctx, c.Tenant, kid)
	}
	switch {
	case callscope.Is(err, callscope.NotFound):
		return nil, refuse(ErrSignature, "unknown kid", nil)
	case err != nil:
		return nil, refuse(ErrUnavailable, "key lookup", err)
	case key == nil:
		return nil, refuse(ErrSignature, "unknown kid", nil)
	}
	return key, nil
}

// checkClaims applies the audience, the clock and the server's limits to an
// authentic token.
func (v *Verifier) checkClaims(c *Claims) error {
	lim := v.Limits.effective()
	now := v.now()
	switch {
	case c.Audience != Audience:
		return refuse(ErrClaims, "wrong audience", nil)
	case now.After(c.Expiry.Add(lim.Leeway)):
		return refuse(ErrExpired, "exp is past", nil)
	case !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(lim.Leeway)):
		return refuse(ErrNotYetValid, "nbf is in the future", nil)
	case c.IssuedAt.After(now.Add(lim.Leeway)):
		return refuse(ErrNotYetValid, "iat is in the future", nil)
	case !c.Expiry.After(c.IssuedAt):
		return refuse(ErrClaims, "exp is not after iat", nil)
	case c.Expiry.Sub(c.IssuedAt) > lim.MaxLifetime:
		return refuse(ErrClaims, "lifetime exceeds the server maximum", nil)
	case !c.WindowEnd.After(c.WindowStart):
		return refuse(ErrClaims, "window_end is not after window_start", nil)
	case c.WindowEnd.Sub(c.WindowStart) > lim.MaxWindow:
		return refuse(ErrClaims, "window exceeds the server maximum", nil)
	}
	return nil
}
