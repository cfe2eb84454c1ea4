package chart

import (
	"strings"
	"time"
)

// Stack is one layer of a stacked bar chart: an outcome, say.
type Stack struct {
	Name string
	Tone string
}

// Bucket is one bar: the values of each stack (in Stacks order) over
// [Start, Start+Step). Href, when set, is where a click on the bar goes
// (the calls of that minute); StackHrefs, when set, per layer. Links go
// through templ's URL sanitizing: a javascript: URL never comes out.
type Bucket struct {
	Start      time.Time
	Values     []float64
	Href       string
	StackHrefs []string
}

// StackedBars is a stacked bar chart over [From, To] in buckets of Step.
type StackedBars struct {
	ID      string // the figure's id: an anchor, and a handle for tests
	Title   string
	Unit    string
	From    time.Time
	To      time.Time
	Step    time.Duration
	Stacks  []Stack
	Buckets []Bucket
}

type barPlot struct {
	ID     string
	Title  string
	XTicks []tick
	YTicks []tick
	Bars   []plottedBar
	Legend []legendItem
	Empty  bool
}

type plottedBar struct {
	Href  string
	Title string
	Rects []rect
}

type rect struct {
	X, Y, W, H string
	Tone       string
	Title      string
	Href       string
}

type legendItem struct {
	Name string
	Tone string
}

func (c StackedBars) plot() barPlot {
	p := barPlot{ID: c.ID, Title: c.Title, Empty: true}
	for i, s := range c.Stacks {
		p.Legend = append(p.Legend, legendItem{Name: s.Name, Tone: toneOf(s.Tone, i)})
	}
	var max float64
	for _, b := range c.Buckets {
		if b.Start.Before(c.From) || !b.Start.Before(c.To) {
			continue
		}
		var sum float64
		for _, v := range b.Values {
			sum += v
		}
		max = maxf(max, sum)
	}
	top, step := niceMax(max)
	p.YTicks = valueTicks(top, step, c.Unit)
	p.XTicks = timeTicks(c.From, c.To)
	if c.Step <= 0 || !c.From.Before(c.To) {
		return p
	}
	// A bar leaves a tenth of its slot free so neighbours stay apart,
	// and is at least half a unit wide to stay visible on long ranges.
	slot := plotW * float64(c.Step) / float64(c.To.Sub(c.From))
	w := maxf(slot*0.9, 0.5)
	for _, b := range c.Buckets {
		x := xOf(b.Start, c.From, c.To)
		if b.Start.Before(c.From) || !b.Start.Before(c.To) {
			continue
		}
		bar := plottedBar{Href: b.Href}
		label := b.Start.UTC().Format("15:04")
		var parts []string
		base := 0.0
		for i, v := range b.Values {
			if v <= 0 || i >= len(c.Stacks) {
				continue
			}
			y0, y1 := yOf(base, top), yOf(base+v, top)
			base += v
			r := rect{X: num(x), Y: num(y1), W: num(w), H: num(y0 - y1),
				Tone:  toneOf(c.Stacks[i].Tone, i),
				Title: label + " · " + c.Stacks[i].Name + ": " + Number(v) + c.Unit}
			if i < len(b.StackHrefs) {
				r.Href = b.StackHrefs[i]
			}
			bar.Rects = append(bar.Rects, r)
			parts = append(parts, c.Stacks[i].Name+" "+Number(v))
		}
		if len(bar.Rects) == 0 {
			continue
		}
		p.Empty = false
		bar.Title = label + " · " + strings.Join(parts, ", ")
		p.Bars = append(p.Bars, bar)
	}
	return p
}

// Bar is one row of a horizontal bar chart: a destination and its failed
// calls, say. Href, when set, makes the row a link.
type Bar struct {
	Label string
	Value float64
	Note  string // shown after the value: "(12 % of calls)"
	Href  string
}

// Bars is a ranked list drawn as horizontal bars, longest first as given.
type Bars struct {
	ID    string // the figure's id: an anchor, and a handle for tests
	Title string
	Unit  string
	Tone  string
	Bars  []Bar
}

// Geometry of a horizontal bar chart: one row per bar, the label left of
// the bars, the value right of each bar.
const (
	rowH     = 22.0
	labelW   = 200.0
	valueW   = 120.0
	maxLabel = 30 // runes; the whole label is the row's tooltip
)

type hbar struct {
	Href   string
	Title  string // the whole label and value
	Label  string // shortened to fit
	Y      string // top of the row
	TextY  string
	W      string // bar width
	ValueX string
	Value  string
}

type hbarPlot struct {
	ID     string
	Title  string
	Tone   string
	Height string
	Rows   []hbar
}

func (c Bars) plot() hbarPlot {
	p := hbarPlot{ID: c.ID, Title: c.Title, Tone: toneOf(c.Tone, 0), Height: num(rowH * float64(len(c.Bars)))}
	var max float64
	for _, b := range c.Bars {
		max = maxf(max, b.Value)
	}
	span := width - labelW - valueW
	for i, b := range c.Bars {
		w := 0.0
		if max > 0 && b.Value > 0 {
			w = maxf(span*b.Value/max, 1)
		}
		v := Number(b.Value) + c.Unit
		if b.Note != "" {
			v += " " + b.Note
		}
		y := rowH * float64(i)
		p.Rows = append(p.Rows, hbar{
			Href: b.Href, Title: b.Label + ": " + v, Label: shorten(b.Label, maxLabel),
			Y: num(y + 3), TextY: num(y + rowH/2 + 4), W: num(w),
			ValueX: num(labelW + w + 6), Value: v,
		})
	}
	return p
}

// shorten cuts s to n runes, marking the cut with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
