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
// The verification core (Verifier, Mint, Revocations) declares the small
// interfaces it needs (KeyResolver, TenantStatus, RevocationChecker). The
// PostgreSQL-backed stores that implement them live beside it, each with a
// short in-memory cache: KeyStore (server signing keys, sealed at rest),
// TenantKeys, TenantStatusCache; and the rest of the token life cycle:
// APIKeys, Minter, Tokens (issued links, revocation records, SyncRevocations),
// AuditWriter, and the HTTP API (NewAPI) that ties them together.
package auth
