package query

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/query/queryapi"
)

// callSpan bounds how long after its first request a call's messages are
// looked for when summarising it: long enough for any real call, short
// enough that run-time partition pruning keeps the lookup to a day or two.
const callSpan = 12 * time.Hour

// sqlBuilder collects positional arguments.
type sqlBuilder struct {
	where []string
	args  []any
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *sqlBuilder) and(cond string) { b.where = append(b.where, cond) }

// Search returns one page of calls matching f, newest first, and the cursor
// of the next page ("" on the last page). Returns Invalid for a bad filter.
// With f.TenantID == 0 it searches every tenant: admin only.
func (s *Store) Search(ctx context.Context, f queryapi.Filter) (calls []queryapi.CallSummary, next string, err error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	run := func(tx pgx.Tx) error {
		// A broad filter can be costed past jit_above_cost; compiling the
		// plan costs ~100 ms, more than the search.
		if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true)`); err != nil {
			return err
		}
		tenants := []int64{f.TenantID}
		if f.TenantID == 0 {
			// Name every tenant so the tenant-leading indexes serve
			// cross-tenant search too.
			rows, err := tx.Query(ctx, `/* Store.Search */ SELECT id FROM tenants ORDER BY id`)
			if err != nil {
				return err
			}
			if tenants, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				return err
			}
			if len(tenants) == 0 {
				return nil
			}
		}
		q, args := searchSQL(f, tenants)
		rows, err := tx.Query(ctx, q, append([]any{searchExecMode}, args...)...)
		if err != nil {
			return err
		}
		calls, err = pgx.CollectRows(rows, scanSummary)
		return err
	}
	if f.TenantID == 0 {
		err = s.db.AllTenants(ctx, run)
	} else {
		err = s.db.InTenant(ctx, f.TenantID, run)
	}
	if err != nil {
		return nil, "", fmt.Errorf("query.Store.Search: %w", err)
	}
	if len(calls) > f.Limit {
		calls = calls[:f.Limit]
		last := calls[len(calls)-1]
		next = queryapi.Cursor{First: last.First, TenantID: last.TenantID, CallID: last.CallID}.Encode()
	}
	return calls, next, nil
}

func scanSummary(row pgx.CollectableRow) (queryapi.CallSummary, error) {
	var (
		c          queryapi.CallSummary
		answeredAt *time.Time
		method     *string
		fromUser   *string
		toUser     *string
		final      *int16
		state      []byte
	)
	if err := row.Scan(&c.TenantID, &c.TenantSlug, &c.CallID, &c.First, &method, &fromUser, &toUser,
		&c.Last, &c.Messages, &final, &answeredAt, &state); err != nil {
		return c, err
	}
	if st, err := callrec.UnmarshalState(state); state != nil && err == nil {
		rec := st.Record(c.CallID, time.Now())
		c.Method, c.FromUser, c.ToUser = deref(method), deref(fromUser), deref(toUser)
		c.First, c.Last, c.Outcome = c.First.UTC(), c.Last.UTC(), rec.Outcome
		if rec.FinalStatus != nil {
			c.FinalStatus = *rec.FinalStatus
		}
		if rec.DurationMs != nil {
			c.Duration = time.Duration(*rec.DurationMs) * time.Millisecond
		}
		return c, nil
	}
	c.First, c.Last = c.First.UTC(), c.Last.UTC()
	c.Method, c.FromUser, c.ToUser = deref(method), deref(fromUser), deref(toUser)
	if final != nil {
		c.FinalStatus = int(*final)
	}
	if answeredAt != nil && c.Last.After(*answeredAt) {
		c.Duration = c.Last.Sub(*answeredAt)
	}
	return c, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// searchExecMode is how Search sends its statement: an unnamed statement
// whose description pgx caches, so PostgreSQL plans every search with its
// parameter values. A cached named statement would switch to a generic plan
// after five runs, and a generic plan cannot turn `reverse(from_user) LIKE
// $3` or `from_user LIKE $3` into index bounds: the suffix search then read
// every dialog-initiating row of the day (0.45 s per search on 9 M messages
// instead of 1 ms). Planning each search costs a few milliseconds.
const searchExecMode = pgx.QueryExecModeCacheDescribe

// searchSQL builds the search. It reads the dialog-initiating rows through
// the view sip_messages_search (migration 0003 says why: LIKE and reverse()
// could not use an index under row-level security otherwise). The shape:
//
//	page:  for each tenant searched (one, or every tenant for an admin), in a
//	       LATERAL subquery of its own: the dialog-initiating rows
//	       (method IS NOT NULL AND to_tag IS NULL, the partial indexes of
//	       0003) in [from, to) matching the filters, keeping a call's first
//	       such row only (retransmissions and the same INVITE seen by a
//	       second capture node come later), newest first, keyset-paginated,
//	       limit+1 rows. Then the tenants' pages merged, limit+1 again.
//	agg:   per call on the page only, its messages within callSpan of the
//	       first: last time, count; and its record (call_records), whose
//	       final status, outcome and duration are the call's. A call
//	       stored before records existed falls back to the final status
//	       of its first request and the time from its first 2xx to its
//	       last message.
//
// Per-tenant subqueries are what keep cross-tenant search cheap: with
// `tenant_id = ANY(all)` no index yields rows in time order, so "the latest
// calls of every tenant" sorted a whole day (2.8 s on 9 M messages); each
// tenant's own index walk stops after limit+1 calls.
func searchSQL(f queryapi.Filter, tenants []int64) (string, []any) {
	b := &sqlBuilder{}
	b.and("m.tenant_id = t.id")
	from, to := b.arg(f.From), b.arg(f.To)
	b.and("m.captured_at >= " + from + " AND m.captured_at < " + to)
	b.and("m.method IS NOT NULL AND m.to_tag IS NULL")
	if f.CallID != "" {
		b.and("m.call_id = " + b.arg(f.CallID))
	}
	if f.Method != "" {
		b.and("m.method = " + b.arg(strings.ToUpper(f.Method)))
	}
	for _, u := range []struct{ col, field, v string }{
		{"from_user", "from_user", f.FromUser}, {"to_user", "to_user", f.ToUser}, {"ruri_user", "ruri_user", f.RURIUser},
	} {
		mode, pat, _ := queryapi.UserPattern(u.field, u.v)
		switch mode {
		case queryapi.MatchExact:
			b.and("m." + u.col + " = " + b.arg(pat))
		case queryapi.MatchPrefix:
			b.and("m." + u.col + " LIKE " + b.arg(pat))
		case queryapi.MatchSuffix:
			// Must read reverse(col) exactly as the index expression does.
			b.and("reverse(m." + u.col + ") LIKE " + b.arg(pat))
		}
	}
	span := b.arg(callSpan) + "::interval"
	// The rest look at every message of the call, not only its first.
	exists := func(cond string) {
		b.and("EXISTS (SELECT 1 FROM sip_messages x WHERE x.tenant_id = m.tenant_id AND x.call_id = m.call_id" +
			" AND x.captured_at >= m.captured_at AND x.captured_at < m.captured_at + " + span + " AND " + cond + ")")
	}
	if f.IP != "" {
		p, _ := queryapi.ParseIPFilter(f.IP)
		ip := b.arg(p)
		exists("(x.src_ip <<= " + ip + " OR x.dst_ip <<= " + ip + ")")
	}
	if f.Status != 0 {
		// The record's final status, not any status a message carried: a
		// REGISTER challenged with 401 and then accepted is a 200.
		b.and("EXISTS (SELECT 1 FROM call_records r WHERE r.tenant_id = m.tenant_id AND r.call_id = m.call_id" +
			" AND r.final_status = " + b.arg(f.Status) + ")")
	}
	if f.UserAgent != "" {
		exists("x.user_agent ILIKE " + b.arg("%"+queryapi.EscapeLike(f.UserAgent)+"%"))
	}
	if f.CaptureID != nil {
		exists("x.capture_id = " + b.arg(int64(*f.CaptureID)))
	}
	if f.CorrelationID != "" {
		exists("x.correlation_id = " + b.arg(f.CorrelationID))
	}
	if f.Cursor != "" {
		c, _ := queryapi.DecodeCursor(f.Cursor)
		t, tid, cid := b.arg(c.First), b.arg(c.TenantID), b.arg(c.CallID)
		b.and("(m.captured_at < " + t + " OR (m.captured_at = " + t + " AND (m.tenant_id > " + tid +
			" OR (m.tenant_id = " + tid + " AND m.call_id > " + cid + "))))")
	}
	// A call is listed at its first initiating row: a row with an earlier
	// one of the same call (retransmission, second capture node, the next
	// hop of a proxy) is not a call of its own.
	b.and(`NOT EXISTS (SELECT 1 FROM sip_messages p WHERE p.tenant_id = m.tenant_id AND p.call_id = m.call_id
		AND p.captured_at < m.captured_at AND p.captured_at >= m.captured_at - ` + span + `
		AND p.method IS NOT NULL AND p.to_tag IS NULL)`)
	limit := b.arg(f.Limit + 1)
	ids := b.arg(tenants)

	q := `/* Store.Search */
WITH page AS (
	SELECT c.*, t.slug
	FROM tenants t
	CROSS JOIN LATERAL (
		SELECT DISTINCT ON (m.captured_at, m.call_id)
			m.tenant_id, m.call_id, m.captured_at, m.method, m.from_user, m.to_user, m.cseq
		FROM sip_messages_search m
		WHERE ` + strings.Join(b.where, "\n\t\t  AND ") + `
		ORDER BY m.captured_at DESC, m.call_id
		LIMIT ` + limit + `
	) c
	WHERE t.id = ANY(` + ids + `)
	ORDER BY c.captured_at DESC, c.tenant_id, c.call_id
	LIMIT ` + limit + `
)
SELECT p.tenant_id, p.slug, p.call_id, p.captured_at, p.method, p.from_user, p.to_user,
	a.last, a.n, a.final_status, a.answered_at, r.state
FROM page p
LEFT JOIN call_records r ON r.tenant_id = p.tenant_id AND r.call_id = p.call_id
CROSS JOIN LATERAL (
	SELECT max(x.captured_at) AS last, count(*)::int AS n,
		(array_agg(x.status ORDER BY x.captured_at DESC) FILTER (
			WHERE x.status >= 200 AND x.cseq_method = p.method AND x.cseq = p.cseq))[1] AS final_status,
		min(x.captured_at) FILTER (
			WHERE x.status BETWEEN 200 AND 299 AND x.cseq_method = p.method AND x.cseq = p.cseq) AS answered_at
	FROM sip_messages x
	WHERE x.tenant_id = p.tenant_id AND x.call_id = p.call_id
	  AND x.captured_at >= p.captured_at AND x.captured_at < p.captured_at + ` + span + `
) a
ORDER BY p.captured_at DESC, p.tenant_id, p.call_id`
	return q, b.args
}
