// Package callscope holds the small vocabulary every other package shares:
// the error kinds that the HTTP edges map to status codes in one place.
package callscope

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the edges. Domain packages return errors of
// these kinds; only the HTTP layer turns them into status codes.
type Kind string

const (
	NotFound     Kind = "not_found"
	Invalid      Kind = "invalid"
	Unauthorized Kind = "unauthorized"
	Forbidden    Kind = "forbidden"
	Conflict     Kind = "conflict"
	Unavailable  Kind = "unavailable"
	RateLimited  Kind = "rate_limited"
	// Unprocessable: the input is well formed but names something the
	// operation cannot do (a call SIPp cannot replay).
	Unprocessable Kind = "unprocessable"
	Internal      Kind = "internal"
)

// Error is an error a person can act on. Message is safe to show to the
// caller; Field names the offending input when there is one.
type Error struct {
	Kind    Kind
	Field   string
	Message string
	Err     error // cause, never shown to callers
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted, caller-safe message.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an Invalid error naming the input field at fault.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// KindOf reports the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err carries kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// Public returns the caller-safe message and field of err, or a generic
// message when err is not an *Error.
func Public(err error) (field, message string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Field, e.Message
	}
	return "", "internal error"
}
