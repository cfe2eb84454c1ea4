package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The demo provisions tenant "demo" with capture node 4242 unless they
// exist; the tests create both first, with the embed origins they need,
// so that the demo only sends its calls.
const (
	demoSlug      = "demo"
	demoCaptureID = "4242"
	// demoAnswered is the name `callscope demo` prints for its answered
	// call with SDP: Alice, the proxy and Bob, INVITE to BYE.
	demoAnswered = "answered call with SDP"
)

// provisionDemo creates the demo tenant with embed origins and its capture
// node on a server that has not started yet.
func provisionDemo(t *testing.T, cs *Callscope, embedOrigins ...string) {
	t.Helper()
	args := []string{"tenant", "create", demoSlug, "--name", "Demo Telecom"}
	for _, o := range embedOrigins {
		args = append(args, "--embed-origin", o)
	}
	cs.CLI(t, args...)
	cs.CLI(t, "node", "add", demoSlug, demoCaptureID, "--name", "demo-proxy")
}

// demoCallRe matches the lines where `callscope demo` names its calls.
var demoCallRe = regexp.MustCompile(`(?m)^\s+(\S.*?)\s+Call-ID (\S+)$`)

// runDemo runs `callscope demo` against the running server (it sends its
// calls over HEP to CALLSCOPE_HEP_ADDR and returns once they are stored)
// and returns the Call-IDs it printed, by call name.
func runDemo(t *testing.T, cs *Callscope) map[string]string {
	t.Helper()
	out := cs.CLI(t, "demo")
	calls := map[string]string{}
	for _, m := range demoCallRe.FindAllStringSubmatch(out, -1) {
		calls[m[1]] = m[2]
	}
	if calls[demoAnswered] == "" {
		t.Fatalf("callscope demo printed no %q call:\n%s", demoAnswered, out)
	}
	return calls
}

// createAPIKey creates an API key of the tenant with the CLI, which prints
// the key alone on stdout.
func createAPIKey(t *testing.T, cs *Callscope, slug string) string {
	t.Helper()
	key := strings.TrimSpace(cs.CLI(t, "apikey", "create", slug))
	if key == "" || strings.ContainsAny(key, " \n") {
		t.Fatalf("apikey create printed %q, want the key alone", key)
	}
	return key
}

// minted is the 201 answer of POST /api/v1/view-tokens.
type minted struct {
	Token     string    `json:"token"`
	URL       string    `json:"url"`
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
}

// mintToken mints a viewer link for callID through the viewer's public API
// with the API key, as a tenant's orchestrator does: the window is the ten
// minutes either side of now, which holds the demo's calls.
func mintToken(t *testing.T, cs *Callscope, apiKey, callID string, ttl time.Duration) minted {
	t.Helper()
	now := time.Now().UTC()
	body, _ := json.Marshal(map[string]any{
		"call_id":      callID,
		"window_start": now.Add(-10 * time.Minute).Format(time.RFC3339),
		"window_end":   now.Add(10 * time.Minute).Format(time.RFC3339),
		"ttl_seconds":  int64(ttl / time.Second),
	})
	req, _ := http.NewRequest(http.MethodPost, cs.PublicURL+"/api/v1/view-tokens", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, b := do1(t, req)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/view-tokens: %s\n%s", resp.Status, b)
	}
	var m minted
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST /api/v1/view-tokens answered %s: %v", b, err)
	}
	if m.Token == "" || m.JTI == "" || m.URL != cs.PublicURL+"/v/"+m.Token {
		t.Fatalf("POST /api/v1/view-tokens answered %s: want a token, a jti and the url %s/v/<token>", b, cs.PublicURL)
	}
	return m
}

// revokeToken revokes a link through the viewer's public API.
func revokeToken(t *testing.T, cs *Callscope, apiKey, jti string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, cs.PublicURL+"/api/v1/view-tokens/"+url.PathEscape(jti), nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, b := do1(t, req)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /api/v1/view-tokens/{jti}: %s\n%s", resp.Status, b)
	}
}

// do1 sends one request and reads the whole answer.
func do1(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return resp, b
}

// frameAncestors is the frame-ancestors directive of the CSP the viewer
// answers GET url with, and the status.
func frameAncestors(t *testing.T, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	resp, _ := do1(t, req)
	for _, d := range strings.Split(resp.Header.Get("Content-Security-Policy"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "frame-ancestors "); ok {
			return resp.StatusCode, v
		}
	}
	return resp.StatusCode, ""
}

// customerSite is a tenant's customer-facing web app on its own loopback
// origin: GET /?src=URL is a page that iframes URL, as a customer portal
// embeds a call it shows.
type customerSite struct {
	Origin string // http://IP:PORT
	ln     net.Listener
}

var customerPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer portal</title></head>
<body style="font-family: sans-serif; margin: 16px">
<h1>Acme customer portal ({{.Origin}})</h1>
<p>Your test call:</p>
<iframe id="call" src="{{.Src}}" width="{{.Width}}" height="{{.Height}}" style="border: 1px solid #999" title="SIP call ladder"></iframe>
</body></html>`))

// listenCustomer binds a customer site on ip (another loopback address
// than the viewer's 127.0.0.9, so a different origin and site) without
// serving yet: its origin is known before the tenant is created.
func listenCustomer(t *testing.T, ip string) *customerSite {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	c := &customerSite{Origin: "http://" + ln.Addr().String(), ln: ln}
	srv := &http.Server{Handler: http.HandlerFunc(c.serve), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

func (c *customerSite) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q := r.URL.Query()
	size := map[string]string{"Width": "1200", "Height": "900"}
	for k, param := range map[string]string{"Width": "w", "Height": "h"} {
		if v, err := strconv.Atoi(q.Get(param)); err == nil && v > 0 {
			size[k] = strconv.Itoa(v)
		}
	}
	if err := customerPage.Execute(w, map[string]string{"Origin": c.Origin, "Src": q.Get("src"), "Width": size["Width"], "Height": size["Height"]}); err != nil {
		panic(err)
	}
}

// PageURL is the customer's page that iframes src, 1200 x 900.
func (c *customerSite) PageURL(src string) string {
	return fmt.Sprintf("%s/?src=%s", c.Origin, url.QueryEscape(src))
}

// SizedPageURL is the customer's page that iframes src in a frame of
// width x height.
func (c *customerSite) SizedPageURL(src string, width, height int) string {
	return fmt.Sprintf("%s/?src=%s&w=%d&h=%d", c.Origin, url.QueryEscape(src), width, height)
}
