package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// RateLimits are the budgets of the public edge.
type RateLimits struct {
	Mint    redis_rate.Limit // POST /api/v1/view-tokens, per API key
	ViewJTI redis_rate.Limit // GET /v/{token}..., per token
	ViewIP  redis_rate.Limit // GET /v/{token}..., per client IP
	Invalid redis_rate.Limit // refused tokens, per client IP: stricter
}

// DefaultRateLimits are generous for people and orchestrators and tight for
// anyone guessing tokens: an IP that sent 20 bad tokens waits ~6 s per try.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Mint:    redis_rate.Limit{Rate: 50, Burst: 100, Period: time.Second},
		ViewJTI: redis_rate.Limit{Rate: 120, Burst: 60, Period: time.Minute},
		ViewIP:  redis_rate.Limit{Rate: 300, Burst: 100, Period: time.Minute},
		Invalid: redis_rate.Limit{Rate: 10, Burst: 20, Period: time.Minute},
	}
}

// RateLimiter applies GCRA limits in Redis (redis_rate). Keys look like
//
//	rate:P rl:<bucket>:{<subject>}
//
// where "rate:" is redis_rate's own prefix, P ours, and the {subject} hash
// tag keeps every bucket of one subject on one Redis Cluster slot.
//
// All methods return Redis errors as they come; the edge decides whether a
// limiter outage fails open or closed (the viewer fails closed anyway,
// since revocation needs the same Redis).
type RateLimiter struct {
	limiter *redis_rate.Limiter
	rdb     redis.UniversalClient
	prefix  string
	limits  RateLimits
	spent   spentIPs // IPs Redis said are out of invalid-token budget
}

// NewRateLimiter returns a limiter over rdb with key prefix and limits.
func NewRateLimiter(rdb redis.UniversalClient, prefix string, limits RateLimits) *RateLimiter {
	return &RateLimiter{limiter: redis_rate.NewLimiter(rdb), rdb: rdb, prefix: prefix, limits: limits}
}

// Allow takes one event from the bucket key under limit. When refused,
// retryAfter says when to come back.
func (l *RateLimiter) Allow(ctx context.Context, key string, limit redis_rate.Limit) (allowed bool, retryAfter time.Duration, err error) {
	res, err := l.limiter.Allow(ctx, l.prefix+key, limit)
	if err != nil {
		return false, 0, fmt.Errorf("auth.RateLimiter.Allow: %w", unavailable("rate limiter unavailable", err))
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, time.Millisecond), nil
}

// tag builds "rl:<bucket>:{<subject>}". Subjects are ours (a key prefix, a
// jti, an IP) but braces are stripped anyway so nothing can split the tag.
func tag(bucket, subject string) string {
	return "rl:" + bucket + ":{" + braceless.Replace(subject) + "}"
}

// braceless is built once: a Replacer builds its tables on first use, and
// one per view was the viewer's largest single allocation.
var braceless = strings.NewReplacer("{", "", "}", "")

// AllowMint limits token minting per API key; apiKeyPrefix is the public
// display prefix from ParseAPIKey, never the secret.
func (l *RateLimiter) AllowMint(ctx context.Context, apiKeyPrefix string) (bool, time.Duration, error) {
	return l.Allow(ctx, tag("mint", apiKeyPrefix), l.limits.Mint)
}

// AllowViewToken limits page and download requests per token jti, so one
// leaked link cannot be used to hammer query.
func (l *RateLimiter) AllowViewToken(ctx context.Context, jti string) (bool, time.Duration, error) {
	return l.Allow(ctx, tag("view", jti), l.limits.ViewJTI)
}

// AllowViewIP limits view requests per client address.
func (l *RateLimiter) AllowViewIP(ctx context.Context, ip netip.Addr) (bool, time.Duration, error) {
	return l.Allow(ctx, tag("ip", ipSubject(ip)), l.limits.ViewIP)
}

// AllowInvalidAttempt reports whether ip still has budget for a bad token.
// The viewer calls it BEFORE any signature work, and calls NoteInvalid after
// refusing a token: an IP that keeps sending garbage is then turned away
// for the price of one Redis round trip. It does not consume budget.
func (l *RateLimiter) AllowInvalidAttempt(ctx context.Context, ip netip.Addr) (bool, time.Duration, error) {
	lim := l.limits.Invalid
	// Cost 0 peeks at the bucket without spending from it.
	res, err := l.limiter.AllowN(ctx, l.prefix+tag("bad", ipSubject(ip)), lim, 0)
	if err != nil {
		return false, 0, fmt.Errorf("auth.RateLimiter.AllowInvalidAttempt: %w", unavailable("rate limiter unavailable", err))
	}
	if res.Remaining >= 1 {
		return true, 0, nil
	}
	return false, invalidRetry(lim, res.ResetAfter), nil
}

// invalidRetry is how long an IP whose invalid-token bucket resets after
// resetAfter waits for one more unit: the bucket drains to Burst−1 used.
func invalidRetry(lim redis_rate.Limit, resetAfter time.Duration) time.Duration {
	emission := lim.Period / time.Duration(max(lim.Rate, 1))
	retry := resetAfter - time.Duration(max(lim.Burst-1, 0))*emission
	return max(retry, time.Millisecond)
}

// NoteInvalid spends one unit of ip's invalid-token budget.
func (l *RateLimiter) NoteInvalid(ctx context.Context, ip netip.Addr) error {
	if _, err := l.limiter.Allow(ctx, l.prefix+tag("bad", ipSubject(ip)), l.limits.Invalid); err != nil {
		return fmt.Errorf("auth.RateLimiter.NoteInvalid: %w", unavailable("rate limiter unavailable", err))
	}
	return nil
}

// ipSubject groups IPv6 clients by /64: one host usually owns a whole /64,
// so per-address limits would be trivially sidestepped.
func ipSubject(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, err := ip.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return ip.String()
}
