package query

import (
	"context"
	"sync"
	"time"

	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// tenantTTL is how long a view may use a tenant row it read before: the
// same bound as auth.DefaultTenantStatusTTL, which already lets a suspended
// tenant's links work that long, so caching the row adds no staleness a
// view did not have. Revocation is never cached (Redis, every request).
const tenantTTL = 5 * time.Second

// tenantCache remembers tenant rows by slug for view requests, which each
// needed one (a four-round-trip transaction) before reading the call.
// Only found tenants are kept: Verify has already refused unknown ones.
// The zero value is ready; safe for concurrent use.
type tenantCache struct {
	mu sync.Mutex
	m  map[string]cachedTenant
}

type cachedTenant struct {
	t  tenant.Tenant
	at time.Time
}

// maxCachedTenants bounds the map; past it the cache starts over.
const maxCachedTenants = 10000

// bySlug returns tenant slug from the cache or ts. Errors are ts's
// (NotFound for an unknown slug), never cached.
func (c *tenantCache) bySlug(ctx context.Context, ts *tenantdb.Store, slug string) (tenant.Tenant, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[slug]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < tenantTTL {
		return e.t, nil
	}
	t, err := ts.BySlug(ctx, slug)
	if err != nil {
		return t, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedTenants {
		c.m = map[string]cachedTenant{}
	}
	c.m[slug] = cachedTenant{t: t, at: now}
	c.mu.Unlock()
	return t, nil
}
