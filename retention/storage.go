package retention

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/db"
)

// TenantStorage is an estimate of what one tenant's messages occupy.
type TenantStorage struct {
	TenantID int64
	Slug     string
	Bytes    int64 // heap, TOAST and indexes, apportioned by row share
	Rows     int64
}

// samplePages bounds what the sampling fallback reads from one partition:
// 1,000 pages of 8 KiB, about 8 MiB, whatever the partition's size.
const samplePages = 1000

// statsCoverage is how much of a partition the tenant_id statistics must
// account for before they are trusted: ANALYZE lists every value in
// most_common_vals when the column has few distinct values (up to the
// statistics target, 100 by default), so with up to ~100 tenants in a day
// the shares are complete; with more, the sample is taken instead.
const statsCoverage = 0.95

// Storage estimates each tenant's storage, cheaply and honestly:
//
//   - each partition's size is exact and free: pg_total_relation_size
//     (heap + TOAST + every index) reads file sizes, not rows;
//   - the tenant's share of that partition is its share of the partition's
//     rows, taken from the statistics ANALYZE (or autovacuum) keeps for
//     tenant_id (pg_stats.most_common_freqs): free to read, as fresh as the
//     last analyze;
//   - a partition without usable statistics (never analyzed yet, or more
//     tenants than the statistics list) is sampled: TABLESAMPLE SYSTEM on
//     at most samplePages pages, counted by tenant — exact for partitions
//     smaller than that.
//
// The estimate apportions bytes by rows, so a tenant whose messages are
// larger than average is under-counted in proportion. Bytes of empty
// partitions (their empty indexes) belong to no one. It also sets the
// callscope_tenant_storage_bytes gauge. Tenants without rows are listed
// with zeros, by slug.
func (e *Enforcer) Storage(ctx context.Context) ([]TenantStorage, error) {
	tenants, err := e.tenants.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("retention.Storage: %w", err)
	}
	bytes := map[int64]float64{}
	rows := map[int64]float64{}
	for _, table := range db.PartitionedTables {
		if err := e.apportion(ctx, table, bytes, rows); err != nil {
			return nil, fmt.Errorf("retention.Storage: %w", err)
		}
	}
	out := make([]TenantStorage, 0, len(tenants))
	for _, t := range tenants {
		out = append(out, TenantStorage{TenantID: t.ID, Slug: t.Slug,
			Bytes: int64(math.Round(bytes[t.ID])), Rows: int64(math.Round(rows[t.ID]))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	e.m.storage.Reset() // tenants that are gone disappear from the metric
	for _, s := range out {
		e.m.storage.WithLabelValues(s.Slug).Set(float64(s.Bytes))
	}
	return out, nil
}

type partSize struct {
	Name      string  `db:"name"`
	Total     int64   `db:"total"`     // pg_total_relation_size
	Pages     int64   `db:"pages"`     // current heap pages
	RelPages  int64   `db:"relpages"`  // heap pages at the last analyze/vacuum
	RelTuples float64 `db:"reltuples"` // rows then; -1 when never analyzed
}

// apportion adds each tenant's bytes and rows in table's partitions.
func (e *Enforcer) apportion(ctx context.Context, table string, bytes, rows map[int64]float64) error {
	r, err := e.db.Owner().Query(ctx, `/* Enforcer.apportion */
		SELECT c.relname AS name, pg_total_relation_size(c.oid) AS total,
		       pg_relation_size(c.oid) / current_setting('block_size')::bigint AS pages,
		       c.relpages::bigint AS relpages, c.reltuples::float8 AS reltuples
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass`, table)
	if err != nil {
		return err
	}
	parts, err := pgx.CollectRows(r, pgx.RowToStructByName[partSize])
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.Pages == 0 {
			continue // empty
		}
		shares, estRows, err := e.statsShares(ctx, p)
		if err != nil {
			return err
		}
		if shares == nil {
			if shares, estRows, err = e.sampleShares(ctx, p); err != nil {
				return err
			}
		}
		for id, s := range shares {
			bytes[id] += s * float64(p.Total)
			rows[id] += s * estRows
		}
	}
	return nil
}

// statsShares reads tenant shares from pg_stats; nil when the statistics
// are missing or do not cover statsCoverage of the rows. Rows are scaled
// from reltuples to the partition's current size, as the planner does.
func (e *Enforcer) statsShares(ctx context.Context, p partSize) (map[int64]float64, float64, error) {
	if p.RelTuples <= 0 || p.RelPages <= 0 {
		return nil, 0, nil
	}
	var vals []int64
	var freqs []float64
	err := e.db.Owner().QueryRow(ctx, `/* Enforcer.statsShares */
		SELECT most_common_vals::text::bigint[], most_common_freqs::float8[] FROM pg_stats
		WHERE schemaname = current_schema() AND tablename = $1 AND attname = 'tenant_id' AND NOT inherited`,
		p.Name).Scan(&vals, &freqs)
	if err == pgx.ErrNoRows {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("statistics of %s: %w", p.Name, err)
	}
	var sum float64
	for _, f := range freqs {
		sum += f
	}
	if len(vals) != len(freqs) || sum < statsCoverage {
		return nil, 0, nil
	}
	shares := make(map[int64]float64, len(vals))
	for i, id := range vals {
		shares[id] = freqs[i] / sum
	}
	return shares, p.RelTuples * float64(p.Pages) / float64(p.RelPages), nil
}

// sampleShares counts rows by tenant in a block sample of at most
// samplePages pages (all of a smaller partition).
func (e *Enforcer) sampleShares(ctx context.Context, p partSize) (map[int64]float64, float64, error) {
	pct := 100.0
	if p.Pages > samplePages {
		pct = 100 * float64(samplePages) / float64(p.Pages)
	}
	r, err := e.db.Owner().Query(ctx, `/* Enforcer.sampleShares */
		SELECT tenant_id, count(*) FROM ONLY `+pgx.Identifier{p.Name}.Sanitize()+
		` TABLESAMPLE SYSTEM ($1) GROUP BY tenant_id`, pct)
	if err != nil {
		return nil, 0, fmt.Errorf("sample of %s: %w", p.Name, err)
	}
	counts := map[int64]float64{}
	var total float64
	var id, n int64
	_, err = pgx.ForEachRow(r, []any{&id, &n}, func() error {
		counts[id] = float64(n)
		total += float64(n)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("sample of %s: %w", p.Name, err)
	}
	if total == 0 {
		return map[int64]float64{}, 0, nil
	}
	for id := range counts {
		counts[id] /= total
	}
	return counts, total * 100 / pct, nil
}
