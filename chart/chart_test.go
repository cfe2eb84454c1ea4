package chart

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

func render(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return doc, b.String()
}

func TestNiceMax(t *testing.T) {
	for _, tt := range []struct{ in, top, step float64 }{
		{0, 1, 0.25},
		{-3, 1, 0.25},
		{1, 1, 0.5},
		{3.7, 4, 1},
		{4.4, 6, 2},
		{12, 15, 5},
		{22, 30, 10},
		{101, 150, 50},
		{0.03, 0.03, 0.01},
	} {
		top, step := niceMax(tt.in)
		if top != tt.top || step != tt.step {
			t.Errorf("niceMax(%v) = %v, %v; want %v, %v", tt.in, top, step, tt.top, tt.step)
		}
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0", 12: "12", 1250: "1250", 4.37: "4.37", 0.25: "0.25", 12.34: "12.3", 123.4: "123", 0.012: "0.012",
	} {
		if got := Number(in); got != want {
			t.Errorf("Number(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestTimeTicks(t *testing.T) {
	day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"Day", day, day.Add(24 * time.Hour), []string{"00:00", "06:00", "12:00", "18:00", "00:00"}},
		{"Minutes", day, day.Add(150 * time.Second), []string{"00:00:00", "00:00:30", "00:01:00", "00:01:30", "00:02:00", "00:02:30"}},
		{"Hour", day.Add(90 * time.Second), day.Add(time.Hour + 90*time.Second), []string{"00:15", "00:30", "00:45", "01:00"}},
		{"Seconds", day, day.Add(40 * time.Second), []string{"00:00:00", "00:00:15", "00:00:30"}},
		{"Week", day, day.Add(7 * 24 * time.Hour), []string{"01 Feb", "02 Feb", "03 Feb", "04 Feb", "05 Feb", "06 Feb", "07 Feb", "08 Feb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			last := -1.0
			for _, tk := range timeTicks(tt.from, tt.to) {
				got = append(got, tk.Label)
				if tk.Pos <= last || tk.Pos < padLeft || tk.Pos > width-padRight {
					t.Errorf("tick %q at %v: out of order or outside the plot", tk.Label, tk.Pos)
				}
				last = tk.Pos
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("labels %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLineChart(t *testing.T) {
	from := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	c := Lines{
		ID: "jitter", Title: "Jitter", Unit: " ms", From: from, To: from.Add(time.Minute),
		Limit: 30, LimitLabel: "30 ms limit",
		Series: []Series{
			{Name: "caller → callee", Points: []Point{{from, 2}, {from.Add(30 * time.Second), 41.5}, {from.Add(time.Minute), 8}}},
			{Name: "<b>callee</b>", Tone: "server-error", Points: []Point{{from.Add(10 * time.Second), 5}}},
		},
	}
	doc, html := render(t, LineChart(c))
	if got := doc.Find("figure#jitter figcaption").Text(); got != "Jitter" {
		t.Errorf("caption %q", got)
	}
	if n := doc.Find("polyline").Length(); n != 2 {
		t.Fatalf("%d lines, want 2", n)
	}
	if got, _ := doc.Find("polyline").First().Attr("points"); got != "52,170.47 341,61.18 630,153.87" {
		t.Errorf("points %q", got)
	}
	if n := doc.Find("circle").Length(); n != 4 {
		t.Errorf("%d dots, want 4", n)
	}
	if got := doc.Find("circle title").Eq(1).Text(); got != "caller → callee · 12:00:30 · 41.5 ms" {
		t.Errorf("dot title %q", got)
	}
	if !doc.Find("g.chart-series").Eq(1).HasClass("tone-server-error") || !doc.Find("g.chart-series").Eq(0).HasClass("tone-0") {
		t.Error("series tones: want tone-0, then the named tone")
	}
	if got := doc.Find(".chart-limit text").Text(); got != "30 ms limit" {
		t.Errorf("limit label %q", got)
	}
	if strings.Contains(html, "<b>") {
		t.Error("a series name came out as markup")
	}
	if got := doc.Find(".chart-axes text").First().Text(); got != "0 ms" {
		t.Errorf("first y label %q", got)
	}
	if got := doc.Find(".chart-legend li").Length(); got != 2 {
		t.Errorf("%d legend items", got)
	}
}

func TestLineChartEmpty(t *testing.T) {
	doc, _ := render(t, LineChart(Lines{Title: "MOS", Series: []Series{{Name: "a"}}}))
	if doc.Find("svg").Length() != 0 || doc.Find(".chart-empty").Length() != 1 {
		t.Error("a chart without points must say so instead of drawing empty axes")
	}
}

func TestStackedBarChart(t *testing.T) {
	from := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	c := StackedBars{
		ID: "per-minute", Title: "Calls per minute", From: from, To: from.Add(4 * time.Minute), Step: time.Minute,
		Stacks: []Stack{{Name: "answered", Tone: "success"}, {Name: "failed", Tone: "client-error"}},
		Buckets: []Bucket{
			{Start: from, Values: []float64{3, 1}, Href: "/calls?m=0", StackHrefs: []string{"/calls?m=0&o=2xx"}},
			{Start: from.Add(time.Minute), Values: []float64{0, 0}},
			{Start: from.Add(2 * time.Minute), Values: []float64{0, 2}, Href: "javascript:alert(1)"},
			{Start: from.Add(9 * time.Minute), Values: []float64{5, 5}}, // outside the range
		},
	}
	doc, _ := render(t, StackedBarChart(c))
	if n := doc.Find("g.chart-bar").Length(); n != 2 {
		t.Fatalf("%d bars, want 2 (empty and out-of-range buckets drawn as nothing)", n)
	}
	first := doc.Find("g.chart-bar").First()
	if got := first.Find("rect").Length(); got != 2 {
		t.Fatalf("%d layers in the first bar", got)
	}
	hrefs := first.Find("a").Map(func(_ int, s *goquery.Selection) string { h, _ := s.Attr("href"); return h })
	if strings.Join(hrefs, " ") != "/calls?m=0&o=2xx /calls?m=0" {
		t.Errorf("links %q: want the layer's own link, else the bar's", hrefs)
	}
	// Stacked: the failed layer sits on the answered one.
	a, f := first.Find("rect").Eq(0), first.Find("rect").Eq(1)
	ay, _ := a.Attr("y")
	fy, _ := f.Attr("y")
	fh, _ := f.Attr("height")
	if ay != "51.5" || fy != "10" || fh != "41.5" {
		t.Errorf("answered y=%s, failed y=%s height=%s", ay, fy, fh)
	}
	if got := first.Find("title").First().Text(); got != "12:00 · answered 3, failed 1" {
		t.Errorf("bar title %q", got)
	}
	bad, _ := doc.Find("g.chart-bar").Eq(1).Find("a").Attr("href")
	if strings.HasPrefix(bad, "javascript:") {
		t.Errorf("a javascript: link came out: %q", bad)
	}
}

func TestBarChart(t *testing.T) {
	long := strings.Repeat("x", 40)
	c := Bars{ID: "top", Title: "Top failing destinations", Unit: " calls", Bars: []Bar{
		{Label: "+4930123", Value: 40, Note: "(80 %)", Href: "/calls?ruri_user=%2B4930123"},
		{Label: long, Value: 10},
		{Label: "<img src=x onerror=alert(1)>", Value: 0},
	}}
	doc, html := render(t, BarChart(c))
	rows := doc.Find("g.chart-row")
	if rows.Length() != 3 {
		t.Fatalf("%d rows", rows.Length())
	}
	if h, _ := doc.Find("a").Attr("href"); h != "/calls?ruri_user=%2B4930123" || doc.Find("a").Length() != 1 {
		t.Errorf("links: %d, first %q", doc.Find("a").Length(), h)
	}
	if got := rows.Eq(0).Find(".chart-value").Text(); got != "40 calls (80 %)" {
		t.Errorf("value %q", got)
	}
	w0, _ := rows.Eq(0).Find("rect").Attr("width")
	w1, _ := rows.Eq(1).Find("rect").Attr("width")
	w2, _ := rows.Eq(2).Find("rect").Attr("width")
	if w0 != "320" || w1 != "80" || w2 != "0" {
		t.Errorf("widths %s %s %s: want proportional to the largest", w0, w1, w2)
	}
	if got := rows.Eq(1).Find("text").First().Text(); got != strings.Repeat("x", 29)+"…" {
		t.Errorf("long label shown as %q", got)
	}
	if got := rows.Eq(1).Find("title").Text(); got != long+": 10 calls" {
		t.Errorf("the whole label must stay in the tooltip: %q", got)
	}
	if strings.Contains(html, "<img") {
		t.Error("a label came out as markup")
	}
}

// TestLinePointLinks: a point with a link is a link; one without is not.
func TestLinePointLinks(t *testing.T) {
	from := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c := Lines{ID: "asr", Title: "ASR", From: from, To: from.Add(2 * time.Minute), Series: []Series{{Name: "ASR",
		Points: []Point{{At: from, Value: 50}, {At: from.Add(time.Minute), Value: 60}}, Hrefs: []string{"/calls?o=2xx&m=0"}}}}
	var b strings.Builder
	if err := LineChart(c).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if n := doc.Find("circle").Length(); n != 2 {
		t.Fatalf("%d dots, want 2", n)
	}
	if h, _ := doc.Find("a").Attr("href"); h != "/calls?o=2xx&m=0" || doc.Find("a circle").Length() != 1 {
		t.Errorf("links: %q, %d linked dots", h, doc.Find("a circle").Length())
	}
}
