package viewer

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/retry"
)

// AuditQueue reports successful views to the query service in batches, off
// the request path: the viewer holds no database credential, so query
// writes the tenant's view audit. A full queue drops rather than slow a
// page down; a report query does not take is retried with backoff. No loss
// is silent: each is counted and told to OnDrop.
type AuditQueue struct {
	qc      *queryapi.Client
	ch      chan queryapi.ViewRecord
	every   time.Duration
	dropped atomic.Uint64
	full    atomic.Int64 // queue-full drops not yet reported

	// Retries is how many times a report is tried again, Backoff the first
	// wait, doubled each time.
	Retries int
	Backoff time.Duration
	// OnDrop is told of every loss: reason "queue_full" (views turned away
	// since the last report) or "write_failed" (a batch query would not
	// take, after its retries), so that it is logged and counted.
	OnDrop func(reason string, views int, err error)
}

// NewAuditQueue returns a queue of size records flushed every interval.
func NewAuditQueue(qc *queryapi.Client, size int, every time.Duration) *AuditQueue {
	return &AuditQueue{qc: qc, ch: make(chan queryapi.ViewRecord, size), every: every, Retries: 3, Backoff: 200 * time.Millisecond}
}

// AuditView implements Auditor; it never blocks.
func (q *AuditQueue) AuditView(_ context.Context, v View) error {
	r := queryapi.ViewRecord{At: v.At, Tenant: v.Tenant, CallID: v.CallID, JTI: v.JTI, UserAgent: v.UserAgent}
	if v.ClientIP.IsValid() {
		r.ClientIP = v.ClientIP.String()
	}
	select {
	case q.ch <- r:
	default:
		q.dropped.Add(1)
		q.full.Add(1)
	}
	return nil
}

// Dropped is how many views were not reported.
func (q *AuditQueue) Dropped() uint64 { return q.dropped.Load() }

func (q *AuditQueue) drop(reason string, n int, err error) {
	if q.OnDrop != nil && n > 0 {
		q.OnDrop(reason, n, err)
	}
}

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
	q.drop("queue_full", int(q.full.Swap(0)), nil)
	for {
		batch := make([]queryapi.ViewRecord, 0, 100)
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
		if err := q.send(ctx, batch); err != nil {
			q.dropped.Add(uint64(len(batch)))
			q.drop("write_failed", len(batch), err)
			return
		}
	}
}

// send reports batch, trying again with backoff.
func (q *AuditQueue) send(ctx context.Context, batch []queryapi.ViewRecord) error {
	return retry.Do(ctx, 1+q.Retries, q.Backoff, func() error { return q.qc.RecordViews(ctx, batch) })
}
