package viewer

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/callscope/callscope/query"
)

// AuditQueue reports successful views to the query service in batches, off
// the request path: the viewer holds no database credential, so query
// writes the tenant's view audit. A full queue drops (counted) rather than
// slow a page down.
type AuditQueue struct {
	qc      *query.Client
	log     *slog.Logger
	ch      chan query.ViewRecord
	every   time.Duration
	dropped atomic.Uint64
}

// NewAuditQueue returns a queue of size records flushed every interval.
func NewAuditQueue(qc *query.Client, size int, every time.Duration, log *slog.Logger) *AuditQueue {
	return &AuditQueue{qc: qc, log: log, ch: make(chan query.ViewRecord, size), every: every}
}

// AuditView implements Auditor; it never blocks.
func (q *AuditQueue) AuditView(_ context.Context, v View) error {
	r := query.ViewRecord{At: v.At, Tenant: v.Tenant, CallID: v.CallID, JTI: v.JTI, UserAgent: v.UserAgent}
	if v.ClientIP.IsValid() {
		r.ClientIP = v.ClientIP.String()
	}
	select {
	case q.ch <- r:
	default:
		q.dropped.Add(1)
	}
	return nil
}

// Dropped is how many views were not reported.
func (q *AuditQueue) Dropped() uint64 { return q.dropped.Load() }

// Run sends batches until ctx ends, then sends what is queued and returns.
func (q *AuditQueue) Run(ctx context.Context) error {
	t := time.NewTicker(q.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			q.flush(fctx)
			return nil
		case <-t.C:
			q.flush(ctx)
		}
	}
}

func (q *AuditQueue) flush(ctx context.Context) {
	for {
		batch := make([]query.ViewRecord, 0, 100)
	fill:
		for len(batch) < 1000 {
			select {
			case r := <-q.ch:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		if err := q.qc.RecordViews(ctx, batch); err != nil {
			q.dropped.Add(uint64(len(batch)))
			q.log.WarnContext(ctx, "viewer: report views to query", "views", len(batch), "err", err)
			return
		}
	}
}
