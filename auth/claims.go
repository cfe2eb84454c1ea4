package auth

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Profile constants of the view token. Orchestrators rely on them: change
// them only with a migration note in the README.
const (
	// Audience is the only accepted "aud".
	Audience = "callscope-viewer"
	// TokenType is the required "typ" header. An explicit type stops a JWT
	// minted for some other purpose with the same key from being replayed
	// here (RFC 8725 §3.11).
	TokenType = "call-view+jwt"
	// ServerIssuer is the "iss" of tokens the server signs with its own keys.
	// Any other issuer must be a tenant slug equal to "tid".
	ServerIssuer = "callscope"
	// MaxTokenBytes bounds the compact token; longer input is refused before
	// any decoding so that a hostile link costs nothing to reject.
	MaxTokenBytes = 4096
	// ScopePCAP lets the holder download the call as PCAP.
	ScopePCAP = "pcap"
	// ScopeScenario lets the holder download the call as a SIPp test
	// (the caller's and the callee's scenarios) to reproduce it.
	ScopeScenario = "scenario"
)

// Claims are the verified contents of a view token.
type Claims struct {
	Issuer   string
	Audience string
	Tenant   string // "tid": the tenant slug the token reads
	CallID   string
	ID       string // "jti"

	WindowStart time.Time
	WindowEnd   time.Time
	IssuedAt    time.Time
	Expiry      time.Time
	NotBefore   time.Time // zero if absent

	Scopes []string
}

// HasScope reports whether the token grants scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// TenantSigned reports whether the tenant signed the token with its own
// registered key rather than the server with its.
func (c *Claims) TenantSigned() bool { return c.Issuer != ServerIssuer }

type claimsKey struct{}

// WithClaims returns ctx carrying the claims of the request's verified
// token, for the handlers behind the middleware that verified it.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims WithClaims put in ctx; false when the
// request carried no verified token.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// Limits are the server's own bounds, enforced whatever a token says.
type Limits struct {
	MaxLifetime time.Duration // exp − iat
	MaxWindow   time.Duration // window_end − window_start
	Leeway      time.Duration // clock skew tolerated on exp, nbf and iat
}

// MaxLeeway is the largest clock skew the security model allows.
const MaxLeeway = 60 * time.Second

// DefaultLimits returns the documented limits: 1 h lifetime, 24 h window,
// 30 s leeway.
func DefaultLimits() Limits {
	return Limits{MaxLifetime: time.Hour, MaxWindow: 24 * time.Hour, Leeway: 30 * time.Second}
}

// Validate reports a configuration error for limits that are not positive
// or a leeway above MaxLeeway. It returns a callscope Invalid error.
func (l Limits) Validate() error {
	switch {
	case l.MaxLifetime <= 0:
		return fieldErr("max_lifetime", "must be positive")
	case l.MaxWindow <= 0:
		return fieldErr("max_window", "must be positive")
	case l.Leeway < 0 || l.Leeway > MaxLeeway:
		return fieldErr("leeway", fmt.Sprintf("must be between 0 and %s", MaxLeeway))
	}
	return nil
}

// Effective fills zero fields with defaults and clamps the leeway, so that a
// zero Verifier.Limits is the documented default rather than "refuse all"
// and a misconfigured leeway can never exceed MaxLeeway.
func (l Limits) Effective() Limits {
	d := DefaultLimits()
	if l.MaxLifetime <= 0 {
		l.MaxLifetime = d.MaxLifetime
	}
	if l.MaxWindow <= 0 {
		l.MaxWindow = d.MaxWindow
	}
	if l.Leeway == 0 {
		l.Leeway = d.Leeway
	}
	l.Leeway = min(max(l.Leeway, 0), MaxLeeway)
	return l
}
