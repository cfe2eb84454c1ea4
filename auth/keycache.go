package auth

import (
	"context"
	"crypto"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/callscope/callscope"
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
//   - unknown namespaces are cached as empty, and the map is bounded: when
//     full it is emptied, which costs reloads, never correctness.
//
// Concurrent misses of one namespace share one load (singleflight).
type keyCache struct {
	ttl        time.Duration
	minRefresh time.Duration
	maxSets    int
	now        func() time.Time

	mu   sync.Mutex
	sets map[string]*keySet
	sf   singleflight.Group
}

type keySet struct {
	keys     map[string]crypto.PublicKey
	loadedAt time.Time
}

// loadFunc loads every usable key of one namespace. A NotFound error means
// the namespace does not exist and is cached as an empty set.
type loadFunc func(ctx context.Context) (map[string]crypto.PublicKey, error)

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, minRefresh: time.Second, maxSets: 10000, now: time.Now, sets: map[string]*keySet{}}
}

// lookup returns key kid of namespace ns, or a NotFound error.
func (c *keyCache) lookup(ctx context.Context, ns, kid string, load loadFunc) (crypto.PublicKey, error) {
	c.mu.Lock()
	s := c.sets[ns]
	now := c.now()
	if s != nil && now.Sub(s.loadedAt) < c.ttl {
		if k, ok := s.keys[kid]; ok {
			c.mu.Unlock()
			return k, nil
		}
		if now.Sub(s.loadedAt) < c.minRefresh {
			c.mu.Unlock()
			return nil, callscope.Errorf(callscope.NotFound, "no such key")
		}
	}
	c.mu.Unlock()

	s, err := c.reload(ctx, ns, load)
	if err != nil {
		return nil, err
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, callscope.Errorf(callscope.NotFound, "no such key")
}

// all returns the whole set of ns, from cache when fresh.
func (c *keyCache) all(ctx context.Context, ns string, load loadFunc) (map[string]crypto.PublicKey, error) {
	c.mu.Lock()
	s := c.sets[ns]
	if s != nil && c.now().Sub(s.loadedAt) < c.ttl {
		c.mu.Unlock()
		return s.keys, nil
	}
	c.mu.Unlock()
	s, err := c.reload(ctx, ns, load)
	if err != nil {
		return nil, err
	}
	return s.keys, nil
}

func (c *keyCache) reload(ctx context.Context, ns string, load loadFunc) (*keySet, error) {
	v, err, _ := c.sf.Do(ns, func() (any, error) {
		// The load must not die with the one request that happened to run
		// it: the others waiting on it would all fail.
		keys, err := load(context.WithoutCancel(ctx))
		if callscope.Is(err, callscope.NotFound) {
			keys, err = map[string]crypto.PublicKey{}, nil
		}
		if err != nil {
			return nil, err
		}
		s := &keySet{keys: keys, loadedAt: c.now()}
		c.mu.Lock()
		if len(c.sets) >= c.maxSets {
			clear(c.sets)
		}
		c.sets[ns] = s
		c.mu.Unlock()
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*keySet), nil
}

// forget drops namespace ns, after this process changed it.
func (c *keyCache) forget(ns string) {
	c.mu.Lock()
	delete(c.sets, ns)
	c.mu.Unlock()
}
