package viewer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/redisdb/redistest"
	"github.com/callscope/callscope/viewer"
)

// from sends a GET as if through a proxy that saw client xff.
func from(tb testing.TB, url, xff string) response {
	return do(tb, http.MethodGet, url, nil, map[string]string{"X-Forwarded-For": xff})
}

// TestSprayKeepsOpenedLinks is the reproduction of section 3: twenty
// garbage tokens from one address, then a link that address already opened
// still opens, and another client never notices.
func TestSprayKeepsOpenedLinks(t *testing.T) {
	lim := generous()
	lim.Invalid = redis_rate.Limit{Rate: 10, Burst: 20, Period: time.Minute}
	b := setup(t, options{limits: lim, proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0})
	link := b.viewer.URL + "/v/" + mint(t, b.server, b.claims("acme", "c1"))
	const sprayer, neighbour = "203.0.113.5", "203.0.113.6"
	if r := from(t, link, sprayer); r.status != http.StatusOK {
		t.Fatalf("first view: %d", r.status)
	}
	limited := 0
	for i := range 25 {
		if r := from(t, b.viewer.URL+"/v/garbage."+strconv.Itoa(i)+".token", sprayer); r.status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("25 garbage tokens never ran out of budget")
	}
	for i := range 3 {
		if r := from(t, link, sprayer); r.status != http.StatusOK {
			t.Fatalf("the opened link after the spray, try %d: %d", i, r.status)
		}
	}
	// Another client behind the same proxy, with a link it never opened.
	fresh := b.viewer.URL + "/v/" + mint(t, b.server, b.claims("acme", "c1"))
	if r := from(t, fresh, neighbour); r.status != http.StatusOK {
		t.Errorf("another client after the spray: %d", r.status)
	}
}

// TestTrustedProxies: X-Forwarded-For names the client only when the peer
// is a trusted proxy; otherwise the peer is the client, whatever it claims.
func TestTrustedProxies(t *testing.T) {
	lim := generous()
	lim.Invalid = redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Minute}
	for _, tc := range []struct {
		name      string
		proxies   []netip.Prefix
		separated bool // do two XFF clients get budgets of their own?
	}{
		{"LoopbackTrusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, true},
		{"NoneTrusted", nil, false},
		{"OtherProxyTrusted", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, options{limits: lim, proxies: tc.proxies})
			b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0})
			for i := range 3 {
				from(t, b.viewer.URL+"/v/garbage."+strconv.Itoa(i)+".x", "198.51.100.1")
			}
			// A client the spray never touched, unless the viewer cannot
			// tell them apart; the leftmost entry is what a client could
			// forge, the rightmost what the proxy saw.
			r := from(t, b.viewer.URL+"/v/"+mint(t, b.server, b.claims("acme", "c1")), "198.51.100.1, 198.51.100.2")
			if got := r.status == http.StatusOK; got != tc.separated {
				t.Errorf("status %d: separated %v, want %v", r.status, got, tc.separated)
			}
		})
	}
}

// TestViewBudgetIsTheTenants: the per-token budget is keyed by tenant and
// jti. beta signing its own tokens with acme's jti spends beta's budget,
// never acme's link's.
func TestViewBudgetIsTheTenants(t *testing.T) {
	lim := generous()
	lim.ViewToken = redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Minute}
	b := setup(t, options{limits: lim})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0},
		querytest.Call{TenantID: b.beta.ID, CallID: "c1", Start: t0})
	acme := b.claims("acme", "c1")
	acme.ID = "shared-jti"
	beta := b.claims("beta", "c1")
	beta.ID, beta.Issuer = "shared-jti", "beta"
	acmeLink, betaLink := b.viewer.URL+"/v/"+mint(t, b.server, acme), b.viewer.URL+"/v/"+mint(t, b.betaKey, beta)
	if r := get(t, acmeLink); r.status != http.StatusOK {
		t.Fatalf("acme: %d", r.status)
	}
	for range 3 {
		get(t, betaLink)
	}
	if r := get(t, acmeLink); r.status != http.StatusOK {
		t.Errorf("acme's second view after beta spent the same jti: %d", r.status)
	}
}

// TestKidComparedExactly: the viewer looks a kid up as the token spells it.
// A kid that percent-decodes to the server's own names no key.
func TestKidComparedExactly(t *testing.T) {
	b := setup(t, options{})
	dir := viewer.NewDirectory(queryapi.NewClient(b.query.URL, viewerToken, nil))
	ctx := context.Background()
	if _, err := dir.ServerKey(ctx, b.server.KID); err != nil {
		t.Fatalf("the real kid: %v", err)
	}
	escaped := "%" + strconv.FormatInt(int64(b.server.KID[0]), 16) + b.server.KID[1:]
	for _, kid := range []string{escaped, strings.ReplaceAll(escaped, "%", "%25")} {
		if _, err := dir.ServerKey(ctx, kid); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("kid %q: %v, want NotFound", kid, err)
		}
	}
	// And a token naming it is refused, signature good or not.
	c := b.claims("acme", "c1")
	tok := rawToken(b.server.Private, `{"alg":"EdDSA","typ":"call-view+jwt","kid":"`+escaped+`"}`,
		fmt.Sprintf(`{"iss":"callscope","aud":"callscope-viewer","tid":"acme","call_id":"c1","window_start":%d,"window_end":%d,"iat":%d,"exp":%d,"jti":"j"}`,
			c.WindowStart.Unix(), c.WindowEnd.Unix(), c.IssuedAt.Unix(), c.Expiry.Unix()))
	if r := get(t, b.viewer.URL+"/v/"+tok); r.status != http.StatusUnauthorized {
		t.Errorf("token with the escaped kid: %d", r.status)
	}
}

// TestAPIAnswersCarryOneOfEach: the token API through the viewer answers
// with one X-Request-Id and one Cache-Control, and query saw the same id;
// a wrong method is a 405 saying which methods the path takes.
func TestAPIAnswersCarryOneOfEach(t *testing.T) {
	b := setup(t, options{})
	r := do(t, http.MethodPost, b.viewer.URL+"/api/v1/view-tokens", strings.NewReader(`{}`),
		map[string]string{"Authorization": "Bearer cs_x", "X-Request-Id": "abc-123"})
	if got := r.header.Values("X-Request-Id"); len(got) != 1 || got[0] != "abc-123" {
		t.Errorf("X-Request-Id %q", got)
	}
	if got := r.header.Values("Cache-Control"); len(got) != 1 {
		t.Errorf("Cache-Control %q", got)
	}
	if h := <-b.forwards; h.Get("X-Request-Id") != "abc-123" {
		t.Errorf("query saw request id %q", h.Get("X-Request-Id"))
	}
	r = get(t, b.viewer.URL+"/.well-known/jwks.json")
	if got := r.header.Values("Cache-Control"); len(got) != 1 || len(r.header.Values("X-Request-Id")) != 1 {
		t.Errorf("jwks: Cache-Control %q, X-Request-Id %q", got, r.header.Values("X-Request-Id"))
	}
	r = get(t, b.viewer.URL+"/api/v1/view-tokens")
	if r.status != http.StatusMethodNotAllowed || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Errorf("GET /api/v1/view-tokens: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
}

// TestRevocationSurvivesRedisFlush: on a Redis of the test's own, a link
// revoked and then FLUSHDB: the viewer finds the state gone, query
// rebuilds it from PostgreSQL, and the link stays refused; a live link
// keeps working, without any restart.
func TestRevocationSurvivesRedisFlush(t *testing.T) {
	rdb := redistest.Server(t)
	b := setup(t, options{redis: rdb})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0})
	revoked, live := b.claims("acme", "c1"), b.claims("acme", "c1")
	revoked.ID, live.ID = "to-revoke", "to-keep"
	revokedURL, liveURL := b.viewer.URL+"/v/"+mint(t, b.server, revoked), b.viewer.URL+"/v/"+mint(t, b.server, live)
	ctx := context.Background()
	if err := b.tokens.RevokeToken(ctx, b.acme.ID, "to-revoke"); err != nil {
		t.Fatal(err)
	}
	for round, flush := range []bool{false, true, true} {
		if flush {
			if err := rdb.FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if r := get(t, revokedURL); r.status != http.StatusUnauthorized || !strings.Contains(r.body, `data-kind="revoked"`) {
			t.Errorf("round %d: revoked link %d", round, r.status)
		}
		if r := get(t, liveURL); r.status != http.StatusOK {
			t.Errorf("round %d: live link %d", round, r.status)
		}
	}
}

// TestOneRequestIDAcrossRoles: the viewer's access line of a view and
// query's line of the call read it caused carry the same request id.
func TestOneRequestIDAcrossRoles(t *testing.T) {
	b := setup(t, options{})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "c1", Start: t0})
	r := get(t, b.viewer.URL+"/v/"+mint(t, b.server, b.claims("acme", "c1")))
	id := r.header.Get("X-Request-Id")
	if r.status != http.StatusOK || id == "" {
		t.Fatalf("view: %d, id %q", r.status, id)
	}
	// The viewer writes its access line once the answer is sent, so the
	// client may read the answer first: wait a little for the line.
	roles := map[string]bool{}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, line := range strings.Split(b.logs.String(), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) != nil || entry["msg"] != "http" || entry["request_id"] != id {
				continue
			}
			roles[fmt.Sprint(entry["role"])] = true
		}
		if roles["viewer"] && roles["query"] {
			break
		}
	}
	if !roles["viewer"] || !roles["query"] {
		t.Errorf("access lines with id %s: %v, want viewer and query", id, roles)
	}
}
