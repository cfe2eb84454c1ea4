package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// DefaultTenantStatusTTL bounds how long a suspension takes to stop a
// tenant's links on every replica.
const DefaultTenantStatusTTL = 5 * time.Second

// TenantStatusCache is the TenantStatus of Verifier over tenantdb.Store: a
// tenant's active flag, remembered briefly so a page view does not cost a
// PostgreSQL round trip. Unknown slugs are remembered too (the slug comes
// from the token), in a bounded map. Safe for concurrent use.
type TenantStatusCache struct {
	tenants *tenantdb.Store
	ttl     time.Duration
	now     func() time.Time

	mu sync.Mutex
	m  map[string]statusEntry
	sf singleflight.Group
}

type statusEntry struct {
	active, exists bool
	at             time.Time
}

const maxStatusEntries = 10000

// NewTenantStatus returns a TenantStatusCache; ttl 0 means
// DefaultTenantStatusTTL.
func NewTenantStatus(tenants *tenantdb.Store, ttl time.Duration) *TenantStatusCache {
	if ttl <= 0 {
		ttl = DefaultTenantStatusTTL
	}
	return &TenantStatusCache{tenants: tenants, ttl: ttl, now: time.Now, m: map[string]statusEntry{}}
}

var _ TenantStatus = (*TenantStatusCache)(nil)

// TenantActive reports whether tenant slug is active. Returns NotFound if
// it does not exist, and the store's error (to refuse the token) when
// PostgreSQL cannot answer.
func (c *TenantStatusCache) TenantActive(ctx context.Context, slug string) (bool, error) {
	if tenant.ValidateSlug(slug) != nil {
		return false, callscope.Errorf(callscope.NotFound, "no such tenant")
	}
	c.mu.Lock()
	e, ok := c.m[slug]
	c.mu.Unlock()
	if !ok || c.now().Sub(e.at) >= c.ttl {
		v, err, _ := c.sf.Do(slug, func() (any, error) {
			t, err := c.tenants.BySlug(context.WithoutCancel(ctx), slug)
			e := statusEntry{at: c.now()}
			switch {
			case callscope.Is(err, callscope.NotFound):
			case err != nil:
				return nil, err
			default:
				e.exists, e.active = true, t.Active()
			}
			c.mu.Lock()
			if len(c.m) >= maxStatusEntries {
				clear(c.m)
			}
			c.m[slug] = e
			c.mu.Unlock()
			return e, nil
		})
		if err != nil {
			return false, fmt.Errorf("auth.TenantStatusCache.TenantActive: %w", err)
		}
		e = v.(statusEntry)
	}
	if !e.exists {
		return false, callscope.Errorf(callscope.NotFound, "no such tenant")
	}
	return e.active, nil
}

// Forget drops what the cache knows of slug, after this process changed it.
func (c *TenantStatusCache) Forget(slug string) {
	c.mu.Lock()
	delete(c.m, slug)
	c.mu.Unlock()
}
