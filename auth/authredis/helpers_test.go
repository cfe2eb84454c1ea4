package authredis_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/auth/authtest"
	"github.com/callscope/callscope/redisdb/redistest"
)

var (
	testNow        = authtest.Now
	setup          = authtest.Setup
	MustSigningKey = authtest.MustSigningKey
	validClaims    = authtest.ValidClaims
	MustMint       = authtest.MustMint
)

// MustRedis is the test's Redis and key prefix (redistest).
func MustRedis(tb testing.TB) (*redis.Client, string) { return redistest.New(tb) }

// DeadRedis returns a client pointed at a loopback port nothing listens on.
func DeadRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// newRevocations is the Redis revocation store on the fixed clock, over a
// PostgreSQL record that holds no revocation: a tenant's state, missing
// from a fresh prefix, is rebuilt empty on first use.
func newRevocations(rdb redis.UniversalClient, prefix string) *authredis.Revocations {
	r := authredis.NewRevocations(rdb, prefix, func() time.Time { return testNow })
	r.SetRebuild(func(ctx context.Context, tenant string) error {
		return r.Restore(ctx, auth.TenantRevocations{Tenant: tenant})
	})
	return r
}
