package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/tenant"
)

// PublicKeySource lists the server keys that verify, for the JWKS.
// *authdb.KeyStore implements it.
type PublicKeySource interface {
	PublicKeys(ctx context.Context) ([]auth.PublicKey, error)
}

// TokenAPI is the token API orchestrators call. It is mounted on the query
// listener, which holds the signing keys; the viewer forwards the public
// paths to it. Errors are callscope errors rendered by
// web.JSONErrorHandler as {"error": {"code", "message", "field",
// "request_id"}}.
type TokenAPI struct {
	keys    *authdb.APIKeys
	minter  *auth.Minter
	tokens  *authdb.Tokens
	jwks    PublicKeySource
	limiter *authredis.RateLimiter
}

// NewTokenAPI returns the token API: API keys authenticate callers, minter
// signs, tokens revokes, jwks publishes the public keys and limiter bounds
// each key's mint rate (nil: no limit).
func NewTokenAPI(keys *authdb.APIKeys, minter *auth.Minter, tokens *authdb.Tokens, jwks PublicKeySource, limiter *authredis.RateLimiter) *TokenAPI {
	return &TokenAPI{keys: keys, minter: minter, tokens: tokens, jwks: jwks, limiter: limiter}
}

// Routes mounts the API. Authorization per line.
func (a *TokenAPI) Routes(g *echo.Group) {
	g.POST("/api/v1/view-tokens", a.mint)          // API key; rate-limited per key
	g.DELETE("/api/v1/view-tokens/:jti", a.revoke) // API key; the key's own tenant's tokens only
	g.GET("/.well-known/jwks.json", a.publicKeys)  // public
}

// maxMintBody bounds the request body; a real one is ~200 bytes.
const maxMintBody = 16 << 10

// mintMembers are the members of POST /api/v1/view-tokens's JSON body.
// Times are RFC 3339 strings.
var mintMembers = []string{"call_id", "window_start", "window_end", "ttl_seconds", "scopes"}

// MintResponse is the 201 body of POST /api/v1/view-tokens.
type MintResponse struct {
	Token     string    `json:"token"`
	URL       string    `json:"url"`
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *TokenAPI) mint(c echo.Context) error {
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

// parseMintBody decodes the request and names the member at fault: an
// unknown member, a member of the wrong type, or the byte where the JSON
// stopped making sense.
func parseMintBody(r io.Reader) (auth.MintRequest, error) {
	var req auth.MintRequest
	body, err := io.ReadAll(io.LimitReader(r, maxMintBody+1))
	if err != nil {
		return req, fieldErr("body", "could not be read")
	}
	if len(body) > maxMintBody {
		return req, fieldErr("body", "must be at most 16 KiB")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return req, jsonError(body, err)
	}
	if members == nil {
		return req, fieldErr("body", "must be a JSON object such as {\"call_id\": ...}")
	}
	for name := range members {
		if !slices.Contains(mintMembers, name) {
			return req, fieldErr(name, "unknown member; the body takes "+strings.Join(mintMembers, ", "))
		}
	}
	str := func(name string) (string, error) {
		var s string
		if raw, ok := members[name]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", fieldErr(name, "must be a string")
			}
		}
		return s, nil
	}
	if req.CallID, err = str("call_id"); err != nil {
		return req, err
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"window_start", &req.WindowStart}, {"window_end", &req.WindowEnd}} {
		s, err := str(t.name)
		if err != nil {
			return req, err
		}
		if *t.dst, err = parseTime(t.name, s); err != nil {
			return req, err
		}
	}
	if raw, ok := members["ttl_seconds"]; ok && string(raw) != "null" {
		// A JSON number only: "600" in quotes is refused, not guessed at.
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(string(raw), "-") {
				n = math.MaxInt64 // too long is too long, however long: the limit says by how much
			} else {
				return req, fieldErr("ttl_seconds", "must be a whole number of seconds")
			}
		}
		if n <= 0 {
			return req, fieldErr("ttl_seconds", "must be positive")
		}
		// Past what a Duration holds, the TTL is simply over any limit;
		// the Minter names the limit, the same message for 86400000 and
		// 99999999999.
		req.TTL = time.Duration(math.MaxInt64)
		if n < math.MaxInt64/int64(time.Second) {
			req.TTL = time.Duration(n) * time.Second
		}
	}
	if raw, ok := members["scopes"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &req.Scopes); err != nil || len(req.Scopes) > 8 {
			return req, fieldErr("scopes", `must be an array of scope names such as ["pcap"]`)
		}
	}
	return req, nil
}

// jsonError says where a JSON body stopped making sense.
func jsonError(body []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(body[:min(int(se.Offset), len(body))], []byte("\n"))
		return fieldErr("body", fmt.Sprintf("is not valid JSON: %s (line %d, byte %d)", se.Error(), line, se.Offset))
	}
	return fieldErr("body", "must be a JSON object such as {\"call_id\": ...}")
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

func fieldErr(field, msg string) error { return callscope.FieldError(field, "%s", msg) }

// revoke revokes a token of the key's tenant by jti, whoever signed it: a
// token the tenant signed itself, and that the server never saw, is revoked
// as well as one the server minted. Only the key's tenant's jtis are
// touched: another tenant's token with the same jti stays valid.
func (a *TokenAPI) revoke(c echo.Context) error {
	key, err := a.authenticate(c)
	if err != nil {
		return err
	}
	if err := a.tokens.RevokeToken(c.Request().Context(), key.TenantID, c.Param("jti")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *TokenAPI) publicKeys(c echo.Context) error {
	keys, err := a.jwks.PublicKeys(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.JSON(http.StatusOK, auth.JWKS(keys))
}

// authenticate reads "Authorization: Bearer <API key>".
func (a *TokenAPI) authenticate(c echo.Context) (authdb.APIKey, error) {
	return authenticateAPIKey(c, a.keys)
}
