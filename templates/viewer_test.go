package templates

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/callscope/callscope/ladder"
	"github.com/callscope/callscope/qos"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// viewerProps is the viewer page of the fixture call as the viewer handler
// would build it. The style URL is fixed so goldens do not change with the
// stylesheet.
func viewerProps(f callFixture, opt ladder.Options) ViewerProps {
	opt.Aliases = f.Aliases
	d := ladder.Build(f.Messages, f.Events, opt)
	return ViewerProps{
		Title:    "Test call 42",
		CallID:   f.Messages[0].CallID,
		Theme:    "",
		Diagram:  d,
		Events:   f.Events,
		TextURL:  "/v/TOKEN/text",
		PCAPURL:  "/v/TOKEN/pcap",
		PageURL:  func(p int) string { return fmt.Sprintf("/v/TOKEN?page=%d", p) },
		StyleURL: "/static/app.css",
		GroupURL: "/v/TOKEN?group=ip",
	}
}

func TestViewerPageGolden(t *testing.T) {
	f := MustLoadCall(t, "call.json")
	checkGolden(t, "viewer.golden.html", MustRender(t, ViewerPage(viewerProps(f, ladder.Options{}))))
}

// checkGolden compares a rendered page with testdata/name, rewriting the
// file first under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("viewer page differs from %s; run go test ./templates -update and review the diff", golden)
	}
}

// everyBranch is the fixture call with what it lacks added: a second leg,
// a retransmission, a second capture node's copy (a hop), a message to
// itself, a log line, and SIP text that would be markup if not escaped
// (in a label, an SDP line, a node name, a note), so that the golden file
// pins the markup of every branch of the ladder.
func everyBranch(f callFixture) callFixture {
	msgs := slices.Clone(f.Messages)
	last := msgs[len(msgs)-1]
	next := func(m ladder.Message, after time.Duration) ladder.Message {
		m.Seq, m.Time = msgs[len(msgs)-1].Seq+1, msgs[len(msgs)-1].Time.Add(after)
		return m
	}
	first := msgs[0]
	resend := next(first, 500*time.Millisecond)
	msgs = append(msgs, resend)
	hop := next(msgs[1], 0)
	hop.Time = msgs[1].Time.Add(time.Millisecond)
	hop.CaptureID, hop.NodeName = 77, `core"><svg onload=alert(1)>`
	msgs = append(msgs, hop)
	self := next(last, 2*time.Millisecond)
	self.Src, self.Dst, self.Request, self.Method = last.Src, last.Src, true, `OPTIONS<script>alert("x")</script>&'`
	self.Raw = "OPTIONS sip:self SIP/2.0\r\n\r\n"
	self.SDP = &ladder.SDPSummary{Media: []ladder.SDPMedia{{Type: `audio"<b>`, Addr: "2001:db8::5", Port: 4000, Codecs: []string{"PCMU/8000"}, Direction: "sendonly"}}}
	msgs = append(msgs, self)
	leg := next(first, 3*time.Millisecond)
	leg.CallID, leg.Leg, leg.Raw = first.CallID+"_b2b-1", 1, strings.Replace(first.Raw, "INVITE", "INVITE ", 1)
	msgs = append(msgs, leg)
	events := append(slices.Clone(f.Events), ladder.Event{Time: leg.Time.Add(time.Millisecond), Kind: "log",
		Text: `dispatcher: <script>alert(1)</script> & "quotes"`, CaptureID: 77})
	return callFixture{Messages: msgs, Events: events, Aliases: f.Aliases}
}

func TestViewerPageGoldenEveryBranch(t *testing.T) {
	f := everyBranch(MustLoadCall(t, "call.json"))
	for _, tc := range []struct {
		name string
		opt  ladder.Options
	}{{"viewer_every_branch.golden.html", ladder.Options{}}, {"viewer_every_branch_by_ip.golden.html", ladder.Options{GroupByIP: true}}} {
		p := viewerProps(f, tc.opt)
		s, _ := NewSummary(busyRecord(), 14, nil)
		s.Callee.Name = `Bob</h1><script>alert(1)</script>`
		p.Summary = &s
		reports, err := qos.Parse(qos.PayloadRTCP, []byte(`{"type":201,"ssrc":1,"report_blocks":[{"source_ssrc":2,"fraction_lost":5,"packets_lost":3,"ia_jitter":40}]}`),
			f.Messages[0].Time.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		p.QoS = NewQoS(reports, f.Messages[0].Time, f.Messages[len(f.Messages)-1].Time)
		got := MustRender(t, ViewerPage(p))
		checkGolden(t, tc.name, got)
		for _, marker := range []string{`class="arrow arrow-request retransmission"`, ` hop"`, "leg-marker", `class="note note-log"`,
			` V `, "&lt;script&gt;", "&#34;&gt;&lt;svg", `data-testid="call-summary"`, `id="qos-jitter"`, "Bob&lt;/h1&gt;&lt;script&gt;"} {
			if !bytes.Contains(got, []byte(marker)) {
				t.Errorf("%s lacks %q: the fixture no longer covers that branch", tc.name, marker)
			}
		}
	}
}

func TestViewerPage(t *testing.T) {
	f := MustLoadCall(t, "call.json")

	t.Run("OK", func(t *testing.T) {
		html := MustRender(t, ViewerPage(viewerProps(f, ladder.Options{})))
		doc := MustDoc(t, html)
		if got := doc.Find("title").First().Text(); got != "Test call 42" {
			t.Errorf("title %q", got)
		}
		if got := doc.Find(`[data-testid="call-id"]`).Text(); got != f.Messages[0].CallID {
			t.Errorf("call id %q", got)
		}
		for _, id := range []string{"ladder", "message-table", "text-download", "pcap-download", "group-toggle"} {
			if doc.Find(`[data-testid="`+id+`"]`).Length() != 1 {
				t.Errorf("missing %s", id)
			}
		}
		if n := doc.Find(`[data-testid="ladder-arrow"]`).Length(); n != len(f.Messages) {
			t.Errorf("%d arrows", n)
		}
		if n := doc.Find(`[data-testid="raw-message"]`).Length(); n != len(f.Messages) {
			t.Errorf("%d raw messages", n)
		}
		if n := doc.Find(`[data-testid="event"]`).Length(); n != len(f.Events) {
			t.Errorf("%d events", n)
		}
		if doc.Find(`[data-testid="pagination"]`).Length() != 0 {
			t.Error("pagination on a one-page call")
		}
		if got := doc.Find(`[data-testid="group-toggle"]`).Text(); !strings.Contains(got, "per IP") || strings.Contains(got, "IP:port") {
			t.Errorf("group toggle %q", got)
		}
		if css, _ := doc.Find(`link[rel="stylesheet"]`).Attr("href"); css != "/static/app.css" {
			t.Errorf("stylesheet %q", css)
		}
		assertCSPClean(t, html)
	})

	t.Run("Hidden", func(t *testing.T) {
		p := viewerProps(f, ladder.Options{GroupByIP: true})
		p.TextURL, p.PCAPURL, p.GroupURL, p.Events = "", "", "", nil
		doc := MustDoc(t, MustRender(t, ViewerPage(p)))
		if n := doc.Find(`[data-testid="text-download"], [data-testid="pcap-download"], [data-testid="scenario-download"], [data-testid="group-toggle"], .actions, .events`).Length(); n != 0 {
			t.Errorf("%d hidden elements rendered", n)
		}
	})

	t.Run("ScenarioDownload", func(t *testing.T) {
		p := viewerProps(f, ladder.Options{})
		p.TextURL, p.PCAPURL, p.GroupURL = "", "", ""
		p.ScenarioURL = "/v/TOKEN/scenario.zip"
		doc := MustDoc(t, MustRender(t, ViewerPage(p)))
		if href, _ := doc.Find(`.actions [data-testid="scenario-download"]`).Attr("href"); href != p.ScenarioURL {
			t.Errorf("scenario download links to %q, want %q", href, p.ScenarioURL)
		}
	})

	t.Run("GroupedToggle", func(t *testing.T) {
		p := viewerProps(f, ladder.Options{GroupByIP: true})
		p.GroupByIP = true
		doc := MustDoc(t, MustRender(t, ViewerPage(p)))
		if got := doc.Find(`[data-testid="group-toggle"]`).Text(); !strings.Contains(got, "IP:port") {
			t.Errorf("group toggle %q", got)
		}
	})

	t.Run("Themes", func(t *testing.T) {
		for theme, want := range map[string]string{"light": "theme-light", "dark": "theme-dark", "": "", "\"><script>": ""} {
			p := viewerProps(f, ladder.Options{})
			p.Theme = theme
			doc := MustDoc(t, MustRender(t, ViewerPage(p)))
			if got := doc.Find("html").AttrOr("class", ""); got != want {
				t.Errorf("theme %q: html class %q, want %q", theme, got, want)
			}
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		long := callFixture{Aliases: f.Aliases}
		for i := range 250 {
			m := f.Messages[i%len(f.Messages)]
			m.Seq, m.Time = i+1, m.Time.Add(time.Duration(i)*time.Second)
			long.Messages = append(long.Messages, m)
		}
		for _, tt := range []struct {
			page       int
			links      []string
			wantArrows int
		}{
			{1, []string{"page-next", "page-last"}, 100},
			{2, []string{"page-first", "page-prev", "page-next", "page-last"}, 100},
			{3, []string{"page-first", "page-prev"}, 50},
		} {
			doc := MustDoc(t, MustRender(t, ViewerPage(viewerProps(long, ladder.Options{Page: tt.page}))))
			if n := doc.Find(`[data-testid="ladder-arrow"]`).Length(); n != tt.wantArrows {
				t.Errorf("page %d: %d arrows", tt.page, n)
			}
			if n := doc.Find(`[data-testid="raw-message"]`).Length(); n != tt.wantArrows {
				t.Errorf("page %d: %d raw messages", tt.page, n)
			}
			var got []string
			doc.Find(`[data-testid="pagination"] a`).Each(func(_ int, a *goquery.Selection) {
				got = append(got, a.AttrOr("data-testid", ""))
			})
			if strings.Join(got, ",") != strings.Join(tt.links, ",") {
				t.Errorf("page %d: links %q, want %q", tt.page, got, tt.links)
			}
			if next := doc.Find(`[data-testid="page-next"]`).AttrOr("href", ""); tt.page < 3 && next != fmt.Sprintf("/v/TOKEN?page=%d", tt.page+1) {
				t.Errorf("page %d: next %q", tt.page, next)
			}
		}
	})
}

func TestErrorPage(t *testing.T) {
	tests := []struct {
		kind, wantKind, title string
	}{
		{"expired", "expired", "This link has expired"},
		{"revoked", "revoked", "This link is no longer available"},
		{"invalid", "invalid", "This link does not work"},
		{"not_found", "not_found", "Call not found"},
		{"rate_limited", "rate_limited", "Too many requests"},
		{"unavailable", "unavailable", "Temporarily unavailable"},
		{"not_reproducible", "not_reproducible", "This call cannot be replayed"},
		{"internal", "internal", "Something went wrong"},
		{"<script>", "internal", "Something went wrong"},
		{"", "internal", "Something went wrong"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.wantKind+"/"+tt.kind, func(t *testing.T) {
			html := MustRender(t, ErrorPage(ErrorProps{Kind: tt.kind, RequestID: "req-7f3a", StyleURL: "/static/app.css", Theme: "dark"}))
			doc := MustDoc(t, html)
			e := doc.Find(`[data-testid="error"]`)
			if got := e.AttrOr("data-kind", ""); got != tt.wantKind {
				t.Errorf("kind %q", got)
			}
			if got := e.Find("h1").Text(); got != tt.title || doc.Find("title").Text() != tt.title {
				t.Errorf("title %q", got)
			}
			if got := doc.Find(`[data-testid="request-id"]`).Text(); got != "req-7f3a" {
				t.Errorf("request id %q", got)
			}
			sentence := e.Find("p").First().Text()
			if !strings.HasSuffix(sentence, ".") || strings.Count(sentence, ".") != 1 { // one sentence
				t.Errorf("sentence %q", sentence)
			}
			if prev, ok := seen[sentence]; ok && prev != tt.wantKind {
				t.Errorf("kinds %s and %s share a sentence", prev, tt.wantKind)
			}
			seen[sentence] = tt.wantKind
			lower := strings.ToLower(string(html))
			for _, leak := range []string{"signature", "token", "jwt", "kid", "key"} {
				if strings.Contains(lower, leak) {
					t.Errorf("error page mentions %q", leak)
				}
			}
			assertCSPClean(t, html)
		})
	}
	t.Run("NoRequestID", func(t *testing.T) {
		doc := MustDoc(t, MustRender(t, ErrorPage(ErrorProps{Kind: "expired"})))
		if doc.Find(`[data-testid="request-id"]`).Length() != 0 {
			t.Error("empty request id rendered")
		}
	})
}

// assertCSPClean checks what the CSP "default-src 'self'; style-src 'self'"
// would block: scripts, inline styles, inline event handlers.
func assertCSPClean(t *testing.T, html []byte) {
	t.Helper()
	doc := MustDoc(t, html)
	if n := doc.Find("script, style, [style]").Length(); n != 0 {
		t.Errorf("%d script/style elements or style attributes", n)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") {
				t.Errorf("event handler attribute %s=%q", a.Key, a.Val)
			}
		}
	})
}

// hostile strings from SIP headers, bodies and aliases.
var hostile = []string{
	`<script>alert(1)</script>`,
	`"><svg onload=alert(1)>`,
	`'><img src=x onerror=alert(1)>`,
	`javascript:alert(1)`,
	"INVITE\r\nX-Injected: <script>alert(1)</script>\r\n",
	`</text></svg><script>alert(1)</script>`,
	`]]><script>alert(1)</script>`,
	"\u202e\u0000\u2028<script>",
	strings.Repeat("☎️𝄞\u0301", 3000) + "<script>alert(1)</script>",
}

func TestHostileCorpus(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var msgs []ladder.Message
	var events []ladder.Event
	aliases := map[string]string{}
	for i, h := range hostile {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 5060)
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), 5060)
		aliases[src.String()] = h
		aliases[dst.Addr().String()] = h + "b"
		common := ladder.Message{
			Time: at.Add(time.Duration(i) * time.Second), Src: src, Dst: dst, Transport: h,
			CaptureID: uint32(i), NodeName: h, CSeq: h, CallID: h, Leg: i % 3, Raw: h,
			SDP: &ladder.SDPSummary{Media: []ladder.SDPMedia{{Type: h, Addr: h, Port: 1, Codecs: []string{h}, Direction: h}}},
		}
		req := common
		req.Seq, req.Request, req.Method = 2*i+1, true, h
		resp := common
		resp.Seq, resp.StatusCode, resp.Reason, resp.Src, resp.Dst = 2*i+2, 486, h, dst, src
		resp.Time = resp.Time.Add(time.Millisecond)
		msgs = append(msgs, req, resp, req) // the second req is a retransmission
		msgs[len(msgs)-1].Seq = 2*i + 1000
		events = append(events, ladder.Event{Time: common.Time, Kind: h, Text: h, CaptureID: uint32(i)})
	}
	d := ladder.Build(msgs, events, ladder.Options{Aliases: aliases})
	p := ViewerProps{
		Title: hostile[0], CallID: hostile[1], Theme: hostile[2], Diagram: d, Events: events,
		StyleURL: "/static/app.css", TextURL: "/v/T/text",
		PageURL: func(int) string { return "/v/T?page=2" }, GroupURL: "/v/T?group=ip",
	}
	pages := map[string][]byte{
		"viewer": MustRender(t, ViewerPage(p)),
		"error":  MustRender(t, ErrorPage(ErrorProps{Kind: hostile[0], RequestID: hostile[1]})),
		"ladder": MustRender(t, Ladder(d, "")),
	}
	for name, html := range pages {
		t.Run(name, func(t *testing.T) {
			lower := strings.ToLower(string(html))
			if strings.Contains(lower, "<script") {
				t.Error("unescaped <script")
			}
			if strings.Contains(lower, "<img") || strings.Contains(lower, "<svg onload") {
				t.Error("injected element")
			}
			doc := MustDoc(t, html)
			doc.Find("[href], [src], [action], [formaction], [xlink\\:href]").Each(func(_ int, s *goquery.Selection) {
				for _, a := range s.Nodes[0].Attr {
					switch a.Key {
					case "href", "src", "action", "formaction", "xlink:href":
					default:
						continue
					}
					v := strings.ToLower(strings.TrimSpace(a.Val))
					if strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") {
						t.Errorf("%s=%q", a.Key, a.Val)
					}
				}
			})
			// The parsed DOM is what a browser builds: no element may carry an
			// event handler, whatever the text around it looks like.
			assertCSPClean(t, html)
			if name == "viewer" {
				// The raw text survives escaping intact, so people see what was sent.
				var found bool
				doc.Find(`[data-testid="raw-message"]`).Each(func(_ int, s *goquery.Selection) {
					found = found || s.Text() == hostile[0]
				})
				if !found {
					t.Error("raw hostile message not shown verbatim")
				}
				if n := doc.Find(`[data-testid="ladder-arrow"]`).Length(); n != len(msgs) {
					t.Errorf("%d arrows for %d messages", n, len(msgs))
				}
				if n := doc.Find(`[data-testid="retransmission"]`).Length(); n != len(hostile) {
					t.Errorf("%d retransmissions, want %d", n, len(hostile))
				}
			}
		})
	}
}
