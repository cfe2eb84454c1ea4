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
