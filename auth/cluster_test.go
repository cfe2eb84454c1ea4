package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/console"
)

// MustRedisCluster starts a three-master Redis Cluster from Debian's
// redis-server on loopback ports, in a temporary directory, and returns a
// cluster client. Everything is stopped and removed in Cleanup. Without
// redis-server and redis-cli the test is skipped, unless
// CALLSCOPE_E2E_REQUIRE=1 says every peer must be there.
func MustRedisCluster(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := bin + " not installed (apt-get install redis-server): Redis Cluster test skipped"
			if os.Getenv("CALLSCOPE_E2E_REQUIRE") == "1" {
				tb.Fatal(msg + ", but CALLSCOPE_E2E_REQUIRE=1")
			}
			tb.Skip(msg)
		}
	}
	dir := tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var addrs []string
	for i := range 3 {
		port := freeClusterPort(tb)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		nodeDir := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(nodeDir, 0o700); err != nil {
			tb.Fatal(err)
		}
		var out bytes.Buffer
		cmd := exec.Command("redis-server",
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", nodeDir,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start redis-server: %v", err)
		}
		tb.Cleanup(func() {
			cmd.Process.Kill() //nolint:errcheck
			cmd.Wait()         //nolint:errcheck
			if tb.Failed() {
				tb.Logf("redis-server %s:\n%s", addr, out.String())
			}
		})
		waitRedis(ctx, tb, addr)
		addrs = append(addrs, addr)
	}

	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				tb.Fatalf("cluster never became ok at %s: %v %s", addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	tb.Cleanup(func() { cc.Close() })
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
		tb.Fatal(err)
	}
	return cc
}

// freeClusterPort finds a loopback port whose cluster bus port (+10000) is
// free too.
func freeClusterPort(tb testing.TB) int {
	tb.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			ln.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		ln.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	tb.Fatal("no free port pair for a Redis Cluster node")
	return 0
}

func waitRedis(ctx context.Context, tb testing.TB, addr string) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for c.Ping(ctx).Err() != nil {
		if ctx.Err() != nil {
			tb.Fatalf("redis-server at %s never answered", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisCluster runs what callscope keeps in Redis — revocations with
// their tenant epochs, every rate limit, console sessions — against a real
// three-node Redis Cluster. A multi-key command whose keys hash to
// different slots fails there with CROSSSLOT, so this proves that each
// key's hash tag puts what is read together on one slot.
func TestRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-server processes")
	}
	cc := MustRedisCluster(t)
	ctx := context.Background()
	const prefix = auth.DefaultRedisPrefix

	t.Run("CrossSlotIsRefused", func(t *testing.T) {
		// The control: without a shared tag, MGET fails on a cluster. If it
		// did not, the rest of this test would prove nothing.
		a, b := findKeysOnDifferentSlots(t, cc)
		err := cc.MGet(ctx, a, b).Err()
		if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
			t.Fatalf("MGET %s %s = %v, want CROSSSLOT", a, b, err)
		}
	})

	t.Run("Revocations", func(t *testing.T) {
		r := auth.NewRevocations(cc, prefix, func() time.Time { return testNow })
		// Enough tenants that their slots fall on every node.
		for i := range 12 {
			tenant := fmt.Sprintf("tenant-%d", i)
			if err := r.RevokeJTI(ctx, tenant, "j1", testNow.Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			for jti, want := range map[string]bool{"j1": true, "j2": false} {
				// CheckRevoked reads the jti key and the epoch key in one MGET.
				if got, err := r.CheckRevoked(ctx, tenant, jti, testNow); err != nil || got != want {
					t.Fatalf("%s: CheckRevoked(%s) = %v, %v; want %v", tenant, jti, got, err, want)
				}
			}
			// RevokeAllBefore is a Lua script on the epoch key.
			if err := r.RevokeAllBefore(ctx, tenant, testNow); err != nil {
				t.Fatal(err)
			}
			if err := r.RevokeAllBefore(ctx, tenant, testNow.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			if got, err := r.CheckRevoked(ctx, tenant, "j2", testNow.Add(-time.Second)); err != nil || !got {
				t.Fatalf("%s: token issued before the epoch: %v, %v; want revoked", tenant, got, err)
			}
			if got, err := r.CheckRevoked(ctx, tenant, "j3", testNow.Add(time.Second)); err != nil || got {
				t.Fatalf("%s: token issued after the epoch: %v, %v; want not revoked (epoch moved back?)", tenant, got, err)
			}
		}
		// The other tenant's keys sit elsewhere and say nothing.
		if got, err := r.CheckRevoked(ctx, "other", "j1", testNow.Add(-time.Hour)); err != nil || got {
			t.Errorf("other tenant: %v, %v", got, err)
		}
	})

	t.Run("RateLimits", func(t *testing.T) {
		tight := redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Minute}
		l := auth.NewRateLimiter(cc, prefix, auth.RateLimits{Mint: tight, ViewJTI: tight, ViewIP: tight, Invalid: tight})
		ip := netip.MustParseAddr("127.0.0.9")
		checks := map[string]func() (bool, time.Duration, error){
			"Mint":    func() (bool, time.Duration, error) { return l.AllowMint(ctx, "abcd1234") },
			"ViewJTI": func() (bool, time.Duration, error) { return l.AllowViewToken(ctx, "jti-1") },
			"ViewIP":  func() (bool, time.Duration, error) { return l.AllowViewIP(ctx, ip) },
			// The console's login limits use the same Allow with its own keys.
			"ConsoleLogin": func() (bool, time.Duration, error) {
				return l.Allow(ctx, "rl:console-login-ip:{127.0.0.9}", tight)
			},
		}
		for name, allow := range checks {
			for i := range 3 {
				ok, retry, err := allow()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if want := i < 2; ok != want || (!ok && retry <= 0) {
					t.Errorf("%s try %d: allowed %v (retry %s), want %v", name, i, ok, retry, want)
				}
			}
		}
		for i := range 3 {
			ok, _, err := l.AllowInvalidAttempt(ctx, ip)
			if err != nil {
				t.Fatal(err)
			}
			if want := i < 2; ok != want {
				t.Errorf("invalid attempt %d: allowed %v, want %v", i, ok, want)
			}
			if err := l.NoteInvalid(ctx, ip); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("ConsoleSessions", func(t *testing.T) {
		s := console.NewSessions(cc, prefix, 0, 0, nil)
		id, sess, err := s.Create(ctx, 7, "ops@example.com", 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, id)
		if err != nil || got.AdminID != 7 || got.CSRF != sess.CSRF {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		if err := s.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, id); !callscope.Is(err, callscope.Unauthorized) {
			t.Errorf("Get after Delete = %v, want Unauthorized", err)
		}
	})

	t.Run("EveryKeyIsTagged", func(t *testing.T) {
		var (
			mu      sync.Mutex
			keys    []string
			holding int // masters holding keys
		)
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			ks, err := c.Keys(ctx, "*").Result()
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, ks...)
			if len(ks) > 0 {
				holding++
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if holding != 3 {
			t.Errorf("keys on %d of 3 masters: the suite did not exercise the whole cluster", holding)
		}
		if len(keys) < 20 {
			t.Fatalf("only %d keys written: %v", len(keys), keys)
		}
		for _, k := range keys {
			open, close := strings.IndexByte(k, '{'), strings.IndexByte(k, '}')
			if open < 0 || close < open+2 {
				t.Errorf("key %q has no hash tag", k)
			}
		}
	})
}

// findKeysOnDifferentSlots returns two untagged keys that the cluster
// places on different slots.
func findKeysOnDifferentSlots(t *testing.T, cc *redis.ClusterClient) (string, string) {
	t.Helper()
	ctx := context.Background()
	first := "control:a"
	s0, err := cc.ClusterKeySlot(ctx, first).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		k := "control:" + strconv.Itoa(i)
		s, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if s != s0 {
			return first, k
		}
	}
	t.Fatal(errors.New("no two keys on different slots"))
	return "", ""
}
