// Package auth holds the storage-independent security core of callscope:
// view tokens (mint and verify), server signing keys and the public JWKS,
// tenant public keys, token revocation and rate limits in Redis, argon2id
// passwords, API keys, and the sealer that encrypts private keys at rest.
//
// The view token is a contract with orchestrators written by other people;
// see DESIGN.md "View token". Its shape on the wire:
//
//	base64url(header) "." base64url(claims) "." base64url(signature)   ≤ 4096 bytes
//
//	header: {"alg":"EdDSA"|"ES256", "kid":"<opaque, 1..128 printable>", "typ":"call-view+jwt"}
//	claims: {"iss":"callscope"|<tenant slug>, "aud":"callscope-viewer", "tid":<tenant slug>,
//	         "call_id":..., "window_start":N, "window_end":N, "iat":N, "exp":N,
//	         "jti":..., "nbf":N (optional), "scp":[...] (optional)}
//
// Storage lives elsewhere: PostgreSQL-backed stores implement KeyResolver and
// TenantStatus; this package only declares what it needs from them.
package auth
