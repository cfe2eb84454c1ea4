// Package redisdb opens callscope's Redis client with errors a person can
// act on. Redis holds revocations, tenant token epochs, rate limits, admin
// sessions and short caches; every key carries a {tenant} or {scope} hash
// tag so the same code runs on Redis Cluster.
package redisdb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope"
)

// Open connects to the Redis at rawURL and pings it. A URL naming more
// nodes with addr parameters (redis://h1:6379?addr=h2:6379&addr=h3:6379)
// opens a Redis Cluster client.
func Open(ctx context.Context, rawURL string) (redis.UniversalClient, error) {
	var c redis.UniversalClient
	var addr string
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, password included: keep only why.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, callscope.Errorf(callscope.Invalid, "CALLSCOPE_REDIS_URL: not a URL: %v", err)
	}
	if u.Query().Has("addr") {
		opt, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, callscope.Errorf(callscope.Invalid, "CALLSCOPE_REDIS_URL: %v", err)
		}
		c, addr = redis.NewClusterClient(opt), fmt.Sprint(opt.Addrs)
	} else {
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, callscope.Errorf(callscope.Invalid, "CALLSCOPE_REDIS_URL: %v", err)
		}
		c, addr = redis.NewClient(opt), opt.Addr
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, callscope.Errorf(callscope.Unavailable,
				"CALLSCOPE_REDIS_URL: cannot reach %s (connection refused): start Redis or point the variable at it", addr)
		}
		return nil, &callscope.Error{Kind: callscope.Unavailable,
			Message: fmt.Sprintf("CALLSCOPE_REDIS_URL: cannot use Redis at %s", addr), Err: err}
	}
	return c, nil
}

// MaxMemoryPolicy returns Redis's maxmemory-policy (on a cluster, the first
// node's that answers). It fails where CONFIG is disabled, as on some
// managed Redis services.
func MaxMemoryPolicy(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	v, err := rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return "", fmt.Errorf("redisdb.MaxMemoryPolicy: %w", err)
	}
	p, ok := v["maxmemory-policy"]
	if !ok {
		return "", fmt.Errorf("redisdb.MaxMemoryPolicy: no maxmemory-policy in CONFIG GET's answer")
	}
	return p, nil
}
