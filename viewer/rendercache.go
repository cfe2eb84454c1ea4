package viewer

import (
	"crypto/sha256"
	"strconv"
	"time"

	"github.com/callscope/callscope/cache"
)

// DefaultRenderCacheTTL is how long a rendered page is reused.
const DefaultRenderCacheTTL = 5 * time.Second

// defaultRenderCacheBytes bounds the memory the cache holds (a 20-message
// page is ~40 KB, so ~1,600 pages).
const defaultRenderCacheBytes int64 = 64 << 20

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
	ttl time.Duration
	c   *cache.Cache[[32]byte, renderEntry]
}

type renderEntry struct {
	body    []byte
	origins []string // the tenant's embed origins, for the CSP
}

// maxRenderEntries bounds the pages held whatever their size.
const maxRenderEntries = 10000

func newRenderCache(ttl time.Duration, maxBytes int64) *renderCache {
	return &renderCache{ttl: ttl, c: cache.New[[32]byte, renderEntry](cache.Options[renderEntry]{
		MaxEntries: maxRenderEntries,
		// One page may take at most a quarter of the budget, so a huge call
		// cannot flush every other tenant's pages.
		MaxCost: maxBytes,
		Cost: func(e renderEntry) int64 {
			if n := int64(len(e.body)); n <= maxBytes/4 {
				return n
			}
			return maxBytes + 1 // not kept
		},
		TTL: ttl,
	})}
}

// renderKey names one rendering of one token's page.
func renderKey(token string, page int, theme string, groupByIP, compact bool) [32]byte {
	h := sha256.New()
	h.Write([]byte(token))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, int64(page), 10))
	h.Write([]byte{0})
	h.Write([]byte(theme))
	if groupByIP {
		h.Write([]byte{0, 'g'})
	}
	if compact {
		h.Write([]byte{0, 'c'})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// get returns a live entry. The body must not be modified.
func (c *renderCache) get(k [32]byte) (renderEntry, bool) {
	if c == nil {
		return renderEntry{}, false
	}
	return c.c.Get(k)
}

// put keeps body for the cache's TTL; over the byte budget the least
// recently used pages go.
func (c *renderCache) put(k [32]byte, body []byte, origins []string) {
	if c == nil {
		return
	}
	c.c.Set(k, renderEntry{body: body, origins: origins})
}
