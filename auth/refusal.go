package auth

import (
	"errors"

	"github.com/callscope/callscope"
)

// Refusal says why a view token was refused. It is the one vocabulary of a
// refusal, from end to end: Verify returns it (inside a *callscope.Error),
// the verification metric is labelled with it, query answers it as its
// JSON error code, the query client gives the same value back, and the
// viewer's error page is chosen by it.
//
// A Refusal is an error, so callers test with errors.Is(err, auth.ErrExpired)
// or read it with RefusalOf.
type Refusal string

// The refusals. Their strings are the wire and metric vocabulary: change
// them only with a migration note in the README.
const (
	// ErrMalformed: not a well-formed view token (size, encoding, header,
	// missing or mistyped claims). Nothing was verified.
	ErrMalformed Refusal = "malformed"
	// ErrSignature: unknown key, a key of the wrong namespace or algorithm,
	// or a signature that does not verify.
	ErrSignature Refusal = "bad_signature"
	// ErrClaims: an authentic token that breaks the server's policy (wrong
	// audience, lifetime or window too long, empty window).
	ErrClaims Refusal = "invalid_claims"
	// ErrExpired: exp is further in the past than the leeway.
	ErrExpired Refusal = "expired"
	// ErrNotYetValid: nbf or iat lies in the future beyond the leeway.
	ErrNotYetValid Refusal = "not_yet_valid"
	// ErrRevoked: the jti was revoked, or the token may have been issued
	// before its tenant's revocation epoch.
	ErrRevoked Refusal = "revoked"
	// ErrTenantInactive: the tenant is unknown or suspended.
	ErrTenantInactive Refusal = "tenant_inactive"
	// ErrUnavailable: a key store, the tenant store or Redis could not
	// answer, or Redis lost the revocation state. Verification fails closed.
	ErrUnavailable Refusal = "unavailable"
)

var refusals = []Refusal{ErrMalformed, ErrSignature, ErrClaims, ErrExpired, ErrNotYetValid, ErrRevoked,
	ErrTenantInactive, ErrUnavailable}

func (r Refusal) Error() string { return "view token refused: " + string(r) }

// Kind is how the HTTP edges classify r: Unavailable for ErrUnavailable,
// Unauthorized for every other refusal.
func (r Refusal) Kind() callscope.Kind {
	if r == ErrUnavailable {
		return callscope.Unavailable
	}
	return callscope.Unauthorized
}

// Message is safe to show to a customer looking at an iframe. It never says
// more than the refusal's kind: "bad signature" or "unknown key" would help
// someone forging links, not someone holding one.
func (r Refusal) Message() string {
	switch r {
	case ErrExpired:
		return "this link has expired"
	case ErrNotYetValid:
		return "this link is not valid yet"
	case ErrRevoked:
		return "this link has been revoked"
	case ErrTenantInactive:
		return "this link is no longer available"
	case ErrUnavailable:
		return "the service is temporarily unavailable"
	}
	return "this link is not valid"
}

// Err is r as the error the HTTP edges map: a *callscope.Error of r's kind
// and message wrapping r. The query client rebuilds a refusal it read from
// query's answer with it.
func (r Refusal) Err() error {
	return &callscope.Error{Kind: r.Kind(), Message: r.Message(), Err: r}
}

// ParseRefusal returns the refusal named s (a JSON error code, say).
func ParseRefusal(s string) (Refusal, bool) {
	for _, r := range refusals {
		if string(r) == s {
			return r, true
		}
	}
	return "", false
}

// RefusalOf returns the refusal in err's chain.
func RefusalOf(err error) (Refusal, bool) {
	var r Refusal
	if errors.As(err, &r) {
		return r, true
	}
	return "", false
}

// Outcome is the label of a verification for metrics: "ok" for a nil
// error, the refusal, or "error" for anything else.
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	if r, ok := RefusalOf(err); ok {
		return string(r)
	}
	return "error"
}

// refuse builds Verify's error: the refusal plus a fixed, token-free detail
// for logs, inside a callscope.Error for the HTTP edge. cause, when not nil,
// is an infrastructure error kept for operators (never token content).
func refuse(r Refusal, detail string, cause error) error {
	return &callscope.Error{Kind: r.Kind(), Message: r.Message(), Err: &detailError{refusal: r, detail: detail, cause: cause}}
}

type detailError struct {
	refusal Refusal
	detail  string
	cause   error
}

func (e *detailError) Error() string {
	s := string(e.refusal) + ": " + e.detail
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *detailError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.refusal, e.cause}
	}
	return []error{e.refusal}
}

func fieldErr(field, msg string) error { return callscope.FieldError(field, "%s", msg) }
