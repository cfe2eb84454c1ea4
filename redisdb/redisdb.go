// Package redisdb opens callscope's Redis client with errors a person can
// act on. Redis holds revocations, tenant token epochs, rate limits, admin
// sessions and short caches; every key carries a {tenant} or {scope} hash
// tag so the same code runs on Redis Cluster.
package redisdb

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope"
)

// Open parses url (redis://host:port/db), connects and pings.
func Open(ctx context.Context, url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, callscope.Errorf(callscope.Invalid, "CALLSCOPE_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, callscope.Errorf(callscope.Unavailable,
				"CALLSCOPE_REDIS_URL: cannot reach %s (connection refused): start Redis or point the variable at it", opt.Addr)
		}
		return nil, &callscope.Error{Kind: callscope.Unavailable,
			Message: fmt.Sprintf("CALLSCOPE_REDIS_URL: cannot use Redis at %s", opt.Addr), Err: err}
	}
	return c, nil
}
