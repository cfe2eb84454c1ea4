package queryapi

import (
	"encoding/base64"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/callscope/callscope"
)

// Search bounds.
const (
	DefaultLimit = 50
	MaxLimit     = 500
	// MaxRange is the longest time range one search may cover.
	MaxRange = 31 * 24 * time.Hour
)

// Filter selects calls for admin search. From and To are mandatory; the
// other fields are optional and combine with AND.
type Filter struct {
	From, To time.Time // [From, To): calls whose first request lies in it
	TenantID int64     // 0 = every tenant (admin)

	CallID        string
	CorrelationID string
	// FromUser, ToUser and RURIUser match exactly, or by prefix ("4420*")
	// or by suffix ("*1234"). Patterns are matched on the dialog's first
	// request.
	FromUser, ToUser, RURIUser string
	IP                         string // an address or a CIDR, as source or destination of any message
	Method                     string // of the first request: INVITE, REGISTER, ...
	Status                     int    // the call's final status (its record's: the final response to its last initial request)
	UserAgent                  string // substring, case-insensitive, of any message's User-Agent/Server
	CaptureID                  *uint32

	Limit  int    // 0 = DefaultLimit, at most MaxLimit
	Cursor string // from a previous Search; empty for the first page
}

// CallSummary is one line of search results.
type CallSummary struct {
	TenantID    int64         `json:"tenant_id"`
	TenantSlug  string        `json:"tenant_slug"`
	CallID      string        `json:"call_id"`
	First       time.Time     `json:"first"`
	Last        time.Time     `json:"last"`
	Method      string        `json:"method"`
	FromUser    string        `json:"from_user"`
	ToUser      string        `json:"to_user"`
	FinalStatus int           `json:"final_status"` // 0 while no final response was seen
	Duration    time.Duration `json:"duration"`     // answer to BYE; 0 if never answered or not hung up yet
	Messages    int           `json:"messages"`
	// Outcome is the call record's (callrec.Outcome*): answered, busy,
	// cancelled... Empty for a call stored before records existed and not
	// rebuilt since; its FinalStatus and Duration are then worked out from
	// its messages as before records.
	Outcome string `json:"outcome,omitempty"`
}

// Cursor is the keyset position after the last call of a page: calls are
// ordered by (first DESC, tenant_id, call_id).
type Cursor struct {
	First    time.Time
	TenantID int64
	CallID   string
}

func (c Cursor) Encode() string {
	s := strconv.FormatInt(c.First.UnixMicro(), 10) + ":" + strconv.FormatInt(c.TenantID, 10) + ":" + c.CallID
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func DecodeCursor(s string) (Cursor, error) {
	bad := callscope.FieldError("cursor", "not a cursor returned by search")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	us, rest, ok1 := strings.Cut(string(b), ":")
	tid, callID, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return Cursor{}, bad
	}
	micros, err1 := strconv.ParseInt(us, 10, 64)
	tenantID, err2 := strconv.ParseInt(tid, 10, 64)
	if err1 != nil || err2 != nil {
		return Cursor{}, bad
	}
	return Cursor{First: time.UnixMicro(micros).UTC(), TenantID: tenantID, CallID: callID}, nil
}

// Validate checks f and fills defaults. It returns an Invalid error naming
// the field at fault.
func (f *Filter) Validate() error {
	switch {
	case f.From.IsZero():
		return callscope.FieldError("from", "a start time is required")
	case f.To.IsZero():
		return callscope.FieldError("to", "an end time is required")
	case !f.To.After(f.From):
		return callscope.FieldError("to", "must be after from")
	case f.To.Sub(f.From) > MaxRange:
		return callscope.FieldError("to", "the range may not exceed %d days", int(MaxRange/(24*time.Hour)))
	case f.TenantID < 0:
		return callscope.FieldError("tenant_id", "must be positive")
	case f.Limit < 0 || f.Limit > MaxLimit:
		return callscope.FieldError("limit", "must be between 1 and %d", MaxLimit)
	case f.Status != 0 && (f.Status < 100 || f.Status > 699):
		return callscope.FieldError("status", "must be a SIP status code (100-699)")
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	for _, u := range []struct{ name, v string }{{"from_user", f.FromUser}, {"to_user", f.ToUser}, {"ruri_user", f.RURIUser}} {
		if _, _, err := UserPattern(u.name, u.v); err != nil {
			return err
		}
	}
	if f.IP != "" {
		if _, err := ParseIPFilter(f.IP); err != nil {
			return err
		}
	}
	if f.Cursor != "" {
		if _, err := DecodeCursor(f.Cursor); err != nil {
			return err
		}
	}
	return nil
}

// Match modes of UserPattern.
const (
	MatchExact  = "exact"
	MatchPrefix = "prefix"
	MatchSuffix = "suffix"
)

// UserPattern turns a user filter "abc", "abc*" or "*abc" into a match
// mode and its SQL argument: the value for exact, a LIKE pattern with the
// user's own wildcards escaped for prefix, and for suffix the same on the
// reversed value (matched against reverse(column), which an index on
// reverse(column) text_pattern_ops serves). "" gives mode "". An Invalid
// error names field.
func UserPattern(field, v string) (mode string, arg string, err error) {
	if v == "" {
		return "", "", nil
	}
	prefix := strings.HasSuffix(v, "*")
	suffix := strings.HasPrefix(v, "*")
	core := strings.TrimSuffix(strings.TrimPrefix(v, "*"), "*")
	switch {
	case core == "" || strings.Contains(core, "*"):
		return "", "", callscope.FieldError(field, "use exact, prefix* or *suffix")
	case prefix && suffix:
		return "", "", callscope.FieldError(field, "use exact, prefix* or *suffix, not both")
	case prefix:
		return MatchPrefix, EscapeLike(core) + "%", nil
	case suffix:
		return MatchSuffix, EscapeLike(reverse(core)) + "%", nil
	}
	return MatchExact, core, nil
}

// EscapeLike escapes LIKE's wildcards (and its escape character) in s, so
// that a user's "%" or "_" matches itself.
func EscapeLike(s string) string { return likeEscaper.Replace(s) }

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// reverse reverses s the way PostgreSQL's reverse() does: by character.
func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func ParseIPFilter(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, callscope.FieldError("ip", "%q is neither an address nor a CIDR", s)
	}
	return p.Masked(), nil
}

// SearchResult is the body of GET /internal/v1/admin/search.
type SearchResult struct {
	Calls []CallSummary `json:"calls"`
	Next  string        `json:"next,omitempty"`
}

// FilterFromQuery is the inverse of Filter.query.
func FilterFromQuery(q url.Values) (Filter, error) {
	f := Filter{
		CallID: q.Get("call_id"), CorrelationID: q.Get("correlation_id"),
		FromUser: q.Get("from_user"), ToUser: q.Get("to_user"), RURIUser: q.Get("ruri_user"),
		IP: q.Get("ip"), Method: q.Get("method"), UserAgent: q.Get("user_agent"), Cursor: q.Get("cursor"),
	}
	var err error
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return f, callscope.FieldError(t.name, "not an RFC 3339 time")
			}
		}
	}
	ints := []struct {
		name string
		set  func(int64)
		max  int64
	}{
		{"tenant_id", func(v int64) { f.TenantID = v }, 1<<63 - 1},
		{"status", func(v int64) { f.Status = int(v) }, 699},
		{"limit", func(v int64) { f.Limit = int(v) }, MaxLimit},
		{"capture_id", func(v int64) { u := uint32(v); f.CaptureID = &u }, 1<<32 - 1},
	}
	for _, i := range ints {
		if v := q.Get(i.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || n > i.max {
				return f, callscope.FieldError(i.name, "not a valid number")
			}
			i.set(n)
		}
	}
	return f, nil
}

// query encodes f for the admin search URL.
func (f Filter) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.From.IsZero() {
		set("from", f.From.Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		set("to", f.To.Format(time.RFC3339Nano))
	}
	if f.TenantID != 0 {
		set("tenant_id", strconv.FormatInt(f.TenantID, 10))
	}
	set("call_id", f.CallID)
	set("correlation_id", f.CorrelationID)
	set("from_user", f.FromUser)
	set("to_user", f.ToUser)
	set("ruri_user", f.RURIUser)
	set("ip", f.IP)
	set("method", f.Method)
	if f.Status != 0 {
		set("status", strconv.Itoa(f.Status))
	}
	set("user_agent", f.UserAgent)
	if f.CaptureID != nil {
		set("capture_id", strconv.FormatUint(uint64(*f.CaptureID), 10))
	}
	if f.Limit != 0 {
		set("limit", strconv.Itoa(f.Limit))
	}
	set("cursor", f.Cursor)
	return q
}
