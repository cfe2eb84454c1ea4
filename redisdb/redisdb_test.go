package redisdb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope/redisdb"
	"github.com/callscope/callscope/redisdb/redistest"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		c, err := redisdb.Open(ctx, redistest.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, ok := c.(*redis.Client); !ok {
			t.Fatalf("single-node URL gave %T", c)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		_, err := redisdb.Open(ctx, "redis://127.0.0.1:1/0")
		if err == nil || !strings.Contains(err.Error(), "cannot reach 127.0.0.1:1 (connection refused)") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ClusterURL", func(t *testing.T) {
		// Both addresses refuse: what matters is that a cluster client was
		// chosen and the error names the nodes.
		_, err := redisdb.Open(ctx, "redis://127.0.0.1:1?addr=127.0.0.1:2")
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1 127.0.0.1:2") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("BadURL", func(t *testing.T) {
		if _, err := redisdb.Open(ctx, "http://nope"); err == nil {
			t.Fatal("accepted a non-redis URL")
		}
	})
	t.Run("ErrorsNeverShowThePassword", func(t *testing.T) {
		for _, u := range []string{
			"redis://user:hunter2secret@127.0.0.1:6379/0%zz",
			"redis://user:hunter2secret@127.0.0.1:6379/notanumber",
			"redix://user:hunter2secret@127.0.0.1:6379/0",
			"redis://user:hunter2secret@127.0.0.1:1/0",
		} {
			_, err := redisdb.Open(ctx, u)
			if err == nil || strings.Contains(err.Error(), "hunter2secret") {
				t.Errorf("%v", err)
			}
		}
	})
}

func TestMaxMemoryPolicy(t *testing.T) {
	ctx := context.Background()
	for _, policy := range []string{"noeviction", "allkeys-lru"} {
		c := redistest.Server(t, "--maxmemory-policy", policy)
		got, err := redisdb.MaxMemoryPolicy(ctx, c)
		if err != nil || got != policy {
			t.Errorf("MaxMemoryPolicy = %q, %v; want %q", got, err, policy)
		}
	}
}
