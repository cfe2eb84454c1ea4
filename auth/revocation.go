package auth

import "time"

// TenantRevocations is everything that revokes a tenant's tokens, as
// PostgreSQL records it and as verifiers read it from Redis: the store of
// record hands it to the Redis state to rebuild what Redis lost.
type TenantRevocations struct {
	Tenant string       // slug
	JTIs   []RevokedJTI // revoked tokens that may still be presented
	Epoch  time.Time    // tokens issued before it are revoked; zero: none
}

// RevokedJTI is one revoked token, which matters until Until (its expiry).
type RevokedJTI struct {
	JTI   string
	Until time.Time
}
