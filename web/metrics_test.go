package web_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/web"
)

// tokenLike looks like a compact JWS: what must never become a label or a
// log field.
const tokenLike = "eyJhbGciOiJFZERTQSJ9.eyJ0aWQiOiJhY21lIn0.c2VjcmV0LXNpZ25hdHVyZS1ieXRlcw"

// newServer returns an echo with callscope's middleware, the metrics
// middleware and a few routes that succeed or fail in known ways.
func newServer(log *slog.Logger, reg prometheus.Registerer, role string) *echo.Echo {
	e := web.New(log, role)
	e.Use(web.Metrics(reg, role))
	e.GET("/v/:token", func(c echo.Context) error { return c.String(http.StatusOK, "ladder") })
	e.GET("/v/:token/pcap", func(c echo.Context) error {
		return callscope.Errorf(callscope.NotFound, "no such call")
	})
	e.GET("/boom/:token", func(c echo.Context) error {
		return fmt.Errorf("store exploded")
	})
	return e
}

func do(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

type sample struct {
	labels map[string]string
	count  uint64  // histograms
	value  float64 // counters
}

func samples(t *testing.T, reg *prometheus.Registry, name string) []sample {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			s := sample{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			s.count = m.GetHistogram().GetSampleCount()
			s.value = m.GetCounter().GetValue()
			out = append(out, s)
		}
	}
	return out
}

// find returns the sample whose labels include want.
func find(ss []sample, want map[string]string) (sample, bool) {
next:
	for _, s := range ss {
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		return s, true
	}
	return sample{}, false
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := newServer(log, reg, "viewer")

	for _, target := range []string{"/v/" + tokenLike, "/v/" + tokenLike + "?theme=dark", "/v/" + tokenLike + "/pcap",
		"/boom/" + tokenLike, "/nothing/" + tokenLike} {
		do(t, e, http.MethodGet, target)
	}
	ss := samples(t, reg, "callscope_http_request_duration_seconds")
	tests := []struct {
		route, code string
		count       uint64
	}{
		{"/v/:token", "2xx", 2},
		{"/v/:token/pcap", "4xx", 1},
		{"/boom/:token", "5xx", 1},
		{"unmatched", "4xx", 1},
	}
	for _, tt := range tests {
		s, ok := find(ss, map[string]string{"role": "viewer", "method": "GET", "route": tt.route, "code": tt.code})
		if !ok || s.count != tt.count {
			t.Errorf("%s %s: %d observations (found %v), want %d", tt.route, tt.code, s.count, ok, tt.count)
		}
	}
	if len(ss) != len(tests) {
		t.Errorf("%d series, want %d: %+v", len(ss), len(tests), ss)
	}
	for _, s := range ss {
		for _, v := range s.labels {
			if strings.Contains(v, "eyJ") {
				t.Errorf("a label carries the token: %v", s.labels)
			}
		}
	}

	t.Run("SeveralRolesOneRegistry", func(t *testing.T) {
		// serve runs viewer, query and console in one process.
		q := newServer(log, reg, "query")
		do(t, q, http.MethodGet, "/v/x")
		if _, ok := find(samples(t, reg, "callscope_http_request_duration_seconds"),
			map[string]string{"role": "query", "route": "/v/:token"}); !ok {
			t.Error("second role's requests not recorded")
		}
	})
}

func TestVerifyMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := web.NewVerifyMetrics(reg, "viewer")
	web.NewVerifyMetrics(reg, "query").Observe(nil)
	m.Observe(nil)
	m.Observe(nil)
	m.Observe(fmt.Errorf("auth.Verifier.Verify: %w", auth.ErrExpired))
	m.Observe(errors.New("something else"))
	var none *web.VerifyMetrics
	none.Observe(nil) // a nil *VerifyMetrics is a no-op

	ss := samples(t, reg, "callscope_token_verifications_total")
	for _, tt := range []struct {
		role, outcome string
		want          float64
	}{
		{"viewer", "ok", 2}, {"viewer", "expired", 1}, {"viewer", "error", 1}, {"query", "ok", 1},
	} {
		if s, _ := find(ss, map[string]string{"role": tt.role, "outcome": tt.outcome}); s.value != tt.want {
			t.Errorf("%s/%s = %v, want %v", tt.role, tt.outcome, s.value, tt.want)
		}
	}
}

func TestQueryMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := web.NewQueryMetrics(reg, "query")
	m.Observe("search", 3*time.Millisecond, nil)
	m.Observe("call", time.Millisecond, fmt.Errorf("query.Store.Call: %w", callscope.Errorf(callscope.NotFound, "no call")))
	done := m.Start("export")
	done(errors.New("boom"))
	var none *web.QueryMetrics
	none.Start("search")(nil)

	ss := samples(t, reg, "callscope_query_duration_seconds")
	for _, want := range []map[string]string{
		{"op": "search", "result": "ok"}, {"op": "call", "result": "not_found"}, {"op": "export", "result": "internal"},
	} {
		if s, ok := find(ss, want); !ok || s.count != 1 {
			t.Errorf("%v: %d observations, want 1", want, s.count)
		}
	}
}
