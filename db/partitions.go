package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PartitionedTables are the tables range-partitioned by UTC day on
// captured_at. Each has a DEFAULT partition named <table>_default.
var PartitionedTables = []string{"sip_messages", "hep_events"}

// PartitionName returns the name of table's partition for the UTC day of t,
// e.g. sip_messages_20261126.
func PartitionName(table string, t time.Time) string {
	return table + "_" + t.UTC().Format("20060102")
}

// EnsurePartitions creates the daily partitions of every partitioned table
// for each UTC day from `from` to `to` inclusive. Rows that already sit in
// the default partition for a day being created are moved into the new
// partition in the same transaction, so no row is lost or left behind.
func (d *DB) EnsurePartitions(ctx context.Context, from, to time.Time) (created []string, err error) {
	day := from.UTC().Truncate(24 * time.Hour)
	end := to.UTC().Truncate(24 * time.Hour)
	for ; !day.After(end); day = day.Add(24 * time.Hour) {
		for _, table := range PartitionedTables {
			ok, err := d.ensurePartition(ctx, table, day)
			if err != nil {
				return created, err
			}
			if ok {
				created = append(created, PartitionName(table, day))
			}
		}
	}
	return created, nil
}

func (d *DB) ensurePartition(ctx context.Context, table string, day time.Time) (bool, error) {
	name := PartitionName(table, day)
	var created bool
	err := pgx.BeginFunc(ctx, d.owner, func(tx pgx.Tx) error {
		// Serialise with other replicas doing the same day.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, name); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		ident := pgx.Identifier{name}.Sanitize()
		parent := pgx.Identifier{table}.Sanitize()
		def := pgx.Identifier{table + "_default"}.Sanitize()
		lo, hi := day, day.Add(24*time.Hour)
		stmts := []struct {
			sql  string
			args []any
		}{
			{fmt.Sprintf(`CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`, ident, parent), nil},
			// Attaching would fail while the default partition holds rows of this
			// day: move them first, inside this transaction.
			{fmt.Sprintf(`WITH moved AS (DELETE FROM %s WHERE captured_at >= $1 AND captured_at < $2 RETURNING *)
				INSERT INTO %s SELECT * FROM moved`, def, ident), []any{lo, hi}},
			{fmt.Sprintf(`ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`,
				parent, ident, lo.Format(time.RFC3339), hi.Format(time.RFC3339)), nil},
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
				return err
			}
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("db.EnsurePartitions(%s): %w", name, err)
	}
	return created, nil
}
