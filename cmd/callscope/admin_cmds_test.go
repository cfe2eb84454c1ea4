package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/adminaudit/adminaudittest"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

func TestAdminCommands(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	admins := authdb.NewAdminStore(dbtest.Open(t, c.env["CALLSCOPE_DATABASE_URL"]), auth.DefaultParams())
	const pw = "correct horse battery staple"
	c.mustRunIn(pw+"\n", "admin", "create", "ops@example.com")
	c.mustRunIn(pw+"\n", "admin", "create", "night@example.com")

	if out := c.mustRun("admin", "list"); !regexp.MustCompile(`night@example\.com\s+active\s+\S+\nops@example\.com\s+active`).MatchString(out) {
		t.Errorf("admin list:\n%s", out)
	}
	if out := c.mustRun("admin", "disable", "NIGHT@example.com"); !strings.Contains(out, "disabled admin night@example.com") {
		t.Errorf("disable: %s", out)
	}
	if _, err := admins.Authenticate(ctx, "night@example.com", pw); err == nil {
		t.Error("a disabled admin authenticates")
	}
	if out := c.mustRun("admin", "list"); !regexp.MustCompile(`night@example\.com\s+disabled`).MatchString(out) {
		t.Errorf("admin list after disable:\n%s", out)
	}
	c.mustRun("admin", "enable", "night@example.com")
	if _, err := admins.Authenticate(ctx, "night@example.com", pw); err != nil {
		t.Errorf("an enabled admin refused: %v", err)
	}
	before, _ := admins.ByEmail(ctx, "night@example.com")
	if out := c.mustRunIn("a brand new passphrase\n", "admin", "reset", "night@example.com"); !strings.Contains(out, "console sessions end") {
		t.Errorf("reset: %s", out)
	}
	after, _ := admins.ByEmail(ctx, "night@example.com")
	if after.SessionEpoch != before.SessionEpoch+1 {
		t.Errorf("reset left the session epoch at %d", after.SessionEpoch)
	}
	if _, err := admins.Authenticate(ctx, "night@example.com", "a brand new passphrase"); err != nil {
		t.Errorf("the new password: %v", err)
	}

	for _, tt := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"admin", "disable", "nobody@example.com"}, "no admin nobody@example.com (callscope admin list shows them)"},
		{pw + "\n", []string{"admin", "reset", "nobody@example.com"}, "no admin nobody@example.com"},
		{"short\n", []string{"admin", "reset", "night@example.com"}, "the password on standard input must be at least 12 characters"},
		{"", []string{"admin", "reset", "night@example.com"}, "no password on standard input: echo 'a long passphrase' | callscope admin reset night@example.com"},
		{pw + "\n", []string{"admin", "create", "not-an-email"}, `EMAIL: "not-an-email" is not an email address`},
		{pw + "\n", []string{"admin", "create", "ops@example.com"}, "admin ops@example.com already exists"},
	} {
		if _, err := c.run(tt.stdin, tt.args...); err == nil || err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q:\n  got  %v\n  want %s", tt.args, err, tt.want)
		}
	}
	if a, _ := admins.ByEmail(ctx, "night@example.com"); a.SessionEpoch != after.SessionEpoch {
		t.Error("a refused reset moved the epoch")
	}
}

// Every CLI command that changes something writes one admin audit row,
// with the CLI as actor.
func TestCLIActionsAreAudited(t *testing.T) {
	c, slug := newAuthCLI(t)
	c.env["CALLSCOPE_SECRET_KEY"] = cliSecret
	log := adminaudittest.Follow(t, adminaudit.NewStore(dbtest.Open(t, c.env["CALLSCOPE_DATABASE_URL"])))
	c.mustRun("tenant", "create", "audited", "--retention-days", "7")
	if e := log.Next(t); e.Action != adminaudit.TenantCreate || e.Actor != adminaudit.CLI || e.Target != "audited" || !strings.Contains(e.Detail, "retention 7 days") {
		t.Fatalf("tenant create audited as %+v", e)
	}
	expect := func(action adminaudit.Action, global bool, target string) adminaudit.Entry {
		t.Helper()
		e := log.Next(t)
		if e.Action != action || e.Actor != adminaudit.CLI || e.AdminID != nil || (e.TenantSlug == nil) != global ||
			(!global && *e.TenantSlug != slug) || (target != "*" && e.Target != target) {
			t.Fatalf("audit row %+v, want %s on %q (global %v) by the CLI", e, action, target, global)
		}
		return e
	}
	run := func(args ...string) string { t.Helper(); return c.mustRunIn("a long enough passphrase\n", args...) }

	run("tenant", "suspend", slug)
	expect(adminaudit.TenantSuspend, false, slug)
	run("tenant", "resume", slug)
	expect(adminaudit.TenantResume, false, slug)
	run("tenant", "alias", slug, "10.0.0.1", "PBX")
	if e := expect(adminaudit.TenantAliases, false, slug); e.Detail != "10.0.0.1 = PBX" {
		t.Errorf("alias detail %q", e.Detail)
	}
	run("tenant", "unalias", slug, "10.0.0.1")
	expect(adminaudit.TenantAliases, false, slug)
	run("node", "add", slug, "6001", "--name", "edge")
	expect(adminaudit.NodeAdd, false, "6001")
	run("node", "remove", slug, "6001")
	expect(adminaudit.NodeRemove, false, "6001")
	run("key", "add", slug, "--jwk", "../../auth/testdata/jwk/ed25519_public.json")
	expect(adminaudit.TenantKeyAdd, false, "tenant-ed-1")
	run("key", "disable", slug, "tenant-ed-1")
	expect(adminaudit.TenantKeyDisable, false, "tenant-ed-1")
	run("key", "rotate")
	kid := expect(adminaudit.SigningKeyRotate, true, "*").Target
	run("key", "rotate")
	expect(adminaudit.SigningKeyRotate, true, "*")
	run("key", "retire", kid)
	expect(adminaudit.SigningKeyRetire, true, kid)
	key := regexp.MustCompile(`cs_[A-Za-z0-9_-]{43}`).FindString(run("apikey", "create", slug, "--name", "orch"))
	expect(adminaudit.APIKeyCreate, false, key[3:11])
	run("apikey", "revoke", slug, key)
	expect(adminaudit.APIKeyRevoke, false, key[3:11])
	from, to := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339)
	run("token", "mint", slug, "c1@x", "--from", from, "--to", to, "--scope", "pcap")
	link := expect(adminaudit.LinkShare, false, "*")
	if !strings.Contains(link.Detail, `call "c1@x"`) || !strings.Contains(link.Detail, "scopes pcap") {
		t.Errorf("mint detail %q", link.Detail)
	}
	run("token", "revoke", slug, link.Target)
	expect(adminaudit.LinkRevoke, false, link.Target)
	run("token", "revoke-all", slug)
	expect(adminaudit.LinkRevokeAll, false, "")
	run("admin", "create", "cli@example.com")
	expect(adminaudit.AdminCreate, true, "cli@example.com")
	run("admin", "disable", "cli@example.com")
	expect(adminaudit.AdminDisable, true, "cli@example.com")
	run("admin", "enable", "cli@example.com")
	expect(adminaudit.AdminEnable, true, "cli@example.com")
	run("admin", "reset", "cli@example.com")
	expect(adminaudit.AdminReset, true, "cli@example.com")

	// Reading changes nothing, and neither does a refusal.
	for _, args := range [][]string{{"tenant", "list"}, {"tenant", "aliases", slug}, {"node", "list"}, {"admin", "list"},
		{"key", "list"}, {"apikey", "list", slug}, {"token", "list", slug}} {
		run(args...)
	}
	c.run("", "node", "remove", slug, "6001")
	c.run("", "tenant", "create", "Bad Slug")
	log.None(t)
}

// The on/off tenant settings store what was asked, say what it means, and
// refuse anything but on or off without changing the tenant.
func TestTenantSwitches(t *testing.T) {
	c := newCLI(t)
	store := tenantdb.NewStore(dbtest.Open(t, c.env["CALLSCOPE_DATABASE_URL"]))
	c.mustRun("tenant", "create", "acme")
	c.mustRun("tenant", "create", "globex")
	get := func(slug string) tenant.Tenant {
		t.Helper()
		tn, err := store.BySlug(context.Background(), slug)
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	for _, tc := range []struct {
		cmd   string
		field func(tenant.Tenant) bool
		says  string
	}{
		{"follow-headers", func(tn tenant.Tenant) bool { return tn.FollowHeaderCorrelation }, "follow correlation headers"},
		{"internal-events", func(tn tenant.Tenant) bool { return tn.ShowInternalEvents }, "show internal events"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			if out := c.mustRun("tenant", tc.cmd, "acme", "on"); !strings.Contains(out, "tenant acme: view links "+tc.says) {
				t.Errorf("on: %s", out)
			}
			if !tc.field(get("acme")) || tc.field(get("globex")) {
				t.Error("on: want acme's setting on and globex's untouched")
			}
			if out, err := c.run("", "tenant", tc.cmd, "acme", "yes"); err == nil || !strings.Contains(err.Error(), `"yes": want on or off`) {
				t.Errorf("yes: %v %s", err, out)
			}
			if !tc.field(get("acme")) {
				t.Error("a refused value changed the setting")
			}
			c.mustRun("tenant", tc.cmd, "acme", "off")
			if tc.field(get("acme")) {
				t.Error("off: still on")
			}
		})
	}
}
