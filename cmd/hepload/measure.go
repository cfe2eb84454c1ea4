package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Measurement is what -measure found in the database after sending.
//
// Latency is ingest-to-queryable: for every message of a sampled dialog,
// the time a poller first finds its row minus the time the sender stamped
// it (its HEP timestamp, taken just before the write). The poller asks for
// every sampled message not yet found, with no time window, every
// pollInterval, and takes the time after the answer arrived: each figure is
// an upper bound, too high by at most one poll interval plus a query. A
// sampled message never found (lost, still not stored when the run ends,
// or not found within giveUp) counts as infinitely late in the "_all"
// percentiles, so a slow writer cannot hide behind a window the poller no
// longer looks at. PollMaxMillis says how loose the bound was: a poll that
// took long under load adds its duration to what it found.
type Measurement struct {
	Stored       int64   `json:"stored"`
	StoredRate   float64 `json:"stored_per_second"`
	LossPercent  float64 `json:"loss_percent"`
	DrainSeconds float64 `json:"drain_seconds"`

	LatencySamples   int     `json:"latency_samples"`
	LatencyUnseen    int     `json:"latency_unseen"`
	LatencyP50Millis float64 `json:"latency_p50_ms"`
	LatencyP99Millis float64 `json:"latency_p99_ms"`
	LatencyMaxMillis float64 `json:"latency_max_ms"`
	// LatencyP99AllMillis counts unseen samples as infinitely late; -1
	// when they are more than 1 % of the samples (p99 not reached).
	LatencyP99AllMillis float64 `json:"latency_p99_all_ms"`

	Polls         int     `json:"polls"`
	PollMaxMillis float64 `json:"poll_max_ms"`
}

const pollInterval = 100 * time.Millisecond

// drainMax bounds the wait for rows after sending; drainStall ends it when
// the count has not grown for that long (a checkpoint can pause writes for
// a few seconds).
const (
	drainMax   = 180 * time.Second
	drainStall = 10 * time.Second
)

// giveUp: a sampled message not found this long after it was sent is no
// longer asked for (it counts as infinitely late), so that messages lost
// over UDP do not make every later poll slower.
const giveUp = 30 * time.Second

// sample is one sampled dialog: when each message was sent, and whether
// the poller found it yet.
type sample struct {
	register bool
	sentAt   [7]time.Time
	seen     [7]bool
	pending  int
}

// measurer polls the benchmark database for sampled messages while the
// sender runs, and counts what was stored at the end.
type measurer struct {
	pool     *pgxpool.Pool
	prefix   string
	tenantID int64

	mu      sync.Mutex
	pending map[string]*sample // Call-ID -> dialog with messages not found yet
	samples int
	ms      []float64
	polls   int
	pollMax time.Duration

	stop context.CancelFunc
	done chan struct{}
}

func newMeasurer(ctx context.Context, url, prefix string) (*measurer, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("-measure: %w", err)
	}
	m := &measurer{pool: pool, prefix: prefix, pending: map[string]*sample{}}
	// The server side (hepload -serve) provisions one tenant, "bench".
	if err := pool.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = 'bench'`).Scan(&m.tenantID); err != nil {
		pool.Close()
		return nil, fmt.Errorf("-measure: the bench tenant (is hepload -serve running on -db?): %w", err)
	}
	return m, nil
}

func (m *measurer) close() { m.pool.Close() }

// sent records message i of a sampled dialog.
func (m *measurer) sent(callID string, register bool, i int, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.pending[callID]
	if s == nil {
		s = &sample{register: register}
		m.pending[callID] = s
	}
	s.sentAt[i] = at
	s.pending++
	m.samples++
}

func (m *measurer) start(ctx context.Context) {
	ctx, m.stop = context.WithCancel(ctx)
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.poll(ctx)
			}
		}
	}()
}

// poll looks up every sampled dialog with messages not found yet.
func (m *measurer) poll(ctx context.Context) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.pending))
	start := time.Now()
	for id, s := range m.pending {
		if first := s.firstSent(); start.Sub(first) > giveUp {
			delete(m.pending, id)
			continue
		}
		ids = append(ids, id)
	}
	m.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	rows, err := m.pool.Query(ctx, `SELECT call_id, coalesce(cseq, 0), coalesce(method, ''), coalesce(status, 0)
		FROM sip_messages WHERE tenant_id = $1 AND call_id = ANY($2)`, m.tenantID, ids)
	if err != nil {
		return
	}
	type found struct {
		call   string
		cseq   int64
		method string
		status int16
	}
	var got []found
	for rows.Next() {
		var f found
		if rows.Scan(&f.call, &f.cseq, &f.method, &f.status) == nil {
			got = append(got, f)
		}
	}
	rows.Close()
	now := time.Now() // after the answer: an upper bound
	m.mu.Lock()
	defer m.mu.Unlock()
	m.polls++
	m.pollMax = max(m.pollMax, now.Sub(start))
	for _, f := range got {
		s := m.pending[f.call]
		if s == nil {
			continue
		}
		i := messageIndex(s.register, f.cseq, f.method, f.status)
		if i < 0 || s.seen[i] || s.sentAt[i].IsZero() {
			continue
		}
		s.seen[i] = true
		s.pending--
		m.ms = append(m.ms, float64(now.Sub(s.sentAt[i]).Microseconds())/1000)
		if s.pending == 0 {
			delete(m.pending, f.call)
		}
	}
}

// firstSent is when the dialog's first sampled message was sent.
func (s *sample) firstSent() time.Time {
	for _, t := range s.sentAt {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// messageIndex names the loadgen message a row holds: within one dialog
// (CSeq number, method, status) is unique.
func messageIndex(register bool, cseq int64, method string, status int16) int {
	if register {
		switch {
		case cseq == 1 && method == "REGISTER":
			return 0
		case cseq == 1 && status == 401:
			return 1
		case cseq == 2 && method == "REGISTER":
			return 2
		case cseq == 2 && status == 200:
			return 3
		}
		return -1
	}
	switch {
	case method == "INVITE":
		return 0
	case cseq == 1 && status == 100:
		return 1
	case cseq == 1 && status == 180:
		return 2
	case cseq == 1 && status == 200:
		return 3
	case method == "ACK":
		return 4
	case method == "BYE":
		return 5
	case cseq == 2 && status == 200:
		return 6
	}
	return -1
}

// finish waits until the rows of this run stop growing (or all arrived),
// stops the poller and summarises.
func (m *measurer) finish(ctx context.Context, sent int64, sendSeconds float64) (*Measurement, error) {
	start := time.Now()
	grew := start
	var stored int64
	for {
		var n int64
		if err := m.pool.QueryRow(ctx, `SELECT count(*) FROM sip_messages WHERE tenant_id = $1 AND call_id LIKE $2`,
			m.tenantID, m.prefix+"-%").Scan(&n); err != nil {
			return nil, fmt.Errorf("-measure: count: %w", err)
		}
		if n > stored {
			grew = time.Now()
		}
		stored = n
		// Three minutes is the target for every row to be visible after a
		// blast; a count that stopped growing drainStall ago ends the wait
		// earlier (messages lost, not late).
		if n >= sent || time.Since(start) > drainMax || time.Since(grew) > drainStall {
			break
		}
		time.Sleep(time.Second)
	}
	drain := grew.Sub(start) // until the last row seen
	m.poll(ctx)              // the last word on samples stored during the drain
	m.stop()
	<-m.done

	r := &Measurement{Stored: stored, DrainSeconds: drain.Seconds()}
	r.StoredRate = float64(stored) / (sendSeconds + drain.Seconds())
	if sent > 0 {
		r.LossPercent = 100 * float64(sent-stored) / float64(sent)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sort.Float64s(m.ms)
	r.Polls, r.PollMaxMillis = m.polls, float64(m.pollMax.Microseconds())/1000
	r.LatencySamples = m.samples
	r.LatencyUnseen = m.samples - len(m.ms)
	if len(m.ms) > 0 {
		q := func(f float64) float64 { return m.ms[min(len(m.ms)-1, int(f*float64(len(m.ms))))] }
		r.LatencyP50Millis, r.LatencyP99Millis, r.LatencyMaxMillis = q(0.50), q(0.99), m.ms[len(m.ms)-1]
	}
	// With unseen samples at +Inf, p99 of all is the sample at rank
	// 0.99*samples if that rank falls among the seen ones.
	r.LatencyP99AllMillis = -1
	if k := int(math.Ceil(0.99*float64(m.samples))) - 1; k >= 0 && k < len(m.ms) {
		r.LatencyP99AllMillis = m.ms[k]
	}
	return r, nil
}
