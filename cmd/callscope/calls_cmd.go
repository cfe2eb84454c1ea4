package main

import (
	"context"
	"fmt"
	"time"

	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// cmdCallsRebuild recomputes call records from stored messages: after an
// upgrade from a version without records, or to mend what an ingest error
// left.
func cmdCallsRebuild(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var (
		from, to timeFlag
		slug     string
	)
	c.fs.Var(&from, "from", "start of the range: calls with a message at or after this RFC 3339 `TIME` (required)")
	c.fs.Var(&to, "to", "end of the range (excluded), an RFC 3339 `TIME` (required)")
	c.fs.StringVar(&slug, "tenant", "", "only this tenant's calls (`SLUG`); every tenant's when empty")
	if _, err := c.parse(); err != nil {
		return err
	}
	switch {
	case from.t.IsZero():
		return c.required("from", "the start of the range, an RFC 3339 time such as 2026-03-01T00:00:00Z")
	case to.t.IsZero():
		return c.required("to", "the end of the range, an RFC 3339 time such as 2026-03-02T00:00:00Z")
	case !from.t.Before(to.t):
		return usagef("--to %s must be after --from %s", to.String(), from.String())
	}
	return withDB(ctx, open, func(d *db.DB) error {
		var tenantID int64
		if slug != "" {
			t, err := tenantdb.NewStore(d).BySlug(ctx, slug)
			if err != nil {
				return err
			}
			tenantID = t.ID
		}
		start := time.Now()
		last := start
		rep, err := calls.Rebuild(ctx, d, tenantID, from.t, to.t, func(r calls.RebuildReport) {
			if time.Since(last) >= 10*time.Second {
				last = time.Now()
				fmt.Fprintf(c.stdout, "... %d calls so far (%d messages)\n", r.Calls, r.Messages)
			}
		})
		fmt.Fprintf(c.stdout, "rebuilt %d call records from %d messages and %d media reports in %s\n",
			rep.Calls, rep.Messages, rep.Reports, time.Since(start).Round(time.Millisecond))
		return err
	})
}

// cmdCallsRefresh fills the columns the console's calls list and
// statistics read (migration 0011) for records stored before them, from
// each record's state: no message is read again.
func cmdCallsRefresh(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	if _, err := c.parse(); err != nil {
		return err
	}
	return withDB(ctx, open, func(d *db.DB) error {
		start := time.Now()
		last := start
		n, err := calls.RefreshColumns(ctx, d, func(n int) {
			if time.Since(last) >= 10*time.Second {
				last = time.Now()
				fmt.Fprintf(c.stdout, "... %d records so far\n", n)
			}
		})
		fmt.Fprintf(c.stdout, "refreshed %d call records in %s\n", n, time.Since(start).Round(time.Millisecond))
		return err
	})
}
