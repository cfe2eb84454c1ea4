package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/tenant"
)

// Mint signs c with key as a compact JWS: EdDSA, header kid and typ
// call-view+jwt. An empty Issuer becomes ServerIssuer, an empty Audience
// becomes Audience and an empty ID a fresh NewJTI. Times are truncated to
// whole seconds. Mint enforces the shape of the claims, not the server's
// Limits: the mint API bounds the TTL it accepts, and Verify enforces the
// limits on every token whoever signed it.
//
// It returns a callscope Invalid error naming the field when a required
// claim is missing or the window or lifetime is empty.
func Mint(key SigningKey, c Claims) (string, error) {
	if len(key.Private) != ed25519.PrivateKeySize || !ValidKID(key.KID) {
		return "", fmt.Errorf("auth.Mint: %w", fieldErr("key", "invalid signing key"))
	}
	if c.Issuer == "" {
		c.Issuer = ServerIssuer
	}
	if c.Audience == "" {
		c.Audience = Audience
	}
	if c.ID == "" {
		c.ID = NewJTI()
	}
	switch {
	case c.Tenant == "":
		return "", fmt.Errorf("auth.Mint: %w", fieldErr("tid", "required"))
	case c.CallID == "":
		return "", fmt.Errorf("auth.Mint: %w", fieldErr("call_id", "required"))
	case c.IssuedAt.IsZero():
		return "", fmt.Errorf("auth.Mint: %w", fieldErr("iat", "required"))
	case !c.Expiry.After(c.IssuedAt):
		return "", fmt.Errorf("auth.Mint: %w", fieldErr("exp", "must be after iat"))
	case !c.WindowEnd.After(c.WindowStart) || c.WindowStart.IsZero():
		return "", fmt.Errorf("auth.Mint: %w", fieldErr("window_end", "must be after window_start"))
	}
	w := tokenClaims{
		Issuer: c.Issuer, Audience: jwt.Audience{c.Audience}, Tenant: c.Tenant, CallID: c.CallID,
		WindowStart: jwt.NewNumericDate(c.WindowStart), WindowEnd: jwt.NewNumericDate(c.WindowEnd),
		IssuedAt: jwt.NewNumericDate(c.IssuedAt), Expiry: jwt.NewNumericDate(c.Expiry),
		NotBefore: jwt.NewNumericDate(c.NotBefore), ID: c.ID, Scopes: c.Scopes,
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("auth.Mint: %w", err)
	}
	opts := (&jose.SignerOptions{}).WithType(TokenType).WithHeader("kid", key.KID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key.Private}, opts)
	if err != nil {
		return "", fmt.Errorf("auth.Mint: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("auth.Mint: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("auth.Mint: %w", err)
	}
	if len(token) > MaxTokenBytes {
		return "", fmt.Errorf("auth.Mint: %w", fieldErr("claims", "token would exceed 4096 bytes"))
	}
	return token, nil
}

// NewJTI returns 128 random bits, base64url without padding: unguessable,
// so a jti can double as a handle for DELETE /api/v1/view-tokens/{jti}.
func NewJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// DefaultTTL is a minted token's lifetime when the request names none.
const DefaultTTL = 15 * time.Minute

// MaxCallIDBytes bounds call_id, as SIP stacks never come close to it.
const MaxCallIDBytes = 256

// KnownScopes are the scopes a token may carry.
var KnownScopes = []string{ScopePCAP, ScopeScenario}

// MintRequest asks for a view token of one call. Field errors name the JSON
// member of POST /api/v1/view-tokens.
type MintRequest struct {
	CallID      string
	WindowStart time.Time
	WindowEnd   time.Time
	TTL         time.Duration // 0 means DefaultTTL (capped at the maximum lifetime)
	Scopes      []string
	IssuedBy    string // "apikey:<prefix>", "cli", "console:<email>"
}

// Minter signs view tokens with the server's active key and records them.
// Safe for concurrent use.
type Minter struct {
	keys      ActiveKey
	tokens    TokenRecorder
	limits    Limits
	publicURL string
	now       func() time.Time
}

// ActiveKey is what the Minter needs of the server key store.
type ActiveKey interface {
	Active(ctx context.Context) (SigningKey, error)
}

// IssuedToken is a view token the server signed, as the issued-token store
// records it. The token itself is never stored: the record is enough to
// list and revoke.
type IssuedToken struct {
	TenantID    int64      `db:"tenant_id"`
	JTI         string     `db:"jti"`
	CallID      string     `db:"call_id"`
	WindowStart time.Time  `db:"window_start"`
	WindowEnd   time.Time  `db:"window_end"`
	IssuedAt    time.Time  `db:"issued_at"`
	ExpiresAt   time.Time  `db:"expires_at"`
	Scopes      []string   `db:"scopes"`
	IssuedBy    string     `db:"issued_by"`
	RevokedAt   *time.Time `db:"revoked_at"`
}

// TokenRecorder records what the Minter issued, so that it can be listed
// and revoked by jti. Returns Conflict if the jti was issued before.
type TokenRecorder interface {
	RecordIssued(ctx context.Context, t IssuedToken) error
}

// NewMinter returns a Minter signing with keys, recording in tokens, bounded
// by limits (zero fields are the defaults), making links under publicURL
// (e.g. "https://view.example.com").
func NewMinter(keys ActiveKey, tokens TokenRecorder, limits Limits, publicURL string) *Minter {
	return &Minter{keys: keys, tokens: tokens, limits: limits.Effective(), publicURL: strings.TrimRight(publicURL, "/"), now: time.Now}
}

// Check validates r against the limits without minting. It returns an
// Invalid callscope error naming the field: call_id, window_start,
// window_end, ttl_seconds or scopes.
func (m *Minter) Check(r *MintRequest) error {
	switch {
	case r.CallID == "":
		return fieldErr("call_id", "required")
	case len(r.CallID) > MaxCallIDBytes:
		return fieldErr("call_id", fmt.Sprintf("must be at most %d bytes", MaxCallIDBytes))
	case !utf8.ValidString(r.CallID) || strings.ContainsFunc(r.CallID, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		return fieldErr("call_id", "must be printable UTF-8")
	case r.WindowStart.IsZero():
		return fieldErr("window_start", "required")
	case r.WindowEnd.IsZero():
		return fieldErr("window_end", "required")
	case !r.WindowEnd.After(r.WindowStart):
		return fieldErr("window_end", "must be after window_start")
	case r.WindowEnd.Sub(r.WindowStart) > m.limits.MaxWindow:
		return fieldErr("window_end", fmt.Sprintf("the window may span at most %s", m.limits.MaxWindow))
	case r.TTL < 0:
		return fieldErr("ttl_seconds", "must be positive")
	case r.TTL > m.limits.MaxLifetime:
		return fieldErr("ttl_seconds", fmt.Sprintf("must be at most %d", int64(m.limits.MaxLifetime/time.Second)))
	case r.TTL != 0 && r.TTL < time.Second:
		return fieldErr("ttl_seconds", "must be at least 1")
	}
	for _, s := range r.Scopes {
		if !slices.Contains(KnownScopes, s) {
			return fieldErr("scopes", fmt.Sprintf("unknown scope; known: %s", strings.Join(KnownScopes, ", ")))
		}
	}
	if r.IssuedBy == "" || len(r.IssuedBy) > 320 {
		return fieldErr("issued_by", "required, at most 320 bytes")
	}
	return nil
}

// Mint checks r, signs a token for tenant t and records it. Returns the
// Invalid errors of Check, Forbidden for a suspended tenant, NotFound when
// no signing key exists yet, and store errors wrapped.
func (m *Minter) Mint(ctx context.Context, t tenant.Tenant, r MintRequest) (string, Claims, error) {
	if err := m.Check(&r); err != nil {
		return "", Claims{}, err
	}
	if !t.Active() {
		return "", Claims{}, callscope.Errorf(callscope.Forbidden, "tenant %s is suspended", t.Slug)
	}
	key, err := m.keys.Active(ctx)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth.Minter.Mint: %w", err)
	}
	ttl := r.TTL
	if ttl == 0 {
		ttl = min(DefaultTTL, m.limits.MaxLifetime)
	}
	now := m.now().Truncate(time.Second)
	var scopes []string
	for _, s := range r.Scopes {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	c := Claims{
		Issuer: ServerIssuer, Audience: Audience, Tenant: t.Slug, CallID: r.CallID, ID: NewJTI(),
		// NumericDate has whole seconds: round the window outwards so the
		// token covers at least what was asked.
		WindowStart: r.WindowStart.Truncate(time.Second),
		WindowEnd:   ceilSecond(r.WindowEnd),
		IssuedAt:    now, Expiry: now.Add(ttl.Truncate(time.Second)),
		Scopes: scopes,
	}
	if c.WindowEnd.Sub(c.WindowStart) > m.limits.MaxWindow {
		// Rounding outwards must not push a maximal window over the limit.
		c.WindowEnd = c.WindowStart.Add(m.limits.MaxWindow)
	}
	tok, err := Mint(key, c)
	if err != nil {
		return "", Claims{}, err
	}
	err = m.tokens.RecordIssued(ctx, IssuedToken{
		TenantID: t.ID, JTI: c.ID, CallID: c.CallID, WindowStart: c.WindowStart, WindowEnd: c.WindowEnd,
		IssuedAt: c.IssuedAt, ExpiresAt: c.Expiry, Scopes: c.Scopes, IssuedBy: r.IssuedBy,
	})
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth.Minter.Mint: %w", err)
	}
	return tok, c, nil
}

// URL is the viewer link of token: PublicURL + "/v/" + token.
func (m *Minter) URL(token string) string { return m.publicURL + "/v/" + token }

func ceilSecond(t time.Time) time.Time {
	if tt := t.Truncate(time.Second); !tt.Equal(t) {
		return tt.Add(time.Second)
	}
	return t
}
