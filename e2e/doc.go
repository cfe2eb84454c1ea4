// Package e2e holds whole-system tests: the real callscope binary, real
// PostgreSQL and Redis, and real peers around it — Kamailio proxies with
// siptrace sending HEP, SIPp user agents making calls through them, tshark
// recording what really crossed the loopback.
//
// The tests need kamailio, sipp and tshark on PATH. Without them every test
// skips with a message, unless CALLSCOPE_E2E_REQUIRE=1 (CI), which turns a
// missing peer into a failure.
package e2e
