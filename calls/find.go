package calls

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/query/queryapi"
)

// sqlArgs collects a statement's arguments and names their placeholders.
type sqlArgs []any

func (a *sqlArgs) arg(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// filterConds are f's conditions on call_records_search r, but the tenant
// and the cursor. Users and user agents compare lower-cased; the indexes
// of 0011 are on lower() and reverse(lower()).
func filterConds(f *queryapi.CallFilter, a *sqlArgs) []string {
	w := []string{"r.started_at >= " + a.arg(f.From) + " AND r.started_at < " + a.arg(f.To), "r.messages > 0"}
	if len(f.Outcomes) > 0 {
		var or []string
		for _, o := range f.Outcomes {
			switch o {
			case queryapi.ClassCancelled:
				or = append(or, "r.cancelled")
			case queryapi.ClassNoAnswer:
				or = append(or, "(r.final_status IS NULL AND NOT r.cancelled)")
			default:
				or = append(or, "(r.status_class = "+strconv.Itoa(int(o[0]-'0'))+" AND NOT r.cancelled)")
			}
		}
		w = append(w, "("+strings.Join(or, " OR ")+")")
	}
	if f.Status != 0 {
		// The class is implied; saying it steers the planner to
		// call_records_status, which holds the status's calls in time
		// order, rather than a walk of call_records_started that checks
		// the status of every call of a tenant that has none.
		w = append(w, "r.final_status = "+a.arg(f.Status)+" AND r.status_class = "+strconv.Itoa(f.Status/100))
	}
	bound := func(col, op string, v *int64) {
		if v != nil {
			w = append(w, col+" "+op+" "+a.arg(*v))
		}
	}
	bound("r.duration_ms", ">=", f.DurationMin)
	bound("r.duration_ms", "<=", f.DurationMax)
	bound("r.pdd_ms", ">=", f.PDDMin)
	bound("r.pdd_ms", "<=", f.PDDMax)
	if prefix, ok := strings.CutSuffix(f.CallID, "*"); ok {
		w = append(w, "r.call_id LIKE "+a.arg(queryapi.EscapeLike(prefix)+"%"))
	} else if f.CallID != "" {
		w = append(w, "r.call_id = "+a.arg(f.CallID))
	}
	for _, u := range []struct{ col, v string }{{"from_user", f.FromUser}, {"to_user", f.ToUser}, {"ruri_user", f.RURIUser}} {
		mode, pat, _ := queryapi.UserPattern(u.col, strings.ToLower(u.v))
		switch mode {
		case queryapi.MatchExact:
			w = append(w, "lower(r."+u.col+") = "+a.arg(pat))
		case queryapi.MatchPrefix:
			w = append(w, "lower(r."+u.col+") LIKE "+a.arg(pat))
		case queryapi.MatchSuffix:
			// Exactly the index expression, or the index is not used.
			w = append(w, "reverse(lower(r."+u.col+")) LIKE "+a.arg(pat))
		}
	}
	if f.IP != "" {
		p, _ := queryapi.ParseIPFilter(f.IP)
		ip := a.arg(p)
		w = append(w, "(r.src_ip <<= "+ip+" OR r.dst_ip <<= "+ip+")")
	}
	if f.Port != 0 {
		port := a.arg(f.Port)
		w = append(w, "(r.src_port = "+port+" OR r.dst_port = "+port+")")
	}
	if f.UserAgent != "" {
		// The column holds them lower-cased (see lowerSet).
		mode, pat, _ := queryapi.UAPattern(f.UserAgent)
		if mode == queryapi.MatchExact {
			w = append(w, a.arg(pat)+" = ANY(r.user_agents)")
		} else {
			w = append(w, "EXISTS (SELECT 1 FROM unnest(r.user_agents) ua WHERE ua LIKE "+a.arg(pat)+")")
		}
	}
	if f.Node != "" {
		w = append(w, a.arg(f.Node)+" = ANY(r.nodes)")
	}
	if f.Kind != "" {
		// A literal from callrec.Kinds (Problems checked it), so that the
		// planner can prove call_records_kind's predicate.
		w = append(w, "r.kind = '"+f.Kind+"'")
	}
	if f.MOSBelow != nil {
		w = append(w, "r.worst_mos < "+a.arg(*f.MOSBelow))
	}
	return w
}

// sortKey is the list's sort expression and how a cursor's key reads it.
func sortKey(sort string) string {
	switch sort {
	case queryapi.SortDuration:
		return "coalesce(r.duration_ms, -1)"
	case queryapi.SortPDD:
		return "coalesce(r.pdd_ms, -1)"
	}
	return ""
}

// orderBy is the list's order: by the sort key, then start, then tenant
// and Call-ID to break ties; desc newest (longest) first. asc is exactly
// its reverse, so that paging back is paging on in the other direction.
func orderBy(sort string, desc bool) string { return orderOn("r", sortKey(sort), desc) }

// orderOn is orderBy over the rows named alias, the sort key read from key
// ("" for the time).
func orderOn(alias, key string, desc bool) string {
	hi, lo := "DESC", "ASC"
	if !desc {
		hi, lo = lo, hi
	}
	o := alias + ".started_at " + hi + ", " + alias + ".tenant_id " + lo + ", " + alias + ".call_id " + lo
	if key != "" {
		o = key + " " + hi + ", " + o
	}
	return o
}

// afterCond is "the row comes after c" in orderBy(sort, desc).
func afterCond(c queryapi.ListCursor, desc bool, a *sqlArgs) string {
	before, later := "<", ">"
	if !desc {
		before, later = later, before
	}
	s, t, id := a.arg(c.Started), a.arg(c.TenantID), a.arg(c.CallID)
	cond := "(r.started_at " + before + " " + s + " OR (r.started_at = " + s + " AND (r.tenant_id " + later + " " + t +
		" OR (r.tenant_id = " + t + " AND r.call_id " + later + " " + id + "))))"
	if k := sortKey(c.Sort); k != "" {
		kv := a.arg(c.Key)
		cond = "(" + k + " " + before + " " + kv + " OR (" + k + " = " + kv + " AND " + cond + "))"
	}
	return cond
}

// listColumns are what a list row reads.
const listColumns = `r.tenant_id, r.call_id, r.correlation_id, r.started_at, r.ended_at, r.state,
	r.cancelled, r.src_ip, r.src_port, r.dst_ip, r.dst_port, r.worst_mos`

// findSQL is one page of the list, limit+1 rows in the direction asked.
// It finds the page's keys first — every filter on a column of
// call_records_started is checked in that index, and a sort by duration or
// PDD sorts keys, not records — then reads those rows alone. For every
// tenant, each tenant's page is found in a LATERAL subquery of its own and
// the pages merged, as query's search does: each tenant's index walk stops
// at the page, where `tenant_id = ANY(...)` would sort a day.
func findSQL(f *queryapi.CallFilter, tenants []int64, cur *queryapi.ListCursor, desc bool) (string, []any) {
	var a sqlArgs
	w := filterConds(f, &a)
	if cur != nil {
		w = append(w, afterCond(*cur, desc, &a))
	}
	key := "0::bigint"
	if k := sortKey(f.Sort); k != "" {
		key = k
	}
	limit := a.arg(f.Limit + 1)
	order := orderBy(f.Sort, desc)
	outer := orderOn("p", "", desc)
	if sortKey(f.Sort) != "" {
		outer = orderOn("p", "p.sort_key", desc)
	}
	var keys string
	if len(tenants) == 1 {
		keys = `SELECT r.tenant_id, r.call_id, r.started_at, ` + key + ` AS sort_key
  FROM call_records_search r
  WHERE r.tenant_id = ` + a.arg(tenants[0]) + ` AND ` + strings.Join(w, "\n    AND ") + `
  ORDER BY ` + order + `
  LIMIT ` + limit
	} else {
		keys = `SELECT k.* FROM unnest(` + a.arg(tenants) + `::bigint[]) AS t(id)
  CROSS JOIN LATERAL (
    SELECT r.tenant_id, r.call_id, r.started_at, ` + key + ` AS sort_key
    FROM call_records_search r
    WHERE r.tenant_id = t.id AND ` + strings.Join(w, "\n      AND ") + `
    ORDER BY ` + order + `
    LIMIT ` + limit + `
  ) k
  ORDER BY ` + orderOn("k", map[bool]string{true: "k.sort_key", false: ""}[sortKey(f.Sort) != ""], desc) + `
  LIMIT ` + limit
	}
	return `/* calls.Store.Find */ WITH p AS MATERIALIZED (
  ` + keys + `
)
SELECT ` + listColumns + `, p.sort_key
FROM p JOIN call_records_search r ON r.tenant_id = p.tenant_id AND r.call_id = p.call_id
ORDER BY ` + outer, a
}

// countSQL counts the filter's calls, up to queryapi.CountCap+1.
func countSQL(f *queryapi.CallFilter, tenants []int64) (string, []any) {
	var a sqlArgs
	w := filterConds(f, &a)
	return `/* calls.Store.Find */ SELECT count(*) FROM (SELECT 1 FROM call_records_search r
WHERE r.tenant_id = ANY(` + a.arg(tenants) + `) AND ` + strings.Join(w, "\n  AND ") + `
LIMIT ` + a.arg(queryapi.CountCap+1) + `) c`, a
}

// found is a row of findSQL.
type found struct {
	TenantID       int64
	CallID         string
	Correlation    *string
	Started, Ended time.Time
	State          []byte
	Cancelled      bool
	SrcIP          *netip.Addr
	SrcPort        *int32
	DstIP          *netip.Addr
	DstPort        *int32
	WorstMOS       *float32
	SortKey        int64
}

// tenantSlugs names the tenants to read: tenantID alone, or every tenant
// when it is 0 (by id). Runs in an all-tenants transaction.
func tenantSlugs(ctx context.Context, tx pgx.Tx, tenantID int64) ([]int64, map[int64]string, error) {
	rows, err := tx.Query(ctx, `/* calls.tenantSlugs */ SELECT id, slug FROM tenants WHERE $1 = 0 OR id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, nil, err
	}
	var ids []int64
	slugs := map[int64]string{}
	var id int64
	var slug string
	_, err = pgx.ForEachRow(rows, []any{&id, &slug}, func() error {
		ids = append(ids, id)
		slugs[id] = slug
		return nil
	})
	return ids, slugs, err
}

// Find returns one page of the calls f selects, of f.TenantID or, when it
// is 0, of every tenant, with their total count up to queryapi.CountCap.
// It is the console's list (an admin's): a tenant's filter reads only that
// tenant's records. Returns Invalid, naming the field, for a bad filter.
func (s *Store) Find(ctx context.Context, f queryapi.CallFilter) (queryapi.CallPage, error) {
	var page queryapi.CallPage
	if err := f.Validate(); err != nil {
		return page, err
	}
	desc, c := !f.Asc, f.After
	if f.Before != "" {
		desc, c = !desc, f.Before
	}
	var cur *queryapi.ListCursor
	if c != "" {
		lc, err := queryapi.DecodeListCursor(c, f.Sort)
		if err != nil {
			return page, err
		}
		cur = &lc
	}
	err := s.read(ctx, f.TenantID, func(tx pgx.Tx, tenants []int64, slugs map[int64]string) error {
		if len(tenants) == 0 {
			page.Calls = []queryapi.CallRow{}
			return nil
		}
		q, args := findSQL(&f, tenants, cur, desc)
		rs, err := tx.Query(ctx, q, append([]any{execMode}, args...)...)
		if err != nil {
			return err
		}
		rows, err := pgx.CollectRows(rs, pgx.RowToStructByPos[found])
		if err != nil {
			return err
		}
		more := len(rows) > f.Limit
		if more {
			rows = rows[:f.Limit]
		}
		if f.Before != "" {
			slices.Reverse(rows)
		}
		if page.Calls, err = s.rows(rows, slugs); err != nil {
			return err
		}
		if len(rows) > 0 {
			first, last := cursorOf(f.Sort, rows[0]), cursorOf(f.Sort, rows[len(rows)-1])
			switch {
			case f.Before != "":
				page.Next = last
				if more {
					page.Prev = first
				}
			case f.After != "":
				page.Prev = first
				if more {
					page.Next = last
				}
			case more:
				page.Next = last
			}
		}
		if f.After == "" && f.Before == "" && !more {
			// The first page holds every call: that is the count.
			page.Total = len(rows)
			return nil
		}
		q, args = countSQL(&f, tenants)
		var n int
		if err := tx.QueryRow(ctx, q, append([]any{execMode}, args...)...).Scan(&n); err != nil {
			return err
		}
		page.Total, page.TotalCapped = min(n, queryapi.CountCap), n > queryapi.CountCap
		return nil
	})
	if err != nil {
		return page, fmt.Errorf("calls.Store.Find(%d): %w", f.TenantID, err)
	}
	return page, nil
}

func cursorOf(sort string, r found) string {
	return queryapi.ListCursor{Sort: sort, Key: r.SortKey, Started: r.Started, TenantID: r.TenantID, CallID: r.CallID}.Encode()
}

// read runs fn in a read of tenantID's rows, or of every tenant's when it
// is 0, with the tenants to read and their slugs. Like List, it turns off
// JIT and parallel workers for the transaction: a page is a short walk.
func (s *Store) read(ctx context.Context, tenantID int64, fn func(tx pgx.Tx, tenants []int64, slugs map[int64]string) error) error {
	body := func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)`); err != nil {
			return err
		}
		tenants, slugs, err := tenantSlugs(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		return fn(tx, tenants, slugs)
	}
	if tenantID != 0 {
		return s.db.InTenant(ctx, tenantID, body)
	}
	return s.db.AllTenants(ctx, body)
}

// rows turns found rows into list rows.
func (s *Store) rows(rows []found, slugs map[int64]string) ([]queryapi.CallRow, error) {
	now := s.now()
	out := make([]queryapi.CallRow, len(rows))
	for i, r := range rows {
		st, err := callrec.UnmarshalState(r.State)
		if err != nil {
			return nil, fmt.Errorf("call %q: %w", r.CallID, err)
		}
		rec := st.Record(r.CallID, now)
		status := 0
		if rec.FinalStatus != nil {
			status = *rec.FinalStatus
		}
		row := queryapi.CallRow{TenantID: r.TenantID, TenantSlug: slugs[r.TenantID], Record: rec,
			Class: queryapi.ClassOf(status, r.Cancelled), Cancelled: r.Cancelled,
			Source: joinAddr(r.SrcIP, r.SrcPort), Dest: joinAddr(r.DstIP, r.DstPort)}
		if r.WorstMOS != nil {
			m := float64(*r.WorstMOS)
			row.WorstMOS = &m
		}
		out[i] = row
	}
	return out, nil
}

func joinAddr(ip *netip.Addr, port *int32) string {
	if ip == nil {
		return ""
	}
	if port == nil {
		return ip.String()
	}
	return netip.AddrPortFrom(*ip, uint16(*port)).String()
}
