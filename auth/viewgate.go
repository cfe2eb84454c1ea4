package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// ViewBudget says whether a public view request is over one of its
// budgets (the client IP's invalid-token budget, the token's or the IP's
// view budget), and when to come back.
type ViewBudget struct {
	Limited    bool
	RetryAfter time.Duration
}

// VerifyView is what the viewer runs for every /v/ request: Verify, plus
// the public edge's three budgets, with every Redis read and write for an
// authentic token in ONE pipelined round trip instead of four:
//
//	client                                Redis
//	  |-- EVALSHA gcra rate:P rl:bad:{ip}   cost 0 (peek) ------>|
//	  |-- MGET  P rev:{tenant}:<jti>  P epoch:{tenant} --------->|
//	  |-- EVALSHA gcra rate:P rl:view:{jti} cost 1 ------------->|
//	  |-- EVALSHA gcra rate:P rl:ip:{ip}    cost 1 ------------->|
//	  |<------------------------------------ four replies -------|
//
// Each command touches the keys of one hash tag, so the pipeline works on
// a Redis Cluster (go-redis splits it by slot); no script ever touches two
// slots. The buckets are the same keys and the same GCRA state as
// RateLimiter.Allow (redis_rate's), so both paths share budgets.
//
// Outcomes, in the order the viewer always applied them:
//   - the IP is out of invalid-token budget: Limited, nil claims, nil error
//     (checked before any signature work when this process already heard it
//     from Redis; otherwise from the pipeline's peek);
//   - the token is refused: nil claims and Verify's error; a refusal other
//     than ErrUnavailable spends one unit of the IP's invalid-token budget,
//     and when that budget was already spent the answer is Limited with a
//     nil error instead (the token is refused either way);
//   - the token's or the IP's view budget is spent: the claims and Limited;
//   - otherwise the claims, not limited.
//
// Redis errors fail closed: ErrUnavailable. Unlike the sequential checks,
// the view budgets are spent in the same round trip as the revocation read,
// so a revoked token, or one from an IP out of invalid-token budget, also
// spends from its view budgets: refusing more, never less.
//
// When v.Revocations is not a *Revocations on the same Redis client as rl,
// the same checks run one after another.
func (v *Verifier) VerifyView(ctx context.Context, token string, ip netip.Addr, rl *RateLimiter) (*Claims, ViewBudget, error) {
	revs, ok := v.Revocations.(*Revocations)
	if !ok || rl == nil || rl.rdb == nil || any(revs.rdb) != any(rl.rdb) {
		return v.verifyViewSequential(ctx, token, ip, rl)
	}
	now := time.Now()
	if until, spent := rl.spent.get(ip, now); spent {
		return nil, ViewBudget{Limited: true, RetryAfter: until.Sub(now)}, nil
	}
	c, err := v.verifyLocal(ctx, token)
	if err != nil {
		return v.refusedView(ctx, ip, rl, v.observe(err))
	}
	if err := checkKeyParts(c.Tenant, c.ID, true); err != nil {
		return nil, ViewBudget{}, v.observe(refuse(ErrUnavailable, "revocation check", err))
	}
	res, err := rl.viewRound(ctx, revs, ip, c)
	if err != nil {
		return nil, ViewBudget{}, v.observe(refuse(ErrUnavailable, "revocation check and view budgets", err))
	}
	if res.bad.Remaining < 1 {
		retry := invalidRetry(rl.limits.Invalid, res.bad.ResetAfter)
		rl.spent.put(ip, now.Add(retry))
		return nil, ViewBudget{Limited: true, RetryAfter: retry}, nil
	}
	revoked, rerr := revokedBy(res.revocation, c.IssuedAt)
	if err := revocationOutcome(revoked, rerr); err != nil {
		return v.refusedView(ctx, ip, rl, v.observe(err))
	}
	v.observe(nil)
	for _, r := range []redis_rate.Result{res.token, res.ip} {
		if r.Allowed == 0 {
			return c, ViewBudget{Limited: true, RetryAfter: max(r.RetryAfter, time.Millisecond)}, nil
		}
	}
	return c, ViewBudget{}, nil
}

func (v *Verifier) observe(err error) error {
	if v.Observe != nil {
		v.Observe(err)
	}
	return err
}

// refusedView spends one unit of ip's invalid-token budget for a refused
// token and returns VerifyView's answer: err, or Limited and no error when
// the budget was already spent. A refusal because something was
// unavailable spends nothing; a Redis failure while spending changes
// nothing (the token is refused anyway).
func (v *Verifier) refusedView(ctx context.Context, ip netip.Addr, rl *RateLimiter, err error) (*Claims, ViewBudget, error) {
	if Outcome(err) == "unavailable" {
		return nil, ViewBudget{}, err
	}
	lim := rl.limits.Invalid
	res, rerr := rl.limiter.Allow(ctx, rl.prefix+tag("bad", ipSubject(ip)), lim)
	if rerr != nil || res.Allowed > 0 {
		return nil, ViewBudget{}, err
	}
	retry := invalidRetry(lim, res.ResetAfter)
	rl.spent.put(ip, time.Now().Add(retry))
	return nil, ViewBudget{Limited: true, RetryAfter: retry}, nil
}

// verifyViewSequential is VerifyView one Redis command at a time, for a
// revocation checker that is not this package's Redis store.
func (v *Verifier) verifyViewSequential(ctx context.Context, token string, ip netip.Addr, rl *RateLimiter) (*Claims, ViewBudget, error) {
	if rl == nil {
		return nil, ViewBudget{}, refuse(ErrUnavailable, "no rate limiter", nil)
	}
	ok, retry, err := rl.AllowInvalidAttempt(ctx, ip)
	if err != nil {
		return nil, ViewBudget{}, refuse(ErrUnavailable, "invalid-token budget", err)
	}
	if !ok {
		return nil, ViewBudget{Limited: true, RetryAfter: retry}, nil
	}
	c, err := v.Verify(ctx, token)
	if err != nil {
		if Outcome(err) != "unavailable" {
			_ = rl.NoteInvalid(ctx, ip) // refused either way
		}
		return nil, ViewBudget{}, err
	}
	for _, allow := range []func() (bool, time.Duration, error){
		func() (bool, time.Duration, error) { return rl.AllowViewToken(ctx, c.ID) },
		func() (bool, time.Duration, error) { return rl.AllowViewIP(ctx, ip) },
	} {
		ok, retry, err := allow()
		if err != nil {
			return nil, ViewBudget{}, refuse(ErrUnavailable, "view budget", err)
		}
		if !ok {
			return c, ViewBudget{Limited: true, RetryAfter: retry}, nil
		}
	}
	return c, ViewBudget{}, nil
}

// viewRoundResult holds the four replies of VerifyView's round trip.
type viewRoundResult struct {
	bad        redis_rate.Result // peek, cost 0
	revocation []any             // MGET jti key, epoch key
	token, ip  redis_rate.Result
}

// viewRound sends VerifyView's pipeline. A node that lost the script
// cache (NOSCRIPT) gets that one command again as EVAL, so no bucket is
// ever charged twice.
func (l *RateLimiter) viewRound(ctx context.Context, revs *Revocations, ip netip.Addr, c *Claims) (viewRoundResult, error) {
	var out viewRoundResult
	sub := ipSubject(ip)
	type gcraCall struct {
		key  string
		lim  redis_rate.Limit
		cost int
		dst  *redis_rate.Result
		cmd  *redis.Cmd
	}
	calls := []*gcraCall{
		{key: l.prefix + tag("bad", sub), lim: l.limits.Invalid, cost: 0, dst: &out.bad},
		{key: l.prefix + tag("view", c.ID), lim: l.limits.ViewJTI, cost: 1, dst: &out.token},
		{key: l.prefix + tag("ip", sub), lim: l.limits.ViewIP, cost: 1, dst: &out.ip},
	}
	pipe := l.rdb.Pipeline()
	calls[0].cmd = gcra.EvalSha(ctx, pipe, []string{rateKeyPrefix + calls[0].key}, gcraArgs(calls[0].lim, calls[0].cost)...)
	mget := pipe.MGet(ctx, revs.jtiKey(c.Tenant, c.ID), revs.epochKey(c.Tenant))
	for _, g := range calls[1:] {
		g.cmd = gcra.EvalSha(ctx, pipe, []string{rateKeyPrefix + g.key}, gcraArgs(g.lim, g.cost)...)
	}
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	vals, err := mget.Result()
	if err != nil {
		return out, fmt.Errorf("auth.RateLimiter.viewRound: %w", unavailable("revocation store unavailable", err))
	}
	out.revocation = vals
	for _, g := range calls {
		cmd := g.cmd
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			cmd = gcra.Eval(ctx, l.rdb, []string{rateKeyPrefix + g.key}, gcraArgs(g.lim, g.cost)...)
		}
		r, err := gcraResult(cmd)
		if err != nil {
			return out, fmt.Errorf("auth.RateLimiter.viewRound: %w", unavailable("rate limiter unavailable", err))
		}
		*g.dst = r
	}
	return out, nil
}

// rateKeyPrefix is redis_rate's own key prefix: our buckets are its keys.
const rateKeyPrefix = "rate:"

// gcra is the generic cell rate algorithm on one key, storing the same
// state as redis_rate (the theoretical arrival time, in seconds since
// 2017-01-01 as a float, expiring when the bucket is full again) so that
// its buckets and ours are the same buckets. ARGV: burst, rate, period in
// seconds, cost. Replies {allowed, remaining, retry_after, reset_after},
// the last two as strings of seconds (retry_after -1 when allowed). Cost 0
// reads without writing.
var gcra = redis.NewScript(`
redis.replicate_commands()
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[3]) / tonumber(ARGV[2])
local cost = tonumber(ARGV[4])
local t = redis.call("TIME")
local now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call("GET", key) or "") or now
if tat < now then tat = now end
local next_tat = tat + interval * cost
local slack = now - (next_tat - interval * burst)
if slack < 0 then
  return {0, 0, tostring(-slack), tostring(tat - now)}
end
local reset = next_tat - now
if cost > 0 and reset > 0 then
  redis.call("SET", key, next_tat, "EX", math.ceil(reset))
end
return {cost, math.floor(slack / interval), "-1", tostring(reset)}
`)

func gcraArgs(lim redis_rate.Limit, cost int) []any {
	return []any{lim.Burst, lim.Rate, lim.Period.Seconds(), cost}
}

func gcraResult(cmd *redis.Cmd) (redis_rate.Result, error) {
	v, err := cmd.Slice()
	if err != nil {
		return redis_rate.Result{}, err
	}
	if len(v) != 4 {
		return redis_rate.Result{}, fmt.Errorf("gcra: %d replies", len(v))
	}
	allowed, ok1 := v[0].(int64)
	remaining, ok2 := v[1].(int64)
	retry, err1 := secondsOf(v[2])
	reset, err2 := secondsOf(v[3])
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return redis_rate.Result{}, fmt.Errorf("gcra: malformed reply %v", v)
	}
	return redis_rate.Result{Allowed: int(allowed), Remaining: int(remaining), RetryAfter: retry, ResetAfter: reset}, nil
}

func secondsOf(v any) (time.Duration, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("not a string")
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if f < 0 {
		return -1, nil
	}
	return time.Duration(f * float64(time.Second)), nil
}

// spentIPs remembers, in this process, the IPs Redis said are out of
// invalid-token budget and until when, so that such an IP is turned away
// before any signature work or Redis round trip. It can only refuse what
// Redis would refuse: nothing but time refills a GCRA bucket, and the entry
// ends when Redis said the next unit would be free. Bounded; when full it
// starts over (costing round trips, never a wrong answer).
type spentIPs struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const maxSpentIPs = 10000

func (s *spentIPs) get(ip netip.Addr, now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.m[ipSubject(ip)]
	if !ok {
		return time.Time{}, false
	}
	if !now.Before(until) {
		delete(s.m, ipSubject(ip))
		return time.Time{}, false
	}
	return until, true
}

func (s *spentIPs) put(ip netip.Addr, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxSpentIPs {
		s.m = make(map[string]time.Time)
	}
	s.m[ipSubject(ip)] = until
}
