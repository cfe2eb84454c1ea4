package calls

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/query/queryapi"
)

// LegWindow is how far before a call's start and after its end its legs
// are looked for (a B2BUA opens the B leg within milliseconds).
const LegWindow = 5 * time.Minute

// B2BSuffix is what Kamailio's and SEMS' B2BUA append to the A leg's
// Call-ID to name the B leg.
const B2BSuffix = "_b2b-1"

// Store reads call records, always inside one tenant.
type Store struct {
	db  *db.DB
	now func() time.Time
}

// NewStore returns a Store over d. now decides when a call without a final
// response has timed out (nil: time.Now).
func NewStore(d *db.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: d, now: now}
}

// execMode plans each listing with its parameter values: a cached generic
// plan cannot turn `from_user LIKE $n` into index bounds (see query's
// search, which reads the same way).
const execMode = pgx.QueryExecModeCacheDescribe

// List returns one page of tenantID's calls matching f, newest first, and
// the cursor of the next page ("" on the last). Returns Invalid, naming the
// field, for a bad filter.
func (s *Store) List(ctx context.Context, tenantID int64, f Filter) (recs []callrec.Record, next string, err error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	var rows []stored
	err = s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		// A page is a short walk of an index: JIT compilation (~100 ms when
		// a broad filter is costed high) and parallel workers (~200 ms to
		// start on a busy box, for a 20 ms scan) cost more than they save.
		if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)`); err != nil {
			return err
		}
		broad := false
		if q, args, ok := candidatesSQL(tenantID, f); ok {
			var n int
			if err := tx.QueryRow(ctx, q, append([]any{execMode}, args...)...).Scan(&n); err != nil {
				return err
			}
			broad = int64(n) > maxCandidates.Load()
		}
		q, args := listSQL(tenantID, f, broad)
		rs, err := tx.Query(ctx, q, append([]any{execMode}, args...)...)
		if err != nil {
			return err
		}
		if rows, err = pgx.CollectRows(rs, pgx.RowToStructByPos[stored]); err != nil {
			return err
		}
		if len(rows) > f.Limit {
			rows = rows[:f.Limit]
			last := rows[len(rows)-1]
			next = cursor{started: last.Started, callID: last.CallID}.encode()
		}
		recs, err = s.records(ctx, tx, tenantID, rows)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("calls.Store.List(%d): %w", tenantID, err)
	}
	return recs, next, nil
}

// Get returns tenantID's record of callID if the call overlaps [from, to].
// Returns NotFound if the tenant has no such call in the window, whether or
// not another tenant or another time has one; Invalid for a bad window.
func (s *Store) Get(ctx context.Context, tenantID int64, callID string, from, to time.Time) (callrec.Record, error) {
	switch {
	case from.IsZero():
		return callrec.Record{}, callscope.FieldError("from", "required (RFC 3339, e.g. 2026-03-01T12:00:00Z)")
	case to.IsZero():
		return callrec.Record{}, callscope.FieldError("to", "required (RFC 3339, e.g. 2026-03-01T13:00:00Z)")
	case to.Before(from):
		return callrec.Record{}, callscope.FieldError("from", "must not be after to")
	case to.Sub(from) > MaxRange:
		return callrec.Record{}, callscope.FieldError("to", "the range from..to may not exceed %d days", int(MaxRange/(24*time.Hour)))
	}
	var recs []callrec.Record
	err := s.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rs, err := tx.Query(ctx, `/* calls.Store.Get */ SELECT call_id, correlation_id, started_at, ended_at, state
			FROM call_records WHERE tenant_id = $1 AND call_id = $2 AND messages > 0
			AND started_at <= $4 AND ended_at >= $3`, tenantID, callID, from, to)
		if err != nil {
			return err
		}
		rows, err := pgx.CollectRows(rs, pgx.RowToStructByPos[stored])
		if err != nil {
			return err
		}
		recs, err = s.records(ctx, tx, tenantID, rows)
		return err
	})
	if err != nil {
		return callrec.Record{}, fmt.Errorf("calls.Store.Get(%d): %w", tenantID, err)
	}
	if len(recs) == 0 {
		return callrec.Record{}, ErrNoCall
	}
	return recs[0], nil
}

// ErrNoCall is the one NotFound of a call read: another tenant's call, a
// call outside the window and a call that never existed are the same.
var ErrNoCall = callscope.Errorf(callscope.NotFound, "call not found")

// stored is a call_records row as the reads scan it.
type stored struct {
	CallID      string
	Correlation *string
	Started     time.Time
	Ended       time.Time
	State       []byte
}

// maxCandidates is how many calls a user filter may match before the
// listing stops joining from them and walks the records in time order
// instead (see listSQL). Atomic for the tests of both ways.
var maxCandidates = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(5000)
	return &n
}()

// userConds are the user filters of f as conditions on sip_messages m.
func userConds(f Filter, arg func(any) string) []string {
	var users []string
	for _, u := range []struct{ col, v string }{{"from_user", f.FromUser}, {"to_user", f.ToUser}, {"ruri_user", f.RURIUser}} {
		mode, pat, _ := queryapi.UserPattern(u.col, u.v)
		switch mode {
		case queryapi.MatchExact:
			users = append(users, "m."+u.col+" = "+arg(pat))
		case queryapi.MatchPrefix:
			users = append(users, "m."+u.col+" LIKE "+arg(pat))
		case queryapi.MatchSuffix:
			// Exactly the index expression, or the index is not used.
			users = append(users, "reverse(m."+u.col+") LIKE "+arg(pat))
		}
	}
	return users
}

// requests is the condition on the requests sip_messages m that start the
// tenant's dialogs in [from, to + 1 minute): 0003's partial indexes.
// Capture nodes' clocks differ by milliseconds; the record's started_at
// still decides.
func requests(tid, from, to string) string {
	return `m.tenant_id = ` + tid + ` AND m.captured_at >= ` + from + ` AND m.captured_at < ` + to + `::timestamptz + interval '1 minute'
		  AND m.method IS NOT NULL AND m.to_tag IS NULL`
}

// candidatesSQL counts, up to maxCandidates+1, the dialog-starting requests
// a listing's user filters match; ok is false without user filters.
func candidatesSQL(tenantID int64, f Filter) (q string, args []any, ok bool) {
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	tid, from, to := arg(tenantID), arg(f.From), arg(f.To)
	users := userConds(f, arg)
	if len(users) == 0 {
		return "", nil, false
	}
	return `/* calls.Store.List */ SELECT count(*) FROM (SELECT 1 FROM sip_messages_search m
		WHERE ` + requests(tid, from, to) + ` AND ` + strings.Join(users, " AND ") + `
		LIMIT ` + arg(maxCandidates.Load()+1) + `) c`, args, true
}

// listSQL builds the listing: the tenant's records that started in
// [from, to), filtered on their stored columns, newest first, limit+1 rows
// to know whether there is a next page. The indexes lead with tenant_id:
// started_at, final_status, status_class and kind each have one, ordered by
// time after it, so that every filter is a walk that stops at the page.
//
// The user filters match the call's first request, and sip_messages
// already indexes the users of every request that starts a dialog (0003's
// partial indexes, exact, prefix and reversed for suffixes): the listing
// asks them for the Call-IDs instead of keeping six more indexes on
// call_records, which ingest would update for every call. How it asks is
// decided by how many requests they match (candidatesSQL), not left to the
// planner's estimate of a LIKE, which it gets wrong both ways (1.7 s for
// "+44000*", which matches every call): a few (not broad) are joined to
// their records by key and sorted; many (broad) are checked record by
// record while the records are walked in time order, which stops at the
// page, the check a scalar subquery the planner cannot turn into a join.
// Both read sip_messages_search for the reason 0003 gives (LIKE and
// reverse() become index conditions only outside row-level security).
func listSQL(tenantID int64, f Filter, broad bool) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	tid, from, to := arg(tenantID), arg(f.From), arg(f.To)
	where = append(where, "r.tenant_id = "+tid, "r.started_at >= "+from+" AND r.started_at < "+to, "r.messages > 0")
	if f.CallID != "" {
		where = append(where, "r.call_id = "+arg(f.CallID))
	}
	if users := userConds(f, arg); len(users) > 0 {
		match := requests(tid, from, to) + ` AND ` + strings.Join(users, " AND ")
		if broad {
			where = append(where, `(SELECT true FROM sip_messages_search m WHERE m.call_id = r.call_id AND `+match+` LIMIT 1)`)
		} else {
			where = append(where, `r.call_id IN (SELECT m.call_id FROM sip_messages_search m WHERE `+match+` OFFSET 0)`)
		}
	}
	if st, ok := parseStatus(f.Status); ok {
		if st.lo == st.hi {
			where = append(where, "r.final_status = "+arg(st.lo))
		} else {
			where = append(where, "r.status_class = "+arg(st.lo/100))
		}
	}
	if f.Kind != "" {
		// A literal from callrec.Kinds (Validate checked it), so that the
		// planner can prove call_records_kind's predicate (kind <> 'invite').
		where = append(where, "r.kind = '"+f.Kind+"'")
	}
	if f.Cursor != "" {
		c, _ := decodeCursor(f.Cursor)
		t, id := arg(c.started), arg(c.callID)
		where = append(where, "(r.started_at < "+t+" OR (r.started_at = "+t+" AND r.call_id > "+id+"))")
	}
	q := `/* calls.Store.List */ SELECT r.call_id, r.correlation_id, r.started_at, r.ended_at, r.state
FROM call_records r
WHERE ` + strings.Join(where, "\n  AND ") + `
ORDER BY r.started_at DESC, r.call_id
LIMIT ` + arg(f.Limit+1)
	return q, args
}

// legsSQL finds the legs of a page of calls in one statement: for each call
// (p), the calls of the tenant that started within LegWindow of it and
// either are named by it (its Call-ID + "_b2b-1", the Call-ID it carries as
// its correlation value, the A leg of a "_b2b-1" Call-ID) or point at it
// (their correlation value is its Call-ID, or the same as its own). Each
// is an index lookup: the primary key, call_records_correlation.
const legsSQL = `/* calls.Store.legs */ SELECT p.call_id, l.call_id
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
	AS p(call_id, corr, b2b, base, lo, hi)
CROSS JOIN LATERAL (
	SELECT c.call_id FROM call_records c
	WHERE c.tenant_id = $1 AND c.call_id = ANY(ARRAY[p.b2b, p.corr, p.base]) AND c.started_at BETWEEN p.lo AND p.hi
	UNION
	SELECT c.call_id FROM call_records c
	WHERE c.tenant_id = $1 AND c.correlation_id = ANY(ARRAY[p.call_id, p.corr]) AND c.started_at BETWEEN p.lo AND p.hi
) l
WHERE l.call_id <> p.call_id`

// records decodes rows into records and fills their legs.
func (s *Store) records(ctx context.Context, tx pgx.Tx, tenantID int64, rows []stored) ([]callrec.Record, error) {
	if len(rows) == 0 {
		return []callrec.Record{}, nil
	}
	now := s.now()
	recs := make([]callrec.Record, len(rows))
	n := len(rows)
	ids, corrs, b2b, base := make([]string, n), make([]*string, n), make([]string, n), make([]*string, n)
	lo, hi := make([]time.Time, n), make([]time.Time, n)
	for i, r := range rows {
		st, err := callrec.UnmarshalState(r.State)
		if err != nil {
			return nil, fmt.Errorf("call %q: %w", r.CallID, err)
		}
		recs[i] = st.Record(r.CallID, now)
		recs[i].Legs = []string{}
		ids[i], corrs[i], b2b[i] = r.CallID, r.Correlation, r.CallID+B2BSuffix
		if a, ok := strings.CutSuffix(r.CallID, B2BSuffix); ok {
			base[i] = &a
		}
		lo[i], hi[i] = r.Started.Add(-LegWindow), r.Ended.Add(LegWindow)
	}
	rs, err := tx.Query(ctx, legsSQL, tenantID, ids, corrs, b2b, base, lo, hi)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, n)
	for i, id := range ids {
		index[id] = i
	}
	var call, leg string
	_, err = pgx.ForEachRow(rs, []any{&call, &leg}, func() error {
		if i, ok := index[call]; ok {
			recs[i].Legs = append(recs[i].Legs, leg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range recs {
		slices.Sort(recs[i].Legs)
		recs[i].Legs = slices.Compact(recs[i].Legs)
	}
	return recs, nil
}
