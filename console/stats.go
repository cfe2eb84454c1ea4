package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/chart"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/tenant"
)

// StatsProps is the statistics page: the figures of the calls a filter
// selects, each a link to the calls list narrowed to it.
type StatsProps struct {
	Chrome
	Form        ListForm
	Errors      map[string]string
	Tenants     []tenant.Tenant
	Filter      queryapi.CallFilter
	Stats       queryapi.CallStats
	Shown       bool
	Unavailable string
	// Hidden are the list filters the page's own form does not show, kept
	// when the admin changes tenant or range.
	Hidden url.Values
}

// statsFields are the filters the statistics form shows itself.
var statsFields = []string{"tenant", "range", "from", "to", "kind"}

func (s *Server) statsPage(c echo.Context) error {
	q := c.QueryParams()
	if _, ok := q["kind"]; !ok {
		// Rates and delays are the INVITEs' business; OPTIONS pings would
		// drown them. "Every kind" is one choice away.
		q = cloneValues(q)
		q.Set("kind", "invite")
	}
	f := listFormFrom(q)
	f.after, f.before, f.Sort, f.Order, f.Limit, f.Columns = "", "", "", "", "", nil
	p := StatsProps{Chrome: s.page(c, "Statistics", "stats"), Form: f, Errors: map[string]string{}, Hidden: url.Values{}}
	for k, v := range f.values() {
		if !slices.Contains(statsFields, k) {
			p.Hidden[k] = v
		}
	}
	tenants, err := s.tenants.List(ctx(c))
	if err != nil {
		return err
	}
	p.Tenants = tenants
	if s.calls == nil {
		p.Unavailable = "Statistics are unavailable: this console has no query service configured."
		return s.render(c, http.StatusOK, StatsPage(p))
	}
	qf, errs := f.filter(s.now().UTC())
	p.Filter = qf
	if len(errs) > 0 {
		p.Errors = errs
		return s.render(c, http.StatusBadRequest, StatsPage(p))
	}
	st, err := s.calls.CallStats(ctx(c), qf)
	if callscope.Is(err, callscope.Invalid) {
		field, msg := callscope.Public(err)
		p.Errors[formField(field)] = sentence(msg)
		return s.render(c, http.StatusBadRequest, StatsPage(p))
	}
	if callscope.Is(err, callscope.Unavailable) {
		p.Unavailable = "The query service is not answering right now; try again in a moment."
		return s.render(c, http.StatusServiceUnavailable, StatsPage(p))
	}
	if err != nil {
		return err
	}
	p.Stats, p.Shown = st, true
	return s.render(c, http.StatusOK, StatsPage(p))
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

// linkTime is how a figure's link writes a time: what parseFormTime reads
// back to the second (the statistics' buckets fall on whole minutes).
const linkTime = "2006-01-02 15:04:05"

// callsLink is the calls list of the page's filter over [from, to),
// narrowed by narrow: what a figure counts.
func (p StatsProps) callsLink(from, to time.Time, narrow func(q url.Values)) string {
	q := p.Form.values()
	q.Set("range", "custom")
	q.Set("from", from.UTC().Format(linkTime))
	q.Set("to", to.UTC().Format(linkTime))
	if narrow != nil {
		narrow(q)
	}
	return "/calls?" + q.Encode()
}

// whole is callsLink over the page's whole range.
func (p StatsProps) whole(narrow func(q url.Values)) string {
	return p.callsLink(p.Stats.From, p.Stats.To, narrow)
}

// outcomes narrows a link to the classes cls, within those the page's
// filter already chose.
func (p StatsProps) outcomes(cls ...string) func(q url.Values) {
	return func(q url.Values) {
		keep := cls
		if len(p.Filter.Outcomes) > 0 {
			keep = nil
			for _, c := range cls {
				if slices.Contains(p.Filter.Outcomes, c) {
					keep = append(keep, c)
				}
			}
		}
		q.Del("outcome")
		for _, c := range keep {
			q.Add("outcome", c)
		}
	}
}

func setParam(k, v string) func(q url.Values) { return func(q url.Values) { q.Set(k, v) } }

func sortedBy(sort string, narrow func(q url.Values)) func(q url.Values) {
	return func(q url.Values) {
		if narrow != nil {
			narrow(q)
		}
		q.Set("sort", sort)
	}
}

// classTones colour the outcome classes as the ladder colours statuses.
var classTones = map[string]string{
	queryapi.Class2xx: "success", queryapi.Class3xx: "redirect", queryapi.Class4xx: "client-error",
	queryapi.Class5xx: "server-error", queryapi.Class6xx: "request", queryapi.ClassNoAnswer: "unknown",
	queryapi.ClassCancelled: "provisional",
}

// bucketName names a bucket's width after "per": "minute", "10 minutes".
func bucketName(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "minute"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " minutes"
	case d == time.Hour:
		return "hour"
	}
	return strconv.Itoa(int(d/time.Hour)) + " hours"
}

// bucketWidth names a bucket's width on its own: "1 minute", "10 minutes".
func bucketWidth(d time.Duration) string {
	switch d {
	case time.Minute:
		return "1 minute"
	case time.Hour:
		return "1 hour"
	}
	return bucketName(d)
}

// outcomeChart is calls per bucket, stacked by outcome class.
func (p StatsProps) outcomeChart() chart.StackedBars {
	st := p.Stats
	c := chart.StackedBars{ID: "calls-by-outcome", Title: "Calls per " + bucketName(st.Bucket) + " by outcome",
		From: st.From, To: st.To, Step: st.Bucket}
	for _, cls := range queryapi.Classes {
		c.Stacks = append(c.Stacks, chart.Stack{Name: classLabel(cls), Tone: classTones[cls]})
	}
	for _, b := range st.Buckets {
		if b.Calls == 0 {
			continue
		}
		end := b.Start.Add(st.Bucket)
		bk := chart.Bucket{Start: b.Start, Href: p.callsLink(b.Start, end, nil)}
		for _, cls := range queryapi.Classes {
			bk.Values = append(bk.Values, float64(b.ByClass[cls]))
			bk.StackHrefs = append(bk.StackHrefs, p.callsLink(b.Start, end, p.outcomes(cls)))
		}
		c.Buckets = append(c.Buckets, bk)
	}
	return c
}

// rateChart is ASR and NER per bucket, in %.
func (p StatsProps) rateChart() chart.Lines {
	st := p.Stats
	c := chart.Lines{ID: "asr-ner", Title: "ASR and NER per " + bucketName(st.Bucket), Unit: " %", Max: 100, From: st.From, To: st.To}
	asr := chart.Series{Name: "ASR (answered)", Tone: "success"}
	ner := chart.Series{Name: "NER (network effective)", Tone: "request"}
	for _, b := range st.Buckets {
		end := b.Start.Add(st.Bucket)
		if r := b.ASR(); r != nil {
			asr.Points = append(asr.Points, chart.Point{At: b.Start, Value: *r * 100})
			asr.Hrefs = append(asr.Hrefs, p.callsLink(b.Start, end, p.outcomes(queryapi.Class2xx)))
		}
		if r := b.NER(); r != nil {
			ner.Points = append(ner.Points, chart.Point{At: b.Start, Value: *r * 100})
			ner.Hrefs = append(ner.Hrefs, p.callsLink(b.Start, end, nil))
		}
	}
	c.Series = []chart.Series{asr, ner}
	return c
}

// acdChart is the mean duration of answered calls per bucket, in s.
func (p StatsProps) acdChart() chart.Lines {
	st := p.Stats
	c := chart.Lines{ID: "acd", Title: "ACD (mean duration of answered calls) per " + bucketName(st.Bucket), Unit: " s", From: st.From, To: st.To}
	s := chart.Series{Name: "ACD", Tone: "success"}
	for _, b := range st.Buckets {
		if b.ACDMs != nil {
			s.Points = append(s.Points, chart.Point{At: b.Start, Value: *b.ACDMs / 1000})
			s.Hrefs = append(s.Hrefs, p.callsLink(b.Start, b.Start.Add(st.Bucket), sortedBy(queryapi.SortDuration, p.outcomes(queryapi.Class2xx))))
		}
	}
	c.Series = []chart.Series{s}
	return c
}

// pddChart is the PDD's median and 95th percentile per bucket, in ms.
func (p StatsProps) pddChart() chart.Lines {
	st := p.Stats
	c := chart.Lines{ID: "pdd", Title: "Post-dial delay per " + bucketName(st.Bucket) + ": median and 95th percentile", Unit: " ms", From: st.From, To: st.To}
	p50 := chart.Series{Name: "p50", Tone: "request"}
	p95 := chart.Series{Name: "p95", Tone: "client-error"}
	for _, b := range st.Buckets {
		link := p.callsLink(b.Start, b.Start.Add(st.Bucket), sortedBy(queryapi.SortPDD, nil))
		if b.PDDP50Ms != nil {
			p50.Points = append(p50.Points, chart.Point{At: b.Start, Value: float64(*b.PDDP50Ms)})
			p50.Hrefs = append(p50.Hrefs, link)
		}
		if b.PDDP95Ms != nil {
			p95.Points = append(p95.Points, chart.Point{At: b.Start, Value: float64(*b.PDDP95Ms)})
			p95.Hrefs = append(p95.Hrefs, link)
		}
	}
	c.Series = []chart.Series{p50, p95}
	return c
}

// codesChart is the calls by final status.
func (p StatsProps) codesChart() chart.Bars {
	c := chart.Bars{ID: "codes", Title: "Final responses", Tone: "request"}
	for _, cc := range p.Stats.Codes {
		code := strconv.Itoa(cc.Status)
		c.Bars = append(c.Bars, chart.Bar{Label: code, Value: float64(cc.Count), Note: share(cc.Count, p.Stats.Total.Calls),
			Href: p.whole(setParam("status", code))})
	}
	return c
}

func (p StatsProps) topChart(id, title, tone string, entries []queryapi.TopEntry, narrow func(v string) func(q url.Values)) chart.Bars {
	c := chart.Bars{ID: id, Title: title, Tone: tone}
	for _, e := range entries {
		c.Bars = append(c.Bars, chart.Bar{Label: e.Value, Value: float64(e.Count), Href: p.whole(narrow(e.Value))})
	}
	return c
}

func (p StatsProps) failingChart() chart.Bars {
	return p.topChart("failing-destinations", "Top failing destinations (R-URI user, 4xx–6xx)", "server-error",
		p.Stats.FailingDestinations, func(v string) func(q url.Values) {
			return func(q url.Values) {
				p.outcomes(queryapi.Class4xx, queryapi.Class5xx, queryapi.Class6xx)(q)
				q.Set("ruri_user", v)
			}
		})
}

func (p StatsProps) uaChart() chart.Bars {
	return p.topChart("user-agents", "Top user agents", "redirect", p.Stats.UserAgents,
		func(v string) func(q url.Values) { return setParam("ua", v) })
}

func (p StatsProps) nodesChart() chart.Bars {
	return p.topChart("nodes", "Top capture nodes", "success", p.Stats.Nodes,
		func(v string) func(q url.Values) { return setParam("node", v) })
}

func share(n, of int64) string {
	if of == 0 {
		return ""
	}
	return "(" + strconv.FormatFloat(float64(n)*100/float64(of), 'f', 1, 64) + " %)"
}

func pct(r *float64) string {
	if r == nil {
		return "—"
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + " %"
}

func fmtACD(ms *float64) string {
	if ms == nil {
		return "—"
	}
	return (time.Duration(*ms) * time.Millisecond).Round(time.Second).String()
}
