package tenant

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Capture health: what each capture node sent over the last hour, as the
// ingest processes count it, and how far each ingest process is behind
// PostgreSQL. Ingest reports both every few seconds; `callscope node list`
// and the console's nodes page read them.

// OutcomeAccepted is the outcome of a packet that was stored (or is on its
// way); every other outcome is a drop reason.
const OutcomeAccepted = "accepted"

// NodeStat is one capture node's count of one outcome in one minute, as
// one ingest process reports it.
type NodeStat struct {
	TenantID  int64
	CaptureID uint32
	Minute    time.Time // start of the minute
	Outcome   string    // OutcomeAccepted or a drop reason (bad_auth_key, ...)
	Packets   int64
	LastSeen  time.Time // the last such packet
}

// RecordNodeStats adds stats to their minute buckets, summed with what
// other ingest processes reported. Stats of a tenant deleted meanwhile are
// left out. Cross-tenant on purpose: one ingest process serves every
// tenant.
func (s *Store) RecordNodeStats(ctx context.Context, stats []NodeStat) error {
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
		return fmt.Errorf("tenant.Store.RecordNodeStats: %w", err)
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
		return fmt.Errorf("tenant.Store.PruneNodeStats: %w", err)
	}
	return nil
}

// NodeKey names a capture node of a tenant.
type NodeKey struct {
	TenantID  int64
	CaptureID uint32
}

// NodeHealth is what a capture node sent over a period.
type NodeHealth struct {
	LastPacket time.Time // zero when nothing came in the period
	Accepted   int64
	Dropped    map[string]int64 // by reason; nil when nothing was dropped
}

// Drops is the number of packets dropped, every reason together.
func (h NodeHealth) Drops() int64 {
	var n int64
	for _, v := range h.Dropped {
		n += v
	}
	return n
}

// ReasonCount is a drop reason and how many packets it dropped.
type ReasonCount struct {
	Reason  string
	Packets int64
}

// DropReasons returns the drops by reason, most first.
func (h NodeHealth) DropReasons() []ReasonCount {
	out := make([]ReasonCount, 0, len(h.Dropped))
	for r, n := range h.Dropped {
		out = append(out, ReasonCount{Reason: r, Packets: n})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		if c := cmp.Compare(b.Packets, a.Packets); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return out
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

// NodeHealth returns the health since since of tenantID's capture nodes.
// A node that sent nothing in the period is absent.
func (s *Store) NodeHealth(ctx context.Context, tenantID int64, since time.Time) (map[NodeKey]NodeHealth, error) {
	var out map[NodeKey]NodeHealth
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) (err error) {
		out, err = queryHealth(ctx, tx, "/* Store.NodeHealth */ "+healthSelect+
			` WHERE tenant_id = $1 AND minute >= $2 GROUP BY 1, 2, 3`, tenantID, since.Truncate(time.Minute))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenant.Store.NodeHealth(%d): %w", tenantID, err)
	}
	return out, nil
}

// AllNodeHealth returns the health since since of every tenant's capture
// nodes. Cross-tenant on purpose: admins list every node.
func (s *Store) AllNodeHealth(ctx context.Context, since time.Time) (map[NodeKey]NodeHealth, error) {
	var out map[NodeKey]NodeHealth
	err := s.db.AllTenants(ctx, func(tx pgx.Tx) (err error) {
		out, err = queryHealth(ctx, tx, "/* Store.AllNodeHealth */ "+healthSelect+
			` WHERE minute >= $1 GROUP BY 1, 2, 3`, since.Truncate(time.Minute))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenant.Store.AllNodeHealth: %w", err)
	}
	return out, nil
}

func queryHealth(ctx context.Context, tx pgx.Tx, sql string, args ...any) (map[NodeKey]NodeHealth, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[healthRow])
	if err != nil {
		return nil, err
	}
	out := map[NodeKey]NodeHealth{}
	for _, r := range rs {
		k := NodeKey{TenantID: r.TenantID, CaptureID: uint32(r.CaptureID)}
		h := out[k]
		if r.LastSeen.After(h.LastPacket) {
			h.LastPacket = r.LastSeen
		}
		if r.Outcome == OutcomeAccepted {
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

// Trends of an ingest process's backlog.
const (
	CaughtUp      = "caught_up"
	CatchingUp    = "catching_up"
	FallingBehind = "falling_behind"
)

// IngestStatus is how far one ingest process is behind PostgreSQL.
type IngestStatus struct {
	Instance     string    `db:"instance"` // host and HEP address
	StartedAt    time.Time `db:"started_at"`
	UpdatedAt    time.Time `db:"updated_at"`
	LagSeconds   float64   `db:"lag_seconds"`   // age of the oldest accepted message not written yet
	BacklogBytes int64     `db:"backlog_bytes"` // memory and spool waiting to be written
	SpoolBytes   int64     `db:"spool_bytes"`
	Trend        string    `db:"trend"` // CaughtUp, CatchingUp or FallingBehind
}

// Summary says where the process stands, e.g. "behind by 40 s (12.5 MB
// waiting), catching up" or "caught up".
func (st IngestStatus) Summary() string {
	if st.Trend == CaughtUp {
		return "caught up"
	}
	trend := "catching up"
	if st.Trend == FallingBehind {
		trend = "falling behind"
	}
	return fmt.Sprintf("behind by %s (%s waiting), %s", roundLag(st.LagSeconds), megabytes(st.BacklogBytes), trend)
}

// Silent reports a status not refreshed for a while at now: the process
// stopped, or cannot reach PostgreSQL.
func (st IngestStatus) Silent(now time.Time) bool { return now.Sub(st.UpdatedAt) > time.Minute }

func roundLag(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	}
	return d.Round(time.Second).String()
}

func megabytes(b int64) string {
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}

// ReportIngestStatus records st (UpdatedAt is set to now) and forgets
// processes not heard from for a day. Ingest processes belong to no
// tenant.
func (s *Store) ReportIngestStatus(ctx context.Context, st IngestStatus) error {
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
		return fmt.Errorf("tenant.Store.ReportIngestStatus(%s): %w", st.Instance, err)
	}
	return nil
}

// IngestStatuses returns the status of every ingest process heard from in
// the last day, by instance.
func (s *Store) IngestStatuses(ctx context.Context) ([]IngestStatus, error) {
	var out []IngestStatus
	err := s.db.NoTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* Store.IngestStatuses */
			SELECT instance, started_at, updated_at, lag_seconds, backlog_bytes, spool_bytes, trend
			FROM ingest_status WHERE updated_at >= now() - interval '1 day' ORDER BY instance`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[IngestStatus])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tenant.Store.IngestStatuses: %w", err)
	}
	return out, nil
}
