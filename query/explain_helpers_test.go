package query

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/query/queryapi"
)

// MustExplain returns the plan of f's search as the tenant would run it.
func MustExplain(tb testing.TB, s *Store, f queryapi.Filter) []string {
	tb.Helper()
	if err := f.Validate(); err != nil {
		tb.Fatal(err)
	}
	q, args := searchSQL(f, []int64{f.TenantID})
	var plan []string
	err := s.db.InTenant(context.Background(), f.TenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), "EXPLAIN "+q, append([]any{searchExecMode}, args...)...)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return plan
}
