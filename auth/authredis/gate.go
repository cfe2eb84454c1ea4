package authredis

import (
	"context"
	"net/netip"
	"time"

	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/cache"
)

// ViewBudget says whether a public view request is over one of its
// budgets (the client address's invalid-token budget, the token's or the
// address's view budget), and when to come back.
type ViewBudget struct {
	Limited    bool
	RetryAfter time.Duration
}

// Gate admits the viewer's requests: the token verified (revocation
// included), then the edge's budgets. Safe for concurrent use.
type Gate struct {
	v  *auth.Verifier
	rl *RateLimiter
	// spent remembers, in this process, the addresses Redis said are out of
	// invalid-token budget and until when, so that such an address's
	// unknown tokens are turned away before any key lookup or signature
	// check. It can only refuse what Redis would: nothing but time refills
	// a GCRA bucket, and an entry ends when Redis said the next unit would
	// be free.
	spent *cache.Cache[string, time.Time]
}

// maxSpentAddrs bounds the addresses a Gate remembers.
const maxSpentAddrs = 10000

// NewGate returns the gate of v and rl.
func NewGate(v *auth.Verifier, rl *RateLimiter) *Gate {
	return &Gate{v: v, rl: rl, spent: cache.New[string, time.Time](cache.Options[time.Time]{MaxEntries: maxSpentAddrs})}
}

// Admit runs what every /v/ request passes, in order:
//   - an address out of invalid-token budget is turned away (Limited, nil
//     claims, nil error) before any work, unless the token is one this
//     verifier already found authentic: a spray of garbage from an address
//     must not lock out a link its customer already opened;
//   - the token is verified completely (auth.Verifier.Verify); a refusal
//     other than ErrUnavailable spends one unit of the address's
//     invalid-token budget, and when that budget was already spent the
//     answer is Limited with a nil error instead (refused either way);
//   - the token's budget (its tenant and jti) and the address's view
//     budget are spent: over either, the claims and Limited;
//   - otherwise the claims.
//
// Redis errors fail closed: ErrUnavailable.
func (g *Gate) Admit(ctx context.Context, token string, ip netip.Addr) (*auth.Claims, ViewBudget, error) {
	now := time.Now()
	subject := ipSubject(ip)
	if until, ok := g.spent.Get(subject); ok && now.Before(until) && !g.v.Known(token) {
		return nil, ViewBudget{Limited: true, RetryAfter: until.Sub(now)}, nil
	}
	c, err := g.v.Verify(ctx, token)
	if err != nil {
		if auth.Outcome(err) == string(auth.ErrUnavailable) {
			return nil, ViewBudget{}, err
		}
		allowed, retry, rerr := g.rl.NoteInvalid(ctx, ip)
		if rerr != nil {
			return nil, ViewBudget{}, err // refused either way
		}
		if retry > 0 {
			g.spent.SetUntil(subject, now.Add(retry), now.Add(retry))
		}
		if !allowed {
			return nil, ViewBudget{Limited: true, RetryAfter: retry}, nil
		}
		return nil, ViewBudget{}, err
	}
	for _, allow := range []func() (bool, time.Duration, error){
		func() (bool, time.Duration, error) { return g.rl.AllowViewToken(ctx, c.Tenant, c.ID) },
		func() (bool, time.Duration, error) { return g.rl.AllowViewIP(ctx, ip) },
	} {
		ok, retry, err := allow()
		if err != nil {
			return nil, ViewBudget{}, err
		}
		if !ok {
			return c, ViewBudget{Limited: true, RetryAfter: retry}, nil
		}
	}
	return c, ViewBudget{}, nil
}
