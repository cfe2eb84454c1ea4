package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleStatsToCalls drives the console in Chromium from the
// statistics page to the failing calls it counts: the demo sends three
// rounds of calls over HEP (each an answered call with its B leg, a call
// refused 486 Busy Here, a REGISTER); the statistics of the last hour
// count three 4xx INVITEs; clicking that figure opens the calls list
// filtered to them, which lists exactly the three busy calls. From there
// the list is narrowed further with its form (From user, columns), and the
// failing-destinations bar opens the same calls. Screenshots of the pages
// land in e2e/artifacts/TestConsoleStatsToCalls/.
func TestConsoleStatsToCalls(t *testing.T) {
	needChromium(t)
	t.Parallel()
	cs := newCallscope(t)
	provisionDemo(t, cs)
	email := fmt.Sprintf("stats-%d@callscope.test", time.Now().UnixNano())
	const password = "correct horse battery staple"
	cs.CLIWithInput(t, password+"\n", "admin", "create", email)
	cs.Start(t)
	var busy []string
	for range 3 {
		calls := runDemo(t, cs)
		if calls["busy call"] == "" {
			t.Fatalf("callscope demo named no busy call: %q", calls)
		}
		busy = append(busy, calls["busy call"])
	}
	slices.Sort(busy)
	console := "http://" + cs.Listening["console http"]
	tab := newTab(t, newBrowser(t))
	do(t, tab, "size the window", chromedp.EmulateViewport(1280, 1000))
	do(t, tab, "open the console", chromedp.Navigate(console+"/"),
		chromedp.WaitVisible(chromedp.CSS(testID("login-form"))))
	do(t, tab, "log in",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(testID("login-form")+" button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(testID("search-form"))))

	do(t, tab, "open the statistics",
		chromedp.Click(chromedp.CSS(testID("nav-stats"))),
		chromedp.WaitVisible(chromedp.CSS(testID("stat-tiles"))))
	if got := run(t, tab, "calls figure", chromedp.Text(chromedp.CSS(testID("figure-calls")))); got != "9" {
		t.Errorf("the statistics count %s INVITEs, want 9 (3 rounds of A leg, B leg, busy)", got)
	}
	if got := run(t, tab, "4xx figure", chromedp.Text(chromedp.CSS(testID("figure-4xx")))); got != "3" {
		t.Fatalf("the statistics count %s 4xx calls, want 3", got)
	}
	for _, id := range []string{"calls-by-outcome", "asr-ner", "acd", "pdd", "codes", "failing-destinations", "user-agents", "nodes"} {
		if n := eval[int](t, tab, `document.querySelectorAll('figure#`+id+` svg').length`); n != 1 {
			t.Errorf("chart %s: %d drawings, want 1", id, n)
		}
	}
	screenshot(t, tab, "1-stats.png")

	listed := func(what string) []string {
		t.Helper()
		err := eventually(browserTimeout, func() error {
			ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`location.pathname === "/calls" && document.querySelector('[data-testid=total]') !== null`))
			if err == nil && !ok {
				err = fmt.Errorf("not there yet")
			}
			return err
		})
		if err != nil {
			t.Fatalf("%s: wait for the calls list: %v", what, err)
		}
		ids := eval[[]string](t, tab, `[...document.querySelectorAll('[data-testid=result]')].map(r => r.dataset.callId)`)
		slices.Sort(ids)
		return ids
	}

	do(t, tab, "click the 4xx figure", chromedp.Click(chromedp.CSS(testID("figure-4xx"))))
	if got := listed("4xx"); !slices.Equal(got, busy) {
		t.Errorf("the 4xx figure opens %q, want the busy calls %q", got, busy)
	}
	if got := run(t, tab, "total", chromedp.Text(chromedp.CSS(testID("total")))); got != "3 calls" {
		t.Errorf("total %q, want 3 calls", got)
	}
	statuses := eval[[]string](t, tab, `[...document.querySelectorAll('[data-testid=result-status]')].map(s => s.innerText)`)
	if strings.Join(statuses, ",") != "486,486,486" {
		t.Errorf("statuses %q, want 486 each", statuses)
	}
	screenshot(t, tab, "2-list-4xx.png")

	// Narrow the list with its own form: From user in another case, the
	// Call-ID and R-URI columns on, the tenant off.
	do(t, tab, "narrow the list",
		chromedp.SendKeys(chromedp.ID("from_user"), "ALI*"),
		chromedp.Click(chromedp.CSS(`summary`)),
		chromedp.Click(chromedp.CSS(testID("col-callid"))),
		chromedp.Click(chromedp.CSS(testID("col-ruri"))),
		chromedp.Click(chromedp.CSS(testID("col-tenant"))),
		chromedp.Click(chromedp.CSS(testID("search-submit"))))
	err := eventually(browserTimeout, func() error {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`location.search.includes("from_user=ALI")`))
		if err == nil && !ok {
			err = fmt.Errorf("not there yet")
		}
		return err
	})
	if err != nil {
		t.Fatalf("wait for the narrowed list: %v", err)
	}
	if got := listed("narrowed"); !slices.Equal(got, busy) {
		t.Errorf("4xx from ALI*: %q, want %q", got, busy)
	}
	if n := eval[int](t, tab, `document.querySelectorAll('[data-testid=result-tenant]').length`); n != 0 {
		t.Errorf("the tenant column is still shown (%d cells)", n)
	}
	screenshot(t, tab, "3-list-filtered.png")

	// Back on the statistics, the top failing destination opens the same
	// calls.
	do(t, tab, "open the statistics again", chromedp.Navigate(console+"/stats"),
		chromedp.WaitVisible(chromedp.CSS(`figure#failing-destinations a`)))
	do(t, tab, "click the top failing destination", chromedp.Click(chromedp.CSS(`figure#failing-destinations a`)))
	if got := listed("failing destination"); !slices.Equal(got, busy) {
		t.Errorf("the failing destination opens %q, want %q", got, busy)
	}
}
