// Package cache is callscope's one in-memory cache: a map whose entries
// expire, bounded in entries (and, when asked, in bytes), that evicts the
// least recently used entry when full. Every process-local cache of the
// tree (verification keys, tenants, authentic tokens, rendered pages) is
// one of these, each owned by the one component that holds its kind of data.
//
// It never answers with an expired entry, and being full costs the least
// recently used entry, never the whole cache.
package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Options bound a Cache. MaxEntries is required; MaxCost, with Cost, bounds
// the sum of the entries' costs (bytes, typically) as well.
type Options[V any] struct {
	MaxEntries int
	MaxCost    int64
	Cost       func(V) int64
	// TTL is how long Set keeps an entry; 0 keeps it until evicted.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache maps keys to values for a while. A nil *Cache holds nothing: Get
// misses and Set does nothing, so a disabled cache needs no special case.
// Safe for concurrent use.
type Cache[K comparable, V any] struct {
	opt Options[V]

	mu      sync.Mutex
	m       map[K]*list.Element
	lru     list.List // front: most recently used; values are *entry[K, V]
	cost    int64
	loading map[K]*load[V]
}

type entry[K comparable, V any] struct {
	key     K
	val     V
	expires time.Time // zero: never
	cost    int64
}

// New returns an empty cache. It panics when MaxEntries is not positive or
// MaxCost is set without Cost: both are programming errors.
func New[K comparable, V any](o Options[V]) *Cache[K, V] {
	if o.MaxEntries <= 0 || (o.MaxCost > 0 && o.Cost == nil) {
		panic("cache.New: MaxEntries must be positive, and MaxCost needs Cost")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache[K, V]{opt: o, m: make(map[K]*list.Element), loading: make(map[K]*load[V])}
}

// Get returns the live value of k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	now := c.opt.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(k, now)
}

func (c *Cache[K, V]) getLocked(k K, now time.Time) (V, bool) {
	var zero V
	el, ok := c.m[k]
	if !ok {
		return zero, false
	}
	e := el.Value.(*entry[K, V])
	if !e.expires.IsZero() && !now.Before(e.expires) {
		c.remove(el)
		return zero, false
	}
	c.lru.MoveToFront(el)
	return e.val, true
}

// Set keeps v under k for the cache's TTL.
func (c *Cache[K, V]) Set(k K, v V) {
	if c == nil {
		return
	}
	var expires time.Time
	if c.opt.TTL > 0 {
		expires = c.opt.Now().Add(c.opt.TTL)
	}
	c.SetUntil(k, v, expires)
}

// SetFor keeps v under k for ttl; a ttl that is not positive removes k.
func (c *Cache[K, V]) SetFor(k K, v V, ttl time.Duration) {
	if c == nil {
		return
	}
	if ttl <= 0 {
		c.Delete(k)
		return
	}
	c.SetUntil(k, v, c.opt.Now().Add(ttl))
}

// SetUntil keeps v under k until expires (the zero time: until evicted).
// A value costing more than MaxCost is not kept.
func (c *Cache[K, V]) SetUntil(k K, v V, expires time.Time) {
	if c == nil {
		return
	}
	var cost int64
	if c.opt.MaxCost > 0 {
		cost = c.opt.Cost(v)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		c.remove(el)
	}
	if c.opt.MaxCost > 0 && cost > c.opt.MaxCost {
		return
	}
	c.m[k] = c.lru.PushFront(&entry[K, V]{key: k, val: v, expires: expires, cost: cost})
	c.cost += cost
	for len(c.m) > c.opt.MaxEntries || (c.opt.MaxCost > 0 && c.cost > c.opt.MaxCost) {
		c.remove(c.lru.Back())
	}
}

// Delete removes k.
func (c *Cache[K, V]) Delete(k K) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		c.remove(el)
	}
}

// Len is the number of entries held, expired ones not yet evicted included.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *Cache[K, V]) remove(el *list.Element) {
	e := c.lru.Remove(el).(*entry[K, V])
	delete(c.m, e.key)
	c.cost -= e.cost
}

// load is one Fetch in flight.
type load[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// Fetch returns k's live value, or loads it. Concurrent misses of one key
// share one load, which runs without the first caller's cancellation: the
// others wait on it and must not fail because that caller went away. load
// says how long to keep what it returns (0 or less: not at all); errors are
// never kept. A waiter whose ctx ends stops waiting with ctx's error.
// Every caller gets the same value: treat it as read-only.
func (c *Cache[K, V]) Fetch(ctx context.Context, k K, fn func(ctx context.Context) (V, time.Duration, error)) (V, error) {
	if c == nil {
		v, _, err := fn(ctx)
		return v, err
	}
	now := c.opt.Now()
	c.mu.Lock()
	// Under the lock, a finished load has either left its value in the map
	// or is still in c.loading: a key is never loaded twice at once.
	if v, ok := c.getLocked(k, now); ok {
		c.mu.Unlock()
		return v, nil
	}
	l, waiting := c.loading[k]
	if !waiting {
		l = &load[V]{done: make(chan struct{})}
		c.loading[k] = l
	}
	c.mu.Unlock()
	if !waiting {
		defer func() {
			c.mu.Lock()
			delete(c.loading, k)
			c.mu.Unlock()
			close(l.done)
		}()
		var ttl time.Duration
		l.val, ttl, l.err = fn(context.WithoutCancel(ctx))
		if l.err == nil {
			c.SetFor(k, l.val, ttl)
		}
		return l.val, l.err
	}
	select {
	case <-l.done:
		return l.val, l.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
