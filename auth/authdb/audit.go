package authdb

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/retry"
)

// AuditEntry is one successful view of a call through a view token.
type AuditEntry struct {
	Tenant    string // slug, the token's tid
	ViewedAt  time.Time
	JTI       string
	CallID    string
	ClientIP  netip.Addr // zero when unknown
	UserAgent string
}

// AuditRecord is a stored AuditEntry, as the console lists it.
type AuditRecord struct {
	TenantID  int64       `db:"tenant_id"`
	ViewedAt  time.Time   `db:"viewed_at"`
	JTI       string      `db:"jti"`
	CallID    string      `db:"call_id"`
	ClientIP  *netip.Addr `db:"client_ip"`
	UserAgent string      `db:"user_agent"`
}

// AuditOptions tune an AuditWriter; zero fields take the defaults.
type AuditOptions struct {
	QueueSize     int           // entries held before Record drops; default 10000
	BatchSize     int           // rows per INSERT; default 500
	FlushInterval time.Duration // longest an entry waits; default 1s
	// Retries is how many times a batch that failed to write is tried
	// again, RetryBackoff the first wait (doubled each time); defaults 3
	// and 200ms.
	Retries      int
	RetryBackoff time.Duration
	// OnDrop is told of every loss, so that it is logged and counted:
	// reason "queue_full" (entries Record turned away since the last
	// report; err nil) or "write_failed" (a batch still failing after its
	// retries). Nil: losses are only counted by Dropped.
	OnDrop func(reason string, entries int, err error)
}

// AuditWriter writes view audit entries in batches off the request path.
//
// Record puts an entry on a bounded channel and never blocks: when the
// queue is full (PostgreSQL slow or down) the entry is dropped, because a
// page view must not wait for its audit line. Run drains the channel into
// batches by size or time and flushes what is left when its context ends.
// A batch that fails to write is retried with backoff; one that still
// fails is dropped. No loss is silent: each is counted and reported to
// OnDrop.
//
// A batch is one INSERT ... SELECT FROM unnest(arrays) run as callscope_app
// in db.AllTenants — a batch holds many tenants' views, so no single tenant
// scope fits, and the policy then admits every row. COPY is not an option
// for the application role: PostgreSQL refuses COPY FROM into a table with
// row-level security. The owner pool would allow COPY but bypasses every
// policy, and the audit does not need COPY's speed (one row per page view,
// not per SIP message), so the least-privileged path wins.
type AuditWriter struct {
	db         *db.DB
	opt        AuditOptions
	ch         chan AuditEntry
	drops      atomic.Uint64
	fails      atomic.Uint64
	rows       atomic.Uint64
	unreported atomic.Int64 // queue-full drops not yet told to OnDrop
}

// NewAuditWriter returns a writer over d; call Run to start writing.
func NewAuditWriter(d *db.DB, opt AuditOptions) *AuditWriter {
	if opt.QueueSize <= 0 {
		opt.QueueSize = 10000
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = time.Second
	}
	if opt.Retries <= 0 {
		opt.Retries = 3
	}
	if opt.RetryBackoff <= 0 {
		opt.RetryBackoff = 200 * time.Millisecond
	}
	return &AuditWriter{db: d, opt: opt, ch: make(chan AuditEntry, opt.QueueSize)}
}

// Record queues e without blocking; it reports false when e was dropped.
func (w *AuditWriter) Record(e AuditEntry) bool {
	if e.ViewedAt.IsZero() {
		e.ViewedAt = time.Now()
	}
	select {
	case w.ch <- e:
		return true
	default:
		w.drops.Add(1)
		w.unreported.Add(1)
		return false
	}
}

// Dropped is how many entries Record or a failed batch discarded.
func (w *AuditWriter) Dropped() uint64 { return w.drops.Load() }

// Written is how many rows reached PostgreSQL.
func (w *AuditWriter) Written() uint64 { return w.rows.Load() }

// Failures is how many batches were dropped after their retries.
func (w *AuditWriter) Failures() uint64 { return w.fails.Load() }

func (w *AuditWriter) dropped(reason string, n int, err error) {
	if w.opt.OnDrop != nil && n > 0 {
		w.opt.OnDrop(reason, n, err)
	}
}

// Run writes batches until ctx ends, then flushes what was queued and
// returns. Each write of a batch is bounded by ten seconds and retried
// Retries times; a batch that still fails is dropped and reported. Run
// returns only the error of the final flush.
func (w *AuditWriter) Run(ctx context.Context) error {
	t := time.NewTicker(w.opt.FlushInterval)
	defer t.Stop()
	batch := make([]AuditEntry, 0, w.opt.BatchSize)
	// Writes outlive ctx: a batch already taken off the queue is written
	// even when shutdown began meanwhile, within a bound of its own; only
	// the waits between retries end with ctx.
	flush := func() error {
		w.dropped("queue_full", int(w.unreported.Swap(0)), nil)
		if len(batch) == 0 {
			return nil
		}
		err := w.writeRetrying(ctx, batch)
		if err != nil {
			w.drops.Add(uint64(len(batch)))
			w.fails.Add(1)
			w.dropped("write_failed", len(batch), err)
		}
		batch = batch[:0]
		return err
	}
	for {
		select {
		case e := <-w.ch:
			batch = append(batch, e)
			if len(batch) >= w.opt.BatchSize {
				_ = flush()
			}
		case <-t.C:
			_ = flush()
		case <-ctx.Done():
			var errs []error
			for drained := false; !drained; {
				select {
				case e := <-w.ch:
					batch = append(batch, e)
					if len(batch) >= w.opt.BatchSize {
						errs = append(errs, flush())
					}
				default:
					drained = true
				}
			}
			errs = append(errs, flush())
			if err := errors.Join(errs...); err != nil {
				return fmt.Errorf("authdb.AuditWriter.Run: final flush: %w", err)
			}
			return nil
		}
	}
}

// writeRetrying writes batch, trying again with backoff when PostgreSQL
// refuses. Each write is bounded by ten seconds and outlives ctx.
func (w *AuditWriter) writeRetrying(ctx context.Context, batch []AuditEntry) error {
	return retry.Do(ctx, 1+w.opt.Retries, w.opt.RetryBackoff, func() error {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return w.write(wctx, batch)
	})
}

func (w *AuditWriter) write(ctx context.Context, batch []AuditEntry) error {
	n := len(batch)
	slugs, jtis, calls, ips, uas := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	for i, e := range batch {
		// One bad string must not fail the whole batch: PostgreSQL text
		// refuses invalid UTF-8 and NUL.
		slugs[i], jtis[i], calls[i], at[i] = clean(e.Tenant), clean(e.JTI), clean(e.CallID), e.ViewedAt
		uas[i] = truncate(clean(e.UserAgent), 512)
		if e.ClientIP.IsValid() {
			ips[i] = e.ClientIP.Unmap().String()
		}
	}
	var written int64
	err := w.db.AllTenants(ctx, func(tx pgx.Tx) error {
		// Rows of unknown tenants fall out of the join: the audit only
		// records views of tenants that exist.
		tag, err := tx.Exec(ctx, `/* AuditWriter.write */
			INSERT INTO view_audit (tenant_id, viewed_at, jti, call_id, client_ip, user_agent)
			SELECT t.id, u.at, u.jti, u.call_id, nullif(u.ip, '')::inet, u.ua
			FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[])
			  AS u(slug, at, jti, call_id, ip, ua)
			JOIN tenants t ON t.slug = u.slug`, slugs, at, jtis, calls, ips, uas)
		written = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("authdb.AuditWriter.write(%d rows): %w", n, err)
	}
	w.rows.Add(uint64(written))
	return nil
}

// ListAudit returns tenantID's most recent views, newest first; limit 0
// means 100, at most 1000.
func (w *AuditWriter) ListAudit(ctx context.Context, tenantID int64, limit int) ([]AuditRecord, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []AuditRecord
	err := w.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* AuditWriter.ListAudit */
			SELECT tenant_id, viewed_at, jti, call_id, client_ip, user_agent FROM view_audit
			WHERE tenant_id = $1 ORDER BY viewed_at DESC LIMIT $2`, tenantID, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[AuditRecord])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb.AuditWriter.ListAudit(%d): %w", tenantID, err)
	}
	return out, nil
}

func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so PostgreSQL gets valid UTF-8.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
