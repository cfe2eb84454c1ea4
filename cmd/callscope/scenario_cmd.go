package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/scenario"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// cmdScenario is `callscope scenario SLUG CALL_ID --from --to --side
// uac|uas [-o FILE] [--no-pauses]`: one side of a stored call as a SIPp
// scenario, on standard output or in FILE.
func cmdScenario(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var (
		from, to timeFlag
		side     sideFlag
		out      string
		noPauses bool
	)
	c.fs.Var(&from, "from", "start of the window the call is read in, an RFC 3339 `TIME` such as 2026-03-01T12:00:00Z (required)")
	c.fs.Var(&to, "to", "end of the window, an RFC 3339 `TIME` (required)")
	c.fs.Var(&side, "side", "`SIDE` to write: uac, the caller, or uas, the callee (required)")
	c.fs.StringVar(&out, "o", "", "write the scenario to `FILE` rather than standard output")
	c.fs.BoolVar(&noPauses, "no-pauses", false, "leave out the captured gaps (ringing time, talk time)")
	pos, err := c.parse()
	if err != nil {
		return err
	}
	if from.t.IsZero() {
		return c.required("from", "the start of the window, an RFC 3339 time such as 2026-03-01T12:00:00Z")
	}
	if to.t.IsZero() {
		return c.required("to", "the end of the window, an RFC 3339 time such as 2026-03-01T13:00:00Z")
	}
	if side.s == "" {
		return c.required("side", "uac (the caller's scenario) or uas (the callee's)")
	}
	sd := side.s
	return withTenant(ctx, open, pos[0], func(d *db.DB, _ *tenantdb.Store, t tenant.Tenant) error {
		call, err := query.NewStore(d).Call(ctx, t.ID, pos[1], from.t, to.t)
		if err != nil {
			return err
		}
		s, err := call.Scenario(sd, scenario.Options{NoPauses: noPauses})
		if err != nil {
			return err
		}
		if out == "" {
			_, err = c.stdout.Write(s.XML)
			return err
		}
		if err := os.WriteFile(out, s.XML, 0o644); err != nil {
			return fmt.Errorf("-o %q: %w", out, err)
		}
		fmt.Fprintf(c.stdout, "wrote %s (%s side of an %s)\nrun it with: %s\n", out, sd, s.Summary, s.Command(netip.AddrPort{}))
		return nil
	})
}

// sideFlag is --side: uac or uas.
type sideFlag struct{ s scenario.Side }

func (f *sideFlag) String() string { return string(f.s) }

func (f *sideFlag) Set(v string) error {
	s, err := scenario.ParseSide(v)
	if err != nil {
		return errors.New("want uac (the caller) or uas (the callee)")
	}
	f.s = s
	return nil
}
