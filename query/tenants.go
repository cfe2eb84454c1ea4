package query

import (
	"context"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// ActiveTenants adapts a tenantdb.Store to auth.TenantStatus for the query
// service's Verifier. Returns NotFound for an unknown slug, as the
// interface asks.
func ActiveTenants(ts *tenantdb.Store) auth.TenantStatus { return activeTenants{ts} }

type activeTenants struct{ ts *tenantdb.Store }

func (a activeTenants) TenantActive(ctx context.Context, slug string) (bool, error) {
	t, err := a.ts.BySlug(ctx, slug)
	if err != nil {
		return false, err
	}
	return t.Active(), nil
}
