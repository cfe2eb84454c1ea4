package auth

import (
	"errors"

	"github.com/callscope/callscope"
)

// Sentinels classifying why a view token was refused. Verify wraps each in a
// *callscope.Error (kind Unauthorized, or Unavailable for ErrUnavailable), so
// callers test them with errors.Is and the HTTP edge maps them by kind.
var (
	// ErrMalformed: not a well-formed view token (size, encoding, header,
	// missing or mistyped claims). Nothing was verified.
	ErrMalformed = errors.New("malformed token")
	// ErrSignature: unknown key, a key of the wrong namespace, or a signature
	// that does not verify.
	ErrSignature = errors.New("bad signature")
	// ErrClaims: an authentic token that breaks the server's policy (wrong
	// audience, lifetime or window too long, empty window).
	ErrClaims = errors.New("invalid claims")
	// ErrExpired: exp is further in the past than the leeway.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf or iat lies in the future beyond the leeway.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrRevoked: the jti was revoked or iat precedes the tenant's epoch.
	ErrRevoked = errors.New("token revoked")
	// ErrTenantInactive: the tenant is unknown or suspended.
	ErrTenantInactive = errors.New("tenant inactive")
	// ErrUnavailable: a key store, the tenant store or Redis could not
	// answer. Verification fails closed.
	ErrUnavailable = errors.New("verification unavailable")
)

// Outcome names the result of Verify for metrics and for choosing the
// viewer's error page: "ok", "malformed", "bad_signature", "invalid_claims",
// "expired", "not_yet_valid", "revoked", "tenant_inactive", "unavailable",
// or "error" for anything else.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrSignature):
		return "bad_signature"
	case errors.Is(err, ErrClaims):
		return "invalid_claims"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrNotYetValid):
		return "not_yet_valid"
	case errors.Is(err, ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrTenantInactive):
		return "tenant_inactive"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// public messages: safe to show to a customer looking at an iframe. They
// never contain any part of the token.
var publicMessage = map[error]string{
	ErrMalformed:      "this link is not valid",
	ErrSignature:      "this link is not valid",
	ErrClaims:         "this link is not valid",
	ErrExpired:        "this link has expired",
	ErrNotYetValid:    "this link is not valid yet",
	ErrRevoked:        "this link has been revoked",
	ErrTenantInactive: "this link is no longer available",
	ErrUnavailable:    "the service is temporarily unavailable",
}

// refuse builds Verify's error: the sentinel plus a fixed, token-free detail
// for logs, inside a callscope.Error for the HTTP edge. cause, when not nil,
// is an infrastructure error kept for operators (never token content).
func refuse(sentinel error, detail string, cause error) error {
	kind := callscope.Unauthorized
	if sentinel == ErrUnavailable {
		kind = callscope.Unavailable
	}
	inner := &detailError{sentinel: sentinel, detail: detail, cause: cause}
	return &callscope.Error{Kind: kind, Message: publicMessage[sentinel], Err: inner}
}

type detailError struct {
	sentinel error
	detail   string
	cause    error
}

func (e *detailError) Error() string {
	s := e.sentinel.Error() + ": " + e.detail
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *detailError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.sentinel, e.cause}
	}
	return []error{e.sentinel}
}

func fieldErr(field, msg string) error { return callscope.FieldError(field, "%s", msg) }
