package viewer

import (
	"context"
	"crypto"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/cache"
	"github.com/callscope/callscope/query/queryapi"
)

// Directory is the viewer's view of keys and tenants: the query service's
// answers, kept in memory for a short while. The viewer holds no database
// credential, so this is how its Verifier finds keys (auth.KeyResolver) and
// tenant status (auth.TenantStatus), and how pages find embed origins.
//
// Positive answers live for TTL, "not found" for NegativeTTL (so a flood of
// made-up kids costs query one request per kid per NegativeTTL at most, on
// top of the per-address invalid-token budget). Failures are never kept:
// the next request asks again, and verification fails closed meanwhile.
type Directory struct {
	qc          *queryapi.Client
	TTL         time.Duration
	NegativeTTL time.Duration

	keys    *cache.Cache[keyRef, found[crypto.PublicKey]]
	tenants *cache.Cache[string, found[queryapi.TenantPublic]]
}

// keyRef names a key exactly as the token does: the kid is compared as
// the token spells it, never decoded.
type keyRef struct {
	tenant string // "" for the server's keys
	kid    string
}

// found is an answer of query, "not found" included.
type found[T any] struct {
	v  T
	ok bool
}

// maxEntries bounds each cache; past it the least recently used go.
const maxEntries = 10000

// NewDirectory returns a Directory over qc with a 30 s TTL and a 5 s
// negative TTL. Key removal and tenant suspension reach the viewer within
// the TTL; token revocation does not wait (it is read from Redis directly).
func NewDirectory(qc *queryapi.Client) *Directory {
	return &Directory{qc: qc, TTL: 30 * time.Second, NegativeTTL: 5 * time.Second,
		keys:    cache.New[keyRef, found[crypto.PublicKey]](cache.Options[found[crypto.PublicKey]]{MaxEntries: maxEntries}),
		tenants: cache.New[string, found[queryapi.TenantPublic]](cache.Options[found[queryapi.TenantPublic]]{MaxEntries: maxEntries})}
}

var (
	_ auth.KeyResolver  = (*Directory)(nil)
	_ auth.TenantStatus = (*Directory)(nil)
)

// lookup answers from the cache or asks query, keeping "not found" for
// NegativeTTL and any other answer for TTL.
func lookup[K comparable, T any](ctx context.Context, d *Directory, c *cache.Cache[K, found[T]], k K,
	ask func(ctx context.Context) (T, error)) (T, error) {
	f, err := c.Fetch(ctx, k, func(ctx context.Context) (found[T], time.Duration, error) {
		v, err := ask(ctx)
		switch {
		case callscope.Is(err, callscope.NotFound):
			return found[T]{}, d.NegativeTTL, nil
		case err != nil:
			return found[T]{}, 0, err
		}
		return found[T]{v: v, ok: true}, d.TTL, nil
	})
	if err == nil && !f.ok {
		err = callscope.Errorf(callscope.NotFound, "not found")
	}
	return f.v, err
}

// ServerKey returns the server key kid, or NotFound.
func (d *Directory) ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	return lookup(ctx, d, d.keys, keyRef{kid: kid}, func(ctx context.Context) (crypto.PublicKey, error) {
		return d.qc.ServerKey(ctx, kid)
	})
}

// TenantKey returns tenant's registered key kid, or NotFound.
func (d *Directory) TenantKey(ctx context.Context, tenant, kid string) (crypto.PublicKey, error) {
	if tenant == "" {
		return nil, callscope.Errorf(callscope.NotFound, "no such key")
	}
	return lookup(ctx, d, d.keys, keyRef{tenant: tenant, kid: kid}, func(ctx context.Context) (crypto.PublicKey, error) {
		return d.qc.TenantKey(ctx, tenant, kid)
	})
}

// Tenant returns the public facts of tenant slug, or NotFound.
func (d *Directory) Tenant(ctx context.Context, slug string) (queryapi.TenantPublic, error) {
	return lookup(ctx, d, d.tenants, slug, func(ctx context.Context) (queryapi.TenantPublic, error) {
		return d.qc.TenantPublic(ctx, slug)
	})
}

// TenantActive reports whether tenant slug may serve views.
func (d *Directory) TenantActive(ctx context.Context, slug string) (bool, error) {
	t, err := d.Tenant(ctx, slug)
	if err != nil {
		return false, err
	}
	return t.Active, nil
}

// EmbedOrigins returns the origins that may frame tenant slug's pages.
func (d *Directory) EmbedOrigins(ctx context.Context, slug string) ([]string, error) {
	t, err := d.Tenant(ctx, slug)
	if err != nil {
		return nil, err
	}
	return t.EmbedOrigins, nil
}
