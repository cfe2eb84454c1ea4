package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope/auth"
)

// gateFor is a Verifier and a RateLimiter on rdb with tight budgets
// (2 per minute, burst 2), as the viewer wires them.
func gateFor(b *bundle, rdb redis.UniversalClient, prefix string) (*auth.Verifier, *auth.RateLimiter, *auth.Revocations) {
	tight := redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Minute}
	revs := auth.NewRevocations(rdb, prefix, func() time.Time { return testNow })
	v := &auth.Verifier{Keys: b.keys, Tenants: b.tenants, Revocations: revs, Limits: auth.DefaultLimits(),
		Now: func() time.Time { return testNow }}
	return v, auth.NewRateLimiter(rdb, prefix, auth.RateLimits{Mint: tight, ViewJTI: tight, ViewIP: tight, Invalid: tight}), revs
}

// checkVerifyView runs VerifyView's contract against rdb (one Redis or a
// cluster); tenants and IPs vary so that keys land on many slots.
func checkVerifyView(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	b := setup(t)
	for i := range 6 {
		tenant := []string{"acme", "beta"}[i%2]
		key := map[string]auth.SigningKey{"acme": b.acmeEd, "beta": b.betaEd}[tenant]
		ip := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 10+i))
		v, rl, revs := gateFor(b, rdb, prefix)

		// Two views of one token pass; the third is over the token's budget
		// and still says whose token it is.
		c := validClaims(tenant, tenant)
		tok := MustMint(t, key, c)
		for try := range 3 {
			got, budget, err := v.VerifyView(ctx, tok, ip, rl)
			if err != nil || got == nil || got.ID != c.ID {
				t.Fatalf("%s try %d: %v %+v", tenant, try, err, got)
			}
			if want := try == 2; budget.Limited != want || (want && budget.RetryAfter <= 0) {
				t.Fatalf("%s try %d: budget %+v", tenant, try, budget)
			}
		}
		// The pipeline charged the same bucket RateLimiter.Allow uses.
		if ok, _, err := rl.AllowViewToken(ctx, c.ID); err != nil || ok {
			t.Errorf("%s: AllowViewToken after the budget was spent: %v %v", tenant, ok, err)
		}

		// A revoked token is refused.
		c2 := validClaims(tenant, tenant)
		tok2 := MustMint(t, key, c2)
		if err := revs.RevokeJTI(ctx, tenant, c2.ID, c2.Expiry); err != nil {
			t.Fatal(err)
		}
		ip2 := netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", 10+i))
		if _, _, err := v.VerifyView(ctx, tok2, ip2, rl); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("%s: revoked token: %v", tenant, err)
		}
		// That refusal spent one of ip2's two invalid-token units; one bad
		// signature spends the other; the next request is rate limited.
		forged := MustMint(t, MustSigningKey(t), validClaims(auth.ServerIssuer, tenant))
		if _, budget, err := v.VerifyView(ctx, forged, ip2, rl); !errors.Is(err, auth.ErrSignature) || budget.Limited {
			t.Errorf("%s: forged token: %v %+v", tenant, err, budget)
		}
		if got, budget, err := v.VerifyView(ctx, forged, ip2, rl); err != nil || got != nil || !budget.Limited || budget.RetryAfter <= 0 {
			t.Errorf("%s: forged token past the budget: %v %+v %+v", tenant, err, got, budget)
		}
		// Even a good token from that IP waits, on this limiter (which
		// remembers) and on a fresh one (which asks Redis).
		fresh := MustMint(t, key, validClaims(tenant, tenant))
		_, rl2, _ := gateFor(b, rdb, prefix)
		for name, l := range map[string]*auth.RateLimiter{"same": rl, "fresh": rl2} {
			if got, budget, err := v.VerifyView(ctx, fresh, ip2, l); err != nil || got != nil || !budget.Limited {
				t.Errorf("%s: %s limiter, good token from a spent IP: %v %+v %+v", tenant, name, err, got, budget)
			}
		}
	}
}

func TestVerifyView(t *testing.T) {
	rdb, prefix := MustRedis(t)
	checkVerifyView(t, rdb, prefix)
}

func TestVerifyViewRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-server processes")
	}
	checkVerifyView(t, MustRedisCluster(t), auth.DefaultRedisPrefix+"gate:")
}

// TestVerifyViewScriptFlushed: a Redis that forgot the GCRA script (a
// restart, SCRIPT FLUSH) is answered with EVAL, and no bucket is charged
// twice.
func TestVerifyViewScriptFlushed(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := MustRedis(t)
	b := setup(t)
	v, rl, _ := gateFor(b, rdb, prefix)
	ip := netip.MustParseAddr("192.0.2.200")
	tok := MustMint(t, b.acmeEd, validClaims("acme", "acme"))
	for try := range 3 {
		if try == 1 {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		_, budget, err := v.VerifyView(ctx, tok, ip, rl)
		if err != nil || budget.Limited != (try == 2) {
			t.Fatalf("try %d: %v %+v", try, err, budget)
		}
	}
}

// TestVerifyViewFailsClosed: no Redis, no view.
func TestVerifyViewFailsClosed(t *testing.T) {
	b := setup(t)
	v, rl, _ := gateFor(b, DeadRedis(t), "dead:")
	tok := MustMint(t, b.acmeEd, validClaims("acme", "acme"))
	got, _, err := v.VerifyView(context.Background(), tok, netip.MustParseAddr("192.0.2.1"), rl)
	if got != nil || !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("dead Redis: %+v %v", got, err)
	}
}
