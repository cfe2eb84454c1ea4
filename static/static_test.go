package static

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, name := range []string{"app.css", "favicon.svg"} {
		u := URL(name)
		stem, ext, _ := strings.Cut(name, ".")
		if !regexp.MustCompile(`^/static/` + stem + `\.[0-9a-f]{8}\.` + ext + `$`).MatchString(u) {
			t.Errorf("URL(%q) = %q", name, u)
		}
		if URL(name) != u {
			t.Errorf("URL(%q) is not stable", name)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("URL of a missing file did not panic")
		}
	}()
	URL("missing.css")
}

func TestHandler(t *testing.T) {
	css := URL("app.css")
	h := Handler()
	tests := []struct {
		name, method, path string
		header             map[string]string
		status             int
	}{
		{"OK", http.MethodGet, css, nil, http.StatusOK},
		{"Head", http.MethodHead, css, nil, http.StatusOK},
		{"Favicon", http.MethodGet, URL("favicon.svg"), nil, http.StatusOK},
		{"NotModified", http.MethodGet, css, map[string]string{"If-None-Match": `"` + strings.Split(css, ".")[1] + `"`}, http.StatusNotModified},
		{"StaleHash", http.MethodGet, "/static/app.00000000.css", nil, http.StatusNotFound},
		{"Unhashed", http.MethodGet, "/static/app.css", nil, http.StatusNotFound},
		{"Unknown", http.MethodGet, "/static/nope.12345678.css", nil, http.StatusNotFound},
		{"Traversal", http.MethodGet, "/static/../static.go", nil, http.StatusNotFound},
		{"Post", http.MethodPost, css, nil, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != http.StatusOK {
				return
			}
			if got := rec.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control %q", got)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("nosniff missing")
			}
			if tt.name == "OK" {
				if ct := rec.Header().Get("Content-Type"); ct != "text/css; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				body, _ := io.ReadAll(rec.Body)
				if !strings.Contains(string(body), ".ladder-svg") {
					t.Error("body is not the stylesheet")
				}
			}
		})
	}
}

// The CSP is style-src 'self': the stylesheet must not pull anything from
// elsewhere.
func TestStylesheetSelfContained(t *testing.T) {
	body, err := files.ReadFile("files/app.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"@import", "url(", "http:", "https:", "expression("} {
		if strings.Contains(string(body), bad) {
			t.Errorf("app.css contains %q", bad)
		}
	}
}
