package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons: the bounded set of values of the "reason" label.
const (
	reasonUnknownNode      = "unknown_node"
	reasonBadAuthKey       = "bad_auth_key"
	reasonSourceNotAllowed = "source_not_allowed"
	reasonWrongCert        = "wrong_certificate"
	reasonTenantSuspended  = "tenant_suspended"
	reasonSIPMalformed     = "sip_malformed"
	reasonUnsupported      = "unsupported_payload"
	reasonQueueFull        = "queue_full"
	reasonSpoolFull        = "spool_full"
	reasonDuplicate        = "duplicate"
	reasonSpoolCorrupt     = "spool_corrupt"
	reasonWriteRefused     = "write_refused"
	reasonStreamBadFraming = "stream_bad_framing"
)

// hepReasons are the labels hep.Reason can return.
var hepReasons = []string{"hep_truncated", "hep_bad_magic", "hep_bad_length", "hep_bad_chunk",
	"hep_bad_family", "hep_too_large", "hep_inflate_failed", "hep_no_payload", "hep_other"}

var transports = []string{"udp", "tcp", "tls"}

const (
	trUDP = iota
	trTCP
	trTLS
)

// metrics are the ingest series, registered on the Registerer given to New.
// The hot path uses pre-resolved counters, never a label lookup per packet.
type metrics struct {
	packets  [3][4]prometheus.Counter // [transport][hep version]
	accepted prometheus.Counter
	dropped  map[string]prometheus.Counter

	acceptedByTenant *prometheus.CounterVec
	batchSize        prometheus.Histogram
	flushSeconds     prometheus.Histogram
	rowsWritten      *prometheus.CounterVec
	spoolBatches     *prometheus.CounterVec
	writeErrors      prometheus.Counter
	streamsRefused   *prometheus.CounterVec
	recordErrors     prometheus.Counter
}

// gauges are the values the metrics read from the server when scraped.
type gauges struct {
	queueDepth, queueBytes, spoolBytes, lagSeconds, backlogBytes func() float64
}

func newMetrics(reg prometheus.Registerer, g gauges) (*metrics, error) {
	packets := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callscope_ingest_packets_total",
		Help: "HEP packets received, by transport and HEP version (0: not decodable).",
	}, []string{"transport", "version"})
	accepted := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "callscope_ingest_accepted_total",
		Help: "Packets accepted into the write queue: from here on they are stored or spooled.",
	})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "callscope_ingest_dropped_total",
		Help: "Packets (or spooled batches' rows) dropped, by reason.",
	}, []string{"reason"})
	m := &metrics{
		accepted: accepted,
		dropped:  map[string]prometheus.Counter{},
		acceptedByTenant: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscope_ingest_accepted_by_tenant_total",
			Help: "Packets accepted, by tenant slug.",
		}, []string{"tenant"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscope_ingest_batch_rows",
			Help:    "Rows per written batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callscope_ingest_flush_seconds",
			Help:    "Time to write one batch to PostgreSQL (COPY and commit).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 10),
		}),
		rowsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscope_ingest_rows_written_total",
			Help: "Rows committed to PostgreSQL, by table.",
		}, []string{"table"}),
		spoolBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscope_ingest_spool_batches_total",
			Help: "Batches spooled to disk, replayed from it, or skipped on replay as already written.",
		}, []string{"event"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscope_ingest_write_errors_total",
			Help: "Failed batch writes (the batch is written again, in order, after the retry interval).",
		}),
		streamsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callscope_ingest_connections_refused_total",
			Help: "TCP/TLS connections closed at once, by limit reached: per_source or global.",
		}, []string{"limit"}),
		recordErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callscope_ingest_record_errors_total",
			Help: "Batches whose messages were written but whose call records could not be updated (see `callscope calls rebuild`).",
		}),
	}
	for t, tr := range transports {
		for v := range 4 {
			m.packets[t][v] = packets.WithLabelValues(tr, fmt.Sprint(v))
		}
	}
	for _, r := range append([]string{reasonUnknownNode, reasonBadAuthKey, reasonSourceNotAllowed, reasonWrongCert,
		reasonTenantSuspended, reasonSIPMalformed, reasonUnsupported, reasonQueueFull, reasonSpoolFull,
		reasonDuplicate, reasonSpoolCorrupt, reasonWriteRefused, reasonStreamBadFraming}, hepReasons...) {
		m.dropped[r] = dropped.WithLabelValues(r)
	}
	cs := []prometheus.Collector{packets, accepted, dropped, m.acceptedByTenant, m.batchSize,
		m.flushSeconds, m.rowsWritten, m.spoolBatches, m.writeErrors, m.streamsRefused, m.recordErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callscope_ingest_queue_depth",
			Help: "Rows waiting in memory for the writer.",
		}, g.queueDepth),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callscope_ingest_queue_bytes",
			Help: "Memory held by accepted rows not yet written or spooled (bounded by the queue's byte limit).",
		}, g.queueBytes),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callscope_ingest_spool_bytes",
			Help: "Bytes of batches waiting in the disk spool.",
		}, g.spoolBytes),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callscope_ingest_lag_seconds",
			Help: "How far behind PostgreSQL ingest is: age of the oldest accepted message not written yet (0 when none waits).",
		}, g.lagSeconds),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "callscope_ingest_backlog_bytes",
			Help: "Accepted messages waiting to be written, in memory and in the spool.",
		}, g.backlogBytes),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ingest: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) drop(reason string) {
	c, ok := m.dropped[reason]
	if !ok {
		c = m.dropped["hep_other"]
	}
	c.Inc()
}
