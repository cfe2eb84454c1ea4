package auth_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/go-redis/redis_rate/v10"
)

// tightLimits allow two events per hour, so a test never sees a refill.
func tightLimits() auth.RateLimits {
	l := redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Hour}
	return auth.RateLimits{Mint: l, ViewJTI: l, ViewIP: l, Invalid: l}
}

func TestRateLimiter(t *testing.T) {
	ctx := context.Background()
	newLimiter := func(t *testing.T) *auth.RateLimiter {
		rdb, prefix := MustRedis(t)
		return auth.NewRateLimiter(rdb, prefix, tightLimits())
	}
	ip := netip.MustParseAddr("192.0.2.7")

	type allowFunc func(l *auth.RateLimiter) (bool, time.Duration, error)
	for name, allow := range map[string]allowFunc{
		"Mint":    func(l *auth.RateLimiter) (bool, time.Duration, error) { return l.AllowMint(ctx, "AbCdEfGh") },
		"ViewJTI": func(l *auth.RateLimiter) (bool, time.Duration, error) { return l.AllowViewToken(ctx, "jti-1") },
		"ViewIP":  func(l *auth.RateLimiter) (bool, time.Duration, error) { return l.AllowViewIP(ctx, ip) },
		"Explicit": func(l *auth.RateLimiter) (bool, time.Duration, error) {
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
	t.Run("InvalidBudget", func(t *testing.T) {
		l := newLimiter(t)
		// Peeking never spends.
		for range 5 {
			if ok, _, err := l.AllowInvalidAttempt(ctx, ip); !ok || err != nil {
				t.Fatalf("fresh IP refused: %v", err)
			}
		}
		if err := l.NoteInvalid(ctx, ip); err != nil {
			t.Fatal(err)
		}
		if ok, _, _ := l.AllowInvalidAttempt(ctx, ip); !ok {
			t.Fatal("refused after one invalid token of a budget of two")
		}
		if err := l.NoteInvalid(ctx, ip); err != nil {
			t.Fatal(err)
		}
		ok, retry, err := l.AllowInvalidAttempt(ctx, ip)
		if err != nil || ok {
			t.Fatalf("still allowed after exhausting the budget: %v", err)
		}
		// One unit frees after one emission interval (30 min here).
		if retry <= 29*time.Minute || retry > 30*time.Minute {
			t.Errorf("retryAfter = %s, want ~30m", retry)
		}
		other := netip.MustParseAddr("192.0.2.8")
		if ok, _, _ := l.AllowInvalidAttempt(ctx, other); !ok {
			t.Error("another IP refused")
		}
		// The invalid budget is separate from the view budget.
		if ok, _, _ := l.AllowViewIP(ctx, ip); !ok {
			t.Error("view budget spent by invalid tokens")
		}
	})
	t.Run("RedisDown", func(t *testing.T) {
		l := auth.NewRateLimiter(DeadRedis(t), "x:", tightLimits())
		if _, _, err := l.AllowMint(ctx, "k"); !callscope.Is(err, callscope.Unavailable) {
			t.Errorf("err = %v, want Unavailable", err)
		}
		if _, _, err := l.AllowInvalidAttempt(ctx, ip); !callscope.Is(err, callscope.Unavailable) {
			t.Errorf("err = %v, want Unavailable", err)
		}
	})
}
