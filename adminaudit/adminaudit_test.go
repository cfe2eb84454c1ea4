package adminaudit_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/tenant"
)

type bundle struct {
	db          *db.DB
	store       *adminaudit.Store
	acme, globx tenant.Tenant
	ops         auth.Admin
}

func setup(t testing.TB) bundle {
	t.Helper()
	ctx := context.Background()
	d := dbtest.New(t)
	ts := tenant.NewStore(d)
	b := bundle{db: d, store: adminaudit.NewStore(d)}
	var err error
	if b.acme, err = ts.Create(ctx, tenant.New{Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	if b.globx, err = ts.Create(ctx, tenant.New{Slug: "globex"}); err != nil {
		t.Fatal(err)
	}
	admins := auth.NewAdminStore(d, auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if b.ops, err = admins.Create(ctx, "ops@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b bundle) mustRecord(t *testing.T, r adminaudit.Record) {
	t.Helper()
	if err := b.store.Record(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func TestRecordAndList(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	ip := netip.MustParseAddr("::ffff:192.0.2.7")
	b.mustRecord(t, adminaudit.Record{AdminID: b.ops.ID, Actor: b.ops.Email, Action: adminaudit.Login, ClientIP: ip})
	b.mustRecord(t, adminaudit.Record{AdminID: b.ops.ID, Actor: b.ops.Email, Action: adminaudit.NodeAdd, TenantID: b.acme.ID, Target: "2001", Detail: "name proxy-a"})
	b.mustRecord(t, adminaudit.Record{Actor: adminaudit.CLI, Action: adminaudit.TenantSuspend, TenantID: b.globx.ID})
	b.mustRecord(t, adminaudit.Record{Actor: adminaudit.CLI, Action: adminaudit.APIKeyRevoke, TenantID: b.acme.ID, Target: "abcdefgh"})

	all, err := b.store.List(ctx, adminaudit.Filter{})
	if err != nil || len(all) != 4 {
		t.Fatalf("List = %d entries, %v", len(all), err)
	}
	if all[0].Action != adminaudit.APIKeyRevoke || all[3].Action != adminaudit.Login {
		t.Errorf("not newest first: %v … %v", all[0].Action, all[3].Action)
	}
	login := all[3]
	if login.AdminID == nil || *login.AdminID != b.ops.ID || login.TenantID != nil || login.TenantSlug != nil ||
		login.ClientIP == nil || *login.ClientIP != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("login entry %+v", login)
	}
	if node := all[2]; node.TenantSlug == nil || *node.TenantSlug != "acme" || node.Target != "2001" || node.Detail != "name proxy-a" {
		t.Errorf("node entry %+v", node)
	}
	if cli := all[1]; cli.AdminID != nil || cli.Actor != adminaudit.CLI || cli.ClientIP != nil {
		t.Errorf("CLI entry %+v", cli)
	}

	for name, tt := range map[string]struct {
		f    adminaudit.Filter
		want []adminaudit.Action
	}{
		"ByActor":  {adminaudit.Filter{Actor: "ops@example.com"}, []adminaudit.Action{adminaudit.NodeAdd, adminaudit.Login}},
		"CLI":      {adminaudit.Filter{Actor: adminaudit.CLI}, []adminaudit.Action{adminaudit.APIKeyRevoke, adminaudit.TenantSuspend}},
		"ByAction": {adminaudit.Filter{Action: adminaudit.TenantSuspend}, []adminaudit.Action{adminaudit.TenantSuspend}},
		"ByTenant": {adminaudit.Filter{TenantID: b.acme.ID}, []adminaudit.Action{adminaudit.APIKeyRevoke, adminaudit.NodeAdd}},
		"Both":     {adminaudit.Filter{Actor: adminaudit.CLI, TenantID: b.acme.ID}, []adminaudit.Action{adminaudit.APIKeyRevoke}},
		"Page":     {adminaudit.Filter{Before: all[1].ID, Limit: 1}, []adminaudit.Action{adminaudit.NodeAdd}},
		"None":     {adminaudit.Filter{Actor: "nobody@example.com"}, nil},
	} {
		got, err := b.store.List(ctx, tt.f)
		var actions []adminaudit.Action
		for _, e := range got {
			actions = append(actions, e.Action)
		}
		if err != nil || strings.Join(names(actions), ",") != strings.Join(names(tt.want), ",") {
			t.Errorf("%s: %v, %v; want %v", name, actions, err, tt.want)
		}
	}
}

func names(as []adminaudit.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

func TestRecordRefusesAndClips(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	for _, r := range []adminaudit.Record{
		{Actor: "x", Action: "tenant.drop"},
		{Action: adminaudit.Login},
	} {
		if err := b.store.Record(ctx, r); !callscope.Is(err, callscope.Invalid) {
			t.Errorf("Record(%+v) = %v, want Invalid", r, err)
		}
	}
	// Hostile or huge text from a form is stored bounded and valid.
	b.mustRecord(t, adminaudit.Record{Actor: "cli", Action: adminaudit.TenantAliases, TenantID: b.acme.ID,
		Target: "bad\xffutf8", Detail: strings.Repeat("é", 2000)})
	got, err := b.store.List(ctx, adminaudit.Filter{})
	if err != nil || len(got) != 1 || got[0].Target != "badutf8" || len(got[0].Detail) > 1024 || !strings.HasPrefix(got[0].Detail, "éé") {
		t.Fatalf("%+v %v", got, err)
	}
}

// A tenant-scoped transaction sees its own tenant's entries and the global
// ones, never another tenant's: row-level security behind every WHERE.
func TestOtherTenantSeesNothing(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	b.mustRecord(t, adminaudit.Record{Actor: "cli", Action: adminaudit.NodeAdd, TenantID: b.acme.ID, Target: "2001"})
	b.mustRecord(t, adminaudit.Record{Actor: "cli", Action: adminaudit.AdminCreate, Target: "new@example.com"})
	count := func(tenantID int64) (acme, global int) {
		t.Helper()
		err := b.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE tenant_id IS NOT NULL), count(*) FILTER (WHERE tenant_id IS NULL) FROM admin_audit`).Scan(&acme, &global)
		})
		if err != nil {
			t.Fatal(err)
		}
		return acme, global
	}
	if a, g := count(b.globx.ID); a != 0 || g != 1 {
		t.Errorf("globex sees %d tenant entries and %d global ones, want 0 and 1", a, g)
	}
	if a, _ := count(b.acme.ID); a != 1 {
		t.Errorf("acme sees %d of its entries, want 1", a)
	}
	// Nor can one tenant's transaction write an entry for another.
	err := b.db.InTenant(ctx, b.globx.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO admin_audit (actor, action, tenant_id) VALUES ('cli', 'node.add', $1)`, b.acme.ID)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("globex wrote an acme entry: %v", err)
	}
	// And the application cannot rewrite history.
	err = b.db.AllTenants(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE admin_audit SET actor = 'someone else'`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the application updated the audit: %v", err)
	}
}
