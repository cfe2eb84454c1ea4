package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// wireClaims is the JSON the signer emits; times are NumericDate seconds.
type wireClaims struct {
	Issuer      string   `json:"iss"`
	Audience    string   `json:"aud"`
	Tenant      string   `json:"tid"`
	CallID      string   `json:"call_id"`
	WindowStart int64    `json:"window_start"`
	WindowEnd   int64    `json:"window_end"`
	IssuedAt    int64    `json:"iat"`
	Expiry      int64    `json:"exp"`
	ID          string   `json:"jti"`
	NotBefore   int64    `json:"nbf,omitempty"`
	Scopes      []string `json:"scp,omitempty"`
}

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
	w := wireClaims{
		Issuer: c.Issuer, Audience: c.Audience, Tenant: c.Tenant, CallID: c.CallID,
		WindowStart: c.WindowStart.Unix(), WindowEnd: c.WindowEnd.Unix(),
		IssuedAt: c.IssuedAt.Unix(), Expiry: c.Expiry.Unix(),
		ID: c.ID, Scopes: c.Scopes,
	}
	if !c.NotBefore.IsZero() {
		w.NotBefore = c.NotBefore.Unix()
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
