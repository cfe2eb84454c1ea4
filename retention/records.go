package retention

import (
	"context"
	"fmt"
	"time"
)

// deleteRecordsBefore deletes tenantID's call records of calls that started
// before cutoff. call_records is one table, not daily partitions (a call
// is one row whatever days it spans), so the global maximum reaches it
// through this per-tenant delete too, walking (tenant_id, started_at). A
// call that started before the cutoff loses its record with its first
// messages, even if later ones are kept a little longer.
func (e *Enforcer) deleteRecordsBefore(ctx context.Context, tenantID int64, cutoff time.Time) (int64, error) {
	p := partition{table: "call_records", name: "call_records"}
	n, err := e.deleteBatches(ctx, p, `tenant_id = $1 AND started_at < $2`, tenantID, cutoff)
	if err != nil {
		return n, fmt.Errorf("retention: tenant %d: %w", tenantID, err)
	}
	return n, nil
}
