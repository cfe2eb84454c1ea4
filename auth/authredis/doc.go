// Package authredis keeps the public edge's shared state in Redis: token
// revocations (by jti and by tenant epoch) as verifiers read them, the
// rate-limit budgets (redis_rate), and the Gate that admits a view: the
// token verified, then its budgets.
//
// Every key starts with the configured prefix and carries a hash tag, so
// that the keys one operation reads together share a Redis Cluster slot.
//
// Redis is not the record of revocations: PostgreSQL is. A Redis that lost
// its data (a restart without persistence, a FLUSHDB, an eviction) would
// otherwise bring revoked links back, so each tenant's state carries a
// marker written with it; a check that finds the marker gone refuses the
// token until the state is rebuilt from PostgreSQL.
package authredis
