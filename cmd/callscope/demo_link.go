package main

import (
	"context"
	"fmt"
	"time"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/demo"
	"github.com/callscope/callscope/tenant"
)

// demoLink prints how to get a viewer link for the answered demo call.
func demoLink(_ context.Context, e env, _ *db.DB, t tenant.Tenant, call demo.Call, start time.Time, _ string) error {
	fmt.Fprintf(e.stdout, "\nmint a viewer link for the answered call:\n  callscope token mint %s %s --from %s --to %s\n",
		t.Slug, call.CallID, start.Add(-time.Minute).Format(time.RFC3339), start.Add(5*time.Minute).Format(time.RFC3339))
	return nil
}
