package templates

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/chart"
	"github.com/callscope/callscope/ladder"
	"github.com/callscope/callscope/qos"
)

// Summary is what the summary above a ladder says of a call, read from
// its record. Every string is display text, escaped by templ.
type Summary struct {
	Caller, Callee Party
	Started        string // "Tue 2 Dec 2026, 12:22:30 UTC"
	Outcome        string // "Busy — 486 Busy Here"
	OutcomeKind    string // the record's outcome ("busy"), for the CSS class
	PDD            string // "" when unknown
	Talk           string
	Codec          string
	Quality        string // the worst the media reports said; "" without reports
	// Shown of Total messages of the call are on this link; Shown < Total
	// when the link's window cuts the call.
	Shown, Total int
}

// Party is one end of a call as its first request named it.
type Party struct {
	Name, User string
}

// Cut reports whether the link shows fewer messages than the call has.
func (s Summary) Cut() bool { return s.Total > 0 && s.Shown < s.Total }

// NewSummary is the summary of the call whose record is r, with shown of
// its messages on the page's link, times in loc (nil for UTC). ok is
// false without a record: the page then says what the diagram knows.
func NewSummary(r *callrec.Record, shown int, loc *time.Location) (s Summary, ok bool) {
	if r == nil {
		return Summary{}, false
	}
	if loc == nil {
		loc = time.UTC
	}
	s = Summary{
		Caller:      Party{Name: deref(r.FromName), User: deref(r.FromUser)},
		Callee:      Party{Name: deref(r.ToName), User: deref(r.ToUser)},
		Started:     r.StartedAt.In(loc).Format("Mon 2 Jan 2006, 15:04:05 MST"),
		OutcomeKind: r.Outcome,
		Shown:       shown,
		Total:       int(r.Messages),
	}
	if s.Callee.User == "" {
		s.Callee.User = deref(r.RURIUser)
	}
	s.Outcome = outcomeWords(r.Outcome)
	if r.FinalStatus != nil {
		status := strconv.Itoa(*r.FinalStatus)
		if reason := deref(r.FinalReason); reason != "" {
			status += " " + reason
		}
		s.Outcome += " — " + status
	}
	if r.PDDMs != nil {
		s.PDD = duration(time.Duration(*r.PDDMs) * time.Millisecond)
	}
	if r.DurationMs != nil {
		s.Talk = duration(time.Duration(*r.DurationMs) * time.Millisecond)
	}
	switch {
	case len(r.CodecsAnswered) > 0:
		s.Codec = r.CodecsAnswered[0]
	case len(r.CodecsOffered) > 0:
		s.Codec = r.CodecsOffered[0] + " (offered)"
	}
	if q := r.QoS; q != nil && q.Reports > 0 {
		var parts []string
		if q.WorstMOS != nil {
			parts = append(parts, "MOS "+strconv.FormatFloat(*q.WorstMOS, 'f', 1, 64))
		}
		if q.MaxJitter != nil {
			parts = append(parts, "jitter "+strconv.FormatFloat(*q.MaxJitter, 'f', 1, 64)+" ms")
		}
		if q.MaxLossPct != nil {
			parts = append(parts, "loss "+strconv.FormatFloat(*q.MaxLossPct, 'f', 1, 64)+" %")
		}
		s.Quality = strings.Join(parts, " · ")
	}
	return s, true
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func outcomeWords(o string) string {
	switch o {
	case callrec.OutcomeAnswered:
		return "Answered"
	case callrec.OutcomeOK:
		return "OK"
	case callrec.OutcomeBusy:
		return "Busy"
	case callrec.OutcomeNoAnswer:
		return "No answer"
	case callrec.OutcomeCancelled:
		return "Cancelled"
	case callrec.OutcomeTimeout:
		return "Timed out"
	case callrec.OutcomeRedirected:
		return "Redirected"
	case callrec.OutcomeRejected:
		return "Rejected"
	case callrec.OutcomeInProgress:
		return "In progress"
	}
	return "Unknown outcome"
}

// duration is a call's time as a person says it: "850 ms", "2.4 s",
// "1 min 05 s", "1 h 02 min".
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		s := int(d.Round(time.Second).Seconds())
		return strconv.Itoa(s/60) + " min " + twoDigits(s%60) + " s"
	}
	m := int(d.Round(time.Minute).Minutes())
	return strconv.Itoa(m/60) + " h " + twoDigits(m%60) + " min"
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// party is a party as the summary shows it: the display name with the
// user beside it, or whichever of them is known.
func (p Party) title() string {
	switch {
	case p.Name != "" && p.User != "" && p.Name != p.User:
		return p.Name
	case p.Name != "":
		return p.Name
	case p.User != "":
		return p.User
	}
	return "unknown"
}

func (p Party) sub() string {
	if p.Name != "" && p.User != "" && p.Name != p.User {
		return p.User
	}
	return ""
}

// outcomeClass is the class of the outcome badge: green for an answered
// call, red for a refused one, neutral otherwise.
func outcomeClass(kind string) string {
	switch kind {
	case callrec.OutcomeAnswered, callrec.OutcomeOK:
		return "outcome outcome-good"
	case callrec.OutcomeInProgress, "":
		return "outcome"
	}
	return "outcome outcome-bad"
}

// header is one header line of a SIP message, for the detail table.
type header struct{ Name, Value string }

// splitMessage cuts a raw SIP message into its start line, its header
// lines and its body, for display only: it never fails, and a line
// without a colon is a header with no name.
func splitMessage(raw string) (start string, headers []header, body string) {
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	if head == raw && strings.Contains(raw, "\n\n") {
		head, body, _ = strings.Cut(raw, "\n\n")
	}
	lines := strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n")
	start, lines = lines[0], lines[1:]
	for _, l := range lines {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(headers) > 0 {
			headers[len(headers)-1].Value += " " + strings.TrimSpace(l) // folded line
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			headers = append(headers, header{Value: l})
			continue
		}
		headers = append(headers, header{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return start, headers, body
}

// gutterText is what the left gutter of a row says: its time and delta
// on two lines, or, compact, one of them.
func gutterText(d ladder.Diagram, r ladder.Row) string {
	if d.Compact && r.Delta != "" {
		return r.Delta
	}
	return r.Time
}

// QoS is the media quality of a call: one chart per figure, a line per
// stream.
type QoS struct {
	Jitter, Loss, MOS chart.Lines
}

// Empty reports whether no report gave any figure.
func (q QoS) Empty() bool {
	return len(q.Jitter.Series)+len(q.Loss.Series)+len(q.MOS.Series) == 0
}

// NewQoS charts reports (qos.Parse's, any order) over [from, to].
func NewQoS(reports []qos.Report, from, to time.Time) QoS {
	q := QoS{
		Jitter: chart.Lines{ID: "qos-jitter", Title: "Jitter per stream", Unit: " ms", From: from, To: to},
		Loss:   chart.Lines{ID: "qos-loss", Title: "Packet loss per stream", Unit: " %", From: from, To: to},
		MOS:    chart.Lines{ID: "qos-mos", Title: "MOS per stream", Max: 5, From: from, To: to, Limit: 3.5, LimitLabel: "3.5 fair"},
	}
	reports = slices.Clone(reports)
	slices.SortStableFunc(reports, func(a, b qos.Report) int { return a.At.Compare(b.At) })
	add := func(c *chart.Lines, stream string, at time.Time, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		for i := range c.Series {
			if c.Series[i].Name == stream {
				c.Series[i].Points = append(c.Series[i].Points, chart.Point{At: at, Value: v})
				return
			}
		}
		c.Series = append(c.Series, chart.Series{Name: stream, Points: []chart.Point{{At: at, Value: v}}})
	}
	for _, r := range reports {
		if r.Has&qos.HasJitter != 0 {
			add(&q.Jitter, r.Stream, r.At, r.Jitter)
		}
		if r.Has&qos.HasLoss != 0 {
			add(&q.Loss, r.Stream, r.At, r.LossPct)
		}
		if r.Has&qos.HasMOS != 0 {
			add(&q.MOS, r.Stream, r.At, r.MOS)
		}
	}
	return q
}
