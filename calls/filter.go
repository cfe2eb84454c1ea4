package calls

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/query/queryapi"
)

// Listing bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// MaxRange is the longest time range one listing may cover.
	MaxRange = 31 * 24 * time.Hour
)

// Filter selects one tenant's calls. From and To are required; the other
// fields are optional and combine with AND.
type Filter struct {
	From, To time.Time // calls that started in [From, To)

	CallID string
	// FromUser, ToUser and RURIUser match the user parts of the call's
	// first request exactly, or by prefix ("4420*") or suffix ("*1234").
	FromUser, ToUser, RURIUser string
	// Status is a final status ("486") or a class ("4xx"), as the calls
	// API takes it.
	Status string
	Kind   string // callrec.Kinds

	Limit  int    // 0 = DefaultLimit, at most MaxLimit
	Cursor string // from a previous List; empty for the first page
}

// status is Filter.Status parsed: [lo, hi] of final statuses.
type status struct{ lo, hi int }

func parseStatus(v string) (status, bool) {
	if len(v) == 3 && v[0] >= '1' && v[0] <= '6' && (v[1:] == "xx" || v[1:] == "XX") {
		lo := int(v[0]-'0') * 100
		return status{lo, lo + 99}, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 || n > 699 || len(v) != 3 {
		return status{}, false
	}
	return status{n, n}, true
}

// Validate checks f and fills defaults. It returns an Invalid error naming
// the field at fault.
func (f *Filter) Validate() error {
	switch {
	case f.From.IsZero():
		return callscope.FieldError("from", "required (RFC 3339, e.g. 2026-03-01T12:00:00Z)")
	case f.To.IsZero():
		return callscope.FieldError("to", "required (RFC 3339, e.g. 2026-03-01T13:00:00Z)")
	case !f.From.Before(f.To):
		return callscope.FieldError("from", "must be before to")
	case f.To.Sub(f.From) > MaxRange:
		return callscope.FieldError("to", "the range from..to may not exceed %d days", int(MaxRange/(24*time.Hour)))
	case f.Limit < 0 || f.Limit > MaxLimit:
		return callscope.FieldError("limit", "must be between 1 and %d", MaxLimit)
	case f.Kind != "" && !slices.Contains(callrec.Kinds, f.Kind):
		return callscope.FieldError("kind", "must be one of %s", strings.Join(callrec.Kinds, ", "))
	}
	if f.Status != "" {
		if _, ok := parseStatus(f.Status); !ok {
			return callscope.FieldError("status", "must be a final status such as 486 or a class such as 4xx")
		}
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	for _, u := range []struct{ name, v string }{{"from_user", f.FromUser}, {"to_user", f.ToUser}, {"ruri_user", f.RURIUser}} {
		if _, _, err := queryapi.UserPattern(u.name, u.v); err != nil {
			return err
		}
	}
	if f.Cursor != "" {
		if _, err := decodeCursor(f.Cursor); err != nil {
			return err
		}
	}
	return nil
}

// cursor is the keyset position after the last call of a page: calls are
// listed by (started_at DESC, call_id).
type cursor struct {
	started time.Time
	callID  string
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.started.UnixMicro(), 10) + ":" + c.callID))
}

func decodeCursor(s string) (cursor, error) {
	bad := callscope.FieldError("cursor", "not a cursor returned by this API")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	us, callID, ok := strings.Cut(string(b), ":")
	micros, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || callID == "" {
		return cursor{}, bad
	}
	return cursor{started: time.UnixMicro(micros).UTC(), callID: callID}, nil
}
