// Package chart draws small server-rendered SVG charts as templ
// components: lines over time (QoS per stream), stacked bars over time
// (calls per minute by outcome) and labelled horizontal bars (top lists).
//
// The geometry is computed here in Go (scales, ticks, bar rectangles) and
// templ writes the SVG, so every label and title goes through templ's
// escaping and every link is a URL the caller built. Colours are CSS
// classes (tone-*) resolved by the stylesheet, so dark mode needs nothing
// here.
package chart

import (
	"math"
	"strconv"
	"time"
)

// Plot area of every time chart, in SVG user units. The SVG scales to its
// container's width; these set the aspect ratio and the room for labels.
const (
	width     = 640.0
	height    = 200.0
	padLeft   = 52.0
	padRight  = 10.0
	padTop    = 10.0
	padBottom = 24.0
	plotW     = width - padLeft - padRight
	plotH     = height - padTop - padBottom
)

// tick is one labelled position on an axis.
type tick struct {
	Pos   float64 // in SVG units
	Label string
}

// niceMax picks the axis for values up to max: a step of 1, 2 or 5 times
// a power of ten giving at most five ticks, and the first multiple of it
// at or above max as the top.
func niceMax(max float64) (top, step float64) {
	if !(max > 0) || math.IsInf(max, 0) {
		return 1, 0.25
	}
	raw := max / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*mag*(1+1e-9) {
			step = m * mag
			break
		}
	}
	return math.Ceil(max/step*(1-1e-9)) * step, step
}

// valueTicks are the y-axis ticks from 0 to top.
func valueTicks(top, step float64, unit string) []tick {
	var ts []tick
	for v := 0.0; v <= top*(1+1e-9); v += step {
		ts = append(ts, tick{Pos: yOf(v, top), Label: Number(v) + unit})
	}
	return ts
}

// yOf maps a value in [0, top] to the plot's y coordinate (0 at the bottom).
func yOf(v, top float64) float64 {
	if v < 0 {
		v = 0
	}
	if v > top {
		v = top
	}
	return padTop + plotH*(1-v/top)
}

// xOf maps t in [from, to] to the plot's x coordinate.
func xOf(t, from, to time.Time) float64 {
	span := to.Sub(from)
	if span <= 0 {
		return padLeft
	}
	f := float64(t.Sub(from)) / float64(span)
	return padLeft + plotW*math.Min(1, math.Max(0, f))
}

// timeSteps are the spacings the time axis may use, finest first.
var timeSteps = []time.Duration{
	time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// timeTicks labels [from, to] with at most six ticks on round times, in
// UTC: with seconds when ticks are less than a minute apart, the day when it spans
// more than two days.
func timeTicks(from, to time.Time) []tick {
	span := to.Sub(from)
	if span <= 0 {
		return nil
	}
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= 6 {
			step = s
			break
		}
	}
	layout := "15:04"
	switch {
	case step < time.Minute:
		layout = "15:04:05"
	case span > 48*time.Hour:
		layout = "02 Jan"
	}
	var ts []tick
	for t := from.UTC().Truncate(step); !t.After(to); t = t.Add(step) {
		if t.Before(from) {
			continue
		}
		ts = append(ts, tick{Pos: xOf(t, from, to), Label: t.UTC().Format(layout)})
	}
	return ts
}

// Number formats v for a label: whole numbers as such, others with up to
// three significant digits ("0.25", "4.37", "1250").
func Number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	a := math.Abs(v)
	prec := 2
	switch {
	case a >= 100:
		prec = 0
	case a >= 10:
		prec = 1
	case a < 0.1:
		prec = 3
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// num writes an SVG coordinate: two decimals are far below a pixel.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
