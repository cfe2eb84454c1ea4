package query

import (
	"context"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth/authdb"
)

// APIKeyAuthenticator checks a presented API key; *authdb.APIKeys is one.
type APIKeyAuthenticator interface {
	AuthenticateAPIKey(ctx context.Context, plaintext string) (authdb.APIKey, error)
}

// authenticateAPIKey reads "Authorization: Bearer <API key>" for every
// API-key route (tokens, calls, scenarios), answering a refusal with
// WWW-Authenticate. Returns an Unauthorized error for a missing or refused
// key.
func authenticateAPIKey(c echo.Context, keys APIKeyAuthenticator) (authdb.APIKey, error) {
	h := c.Request().Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="callscope"`)
		return authdb.APIKey{}, callscope.Errorf(callscope.Unauthorized, "an API key is required: Authorization: Bearer cs_...")
	}
	k, err := keys.AuthenticateAPIKey(c.Request().Context(), strings.TrimSpace(key))
	if err != nil {
		if callscope.Is(err, callscope.Unauthorized) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="callscope", error="invalid_token"`)
		}
		return authdb.APIKey{}, err
	}
	return k, nil
}
