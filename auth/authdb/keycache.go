package authdb

import (
	"context"
	"crypto"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/cache"
)

// keyCache holds sets of verification keys by namespace ("" for the
// server's, a tenant slug for a tenant's) so that verifying a token does not
// cost a PostgreSQL round trip.
//
// The kid and the tenant slug come from the token, so an attacker chooses
// them. Two rules keep hostile input from turning into database load:
//   - a namespace is loaded whole, and an unknown kid in a fresh set is
//     answered from memory; a set is reloaded for a miss at most once per
//     minRefresh (a key rotated on another replica shows up within it);
//   - unknown namespaces are kept as empty sets, in a bounded cache.
//
// Concurrent misses of one namespace share one load.
type keyCache struct {
	ttl        time.Duration
	minRefresh time.Duration
	now        func() time.Time
	sets       *cache.Cache[string, *keySet]
}

type keySet struct {
	keys     map[string]crypto.PublicKey
	loadedAt time.Time
}

// loadFunc loads every usable key of one namespace. A NotFound error means
// the namespace does not exist and is kept as an empty set.
type loadFunc func(ctx context.Context) (map[string]crypto.PublicKey, error)

// maxKeySets bounds the namespaces a keyCache holds.
const maxKeySets = 10000

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, minRefresh: time.Second, now: time.Now,
		sets: cache.New[string, *keySet](cache.Options[*keySet]{MaxEntries: maxKeySets})}
}

// lookup returns key kid of namespace ns, or a NotFound error.
func (c *keyCache) lookup(ctx context.Context, ns, kid string, load loadFunc) (crypto.PublicKey, error) {
	s, err := c.set(ctx, ns, load)
	if err != nil {
		return nil, err
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	if c.now().Sub(s.loadedAt) >= c.minRefresh {
		// An unknown kid in a set old enough: perhaps a key added on
		// another replica since.
		c.sets.Delete(ns)
		if s, err = c.set(ctx, ns, load); err != nil {
			return nil, err
		}
		if k, ok := s.keys[kid]; ok {
			return k, nil
		}
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

// set returns the key set of ns, from the cache while it is fresh.
func (c *keyCache) set(ctx context.Context, ns string, load loadFunc) (*keySet, error) {
	return c.sets.Fetch(ctx, ns, func(ctx context.Context) (*keySet, time.Duration, error) {
		keys, err := load(ctx)
		if callscope.Is(err, callscope.NotFound) {
			keys, err = map[string]crypto.PublicKey{}, nil
		}
		if err != nil {
			return nil, 0, err
		}
		return &keySet{keys: keys, loadedAt: c.now()}, c.ttl, nil
	})
}

// all returns the whole set of ns, from the cache when fresh.
func (c *keyCache) all(ctx context.Context, ns string, load loadFunc) (map[string]crypto.PublicKey, error) {
	s, err := c.set(ctx, ns, load)
	if err != nil {
		return nil, err
	}
	return s.keys, nil
}

// forget drops namespace ns, after this process changed it.
func (c *keyCache) forget(ns string) { c.sets.Delete(ns) }
