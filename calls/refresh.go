package calls

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/callrec"
	"github.com/callscope/callscope/db"
)

// RefreshColumns rewrites the columns of every stored record from its
// state, refreshChunk records per transaction in key order: how records
// stored before a column existed (migration 0011) get it without reading
// their messages again, as Rebuild would. Records ingest merges into
// meanwhile are written from the state this read, like a rebuild's; run it
// once after the upgrade. progress, when not nil, hears the records done.
func RefreshColumns(ctx context.Context, d *db.DB, progress func(n int)) (int, error) {
	var after callrec.Key
	n := 0
	for {
		var states []callrec.Keyed
		scanned := 0
		err := pgx.BeginFunc(ctx, d.Owner(), func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `/* calls.RefreshColumns */ SELECT tenant_id, call_id, state FROM call_records
				WHERE (tenant_id, call_id) > ($1, $2) ORDER BY tenant_id, call_id LIMIT $3 FOR UPDATE`,
				after.TenantID, after.CallID, refreshChunk)
			if err != nil {
				return err
			}
			var k callrec.Key
			var b []byte
			_, err = pgx.ForEachRow(rows, []any{&k.TenantID, &k.CallID, &b}, func() error {
				scanned++
				after = k
				s, err := callrec.UnmarshalState(b)
				if err != nil {
					return nil // left as it is: a rebuild mends it from the messages
				}
				states = append(states, callrec.Keyed{Key: k, State: &s})
				return nil
			})
			if err != nil {
				return err
			}
			return Replace(ctx, tx, states)
		})
		if err != nil {
			return n, fmt.Errorf("calls.RefreshColumns: %w", err)
		}
		if scanned == 0 {
			return n, nil
		}
		n += len(states)
		if progress != nil {
			progress(n)
		}
	}
}

// refreshChunk is how many records RefreshColumns writes per transaction.
const refreshChunk = 5000
