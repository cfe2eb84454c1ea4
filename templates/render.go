// Package templates holds the templ components of the viewer and the
// console: the ladder diagram, the message table and raw messages, and the
// pages built from them. Components take typed props and render SIP data
// only through templ's escaping; nothing here builds a URL from SIP data.
package templates

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/a-h/templ"

	"github.com/callscope/callscope/ladder"
)

// Render renders c into memory and returns the whole document, so a
// component that fails halfway becomes a clean error for the handler (and a
// 500 page) instead of half a page already sent.
func Render(ctx context.Context, c templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		return nil, fmt.Errorf("templates.Render: %w", err)
	}
	return buf.Bytes(), nil
}

// themeClass maps the theme a page asks for to the class on <html>. Any
// other value (the viewer takes it from a query parameter) means "follow
// the system".
func themeClass(theme string) string {
	switch theme {
	case "light":
		return "theme-light"
	case "dark":
		return "theme-dark"
	}
	return ""
}

// colorScheme is the color-scheme meta value matching themeClass, so
// form controls and scrollbars follow the forced theme too.
func colorScheme(theme string) string {
	switch theme {
	case "light", "dark":
		return theme
	}
	return "light dark"
}

func itoa(i int) string { return strconv.Itoa(i) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// markerPoints returns the polygon of a leg marker centred on (x, y); the
// circle is drawn as a <circle> and has no points.
func markerPoints(m ladder.Marker, x, y int) string {
	const r = 4
	switch m {
	case ladder.MarkerDiamond:
		return ladder.Points(x, y-r-1, x+r+1, y, x, y+r+1, x-r-1, y)
	case ladder.MarkerTriangle:
		return ladder.Points(x, y-r-1, x+r+1, y+r, x-r-1, y+r)
	}
	return ladder.Points(x-r, y-r, x+r, y-r, x+r, y+r, x-r, y+r)
}

func legClass(n int) string { return "leg-" + strconv.Itoa(n) }

// arrowSummary is the text a screen reader hears for an arrow.
func arrowSummary(d ladder.Diagram, r ladder.Row) string {
	s := r.Label + ", " + r.Class.Text() + ", from " + d.Column(r.From).Label + " to " + d.Column(r.To).Label + ", at " + r.Time
	if r.Retransmission {
		s += ", retransmission"
	}
	return s
}

// ladderTitle is the accessible name of the diagram.
func ladderTitle(d ladder.Diagram) string {
	s := "Ladder diagram of " + plural(d.Total, "SIP message", "SIP messages") + " between " + plural(len(d.Columns), "endpoint", "endpoints")
	if d.Pages > 1 {
		s += fmt.Sprintf(", page %d of %d", d.Page, d.Pages)
	}
	return s
}

// zoneLocation resolves the Diagram's zone name for formatting event
// times like the rows; an unknown name falls back to UTC.
func zoneLocation(zone string) *time.Location {
	if zone == "" || zone == "UTC" {
		return time.UTC
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func clock(t time.Time, loc *time.Location) string { return t.In(loc).Format("15:04:05.000") }

// kindTag is the class of a table row in words, so the table reads without
// colour too.
func kindTag(r ladder.Row) string {
	s := r.Class.Text()
	if r.Retransmission {
		s += ", retransmission"
	}
	if r.Hop {
		s += ", also captured by " + r.Node
	}
	return s
}
