package retention

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/db"
)

// partition is one child of a partitioned table. Daily partitions are found
// by the name db.PartitionName gives them (<table>_YYYYMMDD); the DEFAULT
// partition is <table>_default. Children named otherwise are left alone.
type partition struct {
	table string
	name  string
	day   time.Time // start of its UTC day; zero for DEFAULT
	def   bool
}

// partitions lists the children of table, daily ones by day, DEFAULT last.
func (e *Enforcer) partitions(ctx context.Context, table string) ([]partition, error) {
	rows, err := e.db.Owner().Query(ctx, `/* Enforcer.partitions */
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass`, table)
	if err != nil {
		return nil, fmt.Errorf("retention: partitions of %s: %w", table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("retention: partitions of %s: %w", table, err)
	}
	var out []partition
	for _, n := range names {
		suffix, ok := strings.CutPrefix(n, table+"_")
		if !ok {
			continue
		}
		if suffix == "default" {
			out = append(out, partition{table: table, name: n, def: true})
			continue
		}
		day, err := time.Parse("20060102", suffix)
		if err != nil || db.PartitionName(table, day) != n {
			continue
		}
		out = append(out, partition{table: table, name: n, day: day})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].def != out[j].def {
			return out[j].def
		}
		return out[i].day.Before(out[j].day)
	})
	return out, nil
}

// dropLockTimeout bounds how long DETACH waits for its lock. DETACH takes
// an ACCESS EXCLUSIVE lock on the parent, and while it waits every new
// query of the table queues behind it: better to give up and retry at the
// next pass than to stall ingest and the viewer behind a long search.
const dropLockTimeout = 5 * time.Second

// dropBefore detaches and drops every daily partition whose whole day is
// before cutoff (day + 24h <= cutoff), each in its own transaction. It goes
// on past a partition it could not drop and returns the errors joined.
//
// DETACH ... CONCURRENTLY would avoid the exclusive lock but PostgreSQL
// refuses it on a table with a DEFAULT partition, which ours have.
func (e *Enforcer) dropBefore(ctx context.Context, cutoff time.Time) (dropped []string, err error) {
	var errs []error
	for _, table := range db.PartitionedTables {
		parts, err := e.partitions(ctx, table)
		if err != nil {
			return dropped, err
		}
		for _, p := range parts {
			if p.def || p.day.Add(Day).After(cutoff) {
				continue
			}
			if err := e.drop(ctx, p); err != nil {
				if ctx.Err() != nil {
					return dropped, err
				}
				errs = append(errs, err)
				continue
			}
			dropped = append(dropped, p.name)
			e.m.dropped.WithLabelValues(p.table).Inc()
		}
	}
	return dropped, errors.Join(errs...)
}

func (e *Enforcer) drop(ctx context.Context, p partition) error {
	err := pgx.BeginFunc(ctx, e.db.Owner(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = '%dms'`, dropLockTimeout.Milliseconds())); err != nil {
			return err
		}
		// The same lock EnsurePartitions takes for this name.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, p.name); err != nil {
			return err
		}
		parent, child := pgx.Identifier{p.table}.Sanitize(), pgx.Identifier{p.name}.Sanitize()
		if _, err := tx.Exec(ctx, `ALTER TABLE `+parent+` DETACH PARTITION `+child); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DROP TABLE `+child)
		return err
	})
	if err != nil {
		return fmt.Errorf("retention: drop %s: %w", p.name, err)
	}
	return nil
}

// deleteBatches runs one batched DELETE on a single partition until a batch
// removes fewer rows than the batch size. where is the row condition with
// $1.. placeholders; args are its arguments. Each batch is its own
// statement (and transaction), so locks and WAL stay small and ingest runs
// alongside.
//
// The ctids come from the same partition the DELETE targets: a ctid is only
// unique within one table, so the statement never runs on the parent. The
// condition is repeated outside the ctid list as a guard.
func (e *Enforcer) deleteBatches(ctx context.Context, p partition, where string, args ...any) (int64, error) {
	ident := pgx.Identifier{p.name}.Sanitize()
	limit := fmt.Sprintf("$%d", len(args)+1)
	sql := `/* Enforcer.deleteBatches */ DELETE FROM ` + ident + ` WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM ` + ident + ` WHERE ` + where + ` LIMIT ` + limit + `)) AND ` + where
	args = append(args, e.cfg.BatchSize)
	var total int64
	for {
		tag, err := e.db.Owner().Exec(ctx, sql, args...)
		if err != nil {
			return total, fmt.Errorf("retention: delete from %s: %w", p.name, err)
		}
		n := tag.RowsAffected()
		total += n
		e.m.deleted.WithLabelValues(p.table).Add(float64(n))
		if n < int64(e.cfg.BatchSize) {
			return total, nil
		}
	}
}

// deleteDefaultBefore deletes rows of every tenant older than cutoff from
// the DEFAULT partitions: the global maximum's counterpart of a partition
// drop for rows that arrived before their day had a partition (and rows of
// tenants that no longer exist).
func (e *Enforcer) deleteDefaultBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for _, table := range db.PartitionedTables {
		p := partition{table: table, name: table + "_default", def: true}
		n, err := e.deleteBatches(ctx, p, `captured_at < $1`, cutoff)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// deleteTenantBefore deletes tenantID's rows older than cutoff: from each
// daily partition wholly before cutoff, and from DEFAULT. Partitions on or
// after cutoff cannot hold such rows and are not touched. Every statement
// leads with tenant_id, so it walks (tenant_id, captured_at) indexes and
// never reads another tenant's rows.
func (e *Enforcer) deleteTenantBefore(ctx context.Context, tenantID int64, cutoff time.Time) (int64, error) {
	var total int64
	for _, table := range db.PartitionedTables {
		parts, err := e.partitions(ctx, table)
		if err != nil {
			return total, err
		}
		for _, p := range parts {
			if !p.def && !p.day.Before(cutoff) {
				continue
			}
			n, err := e.deleteBatches(ctx, p, `tenant_id = $1 AND captured_at < $2`, tenantID, cutoff)
			total += n
			if err != nil {
				return total, fmt.Errorf("retention: tenant %d: %w", tenantID, err)
			}
		}
	}
	n, err := e.deleteRecordsBefore(ctx, tenantID, cutoff)
	return total + n, err
}
