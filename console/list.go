package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/tenant"
)

// Time ranges of the calls list and statistics: the last 15 minutes, hour
// or day, or a custom one typed in UTC.
var ranges = []struct {
	Value, Label string
	D            time.Duration
}{
	{"15m", "Last 15 minutes", 15 * time.Minute},
	{"1h", "Last hour", time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour},
	{"custom", "Custom (UTC)", 0},
}

// Columns of the calls list. Each has an id the column chooser's "cols"
// checkboxes send; defaultColumns are shown when none is chosen.
var listColumns = []struct{ ID, Label string }{
	{"time", "Time (UTC)"}, {"tenant", "Tenant"}, {"from", "From"}, {"to", "To"}, {"ruri", "R-URI user"},
	{"status", "Status"}, {"outcome", "Outcome"}, {"duration", "Duration"}, {"pdd", "PDD"},
	{"src", "Source"}, {"dst", "Destination"}, {"kind", "Kind"}, {"ua", "User agents"},
	{"node", "Capture nodes"}, {"mos", "Worst MOS"}, {"messages", "Messages"}, {"callid", "Call-ID"},
}

var defaultColumns = []string{"time", "tenant", "from", "to", "status", "outcome", "duration", "pdd", "src", "dst"}

// ListForm is the calls list's form exactly as the admin sent it, so an
// error never loses what was typed. Durations are in seconds, PDDs in ms.
type ListForm struct {
	Tenant, Range, From, To                string
	Outcomes                               []string
	Status, DurMin, DurMax, PDDMin, PDDMax string
	CallID, FromUser, ToUser, RURIUser, IP string
	Port, UA, Node, Kind, MOS, Sort, Order string
	Columns                                []string
	Limit                                  string
	after, before                          string
}

func listFormFrom(q url.Values) ListForm {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	f := ListForm{Tenant: g("tenant"), Range: g("range"), From: g("from"), To: g("to"), Outcomes: q["outcome"],
		Status: g("status"), DurMin: g("dur_min"), DurMax: g("dur_max"), PDDMin: g("pdd_min"), PDDMax: g("pdd_max"),
		CallID: g("call_id"), FromUser: g("from_user"), ToUser: g("to_user"), RURIUser: g("ruri_user"), IP: g("ip"),
		Port: g("port"), UA: g("ua"), Node: g("node"), Kind: g("kind"), MOS: g("mos"), Sort: g("sort"), Order: g("order"),
		Columns: q["cols"], Limit: g("limit"), after: g("after"), before: g("before")}
	if f.Range == "" {
		f.Range = "1h"
		if f.From != "" || f.To != "" {
			f.Range = "custom"
		}
	}
	return f
}

// values encodes the form for links: paging, sorting, the live view, the
// export and the statistics all keep every filter.
func (f ListForm) values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("tenant", f.Tenant)
	set("range", f.Range)
	if f.Range == "custom" {
		set("from", f.From)
		set("to", f.To)
	}
	for _, o := range f.Outcomes {
		q.Add("outcome", o)
	}
	for k, v := range map[string]string{"status": f.Status, "dur_min": f.DurMin, "dur_max": f.DurMax, "pdd_min": f.PDDMin,
		"pdd_max": f.PDDMax, "call_id": f.CallID, "from_user": f.FromUser, "to_user": f.ToUser, "ruri_user": f.RURIUser,
		"ip": f.IP, "port": f.Port, "ua": f.UA, "node": f.Node, "kind": f.Kind, "mos": f.MOS, "sort": f.Sort,
		"order": f.Order, "limit": f.Limit} {
		set(k, v)
	}
	for _, c := range f.Columns {
		q.Add("cols", c)
	}
	return q
}

// window resolves the form's time range at now: a preset ends at the next
// whole minute (so that its buckets and links fall on whole minutes and a
// call of this minute is in it), a custom range is read as typed (UTC).
func (f ListForm) window(now time.Time, errs map[string]string) (from, to time.Time) {
	for _, r := range ranges {
		if r.Value == f.Range && r.D > 0 {
			to = now.UTC().Truncate(time.Minute).Add(time.Minute)
			return to.Add(-r.D), to
		}
	}
	if f.Range != "custom" {
		errs["range"] = "Choose a time range from the list."
		return
	}
	var ok bool
	if from, ok = parseFormTime(f.From); !ok {
		errs["from"] = "Enter a time such as 2026-03-01 09:00 (UTC, 24-hour)."
	}
	if to, ok = parseFormTime(f.To); !ok {
		errs["to"] = "Enter a time such as 2026-03-01 10:00 (UTC, 24-hour)."
	}
	return from, to
}

// filter turns the form into the query service's filter at now, with one
// message per field at fault: the form's own reading (presets, seconds)
// first, then queryapi.ParseCallFilter's, which the query service applies
// too.
func (f ListForm) filter(now time.Time) (queryapi.CallFilter, map[string]string) {
	errs := map[string]string{}
	wire := url.Values{}
	from, to := f.window(now, errs)
	if !from.IsZero() {
		wire.Set("from", from.Format(time.RFC3339))
	}
	if !to.IsZero() {
		wire.Set("to", to.Format(time.RFC3339))
	}
	seconds := func(v, k string) {
		if v == "" {
			return
		}
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s < 0 || s > 1e9 {
			errs["duration"] = "Enter seconds, such as 30 or 2.5."
			return
		}
		wire.Set(k, strconv.FormatInt(int64(s*1000), 10))
	}
	seconds(f.DurMin, "dur_min")
	seconds(f.DurMax, "dur_max")
	for k, v := range map[string]string{"tenant": f.Tenant, "status": f.Status, "pdd_min": f.PDDMin, "pdd_max": f.PDDMax,
		"call_id": f.CallID, "from_user": f.FromUser, "to_user": f.ToUser, "ruri_user": f.RURIUser, "ip": f.IP,
		"port": f.Port, "ua": f.UA, "node": f.Node, "kind": f.Kind, "mos": f.MOS, "sort": f.Sort, "order": f.Order,
		"limit": f.Limit, "after": f.after, "before": f.before} {
		if v != "" {
			wire.Set(k, v)
		}
	}
	for _, o := range f.Outcomes {
		wire.Add("outcome", o)
	}
	qf, bad := queryapi.ParseCallFilter(wire)
	for k, v := range bad {
		if errs[k] == "" && !(k == "to" && errs["from"] != "") {
			errs[k] = v
		}
	}
	for _, c := range f.Columns {
		if !slices.ContainsFunc(listColumns, func(l struct{ ID, Label string }) bool { return l.ID == c }) {
			errs["cols"] = "Choose columns from the list."
		}
	}
	return qf, errs
}

// shown reports whether column id is on.
func (f ListForm) shown(id string) bool {
	if len(f.Columns) == 0 {
		return slices.Contains(defaultColumns, id)
	}
	return slices.Contains(f.Columns, id)
}

// ListProps is the calls list page (and its live view).
type ListProps struct {
	Chrome
	Form        ListForm
	Errors      map[string]string
	Tenants     []tenant.Tenant
	Filter      queryapi.CallFilter
	Page        queryapi.CallPage
	Listed      bool
	NextURL     string
	PrevURL     string
	SortURL     func(sort string) string
	LiveURL     string
	CSVURL      string
	StatsURL    string
	Live        bool
	Seen        time.Time // live view: calls after this are new
	Unavailable string
}

func (s *Server) listPage(c echo.Context) error { return s.list(c, false) }
func (s *Server) livePage(c echo.Context) error { return s.list(c, true) }

func (s *Server) list(c echo.Context, live bool) error {
	f := listFormFrom(c.QueryParams())
	now := s.now().UTC()
	p := ListProps{Chrome: s.page(c, "Calls", "calls"), Form: f, Errors: map[string]string{}, Live: live}
	if live {
		// The live view is the newest calls of a preset range, refreshed:
		// paging and custom ranges make no sense there.
		p.Form.after, p.Form.before, p.Form.Sort, p.Form.Order = "", "", "", ""
		if p.Form.Range == "custom" {
			p.Form.Range = "15m"
		}
		p.Chrome.Title = "Live calls"
		if seen, err := time.Parse(time.RFC3339Nano, c.QueryParam("seen")); err == nil {
			p.Seen = seen
		}
		q := p.Form.values()
		q.Set("seen", now.Format(time.RFC3339Nano))
		p.Chrome.Refresh = "5; url=/calls/live?" + q.Encode()
	}
	tenants, err := s.tenants.List(ctx(c))
	if err != nil {
		return err
	}
	p.Tenants = tenants
	base := p.Form.values()
	p.LiveURL, p.CSVURL, p.StatsURL = "/calls/live?"+base.Encode(), "/calls/export.csv?"+base.Encode(), "/stats?"+base.Encode()
	p.SortURL = func(sort string) string {
		q := p.Form.values()
		order := "desc"
		if p.Form.Sort == sort || (sort == queryapi.SortTime && p.Form.Sort == "") {
			if p.Form.Order != "asc" {
				order = "asc"
			}
		}
		q.Set("sort", sort)
		q.Set("order", order)
		return "/calls?" + q.Encode()
	}
	if s.calls == nil {
		p.Unavailable = "The calls list is unavailable: this console has no query service configured."
		return s.render(c, http.StatusOK, ListPage(p))
	}
	qf, errs := p.Form.filter(now)
	p.Filter = qf
	if len(errs) > 0 {
		p.Errors = errs
		return s.render(c, http.StatusBadRequest, ListPage(p))
	}
	page, err := s.calls.ListCalls(ctx(c), qf)
	if callscope.Is(err, callscope.Invalid) {
		field, msg := callscope.Public(err)
		p.Errors[formField(field)] = sentence(msg)
		return s.render(c, http.StatusBadRequest, ListPage(p))
	}
	if callscope.Is(err, callscope.Unavailable) {
		p.Unavailable = "The query service is not answering right now; try again in a moment."
		return s.render(c, http.StatusServiceUnavailable, ListPage(p))
	}
	if err != nil {
		return err
	}
	p.Page, p.Listed = page, true
	if !live {
		if page.Next != "" {
			q := p.Form.values()
			q.Set("after", page.Next)
			p.NextURL = "/calls?" + q.Encode()
		}
		if page.Prev != "" {
			q := p.Form.values()
			q.Set("before", page.Prev)
			p.PrevURL = "/calls?" + q.Encode()
		}
	}
	return s.render(c, http.StatusOK, ListPage(p))
}

// rowLink is the call page of a list row: its window widened by
// query.LegWindow each way so the correlated legs are found too.
func rowLink(r queryapi.CallRow) string {
	ref := callRef{TenantID: r.TenantID, CallID: r.CallID,
		From: r.StartedAt.Add(-query.LegWindow).Truncate(time.Second), To: r.EndedAt.Add(query.LegWindow + time.Second).Truncate(time.Second)}
	return "/calls/view?" + ref.values().Encode()
}

// kinds are the kinds a list can be narrowed to, for the form.
var kinds = callrec.Kinds

func fmtMs(v *int64) string {
	if v == nil {
		return "—"
	}
	if *v < 1000 {
		return strconv.FormatInt(*v, 10) + " ms"
	}
	return strconv.FormatFloat(float64(*v)/1000, 'f', 1, 64) + " s"
}

func fmtMOS(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func rowStatus(r queryapi.CallRow) int {
	if r.FinalStatus == nil {
		return 0
	}
	return *r.FinalStatus
}

// classLabel names an outcome class for people.
func classLabel(c string) string {
	switch c {
	case queryapi.ClassNoAnswer:
		return "no answer"
	case queryapi.ClassCancelled:
		return "cancelled"
	}
	return c
}

// total says how many calls the filter selects.
func total(p queryapi.CallPage) string {
	switch {
	case p.TotalCapped:
		return "More than " + groupDigits(int64(p.Total)) + " calls"
	case p.Total == 1:
		return "1 call"
	}
	return groupDigits(int64(p.Total)) + " calls"
}

// groupDigits writes n with thin groups of three: 12,345.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[0] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func rangeText(f queryapi.CallFilter) string {
	if f.From.IsZero() {
		return ""
	}
	return f.From.UTC().Format("2006-01-02 15:04") + " – " + f.To.UTC().Format("2006-01-02 15:04") + " UTC"
}
