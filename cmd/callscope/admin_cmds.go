package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/tenant"
)

// dbFlag registers --database-url on fs and returns an opener for after Parse.
func dbFlag(fs *flag.FlagSet, e env) func(ctx context.Context) (*db.DB, error) {
	var url string
	stringFlag(fs, e.getenv, &url, sDatabaseURL)
	return func(ctx context.Context) (*db.DB, error) {
		return db.Open(ctx, url, db.Options{AppMaxConns: 4, OwnerMaxConns: 2})
	}
}

func cmdMigrate(ctx context.Context, c *cmdline) error {
	var url string
	stringFlag(c.fs, c.getenv, &url, sDatabaseURL)
	if _, err := c.parse(); err != nil {
		return err
	}
	ran, err := db.Migrate(ctx, url)
	if err != nil {
		return err
	}
	if len(ran) == 0 {
		fmt.Fprintln(c.stdout, "schema is up to date")
	}
	for _, m := range ran {
		fmt.Fprintln(c.stdout, "applied", m)
	}
	return nil
}

func tenantCommands() []command {
	return []command{
		{name: "create", args: "SLUG", summary: "create a tenant", run: tenantCreate},
		{name: "list", summary: "list tenants", run: tenantList},
		{name: "suspend", args: "SLUG", summary: "suspend a tenant: ingest drops its nodes' packets and the viewer refuses its links", run: tenantStatus},
		{name: "resume", args: "SLUG", summary: "resume a suspended tenant", run: tenantStatus},
		{name: "alias", args: "SLUG IP[:PORT] NAME", summary: "name an endpoint in the tenant's ladders: the column of IP (any port) or IP:PORT reads NAME, with the address under it", run: tenantAlias},
		{name: "unalias", args: "SLUG IP[:PORT]", summary: "remove the name of an endpoint (as set by tenant alias or the console)", run: tenantUnalias},
		{name: "aliases", args: "SLUG", summary: "list the tenant's endpoint names", run: tenantAliases},
	}
}

// withDB opens the database for one command.
func withDB(ctx context.Context, open func(context.Context) (*db.DB, error), fn func(d *db.DB) error) error {
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(d)
}

func tenantCreate(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var name string
	var origins listFlag
	retention := intFlag{n: tenant.DefaultRetentionDays, lo: 1, hi: tenant.MaxRetentionDays}
	c.fs.StringVar(&name, "name", "", "display `NAME` (default: the slug)")
	c.fs.Var(&origins, "embed-origin", "`ORIGIN` allowed to iframe the viewer, scheme://host[:port]; repeatable (the variable: comma-separated)")
	c.fs.Var(&retention, "retention-days", fmt.Sprintf("`DAYS` of messages kept, 1 to %d (the server's --retention-max-days still caps it)", tenant.MaxRetentionDays))
	pos, err := c.parse()
	if err != nil {
		return err
	}
	if err := tenant.ValidateSlug(pos[0]); err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		t, err := tenant.NewStore(d).Create(ctx, tenant.New{Slug: pos[0], Name: name, EmbedOrigins: origins, RetentionDays: retention.n})
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("name %q, retention %d days, embed origins %s", t.Name, t.RetentionDays, orNone(t.EmbedOrigins))
		if err := audited(ctx, d, adminaudit.TenantCreate, t.ID, t.Slug, detail); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "created tenant %s (id %d, embed origins: %s, keeps %d days)\n", t.Slug, t.ID, orNone(t.EmbedOrigins), t.RetentionDays)
		return nil
	})
}

func tenantList(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	if _, err := c.parse(); err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		ts, err := tenant.NewStore(d).List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SLUG\tNAME\tSTATUS\tRETENTION\tEMBED ORIGINS\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%dd\t%s\t%s\n", t.Slug, t.Name, t.Status, t.RetentionDays, orNone(t.EmbedOrigins), t.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	})
}

// tenantStatus is suspend and resume.
func tenantStatus(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	status, action := tenant.Suspended, adminaudit.TenantSuspend
	if c.cmd.name == "resume" {
		status, action = tenant.Active, adminaudit.TenantResume
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		if _, err := ts.Update(ctx, t.ID, tenant.Update{Status: &status}); err != nil {
			return err
		}
		if err := audited(ctx, d, action, t.ID, t.Slug, ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "tenant %s is %s\n", t.Slug, status)
		return nil
	})
}

func tenantAlias(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	if _, err := tenant.AliasKey(pos[1]); err != nil {
		return argError("IP[:PORT]", err)
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		key, err := ts.SetAlias(ctx, t.ID, pos[1], pos[2])
		if err != nil {
			return argError("NAME", err)
		}
		if err := audited(ctx, d, adminaudit.TenantAliases, t.ID, t.Slug, fmt.Sprintf("%s = %s", key, strings.TrimSpace(pos[2]))); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: %s is now named %q in ladders (pages rendered in the last seconds may still show the address)\n", t.Slug, key, strings.TrimSpace(pos[2]))
		return nil
	})
}

func tenantUnalias(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	key, err := tenant.AliasKey(pos[1])
	if err != nil {
		return argError("IP[:PORT]", err)
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		err := ts.RemoveAlias(ctx, t.ID, pos[1])
		if callscope.Is(err, callscope.NotFound) {
			return fmt.Errorf("%s has no alias for %s (callscope tenant aliases %s lists them)", t.Slug, key, t.Slug)
		}
		if err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.TenantAliases, t.ID, t.Slug, key+" removed"); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: %s has no name any more\n", t.Slug, key)
		return nil
	})
}

func tenantAliases(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ADDRESS\tNAME")
		for _, k := range slices.Sorted(maps.Keys(t.Aliases)) {
			fmt.Fprintf(w, "%s\t%s\n", k, t.Aliases[k])
		}
		return w.Flush()
	})
}

// argError names the positional argument arg in a field error of the
// domain ("address: ..." → "IP[:PORT]: ...").
func argError(arg string, err error) error {
	if !callscope.Is(err, callscope.Invalid) {
		return err
	}
	_, msg := callscope.Public(err)
	return usagef("%s: %s", arg, msg)
}

func nodeCommands() []command {
	return []command{
		{name: "add", args: "SLUG CAPTURE_ID", summary: "register a capture node: packets with this HEP capture ID belong to the tenant", run: nodeAdd},
		{name: "list", args: "[SLUG]", summary: "list capture nodes, of every tenant or of one", run: nodeList},
		{name: "remove", args: "SLUG CAPTURE_ID", summary: "remove a capture node: its packets are dropped and listed as unclaimed", run: nodeRemove},
		{name: "unclaimed", summary: "list capture IDs ingest saw that no tenant owns", run: nodeUnclaimed},
	}
}

// captureID parses the CAPTURE_ID argument.
func captureID(s string) (uint32, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || tenant.ValidateCaptureID(id) != nil {
		return 0, usagef("CAPTURE_ID %q: must be the node's HEP capture ID, a number from 0 to 4294967295", s)
	}
	return uint32(id), nil
}

func nodeAdd(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var name, authKey string
	var cidrs listFlag
	c.fs.StringVar(&name, "name", "", "`NAME` of the node: the message list and details name it as where each of its messages was captured, unless the agent sends a name of its own (HEP chunk 0x0013)")
	c.fs.StringVar(&authKey, "auth-key", "", "HEP auth `KEY` (chunk 0x000e) the node must send; stored hashed")
	c.fs.Var(&cidrs, "cidr", "source network (`CIDR`) the node's HEP packets must come from; repeatable (the variable: comma-separated)")
	pos, err := c.parse()
	if err != nil {
		return err
	}
	id, err := captureID(pos[1])
	if err != nil {
		return err
	}
	if _, err := tenant.ParseCIDRs(cidrs); err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		n, err := ts.AddNode(ctx, t.ID, tenant.NewNode{CaptureID: int64(id), Name: name, AuthKey: authKey, CIDRs: cidrs})
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("name %q, auth key %s, sources %s", n.Name, yesNo(n.AuthKeyHash != nil, "required", "not required"), orAny(cidrs))
		if err := audited(ctx, d, adminaudit.NodeAdd, t.ID, strconv.FormatUint(uint64(n.CaptureID), 10), detail); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "capture node %d now belongs to %s (auth key: %s, sources: %s)\n",
			n.CaptureID, t.Slug, yesNo(n.AuthKeyHash != nil, "required", "not required"), orAny(cidrs))
		return nil
	})
}

func nodeRemove(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	id, err := captureID(pos[1])
	if err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenant.Store, t tenant.Tenant) error {
		if err := ts.RemoveNode(ctx, t.ID, id); err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.NodeRemove, t.ID, strconv.FormatUint(uint64(id), 10), ""); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "removed capture node %d from %s\n", id, t.Slug)
		return nil
	})
}

func nodeList(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		s := tenant.NewStore(d)
		var nodes []tenant.Node
		if len(pos) == 1 {
			t, err := s.BySlug(ctx, pos[0])
			if err != nil {
				return err
			}
			if nodes, err = s.Nodes(ctx, t.ID); err != nil {
				return err
			}
		} else if nodes, err = s.AllNodes(ctx); err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TENANT\tCAPTURE ID\tNAME\tAUTH KEY\tSOURCES")
		for _, n := range nodes {
			var src []string
			for _, p := range n.AllowedCIDRs {
				src = append(src, p.String())
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", n.TenantSlug, n.CaptureID, n.Name, yesNo(n.AuthKeyHash != nil, "required", "-"), orAny(src))
		}
		return w.Flush()
	})
}

func nodeUnclaimed(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	if _, err := c.parse(); err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		us, err := tenant.NewStore(d).ListUnclaimed(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "CAPTURE ID\tLAST SOURCE\tPACKETS\tREASON\tFIRST SEEN\tLAST SEEN")
		for _, u := range us {
			fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\n", u.CaptureID, u.LastSource, u.Packets, u.LastReason,
				u.FirstSeen.UTC().Format(time.RFC3339), u.LastSeen.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	})
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

func orAny(s []string) string {
	if len(s) == 0 {
		return "any"
	}
	return strings.Join(s, ",")
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
