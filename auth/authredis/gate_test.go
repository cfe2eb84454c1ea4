package authredis_test

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
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/auth/authtest"
)

// gateFor is a Verifier and a Gate on rdb with tight budgets (2 per
// minute, burst 2), as the viewer wires them.
func gateFor(b *authtest.Bundle, rdb redis.UniversalClient, prefix string) (*authredis.Gate, *authredis.Revocations, *authredis.RateLimiter) {
	tight := redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Minute}
	revs := newRevocations(rdb, prefix)
	v := &auth.Verifier{Keys: b.Keys, Tenants: b.Tenants, Revocations: revs, Limits: auth.DefaultLimits(),
		Now: func() time.Time { return testNow }, Memo: auth.NewMemo()}
	rl := authredis.NewRateLimiter(rdb, prefix, authredis.RateLimits{Mint: tight, ViewToken: tight, ViewIP: tight, Invalid: tight})
	return authredis.NewGate(v, rl), revs, rl
}

// checkGate runs the Gate's contract against rdb (one Redis or a cluster);
// tenants and addresses vary so that keys land on many slots.
func checkGate(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	b := setup(t)
	for i := range 6 {
		tenant := []string{"acme", "beta"}[i%2]
		key := map[string]auth.SigningKey{"acme": b.AcmeEd, "beta": b.BetaEd}[tenant]
		ip := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 10+i))
		g, revs, rl := gateFor(b, rdb, prefix)

		// Two views of one token pass; the third is over the token's budget
		// and still says whose token it is.
		c := validClaims(tenant, tenant)
		tok := MustMint(t, key, c)
		for try := range 3 {
			got, budget, err := g.Admit(ctx, tok, ip)
			if err != nil || got == nil || got.ID != c.ID {
				t.Fatalf("%s try %d: %v %+v", tenant, try, err, got)
			}
			if want := try == 2; budget.Limited != want || (want && budget.RetryAfter <= 0) {
				t.Fatalf("%s try %d: budget %+v", tenant, try, budget)
			}
		}
		// The token's bucket is redis_rate's, through its API.
		if ok, _, err := rl.AllowViewToken(ctx, tenant, c.ID); err != nil || ok {
			t.Errorf("%s: AllowViewToken after the budget was spent: %v %v", tenant, ok, err)
		}

		// A revoked token is refused.
		c2 := validClaims(tenant, tenant)
		tok2 := MustMint(t, key, c2)
		if err := revs.RevokeJTI(ctx, tenant, c2.ID, c2.Expiry); err != nil {
			t.Fatal(err)
		}
		ip2 := netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", 10+i))
		if _, _, err := g.Admit(ctx, tok2, ip2); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("%s: revoked token: %v", tenant, err)
		}
		// That refusal spent one of ip2's two invalid-token units; one bad
		// signature spends the other; the next request is rate limited.
		forged := MustMint(t, MustSigningKey(t), validClaims(auth.ServerIssuer, tenant))
		if _, budget, err := g.Admit(ctx, forged, ip2); !errors.Is(err, auth.ErrSignature) || budget.Limited {
			t.Errorf("%s: forged token: %v %+v", tenant, err, budget)
		}
		if got, budget, err := g.Admit(ctx, forged, ip2); err != nil || got != nil || !budget.Limited || budget.RetryAfter <= 0 {
			t.Errorf("%s: forged token past the budget: %v %+v %+v", tenant, err, got, budget)
		}
		// A good token from that address that it never opened waits, on
		// this gate (which remembers)...
		fresh := MustMint(t, key, validClaims(tenant, tenant))
		if got, budget, err := g.Admit(ctx, fresh, ip2); err != nil || got != nil || !budget.Limited {
			t.Errorf("%s: unknown good token from a spent address: %v %+v %+v", tenant, err, got, budget)
		}
	}
}

func TestGate(t *testing.T) {
	rdb, prefix := MustRedis(t)
	checkGate(t, rdb, prefix)
}

func TestGateRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-server processes")
	}
	checkGate(t, MustRedisCluster(t), authredis.DefaultPrefix+"gate:")
}

// TestGateSprayKeepsOpenedLinks: an address spraying garbage runs out of
// invalid-token budget, and still opens the link its customer already
// opened; another address is not affected at all.
func TestGateSprayKeepsOpenedLinks(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := MustRedis(t)
	b := setup(t)
	g, _, _ := gateFor(b, rdb, prefix)
	ip, other := netip.MustParseAddr("192.0.2.77"), netip.MustParseAddr("192.0.2.78")
	link := MustMint(t, b.AcmeEd, validClaims("acme", "acme"))
	if _, budget, err := g.Admit(ctx, link, ip); err != nil || budget.Limited {
		t.Fatalf("first view: %v %+v", err, budget)
	}
	limited := false
	for i := range 20 {
		_, budget, err := g.Admit(ctx, fmt.Sprintf("garbage.%d.token", i), ip)
		if err == nil && !budget.Limited {
			t.Fatalf("garbage %d accepted", i)
		}
		limited = limited || budget.Limited
	}
	if !limited {
		t.Fatal("the spray never ran out of budget")
	}
	if c, budget, err := g.Admit(ctx, link, ip); err != nil || c == nil || budget.Limited {
		t.Errorf("the opened link after the spray: %v %+v %+v", err, c, budget)
	}
	otherLink := MustMint(t, b.BetaEd, validClaims("beta", "beta"))
	if c, budget, err := g.Admit(ctx, otherLink, other); err != nil || c == nil || budget.Limited {
		t.Errorf("another address after the spray: %v %+v %+v", err, c, budget)
	}
}

// TestGateFailsClosed: no Redis, no view.
func TestGateFailsClosed(t *testing.T) {
	b := setup(t)
	g, _, _ := gateFor(b, DeadRedis(t), "dead:")
	tok := MustMint(t, b.AcmeEd, validClaims("acme", "acme"))
	got, _, err := g.Admit(context.Background(), tok, netip.MustParseAddr("192.0.2.1"))
	if got != nil || !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("dead Redis: %+v %v", got, err)
	}
}
