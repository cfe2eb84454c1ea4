package chart

import (
	"strings"
	"time"
)

// Point is one value at one time.
type Point struct {
	At    time.Time
	Value float64
}

// Series is one line: a stream's jitter, say. Tone picks its colour
// (tone-0 … tone-5 by default, in order; or a named tone such as
// "success", "client-error", "server-error").
type Series struct {
	Name   string
	Tone   string
	Points []Point // in time order
	// Hrefs, when set, make the dots links: Hrefs[i] is where Points[i]
	// goes (the calls behind the value); "" leaves a dot unlinked.
	Hrefs []string
}

// Lines is a line chart of values over [From, To].
type Lines struct {
	ID    string // the figure's id: an anchor, and a handle for tests
	Title string
	Unit  string  // appended to values: " ms", " %"
	Max   float64 // the top of the axis; 0 fits the data
	From  time.Time
	To    time.Time
	// Limit, when set, draws a dashed line at that value (a MOS or
	// jitter threshold the customer cares about).
	Limit      float64
	LimitLabel string
	Series     []Series
}

type linePlot struct {
	ID          string
	Title       string
	Unit        string
	XTicks      []tick
	YTicks      []tick
	Limit       *tick
	Lines       []plottedLine
	Empty       bool
	AriaSummary string
}

type plottedLine struct {
	Name  string
	Tone  string
	Path  string // SVG polyline points
	Marks []mark
}

// mark is a point drawn with its exact value as a tooltip.
type mark struct {
	X, Y  string
	Title string
	Href  string
}

// maxMarks bounds the dots drawn per line; past it the line alone shows
// the trend and the dots would be noise.
const maxMarks = 120

func (c Lines) plot() linePlot {
	p := linePlot{ID: c.ID, Title: c.Title, Unit: c.Unit}
	max := c.Max
	if max <= 0 {
		for _, s := range c.Series {
			for _, pt := range s.Points {
				max = maxf(max, pt.Value)
			}
		}
		max = maxf(max, c.Limit)
	}
	top, step := niceMax(max)
	p.YTicks = valueTicks(top, step, c.Unit)
	p.XTicks = timeTicks(c.From, c.To)
	if c.Limit > 0 {
		p.Limit = &tick{Pos: yOf(c.Limit, top), Label: c.LimitLabel}
	}
	p.Empty = true
	var names []string
	for i, s := range c.Series {
		l := plottedLine{Name: s.Name, Tone: toneOf(s.Tone, i)}
		var b strings.Builder
		for j, pt := range s.Points {
			x, y := num(xOf(pt.At, c.From, c.To)), num(yOf(pt.Value, top))
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(x + "," + y)
			if len(s.Points) <= maxMarks {
				l.Marks = append(l.Marks, mark{X: x, Y: y,
					Title: s.Name + " · " + pt.At.UTC().Format("15:04:05") + " · " + Number(pt.Value) + c.Unit})
				if j < len(s.Hrefs) {
					l.Marks[len(l.Marks)-1].Href = s.Hrefs[j]
				}
			}
		}
		if len(s.Points) > 0 {
			p.Empty = false
			names = append(names, s.Name)
		}
		l.Path = b.String()
		p.Lines = append(p.Lines, l)
	}
	p.AriaSummary = c.Title
	if len(names) > 0 {
		p.AriaSummary += ": " + strings.Join(names, ", ")
	}
	return p
}

func maxf(a, b float64) float64 {
	if b > a {
		return b
	}
	return a
}

// namedTones are the tones the stylesheet defines besides the palette.
var namedTones = map[string]bool{
	"success": true, "provisional": true, "redirect": true, "client-error": true,
	"server-error": true, "unknown": true, "request": true,
}

// toneOf is the CSS class of a series' colour: its named tone if the
// stylesheet has it, else the i-th colour of the palette.
func toneOf(name string, i int) string {
	if namedTones[name] {
		return "tone-" + name
	}
	return "tone-" + string(rune('0'+i%6))
}

func legendOf(ls []plottedLine) []legendItem {
	items := make([]legendItem, 0, len(ls))
	for _, l := range ls {
		items = append(items, legendItem{Name: l.Name, Tone: l.Tone})
	}
	return items
}
