package viewer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/query/querytest"
)

func TestScenarioDownload(t *testing.T) {
	b := setup(t, options{})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "sc-1@acme", Start: t0})
	// A capture that starts inside a dialog: SIPp cannot replay it.
	querytest.MustInsert(t, b.db.Owner(), querytest.Call{TenantID: b.acme.ID, CallID: "sc-2@acme", Start: t0}.FromBYE()...)

	t.Run("OK", func(t *testing.T) {
		tok := mint(t, b.server, b.claims("acme", "sc-1@acme", auth.ScopeScenario))
		page := get(t, b.viewer.URL+"/v/"+tok)
		if !strings.Contains(page.body, `href="/v/`+tok+`/scenario.zip"`) {
			t.Errorf("the page does not offer the SIPp test:\n%s", page.body)
		}
		r := get(t, b.viewer.URL+"/v/"+tok+"/scenario.zip")
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/zip" ||
			!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("%d %s %s", r.status, r.header.Get("Content-Type"), r.header.Get("Content-Disposition"))
		}
		checkHeaders(t, "scenario.zip", r.header, acmeAncestors)
		zr, err := zip.NewReader(bytes.NewReader([]byte(r.body)), int64(len(r.body)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		if strings.Join(names, " ") != "uac.xml uas.xml README.txt" {
			t.Errorf("zip holds %v", names)
		}
	})

	t.Run("WithoutScope", func(t *testing.T) {
		for _, scopes := range [][]string{nil, {auth.ScopePCAP}} {
			tok := mint(t, b.server, b.claims("acme", "sc-1@acme", scopes...))
			if page := get(t, b.viewer.URL+"/v/"+tok); strings.Contains(page.body, "scenario-download") {
				t.Errorf("scopes %v: the page offers the SIPp test", scopes)
			}
			r := get(t, b.viewer.URL+"/v/"+tok+"/scenario.zip")
			if r.status != http.StatusNotFound || !strings.Contains(r.body, `data-kind="not_found"`) {
				t.Errorf("scopes %v: %d", scopes, r.status)
			}
		}
	})

	t.Run("OtherTenant", func(t *testing.T) {
		tok := mint(t, b.server, b.claims("beta", "sc-1@acme", auth.ScopeScenario))
		if r := get(t, b.viewer.URL+"/v/"+tok+"/scenario.zip"); r.status != http.StatusNotFound {
			t.Errorf("beta's token on acme's call: %d", r.status)
		}
	})

	t.Run("NotReproducible", func(t *testing.T) {
		tok := mint(t, b.server, b.claims("acme", "sc-2@acme", auth.ScopeScenario))
		r := get(t, b.viewer.URL+"/v/"+tok+"/scenario.zip")
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `data-kind="not_reproducible"`) {
			t.Errorf("%d %s", r.status, r.body)
		}
		checkHeaders(t, "not reproducible", r.header, acmeAncestors)
	})
}

// The scenario API is forwarded to query, which checks the API key.
func TestForwardScenarioAPI(t *testing.T) {
	b := setup(t, options{})
	b.insert(t, querytest.Call{TenantID: b.acme.ID, CallID: "fw-1@acme", Start: t0})
	key, _, err := authdb.NewAPIKeys(b.db).CreateAPIKey(context.Background(), b.acme.ID, "tests")
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"from": {t0.Format(time.RFC3339)}, "to": {t0.Add(time.Hour).Format(time.RFC3339)}, "side": {"uas"}}
	path := b.viewer.URL + "/api/v1/calls/" + url.PathEscape("fw-1@acme") + "/scenario?" + q.Encode()
	r := do(t, http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + key})
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/xml" || !strings.Contains(r.body, `<recv request="INVITE">`) {
		t.Fatalf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r := do(t, http.MethodGet, path, nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("without a key: %d", r.status)
	}
}
