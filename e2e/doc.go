// Package e2e holds whole-system tests: the real callscope binary, real
// PostgreSQL and Redis, and real peers around it — Kamailio proxies with
// siptrace sending HEP, SIPp user agents making calls through them, tshark
// recording what really crossed the loopback — and a real headless
// Chromium (driven with chromedp) for the viewer embedded in a customer's
// page and for the console, with screenshots in e2e/artifacts/.
//
// TestLadderGolden compares the viewer's ladder of real calls through two
// Kamailio proxies — the hop between them over UDP, TCP and TLS (mutual
// TLS with a CA made at test time) — with golden files in
// testdata/golden/ (rewrite them with go test ./e2e -run TestLadderGolden
// -args -update, and read the diff).
//
// The tests need kamailio, sipp and tshark on PATH, and the browser tests
// /usr/bin/chromium. Without them the tests skip with a message, unless
// CALLSCOPE_E2E_REQUIRE=1 (CI), which turns a missing peer into a failure.
package e2e
