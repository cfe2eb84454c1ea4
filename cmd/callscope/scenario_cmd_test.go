package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/query/querytest"
	"github.com/callscope/callscope/tenant/tenantdb"
)

func TestScenarioCommand(t *testing.T) {
	c := newCLI(t)
	c.mustRun("tenant", "create", "acme")
	c.mustRun("tenant", "create", "globex")
	ctx := context.Background()
	d, err := db.Open(ctx, c.env["CALLSCOPE_DATABASE_URL"], db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	acme, err := tenantdb.NewStore(d).BySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	querytest.MustInsert(t, d.Owner(), querytest.Call{TenantID: acme.ID, CallID: "cli-1@acme", Start: start, ToUser: "bob"}.Rows()...)
	querytest.MustInsert(t, d.Owner(), querytest.Call{TenantID: acme.ID, CallID: "cli-2@acme", Start: start}.FromBYE()...)
	from, to := start.Add(-time.Minute).Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339)

	out := c.mustRun("scenario", "acme", "cli-1@acme", "--from", from, "--to", to, "--side", "uac")
	if !strings.HasPrefix(out, "<?xml") || !strings.Contains(out, "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0") ||
		!strings.Contains(out, "<pause") {
		t.Errorf("uac scenario:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "uas.xml")
	out = c.mustRun("scenario", "acme", "cli-1@acme", "--from", from, "--to", to, "--side", "uas", "-o", file, "--no-pauses")
	if !strings.Contains(out, "run it with: sipp -sf uas.xml") {
		t.Errorf("-o says %q", out)
	}
	xml, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(xml), `<recv request="INVITE">`) || strings.Contains(string(xml), "<pause") {
		t.Errorf("uas scenario file (%v):\n%s", err, xml)
	}

	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"OtherTenant":     {[]string{"globex", "cli-1@acme", "--from", from, "--to", to, "--side", "uac"}, "call not found"},
		"NotReproducible": {[]string{"acme", "cli-2@acme", "--from", from, "--to", to, "--side", "uac"}, "starts inside a dialog"},
		"BadSide":         {[]string{"acme", "cli-1@acme", "--from", from, "--to", to, "--side", "both"}, "--side"},
		"NoSide":          {[]string{"acme", "cli-1@acme", "--from", from, "--to", to}, "--side"},
		"BadFrom":         {[]string{"acme", "cli-1@acme", "--from", "yesterday", "--to", to, "--side", "uac"}, "--from"},
		"MissingCallID":   {[]string{"acme", "--from", from, "--to", to, "--side", "uac"}, "needs CALL_ID"},
	} {
		out, err := c.run("", append([]string{"scenario"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(out, "<scenario") {
			t.Errorf("%s: %v, want an error saying %q\n%s", name, err, tc.want, out)
		}
	}
}
