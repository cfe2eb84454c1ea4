package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callscope/callscope/demo"
	"github.com/callscope/callscope/hep"
)

// TestCustomerView is the viewer as a tenant's customer sees it, in a
// real Chromium: three calls — answered and busy through a real Kamailio
// proxy, and the demo's answered call with RTCP reports sent beside it —
// each at 1280 px, at 400 px, in the dark theme and in the compact view
// inside a 700 px iframe on an allowed origin. The screenshots are
// committed under e2e/artifacts/TestCustomerView/ (look at them after a
// change to the viewer's pages); the checks are the customer's:
//
//   - the summary of the real Kamailio busy call says 486;
//
//   - the proxy's LOG lines are absent unless the tenant turns them on;
//
//   - a link whose window cuts the call says how much it shows;
//
//   - the compact view of a ~20-message call fits its 700 px frame;
//
//   - a click on an arrow opens the message's detail, and its close link
//     goes back, without a script.
//
//     UAC 127.0.0.15 ─> Kamailio 127.0.0.27 ─> UAS 127.0.0.35
//     │ HEP/UDP, capture ID 2201 "kamailio-edge"
//     callscope demo ───┤ HEP/UDP, capture ID 4242, + RTCP reports
//     v
//     callscope ── viewer <── iframe in http://127.0.0.2:P/
func TestCustomerView(t *testing.T) {
	needPeers(t)
	needChromium(t)
	t.Parallel()
	site := listenCustomer(t, "127.0.0.2")
	cs := newCallscope(t)
	provisionDemo(t, cs, site.Origin)
	cs.CLI(t, "node", "add", demoSlug, "2201", "--name", "kamailio-edge")
	cs.Start(t)
	proxy := Proxy{Name: "cv", Addr: freeSIPAddr(t, "127.0.0.27"), HEPURI: "sip:" + cs.HEPAddr, CaptureID: 2201}
	startKamailio(t, proxy)
	answered, busy := callKinds[0], callKinds[1]
	answered.Calls, busy.Calls = 1, 1
	runCallKinds(t, "cv", proxy, "127.0.0.15", "127.0.0.35", []callKind{answered, busy})
	rtcpCall := runDemo(t, cs)[demoAnswered]
	apiKey := createAPIKey(t, cs, demoSlug)

	records := map[string]record{}
	err := eventually(20*time.Second, func() error {
		for prefix, outcome := range map[string]string{"cv-answered-": "answered", "cv-busy-": "busy", rtcpCall: "answered"} {
			got := listCalls(t, cs, apiKey, prefix)
			if r, ok := got[prefix]; ok { // the demo's call by its Call-ID, not its B-leg
				got = map[string]record{prefix: r}
			}
			if len(got) != 1 {
				return fmt.Errorf("%d %s* calls, want 1", len(got), prefix)
			}
			for id, r := range got {
				if r.Outcome != outcome {
					return fmt.Errorf("%s: outcome %s so far, want %s", id, r.Outcome, outcome)
				}
				records[prefix] = r
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sendRTCP(t, cs.HEPAddr, rtcpCall, records[rtcpCall].StartedAt)

	links := map[string]string{}
	for name, prefix := range map[string]string{"answered": "cv-answered-", "busy": "cv-busy-", "rtcp": rtcpCall} {
		links[name] = mintToken(t, cs, apiKey, records[prefix].CallID, 10*time.Minute).URL
	}
	// The RTCP reports are stored once their figures show.
	err = eventually(20*time.Second, func() error {
		if body := getPage(t, links["rtcp"]); !bytes.Contains(body, []byte(`id="qos-jitter"`)) {
			return fmt.Errorf("no jitter chart on the page of %s yet", rtcpCall)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("BusySummarySays486", func(t *testing.T) {
		body := string(getPage(t, links["busy"]))
		if !strings.Contains(body, `data-testid="call-outcome">Busy — 486 Busy Here<`) {
			t.Errorf("the busy call's summary does not say 486:\n%s", summaryOf(body))
		}
	})
	t.Run("CutWindowAnnounced", func(t *testing.T) {
		// From 3 s into the call (windows are whole seconds): the INVITE,
		// the ringing and the answer are outside.
		r := records[rtcpCall]
		from := r.StartedAt.Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
		u := mintWindow(t, cs, apiKey, rtcpCall, from, from.Add(10*time.Minute))
		body := string(getPage(t, u))
		want := fmt.Sprintf(" of %d messages of the call.", r.Messages)
		if !strings.Contains(body, `data-testid="window-cut"`) || !strings.Contains(body, want) {
			t.Errorf("a window from %s does not say it cuts the call (want %q):\n%s", from, want, summaryOf(body))
		}
	})

	browser := newBrowser(t)
	for _, name := range []string{"answered", "busy", "rtcp"} {
		t.Run("Screenshots/"+name, func(t *testing.T) {
			link := links[name]
			tab := newTab(t, browser)
			for _, v := range []struct {
				file, query string
				width       int64
			}{
				{name + "-1280.png", "?theme=light", 1280},
				{name + "-400.png", "?theme=light", 400},
				{name + "-dark.png", "?theme=dark", 1280},
			} {
				do(t, tab, "open "+v.file, chromedp.EmulateViewport(v.width, 900), chromedp.Navigate(link+v.query),
					chromedp.WaitVisible(chromedp.CSS(testID("call-summary"))))
				if v.width == 400 {
					// Columns do not fit 400 px: the vertical timeline replaces them.
					if !eval[bool](t, tab, `getComputedStyle(document.querySelector('[data-testid=timeline]')).display !== 'none' && getComputedStyle(document.querySelector('.ladder')).display === 'none'`) {
						t.Error("at 400 px the ladder shows, not the timeline")
					}
					if w := eval[float64](t, tab, `document.documentElement.scrollWidth`); w > 400 {
						t.Errorf("the page is %v px wide at 400 px", w)
					}
				}
				saveScreenshot(t, tab, v.file)
			}

			// Inside a 700 px iframe of the customer's page, compact.
			framed := link + "?compact=1"
			do(t, tab, "open the customer page", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(site.SizedPageURL(framed, 1200, 700)))
			frame := frameContext(t, tab, framed)
			do(t, frame, "wait for the ladder in the frame", chromedp.WaitVisible(chromedp.CSS(testID("ladder"))))
			painted(t, frame)
			arrows := eval[int](t, frame, `document.querySelectorAll('[data-testid=ladder-arrow]').length`)
			if h, inner := eval[float64](t, frame, `document.documentElement.scrollHeight`), eval[float64](t, frame, `window.innerHeight`); arrows <= 20 && h > inner {
				t.Errorf("the compact view of %d messages is %v px tall in a %v px frame", arrows, h, inner)
			}
			saveScreenshot(t, tab, name+"-iframe700.png")

			if name != "answered" {
				return
			}
			// A click on the INVITE opens its detail beside the diagram; the
			// close link goes back to the arrow and closes it. No script runs:
			// the page has none.
			do(t, frame, "open the INVITE's detail", chromedp.Click(chromedp.CSS(`a#a1`)), chromedp.WaitVisible(chromedp.CSS(`#m1`)))
			if got := eval[string](t, frame, `document.querySelector('#m1 caption').textContent`); !strings.HasPrefix(got, "INVITE sip:") {
				t.Errorf("the detail's start line is %q", got)
			}
			painted(t, frame)
			saveScreenshot(t, tab, name+"-detail.png")
			do(t, frame, "close the detail", chromedp.Click(chromedp.CSS(`#m1 `+testID("detail-close"))), chromedp.WaitNotVisible(chromedp.CSS(`#m1`)))
			if got := eval[string](t, frame, `location.hash`); got != "#a1" {
				t.Errorf("back at %q, want the arrow #a1", got)
			}
		})
	}
	t.Run("LogLinesOnlyWhenTheTenantWantsThem", func(t *testing.T) {
		// The demo's answered call carries one LOG line of its proxy.
		const logLine = "location lookup hit"
		for _, u := range []string{links["rtcp"], links["rtcp"] + "/text"} {
			if bytes.Contains(getPage(t, u), []byte(logLine)) {
				t.Fatalf("GET %s shows the proxy's LOG line by default", u)
			}
		}
		// Last: the screenshots above show the default.
		cs.CLI(t, "tenant", "internal-events", demoSlug, "on")
		// Query's tenant cache follows the change within seconds.
		err := eventually(20*time.Second, func() error {
			if !bytes.Contains(getPage(t, links["rtcp"]), []byte(logLine)) {
				return fmt.Errorf("the LOG line is not shown yet with internal events on")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// saveScreenshot saves a full-page PNG of the tab as
// e2e/artifacts/TestCustomerView/name, where it is committed.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	dir := filepath.Join("artifacts", "TestCustomerView")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// painted waits until the document of ctx (an out-of-process frame) has
// rendered two frames, so that a screenshot of the tab around it shows it.
func painted(t *testing.T, ctx context.Context) {
	t.Helper()
	run(t, ctx, "wait for the frame to paint", chromedp.Evaluate[bool](
		`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise))
}

// summaryOf is the text of a page's header, for failure messages.
func summaryOf(body string) string {
	if i := strings.Index(body, `<header class="call-header">`); i >= 0 {
		body = body[i:]
	}
	if i := strings.Index(body, "</header>"); i >= 0 {
		body = body[:i]
	}
	return body
}

// mintWindow mints a link for callID with the window [from, to].
func mintWindow(t *testing.T, cs *Callscope, apiKey, callID string, from, to time.Time) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"call_id": callID, "window_start": from.UTC().Format(time.RFC3339),
		"window_end": to.UTC().Format(time.RFC3339), "ttl_seconds": 600})
	req, _ := http.NewRequest(http.MethodPost, cs.PublicURL+"/api/v1/view-tokens", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, b := do1(t, req)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/view-tokens: %s\n%s", resp.Status, b)
	}
	var m minted
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.URL
}

// sendRTCP sends, from the demo's capture node, RTCP receiver reports of
// both media streams of the demo's answered call (correlated by its
// Call-ID, as heplify does), every 2 s of its talk time: jitter rising on
// Alice's stream, a burst of loss on Bob's, and an XR MOS on each.
func sendRTCP(t *testing.T, hepAddr, callID string, started time.Time) {
	t.Helper()
	c, err := net.Dial("udp", hepAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	alice := netip.AddrPortFrom(demo.Alice.Addr(), 40001)
	bob := netip.AddrPortFrom(demo.Bob.Addr(), 50001)
	for i := range 4 {
		at := started.Add(3*time.Second + time.Duration(i)*2*time.Second)
		for _, s := range []struct {
			src, dst         netip.AddrPort
			ssrc, of         uint32
			jitter, fraction int
			lost, mos        int
		}{
			{alice, bob, 0x1001, 0x2002, 24 + 40*i, 0, 0, 43 - i},
			{bob, alice, 0x2002, 0x1001, 16, []int{0, 13, 38, 3}[i], []int{0, 5, 20, 22}[i], []int{43, 40, 33, 41}[i]},
		} {
			payload := fmt.Sprintf(`{"type":201,"ssrc":%d,"report_count":1,"report_blocks":[{"source_ssrc":%d,"fraction_lost":%d,"packets_lost":%d,"highest_seq_no":%d,"ia_jitter":%d,"lsr":0,"dlsr":0}],"report_blocks_xr":{"type":7,"id":%d,"mos_cq":%d}}`,
				s.ssrc, s.of, s.fraction, s.lost, 100*(i+1), s.jitter, s.of, s.mos)
			p := hep.Packet{Version: 3, Family: hep.FamilyIPv4, Protocol: hep.ProtoUDP, Src: s.src, Dst: s.dst,
				PayloadType: 5, CaptureID: 4242, Payload: []byte(payload), CorrelationID: []byte(callID)}
			p.SetTime(at)
			if _, err := c.Write(p.AppendV3(nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
}
