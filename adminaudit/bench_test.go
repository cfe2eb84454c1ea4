package adminaudit_test

import (
	"context"
	"testing"

	"github.com/callscope/callscope/adminaudit"
)

// BenchmarkRecord is the cost an audited action adds to its request: one
// INSERT in the tenant's scope.
func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	bu := setup(b)
	r := adminaudit.Record{AdminID: bu.ops.ID, Actor: bu.ops.Email, Action: adminaudit.NodeAdd, TenantID: bu.acme.ID, Target: "2001", Detail: "name edge"}
	for b.Loop() {
		if err := bu.store.Record(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList is the audit page's read: the newest 100 of one admin's
// entries among 20,000.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	bu := setup(b)
	_, err := bu.db.Owner().Exec(ctx, `INSERT INTO admin_audit (admin_id, actor, action, tenant_id, target)
		SELECT CASE WHEN i % 10 = 0 THEN $1::bigint END, CASE WHEN i % 10 = 0 THEN 'ops@example.com' ELSE 'cli' END,
			(ARRAY['login','node.add','tenant.settings','link.share'])[1 + i % 4], $2::bigint, i::text
		FROM generate_series(1, 20000) i`, bu.ops.ID, bu.acme.ID)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bu.db.Owner().Exec(ctx, `ANALYZE admin_audit`); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, err := bu.store.List(ctx, adminaudit.Filter{Actor: "ops@example.com", Limit: 100})
		if err != nil || len(got) != 100 {
			b.Fatal(len(got), err)
		}
	}
}
