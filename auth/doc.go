// Package auth is callscope's security core: view tokens (mint and verify,
// on go-jose), the one vocabulary of a token's refusal, server signing keys
// and the public JWKS, tenant public keys, argon2id passwords, the API-key
// format, and the sealer that encrypts private keys at rest. It imports no
// database, no Redis and no HTTP framework; it declares the small
// interfaces it needs (KeyResolver, TenantStatus, RevocationChecker,
// ActiveKey, TokenRecorder) and the adapters implement them:
//
//   - auth/authdb: the PostgreSQL stores (signing keys, tenant keys, API
//     keys, issued tokens and revocation records, admins, the view audit);
//   - auth/authredis: the state in Redis (revocations as verifiers read
//     them, rate limits, the viewer's Gate);
//   - the query service mounts the token API, the viewer its edge.
//
// The view token is a contract with orchestrators written by other people.
// Its shape on the wire:
//
//	base64url(header) "." base64url(claims) "." base64url(signature)   ≤ 4096 bytes
//
//	header: {"alg":"EdDSA"|"ES256", "kid":"<opaque, 1..128 printable>", "typ":"call-view+jwt"}
//	claims: {"iss":"callscope"|<tenant slug>, "aud":"callscope-viewer", "tid":<tenant slug>,
//	         "call_id":..., "window_start":N, "window_end":N, "iat":N, "exp":N,
//	         "jti":..., "nbf":N (optional), "scp":[...] (optional)}
package auth
