package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// chromiumPath is the browser the embed and console tests drive.
const chromiumPath = "/usr/bin/chromium"

// needChromium skips t when Chromium is not installed, unless
// CALLSCOPE_E2E_REQUIRE=1 (CI), which makes a missing browser a failure.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err == nil {
		return
	}
	msg := "e2e: " + chromiumPath + " not installed (apt-get install chromium)"
	if os.Getenv("CALLSCOPE_E2E_REQUIRE") == "1" {
		t.Fatal(msg + " and CALLSCOPE_E2E_REQUIRE=1: failing")
	}
	t.Skip(msg + ": skipping")
}

// newBrowser starts a headless Chromium of its own (a fresh profile in a
// temporary directory) and returns the context of its first tab; the
// browser's first run has happened, so child contexts (other tabs, frame
// targets) share it. Cleanup closes the browser.
//
// The flags are exactly those below and nothing from
// chromedp.DefaultExecAllocatorOptions: what the tests see is what a plain
// headless Chromium does, site isolation and all. chromedp adds only the
// pipe it talks to the browser through.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	needChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser; it gets no deadline, or the
	// deadline would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// browserTimeout bounds one step in the browser: a page of ours loads in
// milliseconds, so this only turns a hang into a failure.
const browserTimeout = 30 * time.Second

// do runs steps in the tab of ctx with browserTimeout and fails t on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value, like do.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// eval evaluates a JavaScript expression in the tab (or frame target) of
// ctx and decodes its value into T.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return run(t, ctx, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// testID is the CSS selector of an element by its data-testid.
func testID(id string) string { return fmt.Sprintf("[data-testid=%q]", id) }

// frameContext returns a context whose actions run inside the iframe of
// the tab of page whose document URL starts with urlPrefix, waiting for it
// to appear.
//
// Why a target and not the iframe's DOM node: the customer page and the
// viewer are on different sites (127.0.0.2 and 127.0.0.9), so Chromium's
// site isolation renders the viewer in an out-of-process iframe. The
// parent's DOM tree then holds an <iframe> with no content document —
// chromedp.FromNode finds nothing in it, and the page's own script cannot
// read contentDocument across origins. Chromium lists such a frame as a
// target of type "iframe" with the frame's URL; a chromedp context attached
// to it with WithTargetID runs queries and scripts in the frame's own
// document, exactly as a user's browser would render it.
func frameContext(t *testing.T, page context.Context, urlPrefix string) context.Context {
	t.Helper()
	var id string
	err := eventually(browserTimeout, func() error {
		infos, err := chromedp.Targets(page)
		if err != nil {
			return err
		}
		var seen []string
		for _, in := range infos {
			if in.Type == "iframe" && strings.HasPrefix(in.URL, urlPrefix) {
				id = string(in.TargetID)
				return nil
			}
			seen = append(seen, in.Type+" "+in.URL)
		}
		return fmt.Errorf("no iframe target at %s among %v", urlPrefix, seen)
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(page, chromedp.WithTargetID(target.ID(id)))
	t.Cleanup(cancel)
	// The first run attaches, for as long as the context it gets lives: no
	// deadline here, or the later steps would find the frame detached.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("attach to the frame at %s: %v", urlPrefix, err)
	}
	return ctx
}

// artifactDir is e2e/artifacts/<test name>/: its PNG screenshots are
// committed (each run refreshes them), anything else there is ignored.
// Files of an earlier run are overwritten, not removed.
func artifactDir(t *testing.T) string {
	t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	dir, err := filepath.Abs(filepath.Join("artifacts", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot saves a full-page PNG of the tab of ctx as name in the
// test's artifact directory and logs where.
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
