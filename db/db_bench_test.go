package db_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/db/dbtest"
)

// BenchmarkInTenant is the fixed cost every tenant-scoped read pays: a
// transaction with the tenant set, one trivial query, commit.
func BenchmarkInTenant(b *testing.B) {
	ctx := context.Background()
	d := dbtest.New(b)
	for b.Loop() {
		err := d.InTenant(ctx, 1, func(tx pgx.Tx) error {
			var n int
			return tx.QueryRow(ctx, `SELECT 1`).Scan(&n)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
