// Package calls keeps call records in PostgreSQL — merged in as ingest
// writes each batch, rebuilt from stored messages on demand — and serves
// them: the calls API orchestrators read with their API key, and the
// record reads of search and the console. What a record says is package
// callrec's business; this package stores and finds them.
//
//	ingest batch ─ callrec.Batch ─ Apply(tx) ─┐  same transaction as the COPY
//	                                          v
//	                                    call_records (one row per tenant + Call-ID:
//	                                          |       columns to filter on, state to merge)
//	   GET /api/v1/calls ── Store.List ───────┘
package calls

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/callrec"
)

// columns are a record's stored values besides its key, in the order of
// the statements below.
type columns struct {
	started, ended []time.Time
	kind           []string
	final          []*int16
	answered       []*time.Time
	duration       []*int64
	from, to, ruri []*string
	corr           []*string
	messages       []int32
	state          [][]byte
}

func (c *columns) add(k callrec.Key, s *callrec.State) error {
	first, last := s.Span()
	state, err := s.AppendBinary(nil)
	if err != nil {
		return err
	}
	var final *int16
	if st, _ := s.Final(); st != 0 {
		f := int16(st)
		final = &f
	}
	var corr *string
	if v := s.Correlation(); v != "" {
		corr = &v
	}
	c.started, c.ended = append(c.started, first), append(c.ended, last)
	c.kind, c.final = append(c.kind, s.Kind()), append(c.final, final)
	c.corr, c.messages = append(c.corr, corr), append(c.messages, int32(min(s.Messages, 1<<31-1)))
	c.state = append(c.state, state)
	return nil
}

func (c *columns) args(tenantIDs []int64, callIDs []string) []any {
	return []any{tenantIDs, callIDs, c.started, c.ended, c.kind, c.final, c.corr, c.messages, c.state}
}

// recordValues is the unnest of columns.args, in key order.
const recordValues = `SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[],
	$6::smallint[], $7::text[], $8::int[], $9::bytea[])
	WITH ORDINALITY AS v(tenant_id, call_id, started_at, ended_at, kind, final_status, correlation_id, messages, state, n)`

// insertSQL inserts the records that do not exist yet, with the batch's
// own state, and returns the keys it inserted. A key another transaction
// is inserting at the same moment makes it wait for that one; a key that
// exists is left for lockSQL.
const insertSQL = `/* calls.Apply */ INSERT INTO call_records AS r (tenant_id, call_id, started_at, ended_at, kind,
	final_status, correlation_id, messages, state)
SELECT tenant_id, call_id, started_at, ended_at, kind, final_status, correlation_id, messages, state
FROM (` + recordValues + `) v ORDER BY n
ON CONFLICT (tenant_id, call_id) DO NOTHING
RETURNING r.tenant_id, r.call_id`

// lockSQL locks the records that already existed and reads their state to
// merge into.
const lockSQL = `/* calls.Apply */ SELECT r.tenant_id, r.call_id, r.state
FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS k(tenant_id, call_id, n)
JOIN call_records r ON r.tenant_id = k.tenant_id AND r.call_id = k.call_id
ORDER BY k.n
FOR UPDATE OF r`

// updateSQL writes merged records over rows the transaction has locked.
const updateSQL = `/* calls.Apply */ UPDATE call_records AS r SET started_at = v.started_at, ended_at = v.ended_at,
	kind = v.kind, final_status = v.final_status, correlation_id = v.correlation_id,
	messages = v.messages, state = v.state, updated_at = now()
FROM (` + recordValues + `) v
WHERE r.tenant_id = v.tenant_id AND r.call_id = v.call_id`

// Apply merges states (one per call, as callrec.Batch.States returns them,
// in key order) into call_records inside tx. tx must be the schema owner's
// (ingest's writer, rebuild): it writes across tenants, and every row it
// writes carries the tenant of the messages it came from. A record that
// does not exist is created; one that does is locked, merged and written
// back, in the same transaction.
func Apply(ctx context.Context, tx pgx.Tx, states []callrec.Keyed) error {
	if len(states) == 0 {
		return nil
	}
	if !slices.IsSortedFunc(states, func(a, b callrec.Keyed) int { return a.Key.Compare(b.Key) }) {
		return fmt.Errorf("calls.Apply: states not in key order")
	}
	var cols columns
	tenantIDs, callIDs := make([]int64, len(states)), make([]string, len(states))
	for i, k := range states {
		tenantIDs[i], callIDs[i] = k.TenantID, k.CallID
		if err := cols.add(k.Key, k.State); err != nil {
			return fmt.Errorf("calls.Apply: %w", err)
		}
	}
	// Two passes, each in key order (ORDER BY n over keys sorted by
	// callrec.Key.Compare), as every writer makes them: insert what is new,
	// then lock what existed. A writer waits for another on a key in one
	// pass only while it holds no lock the other could want at a smaller
	// key, so writers sharing calls queue but never deadlock; and the
	// existing rows are written once, by the UPDATE, not locked by a
	// dummy update first.
	rows, err := tx.Query(ctx, insertSQL, cols.args(tenantIDs, callIDs)...)
	if err != nil {
		return fmt.Errorf("calls.Apply: insert: %w", err)
	}
	inserted := map[callrec.Key]bool{}
	var k callrec.Key
	if _, err = pgx.ForEachRow(rows, []any{&k.TenantID, &k.CallID}, func() error {
		inserted[k] = true
		return nil
	}); err != nil {
		return fmt.Errorf("calls.Apply: insert: %w", err)
	}
	if len(inserted) == len(states) {
		return nil
	}
	var lt []int64
	var lc []string
	for _, ks := range states {
		if !inserted[ks.Key] {
			lt, lc = append(lt, ks.TenantID), append(lc, ks.CallID)
		}
	}
	rows, err = tx.Query(ctx, lockSQL, lt, lc)
	if err != nil {
		return fmt.Errorf("calls.Apply: lock: %w", err)
	}
	stored := map[callrec.Key][]byte{}
	var state []byte
	if _, err = pgx.ForEachRow(rows, []any{&k.TenantID, &k.CallID, &state}, func() error {
		stored[k] = slices.Clone(state)
		return nil
	}); err != nil {
		return fmt.Errorf("calls.Apply: lock: %w", err)
	}
	var merged columns
	var mt []int64
	var mc []string
	for _, ks := range states {
		b, ok := stored[ks.Key]
		if !ok {
			continue // deleted since the insert pass (retention): nothing to merge into
		}
		s, err := callrec.UnmarshalState(b)
		if err != nil {
			// A stored state this version cannot read is replaced by what
			// the batch says rather than blocking the call forever; a
			// rebuild restores it from the messages.
			s = callrec.State{}
		}
		s.Merge(ks.State)
		if err := merged.add(ks.Key, &s); err != nil {
			return fmt.Errorf("calls.Apply: %w", err)
		}
		mt, mc = append(mt, ks.TenantID), append(mc, ks.CallID)
	}
	if _, err := tx.Exec(ctx, updateSQL, merged.args(mt, mc)...); err != nil {
		return fmt.Errorf("calls.Apply: update: %w", err)
	}
	return nil
}
