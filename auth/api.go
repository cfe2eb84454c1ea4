package auth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/tenant"
)

// PublicKeySource lists the server keys that verify, for the JWKS.
// *KeyStore implements it.
type PublicKeySource interface {
	PublicKeys(ctx context.Context) ([]PublicKey, error)
}

// API is the token API orchestrators call. It is mounted on the query
// listener; the viewer forwards the public paths to it. Errors are
// callscope errors rendered by web.JSONErrorHandler as
// {"error": {"code", "message", "field", "request_id"}}.
type API struct {
	keys    *APIKeys
	minter  *Minter
	tokens  *Tokens
	jwks    PublicKeySource
	limiter *RateLimiter
}

// NewAPI returns the token API: API keys authenticate callers, minter signs,
// tokens revokes, jwks publishes the public keys and limiter bounds each
// key's mint rate (nil: no limit).
func NewAPI(keys *APIKeys, minter *Minter, tokens *Tokens, jwks PublicKeySource, limiter *RateLimiter) *API {
	return &API{keys: keys, minter: minter, tokens: tokens, jwks: jwks, limiter: limiter}
}

// Routes mounts the API. Authorization per line.
func (a *API) Routes(g *echo.Group) {
	g.POST("/api/v1/view-tokens", a.mint)          // API key; rate-limited per key
	g.DELETE("/api/v1/view-tokens/:jti", a.revoke) // API key; the key's own tenant's tokens only
	g.GET("/.well-known/jwks.json", a.publicKeys)  // public
}

// maxMintBody bounds the request body; a real one is ~200 bytes.
const maxMintBody = 16 << 10

// mintBody is the JSON of POST /api/v1/view-tokens. Times are RFC 3339.
type mintBody struct {
	CallID      string          `json:"call_id"`
	WindowStart string          `json:"window_start"`
	WindowEnd   string          `json:"window_end"`
	TTLSeconds  json.RawMessage `json:"ttl_seconds"`
	Scopes      json.RawMessage `json:"scopes"`
}

// MintResponse is the 201 body of POST /api/v1/view-tokens.
type MintResponse struct {
	Token     string    `json:"token"`
	URL       string    `json:"url"`
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *API) mint(c echo.Context) error {
	ctx := c.Request().Context()
	key, err := a.authenticate(c)
	if err != nil {
		return err
	}
	if a.limiter != nil {
		ok, retry, err := a.limiter.AllowMint(ctx, key.Prefix)
		if err != nil {
			return err
		}
		if !ok {
			secs := int64(math.Ceil(retry.Seconds()))
			c.Response().Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			return callscope.Errorf(callscope.RateLimited, "too many tokens minted with this key: retry later")
		}
	}
	req, err := parseMintBody(c.Request().Body)
	if err != nil {
		return err
	}
	req.IssuedBy = key.IssuedBy()
	t := tenant.Tenant{ID: key.TenantID, Slug: key.TenantSlug, Status: key.TenantStatus}
	tok, claims, err := a.minter.Mint(ctx, t, req)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, MintResponse{Token: tok, URL: a.minter.URL(tok), JTI: claims.ID, ExpiresAt: claims.Expiry.UTC()})
}

// parseMintBody decodes the request and names the member at fault.
func parseMintBody(r io.Reader) (MintRequest, error) {
	var b mintBody
	dec := json.NewDecoder(io.LimitReader(r, maxMintBody+1))
	if err := dec.Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return MintRequest{}, fieldErr(te.Field, "has the wrong type")
		}
		return MintRequest{}, fieldErr("body", "must be a JSON object of at most 16 KiB")
	}
	var req MintRequest
	req.CallID = b.CallID
	var err error
	if req.WindowStart, err = parseTime("window_start", b.WindowStart); err != nil {
		return req, err
	}
	if req.WindowEnd, err = parseTime("window_end", b.WindowEnd); err != nil {
		return req, err
	}
	if len(b.TTLSeconds) > 0 && string(b.TTLSeconds) != "null" {
		// A JSON number only: "600" in quotes is refused, not guessed at.
		n, err := strconv.ParseInt(string(b.TTLSeconds), 10, 64)
		if err != nil || n <= 0 || n > math.MaxInt64/int64(time.Second) {
			return req, fieldErr("ttl_seconds", "must be a positive whole number of seconds")
		}
		req.TTL = time.Duration(n) * time.Second
	}
	if len(b.Scopes) > 0 && string(b.Scopes) != "null" {
		if err := json.Unmarshal(b.Scopes, &req.Scopes); err != nil || len(req.Scopes) > 8 {
			return req, fieldErr("scopes", `must be an array of scope names such as ["pcap"]`)
		}
	}
	return req, nil
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fieldErr(field, "required (RFC 3339, e.g. 2026-03-01T12:00:00Z)")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fieldErr(field, "must be an RFC 3339 time such as 2026-03-01T12:00:00Z")
	}
	return t, nil
}

func (a *API) revoke(c echo.Context) error {
	key, err := a.authenticate(c)
	if err != nil {
		return err
	}
	jti := c.Param("jti")
	if jti == "" || len(jti) > maxClaimLen {
		return callscope.Errorf(callscope.NotFound, "no such token")
	}
	// Scoped to the key's tenant: another tenant's jti is "not found",
	// which says nothing about whether it exists.
	if err := a.tokens.RevokeToken(c.Request().Context(), key.TenantID, jti); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) publicKeys(c echo.Context) error {
	keys, err := a.jwks.PublicKeys(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.JSON(http.StatusOK, JWKS(keys))
}

// authenticate reads "Authorization: Bearer <API key>".
func (a *API) authenticate(c echo.Context) (APIKey, error) { return AuthenticateRequest(c, a.keys) }

// APIKeyAuthenticator checks a presented API key; *APIKeys is one.
type APIKeyAuthenticator interface {
	AuthenticateAPIKey(ctx context.Context, plaintext string) (APIKey, error)
}

// AuthenticateRequest reads "Authorization: Bearer <API key>" for any
// API-key route, answering a refusal with WWW-Authenticate. Returns an
// Unauthorized error for a missing or refused key.
func AuthenticateRequest(c echo.Context, keys APIKeyAuthenticator) (APIKey, error) {
	h := c.Request().Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="callscope"`)
		return APIKey{}, callscope.Errorf(callscope.Unauthorized, "an API key is required: Authorization: Bearer cs_...")
	}
	k, err := keys.AuthenticateAPIKey(c.Request().Context(), strings.TrimSpace(key))
	if err != nil {
		if callscope.Is(err, callscope.Unauthorized) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="callscope", error="invalid_token"`)
		}
		return APIKey{}, err
	}
	return k, nil
}
