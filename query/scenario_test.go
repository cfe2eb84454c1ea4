package query_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/web"
)

type scenarioBundle struct {
	*bundle
	srv              *httptest.Server
	acmeKey, betaKey string
	window           url.Values
}

func setupScenarioAPI(t *testing.T) *scenarioBundle {
	t.Helper()
	b := setup(t)
	keys := authdb.NewAPIKeys(b.db)
	s := &scenarioBundle{bundle: b, window: url.Values{"from": {t0.Format(time.RFC3339)}, "to": {t0.Add(time.Hour).Format(time.RFC3339)}}}
	var err error
	if s.acmeKey, _, err = keys.CreateAPIKey(context.Background(), b.acme.ID, "tests"); err != nil {
		t.Fatal(err)
	}
	if s.betaKey, _, err = keys.CreateAPIKey(context.Background(), b.beta.ID, "tests"); err != nil {
		t.Fatal(err)
	}
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)), "query")
	query.NewScenarioAPI(keys, b.store).Routes(e.Group(""))
	s.srv = httptest.NewServer(e)
	t.Cleanup(s.srv.Close)
	return s
}

// get asks for callID's scenario with the query q (the window when nil).
func (s *scenarioBundle) get(t *testing.T, key, callID string, q url.Values) (*http.Response, string) {
	t.Helper()
	if q == nil {
		q = url.Values{"side": {"uac"}}
	}
	for k, v := range s.window {
		if _, ok := q[k]; !ok {
			q[k] = v
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/api/v1/calls/"+url.PathEscape(callID)+"/scenario?"+q.Encode(), nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func errorField(t *testing.T, body string) (code, field, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error.Code, e.Error.Field, e.Error.Message
}

func TestScenarioAPI(t *testing.T) {
	s := setupScenarioAPI(t)
	// Both tenants hold a call with the same Call-ID.
	s.insert(t,
		querytest.Call{TenantID: s.acme.ID, CallID: "same@id", Start: t0, FromUser: "acme-caller"},
		querytest.Call{TenantID: s.beta.ID, CallID: "same@id", Start: t0, FromUser: "beta-caller"},
		querytest.Call{TenantID: s.acme.ID, CallID: "only-acme", Start: t0, Status: 486},
	)
	// A capture that starts inside a dialog: only the BYE and its 200.
	querytest.MustInsert(t, s.db.Owner(), querytest.Call{TenantID: s.acme.ID, CallID: "mid-dialog", Start: t0}.FromBYE()...)

	t.Run("OK", func(t *testing.T) {
		for side, want := range map[string]string{
			"uac": "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
			"uas": `<recv request="INVITE">`,
		} {
			resp, body := s.get(t, s.acmeKey, "same@id", url.Values{"side": {side}})
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/xml" {
				t.Fatalf("%s: %d %s %s", side, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if !strings.HasPrefix(body, "<?xml") || !strings.Contains(body, want) {
				t.Errorf("%s scenario lacks %q:\n%s", side, want, body)
			}
			if side == "uac" && (!strings.Contains(body, `"acme-caller"`) || strings.Contains(body, "beta-caller")) {
				t.Errorf("acme's key got another tenant's call:\n%s", body)
			}
		}
		resp, body := s.get(t, s.acmeKey, "only-acme", url.Values{"side": {"uas"}, "no_pauses": {"true"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "SIP/2.0 486 Busy Here") || strings.Contains(body, "<pause") {
			t.Errorf("busy call without pauses: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("OtherTenant", func(t *testing.T) {
		resp, body := s.get(t, s.betaKey, "only-acme", nil)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "<scenario") {
			t.Fatalf("beta's key on acme's call: %d %s", resp.StatusCode, body)
		}
		_, missing := s.get(t, s.betaKey, "never-was", nil)
		if code, _, msg := errorField(t, body); code != "not_found" || msg != func() string { _, _, m := errorField(t, missing); return m }() {
			t.Errorf("another tenant's call answers %q %q, unlike a missing one", code, msg)
		}
		resp, body = s.get(t, s.betaKey, "same@id", nil)
		if resp.StatusCode != http.StatusOK || strings.Contains(body, "acme-caller") || !strings.Contains(body, "beta-caller") {
			t.Errorf("beta's own same@id: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("OutsideWindow", func(t *testing.T) {
		q := url.Values{"side": {"uac"}, "from": {t0.Add(2 * time.Hour).Format(time.RFC3339)}, "to": {t0.Add(3 * time.Hour).Format(time.RFC3339)}}
		if resp, body := s.get(t, s.acmeKey, "only-acme", q); resp.StatusCode != http.StatusNotFound {
			t.Errorf("call outside the window: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("Unprocessable", func(t *testing.T) {
		resp, body := s.get(t, s.acmeKey, "mid-dialog", nil)
		code, _, msg := errorField(t, body)
		if resp.StatusCode != http.StatusUnprocessableEntity || code != "unprocessable" || !strings.Contains(msg, "starts inside a dialog") {
			t.Errorf("a call SIPp cannot replay: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("APIKeyRequired", func(t *testing.T) {
		for _, key := range []string{"", "cs_notakey", s.acmeKey + "x"} {
			if resp, body := s.get(t, key, "same@id", nil); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("key %q: %d %s", key, resp.StatusCode, body)
			}
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		for _, tc := range []struct {
			q     url.Values
			field string
		}{
			{url.Values{"side": {"both"}}, "side"},
			{url.Values{}, "side"},
			{url.Values{"side": {"uac"}, "from": {""}}, "from"},
			{url.Values{"side": {"uac"}, "to": {"yesterday"}}, "to"},
			{url.Values{"side": {"uac"}, "no_pauses": {"maybe"}}, "no_pauses"},
		} {
			resp, body := s.get(t, s.acmeKey, "same@id", tc.q)
			if _, field, _ := errorField(t, body); resp.StatusCode != http.StatusBadRequest || field != tc.field {
				t.Errorf("%v: %d %s, want 400 naming %s", tc.q, resp.StatusCode, body, tc.field)
			}
		}
	})
}
