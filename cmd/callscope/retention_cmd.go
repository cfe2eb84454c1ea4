package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/callscope/callscope/retention"
	"github.com/callscope/callscope/tenant"
)

// cmdRetentionRun runs one retention pass by hand (serve runs it hourly)
// and prints what it did.
func cmdRetentionRun(ctx context.Context, c *cmdline) error {
	open := dbFlag(c.fs, c.env)
	var maxDays string
	stringFlag(c.fs, c.getenv, &maxDays, sRetentionMax)
	if _, err := c.parse(); err != nil {
		return err
	}
	days, err := strconv.Atoi(strings.TrimSpace(maxDays))
	if err != nil || days < 0 {
		return usagef("%s: %q must be a whole number of days, 0 or more (0 drops nothing)", sRetentionMax.env, maxDays)
	}
	d, err := open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	enf, err := retention.New(d, tenant.NewStore(d), retention.Config{MaxDays: days}, nil, nil)
	if err != nil {
		return err
	}
	rep, err := enf.Run(ctx)
	printRetention(c.env, rep)
	return err
}

func printRetention(e env, rep retention.Report) {
	w := e.stdout
	if rep.Skipped {
		fmt.Fprintln(w, "skipped: another process is running retention (it holds the retention lock)")
		return
	}
	list := func(names []string) string {
		if len(names) == 0 {
			return "none"
		}
		return strings.Join(names, ", ")
	}
	fmt.Fprintln(w, "partitions created:", list(rep.Created))
	if rep.GlobalCutoff.IsZero() {
		fmt.Fprintln(w, "partitions dropped: none (no global maximum)")
	} else {
		fmt.Fprintf(w, "partitions dropped (whole days before %s): %s\n", rep.GlobalCutoff.Format(time.RFC3339), list(rep.Dropped))
		fmt.Fprintf(w, "default partitions: %d rows before %s deleted\n", rep.DefaultDeleted, rep.GlobalCutoff.Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tKEEPS\tDELETED BEFORE\tROWS DELETED\tSTORAGE (EST.)\tROWS (EST.)")
	storage := map[int64]retention.TenantStorage{}
	for _, s := range rep.Storage {
		storage[s.TenantID] = s
	}
	for _, t := range rep.Tenants {
		s := storage[t.TenantID]
		fmt.Fprintf(tw, "%s\t%d days\t%s\t%d\t%s\t%d\n", t.Slug, t.Days, t.Cutoff.Format(time.RFC3339), t.Deleted, humanBytes(s.Bytes), s.Rows)
	}
	tw.Flush()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
