package e2e

import (
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/redisdb/redistest"
)

// TestSplitRoles is a deployment whose public edge holds no privilege: the
// back end (ingest, query, console) runs in one process with the database
// and the secret key; the viewer runs in another with nothing but its own
// credential to query, query's URL, Redis and its public URL. Its database
// URL points nowhere, and it serves views all the same; its credential
// opens no admin route of query; its --help does not print it.
func TestSplitRoles(t *testing.T) {
	t.Parallel()
	const viewerToken = "e2e-viewer-credential-0123456789abcdef"
	back := newCallscope(t)
	queryAddr := freeUDPTCPAddr(t, "127.0.0.1")
	back.Set("CALLSCOPE_ROLES", "ingest,query,console")
	back.Set("CALLSCOPE_QUERY_ADDR", queryAddr)
	back.Set("CALLSCOPE_VIEWER_QUERY_TOKEN", viewerToken)
	provisionDemo(t, back)
	back.Start(t)

	var redisPrefix string
	for _, kv := range back.Env {
		if v, ok := strings.CutPrefix(kv, "CALLSCOPE_REDIS_PREFIX="); ok {
			redisPrefix = v
		}
	}
	edge := &Callscope{Listening: map[string]string{}, PublicURL: back.PublicURL, Env: []string{
		"CALLSCOPE_ROLES=viewer",
		"CALLSCOPE_VIEWER_QUERY_TOKEN=" + viewerToken,
		"CALLSCOPE_QUERY_URL=http://" + queryAddr,
		"CALLSCOPE_REDIS_URL=" + redistest.URL(),
		"CALLSCOPE_PUBLIC_URL=" + back.PublicURL,
		// Where it listens, and the test's own Redis keys: not credentials.
		"CALLSCOPE_VIEWER_ADDR=" + strings.TrimPrefix(back.PublicURL, "http://"),
		"CALLSCOPE_METRICS_ADDR=127.0.0.1:0",
		"CALLSCOPE_REDIS_PREFIX=" + redisPrefix,
		// A database the viewer must never try: nothing listens there.
		"CALLSCOPE_DATABASE_URL=postgres://nobody:never-used@127.0.0.1:1/none?sslmode=disable",
	}}
	edge.Start(t)

	callID := runDemo(t, back)[demoAnswered]
	apiKey := createAPIKey(t, back, demoSlug)
	// Minted through the edge, which forwards the token API to query.
	link := mintToken(t, edge, apiKey, callID, 10*time.Minute)
	resp, body := do1(t, mustRequest(t, http.MethodGet, link.URL))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), callID) {
		t.Fatalf("the split viewer's page: %s", resp.Status)
	}

	t.Run("ViewerCredentialOpensNoAdminRoute", func(t *testing.T) {
		for _, path := range []string{
			"/internal/v1/admin/search?" + url.Values{"from": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
				"to": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}.Encode(),
			"/internal/v1/admin/text?tenant_id=1&call_id=" + url.QueryEscape(callID),
		} {
			req := mustRequest(t, http.MethodGet, "http://"+queryAddr+path)
			req.Header.Set("Authorization", "Bearer "+viewerToken)
			if resp, body := do1(t, req); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with the viewer's credential: %s %.200s", path, resp.Status, body)
			}
		}
	})
	t.Run("Revoked", func(t *testing.T) {
		revokeToken(t, edge, apiKey, link.JTI)
		if resp, _ := do1(t, mustRequest(t, http.MethodGet, link.URL)); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a revoked link on the split viewer: %s", resp.Status)
		}
	})
	t.Run("HelpHidesTheCredential", func(t *testing.T) {
		cmd := exec.Command(callscopeBin, "serve", "--help")
		cmd.Env = append(baseEnv(), edge.Env...)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "viewer-query-token") || strings.Contains(string(out), viewerToken) ||
			strings.Contains(string(out), "never-used") {
			t.Errorf("serve --help:\n%s", out)
		}
	})
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
