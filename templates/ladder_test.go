package templates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/callscope/callscope/ladder"
)

func TestLadder(t *testing.T) {
	f := MustLoadCall(t, "call.json")
	d := ladder.Build(f.Messages, f.Events, ladder.Options{Aliases: f.Aliases})
	doc := MustDoc(t, MustRender(t, Ladder(d, "")))

	svg := doc.Find(`svg[data-testid="ladder"]`)
	if svg.Length() != 1 {
		t.Fatalf("%d ladders", svg.Length())
	}
	if role, _ := svg.Attr("role"); role != "img" {
		t.Errorf("role = %q", role)
	}
	if title := svg.ChildrenFiltered("title").Text(); !strings.Contains(title, "10 SIP messages between 3 endpoints") {
		t.Errorf("title = %q", title)
	}
	cols := texts(doc.Find(`[data-testid="ladder-column"] .column-label`))
	if want := []string{"Alice", "Proxy", "PBX"}; !slices.Equal(cols, want) {
		t.Errorf("columns = %q, want %q", cols, want)
	}
	arrows := doc.Find(`[data-testid="ladder-arrow"]`)
	if arrows.Length() != len(f.Messages) {
		t.Fatalf("%d arrows for %d messages", arrows.Length(), len(f.Messages))
	}
	arrows.Each(func(i int, a *goquery.Selection) {
		if href, _ := a.Attr("href"); href != fmt.Sprintf("#m%d", f.Messages[i].Seq) {
			t.Errorf("arrow %d href %q", i, href)
		}
	})
	if n := doc.Find(`[data-testid="ladder-note"]`).Length(); n != 2 {
		t.Errorf("%d notes", n)
	}
	if n := doc.Find(`[data-testid="retransmission"]`).Length(); n != 0 {
		t.Errorf("%d retransmissions in a clean call", n)
	}
	// Responses read without colour: dashed line, open head.
	inv, ok := arrows.Eq(0), arrows.Eq(1)
	if _, dashed := inv.Find("path.line").Attr("stroke-dasharray"); dashed || inv.Find("polygon.head").Length() != 1 {
		t.Error("request arrow should be solid with a closed head")
	}
	if _, dashed := ok.Find("path.line").Attr("stroke-dasharray"); !dashed || ok.Find("polyline.head").Length() != 1 {
		t.Error("response arrow should be dashed with an open head")
	}
	if got := strings.TrimSpace(ok.Find(".label").Text()); got != "100 Trying" {
		t.Errorf("label %q", got)
	}
	if got := arrows.Eq(0).Find(".sub").Text(); got != "audio 192.0.2.10:40000 PCMU/8000 PCMA/8000 telephone-event/8000 sendrecv" {
		t.Errorf("SDP line %q", got)
	}
}

func TestLadderRetransmissionAndHop(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := ladder.Message{
		Seq: 1, Time: at, Request: true, Method: "INVITE", CaptureID: 1, NodeName: "edge",
		Src: netip.MustParseAddrPort("10.0.0.1:5060"), Dst: netip.MustParseAddrPort("10.0.0.2:5060"), Raw: "INVITE sip:x SIP/2.0\r\n\r\n",
	}
	hop := m
	hop.Seq, hop.Time, hop.CaptureID, hop.NodeName = 2, at.Add(-time.Millisecond), 2, "core"
	re := m
	re.Seq, re.Time = 3, at.Add(500*time.Millisecond)
	d := ladder.Build([]ladder.Message{m, hop, re}, nil, ladder.Options{})
	doc := MustDoc(t, MustRender(t, Ladder(d, "/console/calls/1")))
	arrows := doc.Find(`[data-testid="ladder-arrow"]`)
	if arrows.Length() != 3 {
		t.Fatalf("%d arrows", arrows.Length())
	}
	if href, _ := arrows.Eq(2).Attr("href"); href != "/console/calls/1#m3" {
		t.Errorf("href with prefix = %q", href)
	}
	re3 := doc.Find(`[data-testid="retransmission"]`)
	if re3.Length() != 1 || re3.Closest(`[data-testid="ladder-arrow"]`).AttrOr("data-seq", "") != "3" {
		t.Errorf("retransmission marks: %d", re3.Length())
	}
	if got := arrows.Eq(1).Find(".sub").Text(); got != "also captured by core" {
		t.Errorf("hop annotation %q", got)
	}
	if !arrows.Eq(1).HasClass("hop") || arrows.Eq(1).HasClass("retransmission") {
		t.Error("hop arrow classes")
	}
}

func TestLadderLegs(t *testing.T) {
	f := MustLoadCall(t, "call.json")
	b := f.Messages[0]
	b.Seq, b.Leg, b.CallID = 99, 1, "b-leg@example.net"
	d := ladder.Build(append(f.Messages, b), nil, ladder.Options{})
	doc := MustDoc(t, MustRender(t, Ladder(d, "")))
	legs := texts(doc.Find(`[data-testid="ladder-leg"]`))
	if len(legs) != 2 || !strings.Contains(legs[1], "leg 1: b-leg@example.net (1 message)") {
		t.Errorf("legend = %q", legs)
	}
	if n := doc.Find(`[data-testid="ladder-arrow"] .leg-marker`).Length(); n != len(f.Messages)+1 {
		t.Errorf("%d leg markers", n)
	}
	single := MustDoc(t, MustRender(t, Ladder(ladder.Build(f.Messages, nil, ladder.Options{}), "")))
	if single.Find(`[data-testid="ladder-leg"], .leg-marker`).Length() != 0 {
		t.Error("a single-leg call has a leg legend")
	}
}

func TestMessageTableAndRaw(t *testing.T) {
	f := MustLoadCall(t, "call.json")
	d := ladder.Build(f.Messages, nil, ladder.Options{Aliases: f.Aliases})
	doc := MustDoc(t, MustRender(t, templ.Join(MessageTable(d), RawMessages(d))))

	rows := doc.Find(`[data-testid="message-row"]`)
	if rows.Length() != len(f.Messages) {
		t.Fatalf("%d table rows", rows.Length())
	}
	heads := texts(doc.Find("table.messages thead th"))
	if want := []string{"#", "Time", "Delta", "From", "To", "Message", "Node"}; !slices.Equal(heads, want) {
		t.Errorf("headers %q", heads)
	}
	first := rows.Eq(0).Find("td")
	if got := first.Eq(1).Text(); got != "09:26:53.100" {
		t.Errorf("time %q", got)
	}
	if got := rows.Eq(1).Find("td").Eq(2).Text(); got != "+1.3 ms" {
		t.Errorf("delta %q", got)
	}
	if got := first.Eq(3).Text(); got != "Alice 192.0.2.10:5060" {
		t.Errorf("from cell %q", got)
	}
	if got := first.Eq(6).Text(); got != "edge-fra1" {
		t.Errorf("node %q", got)
	}

	raws := doc.Find(`pre[data-testid="raw-message"]`)
	if raws.Length() != len(f.Messages) {
		t.Fatalf("%d raw messages", raws.Length())
	}
	raws.Each(func(i int, pre *goquery.Selection) {
		m := f.Messages[i]
		if id, _ := pre.Attr("id"); id != fmt.Sprintf("m%d", m.Seq) {
			t.Errorf("raw %d id %q", i, id)
		}
		// The HTML parser turns CRLF into LF, as browsers do.
		if pre.Text() != strings.ReplaceAll(m.Raw, "\r\n", "\n") {
			t.Errorf("raw %d text differs", i)
		}
	})
}

func TestRenderError(t *testing.T) {
	boom := errors.New("boom")
	c := templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		io.WriteString(w, "<html><body>half a page")
		return boom
	})
	b, err := Render(context.Background(), c)
	if !errors.Is(err, boom) || b != nil {
		t.Fatalf("Render = %q, %v", b, err)
	}
}
