// Package web holds what every callscope HTTP listener shares: the one
// mapping from error kinds to status codes, health endpoints, request ids
// and access logs that never carry a token.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
)

// Status maps an error kind to its HTTP status.
func Status(k callscope.Kind) int {
	switch k {
	case callscope.NotFound:
		return http.StatusNotFound
	case callscope.Invalid:
		return http.StatusBadRequest
	case callscope.Unauthorized:
		return http.StatusUnauthorized
	case callscope.Forbidden:
		return http.StatusForbidden
	case callscope.Conflict:
		return http.StatusConflict
	case callscope.Unavailable:
		return http.StatusServiceUnavailable
	case callscope.RateLimited:
		return http.StatusTooManyRequests
	case callscope.Unprocessable:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// StatusOf is the HTTP status err answers with: its kind's, except echo's
// 405, which stays a 405 (the router has set Allow).
func StatusOf(err error) int {
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed {
		return he.Code
	}
	return Status(KindOf(err))
}

// KindOf classifies err, including echo's own errors (404 for unknown
// routes, 405, 413 from the body limit).
func KindOf(err error) callscope.Kind {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return callscope.NotFound
		case http.StatusUnauthorized:
			return callscope.Unauthorized
		case http.StatusForbidden:
			return callscope.Forbidden
		case http.StatusTooManyRequests:
			return callscope.RateLimited
		case http.StatusServiceUnavailable:
			return callscope.Unavailable
		}
		if he.Code >= 400 && he.Code < 500 {
			return callscope.Invalid
		}
	}
	return callscope.KindOf(err)
}

// JSONErrorHandler renders errors as {"error": {"code", "message", "field",
// "request_id"}}, logging internal errors once with the request id.
func JSONErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		kind := KindOf(err)
		status, code := StatusOf(err), string(kind)
		field, msg := callscope.Public(err)
		var he *echo.HTTPError
		if errors.As(err, &he) && kind != callscope.Internal {
			msg = http.StatusText(he.Code)
		}
		switch {
		case status == http.StatusMethodNotAllowed:
			code, msg = "method_not_allowed", "this path does not take "+c.Request().Method+"; see the Allow header"
		case kind == callscope.Internal:
			msg = "internal error"
			log.ErrorContext(c.Request().Context(), "request failed", "err", err, "route", c.Path(), "request_id", RequestID(c))
		}
		// A refused view token answers with its refusal, the one vocabulary
		// the client reads back (auth.Refusal).
		if r, ok := auth.RefusalOf(err); ok {
			code = string(r)
		}
		body := map[string]any{"code": code, "message": msg, "request_id": RequestID(c)}
		if field != "" {
			body["field"] = field
		}
		if err := c.JSON(status, map[string]any{"error": body}); err != nil {
			log.Warn("write error response", "err", err)
		}
	}
}

// HeaderRequestID carries a request's id between callscope's listeners.
const HeaderRequestID = echo.HeaderXRequestID

type ctxKey struct{}

// RequestID returns the request's id.
func RequestID(c echo.Context) string {
	id, _ := c.Get("request_id").(string)
	return id
}

// RequestIDFrom returns the request id stored in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Middleware assigns a request id (kept from X-Request-Id when well formed,
// so query logs line up with the viewer's) and writes one access log line
// per request naming the route pattern — never the URI, which may hold a
// view token.
func Middleware(log *slog.Logger, role string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(HeaderRequestID)
			if !validID(id) {
				b := make([]byte, 8)
				rand.Read(b)
				id = hex.EncodeToString(b)
			}
			c.Set("request_id", id)
			c.Response().Header().Set(HeaderRequestID, id)
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), ctxKey{}, id)))
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			if ctx := c.Request().Context(); log.Enabled(ctx, slog.LevelInfo) { // or the arguments cost a dozen allocations
				log.InfoContext(ctx, "http", "role", role, "method", c.Request().Method, "route", c.Path(),
					"status", c.Response().Status, "dur_ms", float64(time.Since(start).Microseconds())/1000,
					"bytes", c.Response().Size, "request_id", id)
			}
			return nil
		}
	}
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Check is a readiness probe of one dependency.
type Check func(ctx context.Context) error

// HealthRoutes adds GET /healthz (the process is up) and GET /readyz (every
// check answers within two seconds).
func HealthRoutes(e *echo.Echo, checks map[string]Check) {
	e.GET("/healthz", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok\n")
	})
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		status := http.StatusOK
		out := map[string]string{}
		for name, check := range checks {
			if err := check(ctx); err != nil {
				status = http.StatusServiceUnavailable
				out[name] = "unavailable"
				continue
			}
			out[name] = "ok"
		}
		return c.JSON(status, out)
	})
}

// New returns an echo instance with callscope's defaults: no banner, the
// request-id and access-log middleware, and a JSON error handler.
func New(log *slog.Logger, role string) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = JSONErrorHandler(log)
	e.Use(Middleware(log, role))
	return e
}

// Blob answers body with its Content-Length, so that net/http writes it as
// it is instead of in chunks (it chunks any body over 2 KB whose length it
// was not told): the viewer's pages and query's calls are tens of KB.
func Blob(c echo.Context, code int, contentType string, body []byte) error {
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	return c.Blob(code, contentType, body)
}
