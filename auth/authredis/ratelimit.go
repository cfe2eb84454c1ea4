package authredis

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
	Mint      redis_rate.Limit // POST /api/v1/view-tokens, per API key
	ViewToken redis_rate.Limit // GET /v/{token}..., per token (tenant and jti)
	ViewIP    redis_rate.Limit // GET /v/{token}..., per client address
	Invalid   redis_rate.Limit // refused tokens, per client address: stricter
}

// DefaultRateLimits are generous for people and orchestrators and tight for
// anyone guessing tokens: an address that sent 20 bad tokens waits ~6 s
// per try.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Mint:      redis_rate.Limit{Rate: 50, Burst: 100, Period: time.Second},
		ViewToken: redis_rate.Limit{Rate: 120, Burst: 60, Period: time.Minute},
		ViewIP:    redis_rate.Limit{Rate: 300, Burst: 100, Period: time.Minute},
		Invalid:   redis_rate.Limit{Rate: 10, Burst: 20, Period: time.Minute},
	}
}

// RateLimiter applies GCRA limits in Redis through redis_rate's API. Keys
// look like
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
	prefix  string
	limits  RateLimits
}

// NewRateLimiter returns a limiter over rdb with key prefix and limits.
func NewRateLimiter(rdb redis.UniversalClient, prefix string, limits RateLimits) *RateLimiter {
	return &RateLimiter{limiter: redis_rate.NewLimiter(rdb), prefix: prefix, limits: limits}
}

// Allow takes one event from the bucket key under limit. When refused,
// retryAfter says when to come back.
func (l *RateLimiter) Allow(ctx context.Context, key string, limit redis_rate.Limit) (allowed bool, retryAfter time.Duration, err error) {
	res, err := l.limiter.Allow(ctx, l.prefix+key, limit)
	if err != nil {
		return false, 0, fmt.Errorf("authredis.RateLimiter.Allow: %w", unavailable("rate limiter unavailable", err))
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, max(res.RetryAfter, time.Millisecond), nil
}

// tag builds "rl:<bucket>:{<subject>}". Subjects are ours (a key prefix, a
// tenant and jti, an address) but braces are stripped anyway so nothing can
// split the tag.
func tag(bucket, subject string) string {
	return "rl:" + bucket + ":{" + braceless.Replace(subject) + "}"
}

var braceless = strings.NewReplacer("{", "", "}", "")

// AllowMint limits token minting per API key; apiKeyPrefix is the public
// display prefix of the key, never the secret.
func (l *RateLimiter) AllowMint(ctx context.Context, apiKeyPrefix string) (bool, time.Duration, error) {
	return l.Allow(ctx, tag("mint", apiKeyPrefix), l.limits.Mint)
}

// AllowViewToken limits page and download requests per token, so that one
// leaked link cannot be used to hammer query. The bucket is the tenant's
// and the jti's: a jti is chosen by whoever signs, and another tenant
// reusing it must not spend this tenant's link's budget.
func (l *RateLimiter) AllowViewToken(ctx context.Context, tenant, jti string) (bool, time.Duration, error) {
	return l.Allow(ctx, tag("view", tenant+"/"+jti), l.limits.ViewToken)
}

// AllowViewIP limits view requests per client address.
func (l *RateLimiter) AllowViewIP(ctx context.Context, ip netip.Addr) (bool, time.Duration, error) {
	return l.Allow(ctx, tag("ip", ipSubject(ip)), l.limits.ViewIP)
}

// NoteInvalid spends one unit of ip's invalid-token budget for a refused
// token. allowed is false when the budget was already spent; retryAfter is
// then, or when this unit spent the last of it, how long the address waits
// for the next unit.
func (l *RateLimiter) NoteInvalid(ctx context.Context, ip netip.Addr) (allowed bool, retryAfter time.Duration, err error) {
	lim := l.limits.Invalid
	res, err := l.limiter.Allow(ctx, l.prefix+tag("bad", ipSubject(ip)), lim)
	if err != nil {
		return false, 0, fmt.Errorf("authredis.RateLimiter.NoteInvalid: %w", unavailable("rate limiter unavailable", err))
	}
	if res.Allowed == 0 {
		return false, max(res.RetryAfter, time.Millisecond), nil
	}
	if res.Remaining < 1 {
		return true, invalidRetry(lim, res.ResetAfter), nil
	}
	return true, 0, nil
}

// invalidRetry is how long an address whose invalid-token bucket resets
// after resetAfter waits for one more unit: the bucket drains to Burst−1
// used.
func invalidRetry(lim redis_rate.Limit, resetAfter time.Duration) time.Duration {
	emission := lim.Period / time.Duration(max(lim.Rate, 1))
	retry := resetAfter - time.Duration(max(lim.Burst-1, 0))*emission
	return max(retry, time.Millisecond)
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
