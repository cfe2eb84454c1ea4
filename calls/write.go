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
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/callrec"
)

// columns are a record's stored values besides its key, in the order of
// the statements below: those the calls API filters on (0007) and those
// the console's list and statistics filter, sort and count by (0011).
type columns struct {
	started, ended []time.Time
	kind           []string
	final          []*int16
	corr           []*string
	messages       []int32
	state          [][]byte

	cancelled         []bool
	pdd, duration     []*int64
	from, to, ruri    []*string
	srcIP, dstIP      []*netip.Addr
	srcPort, dstPort  []*int32
	userAgents, nodes []string // JSON arrays
	worstMOS          []*float32
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

	// The clock only tells in-progress from timed-out calls, which no
	// column stores: whether a call was cancelled does not depend on it.
	r := s.Record(k.CallID, time.Time{})
	c.cancelled = append(c.cancelled, r.Outcome == callrec.OutcomeCancelled)
	c.pdd, c.duration = append(c.pdd, r.PDDMs), append(c.duration, r.DurationMs)
	c.from, c.to, c.ruri = append(c.from, r.FromUser), append(c.to, r.ToUser), append(c.ruri, r.RURIUser)
	src, dst := addrPort(s.Initial.Src), addrPort(s.Initial.Dst)
	c.srcIP, c.srcPort = append(c.srcIP, src.ip), append(c.srcPort, src.port)
	c.dstIP, c.dstPort = append(c.dstIP, dst.ip), append(c.dstPort, dst.port)
	uas, err := json.Marshal(lowerSet(r.UserAgents))
	if err != nil {
		return err
	}
	nodes, err := json.Marshal(r.CaptureNodes)
	if err != nil {
		return err
	}
	c.userAgents, c.nodes = append(c.userAgents, string(uas)), append(c.nodes, string(nodes))
	var mos *float32
	if r.QoS != nil && r.QoS.WorstMOS != nil {
		m := float32(*r.QoS.WorstMOS)
		mos = &m
	}
	c.worstMOS = append(c.worstMOS, mos)
	return nil
}

// lowerSet is vs lower-cased, each once, sorted: user agents are matched
// and counted case-insensitively, and a call counts once per user agent.
func lowerSet(vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, strings.ToLower(v))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type ipPort struct {
	ip   *netip.Addr
	port *int32
}

func addrPort(ap netip.AddrPort) ipPort {
	if !ap.IsValid() {
		return ipPort{}
	}
	a, p := ap.Addr().Unmap(), int32(ap.Port())
	return ipPort{&a, &p}
}

func (c *columns) args(tenantIDs []int64, callIDs []string) []any {
	return []any{tenantIDs, callIDs, c.started, c.ended, c.kind, c.final, c.corr, c.messages, c.state,
		c.cancelled, c.pdd, c.duration, c.from, c.to, c.ruri, c.srcIP, c.srcPort, c.dstIP, c.dstPort,
		c.userAgents, c.nodes, c.worstMOS}
}

// recordValues is the unnest of columns.args, in key order. A record's
// user agents and capture nodes travel as JSON arrays (unnest cannot take
// an array of arrays of different lengths) and are made text[] here.
const recordValues = `SELECT tenant_id, call_id, started_at, ended_at, kind, final_status, correlation_id, messages, state,
	cancelled, pdd_ms, duration_ms, from_user, to_user, ruri_user, src_ip, src_port, dst_ip, dst_port,
	ARRAY(SELECT jsonb_array_elements_text(uas)) AS user_agents, ARRAY(SELECT jsonb_array_elements_text(nds)) AS nodes,
	worst_mos, n
FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[],
	$6::smallint[], $7::text[], $8::int[], $9::bytea[],
	$10::bool[], $11::bigint[], $12::bigint[], $13::text[], $14::text[], $15::text[],
	$16::inet[], $17::int[], $18::inet[], $19::int[], $20::jsonb[], $21::jsonb[], $22::real[])
	WITH ORDINALITY AS v(tenant_id, call_id, started_at, ended_at, kind, final_status, correlation_id, messages, state,
		cancelled, pdd_ms, duration_ms, from_user, to_user, ruri_user, src_ip, src_port, dst_ip, dst_port,
		uas, nds, worst_mos, n)`

// recordColumns are the columns recordValues sets, but the key.
const recordColumns = `started_at, ended_at, kind, final_status, correlation_id, messages, state,
	cancelled, pdd_ms, duration_ms, from_user, to_user, ruri_user, src_ip, src_port, dst_ip, dst_port,
	user_agents, nodes, worst_mos`

// recordSet assigns every column but the key from src ("v", "EXCLUDED").
func recordSet(src string) string {
	var b strings.Builder
	for i, col := range strings.Split(recordColumns, ",") {
		col = strings.TrimSpace(col)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(col + " = " + src + "." + col)
	}
	return b.String() + ", updated_at = now()"
}

// insertSQL inserts the records that do not exist yet, with the batch's
// own state, and returns the keys it inserted. A key another transaction
// is inserting at the same moment makes it wait for that one; a key that
// exists is left for lockSQL.
const insertSQL = `/* calls.Apply */ INSERT INTO call_records AS r (tenant_id, call_id, ` + recordColumns + `)
SELECT tenant_id, call_id, ` + recordColumns + `
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
var updateSQL = `/* calls.Apply */ UPDATE call_records AS r SET ` + recordSet("v") + `
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
