package authredis_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth/authredis"
)

// tightLimits allow two events per hour, so a test never sees a refill.
func tightLimits() authredis.RateLimits {
	l := redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Hour}
	return authredis.RateLimits{Mint: l, ViewToken: l, ViewIP: l, Invalid: l}
}

func TestRateLimiter(t *testing.T) {
	ctx := context.Background()
	newLimiter := func(t *testing.T) *authredis.RateLimiter {
		rdb, prefix := MustRedis(t)
		return authredis.NewRateLimiter(rdb, prefix, tightLimits())
	}
	ip := netip.MustParseAddr("192.0.2.7")

	type allowFunc func(l *authredis.RateLimiter) (bool, time.Duration, error)
	for name, allow := range map[string]allowFunc{
		"Mint": func(l *authredis.RateLimiter) (bool, time.Duration, error) { return l.AllowMint(ctx, "AbCdEfGh") },
		"ViewToken": func(l *authredis.RateLimiter) (bool, time.Duration, error) {
			return l.AllowViewToken(ctx, "acme", "jti-1")
		},
		"ViewIP": func(l *authredis.RateLimiter) (bool, time.Duration, error) { return l.AllowViewIP(ctx, ip) },
		"Explicit": func(l *authredis.RateLimiter) (bool, time.Duration, error) {
			return l.Allow(ctx, "custom", tightLimits().Mint)
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLimiter(t)
			for i := range 2 {
				if ok, _, err := allow(l); err != nil || !ok {
					t.Fatalf("event %d refused: %v", i, err)
				}
			}
			ok, retry, err := allow(l)
			if err != nil || ok {
				t.Fatalf("third event allowed=%v err=%v", ok, err)
			}
			if retry <= 0 || retry > time.Hour {
				t.Errorf("retryAfter = %s", retry)
			}
		})
	}

	t.Run("SubjectsIndependent", func(t *testing.T) {
		l := newLimiter(t)
		for range 2 {
			_, _, _ = l.AllowMint(ctx, "key-A")
		}
		if ok, _, _ := l.AllowMint(ctx, "key-A"); ok {
			t.Fatal("key-A not limited")
		}
		if ok, _, err := l.AllowMint(ctx, "key-B"); !ok || err != nil {
			t.Errorf("key-B limited by key-A: %v", err)
		}
	})
	t.Run("IPv6GroupedBy64", func(t *testing.T) {
		l := newLimiter(t)
		_, _, _ = l.AllowViewIP(ctx, netip.MustParseAddr("2001:db8:1:2::1"))
		_, _, _ = l.AllowViewIP(ctx, netip.MustParseAddr("2001:db8:1:2::2"))
		if ok, _, _ := l.AllowViewIP(ctx, netip.MustParseAddr("2001:db8:1:2:ffff::3")); ok {
			t.Error("same /64 not limited together")
		}
		if ok, _, _ := l.AllowViewIP(ctx, netip.MustParseAddr("2001:db8:1:3::1")); !ok {
			t.Error("another /64 limited")
		}
	})
	t.Run("ViewTokenPerTenant", func(t *testing.T) {
		// A jti is the signer's choice: beta reusing acme's jti spends
		// beta's bucket, never acme's link's.
		l := newLimiter(t)
		for range 3 {
			_, _, _ = l.AllowViewToken(ctx, "beta", "shared")
		}
		if ok, _, err := l.AllowViewToken(ctx, "acme", "shared"); !ok || err != nil {
			t.Errorf("acme's link limited by beta's jti: %v", err)
		}
	})
	t.Run("InvalidBudget", func(t *testing.T) {
		l := newLimiter(t)
		if ok, retry, err := l.NoteInvalid(ctx, ip); !ok || retry != 0 || err != nil {
			t.Fatalf("first invalid token of two: %v %s %v", ok, retry, err)
		}
		// The second unit is the last: allowed, and says how long to wait.
		ok, retry, err := l.NoteInvalid(ctx, ip)
		if !ok || err != nil {
			t.Fatalf("second invalid token of two refused: %v", err)
		}
		// One unit frees after one emission interval (30 min here).
		if retry <= 29*time.Minute || retry > 30*time.Minute {
			t.Errorf("retryAfter = %s, want ~30m", retry)
		}
		if ok, retry, _ := l.NoteInvalid(ctx, ip); ok || retry <= 0 {
			t.Errorf("third invalid token: allowed %v, retry %s", ok, retry)
		}
		other := netip.MustParseAddr("192.0.2.8")
		if ok, _, _ := l.NoteInvalid(ctx, other); !ok {
			t.Error("another address refused")
		}
		// The invalid budget is separate from the view budget.
		if ok, _, _ := l.AllowViewIP(ctx, ip); !ok {
			t.Error("view budget spent by invalid tokens")
		}
	})
	t.Run("RedisDown", func(t *testing.T) {
		l := authredis.NewRateLimiter(DeadRedis(t), "x:", tightLimits())
		if _, _, err := l.AllowMint(ctx, "k"); !callscope.Is(err, callscope.Unavailable) {
			t.Errorf("err = %v, want Unavailable", err)
		}
		if _, _, err := l.NoteInvalid(ctx, ip); !callscope.Is(err, callscope.Unavailable) {
			t.Errorf("err = %v, want Unavailable", err)
		}
	})
}
