package web

import (
	"errors"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope/auth"
)

// Metric names every role shares. Labels never carry a URI, a token or a
// tenant-supplied string: only route patterns and fixed vocabularies, so
// cardinality is bounded and nothing secret reaches Prometheus.
const (
	httpDurationName  = "callscope_http_request_duration_seconds"
	verificationsName = "callscope_token_verifications_total"
	queryDurationName = "callscope_query_duration_seconds"
	auditDropsName    = "callscope_view_audit_dropped_total"
)

// latencyBuckets span a cached render (~1 ms) to a slow search or export (10 s).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// register registers c on reg, or returns the collector already registered
// under the same description: serve runs several roles in one process, each
// asking for the same vectors. A nil reg registers nothing. Any other
// registration error is a programming error and panics, as MustRegister does.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// Metrics returns middleware that records each request's duration in
// callscope_http_request_duration_seconds{role, method, route, code}:
// route is echo's pattern (c.Path(), "/v/:token"), never the URI, which
// may hold a view token; requests matching no route are "unmatched"; code
// is the status class ("2xx", "4xx"...). Install it after Middleware (so
// inside it): an error the handler returns is rendered here through the
// error handler, so the recorded status is the one the client got.
func Metrics(reg prometheus.Registerer, role string) echo.MiddlewareFunc {
	h := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    httpDurationName,
		Help:    "HTTP request duration by role, route pattern, method and status class.",
		Buckets: latencyBuckets,
	}, []string{"role", "method", "route", "code"}))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			h.WithLabelValues(role, c.Request().Method, routeLabel(c), statusClass(c.Response().Status)).
				Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// routeLabel is the matched route pattern. Echo reports a request that
// matched no route with an empty path or its catch-all "/*"; both become
// "unmatched" so an unknown URI can never become a label value.
func routeLabel(c echo.Context) string {
	switch p := c.Path(); p {
	case "", "/*":
		return "unmatched"
	default:
		return p
	}
}

func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// VerifyMetrics counts view-token verifications by outcome. The viewer and
// query call Observe with what auth.Verifier.Verify returned. A nil
// *VerifyMetrics counts nothing.
type VerifyMetrics struct {
	c    *prometheus.CounterVec
	role string
}

// NewVerifyMetrics registers callscope_token_verifications_total{role,
// outcome} on reg; outcome is auth.Outcome(err): ok, malformed,
// bad_signature, invalid_claims, expired, not_yet_valid, revoked,
// tenant_inactive, unavailable or error.
func NewVerifyMetrics(reg prometheus.Registerer, role string) *VerifyMetrics {
	return &VerifyMetrics{role: role, c: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: verificationsName,
		Help: "View-token verifications by role and outcome.",
	}, []string{"role", "outcome"}))}
}

// Observe counts one verification that returned err.
func (m *VerifyMetrics) Observe(err error) {
	if m == nil {
		return
	}
	m.c.WithLabelValues(m.role, auth.Outcome(err)).Inc()
}

// QueryMetrics times the query service's database operations. A nil
// *QueryMetrics times nothing.
type QueryMetrics struct {
	h    *prometheus.HistogramVec
	role string
}

// NewQueryMetrics registers callscope_query_duration_seconds{role, op,
// result} on reg; result is "ok" or the error's kind (not_found,
// unavailable, internal...).
func NewQueryMetrics(reg prometheus.Registerer, role string) *QueryMetrics {
	return &QueryMetrics{role: role, h: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    queryDurationName,
		Help:    "Query service operation duration (search, call, export...) by role, operation and result.",
		Buckets: latencyBuckets,
	}, []string{"role", "op", "result"}))}
}

// Observe records one operation op that took d and returned err. op must
// come from a fixed set of names chosen by the caller, never from input.
func (m *QueryMetrics) Observe(op string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = string(KindOf(err))
	}
	m.h.WithLabelValues(m.role, op, result).Observe(d.Seconds())
}

// Start starts timing op; call the returned function with the operation's
// error when it ends:
//
//	done := qm.Start("search")
//	res, err := store.Search(ctx, tenantID, f)
//	done(err)
func (m *QueryMetrics) Start(op string) func(err error) {
	start := time.Now()
	return func(err error) { m.Observe(op, time.Since(start), err) }
}

// AuditDrops counts view-audit entries lost on the way to PostgreSQL. A nil
// *AuditDrops counts nothing.
type AuditDrops struct {
	c    *prometheus.CounterVec
	role string
}

// NewAuditDrops registers callscope_view_audit_dropped_total{role, reason}
// on reg; reason is "queue_full" (turned away at the door) or
// "write_failed" (a batch that kept failing after its retries).
func NewAuditDrops(reg prometheus.Registerer, role string) *AuditDrops {
	return &AuditDrops{role: role, c: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: auditDropsName,
		Help: "View-audit entries lost, by role and reason.",
	}, []string{"role", "reason"}))}
}

// Observe counts n entries lost for reason.
func (m *AuditDrops) Observe(reason string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.c.WithLabelValues(m.role, reason).Add(float64(n))
}
