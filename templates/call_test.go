package templates

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/ladder"
	"github.com/callscope/callscope/qos"
)

func ptr[T any](v T) *T { return &v }

// busyRecord is the record of a call refused 486 after ringing.
func busyRecord() *callrec.Record {
	return &callrec.Record{
		CallID: "busy@x", Kind: callrec.KindInvite, Outcome: callrec.OutcomeBusy,
		StartedAt: time.Date(2026, 12, 2, 6, 59, 46, 677_000_000, time.UTC),
		FromUser:  ptr("alice"), FromName: ptr(`Alice "<b>"`), ToUser: ptr("bob"),
		FinalStatus: ptr(486), FinalReason: ptr("Busy Here"), PDDMs: ptr(int64(1240)),
		CodecsOffered: []string{"PCMU/8000", "PCMA/8000"}, CodecsAnswered: []string{}, Messages: 17,
	}
}

func TestNewSummary(t *testing.T) {
	t.Run("Busy", func(t *testing.T) {
		s, ok := NewSummary(busyRecord(), 4, nil)
		if !ok {
			t.Fatal("no summary")
		}
		want := Summary{Caller: Party{Name: `Alice "<b>"`, User: "alice"}, Callee: Party{User: "bob"},
			Started: "Wed 2 Dec 2026, 06:59:46 UTC", Outcome: "Busy — 486 Busy Here", OutcomeKind: "busy",
			PDD: "1.2 s", Codec: "PCMU/8000 (offered)", Shown: 4, Total: 17}
		if s != want {
			t.Errorf("summary\n%+v\nwant\n%+v", s, want)
		}
		if !s.Cut() {
			t.Error("4 of 17 not cut")
		}
	})
	t.Run("AnsweredWithQoS", func(t *testing.T) {
		r := busyRecord()
		r.Outcome, r.FinalStatus, r.FinalReason = callrec.OutcomeAnswered, ptr(200), ptr("OK")
		r.DurationMs, r.CodecsAnswered = ptr(int64(65_400)), []string{"PCMA/8000"}
		r.QoS = &callrec.QoS{Reports: 3, WorstMOS: ptr(3.94), MaxJitter: ptr(12.5), MaxLossPct: ptr(1.25)}
		s, _ := NewSummary(r, 17, nil)
		if s.Outcome != "Answered — 200 OK" || s.Talk != "1 min 05 s" || s.Codec != "PCMA/8000" ||
			s.Quality != "MOS 3.9 · jitter 12.5 ms · loss 1.2 %" || s.Cut() {
			t.Errorf("summary %+v", s)
		}
	})
	t.Run("NoRecord", func(t *testing.T) {
		if _, ok := NewSummary(nil, 3, nil); ok {
			t.Error("summary without a record")
		}
	})
}

func TestCallSummaryComponent(t *testing.T) {
	s, _ := NewSummary(busyRecord(), 4, nil)
	html := MustRender(t, templ.Join(CallSummary(s), WindowNote(s)))
	if bytes.Contains(html, []byte(`"<b>"`)) {
		t.Fatal("display name not escaped")
	}
	doc := MustDoc(t, html)
	for id, want := range map[string]string{
		"call-outcome": "Busy — 486 Busy Here",
		"call-started": "Wed 2 Dec 2026, 06:59:46 UTC",
		"call-pdd":     "1.2 s",
		"window-cut":   "This link shows 4 of 17 messages of the call.",
	} {
		if got := strings.TrimSpace(doc.Find(`[data-testid="` + id + `"]`).Text()); got != want {
			t.Errorf("%s %q, want %q", id, got, want)
		}
	}
	if got := strings.Join(strings.Fields(doc.Find(`[data-testid="call-caller"]`).Text()), " "); got != `Alice "<b>" alice` {
		t.Errorf("caller %q", got)
	}
	s.Shown = s.Total
	if doc := MustDoc(t, MustRender(t, WindowNote(s))); doc.Find(`[data-testid="window-cut"]`).Length() != 0 {
		t.Error("window note on a whole call")
	}
}

// TestMessageDetails: each arrow opens its message's detail (id m{seq})
// and the detail leads back to the arrow (id a{seq}); headers are a
// table, the SDP a block of its own, the raw text inside a <details>.
func TestMessageDetails(t *testing.T) {
	f := MustLoadCall(t, "call.json")
	d := ladder.Build(f.Messages, nil, ladder.Options{Aliases: f.Aliases})
	doc := MustDoc(t, MustRender(t, templ.Join(Ladder(d, ""), MessageDetails(d))))
	details := doc.Find(`[data-testid="message-detail"]`)
	if details.Length() != len(f.Messages) {
		t.Fatalf("%d details", details.Length())
	}
	first := details.First()
	if id, _ := first.Attr("id"); id != "m1" {
		t.Errorf("detail id %q", id)
	}
	if href, _ := first.Find(`[data-testid="detail-close"]`).Attr("href"); href != "#a1" || doc.Find(`a#a1[data-testid="ladder-arrow"]`).Length() != 1 {
		t.Errorf("back link %q does not reach the arrow", href)
	}
	if got := first.Find("caption").Text(); got != "INVITE sip:bob@example.net SIP/2.0" {
		t.Errorf("start line %q", got)
	}
	if first.Find(`th:contains("Call-ID")`).Length() != 1 {
		t.Error("no Call-ID header row")
	}
	if body := first.Find(`[data-testid="detail-body"]`).Text(); !strings.HasPrefix(body, "v=0") {
		t.Errorf("body %q", body)
	}
	if first.Find(`details [data-testid="raw-message"]`).Length() != 1 {
		t.Error("raw message not one click away")
	}
}

func TestSplitMessage(t *testing.T) {
	start, hs, body := splitMessage("SIP/2.0 200 OK\r\nVia: a\r\n b\r\nodd line\r\nContent-Length: 3\r\n\r\nxyz")
	if start != "SIP/2.0 200 OK" || body != "xyz" || len(hs) != 3 || hs[0] != (header{"Via", "a b"}) || hs[1] != (header{"", "odd line"}) {
		t.Errorf("split: %q %q %q", start, hs, body)
	}
	if start, hs, body := splitMessage("garbage"); start != "garbage" || hs != nil || body != "" {
		t.Errorf("garbage: %q %q %q", start, hs, body)
	}
}

// TestQoSCharts: media reports become charts per figure, one line per
// stream; the reports' JSON never shows.
func TestQoSCharts(t *testing.T) {
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	var reports []qos.Report
	for _, p := range []struct {
		payload string
		after   time.Duration
	}{
		{`{"type":201,"ssrc":1,"report_blocks":[{"source_ssrc":2,"fraction_lost":5,"packets_lost":3,"ia_jitter":40}],"report_blocks_xr":{"type":7,"id":2,"mos_cq":41}}`, 0},
		{`{"type":201,"ssrc":1,"report_blocks":[{"source_ssrc":2,"fraction_lost":0,"packets_lost":3,"ia_jitter":16}]}`, 5 * time.Second},
		{`{"type":201,"ssrc":2,"report_blocks":[{"source_ssrc":1,"fraction_lost":0,"packets_lost":0,"ia_jitter":8}]}`, 5 * time.Second},
	} {
		rs, err := qos.Parse(qos.PayloadRTCP, []byte(p.payload), at.Add(p.after))
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, rs...)
	}
	q := NewQoS(reports, at.Add(-time.Second), at.Add(6*time.Second))
	if len(q.Jitter.Series) != 2 || len(q.Jitter.Series[0].Points) != 2 || len(q.MOS.Series) != 1 || len(q.Loss.Series) != 2 {
		t.Fatalf("series: jitter %d, loss %d, mos %d", len(q.Jitter.Series), len(q.Loss.Series), len(q.MOS.Series))
	}
	html := MustRender(t, QoSCharts(q))
	doc := MustDoc(t, html)
	for _, id := range []string{"qos-jitter", "qos-loss", "qos-mos"} {
		if doc.Find("#"+id+" svg").Length() != 1 {
			t.Errorf("no chart %s", id)
		}
	}
	if bytes.Contains(html, []byte("report_blocks")) || bytes.Contains(html, []byte("{&#34;")) {
		t.Error("raw report JSON on the page")
	}
	assertCSPClean(t, html)
	if html := MustRender(t, QoSCharts(NewQoS(nil, at, at))); len(html) != 0 {
		t.Errorf("charts without reports: %q", html)
	}
}

// TestViewerPageCompact: the compact view has the summary, the ladder
// and the details, and none of the table, events or downloads.
func TestViewerPageCompact(t *testing.T) {
	f := MustLoadCall(t, "call.json")
	p := viewerProps(f, ladder.Options{Compact: true})
	s, _ := NewSummary(busyRecord(), 4, nil)
	p.Summary, p.Compact, p.TextURL, p.PCAPURL, p.GroupURL = &s, true, "", "", ""
	p.OtherViewURL = "/v/TOKEN"
	html := MustRender(t, ViewerPage(p))
	checkGolden(t, "viewer_compact.golden.html", html)
	doc := MustDoc(t, html)
	for id, want := range map[string]int{"call-summary": 1, "ladder": 1, "message-detail": len(f.Messages), "window-cut": 1,
		"message-table": 0, "event": 0, "other-view": 1} {
		if n := doc.Find(`[data-testid="` + id + `"]`).Length(); n != want {
			t.Errorf("%d %s, want %d", n, id, want)
		}
	}
	if got := doc.Find(`[data-testid="ladder-arrow"] text.time`).Eq(1).Text(); got != "+1.3 ms" {
		t.Errorf("compact gutter %q, want the delta", got)
	}
	assertCSPClean(t, html)
}

func TestErrorPageEmptyWindow(t *testing.T) {
	doc := MustDoc(t, MustRender(t, ErrorPage(ErrorProps{Kind: "empty_window", Window: "Wed 2 Dec 2026 06:00–07:00 UTC"})))
	if got := doc.Find("p").First().Text(); got != "Nothing was captured for this call in the link's time window." {
		t.Errorf("sentence %q", got)
	}
	if got := doc.Find(`[data-testid="error-window"]`).Text(); !strings.Contains(got, "06:00–07:00") || strings.Contains(doc.Text(), "retention") {
		t.Errorf("window %q", got)
	}
}
