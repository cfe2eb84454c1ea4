package viewer

import (
	"context"
	"crypto"
	"sync"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/query"
)

// Directory is the viewer's view of keys and tenants: the query service's
// answers, kept in memory for a short while. The viewer holds no database
// credential, so this is how its Verifier finds keys (auth.KeyResolver) and
// tenant status (auth.TenantStatus), and how pages find embed origins.
//
// Positive answers live for TTL, "not found" for NegativeTTL (so a flood of
// made-up kids costs query one request per kid per NegativeTTL at most, on
// top of the per-IP invalid-token budget). Failures are never cached: the
// next request asks again, and verification fails closed meanwhile.
type Directory struct {
	qc          *query.Client
	TTL         time.Duration
	NegativeTTL time.Duration
	now         func() time.Time

	mu      sync.Mutex
	keys    map[string]keyEntry
	tenants map[string]tenantEntry
}

type keyEntry struct {
	key     crypto.PublicKey
	err     error
	expires time.Time
}

type tenantEntry struct {
	t       query.TenantPublic
	err     error
	expires time.Time
}

// maxEntries bounds each cache; past it the cache starts over, which costs
// a few requests to query and never memory.
const maxEntries = 10000

// NewDirectory returns a Directory over qc with a 30 s TTL and a 5 s
// negative TTL. Key removal and tenant suspension reach the viewer within
// the TTL; token revocation does not wait (it is read from Redis directly).
func NewDirectory(qc *query.Client) *Directory {
	return &Directory{qc: qc, TTL: 30 * time.Second, NegativeTTL: 5 * time.Second, now: time.Now,
		keys: map[string]keyEntry{}, tenants: map[string]tenantEntry{}}
}

var (
	_ auth.KeyResolver  = (*Directory)(nil)
	_ auth.TenantStatus = (*Directory)(nil)
)

// ServerKey returns the server key kid, or NotFound.
func (d *Directory) ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	return d.key(ctx, "s\x00"+kid, func() (crypto.PublicKey, error) { return d.qc.ServerKey(ctx, kid) })
}

// TenantKey returns tenant's registered key kid, or NotFound.
func (d *Directory) TenantKey(ctx context.Context, tenant, kid string) (crypto.PublicKey, error) {
	return d.key(ctx, "t\x00"+tenant+"\x00"+kid, func() (crypto.PublicKey, error) { return d.qc.TenantKey(ctx, tenant, kid) })
}

func (d *Directory) key(_ context.Context, k string, fetch func() (crypto.PublicKey, error)) (crypto.PublicKey, error) {
	now := d.now()
	d.mu.Lock()
	e, ok := d.keys[k]
	d.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.key, e.err
	}
	key, err := fetch()
	ttl := d.TTL
	switch {
	case callscope.Is(err, callscope.NotFound):
		ttl = d.NegativeTTL
	case err != nil:
		return nil, err
	}
	d.mu.Lock()
	if len(d.keys) >= maxEntries {
		d.keys = map[string]keyEntry{}
	}
	d.keys[k] = keyEntry{key: key, err: err, expires: now.Add(ttl)}
	d.mu.Unlock()
	return key, err
}

// Tenant returns the public facts of tenant slug, or NotFound.
func (d *Directory) Tenant(ctx context.Context, slug string) (query.TenantPublic, error) {
	now := d.now()
	d.mu.Lock()
	e, ok := d.tenants[slug]
	d.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.t, e.err
	}
	t, err := d.qc.TenantPublic(ctx, slug)
	ttl := d.TTL
	switch {
	case callscope.Is(err, callscope.NotFound):
		ttl = d.NegativeTTL
	case err != nil:
		return t, err
	}
	d.mu.Lock()
	if len(d.tenants) >= maxEntries {
		d.tenants = map[string]tenantEntry{}
	}
	d.tenants[slug] = tenantEntry{t: t, err: err, expires: now.Add(ttl)}
	d.mu.Unlock()
	return t, err
}

// TenantActive reports whether tenant slug may serve views.
func (d *Directory) TenantActive(ctx context.Context, slug string) (bool, error) {
	t, err := d.Tenant(ctx, slug)
	if err != nil {
		return false, err
	}
	return t.Active, nil
}
