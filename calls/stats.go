package calls

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

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
// queryapi.StatsBucketFor(f.To - f.From) and in total. Five grouped
// statements, run side by side, none reading a call into Go: outcomes and
// codes, PDD percentiles, and the three top lists. The first two read only
// what call_records_started carries (an index-only scan of the range).
// Every figure counts exactly the calls the list shows for the same filter
// narrowed to it (class, status, R-URI user, user agent, capture node,
// bucket). Returns Invalid for a bad filter.
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
	var tenants []int64
	err := s.read(ctx, f.TenantID, func(_ pgx.Tx, ids []int64, _ map[int64]string) error {
		tenants = ids
		return nil
	})
	if err != nil || len(tenants) == 0 {
		return st, wrapStats(f.TenantID, err)
	}
	// Each statement fills its own part of st: outcomes the counts and
	// codes, pdd the percentiles, each top list its list.
	pdd := &queryapi.CallStats{From: st.From, Bucket: bucket, Buckets: make([]queryapi.StatsBucket, n)}
	g, gctx := errgroup.WithContext(ctx)
	run := func(q string, args []any, row []any, each func() error) {
		g.Go(func() error {
			return s.aggregate(gctx, f.TenantID, func(tx pgx.Tx) error {
				rows, err := tx.Query(gctx, q, append([]any{execMode}, args...)...)
				if err != nil {
					return err
				}
				_, err = pgx.ForEachRow(rows, row, each)
				return err
			})
		})
	}
	durations := make([]durationSum, n+1)
	s.statsOutcomes(&f, tenants, &st, durations, run)
	s.statsPDD(&f, tenants, pdd, run)
	for _, t := range topLists(&f, tenants) {
		var v string
		var c int64
		list := map[string]*[]queryapi.TopEntry{"ruri": &st.FailingDestinations, "ua": &st.UserAgents, "node": &st.Nodes}[t.kind]
		run(t.q, t.args, []any{&v, &c}, func() error {
			*list = append(*list, queryapi.TopEntry{Value: v, Count: c})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return st, wrapStats(f.TenantID, err)
	}
	setACD(&st, durations)
	for i := range st.Buckets {
		st.Buckets[i].PDDP50Ms, st.Buckets[i].PDDP95Ms = pdd.Buckets[i].PDDP50Ms, pdd.Buckets[i].PDDP95Ms
	}
	st.Total.PDDP50Ms, st.Total.PDDP95Ms = pdd.Total.PDDP50Ms, pdd.Total.PDDP95Ms
	slices.SortFunc(st.Codes, func(a, b queryapi.CodeCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Status, b.Status))
	})
	return st, nil
}

func wrapStats(tenantID int64, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("calls.Store.Stats(%d): %w", tenantID, err)
}

// aggregate runs fn in a read of tenantID's rows (every tenant's for 0)
// for a statement that scans a range: parallel workers may help it, JIT
// compilation (tens of ms) would not.
func (s *Store) aggregate(ctx context.Context, tenantID int64, fn func(tx pgx.Tx) error) error {
	body := func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true)`); err != nil {
			return err
		}
		return fn(tx)
	}
	if tenantID != 0 {
		return s.db.InTenant(ctx, tenantID, body)
	}
	return s.db.AllTenants(ctx, body)
}

// statsRunner runs a statement and calls each for every row scanned into row.
type statsRunner func(q string, args []any, row []any, each func() error)

// statsWhere is the filter's WHERE over the tenants read.
func statsWhere(f *queryapi.CallFilter, tenants []int64, a *sqlArgs) string {
	return "r.tenant_id = ANY(" + a.arg(tenants) + ") AND " + strings.Join(filterConds(f, a), " AND ")
}

// bucketSQL is the start of the bucket a call falls in: date_bin on the
// range's start (no numeric arithmetic per row).
func bucketSQL(f *queryapi.CallFilter, bucket time.Duration, a *sqlArgs) string {
	return "date_bin(" + a.arg(strconv.FormatInt(int64(bucket/time.Second), 10)+" seconds") + "::interval, r.started_at, " + a.arg(f.From) + "::timestamptz)"
}

// bucketIndex is the index in st.Buckets of a bucket start, -1 outside.
func bucketIndex(st *queryapi.CallStats, start *time.Time) int {
	if start == nil || st.Bucket <= 0 {
		return -1
	}
	i := int(start.Sub(st.From) / st.Bucket)
	if i < 0 || i >= len(st.Buckets) {
		return -1
	}
	return i
}

// outcomesSQL counts calls by bucket and class, with the answered and
// completed counts and ACD's sum and count, and by final status, in one
// scan (grouping sets).
func outcomesSQL(f *queryapi.CallFilter, tenants []int64, st *queryapi.CallStats) (string, []any) {
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
	return q, a
}

func (s *Store) statsOutcomes(f *queryapi.CallFilter, tenants []int64, st *queryapi.CallStats, durations []durationSum, run statsRunner) {
	q, a := outcomesSQL(f, tenants, st)
	var g int
	var bk *time.Time
	var cls, fs *int
	var calls, completed, durN int64
	var durSum *int64
	run(q, a, []any{&g, &bk, &cls, &fs, &calls, &completed, &durSum, &durN}, func() error {
		if g != 0 { // the (fs) set
			if fs != nil {
				st.Codes = append(st.Codes, queryapi.CodeCount{Status: *fs, Count: calls})
			}
			return nil
		}
		i := bucketIndex(st, bk)
		if i < 0 || cls == nil {
			return nil
		}
		name := className(*cls)
		for j, fig := range []*queryapi.StatsFigures{&st.Buckets[i].StatsFigures, &st.Total} {
			fig.Calls += calls
			fig.ByClass[name] += calls
			fig.Completed += completed
			if *cls == 2 {
				fig.Answered += calls
			}
			if durSum != nil {
				k := i
				if j == 1 {
					k = len(st.Buckets)
				}
				durations[k].sum += *durSum
				durations[k].n += durN
			}
		}
		return nil
	})
}

// durationSum is the sum and number of the answered calls' durations.
type durationSum struct{ sum, n int64 }

// setACD sets each bucket's ACD and the total's from durations (one per
// bucket, then the total).
func setACD(st *queryapi.CallStats, durations []durationSum) {
	mean := func(x durationSum) *float64 {
		if x.n == 0 {
			return nil
		}
		m := float64(x.sum) / float64(x.n)
		return &m
	}
	for i := range st.Buckets {
		st.Buckets[i].ACDMs = mean(durations[i])
	}
	st.Total.ACDMs = mean(durations[len(st.Buckets)])
}

// pddSQL is the PDD's median and 95th percentile per bucket and in total.
func pddSQL(f *queryapi.CallFilter, tenants []int64, st *queryapi.CallStats) (string, []any) {
	var a sqlArgs
	b := bucketSQL(f, st.Bucket, &a)
	where := statsWhere(f, tenants, &a)
	q := `/* calls.Store.Stats */ SELECT g, b, p[1], p[2] FROM (
	SELECT grouping(b)::int AS g, b, percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY pdd_ms) AS p
	FROM (SELECT ` + b + ` AS b, r.pdd_ms FROM call_records_search r WHERE ` + where + ` AND r.pdd_ms IS NOT NULL) x
	GROUP BY GROUPING SETS ((b), ())) y`
	return q, a
}

func (s *Store) statsPDD(f *queryapi.CallFilter, tenants []int64, st *queryapi.CallStats, run statsRunner) {
	q, a := pddSQL(f, tenants, st)
	var g int
	var bk *time.Time
	var p50, p95 *int64
	run(q, a, []any{&g, &bk, &p50, &p95}, func() error {
		if g == 1 {
			st.Total.PDDP50Ms, st.Total.PDDP95Ms = p50, p95
		} else if i := bucketIndex(st, bk); i >= 0 {
			st.Buckets[i].PDDP50Ms, st.Buckets[i].PDDP95Ms = p50, p95
		}
		return nil
	})
}

// topList is one top list's statement.
type topList struct {
	kind string // "ruri", "ua", "node"
	q    string
	args []any
}

// topLists are the statements of the top failing destinations (the
// R-URI users of 4xx-6xx calls, lower-cased as the filter matches them),
// user agents (stored lower-cased, each once per call) and capture nodes.
func topLists(f *queryapi.CallFilter, tenants []int64) []topList {
	build := func(kind, value, from, extra string) topList {
		var a sqlArgs
		where := statsWhere(f, tenants, &a)
		q := `/* calls.Store.Stats */ SELECT ` + value + ` AS v, count(*) FROM call_records_search r` + from + `
WHERE ` + where + extra + `
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ` + a.arg(statsTopN)
		return topList{kind: kind, q: q, args: a}
	}
	return []topList{
		build("ruri", "lower(r.ruri_user)", "", " AND r.final_status >= 400 AND NOT r.cancelled AND r.ruri_user IS NOT NULL"),
		build("ua", "ua", ", unnest(r.user_agents) ua", ""),
		build("node", "node", ", unnest(r.nodes) node", ""),
	}
}
