package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/demo"
	"github.com/callscope/callscope/tenant"
)

// Demo provisioning: a tenant whose embed origins let a page served on
// port 8000 of this machine iframe the viewer, and a node that accepts
// HEP from loopback.
const (
	demoSlug      = "demo"
	demoCaptureID = 4242
	demoAdmin     = "admin@demo.callscope.local"
)

var demoOrigins = []string{"http://127.0.0.1:8000", "http://localhost:8000"}

func cmdDemo(ctx context.Context, c *cmdline) error {
	e := c.env
	open := dbFlag(c.fs, e)
	var hepAddr, publicURL, consoleAddr, secretKey string
	stringFlag(c.fs, e.getenv, &secretKey, sSecretKey)
	stringFlag(c.fs, e.getenv, &hepAddr, sHEPAddr)
	stringFlag(c.fs, e.getenv, &publicURL, sPublicURL)
	stringFlag(c.fs, e.getenv, &consoleAddr, sConsoleAddr)
	_, err := c.parse()
	if err != nil {
		return err
	}
	if err := checkPublicURL(publicURL); err != nil {
		return err
	}
	// A viewer link needs the server's secret key; a wrong one is refused
	// before anything is provisioned or sent.
	var sealer *auth.Sealer
	if secretKey != "" {
		if sealer, err = auth.NewSealer(secretKey); err != nil {
			return err
		}
	}
	for _, a := range []struct {
		s setting
		v string
	}{{sHEPAddr, hepAddr}, {sConsoleAddr, consoleAddr}} {
		if _, port, err := net.SplitHostPort(a.v); err != nil || port == "" {
			return fmt.Errorf("%s: %q must be HOST:PORT or :PORT, such as %s", a.s.env, a.v, a.s.def)
		}
	}
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	tenants := tenant.NewStore(d)

	t, err := tenants.BySlug(ctx, demoSlug)
	if callscope.Is(err, callscope.NotFound) {
		if t, err = tenants.Create(ctx, tenant.New{Slug: demoSlug, Name: "Demo Telecom", EmbedOrigins: demoOrigins}); err == nil {
			err = audited(ctx, d, adminaudit.TenantCreate, t.ID, t.Slug, "the demo tenant")
		}
	}
	if err != nil {
		return err
	}
	_, err = tenants.AddNode(ctx, t.ID, tenant.NewNode{CaptureID: demoCaptureID, Name: "demo-proxy", CIDRs: []string{"127.0.0.0/8", "::1"}})
	if err == nil {
		err = audited(ctx, d, adminaudit.NodeAdd, t.ID, strconv.Itoa(demoCaptureID), "the demo node")
	} else if callscope.Is(err, callscope.Conflict) {
		nodes, nerr := tenants.Nodes(ctx, t.ID)
		if nerr != nil {
			return nerr
		}
		if !slices.ContainsFunc(nodes, func(n tenant.Node) bool { return n.CaptureID == demoCaptureID }) {
			return fmt.Errorf("capture ID %d belongs to another tenant: the demo needs it", demoCaptureID)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "tenant %q with capture node %d (HEP from loopback)\n", t.Slug, demoCaptureID)

	password := randomPassword()
	if _, err := auth.NewAdminStore(d, auth.DefaultParams()).Create(ctx, demoAdmin, password); err == nil {
		if err := audited(ctx, d, adminaudit.AdminCreate, 0, demoAdmin, "the demo admin"); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "console admin %s, password %s (shown once)\n", demoAdmin, password)
	} else if callscope.Is(err, callscope.Conflict) {
		fmt.Fprintf(e.stdout, "console admin %s already exists (its password was shown when it was created)\n", demoAdmin)
	} else {
		return err
	}

	start := time.Now().UTC().Add(-30 * time.Second).Truncate(time.Millisecond)
	suffix := start.Format("150405")
	calls := demo.Calls(start, suffix)
	target := dialable(hepAddr)
	packets := demo.Packets(demo.Node{CaptureID: demoCaptureID, Name: "demo-proxy"}, calls)
	// A node added a moment ago reaches ingest's node map within seconds;
	// until then its packets are dropped as unknown, all of them, so sending
	// again is safe while nothing has arrived.
	for attempt := 1; ; attempt++ {
		if err := demo.Send(ctx, target, packets); err != nil {
			return fmt.Errorf("sending demo calls to ingest at %s: %w (is `callscope serve` running?)", target, err)
		}
		err := waitStored(ctx, d, t.ID, calls, 2500*time.Millisecond)
		if err == nil {
			break
		}
		if !errors.Is(err, errNothingStored) || attempt == 4 {
			return fmt.Errorf("demo calls sent to %s did not arrive: %w (is the ingest role running there?)", target, err)
		}
	}
	want := len(packets)
	fmt.Fprintf(e.stdout, "sent %d demo messages in %d calls over HEP to %s:\n", want, len(calls), target)
	for _, c := range calls {
		fmt.Fprintf(e.stdout, "  %-32s Call-ID %s\n", c.Name, c.CallID)
	}
	fmt.Fprintf(e.stdout, "\nconsole: http://%s/\n", dialable(consoleAddr))
	return demoLink(ctx, e, d, t, calls[0], start, publicURL, sealer)
}

var errNothingStored = errors.New("no demo message stored yet")

// waitStored polls until every SIP message of calls is queryable.
func waitStored(ctx context.Context, d *db.DB, tenantID int64, calls []demo.Call, limit time.Duration) error {
	ids := make([]string, 0, len(calls))
	want := 0
	for _, c := range calls {
		ids = append(ids, c.CallID)
		for _, m := range c.Messages {
			if m.Type == 1 {
				want++
			}
		}
	}
	ids = append(ids, calls[0].CallID+"_b2b-1")
	deadline := time.Now().Add(limit)
	for {
		var got int
		err := d.InTenant(ctx, tenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `/* demo.waitStored */ SELECT count(*) FROM sip_messages
				WHERE tenant_id = $1 AND call_id = ANY($2)`, tenantID, ids).Scan(&got)
		})
		if err != nil {
			return err
		}
		if got >= want {
			return nil
		}
		if got == 0 && time.Now().After(deadline) {
			return errNothingStored
		}
		if time.Now().After(deadline.Add(limit)) {
			return fmt.Errorf("%d of %d messages stored after %s", got, want, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// dialable turns a listen address (":9060", "0.0.0.0:8082") into one a
// client on this machine can dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func randomPassword() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
