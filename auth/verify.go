package auth

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/callscope/callscope"
)

// KeyResolver finds verification keys by kid. The PostgreSQL key stores
// implement it in the query role, the viewer's directory of query's answers
// at the edge. kid is attacker-chosen: implementations compare it for
// equality only and should not repeat it in errors.
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
// tenant's epoch. issuedAt is the earliest instant the token may have been
// issued. It must fail closed: an error means "refuse".
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
	// (nil error for a valid token), e.g. for metrics by Outcome.
	Observe func(err error)
	// Memo, when set, remembers tokens found authentic so that repeated
	// views skip the parse and signature check (never a policy check).
	Memo *Memo
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks token completely and returns its claims. Checks run from
// the cheapest to the dearest, so garbage costs no crypto and no I/O: size
// and alphabet; go-jose's compact JWS parse with the algorithm allowlist
// (EdDSA, ES256); the parsed header (typ, kid, no key references, nothing
// else); claims present and typed; key lookup in the namespace the issuer
// selects (the server's, or the tenant tid's own when iss == tid); the
// signature, by go-jose, with the algorithm the key type dictates; audience,
// times and server limits; tenant active; revocation.
//
// Every refusal is a *callscope.Error wrapping a Refusal: ErrMalformed,
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
	revoked, err := v.Revocations.CheckRevoked(ctx, c.Tenant, c.ID, v.earliestIssue(c))
	switch {
	case err != nil:
		return nil, refuse(ErrUnavailable, "revocation check", err)
	case revoked:
		return nil, refuse(ErrRevoked, "jti revoked or issued before the tenant epoch", nil)
	}
	return c, nil
}

// earliestIssue is the earliest instant c's token may have been signed,
// for the tenant-wide revocation: a token issued before the epoch is
// revoked. The server sets iat from its own clock when it signs; a tenant
// sets it from the tenant's, which Verify trusts only to within the leeway
// (an iat up to the leeway ahead passes the iat check), so a tenant-signed
// token signed just before a revocation could carry an iat just after it.
func (v *Verifier) earliestIssue(c *Claims) time.Time {
	if c.TenantSigned() {
		return c.IssuedAt.Add(-v.Limits.Effective().Leeway)
	}
	return c.IssuedAt
}

// Known reports whether this Verifier found token authentic before and
// still remembers it (see Memo): a link someone already opened. It decides
// nothing: such a token must still be verified. The edge uses it to let a
// known link through an address's exhausted invalid-token budget.
func (v *Verifier) Known(token string) bool {
	if len(token) > MaxTokenBytes {
		return false
	}
	_, ok := v.Memo.get(sha256.Sum256([]byte(token)), v.now())
	return ok
}

// allowedAlgorithms is the algorithm allowlist handed to go-jose's parser:
// exact and case-sensitive, so "none", "None", HS256, RS256 and ES384
// never get past the parse, before any key is looked up.
var allowedAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// authentic checks that token is a well-formed view token whose signature
// verifies under a key its issuer may use, and returns its claims. The
// policy checks (audience, times, limits, tenant, revocation) are Verify's.
func (v *Verifier) authentic(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenBytes {
		return nil, refuse(ErrMalformed, "token exceeds 4096 bytes", nil)
	}
	if !compactAlphabet(token) {
		return nil, refuse(ErrMalformed, "not base64url segments", nil)
	}
	// A token this Verifier already found authentic skips the parse and
	// the signature check (see Memo for why that changes no answer).
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
	jws, err := jose.ParseSignedCompact(token, allowedAlgorithms)
	if err != nil {
		return nil, refuse(ErrMalformed, "not a compact JWS signed with EdDSA or ES256", nil)
	}
	sig := jws.Signatures[0]
	if why := checkHeader(sig.Header); why != "" {
		return nil, refuse(ErrMalformed, why, nil)
	}
	if len(sig.Signature) == 0 {
		return nil, refuse(ErrMalformed, "empty signature", nil)
	}
	c, why := parseClaims(jws.UnsafePayloadWithoutVerification())
	if why != "" {
		return nil, refuse(ErrMalformed, why, nil)
	}
	key, err := v.resolveKey(ctx, c, sig.Header.KeyID)
	if err != nil {
		return nil, err
	}
	// The key, not the header, decides the algorithm: an EdDSA header with
	// a P-256 key (or the reverse) is refused, and HMAC can never happen.
	alg, err := algFor(key)
	if err != nil {
		return nil, refuse(ErrSignature, "key store returned an unsupported key type", nil)
	}
	if string(alg) != sig.Header.Algorithm {
		return nil, refuse(ErrSignature, "algorithm does not match the key", nil)
	}
	if _, err := jws.Verify(key); err != nil {
		return nil, refuse(ErrSignature, "signature does not verify", nil)
	}
	v.Memo.put(mk, c, sig.Header.KeyID, key)
	return c, nil
}

// compactAlphabet reports whether token holds only the characters of a
// compact JWS: base64url and dots. The base64 decoder go-jose uses skips
// "\r" and "\n"; this also refuses padding, the standard alphabet's "+"
// and "/", and the JSON serialization's "{", so that one token has one
// spelling.
func compactAlphabet(token string) bool {
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// checkHeader checks the header go-jose parsed. A view token's header has
// exactly alg, kid and typ; anything else is refused rather than ignored:
// jku, x5u, x5c and jwk would name keys the attacker controls, crit and b64
// change how the token is processed, and the rest has no business here.
func checkHeader(h jose.Header) string {
	if h.JSONWebKey != nil {
		return "header carries a key"
	}
	if _, err := h.Certificates(x509.VerifyOptions{Roots: x509.NewCertPool()}); !errors.Is(err, jose.ErrMissingX5cHeader) {
		return "header carries a certificate chain"
	}
	if h.Nonce != "" {
		return "header carries an unexpected member"
	}
	for name := range h.ExtraHeaders {
		switch name {
		case jose.HeaderType:
		case "jku", "x5u", "crit", "b64":
			return "header carries a key reference or crit"
		default:
			return "header carries an unexpected member"
		}
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != TokenType {
		return "wrong typ"
	}
	if !ValidKID(h.KeyID) {
		return "kid is not 1..128 printable characters"
	}
	return ""
}

// tokenClaims are the claims as the token carries them: what Mint encodes,
// and what Verify decodes with go-jose's JSON decoder, where member names
// match exactly and a duplicate member refuses the whole object, so that no
// two readers can see different claims in one token. Pointers tell a
// missing date from zero.
type tokenClaims struct {
	Issuer      string           `json:"iss"`
	Audience    jwt.Audience     `json:"aud"`
	Tenant      string           `json:"tid"`
	CallID      string           `json:"call_id"`
	WindowStart *jwt.NumericDate `json:"window_start"`
	WindowEnd   *jwt.NumericDate `json:"window_end"`
	IssuedAt    *jwt.NumericDate `json:"iat"`
	Expiry      *jwt.NumericDate `json:"exp"`
	ID          string           `json:"jti"`
	NotBefore   *jwt.NumericDate `json:"nbf,omitempty"`
	Scopes      []string         `json:"scp,omitempty"`
}

// maxNumericDate is 9999-12-31T23:59:59Z; beyond it time arithmetic and
// NumericDate conversions stop being meaningful.
const maxNumericDate = 253402300799

// maxClaimLen bounds the string claims; the token's 4 KiB already bounds
// them, this keeps a tid or jti usable as a Redis key part.
const maxClaimLen = 256

// parseClaims checks that every required claim is present with its JSON
// type and returns them. Policy (times, audience, limits) is checked by
// Verify after the signature.
func parseClaims(payload []byte) (*Claims, string) {
	var w tokenClaims
	if err := josejson.Unmarshal(payload, &w); err != nil {
		return nil, "claims are not a JSON object of the expected types"
	}
	c := &Claims{Issuer: w.Issuer, Tenant: w.Tenant, CallID: w.CallID, ID: w.ID, Scopes: w.Scopes}
	for _, s := range []struct{ name, v string }{{"iss", c.Issuer}, {"tid", c.Tenant}, {"call_id", c.CallID}, {"jti", c.ID}} {
		if s.v == "" || len(s.v) > maxClaimLen {
			return nil, "missing or invalid " + s.name
		}
	}
	// RFC 7519 allows a string or an array; more than one audience means
	// the token was meant for someone else too, which a viewer link never is.
	if len(w.Audience) != 1 {
		return nil, "missing or invalid aud"
	}
	c.Audience = w.Audience[0]
	for _, d := range []struct {
		name string
		src  *jwt.NumericDate
		dst  *time.Time
	}{{"window_start", w.WindowStart, &c.WindowStart}, {"window_end", w.WindowEnd, &c.WindowEnd},
		{"iat", w.IssuedAt, &c.IssuedAt}, {"exp", w.Expiry, &c.Expiry}, {"nbf", w.NotBefore, &c.NotBefore}} {
		if d.src == nil {
			if d.name == "nbf" {
				continue // optional
			}
			return nil, "missing or invalid " + d.name
		}
		if *d.src < 0 || *d.src > maxNumericDate {
			return nil, "missing or invalid " + d.name
		}
		*d.dst = d.src.Time().UTC()
	}
	return c, ""
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
	if c.TenantSigned() {
		if c.Issuer != c.Tenant {
			return nil, refuse(ErrSignature, "issuer is neither the server nor the token's tenant", nil)
		}
		key, err = v.Keys.TenantKey(ctx, c.Tenant, kid)
	} else {
		key, err = v.Keys.ServerKey(ctx, kid)
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
	lim := v.Limits.Effective()
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

// FramingOrigins returns the embed origins of the tenant that signed token,
// when Verify refused it as expired or revoked: the signature was good, so
// that tenant may frame the error page its customer sees. For any other
// refusal, or when the token is not authentic after all, it returns nil
// and the page may not be framed. origins looks a tenant's origins up.
// It is the one place that decides which refused tokens name a tenant.
func (v *Verifier) FramingOrigins(ctx context.Context, token string, refusal error,
	origins func(ctx context.Context, tenant string) ([]string, error)) []string {
	r, _ := RefusalOf(refusal)
	if (r != ErrExpired && r != ErrRevoked) || v.Keys == nil {
		return nil
	}
	c, err := v.authentic(ctx, token)
	if err != nil {
		return nil
	}
	o, err := origins(ctx, c.Tenant)
	if err != nil {
		return nil
	}
	return o
}
