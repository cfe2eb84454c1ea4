package queryapi

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/callrec"
)

// Calls list bounds.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
	// CountCap is where the list stops counting: past it the total is
	// "more than CountCap".
	CountCap = 10000
)

// Outcome classes of the calls list and the statistics. They partition
// the calls: a call the caller cancelled (CANCEL, 487) is "cancelled", not
// 4xx; a call without a final response (still ringing, or timed out) is
// "noanswer"; every other call is the class of its final status.
const (
	Class2xx       = "2xx"
	Class3xx       = "3xx"
	Class4xx       = "4xx"
	Class5xx       = "5xx"
	Class6xx       = "6xx"
	ClassNoAnswer  = "noanswer"
	ClassCancelled = "cancelled"
)

// Classes lists every outcome class in display order.
var Classes = []string{Class2xx, Class3xx, Class4xx, Class5xx, Class6xx, ClassNoAnswer, ClassCancelled}

// ClassOf is the outcome class of a call with final status status (0: none)
// that was cancelled or not.
func ClassOf(status int, cancelled bool) string {
	switch {
	case cancelled:
		return ClassCancelled
	case status == 0:
		return ClassNoAnswer
	}
	return strconv.Itoa(status/100) + "xx"
}

// Sort orders of the calls list: newest (or longest) first unless Asc.
const (
	SortTime     = "time"
	SortDuration = "duration"
	SortPDD      = "pdd"
)

// CallFilter selects calls from their records for the console's list, its
// CSV export and the statistics. From and To are required; every other
// field is optional and they combine with AND (Outcomes with OR among
// themselves). Users, Call-ID and user agent patterns take a trailing "*"
// for a prefix, a leading "*" for a suffix (user agents both, for a
// substring); users and user agents match case-insensitively.
type CallFilter struct {
	TenantID int64     // 0 = every tenant (admin)
	From, To time.Time // calls that started in [From, To)

	Outcomes []string // Classes
	Status   int      // exact final status
	// Duration (answer to BYE) and post-dial delay bounds, in ms, inclusive.
	DurationMin, DurationMax, PDDMin, PDDMax *int64
	CallID                                   string // exact, or "prefix*"
	FromUser, ToUser, RURIUser               string
	IP                                       string // address or CIDR, the first request's source or destination
	Port                                     int    // the first request's source or destination port
	UserAgent                                string // any User-Agent/Server of the call
	Node                                     string // a capture node (name, or capture ID without one)
	Kind                                     string // callrec.Kinds
	MOSBelow                                 *float64

	Sort string // SortTime (default), SortDuration, SortPDD
	Asc  bool
	// After pages on (older, for the default order), Before back (newer),
	// from cursors of a CallPage. At most one.
	After, Before string
	Limit         int // 0 = DefaultListLimit
}

// Problems checks f, returning one message per field at fault (all of
// them, so a form can show each next to its field); nil when f is valid.
// Messages are sentences fit to show.
func (f *CallFilter) Problems() map[string]string {
	p := map[string]string{}
	switch {
	case f.From.IsZero():
		p["from"] = "A start time is required."
	case f.To.IsZero():
		p["to"] = "An end time is required."
	case !f.To.After(f.From):
		p["to"] = "Must be after the start."
	case f.To.Sub(f.From) > MaxRange:
		p["to"] = fmt.Sprintf("The range may not exceed %d days.", int(MaxRange/(24*time.Hour)))
	}
	if f.TenantID < 0 {
		p["tenant"] = "Choose a tenant from the list."
	}
	for _, o := range f.Outcomes {
		if !slices.Contains(Classes, o) {
			p["outcome"] = "Choose outcomes from the list."
		}
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 699) {
		p["status"] = "A SIP status code is between 100 and 699."
	}
	rng := func(lo, hi *int64, field string) {
		switch {
		case lo != nil && *lo < 0, hi != nil && *hi < 0:
			p[field] = "Must not be negative."
		case lo != nil && hi != nil && *lo > *hi:
			p[field] = "The minimum is above the maximum."
		}
	}
	rng(f.DurationMin, f.DurationMax, "duration")
	rng(f.PDDMin, f.PDDMax, "pdd")
	if f.CallID != "" && strings.Contains(strings.TrimSuffix(f.CallID, "*"), "*") {
		p["call_id"] = `Use an exact Call-ID or a prefix ending in "*".`
	}
	if strings.TrimSuffix(f.CallID, "*") == "" && f.CallID != "" {
		p["call_id"] = "A prefix needs at least one character before the *."
	}
	for _, u := range []struct{ name, v string }{{"from_user", f.FromUser}, {"to_user", f.ToUser}, {"ruri_user", f.RURIUser}} {
		if _, _, err := UserPattern(u.name, u.v); err != nil {
			p[u.name] = `Use an exact user, a prefix* or a *suffix.`
		}
	}
	if f.IP != "" {
		if _, err := ParseIPFilter(f.IP); err != nil {
			p["ip"] = "Enter an address (192.0.2.1, 2001:db8::1) or a CIDR (192.0.2.0/24)."
		}
	}
	if f.Port < 0 || f.Port > 65535 {
		p["port"] = "A port is between 1 and 65535."
	}
	if f.UserAgent != "" {
		if _, _, err := UAPattern(f.UserAgent); err != nil {
			p["ua"] = `Use exact text, prefix*, *suffix or *part*.`
		}
	}
	if f.Kind != "" && !slices.Contains(callrec.Kinds, f.Kind) {
		p["kind"] = "Choose a kind from the list."
	}
	if f.MOSBelow != nil && (*f.MOSBelow <= 1 || *f.MOSBelow > 5) {
		p["mos"] = "A MOS is above 1 and at most 5."
	}
	switch f.Sort {
	case "", SortTime, SortDuration, SortPDD:
	default:
		p["sort"] = "Sort by time, duration or PDD."
	}
	if f.Limit < 0 || f.Limit > MaxListLimit {
		p["limit"] = fmt.Sprintf("Between 1 and %d.", MaxListLimit)
	}
	switch {
	case f.After != "" && f.Before != "":
		p["cursor"] = "Page either on or back, not both."
	case f.After != "" || f.Before != "":
		if _, err := DecodeListCursor(f.After+f.Before, f.sort()); err != nil {
			p["cursor"] = "Not a page of this list; start again from the first page."
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

// Validate checks f and fills defaults. It returns an Invalid error naming
// the first field at fault (by name).
func (f *CallFilter) Validate() error {
	if p := f.Problems(); p != nil {
		fields := make([]string, 0, len(p))
		for k := range p {
			fields = append(fields, k)
		}
		slices.Sort(fields)
		return callscope.FieldError(fields[0], "%s", p[fields[0]])
	}
	if f.Limit == 0 {
		f.Limit = DefaultListLimit
	}
	if f.Sort == "" {
		f.Sort = SortTime
	}
	return nil
}

func (f *CallFilter) sort() string {
	if f.Sort == "" {
		return SortTime
	}
	return f.Sort
}

// UAPattern turns a user agent filter into a match mode and its LIKE
// pattern on the lower-cased value: "exact" (the value), "like" for
// "prefix*", "*suffix" and "*part*".
func UAPattern(v string) (mode, arg string, err error) {
	core := strings.TrimSuffix(strings.TrimPrefix(v, "*"), "*")
	if core == "" || strings.Contains(core, "*") {
		return "", "", callscope.FieldError("ua", "use exact, prefix*, *suffix or *part*")
	}
	pre, suf := strings.HasPrefix(v, "*"), strings.HasSuffix(v, "*")
	if !pre && !suf {
		return MatchExact, strings.ToLower(core), nil
	}
	pat := EscapeLike(strings.ToLower(core))
	if pre {
		pat = "%" + pat
	}
	if suf {
		pat += "%"
	}
	return "like", pat, nil
}

// Values encodes f as the query parameters ParseCallFilter reads: the
// parameters of the query service's routes and of the console's pages.
func (f CallFilter) Values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	ms := func(k string, v *int64) {
		if v != nil {
			set(k, strconv.FormatInt(*v, 10))
		}
	}
	if f.TenantID != 0 {
		set("tenant", strconv.FormatInt(f.TenantID, 10))
	}
	if !f.From.IsZero() {
		set("from", f.From.UTC().Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		set("to", f.To.UTC().Format(time.RFC3339Nano))
	}
	for _, o := range f.Outcomes {
		q.Add("outcome", o)
	}
	if f.Status != 0 {
		set("status", strconv.Itoa(f.Status))
	}
	ms("dur_min", f.DurationMin)
	ms("dur_max", f.DurationMax)
	ms("pdd_min", f.PDDMin)
	ms("pdd_max", f.PDDMax)
	set("call_id", f.CallID)
	set("from_user", f.FromUser)
	set("to_user", f.ToUser)
	set("ruri_user", f.RURIUser)
	set("ip", f.IP)
	if f.Port != 0 {
		set("port", strconv.Itoa(f.Port))
	}
	set("ua", f.UserAgent)
	set("node", f.Node)
	set("kind", f.Kind)
	if f.MOSBelow != nil {
		set("mos", strconv.FormatFloat(*f.MOSBelow, 'f', -1, 64))
	}
	if f.Sort != "" && f.Sort != SortTime {
		set("sort", f.Sort)
	}
	if f.Asc {
		set("order", "asc")
	}
	set("after", f.After)
	set("before", f.Before)
	if f.Limit != 0 {
		set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// ParseCallFilter reads the parameters Values writes. Durations and PDDs
// are in ms; times RFC 3339. It collects a message per field it cannot
// read, then adds f.Problems(); nil when all is well.
func ParseCallFilter(q url.Values) (CallFilter, map[string]string) {
	var f CallFilter
	bad := map[string]string{}
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	integer := func(k string, lo, hi int64, msg string) (int64, bool) {
		v := g(k)
		if v == "" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			bad[k] = msg
			return 0, false
		}
		return n, true
	}
	if n, ok := integer("tenant", 1, 1<<62, "Choose a tenant from the list."); ok {
		f.TenantID = n
	}
	for _, t := range []struct {
		k   string
		dst *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := g(t.k); v != "" {
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				bad[t.k] = "Not an RFC 3339 time."
			}
			*t.dst = tm
		}
	}
	for _, o := range q["outcome"] {
		if o != "" {
			f.Outcomes = append(f.Outcomes, o)
		}
	}
	if n, ok := integer("status", 100, 699, "A SIP status code is between 100 and 699."); ok {
		f.Status = int(n)
	}
	ptr := func(k, field string) *int64 {
		if n, ok := integer(k, 0, 1<<50, "Must be a whole number of ms, not negative."); ok {
			return &n
		}
		if bad[k] != "" {
			bad[field] = bad[k]
			delete(bad, k)
		}
		return nil
	}
	f.DurationMin, f.DurationMax = ptr("dur_min", "duration"), ptr("dur_max", "duration")
	f.PDDMin, f.PDDMax = ptr("pdd_min", "pdd"), ptr("pdd_max", "pdd")
	f.CallID, f.FromUser, f.ToUser, f.RURIUser = g("call_id"), g("from_user"), g("to_user"), g("ruri_user")
	f.IP, f.UserAgent, f.Node, f.Kind = g("ip"), g("ua"), g("node"), g("kind")
	if n, ok := integer("port", 1, 65535, "A port is between 1 and 65535."); ok {
		f.Port = int(n)
	}
	if v := g("mos"); v != "" {
		m, err := strconv.ParseFloat(v, 64)
		if err != nil {
			bad["mos"] = "A MOS is a number such as 3.5."
		} else {
			f.MOSBelow = &m
		}
	}
	f.Sort = g("sort")
	switch g("order") {
	case "", "desc":
	case "asc":
		f.Asc = true
	default:
		bad["order"] = "Order is asc or desc."
	}
	f.After, f.Before = g("after"), g("before")
	if n, ok := integer("limit", 1, MaxListLimit, fmt.Sprintf("Between 1 and %d.", MaxListLimit)); ok {
		f.Limit = int(n)
	}
	for k, v := range f.Problems() {
		if bad[k] == "" {
			bad[k] = v
		}
	}
	if len(bad) == 0 {
		return f, nil
	}
	return f, bad
}

// CallRow is one call of the list.
type CallRow struct {
	TenantID   int64  `json:"tenant_id"`
	TenantSlug string `json:"tenant_slug"`
	callrec.Record
	Class     string   `json:"class"`     // outcome class (Classes)
	Source    string   `json:"source"`    // ip:port of the first request's sender
	Dest      string   `json:"dest"`      // ip:port it was sent to
	WorstMOS  *float64 `json:"worst_mos"` // the lowest MOS a media report gave
	Cancelled bool     `json:"cancelled"`
}

// CallPage is one page of the list: Next and Prev are the cursors (for
// After and Before) of the pages on either side in the list's order ("" at
// its ends; older and newer calls in the default order); Total counts every
// call of the filter, up to CountCap (TotalCapped: more than that).
type CallPage struct {
	Calls       []CallRow `json:"calls"`
	Total       int       `json:"total"`
	TotalCapped bool      `json:"total_capped"`
	Next        string    `json:"next,omitempty"`
	Prev        string    `json:"prev,omitempty"`
}

// ListCursor is a position in the list: the row's sort value (duration or
// PDD in ms, -1 for none; its start for the time order), start, tenant
// and Call-ID.
type ListCursor struct {
	Sort     string
	Key      int64
	Started  time.Time
	TenantID int64
	CallID   string
}

func (c ListCursor) Encode() string {
	s := c.Sort + ":" + strconv.FormatInt(c.Key, 10) + ":" + strconv.FormatInt(c.Started.UnixMicro(), 10) + ":" +
		strconv.FormatInt(c.TenantID, 10) + ":" + c.CallID
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// DecodeListCursor reads a cursor of a list sorted by sort.
func DecodeListCursor(s, sort string) (ListCursor, error) {
	bad := callscope.FieldError("cursor", "not a cursor of this list")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return ListCursor{}, bad
	}
	parts := strings.SplitN(string(b), ":", 5)
	if len(parts) != 5 || parts[0] != sort {
		return ListCursor{}, bad
	}
	key, err1 := strconv.ParseInt(parts[1], 10, 64)
	us, err2 := strconv.ParseInt(parts[2], 10, 64)
	tid, err3 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || parts[4] == "" {
		return ListCursor{}, bad
	}
	return ListCursor{Sort: sort, Key: key, Started: time.UnixMicro(us).UTC(), TenantID: tid, CallID: parts[4]}, nil
}

// CallStats is the statistics of the calls a CallFilter selects, over its
// range cut into buckets.
type CallStats struct {
	From   time.Time     `json:"from"`
	To     time.Time     `json:"to"`
	Bucket time.Duration `json:"bucket"`
	// Buckets are every bucket of the range, in time order, empty ones too.
	Buckets []StatsBucket `json:"buckets"`
	Total   StatsFigures  `json:"total"`
	// Codes counts calls by final status (0: none), a cancelled call under
	// its own status (487 mostly), most frequent first.
	Codes []CodeCount `json:"codes"`
	// FailingDestinations are the R-URI users of 4xx, 5xx and 6xx calls;
	// UserAgents and Nodes count the calls each appears in. Top ten each,
	// values lower-cased (filters match case-insensitively).
	FailingDestinations []TopEntry `json:"failing_destinations"`
	UserAgents          []TopEntry `json:"user_agents"`
	Nodes               []TopEntry `json:"nodes"`
}

// StatsBucket is one bucket's figures.
type StatsBucket struct {
	Start time.Time `json:"start"`
	StatsFigures
}

// StatsFigures are the figures of a set of calls. ASR is answered (2xx)
// over calls; NER is calls that the network completed — answered, or
// ended by the user: busy (486, 600), no answer (480), declined (603) or
// cancelled — over calls; ACD the mean duration of the answered calls with
// a BYE; PDD percentiles over the calls with a PDD.
type StatsFigures struct {
	Calls     int64            `json:"calls"`
	ByClass   map[string]int64 `json:"by_class"`
	Answered  int64            `json:"answered"`
	Completed int64            `json:"completed"` // NER's numerator
	ACDMs     *float64         `json:"acd_ms"`
	PDDP50Ms  *int64           `json:"pdd_p50_ms"`
	PDDP95Ms  *int64           `json:"pdd_p95_ms"`
}

// ASR is Answered/Calls, nil without calls.
func (f StatsFigures) ASR() *float64 { return ratio(f.Answered, f.Calls) }

// NER is Completed/Calls, nil without calls.
func (f StatsFigures) NER() *float64 { return ratio(f.Completed, f.Calls) }

func ratio(a, b int64) *float64 {
	if b == 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}

// NERStatuses are the final statuses that count as completed by the
// network besides 2xx: the callee's own answer.
var NERStatuses = []int{480, 486, 487, 600, 603}

// CodeCount is how many calls ended with a final status.
type CodeCount struct {
	Status int   `json:"status"`
	Count  int64 `json:"count"`
}

// TopEntry is a value and how many calls it appears in.
type TopEntry struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// StatsBucketFor is the bucket width of a range: a minute up to two hours,
// then wider so that a chart keeps at most about 150 bars.
func StatsBucketFor(rng time.Duration) time.Duration {
	for _, b := range []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
		if rng/b <= 150 {
			return b
		}
	}
	return 24 * time.Hour
}
