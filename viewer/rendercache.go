package viewer

import (
	"crypto/sha256"
	"strconv"
	"sync"
	"time"
)

// DefaultRenderCacheTTL is how long a rendered page is reused.
const DefaultRenderCacheTTL = 5 * time.Second

// defaultRenderCacheBytes bounds the memory the cache holds (a 20-message
// page is ~40 KB, so ~1,600 pages).
const defaultRenderCacheBytes = 64 << 20

// renderCache keeps rendered ladder pages for a few seconds so that a link
// opened again (a reload, an iframe shown to several people, a page the
// customer's own monitoring polls) costs no query round trip, no
// PostgreSQL read and no layout.
//
// What it never skips: a cached page is served only after admit has run in
// full for this request — shape, invalid-token budget, signature, expiry,
// tenant status and the revocation check in Redis, then the per-token and
// per-IP budgets. A revoked link is refused on its next request whatever
// the cache holds.
//
// Keys are SHA-256 of the whole token plus the page options, never the jti
// alone: a jti is chosen by whoever signs the token, and tenant-signed
// tokens could reuse another tenant's jti; the whole signed token cannot
// be reused without the signature over it. So a page rendered for one token
// is only ever served to that same token: never across tenants, calls,
// windows or scopes. The page embeds links built from the token, another
// reason it is the token's alone.
//
// Staleness is bounded by the TTL: messages that arrive for a call in
// progress, or a changed alias, show up within it.
type renderCache struct {
	ttl      time.Duration
	maxBytes int

	mu    sync.Mutex
	m     map[[32]byte]renderEntry
	bytes int
}

type renderEntry struct {
	body    []byte
	origins []string // the tenant's embed origins, for the CSP
	expires time.Time
}

func newRenderCache(ttl time.Duration, maxBytes int) *renderCache {
	return &renderCache{ttl: ttl, maxBytes: maxBytes, m: map[[32]byte]renderEntry{}}
}

// renderKey names one rendering of one token's page.
func renderKey(token string, page int, theme string, groupByIP bool) [32]byte {
	h := sha256.New()
	h.Write([]byte(token))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, int64(page), 10))
	h.Write([]byte{0})
	h.Write([]byte(theme))
	if groupByIP {
		h.Write([]byte{0, 'g'})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// get returns a live entry. The body must not be modified.
func (c *renderCache) get(k [32]byte, now time.Time) (renderEntry, bool) {
	if c == nil {
		return renderEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return renderEntry{}, false
	}
	if !now.Before(e.expires) {
		c.bytes -= len(e.body)
		delete(c.m, k)
		return renderEntry{}, false
	}
	return e, true
}

// put stores body; over the byte budget it first drops expired entries,
// then everything (a few re-renders, never unbounded memory).
func (c *renderCache) put(k [32]byte, body []byte, origins []string, now time.Time) {
	if c == nil || len(body) > c.maxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		c.bytes -= len(old.body)
	}
	if c.bytes+len(body) > c.maxBytes {
		for key, e := range c.m {
			if !now.Before(e.expires) {
				c.bytes -= len(e.body)
				delete(c.m, key)
			}
		}
		if c.bytes+len(body) > c.maxBytes {
			clear(c.m)
			c.bytes = 0
		}
	}
	c.m[k] = renderEntry{body: body, origins: origins, expires: now.Add(c.ttl)}
	c.bytes += len(body)
}
