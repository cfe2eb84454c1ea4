package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/callscope/callscope"
)

// API keys look like
//
//	cs_<43 base64url chars = 32 random bytes>
//	   '------' the first 8 chars: the display/lookup prefix
//
// The "cs_" marker makes a leaked key recognisable to secret scanners.
const (
	apiKeyMarker  = "cs_"
	apiKeyBodyLen = 43 // base64url, no padding, of 32 bytes
	apiKeyPrefLen = 8
)

// NewAPIKey returns a fresh API key: the plaintext to show once, its
// display/lookup prefix, and the hash to store.
func NewAPIKey() (plaintext, prefix string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	plaintext = apiKeyMarker + base64.RawURLEncoding.EncodeToString(b[:])
	return plaintext, plaintext[len(apiKeyMarker) : len(apiKeyMarker)+apiKeyPrefLen], HashAPIKey(plaintext)
}

// HashAPIKey returns SHA-256 of the key. A fast hash is right here, unlike
// for passwords: the key has 256 bits of entropy, so there is nothing to
// brute-force and a slow KDF would only make every API call expensive.
func HashAPIKey(plaintext string) []byte {
	sum := sha256.Sum256([]byte(plaintext))
	return sum[:]
}

// ParseAPIKey checks the shape of a presented key and returns its prefix
// (for the lookup) and hash (to compare with EqualAPIKeyHash). It returns an
// Unauthorized callscope error for anything that is not exactly "cs_" and
// 43 canonical base64url characters; the message never repeats the input.
func ParseAPIKey(plaintext string) (prefix string, hash []byte, err error) {
	bad := callscope.Errorf(callscope.Unauthorized, "invalid API key")
	body, ok := strings.CutPrefix(plaintext, apiKeyMarker)
	if !ok || len(body) != apiKeyBodyLen {
		return "", nil, bad
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) != 32 || strings.ContainsAny(body, "\r\n") {
		return "", nil, bad
	}
	return body[:apiKeyPrefLen], HashAPIKey(plaintext), nil
}

// EqualAPIKeyHash compares two key hashes in constant time.
func EqualAPIKeyHash(a, b []byte) bool {
	return len(a) == sha256.Size && subtle.ConstantTimeCompare(a, b) == 1
}
