package tenantdb

import (
	"context"
	"fmt"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/cache"
	"github.com/callscope/callscope/tenant"
)

// DefaultCacheTTL bounds how long a change to a tenant (a suspension, new
// embed origins, aliases) takes to reach the views served from a Cache.
const DefaultCacheTTL = 5 * time.Second

// maxCachedTenants bounds a Cache. Slugs come from tokens, so unknown ones
// are remembered too; past the bound the least recently used go.
const maxCachedTenants = 10000

// Cache remembers tenants by slug for a few seconds, so that verifying a
// view token and reading its call do not each cost a PostgreSQL round trip
// for the tenant row. It is the query role's one copy of tenant data: the
// verifier's tenant status, the view reads and the tenant-key lookups all
// read it. Revocation is never cached here (it lives in Redis). Safe for
// concurrent use.
type Cache struct {
	store *Store
	ttl   time.Duration
	c     *cache.Cache[string, cachedTenant]
}

type cachedTenant struct {
	t     tenant.Tenant
	found bool
}

// NewCache returns a Cache over s; ttl 0 means DefaultCacheTTL.
func NewCache(s *Store, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Cache{store: s, ttl: ttl,
		c: cache.New[string, cachedTenant](cache.Options[cachedTenant]{MaxEntries: maxCachedTenants})}
}

// BySlug returns the tenant with slug. Returns NotFound for an unknown or
// malformed slug, and the store's error when PostgreSQL cannot answer
// (never cached).
func (c *Cache) BySlug(ctx context.Context, slug string) (tenant.Tenant, error) {
	if tenant.ValidateSlug(slug) != nil {
		return tenant.Tenant{}, callscope.Errorf(callscope.NotFound, "no such tenant")
	}
	e, err := c.c.Fetch(ctx, slug, func(ctx context.Context) (cachedTenant, time.Duration, error) {
		t, err := c.store.BySlug(ctx, slug)
		switch {
		case callscope.Is(err, callscope.NotFound):
			return cachedTenant{}, c.ttl, nil
		case err != nil:
			return cachedTenant{}, 0, err
		}
		return cachedTenant{t: t, found: true}, c.ttl, nil
	})
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("tenantdb.Cache.BySlug: %w", err)
	}
	if !e.found {
		return tenant.Tenant{}, callscope.Errorf(callscope.NotFound, "no such tenant")
	}
	return e.t, nil
}

// TenantActive reports whether tenant slug may serve views: the verifier's
// tenant status. Returns NotFound if it does not exist.
func (c *Cache) TenantActive(ctx context.Context, slug string) (bool, error) {
	t, err := c.BySlug(ctx, slug)
	if err != nil {
		return false, err
	}
	return t.Active(), nil
}

// Forget drops what the cache knows of slug, after this process changed it.
func (c *Cache) Forget(slug string) { c.c.Delete(slug) }
