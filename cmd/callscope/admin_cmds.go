package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
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
		{name: "follow-headers", args: "SLUG on|off", summary: "whether the tenant's view links follow the correlation headers its calls carry (X-CID, P-Charging-Vector...) to other calls; off by default", run: tenantFollowHeaders},
		{name: "internal-events", args: "SLUG on|off", summary: "whether the tenant's view links show its calls' internal events (the proxies' LOG lines and other non-SIP, non-media payloads); off by default, the console always shows them", run: tenantInternalEvents},
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
		t, err := tenantdb.NewStore(d).Create(ctx, tenant.New{Slug: pos[0], Name: name, EmbedOrigins: origins, RetentionDays: retention.n})
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
		ts, err := tenantdb.NewStore(d).List(ctx)
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
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenantdb.Store, t tenant.Tenant) error {
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

// tenantFollowHeaders sets whether the tenant's view tokens follow the
// correlation headers its calls carry to other calls. Off, a link reaches
// its call, the legs that point at it and the legs capture nodes joined.
func tenantFollowHeaders(ctx context.Context, c *cmdline) error {
	return tenantSwitch(ctx, c, tenantSetting{
		name: "follow-headers",
		set:  func(on bool) tenant.Update { return tenant.Update{FollowHeaderCorrelation: &on} },
		on:   "view links follow correlation headers to other calls",
		off:  "view links reach their call, the legs that point at it and the legs capture nodes joined",
	})
}

// tenantInternalEvents sets whether the tenant's view links show the
// internal events of its calls (LOG lines and the like). Off, a customer
// sees the SIP messages and the media reports only.
func tenantInternalEvents(ctx context.Context, c *cmdline) error {
	return tenantSwitch(ctx, c, tenantSetting{
		name: "internal-events",
		set:  func(on bool) tenant.Update { return tenant.Update{ShowInternalEvents: &on} },
		on:   "view links show internal events (LOG lines)",
		off:  "view links show SIP and media reports only, no internal events",
	})
}

// tenantSetting is an on/off tenant setting of the CLI: its subcommand,
// the update it makes and what each state means, as printed.
type tenantSetting struct {
	name    string
	set     func(on bool) tenant.Update
	on, off string
}

// tenantSwitch runs `tenant NAME SLUG on|off`: it updates the setting,
// records it in the admin audit log and says what the tenant's links now do.
func tenantSwitch(ctx context.Context, c *cmdline, ts tenantSetting) error {
	open := dbFlag(c.fs, c.env)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	on := pos[1] == "on"
	if !on && pos[1] != "off" {
		return usagef("%q: want on or off", pos[1])
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, store *tenantdb.Store, t tenant.Tenant) error {
		if _, err := store.Update(ctx, t.ID, ts.set(on)); err != nil {
			return err
		}
		if err := audited(ctx, d, adminaudit.TenantSettings, t.ID, t.Slug, ts.name+" "+pos[1]); err != nil {
			return err
		}
		means := ts.off
		if on {
			means = ts.on
		}
		fmt.Fprintf(c.stdout, "tenant %s: %s\n", t.Slug, means)
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
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenantdb.Store, t tenant.Tenant) error {
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
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenantdb.Store, t tenant.Tenant) error {
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
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenantdb.Store, t tenant.Tenant) error {
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
		{name: "update", args: "SLUG CAPTURE_ID", summary: "change a capture node: only the flags given change; an empty value (--auth-key \"\", --cidr \"\", --cert-sha256 \"\") lifts that requirement", run: nodeUpdate},
		{name: "list", args: "[SLUG]", summary: "list capture nodes, of every tenant or of one, with what each sent over the last hour and how far behind ingest is", run: nodeList},
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

// nodeFlags are the flags node add and node update share; update changes
// only those given (optFlag knows).
type nodeFlags struct {
	name, authKey, cert optFlag
	cidrs               optList
}

func (f *nodeFlags) register(c *cmdline) {
	c.fs.Var(&f.name, "name", "`NAME` of the node: the message list and details name it as where each of its messages was captured, unless the agent sends a name of its own (HEP chunk 0x0013)")
	c.fs.Var(&f.authKey, "auth-key", "HEP auth `KEY` (chunk 0x000e) the node must send; stored hashed")
	c.fs.Var(&f.cidrs, "cidr", "source network (`CIDR`) the node's HEP packets must come from; repeatable (the variable: comma-separated)")
	c.fs.Var(&f.cert, "cert-sha256", "SHA-256 `FINGERPRINT` of the TLS client certificate the node must send HEP with "+
		"(openssl x509 -noout -fingerprint -sha256 -in CERT): its packets over UDP, TCP or with another certificate are dropped")
}

// check refuses malformed values before the database is opened.
func (f *nodeFlags) check() error {
	if _, err := tenant.ParseCIDRs(f.cidrs.list); err != nil {
		return err
	}
	_, err := tenant.ParseCertFingerprint(f.cert.v)
	return err
}

// nodeSummary says what a node requires, for the command's output and
// its audit row.
func nodeSummary(n tenant.Node) string {
	return fmt.Sprintf("auth key: %s, sources: %s, certificate: %s", yesNo(n.AuthKeyHash != nil, "required", "not required"),
		orAny(cidrTexts(n.AllowedCIDRs)), yesNo(n.CertSHA256 != nil, tenant.FormatCertFingerprint(n.CertSHA256), "any"))
}

func nodeAdd(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var f nodeFlags
	f.register(c)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	id, err := captureID(pos[1])
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenantdb.Store, t tenant.Tenant) error {
		n, err := ts.AddNode(ctx, t.ID, tenant.NewNode{CaptureID: int64(id), Name: f.name.v, AuthKey: f.authKey.v,
			CIDRs: f.cidrs.list, CertSHA256: f.cert.v})
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("name %q, %s", n.Name, nodeSummary(n))
		if err := audited(ctx, d, adminaudit.NodeAdd, t.ID, strconv.FormatUint(uint64(n.CaptureID), 10), detail); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "capture node %d now belongs to %s (%s)\n", n.CaptureID, t.Slug, nodeSummary(n))
		return nil
	})
}

func nodeUpdate(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var f nodeFlags
	f.register(c)
	pos, err := c.parse()
	if err != nil {
		return err
	}
	id, err := captureID(pos[1])
	if err != nil {
		return err
	}
	if !f.name.set && !f.authKey.set && !f.cidrs.set && !f.cert.set {
		return usagef("node update changes nothing: give --name, --auth-key, --cidr or --cert-sha256 (callscope node update --help)")
	}
	if err := f.check(); err != nil {
		return err
	}
	u := tenant.NodeUpdate{Name: f.name.ptr(), AuthKey: f.authKey.ptr(), CertSHA256: f.cert.ptr()}
	if f.cidrs.set {
		u.CIDRs = append([]string{}, f.cidrs.list...)
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenantdb.Store, t tenant.Tenant) error {
		n, err := ts.UpdateNode(ctx, t.ID, id, u)
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("name %q, %s", n.Name, nodeSummary(n))
		if err := audited(ctx, d, adminaudit.NodeUpdate, t.ID, strconv.FormatUint(uint64(n.CaptureID), 10), detail); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "capture node %d of %s updated (%s)\n", n.CaptureID, t.Slug, nodeSummary(n))
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
	return withTenant(ctx, open, pos[0], func(d *db.DB, ts *tenantdb.Store, t tenant.Tenant) error {
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
		s := tenantdb.NewStore(d)
		var nodes []tenant.Node
		var health map[tenant.NodeKey]tenant.NodeHealth
		now := time.Now()
		if len(pos) == 1 {
			t, err := s.BySlug(ctx, pos[0])
			if err != nil {
				return err
			}
			if nodes, err = s.Nodes(ctx, t.ID); err != nil {
				return err
			}
			if health, err = s.NodeHealth(ctx, t.ID, now.Add(-time.Hour)); err != nil {
				return err
			}
		} else {
			if nodes, err = s.AllNodes(ctx); err != nil {
				return err
			}
			if health, err = s.AllNodeHealth(ctx, now.Add(-time.Hour)); err != nil {
				return err
			}
		}
		if err := printIngestStatus(ctx, c.stdout, s, now); err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TENANT\tCAPTURE ID\tNAME\tAUTH KEY\tSOURCES\tCERTIFICATE\tLAST PACKET (1H)\tACCEPTED (1H)\tDROPPED (1H)")
		for _, n := range nodes {
			h := health[tenant.NodeKey{TenantID: n.TenantID, CaptureID: n.CaptureID}]
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", n.TenantSlug, n.CaptureID, n.Name,
				yesNo(n.AuthKeyHash != nil, "required", "-"), orAny(cidrTexts(n.AllowedCIDRs)),
				shortFingerprint(n.CertSHA256), lastPacket(h.LastPacket, now), h.Accepted, dropsText(h))
		}
		return w.Flush()
	})
}

// printIngestStatus writes, above the node table, how far behind
// PostgreSQL each ingest process is: "behind by 40 s (12.5 MB waiting),
// catching up", or silent when it stopped reporting.
func printIngestStatus(ctx context.Context, out io.Writer, s *tenantdb.Store, now time.Time) error {
	sts, err := s.IngestStatuses(ctx)
	if err != nil {
		return err
	}
	if len(sts) == 0 {
		fmt.Fprintln(out, "No ingest process has reported yet.")
		fmt.Fprintln(out)
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "INGEST\tSTATUS\tREPORTED")
	for _, st := range sts {
		state := st.Summary()
		if st.Silent(now) {
			state = "silent (stopped, or cannot reach PostgreSQL); last: " + state
		}
		fmt.Fprintf(w, "%s\t%s\t%s ago\n", st.Instance, state, now.Sub(st.UpdatedAt).Round(time.Second))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return nil
}

// shortFingerprint shows the first bytes of a certificate fingerprint,
// enough to tell certificates apart in a table.
func shortFingerprint(sum []byte) string {
	if len(sum) == 0 {
		return "-"
	}
	return tenant.FormatCertFingerprint(sum[:6]) + "…"
}

func lastPacket(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), now.Sub(t).Round(time.Second))
}

// dropsText lists drops by reason, most first: "bad_auth_key=12,queue_full=3".
func dropsText(h tenant.NodeHealth) string {
	var parts []string
	for _, rc := range h.DropReasons() {
		parts = append(parts, fmt.Sprintf("%s=%d", rc.Reason, rc.Packets))
	}
	return orDash(strings.Join(parts, ","))
}

// optFlag is a string flag that knows whether it was given, on the command
// line or through its variable: node update changes only what was given.
type optFlag struct {
	v   string
	set bool
}

func (o *optFlag) String() string {
	if o == nil {
		return ""
	}
	return o.v
}
func (o *optFlag) Set(v string) error { o.v, o.set = v, true; return nil }

// ptr is the flag's value when it was given, else nil.
func (o *optFlag) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.v
}

// optList is a repeatable flag that knows whether it was given; an empty
// value (--cidr "") gives an empty list.
type optList struct {
	list listFlag
	set  bool
}

func (o *optList) String() string {
	if o == nil {
		return ""
	}
	return o.list.String()
}
func (o *optList) Set(v string) error { o.set = true; return o.list.Set(v) }

// cidrTexts writes allowed sources as they are typed: a single address
// without its /32 or /128.
func cidrTexts(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			out[i] = p.Addr().String()
		} else {
			out[i] = p.String()
		}
	}
	return out
}

func nodeUnclaimed(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	if _, err := c.parse(); err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		us, err := tenantdb.NewStore(d).ListUnclaimed(ctx)
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
