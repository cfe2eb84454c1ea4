package db_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope/db/dbtest"
)

// TestReadInTenant: every statement of the batch sees the tenant's rows and
// no other tenant's, and the setting ends with the batch: the next user of
// the same connection sees no tenant at all.
func TestReadInTenant(t *testing.T) {
	ctx := context.Background()
	d := dbtest.New(t)
	var acme, globex int64
	for slug, id := range map[string]*int64{"acme": &acme, "globex": &globex} {
		err := d.Owner().QueryRow(ctx, `INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id`, slug).Scan(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Owner().Exec(ctx, `INSERT INTO capture_nodes (tenant_id, capture_id) VALUES ($1, $2), ($1, $3)`, *id, *id+100, *id+200); err != nil {
			t.Fatal(err)
		}
	}

	read := func(tenantID int64) (slugs []string, nodes []int64) {
		t.Helper()
		b := &pgx.Batch{}
		// No WHERE tenant_id: only row-level security narrows these.
		b.Queue(`SELECT slug FROM tenants ORDER BY slug`)
		b.Queue(`SELECT capture_id FROM capture_nodes ORDER BY capture_id`)
		err := d.ReadInTenant(ctx, tenantID, b, func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			if slugs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			rows, err = br.Query()
			if err != nil {
				return err
			}
			nodes, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return slugs, nodes
	}
	for _, tc := range []struct {
		id    int64
		slug  string
		nodes []int64
	}{{acme, "acme", []int64{acme + 100, acme + 200}}, {globex, "globex", []int64{globex + 100, globex + 200}}} {
		slugs, nodes := read(tc.id)
		if len(slugs) != 1 || slugs[0] != tc.slug {
			t.Errorf("tenant %s sees tenants %v, want only itself", tc.slug, slugs)
		}
		if len(nodes) != 2 || nodes[0] != tc.nodes[0] || nodes[1] != tc.nodes[1] {
			t.Errorf("tenant %s sees capture nodes %v, want %v", tc.slug, nodes, tc.nodes)
		}
	}

	// The setting was local to the batch's implicit transaction: whichever
	// pooled connection runs next, it carries no tenant.
	for range 8 {
		err := d.NoTenant(ctx, func(tx pgx.Tx) error {
			var setting string
			var visible int
			err := tx.QueryRow(ctx, `SELECT coalesce(current_setting('callscope.tenant_id', true), ''), (SELECT count(*) FROM capture_nodes)`).Scan(&setting, &visible)
			if err != nil {
				return err
			}
			if setting != "" || visible != 0 {
				t.Errorf("after ReadInTenant, a connection carries tenant %q and sees %d capture nodes", setting, visible)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	if err := d.ReadInTenant(ctx, 0, &pgx.Batch{}, func(pgx.BatchResults) error { return nil }); err == nil {
		t.Error("ReadInTenant with tenant 0: no error")
	}
}
