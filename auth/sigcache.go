package auth

import (
	"crypto"
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// SigCache memoises the one pure step of verification: "these exact token
// bytes parse to these claims and carry a valid signature by this public
// key". It is keyed by the SHA-256 of the whole token, so a hit means the
// same header, claims and signature bytes that were checked before.
//
// Why it is sound: nothing cached is a decision. On a hit Verify still
// resolves the key again from the token's issuer, tenant and kid through
// Keys (so a removed or rotated key, or a tenant key disabled, refuses the
// token exactly as before, within the key store's own cache) and requires
// the resolved key to be Equal to the one the signature was checked with;
// a signature that verified under key K over bytes B verifies again under K
// over B, so skipping the Ed25519/ECDSA check and the parse changes no
// answer. Everything that can change with time (audience and server limits
// are cheap and rerun, expiry, nbf, tenant status, revocation) is checked on
// every request, after the cache. Entries live no longer than the token
// (exp + MaxLeeway), the map is bounded, and refused tokens are never
// cached, so garbage cannot fill it.
//
// Each Verifier that wants one gets its own (Verifier.Memo), so what one
// verifier found authentic is never taken on trust by another with other
// keys, and the viewer and query roles of one process share no work that a
// split deployment could not share.
type SigCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]sigEntry
}

// NewSigCache returns an empty memo for one Verifier.
func NewSigCache() *SigCache { return &SigCache{} }

type sigEntry struct {
	claims Claims
	kid    string
	key    crypto.PublicKey
	until  time.Time
}

// maxSigEntries bounds the memo; past it, it starts over (a few extra
// signature checks, never a wrong answer). ~1 KB per entry.
const maxSigEntries = 20000

func (s *SigCache) get(k [sha256.Size]byte, now time.Time) (sigEntry, bool) {
	if s == nil {
		return sigEntry{}, false
	}
	s.mu.Lock()
	e, ok := s.m[k]
	s.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return sigEntry{}, false
	}
	return e, true
}

func (s *SigCache) put(k [sha256.Size]byte, c *Claims, kid string, key crypto.PublicKey) {
	if s == nil {
		return
	}
	e := sigEntry{claims: *c, kid: kid, key: key, until: c.Expiry.Add(MaxLeeway)}
	e.claims.Scopes = slices.Clone(c.Scopes)
	s.mu.Lock()
	if s.m == nil || len(s.m) >= maxSigEntries {
		s.m = make(map[[sha256.Size]byte]sigEntry)
	}
	s.m[k] = e
	s.mu.Unlock()
}

// claimsCopy returns claims a caller may keep and modify.
func (e sigEntry) claimsCopy() *Claims {
	c := e.claims
	c.Scopes = slices.Clone(e.claims.Scopes)
	return &c
}

// sameKey reports whether a and b are the same public key.
func sameKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && eq.Equal(b)
}
