package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"math/big"
)

// checkSignature verifies a compact JWS signature over its signing input,
// ASCII(BASE64URL(header) || '.' || BASE64URL(payload)) (RFC 7515 §5.2),
// with the algorithm key's type dictates: Ed25519 (RFC 8037) or ECDSA P-256
// with SHA-256, its signature R || S as two 32-byte big-endian integers, not
// DER (RFC 7518 §3.4). Any other key type or signature size is false.
//
// It is what go-jose's JSONWebSignature.Verify does for these two
// algorithms, without parsing the header and claims a second time:
// authentic has already parsed them more strictly than go-jose does (an
// allowlist of header members, duplicate members refused) and checked that
// the header's alg is the one the key dictates. Minting still signs with
// go-jose, and the tests check each against the other.
func checkSignature(key crypto.PublicKey, signingInput string, sig []byte) bool {
	switch k := key.(type) {
	case ed25519.PublicKey:
		// ed25519.Verify panics on a key of the wrong size.
		return len(k) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize &&
			ed25519.Verify(k, []byte(signingInput), sig)
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() || len(sig) != 64 {
			return false
		}
		digest := sha256.Sum256([]byte(signingInput))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, digest[:], r, s)
	}
	return false
}
