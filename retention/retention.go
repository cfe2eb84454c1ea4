// Package retention keeps the message tables to the size operators and
// tenants asked for: it creates the coming days' partitions, drops whole
// days past the global maximum, deletes a tenant's rows past its own shorter
// retention in small batches, and estimates how much storage each tenant
// uses.
//
// # Boundaries (all UTC)
//
// Let today be the start (00:00:00 UTC) of the current UTC day and N a
// number of days. "Keep N days" means: keep every row with
//
//	captured_at >= today - N×24h
//
// and remove every row with captured_at < today - N×24h (the cutoff). So
// with N = 7 on 2026-11-26 at any hour, the cutoff is 2026-11-19T00:00:00Z:
// a row captured at 2026-11-18T23:59:59.999999Z goes, one captured at
// 2026-11-19T00:00:00Z stays. Today plus N whole previous days are kept,
// and the result does not depend on the hour the job runs.
//
// The global maximum (CALLSCOPE_RETENTION_MAX_DAYS) applies to everyone: a
// daily partition [D, D+24h) is dropped when D+24h <= cutoff, i.e. when every
// instant of its day is older than the cutoff. Because cutoffs fall on day
// boundaries, a partition is always wholly kept or wholly dropped. A
// tenant's retention_days shorter than the maximum is enforced with DELETE
// on the partitions wholly before that tenant's cutoff and on the DEFAULT
// partitions; a longer one is capped by the maximum.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/tenant"
)

// DefaultBatchSize is how many rows one DELETE statement removes: small
// enough that each statement holds its locks and WAL for a moment, large
// enough that a day of a busy tenant is a few hundred statements.
const DefaultBatchSize = 10000

// AheadDays is how many days after today get their partitions before
// ingest needs them, so a missed run or two never sends rows to DEFAULT.
const AheadDays = 2

// Day is 24 hours; UTC days have no daylight saving.
const Day = 24 * time.Hour

// Tenants lists every tenant; *tenantdb.Store does.
type Tenants interface {
	List(ctx context.Context) ([]tenant.Tenant, error)
}

// Config tunes an Enforcer.
type Config struct {
	// MaxDays is the global maximum: partitions whose whole day is older
	// than MaxDays days are dropped whatever the tenants ask. 0 drops no
	// partition (tenant retention still applies).
	MaxDays int
	// BatchSize is the number of rows per DELETE; 0 means DefaultBatchSize.
	BatchSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Enforcer runs retention on one database. It is safe for concurrent use;
// runs in several processes exclude each other with an advisory lock.
type Enforcer struct {
	db      *db.DB
	tenants Tenants
	cfg     Config
	log     *slog.Logger
	m       *metrics
}

// New returns an Enforcer and registers its metrics on reg (nil registers
// nothing). It fails only when the metrics are already registered.
func New(d *db.DB, tenants Tenants, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Enforcer, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("retention.New: %w", err)
	}
	return &Enforcer{db: d, tenants: tenants, cfg: cfg, log: log, m: m}, nil
}

// Cutoff returns the first instant kept when keeping days days at now: the
// start of now's UTC day minus days×24h. See the package comment.
func Cutoff(now time.Time, days int) time.Time {
	return now.UTC().Truncate(Day).Add(-time.Duration(days) * Day)
}

// Report says what one Run did.
type Report struct {
	// Skipped is true when another process held the retention lock; nothing
	// else was done.
	Skipped bool
	// GlobalCutoff is the cutoff of the global maximum (zero when MaxDays is 0).
	GlobalCutoff time.Time
	// Created and Dropped name partitions created and dropped.
	Created, Dropped []string
	// DefaultDeleted counts rows deleted from DEFAULT partitions for being
	// older than the global cutoff, whatever their tenant.
	DefaultDeleted int64
	// Tenants has one entry per tenant, by slug.
	Tenants []TenantReport
	// Storage is the per-tenant storage estimate after the run.
	Storage []TenantStorage
}

// TenantReport is what a run did for one tenant.
type TenantReport struct {
	TenantID int64
	Slug     string
	Days     int       // effective retention: min(retention_days, MaxDays)
	Cutoff   time.Time // rows before it were deleted
	Deleted  int64     // rows deleted, every table
}

// lockKey is the advisory lock that keeps two processes from running
// retention at once (the lock is session-level, on one pooled connection).
const lockKey = 0x63_73_72_74 // "csrt"

// Run does one pass: partitions AheadDays ahead, drops past the maximum,
// tenant deletes, storage estimate. A failure to drop one partition (say, a
// lock not granted within the timeout) is reported in the error after the
// rest of the pass ran, so one busy table does not stop tenant retention.
// Returns the context's error when ctx ends mid-pass.
func (e *Enforcer) Run(ctx context.Context) (Report, error) {
	start := time.Now()
	rep, err := e.run(ctx)
	e.m.observeRun(time.Since(start), err)
	return rep, err
}

func (e *Enforcer) run(ctx context.Context) (Report, error) {
	var rep Report
	conn, err := e.db.Owner().Acquire(ctx)
	if err != nil {
		return rep, fmt.Errorf("retention.Run: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(lockKey)).Scan(&locked); err != nil {
		return rep, fmt.Errorf("retention.Run: lock: %w", err)
	}
	if !locked {
		rep.Skipped = true
		return rep, nil
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(lockKey)) //nolint:errcheck

	now := e.cfg.Now().UTC()
	today := now.Truncate(Day)
	rep.Created, err = e.db.EnsurePartitions(ctx, today, today.Add(AheadDays*Day))
	if err != nil {
		return rep, fmt.Errorf("retention.Run: %w", err)
	}

	var errs []error
	if e.cfg.MaxDays > 0 {
		rep.GlobalCutoff = Cutoff(now, e.cfg.MaxDays)
		dropped, err := e.dropBefore(ctx, rep.GlobalCutoff)
		rep.Dropped = dropped
		if err != nil {
			if ctx.Err() != nil {
				return rep, err
			}
			errs = append(errs, err)
		}
		rep.DefaultDeleted, err = e.deleteDefaultBefore(ctx, rep.GlobalCutoff)
		if err != nil {
			return rep, err
		}
	}

	tenants, err := e.tenants.List(ctx)
	if err != nil {
		return rep, fmt.Errorf("retention.Run: %w", err)
	}
	for _, t := range tenants {
		days := t.RetentionDays
		if e.cfg.MaxDays > 0 && days > e.cfg.MaxDays {
			days = e.cfg.MaxDays
		}
		tr := TenantReport{TenantID: t.ID, Slug: t.Slug, Days: days, Cutoff: Cutoff(now, days)}
		tr.Deleted, err = e.deleteTenantBefore(ctx, t.ID, tr.Cutoff)
		rep.Tenants = append(rep.Tenants, tr)
		if err != nil {
			return rep, err
		}
	}

	rep.Storage, err = e.Storage(ctx)
	if err != nil {
		return rep, err
	}
	return rep, errors.Join(errs...)
}

// Loop runs Run at once and then every interval until ctx ends, logging
// each pass; a failed pass is logged and retried at the next tick. It
// returns nil when ctx ends, so it fits serve's errgroup.
func (e *Enforcer) Loop(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rep, err := e.Run(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			e.log.Error("retention", "err", err)
		case rep.Skipped:
			e.log.Info("retention skipped: another process holds the retention lock")
		default:
			var deleted int64
			for _, t := range rep.Tenants {
				deleted += t.Deleted
			}
			e.log.Info("retention", "created", len(rep.Created), "dropped", len(rep.Dropped),
				"deleted_rows", deleted+rep.DefaultDeleted)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
