package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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

func cmdMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "migrate", "migrate [--database-url URL]")
	var url string
	stringFlag(fs, e.getenv, &url, sDatabaseURL)
	if _, err := parse(fs, e, args); err != nil {
		return err
	}
	ran, err := db.Migrate(ctx, url)
	if err != nil {
		return err
	}
	if len(ran) == 0 {
		fmt.Fprintln(e.stdout, "schema is up to date")
	}
	for _, m := range ran {
		fmt.Fprintln(e.stdout, "applied", m)
	}
	return nil
}

func cmdTenant(ctx context.Context, e env, args []string) error {
	const usageLine = "tenant create SLUG [--name N] [--embed-origin URL]... [--retention-days D] | tenant list | tenant suspend SLUG | tenant resume SLUG"
	if len(args) == 0 {
		return fmt.Errorf("%w: callscope %s", errUsage, usageLine)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(e, "tenant "+sub, usageLine)
	open := dbFlag(fs, e)
	var name string
	var origins listFlag
	var retention int
	if sub == "create" {
		fs.StringVar(&name, "name", "", "display name (default: the slug) ($CALLSCOPE_NAME)")
		fs.Var(&origins, "embed-origin", "origin allowed to iframe the viewer, scheme://host[:port]; repeatable ($CALLSCOPE_EMBED_ORIGIN, comma-separated)")
		fs.IntVar(&retention, "retention-days", 0, fmt.Sprintf("days of messages kept (default %d) ($CALLSCOPE_RETENTION_DAYS)", tenant.DefaultRetentionDays))
	}
	pos, err := parse(fs, e, args)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if err := wantArgs(pos, 1, "tenant create SLUG [--name N] [--embed-origin URL]..."); err != nil {
			return err
		}
		if err := tenant.ValidateSlug(pos[0]); err != nil {
			return err
		}
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		t, err := tenant.NewStore(d).Create(ctx, tenant.New{Slug: pos[0], Name: name, EmbedOrigins: origins, RetentionDays: retention})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created tenant %s (id %d, embed origins: %s)\n", t.Slug, t.ID, orNone(t.EmbedOrigins))
		return nil
	case "list":
		if err := wantArgs(pos, 0, "tenant list"); err != nil {
			return err
		}
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		ts, err := tenant.NewStore(d).List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SLUG\tNAME\tSTATUS\tRETENTION\tEMBED ORIGINS\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%dd\t%s\t%s\n", t.Slug, t.Name, t.Status, t.RetentionDays, orNone(t.EmbedOrigins), t.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	case "suspend", "resume":
		if err := wantArgs(pos, 1, "tenant "+sub+" SLUG"); err != nil {
			return err
		}
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		s := tenant.NewStore(d)
		t, err := s.BySlug(ctx, pos[0])
		if err != nil {
			return err
		}
		status := tenant.Suspended
		if sub == "resume" {
			status = tenant.Active
		}
		if _, err := s.Update(ctx, t.ID, tenant.Update{Status: &status}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "tenant %s is %s\n", t.Slug, status)
		return nil
	}
	return fmt.Errorf("%w: unknown subcommand %q: callscope %s", errUsage, sub, usageLine)
}

func cmdNode(ctx context.Context, e env, args []string) error {
	const usageLine = "node add SLUG CAPTURE_ID [--name N] [--auth-key K] [--cidr CIDR]... [--cert-sha256 FP] | " +
		"node update SLUG CAPTURE_ID [same flags] | node list [SLUG] | node remove SLUG CAPTURE_ID | node unclaimed"
	if len(args) == 0 {
		return fmt.Errorf("%w: callscope %s", errUsage, usageLine)
	}
	sub, args := args[0], args[1:]
	subUsage := usageLine
	if sub == "update" {
		subUsage = "node update SLUG CAPTURE_ID [--name N] [--auth-key K] [--cidr CIDR]... [--cert-sha256 FP]\n\n" +
			"Changes only the flags given; an empty value (--auth-key \"\", --cidr \"\", --cert-sha256 \"\") lifts that requirement."
	}
	fs := newFlagSet(e, "node "+sub, subUsage)
	open := dbFlag(fs, e)
	var name, authKey, cert optFlag
	var cidrs optList
	if sub == "add" || sub == "update" {
		fs.Var(&name, "name", "node name shown in ladders ($CALLSCOPE_NAME)")
		fs.Var(&authKey, "auth-key", "HEP auth key (chunk 0x000e) the node must send; stored hashed ($CALLSCOPE_AUTH_KEY)")
		fs.Var(&cidrs, "cidr", "source network the node's HEP packets must come from; repeatable ($CALLSCOPE_CIDR, comma-separated)")
		fs.Var(&cert, "cert-sha256", "SHA-256 fingerprint of the TLS client certificate the node must send HEP with "+
			"(openssl x509 -noout -fingerprint -sha256 -in CERT); its packets over UDP, TCP or another certificate are dropped ($CALLSCOPE_CERT_SHA256)")
	}
	pos, err := parse(fs, e, args)
	if err != nil {
		return err
	}
	withDB := func(fn func(s *tenant.Store) error) error {
		d, err := open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		return fn(tenant.NewStore(d))
	}
	switch sub {
	case "add", "update", "remove":
		if err := wantArgs(pos, 2, "node "+sub+" SLUG CAPTURE_ID"); err != nil {
			return err
		}
		id, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil {
			return fmt.Errorf("%w: CAPTURE_ID %q is not a number", errUsage, pos[1])
		}
		if err := tenant.ValidateCaptureID(id); err != nil {
			return err
		}
		if _, err := tenant.ParseCIDRs(cidrs.list); err != nil {
			return err
		}
		if _, err := tenant.ParseCertFingerprint(cert.v); err != nil {
			return err
		}
		if sub == "update" && !name.set && !authKey.set && !cidrs.set && !cert.set {
			return fmt.Errorf("%w: node update changes nothing: give --name, --auth-key, --cidr or --cert-sha256", errUsage)
		}
		return withDB(func(s *tenant.Store) error {
			t, err := s.BySlug(ctx, pos[0])
			if err != nil {
				return err
			}
			var n tenant.Node
			switch sub {
			case "remove":
				if err := s.RemoveNode(ctx, t.ID, uint32(id)); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "removed capture node %d from %s\n", id, t.Slug)
				return nil
			case "add":
				n, err = s.AddNode(ctx, t.ID, tenant.NewNode{CaptureID: id, Name: name.v, AuthKey: authKey.v, CIDRs: cidrs.list, CertSHA256: cert.v})
			case "update":
				u := tenant.NodeUpdate{Name: name.ptr(), AuthKey: authKey.ptr(), CertSHA256: cert.ptr()}
				if cidrs.set {
					u.CIDRs = append([]string{}, cidrs.list...)
				}
				n, err = s.UpdateNode(ctx, t.ID, uint32(id), u)
			}
			if err != nil {
				return err
			}
			what := "now belongs to " + t.Slug
			if sub == "update" {
				what = "of " + t.Slug + " updated"
			}
			fmt.Fprintf(e.stdout, "capture node %d %s (auth key: %s, sources: %s, certificate: %s)\n", n.CaptureID, what,
				yesNo(n.AuthKeyHash != nil, "required", "not required"), orAny(cidrTexts(n.AllowedCIDRs)),
				yesNo(n.CertSHA256 != nil, tenant.FormatCertFingerprint(n.CertSHA256), "any"))
			return nil
		})
	case "list":
		if len(pos) > 1 {
			return fmt.Errorf("%w: callscope node list [SLUG]", errUsage)
		}
		return withDB(func(s *tenant.Store) error {
			var nodes []tenant.Node
			var health map[tenant.NodeKey]tenant.NodeHealth
			var err error
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
			if err := printIngestStatus(ctx, e, s, now); err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TENANT\tCAPTURE ID\tNAME\tAUTH KEY\tSOURCES\tCERTIFICATE\tLAST PACKET (1H)\tACCEPTED (1H)\tDROPPED (1H)")
			for _, n := range nodes {
				h := health[tenant.NodeKey{TenantID: n.TenantID, CaptureID: n.CaptureID}]
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", n.TenantSlug, n.CaptureID, n.Name,
					yesNo(n.AuthKeyHash != nil, "required", "-"), orAny(cidrTexts(n.AllowedCIDRs)),
					shortFingerprint(n.CertSHA256), lastPacket(h.LastPacket, now), h.Accepted, dropsText(h))
			}
			return w.Flush()
		})
	case "unclaimed":
		if err := wantArgs(pos, 0, "node unclaimed"); err != nil {
			return err
		}
		return withDB(func(s *tenant.Store) error {
			us, err := s.ListUnclaimed(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CAPTURE ID\tLAST SOURCE\tPACKETS\tREASON\tFIRST SEEN\tLAST SEEN")
			for _, u := range us {
				fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\n", u.CaptureID, u.LastSource, u.Packets, u.LastReason,
					u.FirstSeen.UTC().Format(time.RFC3339), u.LastSeen.UTC().Format(time.RFC3339))
			}
			return w.Flush()
		})
	}
	return fmt.Errorf("%w: unknown subcommand %q: callscope %s", errUsage, sub, usageLine)
}

// printIngestStatus writes, above the node table, how far behind
// PostgreSQL each ingest process is: "behind by 40 s (12.5 MB waiting),
// catching up", or silent when it stopped reporting.
func printIngestStatus(ctx context.Context, e env, s *tenant.Store, now time.Time) error {
	sts, err := s.IngestStatuses(ctx)
	if err != nil {
		return err
	}
	if len(sts) == 0 {
		fmt.Fprintln(e.stdout, "No ingest process has reported yet.")
		fmt.Fprintln(e.stdout)
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
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
	fmt.Fprintln(e.stdout)
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
