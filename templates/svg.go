package templates

import (
	"context"
	"io"
	"strconv"
	"sync"

	"github.com/a-h/templ"

	"github.com/callscope/callscope/ladder"
)

// The ladder's repeated SVG elements — a column per endpoint, a note per
// event, an arrow per message — are written here rather than in
// ladder.templ. templ's generated code formats every expression through
// fmt or an interface and builds class lists in maps: about 5 µs an arrow,
// half the render time of a viewer page, which the public viewer pays on
// every view. These functions write the same markup, byte for byte (the
// golden pages in testdata pin it), with every value escaped as templ
// escapes it: text and attribute values through escape (html.EscapeString's
// five characters), the arrow's link through templ.URL first. Only
// numbers, our own constants and class names built from ladder's enums go
// out unescaped.

// ladderBody draws d's columns, notes and arrows, in that order.
func ladderBody(d ladder.Diagram, linkPrefix string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		bp := svgBuffers.Get().(*[]byte)
		b := (*bp)[:0]
		for _, c := range d.Columns {
			b = appendColumn(b, d, c)
		}
		for _, n := range d.Notes {
			b = appendNote(b, n)
		}
		multiLeg := d.MultiLeg()
		for _, r := range d.Rows {
			b = appendArrow(b, d, r, linkPrefix, multiLeg)
		}
		_, err := w.Write(b)
		if cap(b) <= maxPooledSVG {
			*bp = b
			svgBuffers.Put(bp)
		}
		return err
	})
}

// legMarker draws the marker of leg l centred on (x, y).
func legMarker(l ladder.Leg, x, y int) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := w.Write(appendLegMarker(make([]byte, 0, 96), l, x, y))
		return err
	})
}

// text writes s as escaped text, as `{ s }` in a template does, without
// the copies templ makes of it on the way (fmt.Sprint, then an escaped
// copy): for a raw SIP message, a kilobyte or more, that is most of the
// cost of showing it.
func text(s string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		bp := svgBuffers.Get().(*[]byte)
		b := escape((*bp)[:0], s)
		_, err := w.Write(b)
		if cap(b) <= maxPooledSVG {
			*bp = b
			svgBuffers.Put(bp)
		}
		return err
	})
}

var svgBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// maxPooledSVG keeps the buffer of a call of thousands of messages out of
// the pool.
const maxPooledSVG = 1 << 20

func appendColumn(b []byte, d ladder.Diagram, c ladder.Column) []byte {
	b = append(b, `<g class="column" data-testid="ladder-column"><title>`...)
	b = escape(b, c.Label)
	b = append(b, " ("...)
	b = escape(b, c.Address)
	b = append(b, `)</title><text class="column-label" x="`...)
	b = strconv.AppendInt(b, int64(c.X), 10)
	b = append(b, `" y="20" text-anchor="middle">`...)
	b = escape(b, c.Short)
	b = append(b, "</text> "...)
	if c.Aliased {
		b = append(b, `<text class="column-addr" x="`...)
		b = strconv.AppendInt(b, int64(c.X), 10)
		b = append(b, `" y="36" text-anchor="middle">`...)
		b = escape(b, c.Address)
		b = append(b, "</text> "...)
	}
	b = append(b, `<line class="lifeline" x1="`...)
	b = strconv.AppendInt(b, int64(c.X), 10)
	b = append(b, `" y1="`...)
	b = strconv.AppendInt(b, int64(d.HeaderHeight-10), 10)
	b = append(b, `" x2="`...)
	b = strconv.AppendInt(b, int64(c.X), 10)
	b = append(b, `" y2="`...)
	b = strconv.AppendInt(b, int64(d.Height-ladder.BottomMargin/2), 10)
	return append(b, `" stroke="currentColor"></line></g>`...)
}

func appendNote(b []byte, n ladder.Note) []byte {
	b = append(b, `<g class="note note-`...)
	b = escape(b, n.Class())
	b = append(b, `" data-testid="ladder-note"><title>`...)
	b = escape(b, n.Time)
	b = append(b, ' ')
	b = escape(b, n.Kind)
	b = append(b, ' ')
	b = escape(b, n.Node)
	b = append(b, ": "...)
	b = escape(b, n.Text)
	b = append(b, `</title><rect x="`...)
	b = strconv.AppendInt(b, int64(n.X), 10)
	b = append(b, `" y="`...)
	b = strconv.AppendInt(b, int64(n.Y), 10)
	b = append(b, `" width="`...)
	b = strconv.AppendInt(b, int64(n.Width), 10)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, int64(n.Height), 10)
	b = append(b, `" rx="4" fill="none" stroke="currentColor"></rect> <text x="`...)
	b = strconv.AppendInt(b, int64(n.TextX), 10)
	b = append(b, `" y="`...)
	b = strconv.AppendInt(b, int64(n.TextY), 10)
	b = append(b, `"><tspan class="note-kind">`...)
	b = escape(b, n.Kind)
	b = append(b, "</tspan> <tspan> "...)
	b = escape(b, n.Time)
	b = append(b, " </tspan> "...)
	if n.Node != "" {
		b = append(b, "<tspan>"...)
		b = escape(b, n.Node)
		b = append(b, ": </tspan> "...)
	}
	b = append(b, "<tspan>"...)
	b = escape(b, n.Short())
	return append(b, "</tspan></text></g>"...)
}

func appendArrow(b []byte, d ladder.Diagram, r ladder.Row, linkPrefix string, multiLeg bool) []byte {
	summary := arrowSummary(d, r)
	b = append(b, `<a href="`...)
	b = escape(b, string(templ.URL(linkPrefix+"#"+r.Anchor)))
	b = append(b, `" class="arrow arrow-`...)
	b = escape(b, string(r.Class))
	if r.Retransmission {
		b = append(b, " retransmission"...)
	}
	if r.Hop {
		b = append(b, " hop"...)
	}
	b = append(b, `" data-testid="ladder-arrow" data-seq="`...)
	b = strconv.AppendInt(b, int64(r.Seq), 10)
	b = append(b, `" aria-label="`...)
	b = escape(b, summary)
	b = append(b, `"><title>`...)
	b = escape(b, summary)
	b = append(b, `</title><rect class="hit" x="0" y="`...)
	b = strconv.AppendInt(b, int64(r.Top), 10)
	b = append(b, `" width="`...)
	b = strconv.AppendInt(b, int64(d.Width), 10)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, int64(r.Bottom-r.Top), 10)
	b = append(b, `" fill="transparent"></rect> <text class="time" x="8" y="`...)
	b = strconv.AppendInt(b, int64(r.TimeY), 10)
	b = append(b, `">`...)
	b = escape(b, r.Time)
	b = append(b, "</text> "...)
	if r.Delta != "" {
		b = append(b, `<text class="delta" x="8" y="`...)
		b = strconv.AppendInt(b, int64(r.TimeY+ladder.SubLineHeight), 10)
		b = append(b, `">`...)
		b = escape(b, r.Delta)
		b = append(b, "</text> "...)
	}
	b = append(b, `<path class="line" d="`...)
	b = escape(b, r.Path)
	if r.Dashed {
		b = append(b, `" fill="none" stroke="currentColor" stroke-dasharray="6 4"></path> <polyline class="head" points="`...)
		b = escape(b, r.Head)
		b = append(b, `" fill="none" stroke="currentColor"></polyline> `...)
	} else {
		b = append(b, `" fill="none" stroke="currentColor"></path> <polygon class="head" points="`...)
		b = escape(b, r.Head)
		b = append(b, `" stroke="currentColor"></polygon> `...)
	}
	if multiLeg {
		b = appendLegMarker(b, d.Leg(r.Message.Leg), r.LegMarkerX, r.Y)
	}
	b = append(b, `<text class="label" x="`...)
	b = strconv.AppendInt(b, int64(r.LabelX), 10)
	b = append(b, `" y="`...)
	b = strconv.AppendInt(b, int64(r.LabelY), 10)
	b = append(b, `" text-anchor="`...)
	b = escape(b, r.LabelAnchor)
	b = append(b, `"><tspan>`...)
	b = escape(b, r.Short)
	b = append(b, "</tspan> "...)
	if r.Retransmission {
		b = append(b, `<tspan class="retrans-tag" data-testid="retransmission">(retransmission)</tspan>`...)
	}
	b = append(b, "</text> "...)
	for i, s := range r.Sub {
		b = append(b, `<text class="sub" x="`...)
		b = strconv.AppendInt(b, int64(r.SubX), 10)
		b = append(b, `" y="`...)
		b = strconv.AppendInt(b, int64(r.SubY+i*ladder.SubLineHeight), 10)
		b = append(b, `" text-anchor="`...)
		b = escape(b, r.SubAnchor)
		b = append(b, `">`...)
		b = escape(b, s)
		b = append(b, "</text>"...)
	}
	return append(b, "</a>"...)
}

func appendLegMarker(b []byte, l ladder.Leg, x, y int) []byte {
	if l.Marker == ladder.MarkerCircle {
		b = append(b, `<circle class="leg-marker `...)
		b = escape(b, legClass(l.Colour))
		b = append(b, `" cx="`...)
		b = strconv.AppendInt(b, int64(x), 10)
		b = append(b, `" cy="`...)
		b = strconv.AppendInt(b, int64(y), 10)
		return append(b, `" r="4.5"></circle>`...)
	}
	b = append(b, `<polygon class="leg-marker `...)
	b = escape(b, legClass(l.Colour))
	b = append(b, `" points="`...)
	b = escape(b, markerPoints(l.Marker, x, y))
	return append(b, `"></polygon>`...)
}

// escape appends s escaped as templ escapes text and attribute values
// (html.EscapeString): & ' < > " become entities, nothing else changes.
func escape(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}
