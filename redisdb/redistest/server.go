package redistest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server starts a redis-server of the test's own on a free loopback port,
// without persistence, and returns a client of it; it is stopped in
// Cleanup. A test that needs FLUSHDB, CONFIG SET or a restart uses it, so
// that it never touches the Redis other tests share. Without redis-server
// the test is skipped, unless CALLSCOPE_E2E_REQUIRE=1 says every peer must
// be there. extra are more redis-server arguments ("--maxmemory-policy",
// "allkeys-lru").
func Server(tb testing.TB, extra ...string) *redis.Client {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		msg := "redis-server not installed (apt-get install redis-server): test skipped"
		if os.Getenv("CALLSCOPE_E2E_REQUIRE") == "1" {
			tb.Fatal(msg + ", but CALLSCOPE_E2E_REQUIRE=1")
		}
		tb.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var out bytes.Buffer
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", tb.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""}, extra...)
	cmd := exec.Command("redis-server", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("redistest: start redis-server: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck
		cmd.Wait()         //nolint:errcheck
		if tb.Failed() {
			tb.Logf("redis-server on port %d:\n%s", port, out.String())
		}
	})
	c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for c.Ping(ctx).Err() != nil {
		if ctx.Err() != nil {
			tb.Fatalf("redistest: redis-server on port %d never answered:\n%s", port, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}
