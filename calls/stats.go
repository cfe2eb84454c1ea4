package calls

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/query/queryapi"
)

// classSQL is a call's outcome class as a number: 2..6 its final status
// class, 0 no final response, 7 cancelled (queryapi.ClassOf).
const classSQL = `CASE WHEN r.cancelled THEN 7 WHEN r.final_status IS NULL THEN 0 ELSE r.final_status / 100 END`

func className(n int) string {
	switch n {
	case 0:
		return queryapi.ClassNoAnswer
	case 7:
		return queryapi.ClassCancelled
	}
	return queryapi.ClassOf(n*100, false)
}

// statsTopN is how many entries each top list keeps.
const statsTopN = 10

// Stats aggregates the calls f selects (its paging and sort ignored), of
// f.TenantID or of every tenant when it is 0, in PostgreSQL: per bucket of
// queryapi.StatsBucketFor(f.To - f.From) and in total. The figures are
// computed by a few grouped statements, none reading a call into Go; the
// first two read only what call_records_started carries (an index-only
// scan of the range). Every figure counts exactly the calls the list shows
// for the same filter narrowed to it (class, status, R-URI user, user
// agent, capture node, bucket). Returns Invalid for a bad filter.
func (s *Store) Stats(ctx context.Context, f queryapi.CallFilter) (queryapi.CallStats, error) {
	f.After, f.Before, f.Sort, f.Asc, f.Limit = "", "", "", false, 0
	var st queryapi.CallStats
	if err := f.Validate(); err != nil {
		return st, err
	}
	bucket := queryapi.StatsBucketFor(f.To.Sub(f.From))
	st.From, st.To, st.Bucket = f.From, f.To, bucket
	n := int((f.To.Sub(f.From) + bucket - 1) / bucket)
	st.Buckets = make([]queryapi.StatsBucket, n)
	for i := range st.Buckets {
		st.Buckets[i] = queryapi.StatsBucket{Start: f.From.Add(time.Duration(i) * bucket)}
		st.Buckets[i].ByClass = map[string]int64{}
	}
	st.Total.ByClass = map[string]int64{}
	st.Codes, st.FailingDestinations, st.UserAgents, st.Nodes = []queryapi.CodeCount{}, []queryapi.TopEntry{}, []queryapi.TopEntry{}, []queryapi.TopEntry{}
	err := s.read(ctx, f.TenantID, func(tx pgx.Tx, tenants []int64, _ map[int64]string) error {
		if len(tenants) == 0 {
			return nil
		}
		if err := statsOutcomes(ctx, tx, &f, tenants, &st); err != nil {
			return err
		}
		if err := statsPDD(ctx, tx, &f, tenants, &st); err != nil {
			return err
		}
		return statsTop(ctx, tx, &f, tenants, &st)
	})
	if err != nil {
		return st, fmt.Errorf("calls.Store.Stats(%d): %w", f.TenantID, err)
	}
	slices.SortFunc(st.Codes, func(a, b queryapi.CodeCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Status, b.Status))
	})
	return st, nil
}

// statsWhere is the filter's WHERE over the tenants read.
func statsWhere(f *queryapi.CallFilter, tenants []int64, a *sqlArgs) string {
	return "r.tenant_id = ANY(" + a.arg(tenants) + ") AND " + strings.Join(filterConds(f, a), " AND ")
}

// bucketSQL is the bucket a call falls in, counted from f.From.
func bucketSQL(f *queryapi.CallFilter, bucket time.Duration, a *sqlArgs) string {
	return "floor(extract(epoch FROM r.started_at - " + a.arg(f.From) + "::timestamptz) / " + a.arg(bucket.Seconds()) + ")::int"
}

// statsOutcomes fills the calls by bucket and class, the answered and
// completed counts and ACD (bucket sets), and the final status
// distribution, in one scan (grouping sets).
func statsOutcomes(ctx context.Context, tx pgx.Tx, f *queryapi.CallFilter, tenants []int64, st *queryapi.CallStats) error {
	var a sqlArgs
	b := bucketSQL(f, st.Bucket, &a)
	where := statsWhere(f, tenants, &a)
	ner := a.arg(queryapi.NERStatuses)
	q := `/* calls.Store.Stats */ SELECT grouping(b, cls)::int AS g, b, cls, fs, count(*),
	count(*) FILTER (WHERE cls = 2 OR fs = ANY(` + ner + `::int[]) OR cls = 7),
	sum(duration_ms) FILTER (WHERE cls = 2), count(duration_ms) FILTER (WHERE cls = 2)
FROM (SELECT ` + b + ` AS b, ` + classSQL + ` AS cls, r.final_status::int AS fs, r.duration_ms
	FROM call_records_search r WHERE ` + where + `) x
GROUP BY GROUPING SETS ((b, cls), (fs))`
	rows, err := tx.Query(ctx, q, append([]any{execMode}, a...)...)
	if err != nil {
		return err
	}
	var g int
	var bk, cls, fs *int
	var calls, completed, durN int64
	var durSum *int64
	type acd struct{ sum, n int64 }
	acds := make([]acd, len(st.Buckets))
	var total acd
	_, err = pgx.ForEachRow(rows, []any{&g, &bk, &cls, &fs, &calls, &completed, &durSum, &durN}, func() error {
		if g != 0 { // the (fs) set
			if fs != nil {
				st.Codes = append(st.Codes, queryapi.CodeCount{Status: *fs, Count: calls})
			}
			return nil
		}
		if bk == nil || *bk < 0 || *bk >= len(st.Buckets) {
			return nil
		}
		name := className(*cls)
		for _, fig := range []*queryapi.StatsFigures{&st.Buckets[*bk].StatsFigures, &st.Total} {
			fig.Calls += calls
			fig.ByClass[name] += calls
			fig.Completed += completed
			if *cls == 2 {
				fig.Answered += calls
			}
		}
		if durSum != nil {
			acds[*bk].sum += *durSum
			acds[*bk].n += durN
			total.sum += *durSum
			total.n += durN
		}
		return nil
	})
	if err != nil {
		return err
	}
	mean := func(x acd) *float64 {
		if x.n == 0 {
			return nil
		}
		m := float64(x.sum) / float64(x.n)
		return &m
	}
	for i := range st.Buckets {
		st.Buckets[i].ACDMs = mean(acds[i])
	}
	st.Total.ACDMs = mean(total)
	return nil
}

// statsPDD fills the PDD percentiles per bucket and in total.
func statsPDD(ctx context.Context, tx pgx.Tx, f *queryapi.CallFilter, tenants []int64, st *queryapi.CallStats) error {
	var a sqlArgs
	b := bucketSQL(f, st.Bucket, &a)
	where := statsWhere(f, tenants, &a)
	q := `/* calls.Store.Stats */ SELECT g, b, p[1], p[2] FROM (
	SELECT grouping(b)::int AS g, b, percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY pdd_ms) AS p
	FROM (SELECT ` + b + ` AS b, r.pdd_ms FROM call_records_search r WHERE ` + where + ` AND r.pdd_ms IS NOT NULL) x
	GROUP BY GROUPING SETS ((b), ())) y`
	rows, err := tx.Query(ctx, q, append([]any{execMode}, a...)...)
	if err != nil {
		return err
	}
	var g int
	var bk *int
	var p50, p95 *int64
	_, err = pgx.ForEachRow(rows, []any{&g, &bk, &p50, &p95}, func() error {
		switch {
		case g == 1:
			st.Total.PDDP50Ms, st.Total.PDDP95Ms = p50, p95
		case bk != nil && *bk >= 0 && *bk < len(st.Buckets):
			st.Buckets[*bk].PDDP50Ms, st.Buckets[*bk].PDDP95Ms = p50, p95
		}
		return nil
	})
	return err
}

// statsTop fills the top failing destinations, user agents and capture
// nodes: one statement of three grouped subqueries.
func statsTop(ctx context.Context, tx pgx.Tx, f *queryapi.CallFilter, tenants []int64, st *queryapi.CallStats) error {
	var a sqlArgs
	where := statsWhere(f, tenants, &a)
	n := a.arg(statsTopN)
	q := `/* calls.Store.Stats */ WITH calls AS MATERIALIZED (
	SELECT r.final_status, r.cancelled, r.ruri_user, r.user_agents, r.nodes FROM call_records_search r WHERE ` + where + `)
(SELECT 'ruri', v, count(*) FROM (SELECT lower(ruri_user) AS v FROM calls
	WHERE final_status >= 400 AND NOT cancelled AND ruri_user IS NOT NULL) x GROUP BY v ORDER BY 3 DESC, 2 LIMIT ` + n + `)
UNION ALL
(SELECT 'ua', v, count(*) FROM calls, LATERAL (SELECT DISTINCT lower(u) AS v FROM unnest(calls.user_agents) u) x
	GROUP BY v ORDER BY 3 DESC, 2 LIMIT ` + n + `)
UNION ALL
(SELECT 'node', v, count(*) FROM (SELECT unnest(nodes) AS v FROM calls) x GROUP BY v ORDER BY 3 DESC, 2 LIMIT ` + n + `)`
	rows, err := tx.Query(ctx, q, append([]any{execMode}, a...)...)
	if err != nil {
		return err
	}
	var kind, v string
	var c int64
	_, err = pgx.ForEachRow(rows, []any{&kind, &v, &c}, func() error {
		e := queryapi.TopEntry{Value: v, Count: c}
		switch kind {
		case "ruri":
			st.FailingDestinations = append(st.FailingDestinations, e)
		case "ua":
			st.UserAgents = append(st.UserAgents, e)
		case "node":
			st.Nodes = append(st.Nodes, e)
		}
		return nil
	})
	return err
}
