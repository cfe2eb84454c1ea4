package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/callscope/callscope"
	"github.com/redis/go-redis/v9"
)

// Revocations keeps view-token revocations in Redis. Keys, with P the
// configured prefix:
//
//	P rev:{tenant}:<jti>   "1", expires when the token would have (+ MaxLeeway)
//	P epoch:{tenant}       unix seconds; tokens with iat before it are revoked; no TTL
//
// Both keys of a tenant share the {tenant} hash tag, so they live in one
// Redis Cluster slot and CheckRevoked reads them with a single MGET.
type Revocations struct {
	rdb    redis.Cmdable
	prefix string
	now    func() time.Time
}

// NewRevocations returns the Redis revocation store. prefix namespaces the
// keys (e.g. "callscope:"); it must not contain '{' or '}'. now may be nil
// for time.Now.
func NewRevocations(rdb redis.Cmdable, prefix string, now func() time.Time) *Revocations {
	if now == nil {
		now = time.Now
	}
	return &Revocations{rdb: rdb, prefix: prefix, now: now}
}

var _ RevocationChecker = (*Revocations)(nil)

func (r *Revocations) jtiKey(tenant, jti string) string {
	return r.prefix + "rev:{" + tenant + "}:" + jti
}

func (r *Revocations) epochKey(tenant string) string {
	return r.prefix + "epoch:{" + tenant + "}"
}

// checkKeyParts keeps hostile values from breaking the hash tag or the key
// layout: a '}' in a tenant would move the key to another slot, a ':' could
// alias another tenant's keys.
func checkKeyParts(tenant, jti string, needJTI bool) error {
	if tenant == "" || len(tenant) > maxClaimLen || strings.ContainsAny(tenant, "{}: \t\r\n") {
		return fieldErr("tenant", "invalid tenant")
	}
	if needJTI && (jti == "" || len(jti) > maxClaimLen || strings.ContainsAny(jti, " \t\r\n")) {
		return fieldErr("jti", "invalid jti")
	}
	return nil
}

// CheckRevoked reports whether the token jti of tenant is revoked, either by
// itself or because issuedAt precedes the tenant's epoch. Any Redis error is
// returned (wrapped): callers must refuse the token.
func (r *Revocations) CheckRevoked(ctx context.Context, tenant, jti string, issuedAt time.Time) (bool, error) {
	if err := checkKeyParts(tenant, jti, true); err != nil {
		return false, fmt.Errorf("auth.Revocations.CheckRevoked: %w", err)
	}
	vals, err := r.rdb.MGet(ctx, r.jtiKey(tenant, jti), r.epochKey(tenant)).Result()
	if err != nil {
		return false, fmt.Errorf("auth.Revocations.CheckRevoked: %w", unavailable("revocation store unavailable", err))
	}
	return revokedBy(vals, issuedAt)
}

// revokedBy reads the MGET of [jti key, epoch key].
func revokedBy(vals []any, issuedAt time.Time) (bool, error) {
	if len(vals) != 2 {
		return false, fmt.Errorf("auth.Revocations.CheckRevoked: MGET returned %d values", len(vals))
	}
	if vals[0] != nil {
		return true, nil
	}
	if vals[1] == nil {
		return false, nil
	}
	s, _ := vals[1].(string)
	epoch, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// A corrupt epoch must not silently un-revoke a tenant's tokens.
		return false, fmt.Errorf("auth.Revocations.CheckRevoked: corrupt epoch: %w", err)
	}
	return issuedAt.Unix() < epoch, nil
}

// RevokeJTI revokes one token until its expiry. The key outlives until by
// MaxLeeway, the most a verifier could still accept it; a token already past
// that needs nothing and nothing is written.
func (r *Revocations) RevokeJTI(ctx context.Context, tenant, jti string, until time.Time) error {
	if err := checkKeyParts(tenant, jti, true); err != nil {
		return fmt.Errorf("auth.Revocations.RevokeJTI: %w", err)
	}
	ttl := until.Add(MaxLeeway).Sub(r.now())
	if ttl <= 0 {
		return nil
	}
	// Round up: Redis TTLs are whole milliseconds and a short key must not
	// expire before the token does.
	ttl = ttl.Truncate(time.Millisecond) + time.Millisecond
	if err := r.rdb.Set(ctx, r.jtiKey(tenant, jti), "1", ttl).Err(); err != nil {
		return fmt.Errorf("auth.Revocations.RevokeJTI: %w", unavailable("revocation store unavailable", err))
	}
	return nil
}

// raiseEpoch only ever moves an epoch forward, atomically: a late or
// mistaken call with an older time must not resurrect revoked tokens.
var raiseEpoch = redis.NewScript(`
local cur = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
local new = tonumber(ARGV[1])
if new > cur then
  redis.call("SET", KEYS[1], ARGV[1])
  return new
end
return cur
`)

// RevokeAllBefore revokes every token of tenant issued before at (the
// tenant epoch). The epoch is stored in whole seconds rounded UP, because
// iat has one-second resolution: a token issued in the same second as the
// revocation is revoked too, erring on the side of refusing. The epoch never
// moves backwards.
func (r *Revocations) RevokeAllBefore(ctx context.Context, tenant string, at time.Time) error {
	if err := checkKeyParts(tenant, "", false); err != nil {
		return fmt.Errorf("auth.Revocations.RevokeAllBefore: %w", err)
	}
	sec := at.Unix()
	if at.Nanosecond() > 0 {
		sec++
	}
	if err := raiseEpoch.Run(ctx, r.rdb, []string{r.epochKey(tenant)}, sec).Err(); err != nil {
		return fmt.Errorf("auth.Revocations.RevokeAllBefore: %w", unavailable("revocation store unavailable", err))
	}
	return nil
}

// unavailable classifies a Redis failure for the HTTP edge.
func unavailable(msg string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &callscope.Error{Kind: callscope.Unavailable, Message: msg, Err: err}
}
