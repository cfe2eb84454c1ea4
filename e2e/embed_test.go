package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callscope/callscope/demo"
)

// TestEmbed is the public viewer as a tenant's customer meets it: a page of
// the customer's app, on another origin than the viewer, iframes a link the
// tenant's orchestrator minted with its API key, in a real Chromium.
//
//	Chromium tab ── http://127.0.0.2:P/?src=LINK   customer page, an embed origin
//	   └─ iframe ── http://127.0.0.9:V/v/TOKEN       callscope viewer (another site:
//	                                                 an out-of-process frame)
//
// The ladder renders inside the frame; the same page served from
// 127.0.0.3, not an embed origin of the tenant, gets the frame blocked by
// the viewer's CSP frame-ancestors; an expired link and a revoked one show
// their own pages inside the frame. Screenshots of each land in
// e2e/artifacts/TestEmbed_*/.
func TestEmbed(t *testing.T) {
	needChromium(t)
	t.Parallel()
	allowed := listenCustomer(t, "127.0.0.2")
	stranger := listenCustomer(t, "127.0.0.3")
	cs := newCallscope(t)
	provisionDemo(t, cs, allowed.Origin)
	cs.Start(t)
	callID := runDemo(t, cs)[demoAnswered]
	apiKey := createAPIKey(t, cs, demoSlug)

	// The link to expire is minted first, with the shortest lifetime the
	// API takes: the viewer accepts it until 30 s (its clock-skew leeway)
	// past exp, and the other subtests run while it ages (Expired is the
	// last). Making the server's clock irrelevant would need a clock
	// setting on serve; one wait of ~30 s, while the other top-level e2e
	// tests run in parallel, is the honest cost.
	expiring := mintToken(t, cs, apiKey, callID, time.Second)
	if status, _ := frameAncestors(t, expiring.URL); status != 200 {
		t.Fatalf("the 1 s link before it expired: GET %s, want 200", fmt.Sprint(status))
	}
	link := mintToken(t, cs, apiKey, callID, 10*time.Minute)
	toRevoke := mintToken(t, cs, apiKey, callID, 10*time.Minute)
	stored := countStored(t, cs.DatabaseURL, "call_id IN ($1, $1 || '_b2b-1')", callID)
	browser := newBrowser(t)

	t.Run("Ladder", func(t *testing.T) {
		tab := newTab(t, browser)
		do(t, tab, "open the customer page", chromedp.Navigate(allowed.PageURL(link.URL)))
		frame := frameContext(t, tab, link.URL)
		do(t, frame, "wait for the ladder inside the frame", chromedp.WaitVisible(chromedp.CSS(testID("ladder"))))

		if got := eval[string](t, frame, "document.URL"); got != link.URL {
			t.Errorf("frame document at %q, want the viewer link %q", got, link.URL)
		}
		if got := run(t, frame, "Call-ID", chromedp.Text(chromedp.CSS(testID("call-id")))); got != callID {
			t.Errorf("Call-ID shown in the frame: %q, want %q", got, callID)
		}
		// Alice, the proxy and Bob, and Carol of the B-leg the demo
		// correlates with the call: one column each, in order of appearance;
		// the proxy's column is named after the capture node at its
		// address, the address under the name.
		labels := eval[[]string](t, frame, `[...document.querySelectorAll('[data-testid=ladder-column] .column-label')].map(e => e.textContent)`)
		want := []string{demo.Alice.String(), "demo-proxy", demo.Bob.String(), demo.Carol.String()}
		if !slices.Equal(labels, want) {
			t.Errorf("ladder columns %q, want %q", labels, want)
		}
		addrs := eval[[]string](t, frame, `[...document.querySelectorAll('[data-testid=ladder-column] .column-addr')].map(e => e.textContent)`)
		if !slices.Equal(addrs, []string{demo.Proxy.String()}) {
			t.Errorf("addresses under named columns %q, want the proxy's %s", addrs, demo.Proxy)
		}
		// One arrow per stored SIP message of the call and its B-leg,
		// INVITE first.
		arrows := eval[[]string](t, frame, `[...document.querySelectorAll('[data-testid=ladder-arrow]')].map(e => e.getAttribute('aria-label'))`)
		if len(arrows) != stored {
			t.Errorf("%d ladder arrows, want one per stored SIP message: %d\n%s", len(arrows), stored, strings.Join(arrows, "\n"))
		}
		if len(arrows) == 0 || !strings.Contains(arrows[0], "INVITE") {
			t.Errorf("first arrow %q, want the INVITE", arrows)
		}
		// The page around the frame is the customer's: the frame is the
		// size the customer gave it, and the ladder is visible in it.
		if h := eval[float64](t, tab, `document.getElementById('call').getBoundingClientRect().height`); h < 800 {
			t.Errorf("iframe height %v, want the page's 900", h)
		}
		do(t, tab, "size the window to the page", chromedp.EmulateViewport(1280, 1100))
		screenshot(t, tab, "embedded-ladder.png")
	})

	t.Run("OtherOriginBlocked", func(t *testing.T) {
		// The viewer says who may frame it: the tenant's embed origins
		// and nobody else.
		status, fa := frameAncestors(t, link.URL)
		if status != 200 || fa != allowed.Origin {
			t.Fatalf("GET link: %d with frame-ancestors %q, want 200 with %q only", status, fa, allowed.Origin)
		}
		tab := newTab(t, browser)
		// Subscribed before the navigation, so that Chromium's report of
		// the refusal cannot be missed.
		consoleCtx, stopConsole := context.WithTimeout(tab, browserTimeout)
		defer stopConsole()
		messages := chromedp.Console(consoleCtx)
		do(t, tab, "open the page on a foreign origin", chromedp.Navigate(stranger.PageURL(link.URL)))
		// Chromium says why, in the embedding page's console: the
		// viewer's frame-ancestors, not a network error.
		var refusal string
		for m, err := range messages {
			if err != nil {
				t.Errorf("no console message about frame-ancestors from the embedding page: %v", err)
				break
			}
			if strings.Contains(m.Text, "frame-ancestors") {
				refusal = m.Text
				break
			}
		}
		stopConsole()
		// "Framing 'http://127.0.0.9:V/' violates the following Content
		// Security Policy directive: "frame-ancestors http://127.0.0.2:P".
		// The request has been blocked."
		if refusal != "" && (!strings.Contains(refusal, `"frame-ancestors `+allowed.Origin+`"`) || !strings.Contains(refusal, "blocked")) {
			t.Errorf("Chromium's console: %q, want the frame blocked under frame-ancestors %s", refusal, allowed.Origin)
		}
		t.Logf("Chromium's console: %s", refusal)
		frame := frameContext(t, tab, link.URL)
		// Chromium replaces a frame that frame-ancestors refuses with its
		// own error document, chrome-error://chromewebdata/ ("127.0.0.9
		// refused to connect"), in place of the viewer's.
		var url string
		err := eventually(browserTimeout, func() error {
			url = eval[string](t, frame, "document.URL")
			if strings.HasPrefix(url, "chrome-error://") {
				return nil
			}
			return fmt.Errorf("frame document at %q, want Chromium's blocked-frame error page", url)
		})
		if err != nil {
			t.Error(err)
		}
		if n := eval[int](t, frame, `document.querySelectorAll('[data-testid=ladder], [data-testid=call-id]').length`); n != 0 {
			t.Errorf("the blocked frame shows %d ladder elements, want none", n)
		}
		t.Logf("blocked frame: %s: %q", url, eval[string](t, frame, "document.body.innerText"))
		do(t, tab, "size the window to the page", chromedp.EmulateViewport(1280, 1100))
		screenshot(t, tab, "blocked-frame.png")
	})

	t.Run("Revoked", func(t *testing.T) {
		tab := newTab(t, browser)
		page := allowed.PageURL(toRevoke.URL)
		do(t, tab, "open the customer page", chromedp.Navigate(page))
		do(t, frameContext(t, tab, toRevoke.URL), "the link works before revocation", chromedp.WaitVisible(chromedp.CSS(testID("ladder"))))

		revokeToken(t, cs, apiKey, toRevoke.JTI)
		do(t, tab, "reload the customer page", chromedp.Navigate(page))
		frame := frameContext(t, tab, toRevoke.URL)
		checkErrorPage(t, frame, "revoked", "This link is no longer available")
		status, fa := frameAncestors(t, toRevoke.URL)
		if status != 401 || fa != allowed.Origin {
			t.Errorf("GET revoked link: %d with frame-ancestors %q, want 401 framed by %q", status, fa, allowed.Origin)
		}
		do(t, tab, "size the window to the page", chromedp.EmulateViewport(1280, 1100))
		screenshot(t, tab, "revoked.png")
	})

	t.Run("Expired", func(t *testing.T) {
		wait := time.Until(expiring.ExpiresAt.Add(30*time.Second + 1500*time.Millisecond))
		t.Logf("waiting %s for the 1 s link to pass exp plus the viewer's 30 s leeway", wait.Round(time.Second))
		time.Sleep(wait)
		tab := newTab(t, browser)
		do(t, tab, "open the customer page", chromedp.Navigate(allowed.PageURL(expiring.URL)))
		frame := frameContext(t, tab, expiring.URL)
		checkErrorPage(t, frame, "expired", "This link has expired")
		status, fa := frameAncestors(t, expiring.URL)
		if status != 401 || fa != allowed.Origin {
			t.Errorf("GET expired link: %d with frame-ancestors %q, want 401 framed by %q", status, fa, allowed.Origin)
		}
		do(t, tab, "size the window to the page", chromedp.EmulateViewport(1280, 1100))
		screenshot(t, tab, "expired.png")
	})
}

// newTab opens a tab of its own in browser; tabs are safe to use from
// parallel subtests, one context each.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	// The first run opens the tab and binds the tab's life to the context
	// it gets: no deadline here, or the tab would close with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// checkErrorPage fails t unless the document of ctx is the viewer's
// friendly error page of kind with its title, and no ladder.
func checkErrorPage(t *testing.T, ctx context.Context, kind, title string) {
	t.Helper()
	do(t, ctx, "wait for the "+kind+" page", chromedp.WaitVisible(chromedp.CSS(testID("error"))))
	got := run(t, ctx, "error kind", chromedp.AttributeValue(chromedp.CSS(testID("error")), "data-kind"))
	if got.Value != kind {
		t.Errorf("error page of kind %q, want %q", got.Value, kind)
	}
	if h := run(t, ctx, "error heading", chromedp.Text(chromedp.CSS(testID("error")+" h1"))); h != title {
		t.Errorf("error page heading %q, want %q", h, title)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid=ladder]').length`); n != 0 {
		t.Errorf("the %s page shows a ladder", kind)
	}
}

// TestEmbedKamailioCall embeds a call that real peers made: a SIPp UAC
// calls a SIPp UAS through a Kamailio proxy whose siptrace reports every
// message to callscope over HEP/UDP with an auth key; the tenant's link to
// that call, minted with its API key, renders inside the customer's page
// with one column per endpoint and one arrow per stored message.
//
//	UAC 127.0.0.13 ─> proxy 127.0.0.26 ─> UAS 127.0.0.34
//	                  │ HEP/UDP, capture ID 2101, auth key
//	                  v
//	            callscope ingest ── viewer <── iframe in http://127.0.0.2:P/
func TestEmbedKamailioCall(t *testing.T) {
	needPeers(t)
	needChromium(t)
	t.Parallel()
	site := listenCustomer(t, "127.0.0.2")
	cs := newCallscope(t)
	cs.CLI(t, "tenant", "create", "acme", "--name", "Acme", "--embed-origin", site.Origin)
	cs.CLI(t, "node", "add", "acme", "2101", "--name", "edge-proxy", "--auth-key", "acme-edge-key")
	cs.Start(t)
	proxy := Proxy{Name: "edge", Addr: freeSIPAddr(t, "127.0.0.26"), HEPURI: "sip:" + cs.HEPAddr, CaptureID: 2101, AuthKey: "acme-edge-key"}
	startKamailio(t, proxy)
	answered := callKinds[0]
	answered.Calls = 1
	runCallKinds(t, "embed", proxy, "127.0.0.13", "127.0.0.34", []callKind{answered})

	// The call is complete once the proxy's 200 to the BYE, both ways,
	// is stored, and stays that way.
	callID := waitCallStored(t, cs, "acme", 2, func(string) bool { return true })
	stored := countStored(t, cs.DatabaseURL, "call_id = $1", callID)
	link := mintToken(t, cs, createAPIKey(t, cs, "acme"), callID, 10*time.Minute)

	tab := newTab(t, newBrowser(t))
	do(t, tab, "open the customer page", chromedp.Navigate(site.PageURL(link.URL)))
	frame := frameContext(t, tab, link.URL)
	do(t, frame, "wait for the ladder inside the frame", chromedp.WaitVisible(chromedp.CSS(testID("ladder"))))
	if got := run(t, frame, "Call-ID", chromedp.Text(chromedp.CSS(testID("call-id")))); got != callID {
		t.Errorf("Call-ID shown in the frame: %q, want %q", got, callID)
	}
	labels := eval[[]string](t, frame, `[...document.querySelectorAll('[data-testid=ladder-column] .column-label')].map(e => e.textContent)`)
	addrs := eval[[]string](t, frame, `[...document.querySelectorAll('[data-testid=ladder-column] .column-addr')].map(e => e.textContent)`)
	if len(labels) != 3 || !strings.HasPrefix(labels[0], "127.0.0.13:") || labels[1] != "edge-proxy" || !strings.HasPrefix(labels[2], "127.0.0.34:") ||
		!slices.Equal(addrs, []string{proxy.Addr}) {
		t.Errorf("ladder columns %q (addresses %q), want the UAC on 127.0.0.13, the proxy's node edge-proxy over %s, the UAS on 127.0.0.34",
			labels, addrs, proxy.Addr)
	}
	arrows := eval[[]string](t, frame, `[...document.querySelectorAll('[data-testid=ladder-arrow]')].map(e => e.getAttribute('aria-label'))`)
	if len(arrows) != stored {
		t.Errorf("%d ladder arrows, want one per stored SIP message: %d\n%s", len(arrows), stored, strings.Join(arrows, "\n"))
	}
	do(t, tab, "size the window to the page", chromedp.EmulateViewport(1280, 1100))
	screenshot(t, tab, "kamailio-call.png")
}
