package query

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
)

// Search bounds.
const (
	DefaultLimit = 50
	MaxLimit     = 500
	// MaxRange is the longest time range one search may cover.
	MaxRange = 31 * 24 * time.Hour
	// callSpan bounds how long after its first request a call's messages are
	// looked for when summarising it: long enough for any real call, short
	// enough that run-time partition pruning keeps the lookup to a day or two.
	callSpan = 12 * time.Hour
)

// Filter selects calls for admin search. From and To are mandatory; the
// other fields are optional and combine with AND.
type Filter struct {
	From, To time.Time // [From, To): calls whose first request lies in it
	TenantID int64     // 0 = every tenant (admin)

	CallID        string
	CorrelationID string
	// FromUser, ToUser and RURIUser match exactly, or by prefix ("4420*")
	// or by suffix ("*1234"). Patterns are matched on the dialog's first
	// request.
	FromUser, ToUser, RURIUser string
	IP                         string // an address or a CIDR, as source or destination of any message
	Method                     string // of the first request: INVITE, REGISTER, ...
	Status                     int    // a final status any response of the call carried
	UserAgent                  string // substring, case-insensitive, of any message's User-Agent/Server
	CaptureID                  *uint32

	Limit  int    // 0 = DefaultLimit, at most MaxLimit
	Cursor string // from a previous Search; empty for the first page
}

// CallSummary is one line of search results.
type CallSummary struct {
	TenantID    int64         `json:"tenant_id"`
	TenantSlug  string        `json:"tenant_slug"`
	CallID      string        `json:"call_id"`
	First       time.Time     `json:"first"`
	Last        time.Time     `json:"last"`
	Method      string        `json:"method"`
	FromUser    string        `json:"from_user"`
	ToUser      string        `json:"to_user"`
	FinalStatus int           `json:"final_status"` // 0 while no final response was seen
	Duration    time.Duration `json:"duration"`     // from the first 2xx to the last message; 0 if never answered
	Messages    int           `json:"messages"`
}

// cursor is the keyset position after the last call of a page: calls are
// ordered by (first DESC, tenant_id, call_id).
type cursor struct {
	first    time.Time
	tenantID int64
	callID   string
}

func (c cursor) encode() string {
	s := strconv.FormatInt(c.first.UnixMicro(), 10) + ":" + strconv.FormatInt(c.tenantID, 10) + ":" + c.callID
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(s string) (cursor, error) {
	bad := callscope.FieldError("cursor", "not a cursor returned by search")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	us, rest, ok1 := strings.Cut(string(b), ":")
	tid, callID, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return cursor{}, bad
	}
	micros, err1 := strconv.ParseInt(us, 10, 64)
	tenantID, err2 := strconv.ParseInt(tid, 10, 64)
	if err1 != nil || err2 != nil {
		return cursor{}, bad
	}
	return cursor{first: time.UnixMicro(micros).UTC(), tenantID: tenantID, callID: callID}, nil
}

// Validate checks f and fills defaults. It returns an Invalid error naming
// the field at fault.
func (f *Filter) Validate() error {
	switch {
	case f.From.IsZero():
		return callscope.FieldError("from", "a start time is required")
	case f.To.IsZero():
		return callscope.FieldError("to", "an end time is required")
	case !f.To.After(f.From):
		return callscope.FieldError("to", "must be after from")
	case f.To.Sub(f.From) > MaxRange:
		return callscope.FieldError("to", "the range may not exceed %d days", int(MaxRange/(24*time.Hour)))
	case f.TenantID < 0:
		return callscope.FieldError("tenant_id", "must be positive")
	case f.Limit < 0 || f.Limit > MaxLimit:
		return callscope.FieldError("limit", "must be between 1 and %d", MaxLimit)
	case f.Status != 0 && (f.Status < 100 || f.Status > 699):
		return callscope.FieldError("status", "must be a SIP status code (100-699)")
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	for _, u := range []struct{ name, v string }{{"from_user", f.FromUser}, {"to_user", f.ToUser}, {"ruri_user", f.RURIUser}} {
		if _, _, err := userPattern(u.name, u.v); err != nil {
			return err
		}
	}
	if f.IP != "" {
		if _, err := parseIPFilter(f.IP); err != nil {
			return err
		}
	}
	if f.Cursor != "" {
		if _, err := decodeCursor(f.Cursor); err != nil {
			return err
		}
	}
	return nil
}

// userPattern turns "abc", "abc*" or "*abc" into a match mode and a LIKE
// pattern with the user's own wildcards escaped.
func userPattern(field, v string) (mode string, arg string, err error) {
	if v == "" {
		return "", "", nil
	}
	prefix := strings.HasSuffix(v, "*")
	suffix := strings.HasPrefix(v, "*")
	core := strings.TrimSuffix(strings.TrimPrefix(v, "*"), "*")
	switch {
	case core == "" || strings.Contains(core, "*"):
		return "", "", callscope.FieldError(field, "use exact, prefix* or *suffix")
	case prefix && suffix:
		return "", "", callscope.FieldError(field, "use exact, prefix* or *suffix, not both")
	case prefix:
		return "prefix", escapeLike(core) + "%", nil
	case suffix:
		return "suffix", escapeLike(reverse(core)) + "%", nil
	}
	return "exact", core, nil
}

func escapeLike(s string) string { return likeEscaper.Replace(s) }

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// reverse reverses s the way PostgreSQL's reverse() does: by character.
func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func parseIPFilter(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, callscope.FieldError("ip", "%q is neither an address nor a CIDR", s)
	}
	return p.Masked(), nil
}

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
func (s *Store) Search(ctx context.Context, f Filter) (calls []CallSummary, next string, err error) {
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
		next = cursor{first: last.First, tenantID: last.TenantID, callID: last.CallID}.encode()
	}
	return calls, next, nil
}

func scanSummary(row pgx.CollectableRow) (CallSummary, error) {
	var (
		c          CallSummary
		answeredAt *time.Time
		method     *string
		fromUser   *string
		toUser     *string
		final      *int16
	)
	if err := row.Scan(&c.TenantID, &c.TenantSlug, &c.CallID, &c.First, &method, &fromUser, &toUser,
		&c.Last, &c.Messages, &final, &answeredAt); err != nil {
		return c, err
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
//	       first: last time, count, final status of the first request,
//	       answer time.
//
// Per-tenant subqueries are what keep cross-tenant search cheap: with
// `tenant_id = ANY(all)` no index yields rows in time order, so "the latest
// calls of every tenant" sorted a whole day (2.8 s on 9 M messages); each
// tenant's own index walk stops after limit+1 calls.
func searchSQL(f Filter, tenants []int64) (string, []any) {
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
		mode, pat, _ := userPattern(u.field, u.v)
		switch mode {
		case "exact":
			b.and("m." + u.col + " = " + b.arg(pat))
		case "prefix":
			b.and("m." + u.col + " LIKE " + b.arg(pat))
		case "suffix":
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
		p, _ := parseIPFilter(f.IP)
		ip := b.arg(p)
		exists("(x.src_ip <<= " + ip + " OR x.dst_ip <<= " + ip + ")")
	}
	if f.Status != 0 {
		exists("x.status = " + b.arg(f.Status))
	}
	if f.UserAgent != "" {
		exists("x.user_agent ILIKE " + b.arg("%"+escapeLike(f.UserAgent)+"%"))
	}
	if f.CaptureID != nil {
		exists("x.capture_id = " + b.arg(int64(*f.CaptureID)))
	}
	if f.CorrelationID != "" {
		exists("x.correlation_id = " + b.arg(f.CorrelationID))
	}
	if f.Cursor != "" {
		c, _ := decodeCursor(f.Cursor)
		t, tid, cid := b.arg(c.first), b.arg(c.tenantID), b.arg(c.callID)
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
	a.last, a.n, a.final_status, a.answered_at
FROM page p
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
