package web_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// lockedBuffer is a log destination safe for the handler's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A token travels in the path (/v/{token}), sometimes in a query string a
// careless client adds, and an API key in Authorization: none of them may
// reach a log line, in either log format, whether the request succeeds,
// fails with a client error or fails inside.
func TestLogsNeverCarryTokens(t *testing.T) {
	const apiKey = "cs_abcdefgh_c2VjcmV0LWFwaS1rZXktYnl0ZXM"
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf lockedBuffer
			h := slog.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			if format == "json" {
				h = slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
			}
			e := newServer(slog.New(h), prometheus.NewRegistry(), "viewer")
			for _, target := range []string{
				"/v/" + tokenLike, "/v/" + tokenLike + "/pcap", "/v/" + tokenLike + "?token=" + tokenLike,
				"/boom/" + tokenLike, "/nothing/" + tokenLike,
			} {
				req := httptest.NewRequest(http.MethodGet, target, nil)
				req.Header.Set("Authorization", "Bearer "+apiKey)
				req.Header.Set("X-Request-Id", "req-"+format)
				e.ServeHTTP(httptest.NewRecorder(), req)
			}
			out := buf.String()
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) < 5 {
				t.Fatalf("%d log lines, want at least one per request:\n%s", len(lines), out)
			}
			for _, line := range lines {
				for _, secret := range []string{tokenLike, "eyJ", apiKey, "c2VjcmV0"} {
					if strings.Contains(line, secret) {
						t.Errorf("log line carries %q: %s", secret, line)
					}
				}
				if !strings.Contains(line, "req-"+format) {
					t.Errorf("log line without the request id: %s", line)
				}
			}
			if !strings.Contains(out, "/v/:token") {
				t.Errorf("access log should name the route pattern:\n%s", out)
			}
		})
	}
}
