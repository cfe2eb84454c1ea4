package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
)

// TestConsoleFlow is an admin's day in the console, in a real Chromium:
// log in through the form, search the call by Call-ID, open it (ladder),
// mint a share link with the share form, open that link (ladder), revoke
// it on the tenant's links page — and the viewer then refuses it with the
// revoked page. Screenshots of each step land in
// e2e/artifacts/TestConsoleFlow/.
func TestConsoleFlow(t *testing.T) {
	needChromium(t)
	t.Parallel()
	cs := newCallscope(t)
	provisionDemo(t, cs)
	// Every e2e server shares one Redis under the same key prefix, and the
	// console throttles logins per account there (5, then one every 3
	// minutes): an address of its own keeps repeated runs under budget.
	email := fmt.Sprintf("ops-%d@callscope.test", time.Now().UnixNano())
	const password = "correct horse battery staple"
	out := cs.CLIWithInput(t, password+"\n", "admin", "create", email)
	if !strings.HasPrefix(out, "created admin "+email) {
		t.Fatalf("admin create: %q", out)
	}
	cs.Start(t)
	callID := runDemo(t, cs)[demoAnswered]
	console := "http://" + cs.Listening["console http"]
	tab := newTab(t, newBrowser(t))
	do(t, tab, "size the window", chromedp.EmulateViewport(1280, 1000))

	// Log in: the console sends a visitor without a session to its form.
	do(t, tab, "open the console", chromedp.Navigate(console+"/"),
		chromedp.WaitVisible(chromedp.CSS(testID("login-form"))))
	do(t, tab, "log in",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(testID("login-form")+" button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(testID("search-form"))))
	if got := run(t, tab, "signed-in admin", chromedp.Text(chromedp.CSS(testID("admin-email")))); got != email {
		t.Errorf("console shows admin %q, want %q", got, email)
	}

	// Search the call by its Call-ID in the default window (the last 24 h).
	do(t, tab, "search the Call-ID",
		chromedp.SendKeys(chromedp.ID("call_id"), callID),
		chromedp.Click(chromedp.CSS(testID("search-submit"))))
	// The page before the search may list the call too (the latest calls):
	// wait for the page of this search, not just for the call.
	searched := `location.search.includes("call_id=") && ` +
		`document.querySelector('[data-testid=result][data-call-id="` + callID + `"]') !== null`
	err := eventually(browserTimeout, func() error {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](searched))
		if err == nil && !ok {
			err = errors.New("not there yet")
		}
		return err // a navigation under way is an error too: try again
	})
	if err != nil {
		t.Fatalf("wait for the search's page: %v", err)
	}
	if got := eval[[]string](t, tab, `[...document.querySelectorAll('[data-testid=result]')].map(r => r.dataset.callId)`); len(got) != 1 {
		t.Errorf("search for Call-ID %s found %q, want that call alone", callID, got)
	}
	if got := run(t, tab, "result tenant", chromedp.Text(chromedp.CSS(testID("result-tenant")))); got != demoSlug {
		t.Errorf("result of tenant %q, want %q", got, demoSlug)
	}
	screenshot(t, tab, "1-search.png")

	// Open it.
	do(t, tab, "open the call",
		chromedp.Click(chromedp.CSS(`[data-call-id="`+callID+`"] `+testID("call-link"))),
		chromedp.WaitVisible(chromedp.CSS(testID("ladder"))))
	if got := run(t, tab, "Call-ID", chromedp.Text(chromedp.CSS(testID("call-id")))); got != callID {
		t.Errorf("call page of %q, want %q", got, callID)
	}
	if n := eval[int](t, tab, `document.querySelectorAll('[data-testid=ladder-arrow]').length`); n == 0 {
		t.Error("call page: no arrows in the ladder")
	}
	screenshot(t, tab, "2-call.png")

	// Share it with the form's defaults (the call's window, the shortest
	// lifetime) and read the link off the page, as an admin copies it.
	do(t, tab, "create a share link",
		chromedp.Click(chromedp.CSS(testID("share-submit"))),
		chromedp.WaitVisible(chromedp.CSS(testID("share-result"))))
	link := run(t, tab, "read the link", chromedp.Value(chromedp.CSS(testID("share-url"))))
	if !strings.HasPrefix(link, cs.PublicURL+"/v/") {
		t.Fatalf("share link %q, want one under %s/v/", link, cs.PublicURL)
	}
	snippet := run(t, tab, "read the snippet", chromedp.Value(chromedp.CSS(testID("share-snippet"))))
	if !strings.Contains(snippet, `<iframe src="`+link+`"`) {
		t.Errorf("embed snippet %q does not iframe the link", snippet)
	}
	screenshot(t, tab, "3-share.png")
	jti := tokenJTI(t, strings.TrimPrefix(link, cs.PublicURL+"/v/"))

	// The link works.
	viewer := newTab(t, tab)
	do(t, viewer, "size the window", chromedp.EmulateViewport(1280, 1000))
	do(t, viewer, "open the shared link", chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(testID("ladder"))))
	if got := run(t, viewer, "Call-ID", chromedp.Text(chromedp.CSS(testID("call-id")))); got != callID {
		t.Errorf("shared link shows %q, want %q", got, callID)
	}
	screenshot(t, viewer, "4-link.png")

	// The view is on the tenant's audit log, which the links page shows.
	// It gets there asynchronously — the viewer reports views to query
	// every second, and query writes them in batches every second — so
	// the page is reloaded until it does, within a bound far above that.
	t.Run("ViewAudited", func(t *testing.T) {
		var rows []string
		err := eventually(15*time.Second, func() error {
			do(t, tab, "open the links page", chromedp.Navigate(console+"/tenants/"+demoSlug+"/links"),
				chromedp.WaitVisible(chromedp.CSS(testID("revoke-all"))))
			rows = eval[[]string](t, tab, `[...document.querySelectorAll('[data-testid=view-row]')].map(r => r.innerText)`)
			for _, r := range rows {
				if strings.Contains(r, callID) {
					return nil
				}
			}
			return fmt.Errorf("the links page lists views %q, want the view of %s", rows, callID)
		})
		if err != nil {
			stored := countRows(t, cs.DatabaseURL, "view_audit")
			t.Errorf("%v (view_audit holds %d rows): the viewer's page view was not audited", err, stored)
		}
	})

	// Revoke it on the tenant's links page. The demo minted a link of its
	// own for the same call: the row is told apart by its jti.
	row := `[data-testid=link-row][data-jti="` + jti + `"]`
	do(t, tab, "open the links page", chromedp.Navigate(console+"/tenants/"+demoSlug+"/links"),
		chromedp.WaitVisible(chromedp.CSS(row)))
	do(t, tab, "revoke the link",
		chromedp.Click(chromedp.CSS(row+" "+testID("link-revoke"))),
		chromedp.WaitVisible(chromedp.CSS(testID("notice"))))
	if n := eval[int](t, tab, `document.querySelectorAll('`+row+`').length`); n != 0 {
		t.Errorf("the revoked link is still listed as active")
	}
	t.Logf("console says: %q", run(t, tab, "notice", chromedp.Text(chromedp.CSS(testID("notice")))))
	screenshot(t, tab, "5-revoked-in-console.png")

	// The viewer now refuses it.
	do(t, viewer, "open the revoked link", chromedp.Navigate(link))
	checkErrorPage(t, viewer, "revoked", "This link is no longer available")
	screenshot(t, viewer, "6-link-refused.png")
}

// countRows counts the rows of a table, as the database owner sees them.
func countRows(t *testing.T, dbURL, table string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// tokenJTI reads the jti claim of a compact JWS without verifying it: the
// test only needs to find the link in the console's list.
func tokenJTI(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("link token %q is not a compact JWS", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("link token payload: %v", err)
	}
	var claims struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.JTI == "" {
		t.Fatalf("link token payload %s: no jti (%v)", payload, err)
	}
	return claims.JTI
}

// CLIWithInput is CLI with stdin, for `admin create` which reads the
// password there.
func (c *Callscope) CLIWithInput(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, callscopeBin, args...)
	cmd.Env = append(baseEnv(), c.Env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("callscope %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
