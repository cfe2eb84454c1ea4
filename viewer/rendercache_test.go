package viewer_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/query/querytest"
)

// A page served from the render cache is still refused the moment its token
// is revoked, by jti or by the tenant's epoch: admit runs before the cache.
func TestRenderCacheHonoursRevocation(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		revoke func(b *bundle, c auth.Claims) error
	}{
		{"JTI", func(b *bundle, c auth.Claims) error { return b.revs.RevokeJTI(ctx, "acme", c.ID, b.now.Add(time.Hour)) }},
		{"Epoch", func(b *bundle, c auth.Claims) error {
			return b.revs.RevokeAllBefore(ctx, "acme", c.IssuedAt.Add(time.Second))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, options{})
			b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "cached@acme", Start: t0})
			c := b.claims("acme", "cached@acme")
			c.ID = "cached-jti"
			url := b.viewer.URL + "/v/" + mint(t, b.server, c)
			first, second := get(t, url), get(t, url)
			if first.status != http.StatusOK || second.status != http.StatusOK || first.body != second.body {
				t.Fatalf("views before revocation: %d, %d, same body %v", first.status, second.status, first.body == second.body)
			}
			checkHeaders(t, "cached page", second.header, acmeAncestors)
			if err := tc.revoke(b, c); err != nil {
				t.Fatal(err)
			}
			r := get(t, url)
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `data-kind="revoked"`) {
				t.Errorf("after revocation: %d, cached page served: %v", r.status, strings.Contains(r.body, "cached@acme"))
			}
		})
	}
}

// A page cached for acme's token is never served to beta's, even when both
// tenants hold the same Call-ID and beta signs its own token reusing the
// jti of acme's.
func TestRenderCacheNeverCrossesTokens(t *testing.T) {
	b := setup(t, options{})
	b.insert(t,
		querytest.Call{TenantID: b.acme.ID, CallID: "same@id", Start: t0, FromUser: "acmesecret"},
		querytest.Call{TenantID: b.beta.ID, CallID: "same@id", Start: t0, FromUser: "betacaller"},
	)
	acme := b.claims("acme", "same@id")
	acme.ID = "shared-jti"
	if r := get(t, b.viewer.URL+"/v/"+mint(t, b.server, acme)); r.status != http.StatusOK || !strings.Contains(r.body, "acmesecret") {
		t.Fatalf("acme's view: %d", r.status)
	}
	beta := b.claims("beta", "same@id")
	beta.ID = "shared-jti"
	selfSigned := beta
	selfSigned.Issuer = "beta"
	for name, tok := range map[string]string{"ServerSigned": mint(t, b.server, beta), "TenantSigned": mint(t, b.betaKey, selfSigned)} {
		for i := range 2 {
			r := get(t, b.viewer.URL+"/v/"+tok)
			if r.status != http.StatusOK || strings.Contains(r.body, "acmesecret") || !strings.Contains(r.body, "betacaller") {
				t.Errorf("%s view %d: status %d, acme's call shown: %v", name, i, r.status, strings.Contains(r.body, "acmesecret"))
			}
			checkHeaders(t, name, r.header, "'none'")
		}
	}
}
