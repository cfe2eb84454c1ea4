package tenantdb_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

type bundle struct {
	db    *db.DB
	store *tenantdb.Store
}

func setup(t *testing.T) bundle {
	t.Helper()
	d := dbtest.New(t)
	return bundle{db: d, store: tenantdb.NewStore(d)}
}

func mustCreate(tb testing.TB, s *tenantdb.Store, slug string, origins ...string) tenant.Tenant {
	tb.Helper()
	tn, err := s.Create(context.Background(), tenant.New{Slug: slug, EmbedOrigins: origins})
	if err != nil {
		tb.Fatalf("Create(%s): %v", slug, err)
	}
	return tn
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	b := setup(t)

	t.Run("OK", func(t *testing.T) {
		tn := mustCreate(t, b.store, "acme", "https://App.Acme.example/")
		if tn.ID == 0 || tn.Status != tenant.Active || tn.RetentionDays != tenant.DefaultRetentionDays {
			t.Fatalf("unexpected tenant %+v", tn)
		}
		if len(tn.EmbedOrigins) != 1 || tn.EmbedOrigins[0] != "https://app.acme.example" {
			t.Fatalf("origins not normalised: %v", tn.EmbedOrigins)
		}
		got, err := b.store.BySlug(ctx, "acme")
		if err != nil || got.ID != tn.ID {
			t.Fatalf("BySlug = %+v, %v", got, err)
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		_, err := b.store.Create(ctx, tenant.New{Slug: "acme"})
		if !callscope.Is(err, callscope.Conflict) {
			t.Fatalf("want Conflict, got %v", err)
		}
	})
	for _, slug := range []string{"Acme", "ac me", "a", "acme_1", "x" + string(make([]byte, 40)), "ümlaut"} {
		t.Run("BadSlug/"+slug, func(t *testing.T) {
			_, err := b.store.Create(ctx, tenant.New{Slug: slug})
			if !callscope.Is(err, callscope.Invalid) {
				t.Fatalf("slug %q: want Invalid, got %v", slug, err)
			}
		})
	}
	for _, o := range []string{"app.acme.example", "ftp://acme.example", "https://acme.example/path",
		"https://user@acme.example", "https://acme.example?x=1", "https://", "https://acme.example:99999",
		"https://*.acme.example", "https://a.example; script-src *"} {
		t.Run("BadOrigin/"+o, func(t *testing.T) {
			_, err := b.store.Create(ctx, tenant.New{Slug: "origin-test", EmbedOrigins: []string{o}})
			if !callscope.Is(err, callscope.Invalid) {
				t.Fatalf("origin %q: want Invalid, got %v", o, err)
			}
		})
	}
	t.Run("NotFound", func(t *testing.T) {
		if _, err := b.store.BySlug(ctx, "nobody"); !callscope.Is(err, callscope.NotFound) {
			t.Fatalf("want NotFound, got %v", err)
		}
	})
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	tn := mustCreate(t, b.store, "acme")
	suspended, days := tenant.Suspended, 7
	got, err := b.store.Update(ctx, tn.ID, tenant.Update{Status: &suspended, RetentionDays: &days,
		EmbedOrigins: []string{"http://127.0.0.2:8000"}, Aliases: map[string]string{"127.0.0.1:5060": "SBC"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Active() || got.RetentionDays != 7 || got.EmbedOrigins[0] != "http://127.0.0.2:8000" || got.Aliases["127.0.0.1:5060"] != "SBC" {
		t.Fatalf("update not applied: %+v", got)
	}
	bad := "deleted"
	if _, err := b.store.Update(ctx, tn.ID, tenant.Update{Status: &bad}); !callscope.Is(err, callscope.Invalid) {
		t.Fatalf("want Invalid status, got %v", err)
	}
	if _, err := b.store.Update(ctx, tn.ID, tenant.Update{Aliases: map[string]string{"not-an-ip": "x"}}); !callscope.Is(err, callscope.Invalid) {
		t.Fatalf("want Invalid alias, got %v", err)
	}
	if _, err := b.store.Update(ctx, tn.ID+100, tenant.Update{Status: &suspended}); !callscope.Is(err, callscope.NotFound) {
		t.Fatalf("want NotFound, got %v", err)
	}
}

func TestNodes(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	acme := mustCreate(t, b.store, "acme")
	globex := mustCreate(t, b.store, "globex")

	n, err := b.store.AddNode(ctx, acme.ID, tenant.NewNode{CaptureID: 2001, Name: "kamailio-1", AuthKey: "s3cret", CIDRs: []string{"127.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	if n.TenantSlug != "acme" || n.CaptureID != 2001 || len(n.AllowedCIDRs) != 1 {
		t.Fatalf("unexpected node %+v", n)
	}

	t.Run("OtherTenantCannotTakeCaptureID", func(t *testing.T) {
		_, err := b.store.AddNode(ctx, globex.ID, tenant.NewNode{CaptureID: 2001})
		if !callscope.Is(err, callscope.Conflict) {
			t.Fatalf("want Conflict, got %v", err)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, nn := range []tenant.NewNode{{CaptureID: -1}, {CaptureID: 1 << 32}, {CaptureID: 5, CIDRs: []string{"10.0.0.0/33"}}, {CaptureID: 6, CIDRs: []string{"nope"}}} {
			if _, err := b.store.AddNode(ctx, acme.ID, nn); !callscope.Is(err, callscope.Invalid) {
				t.Errorf("%+v: want Invalid, got %v", nn, err)
			}
		}
	})
	t.Run("MaxCaptureID", func(t *testing.T) {
		if _, err := b.store.AddNode(ctx, globex.ID, tenant.NewNode{CaptureID: 0xFFFFFFFF}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("OtherTenantSeesNothing", func(t *testing.T) {
		nodes, err := b.store.Nodes(ctx, globex.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.TenantID != globex.ID {
				t.Fatalf("globex sees node %+v", n)
			}
		}
		if err := b.store.RemoveNode(ctx, globex.ID, 2001); !callscope.Is(err, callscope.NotFound) {
			t.Fatalf("globex removing acme's node: want NotFound, got %v", err)
		}
	})
	t.Run("AuthKeyAndCIDR", func(t *testing.T) {
		all, err := b.store.AllNodes(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("AllNodes = %v, %v", all, err)
		}
		n := all[0]
		if !n.CheckAuthKey([]byte("s3cret")) || n.CheckAuthKey([]byte("s3cre")) || n.CheckAuthKey(nil) {
			t.Fatal("auth key check wrong")
		}
		if !n.AllowsSource(mustAddr("127.0.0.9")) || n.AllowsSource(mustAddr("192.0.2.1")) || !n.AllowsSource(mustAddr("::ffff:127.0.0.1")) {
			t.Fatal("CIDR check wrong")
		}
	})
	t.Run("Update", func(t *testing.T) {
		const fp = "sha256 Fingerprint=0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9"
		name, key, cert := "kamailio-2", "n3w-key", fp
		n, err := b.store.UpdateNode(ctx, acme.ID, 2001, tenant.NodeUpdate{Name: &name, AuthKey: &key, CIDRs: []string{"10.1.0.0/16", "10.2.0.1"}, CertSHA256: &cert})
		if err != nil {
			t.Fatal(err)
		}
		if n.Name != "kamailio-2" || !n.CheckAuthKey([]byte("n3w-key")) || n.CheckAuthKey([]byte("s3cret")) ||
			fmt.Sprint(n.AllowedCIDRs) != "[10.1.0.0/16 10.2.0.1/32]" {
			t.Fatalf("after update: %+v", n)
		}
		if got := tenant.FormatCertFingerprint(n.CertSHA256); got != fp[len("sha256 Fingerprint="):] {
			t.Fatalf("fingerprint %s", got)
		}
		sum, _ := tenant.ParseCertFingerprint(strings.ToLower(strings.ReplaceAll(fp[len("sha256 Fingerprint="):], ":", "")))
		if !n.AllowsCert(sum) || n.AllowsCert(nil) || n.AllowsCert(make([]byte, 32)) {
			t.Fatal("certificate binding check wrong")
		}

		// Untouched fields stay; empty values lift the requirement.
		empty := ""
		n, err = b.store.UpdateNode(ctx, acme.ID, 2001, tenant.NodeUpdate{AuthKey: &empty, CIDRs: []string{}, CertSHA256: &empty})
		if err != nil {
			t.Fatal(err)
		}
		if n.Name != "kamailio-2" || n.AuthKeyHash != nil || len(n.AllowedCIDRs) != 0 || n.CertSHA256 != nil || !n.AllowsCert(nil) {
			t.Fatalf("after clearing: %+v", n)
		}

		if _, err := b.store.UpdateNode(ctx, globex.ID, 2001, tenant.NodeUpdate{Name: &name}); !callscope.Is(err, callscope.NotFound) {
			t.Errorf("globex updating acme's node: want NotFound, got %v", err)
		}
		bad := "0A:1B"
		if _, err := b.store.UpdateNode(ctx, acme.ID, 2001, tenant.NodeUpdate{CertSHA256: &bad}); !callscope.Is(err, callscope.Invalid) {
			t.Errorf("short fingerprint: want Invalid, got %v", err)
		}
		if _, err := b.store.UpdateNode(ctx, acme.ID, 2001, tenant.NodeUpdate{CIDRs: []string{"nope"}}); !callscope.Is(err, callscope.Invalid) {
			t.Errorf("bad CIDR: want Invalid, got %v", err)
		}
		// Restore what the later subtests expect.
		old := "s3cret"
		if _, err := b.store.UpdateNode(ctx, acme.ID, 2001, tenant.NodeUpdate{AuthKey: &old, CIDRs: []string{"127.0.0.0/8"}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Unclaimed", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		err := b.store.NoteUnclaimed(ctx, []tenant.Unclaimed{{CaptureID: 9999, LastSource: mustAddr("127.0.0.5"), LastReason: "unknown_node", Packets: 3, LastSeen: now}})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.store.NoteUnclaimed(ctx, []tenant.Unclaimed{{CaptureID: 9999, LastSource: mustAddr("127.0.0.6"), LastReason: "unknown_node", Packets: 2, LastSeen: now}}); err != nil {
			t.Fatal(err)
		}
		u, err := b.store.ListUnclaimed(ctx)
		if err != nil || len(u) != 1 || u[0].Packets != 5 || u[0].LastSource.String() != "127.0.0.6" {
			t.Fatalf("ListUnclaimed = %+v, %v", u, err)
		}
		if _, err := b.store.AddNode(ctx, globex.ID, tenant.NewNode{CaptureID: 9999}); err != nil {
			t.Fatal(err)
		}
		if u, _ := b.store.ListUnclaimed(ctx); len(u) != 0 {
			t.Fatalf("claimed node still listed: %+v", u)
		}
		// Ingest reports what it saw before its node map learned of the
		// claim: the claimed ID must not come back.
		if err := b.store.NoteUnclaimed(ctx, []tenant.Unclaimed{{CaptureID: 9999, LastSource: mustAddr("127.0.0.6"), LastReason: "unknown_node", Packets: 1, LastSeen: now}}); err != nil {
			t.Fatal(err)
		}
		if u, _ := b.store.ListUnclaimed(ctx); len(u) != 0 {
			t.Fatalf("claimed node listed again after a late sighting: %+v", u)
		}
	})
}

// TestRowLevelSecurity proves the second guard: a transaction set to tenant
// B sees none of tenant A's rows even when the query forgets its WHERE.
func TestRowLevelSecurity(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	acme := mustCreate(t, b.store, "acme")
	globex := mustCreate(t, b.store, "globex")
	if _, err := b.store.AddNode(ctx, acme.ID, tenant.NewNode{CaptureID: 1}); err != nil {
		t.Fatal(err)
	}
	// A message of acme's, written the way ingest writes (owner pool).
	_, err := b.db.Owner().Exec(ctx, `INSERT INTO sip_messages (tenant_id, captured_at, received_at, call_id,
		src_ip, src_port, dst_ip, dst_port, transport, capture_id, payload)
		VALUES ($1, now(), now(), 'call-a', '127.0.0.1', 5060, '127.0.0.2', 5060, 'udp', 1, 'INVITE')`, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	count := func(tenantID int64, table string) int {
		var n int
		err := b.db.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
			// No WHERE clause on purpose.
			return tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, table := range []string{"sip_messages", "capture_nodes", "tenants"} {
		if got := count(globex.ID, table); table != "tenants" && got != 0 || table == "tenants" && got != 1 {
			t.Errorf("globex sees %d rows of %s", got, table)
		}
		if got := count(acme.ID, table); got != 1 {
			t.Errorf("acme sees %d rows of %s, want 1", got, table)
		}
	}
	// Writes are guarded too: globex cannot update or delete acme's rows.
	err = b.db.InTenant(ctx, globex.ID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM capture_nodes`)
		if err == nil && tag.RowsAffected() != 0 {
			t.Errorf("globex deleted %d of acme's nodes", tag.RowsAffected())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Without any tenant set, tenant-owned tables read as empty.
	err = b.db.NoTenant(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM sip_messages`).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("no-tenant transaction sees %d messages", n)
		}
		// And it cannot switch itself to all tenants by a role trick: the app
		// role is not the owner and cannot bypass RLS.
		var bypass bool
		if err := tx.QueryRow(ctx, `SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&bypass); err != nil {
			return err
		}
		if bypass {
			t.Error("application role bypasses RLS")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
