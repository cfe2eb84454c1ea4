package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/scenario"
	"github.com/callscope/callscope/tenant"
)

func cmdScenario(ctx context.Context, e env, args []string) error {
	const usageLine = "scenario SLUG CALL_ID --from RFC3339 --to RFC3339 --side uac|uas [-o FILE] [--no-pauses]"
	fs := newFlagSet(e, "scenario", usageLine)
	open := dbFlag(fs, e)
	var from, to, side, out string
	var noPauses bool
	fs.StringVar(&from, "from", "", "start of the window the call is read in, RFC 3339 ($CALLSCOPE_FROM)")
	fs.StringVar(&to, "to", "", "end of the window, RFC 3339 ($CALLSCOPE_TO)")
	fs.StringVar(&side, "side", "", "uac: the caller's scenario; uas: the callee's ($CALLSCOPE_SIDE)")
	fs.StringVar(&out, "o", "", "write the scenario to FILE rather than standard output ($CALLSCOPE_O)")
	fs.BoolVar(&noPauses, "no-pauses", false, "leave out the captured gaps (ringing time, talk time) ($CALLSCOPE_NO_PAUSES)")
	pos, err := parse(fs, e, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, usageLine); err != nil {
		return err
	}
	start, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return fmt.Errorf("%w: --from %q must be an RFC 3339 time such as 2026-03-01T12:00:00Z", errUsage, from)
	}
	end, err := time.Parse(time.RFC3339, to)
	if err != nil {
		return fmt.Errorf("%w: --to %q must be an RFC 3339 time such as 2026-03-01T13:00:00Z", errUsage, to)
	}
	sd, err := scenario.ParseSide(side)
	if err != nil {
		return fmt.Errorf("%w: --side %q must be uac (the caller) or uas (the callee)", errUsage, side)
	}
	return withTenant(ctx, open, pos[0], func(d *db.DB, _ *tenant.Store, t tenant.Tenant) error {
		call, err := query.NewStore(d).Call(ctx, t.ID, pos[1], start, end)
		if err != nil {
			return err
		}
		s, err := call.Scenario(sd, scenario.Options{NoPauses: noPauses})
		if err != nil {
			return err
		}
		if out == "" {
			_, err = e.stdout.Write(s.XML)
			return err
		}
		if err := os.WriteFile(out, s.XML, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s (%s side of an %s)\nrun it with: %s\n", out, sd, s.Summary, s.Command(netip.AddrPort{}))
		return nil
	})
}
