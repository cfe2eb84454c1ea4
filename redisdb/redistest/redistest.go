// Package redistest gives each test a Redis client and a key prefix of its
// own; the test's keys are deleted when it ends.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// URL is where tests find Redis: CALLSCOPE_TEST_REDIS_URL or the local one.
func URL() string {
	if u := os.Getenv("CALLSCOPE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// New returns a client and a unique prefix ("t-<random>:") for the test's
// keys. Everything under the prefix is removed in Cleanup.
func New(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redistest: Redis not reachable at %s (%v): start it or set CALLSCOPE_TEST_REDIS_URL", URL(), err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "t-" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		// Keys of libraries that add their own prefix before ours (redis_rate).
		iter = c.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for _, k := range keys {
			c.Del(ctx, k)
		}
		c.Close()
	})
	return c, prefix
}
