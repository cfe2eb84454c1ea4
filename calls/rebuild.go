package calls

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/qos"
)

// RebuildSpan is how far before and after the rebuilt range a call's
// messages are read: a call with a message in the range is rebuilt whole,
// so long as it lasted less than this on either side.
const RebuildSpan = 12 * time.Hour

// rebuildChunk is how many calls are read and written per transaction.
const rebuildChunk = 2000

// rebuildSlice is how much of the range is listed at a time, bounding the
// memory the call keys take.
const rebuildSlice = time.Hour

// RebuildReport says what Rebuild did.
type RebuildReport struct {
	Calls    int // records written
	Messages int // SIP messages read
	Reports  int // media reports read
}

// Rebuild recomputes the records of the calls that have a SIP message in
// [from, to) — of tenantID, or of every tenant when tenantID is 0 — from
// every stored message and media report of each call within RebuildSpan of
// the range, and replaces what is stored. It is how records come to exist
// for messages stored before records did (an upgrade), and how a record an
// ingest error left behind is mended. A call's record is written whole
// each time, so rebuilding twice, or a call that spans two of its slices,
// changes nothing. progress, when not nil, is told after each chunk.
//
// Ingest merging into a call at the same moment may have its update
// overwritten by a rebuild that read the call's messages before that batch
// committed: rebuild ranges ingest has finished with (up to a few minutes
// ago). Returns Invalid for an empty or reversed range.
func Rebuild(ctx context.Context, d *db.DB, tenantID int64, from, to time.Time, progress func(RebuildReport)) (RebuildReport, error) {
	var rep RebuildReport
	switch {
	case from.IsZero() || to.IsZero() || !from.Before(to):
		return rep, callscope.FieldError("from", "must be before to")
	case tenantID < 0:
		return rep, callscope.FieldError("tenant", "must be positive")
	}
	tenants := []int64{tenantID}
	if tenantID == 0 {
		rows, err := d.Owner().Query(ctx, `/* calls.Rebuild */ SELECT id FROM tenants ORDER BY id`)
		if err != nil {
			return rep, fmt.Errorf("calls.Rebuild: %w", err)
		}
		if tenants, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return rep, fmt.Errorf("calls.Rebuild: %w", err)
		}
	}
	for _, tid := range tenants {
		for lo := from; lo.Before(to); lo = lo.Add(rebuildSlice) {
			keys, err := callKeys(ctx, d, tid, lo, minTime(lo.Add(rebuildSlice), to))
			if err != nil {
				return rep, fmt.Errorf("calls.Rebuild: %w", err)
			}
			for len(keys) > 0 {
				n := min(len(keys), rebuildChunk)
				if err := rebuildChunkOf(ctx, d, keys[:n], from.Add(-RebuildSpan), to.Add(RebuildSpan), &rep); err != nil {
					return rep, fmt.Errorf("calls.Rebuild: %w", err)
				}
				keys = keys[n:]
				if progress != nil {
					progress(rep)
				}
			}
		}
	}
	return rep, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// callKeys lists tenantID's calls with a SIP message in [lo, hi), in key
// order. Rebuild runs as the schema owner (it writes every tenant's
// records, as ingest does) and names the tenant in every statement.
func callKeys(ctx context.Context, d *db.DB, tenantID int64, lo, hi time.Time) ([]callrec.Key, error) {
	rows, err := d.Owner().Query(ctx, `/* calls.Rebuild */ SELECT DISTINCT tenant_id, call_id FROM sip_messages
		WHERE tenant_id = $3 AND captured_at >= $1 AND captured_at < $2`, lo, hi, tenantID)
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[callrec.Key])
	if err != nil {
		return nil, err
	}
	sortKeys(keys)
	return keys, nil
}

func sortKeys(keys []callrec.Key) {
	slices.SortFunc(keys, func(a, b callrec.Key) int { return a.Compare(b) })
}

// rebuildChunkOf reads the messages and reports of keys within [lo, hi)
// and replaces their records, in one transaction.
func rebuildChunkOf(ctx context.Context, d *db.DB, keys []callrec.Key, lo, hi time.Time, rep *RebuildReport) error {
	tenants, ids := make([]int64, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		tenants[i], ids[i] = k.TenantID, k.CallID
	}
	b := callrec.NewBatch()
	return pgx.BeginFunc(ctx, d.Owner(), func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `/* calls.Rebuild */ SELECT m.tenant_id, m.call_id, m.captured_at, m.src_ip, m.src_port,
			m.dst_ip, m.dst_port, m.capture_id, coalesce(m.node_name, ''), coalesce(m.correlation_id, ''),
			coalesce(m.correlation_source, ''), m.payload
			FROM unnest($1::bigint[], $2::text[]) AS k(tenant_id, call_id)
			JOIN sip_messages m ON m.tenant_id = k.tenant_id AND m.call_id = k.call_id
			WHERE m.captured_at >= $3 AND m.captured_at < $4`, tenants, ids, lo, hi)
		if err != nil {
			return err
		}
		var (
			tid              int64
			callID           string
			m                callrec.Message
			srcIP, dstIP     netip.Addr
			srcPort, dstPort int32
			captureID        int64
		)
		_, err = pgx.ForEachRow(rows, []any{&tid, &callID, &m.At, &srcIP, &srcPort, &dstIP, &dstPort, &captureID,
			&m.Node, &m.Correlation, &m.CorrelationSource, &m.Payload}, func() error {
			m.Src, m.Dst = netip.AddrPortFrom(srcIP, uint16(srcPort)), netip.AddrPortFrom(dstIP, uint16(dstPort))
			if m.Node == "" {
				m.Node = strconv.FormatInt(captureID, 10)
			}
			b.AddSIP(tid, []byte(callID), &m)
			rep.Messages++
			return nil
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `/* calls.Rebuild */ SELECT e.tenant_id, e.call_id, e.captured_at, e.payload_type, e.payload
			FROM unnest($1::bigint[], $2::text[]) AS k(tenant_id, call_id)
			JOIN hep_events e ON e.tenant_id = k.tenant_id AND e.call_id = k.call_id
			WHERE e.captured_at >= $3 AND e.captured_at < $4 AND e.payload_type IN (5, 34, 35)`, tenants, ids, lo, hi)
		if err != nil {
			return err
		}
		var (
			at      time.Time
			pt      int16
			payload []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&tid, &callID, &at, &pt, &payload}, func() error {
			reports, err := qos.Parse(int(pt), payload, at)
			if err != nil {
				return nil // an event that says nothing of quality
			}
			for _, r := range reports {
				b.AddQoS(tid, []byte(callID), r)
				rep.Reports++
			}
			return nil
		})
		if err != nil {
			return err
		}
		states := b.States()
		rep.Calls += len(states)
		return Replace(ctx, tx, states)
	})
}

// replaceSQL writes records whole, over whatever is stored.
var replaceSQL = `/* calls.Replace */ INSERT INTO call_records AS r (tenant_id, call_id, ` + recordColumns + `)
SELECT tenant_id, call_id, ` + recordColumns + `
FROM (` + recordValues + `) v ORDER BY n
ON CONFLICT (tenant_id, call_id) DO UPDATE SET ` + recordSet("EXCLUDED")

// Replace writes states (in key order) as the records of their calls,
// replacing what is stored, inside tx (the schema owner's, as for Apply).
func Replace(ctx context.Context, tx pgx.Tx, states []callrec.Keyed) error {
	if len(states) == 0 {
		return nil
	}
	var cols columns
	tenantIDs, callIDs := make([]int64, len(states)), make([]string, len(states))
	for i, k := range states {
		tenantIDs[i], callIDs[i] = k.TenantID, k.CallID
		if err := cols.add(k.Key, k.State); err != nil {
			return fmt.Errorf("calls.Replace: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, replaceSQL, cols.args(tenantIDs, callIDs)...); err != nil {
		return fmt.Errorf("calls.Replace: %w", err)
	}
	return nil
}
