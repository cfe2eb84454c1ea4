package calls

import "github.com/callscope/callscope/query/queryapi"

// ListSQL is listSQL for the plans the bench tests print.
var ListSQL = listSQL

// SetMaxCandidates changes maxCandidates until the returned func is called.
func SetMaxCandidates(n int64) (restore func()) {
	old := maxCandidates.Swap(n)
	return func() { maxCandidates.Store(old) }
}

// FindSQL is the first page's statement of Find, for the bench plans.
func FindSQL(f *queryapi.CallFilter, tenants []int64) (string, []any) {
	return findSQL(f, tenants, nil, !f.Asc)
}

// CountSQL is Find's count statement.
var CountSQL = countSQL

// StatsSQL are the statistics' statements for f over tenants.
func StatsSQL(f *queryapi.CallFilter, tenants []int64) []struct {
	Q    string
	Args []any
} {
	st := &queryapi.CallStats{From: f.From, To: f.To, Bucket: queryapi.StatsBucketFor(f.To.Sub(f.From))}
	type stmt = struct {
		Q    string
		Args []any
	}
	q0, a0 := outcomesSQL(f, tenants, st)
	q1, a1 := pddSQL(f, tenants, st)
	out := []stmt{{q0, a0}, {q1, a1}}
	for _, t := range topLists(f, tenants) {
		out = append(out, stmt{t.q, t.args})
	}
	return out
}
