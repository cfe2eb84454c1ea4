package retention

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	deleted     *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	storage     *prometheus.GaugeVec
	runs        *prometheus.CounterVec
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscope_retention_deleted_rows_total",
			Help: "Rows deleted by retention (tenant retention and DEFAULT partitions), by table.",
		}, []string{"table"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscope_retention_dropped_partitions_total",
			Help: "Daily partitions dropped for being past CALLSCOPE_RETENTION_MAX_DAYS, by table.",
		}, []string{"table"}),
		storage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "callscope_tenant_storage_bytes",
			Help: "Estimated bytes of a tenant's messages and events (partition sizes incl. indexes × the tenant's row share from pg_stats or a block sample), as of the last retention pass.",
		}, []string{"tenant"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscope_retention_runs_total",
			Help: "Retention passes, by result (ok or error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscope_retention_run_seconds",
			Help:    "Duration of a retention pass.",
			Buckets: prometheus.ExponentialBuckets(0.05, 4, 9), // 50 ms .. ~55 min
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callscope_retention_last_success_timestamp_seconds",
			Help: "Unix time of the last retention pass that succeeded; alert when it is hours old.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.deleted, m.dropped, m.storage, m.runs, m.duration, m.lastSuccess} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

func (m *metrics) observeRun(d time.Duration, err error) {
	m.duration.Observe(d.Seconds())
	if err != nil {
		m.runs.WithLabelValues("error").Inc()
		return
	}
	m.runs.WithLabelValues("ok").Inc()
	m.lastSuccess.SetToCurrentTime()
}
