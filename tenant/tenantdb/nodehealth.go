package tenantdb

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/tenant"
)

// RecordNodeStats adds stats to their minute buckets, summed with what
// other ingest processes reported. Stats of a tenant deleted meanwhile are
// left out. Cross-tenant on purpose: one ingest process serves every
// tenant.
func (s *Store) RecordNodeStats(ctx context.Context, stats []tenant.NodeStat) error {
	if len(stats) == 0 {
		return nil
	}
	n := len(stats)
	tenants, ids, packets := make([]int64, n), make([]int64, n), make([]int64, n)
	minutes, lasts := make([]time.Time, n), make([]time.Time, n)
	outcomes := make([]string, n)
	for i, st := range stats {
		tenants[i], ids[i], packets[i] = st.TenantID, int64(st.CaptureID), st.Packets
		minutes[i], lasts[i], outcomes[i] = st.Minute.Truncate(time.Minute), st.LastSeen, st.Outcome
	}
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `/* Store.RecordNodeStats */
			INSERT INTO capture_node_stats AS c (tenant_id, capture_id, minute, outcome, packets, last_seen)
			SELECT u.tenant_id, u.capture_id, u.minute, u.outcome, sum(u.packets), max(u.last_seen)
			FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::text[], $5::bigint[], $6::timestamptz[])
				AS u (tenant_id, capture_id, minute, outcome, packets, last_seen)
			WHERE EXISTS (SELECT FROM tenants t WHERE t.id = u.tenant_id)
			GROUP BY 1, 2, 3, 4
			ON CONFLICT (tenant_id, capture_id, minute, outcome) DO UPDATE SET
				packets = c.packets + excluded.packets,
				last_seen = greatest(c.last_seen, excluded.last_seen)`,
			tenants, ids, minutes, outcomes, packets, lasts)
		return err
	})
	if err != nil {
		return fmt.Errorf("tenantdb.Store.RecordNodeStats: %w", err)
	}
	return nil
}

// PruneNodeStats deletes every node's buckets older than before.
func (s *Store) PruneNodeStats(ctx context.Context, before time.Time) error {
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `/* Store.PruneNodeStats */ DELETE FROM capture_node_stats WHERE minute < $1`, before)
		return err
	})
	if err != nil {
		return fmt.Errorf("tenantdb.Store.PruneNodeStats: %w", err)
	}
	return nil
}

type healthRow struct {
	TenantID  int64     `db:"tenant_id"`
	CaptureID int64     `db:"capture_id"`
	Outcome   string    `db:"outcome"`
	Packets   int64     `db:"packets"`
	LastSeen  time.Time `db:"last_seen"`
}

const healthSelect = `SELECT tenant_id, capture_id, outcome, sum(packets)::bigint AS packets, max(last_seen) AS last_seen
	FROM capture_node_stats`

// tenant.NodeHealth returns the health since since of tenantID's capture nodes.
// A node that sent nothing in the period is absent.
func (s *Store) NodeHealth(ctx context.Context, tenantID int64, since time.Time) (map[tenant.NodeKey]tenant.NodeHealth, error) {
	var out map[tenant.NodeKey]tenant.NodeHealth
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) (err error) {
		out, err = queryHealth(ctx, tx, "/* Store.NodeHealth */ "+healthSelect+
			` WHERE tenant_id = $1 AND minute >= $2 GROUP BY 1, 2, 3`, tenantID, since.Truncate(time.Minute))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb.Store.NodeHealth(%d): %w", tenantID, err)
	}
	return out, nil
}

// AllNodeHealth returns the health since since of every tenant's capture
// nodes. Cross-tenant on purpose: admins list every node.
func (s *Store) AllNodeHealth(ctx context.Context, since time.Time) (map[tenant.NodeKey]tenant.NodeHealth, error) {
	var out map[tenant.NodeKey]tenant.NodeHealth
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) (err error) {
		out, err = queryHealth(ctx, tx, "/* Store.AllNodeHealth */ "+healthSelect+
			` WHERE minute >= $1 GROUP BY 1, 2, 3`, since.Truncate(time.Minute))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb.Store.AllNodeHealth: %w", err)
	}
	return out, nil
}

func queryHealth(ctx context.Context, tx pgx.Tx, sql string, args ...any) (map[tenant.NodeKey]tenant.NodeHealth, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[healthRow])
	if err != nil {
		return nil, err
	}
	out := map[tenant.NodeKey]tenant.NodeHealth{}
	for _, r := range rs {
		k := tenant.NodeKey{TenantID: r.TenantID, CaptureID: uint32(r.CaptureID)}
		h := out[k]
		if r.LastSeen.After(h.LastPacket) {
			h.LastPacket = r.LastSeen
		}
		if r.Outcome == tenant.OutcomeAccepted {
			h.Accepted += r.Packets
		} else {
			if h.Dropped == nil {
				h.Dropped = map[string]int64{}
			}
			h.Dropped[r.Outcome] += r.Packets
		}
		out[k] = h
	}
	return out, nil
}

// ReportIngestStatus records st (UpdatedAt is set to now) and forgets
// processes not heard from for a day. Ingest processes belong to no
// tenant.
func (s *Store) ReportIngestStatus(ctx context.Context, st tenant.IngestStatus) error {
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `/* Store.ReportIngestStatus */
			DELETE FROM ingest_status WHERE updated_at < now() - interval '1 day'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `/* Store.ReportIngestStatus */
			INSERT INTO ingest_status (instance, started_at, updated_at, lag_seconds, backlog_bytes, spool_bytes, trend)
			VALUES ($1, $2, now(), $3, $4, $5, $6)
			ON CONFLICT (instance) DO UPDATE SET started_at = excluded.started_at, updated_at = now(),
				lag_seconds = excluded.lag_seconds, backlog_bytes = excluded.backlog_bytes,
				spool_bytes = excluded.spool_bytes, trend = excluded.trend`,
			st.Instance, st.StartedAt, st.LagSeconds, st.BacklogBytes, st.SpoolBytes, st.Trend)
		return err
	})
	if err != nil {
		return fmt.Errorf("tenantdb.Store.ReportIngestStatus(%s): %w", st.Instance, err)
	}
	return nil
}

// IngestStatuses returns the status of every ingest process heard from in
// the last day, by instance.
func (s *Store) IngestStatuses(ctx context.Context) ([]tenant.IngestStatus, error) {
	var out []tenant.IngestStatus
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* Store.IngestStatuses */
			SELECT instance, started_at, updated_at, lag_seconds, backlog_bytes, spool_bytes, trend
			FROM ingest_status WHERE updated_at >= now() - interval '1 day' ORDER BY instance`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[tenant.IngestStatus])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenantdb.Store.IngestStatuses: %w", err)
	}
	return out, nil
}
