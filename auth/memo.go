package auth

import (
	"crypto"
	"crypto/sha256"
	"slices"
	"time"

	"github.com/callscope/callscope/cache"
)

// Memo remembers the one pure step of verification: "these exact token
// bytes parse to these claims and carry a valid signature by this public
// key". It is keyed by the SHA-256 of the whole token, so a hit means the
// same header, claims and signature bytes that were checked before.
//
// Why it is sound: nothing remembered is a decision. On a hit Verify still
// resolves the key again from the token's issuer, tenant and kid through
// Keys (so a removed or rotated key, or a tenant key disabled, refuses the
// token exactly as before, within the key store's own cache) and requires
// the resolved key to be Equal to the one the signature was checked with;
// a signature that verified under key K over bytes B verifies again under K
// over B, so skipping the parse and the signature check changes no answer.
// Everything that can change with time (audience and server limits are
// cheap and rerun, expiry, nbf, tenant status, revocation) is checked on
// every request, after the memo. Entries live no longer than the token
// (exp + MaxLeeway), the memo is bounded, and refused tokens are never
// remembered, so garbage cannot fill it.
//
// Each Verifier that wants one gets its own (Verifier.Memo), so what one
// verifier found authentic is never taken on trust by another with other
// keys, and the viewer and query roles of one process share no work that a
// split deployment could not share.
type Memo struct {
	c *cache.Cache[[sha256.Size]byte, memoEntry]
}

// maxMemoEntries bounds the memo: about 1 KB an entry.
const maxMemoEntries = 20000

// NewMemo returns an empty memo for one Verifier.
func NewMemo() *Memo {
	return &Memo{c: cache.New[[sha256.Size]byte, memoEntry](cache.Options[memoEntry]{MaxEntries: maxMemoEntries})}
}

type memoEntry struct {
	claims Claims
	kid    string
	key    crypto.PublicKey
	until  time.Time
}

func (m *Memo) get(k [sha256.Size]byte, now time.Time) (memoEntry, bool) {
	if m == nil {
		return memoEntry{}, false
	}
	e, ok := m.c.Get(k)
	if !ok || !now.Before(e.until) {
		return memoEntry{}, false
	}
	return e, true
}

func (m *Memo) put(k [sha256.Size]byte, c *Claims, kid string, key crypto.PublicKey) {
	if m == nil {
		return
	}
	e := memoEntry{claims: *c, kid: kid, key: key, until: c.Expiry.Add(MaxLeeway)}
	e.claims.Scopes = slices.Clone(c.Scopes)
	// Expiry is checked by get on the Verifier's clock; the cache only
	// bounds how many entries are held.
	m.c.SetUntil(k, e, time.Time{})
}

// claimsCopy returns claims a caller may keep and modify.
func (e memoEntry) claimsCopy() *Claims {
	c := e.claims
	c.Scopes = slices.Clone(e.claims.Scopes)
	return &c
}

// sameKey reports whether a and b are the same public key.
func sameKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && eq.Equal(b)
}
