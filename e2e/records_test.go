package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// record is the part of the calls API's RECORD these tests check.
type record struct {
	CallID      string     `json:"call_id"`
	Kind        string     `json:"kind"`
	StartedAt   time.Time  `json:"started_at"`
	Outcome     string     `json:"outcome"`
	FinalStatus *int       `json:"final_status"`
	AnsweredAt  *time.Time `json:"answered_at"`
	PDDMs       *int64     `json:"pdd_ms"`
	DurationMs  *int64     `json:"duration_ms"`
	Callee      *string    `json:"callee"`
	Messages    int        `json:"messages"`
	RURIUser    *string    `json:"ruri_user"`
}

// listCalls asks the real viewer's calls API for the key's calls of the
// last hour whose Call-ID starts with prefix.
func listCalls(t *testing.T, cs *Callscope, key, prefix string) map[string]record {
	t.Helper()
	now := time.Now().UTC()
	q := url.Values{"from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Minute).Format(time.RFC3339)},
		"limit": {"1000"}}
	req, _ := http.NewRequest(http.MethodGet, cs.PublicURL+"/api/v1/calls?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, b := do1(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/calls: %s\n%s", resp.Status, b)
	}
	var body struct {
		Calls []record `json:"calls"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	out := map[string]record{}
	for _, r := range body.Calls {
		if strings.HasPrefix(r.CallID, prefix) {
			out[r.CallID] = r
		}
	}
	return out
}

// TestCallRecords checks the records of real Kamailio captures, read back
// through the viewer's calls API with each tenant's key: calls through
// proxy A (acme) and on to proxy B (globex) — answered, busy, refused by
// the UAS with 404, refused by proxy A itself with 404, a REGISTER with a
// 401 challenge — and a call made straight to proxy B, which only globex
// saw.
//
//	UAC 127.0.0.13 ─> A 127.0.0.25 ─> B 127.0.0.26 ─> UAS 127.0.0.33
//	                  │ HEP 2001       │ HEP 3001
//	UAC 127.0.0.14 ───────────────────>┘ (straight to B)
func TestCallRecords(t *testing.T) {
	needPeers(t)
	t.Parallel()
	cs := newCallscope(t)
	cs.CLI(t, "tenant", "create", "acme")
	cs.CLI(t, "tenant", "create", "globex")
	cs.CLI(t, "node", "add", "acme", "2001", "--name", "proxy-a")
	cs.CLI(t, "node", "add", "globex", "3001", "--name", "proxy-b")
	cs.Start(t)
	acmeKey, globexKey := createAPIKey(t, cs, "acme"), createAPIKey(t, cs, "globex")

	hep := "sip:" + cs.HEPAddr
	a := Proxy{Name: "A", Addr: freeSIPAddr(t, "127.0.0.25"), HEPURI: hep, CaptureID: 2001, RejectUser: "ghost"}
	b := Proxy{Name: "B", Addr: freeSIPAddr(t, "127.0.0.26"), HEPURI: hep + ";transport=tcp", CaptureID: 3001}
	a.Next = "sip:" + b.Addr
	startKamailio(t, b)
	startKamailio(t, a)
	kinds := []callKind{callKinds[0], callKinds[1], callKinds[2], callKinds[3]} // answered, busy, notfound, register
	runCallKinds(t, "rec", a, "127.0.0.13", "127.0.0.33", kinds)
	// Refused by proxy A itself: no UAS is asked.
	ghost := startSIPp(t, UA{Name: "rec ghost uac", Scenario: "uac_rejected.xml", Local: freeSIPAddr(t, "127.0.0.13"),
		Remote: a.Addr, Calls: 1, Service: "ghost", CallIDs: "rec-ghost-%u-%p@%s", Keys: map[string]string{"uas": a.Addr}})
	ghost.Wait(t)
	// Straight to proxy B.
	uas := freeSIPAddr(t, "127.0.0.33")
	runCalls(t, UA{Name: "direct uas", Scenario: "uas_answered.xml", Local: uas, Calls: 1},
		UA{Name: "direct uac", Scenario: "uac_answered.xml", Local: freeSIPAddr(t, "127.0.0.14"), Remote: b.Addr, Calls: 1,
			Service: "bob", CallIDs: "direct-%u-%p@%s", Keys: map[string]string{"uas": uas}})

	type want struct {
		kind, outcome string
		final, n      int
		answered      bool
	}
	wants := map[string]want{
		"rec-answered-": {"invite", "answered", 200, 3, true},
		"rec-busy-":     {"invite", "busy", 486, 2, false},
		"rec-notfound-": {"invite", "rejected", 404, 2, false},
		"rec-register-": {"register", "ok", 200, 2, false},
		"rec-ghost-":    {"invite", "rejected", 404, 1, false},
	}
	check := func(t *testing.T, key, tenant string, wants map[string]want, proxyCallee string) {
		var got map[string]record
		// A record is current once its last message is stored: wait until
		// every call shows its final outcome.
		err := eventually(20*time.Second, func() error {
			for prefix, w := range wants {
				got = listCalls(t, cs, key, prefix)
				if len(got) != w.n {
					return fmt.Errorf("%s: %d %s* calls, want %d", tenant, len(got), prefix, w.n)
				}
				for id, r := range got {
					if r.Outcome != w.outcome {
						return fmt.Errorf("%s: %s outcome %s so far, want %s", tenant, id, r.Outcome, w.outcome)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for prefix, w := range wants {
			for id, r := range listCalls(t, cs, key, prefix) {
				switch {
				case r.Kind != w.kind || r.FinalStatus == nil || *r.FinalStatus != w.final:
					t.Errorf("%s %s: kind %s, final %v; want %s %d", tenant, id, r.Kind, r.FinalStatus, w.kind, w.final)
				case w.answered && (r.AnsweredAt == nil || r.PDDMs == nil || r.DurationMs == nil || *r.DurationMs <= 0):
					t.Errorf("%s %s answered: answered_at %v, pdd %v, duration %v", tenant, id, r.AnsweredAt, r.PDDMs, r.DurationMs)
				case w.kind == "invite" && r.PDDMs == nil:
					t.Errorf("%s %s: no post-dial delay", tenant, id)
				case !w.answered && (r.AnsweredAt != nil || r.DurationMs != nil):
					t.Errorf("%s %s not answered: answered_at %v, duration %v", tenant, id, r.AnsweredAt, r.DurationMs)
				case prefix == "rec-ghost-" && (r.Callee == nil || *r.Callee != proxyCallee):
					t.Errorf("%s %s: callee %v, want the refusing proxy %s", tenant, id, r.Callee, proxyCallee)
				}
			}
		}
	}
	t.Run("ThroughProxyA", func(t *testing.T) { check(t, acmeKey, "acme", wants, a.Addr) })
	t.Run("ProxyBSawThemToo", func(t *testing.T) {
		// Proxy B reports the same calls to its own tenant, except the one
		// proxy A refused; and the call made straight to it.
		wb := map[string]want{"direct-": {"invite", "answered", 200, 1, true}}
		for p, w := range wants {
			if p != "rec-ghost-" {
				wb[p] = w
			}
		}
		check(t, globexKey, "globex", wb, "")
	})
	t.Run("OneCallByCallID", func(t *testing.T) {
		// To a minute ahead, as listCalls: RFC 3339 in whole seconds would
		// cut off a call that started in the current second.
		now := time.Now().UTC()
		window := "?from=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(time.Minute).Format(time.RFC3339))
		for id := range listCalls(t, cs, globexKey, "direct-") {
			for _, tc := range []struct {
				key  string
				code int
			}{{globexKey, http.StatusOK}, {acmeKey, http.StatusNotFound}} {
				req, _ := http.NewRequest(http.MethodGet, cs.PublicURL+"/api/v1/calls/"+url.PathEscape(id)+window, nil)
				req.Header.Set("Authorization", "Bearer "+tc.key)
				resp, b := do1(t, req)
				var r record
				_ = json.Unmarshal(b, &r)
				if resp.StatusCode != tc.code || (tc.code == http.StatusOK && (r.CallID != id || r.Outcome != "answered")) {
					t.Errorf("GET /api/v1/calls/%s: %s %s", id, resp.Status, b)
				}
			}
		}
	})
	t.Run("OtherTenantSeesNothing", func(t *testing.T) {
		if got := listCalls(t, cs, acmeKey, "direct-"); len(got) != 0 {
			t.Errorf("acme's key lists globex's call: %v", got)
		}
		if got := listCalls(t, cs, globexKey, "rec-ghost-"); len(got) != 0 {
			t.Errorf("globex's key lists acme's call: %v", got)
		}
	})
}
