package authredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/cache"
)

// DefaultPrefix namespaces callscope's keys in Redis. The serve wiring and
// the CLI must use the same prefix, or a revocation made by one would be
// invisible to the other.
const DefaultPrefix = "callscope:"

// Revocations keeps view-token revocations in Redis. Keys, with P the
// configured prefix:
//
//	P rev:{tenant}:<jti>    "1", expires when the token would have (+ MaxLeeway)
//	P epoch:{tenant}        unix seconds; tokens issued before it are revoked; no TTL
//	P revstate:{tenant}     unix seconds of the rebuild that wrote the tenant's state; no TTL
//
// The keys of a tenant share the {tenant} hash tag, so they live in one
// Redis Cluster slot: CheckRevoked reads them with one MGET, and Restore
// writes them in one MULTI, so that no FLUSHDB can leave a marker without
// the state it vouches for.
type Revocations struct {
	rdb     redis.Cmdable
	prefix  string
	now     func() time.Time
	rebuild func(ctx context.Context, tenant string) error
	// rebuilds shares one rebuild among the checks of a tenant that find
	// its state gone at once; nothing is kept.
	rebuilds *cache.Cache[string, struct{}]
}

// NewRevocations returns the Redis revocation store. prefix namespaces the
// keys (e.g. "callscope:"); it must not contain '{' or '}'. now may be nil
// for time.Now.
func NewRevocations(rdb redis.Cmdable, prefix string, now func() time.Time) *Revocations {
	if now == nil {
		now = time.Now
	}
	return &Revocations{rdb: rdb, prefix: prefix, now: now,
		rebuilds: cache.New[string, struct{}](cache.Options[struct{}]{MaxEntries: 1})}
}

// SetRebuild sets how a tenant's revocation state is rebuilt from
// PostgreSQL when a check finds it gone: the query role rebuilds it
// itself, the viewer asks query. Without one such checks refuse.
func (r *Revocations) SetRebuild(fn func(ctx context.Context, tenant string) error) { r.rebuild = fn }

var _ auth.RevocationChecker = (*Revocations)(nil)

func (r *Revocations) jtiKey(tenant, jti string) string {
	return r.prefix + "rev:{" + tenant + "}:" + jti
}
func (r *Revocations) epochKey(tenant string) string { return r.prefix + "epoch:{" + tenant + "}" }
func (r *Revocations) stateKey(tenant string) string { return r.prefix + "revstate:{" + tenant + "}" }
func (r *Revocations) keys(tenant, jti string) []string {
	return []string{r.jtiKey(tenant, jti), r.epochKey(tenant), r.stateKey(tenant)}
}

// maxKeyPart bounds a tenant or jti inside a key, as Verify bounds claims.
const maxKeyPart = 256

// checkKeyParts keeps hostile values from breaking the hash tag or the key
// layout: a '}' in a tenant would move the key to another slot, a ':' could
// alias another tenant's keys.
func checkKeyParts(tenant, jti string, needJTI bool) error {
	if tenant == "" || len(tenant) > maxKeyPart || strings.ContainsAny(tenant, "{}: \t\r\n") {
		return callscope.FieldError("tenant", "invalid tenant")
	}
	if needJTI && (jti == "" || len(jti) > maxKeyPart || strings.ContainsAny(jti, " \t\r\n")) {
		return callscope.FieldError("jti", "invalid jti")
	}
	return nil
}

// ErrStateLost is CheckRevoked's error when Redis holds no revocation state
// for the tenant (it lost its data, or the tenant is new to it) and it
// could not be rebuilt: the token must be refused.
var ErrStateLost = callscope.Errorf(callscope.Unavailable, "Redis lost the revocation state; refusing until it is rebuilt from PostgreSQL")

// CheckRevoked reports whether the token jti of tenant is revoked, by
// itself or because it may have been issued (issuedAt) before the tenant's
// epoch. When the tenant's state is gone from Redis it is rebuilt first
// (SetRebuild) and ErrStateLost returned if that fails. Any Redis error is
// returned (wrapped): callers must refuse the token.
func (r *Revocations) CheckRevoked(ctx context.Context, tenant, jti string, issuedAt time.Time) (bool, error) {
	if err := checkKeyParts(tenant, jti, true); err != nil {
		return false, fmt.Errorf("authredis.Revocations.CheckRevoked: %w", err)
	}
	vals, err := r.rdb.MGet(ctx, r.keys(tenant, jti)...).Result()
	if err != nil {
		return false, fmt.Errorf("authredis.Revocations.CheckRevoked: %w", unavailable("revocation store unavailable", err))
	}
	if len(vals) == 3 && vals[2] == nil {
		if err := r.rebuildState(ctx, tenant); err != nil {
			return false, fmt.Errorf("authredis.Revocations.CheckRevoked: %w: %w", ErrStateLost, err)
		}
		if vals, err = r.rdb.MGet(ctx, r.keys(tenant, jti)...).Result(); err != nil {
			return false, fmt.Errorf("authredis.Revocations.CheckRevoked: %w", unavailable("revocation store unavailable", err))
		}
		if vals[2] == nil {
			return false, fmt.Errorf("authredis.Revocations.CheckRevoked: %w", ErrStateLost)
		}
	}
	return revokedBy(vals, issuedAt)
}

func (r *Revocations) rebuildState(ctx context.Context, tenant string) error {
	if r.rebuild == nil {
		return errors.New("no rebuild configured")
	}
	_, err := r.rebuilds.Fetch(ctx, tenant, func(ctx context.Context) (struct{}, time.Duration, error) {
		return struct{}{}, 0, r.rebuild(ctx, tenant)
	})
	return err
}

// revokedBy reads the MGET of [jti key, epoch key, state key].
func revokedBy(vals []any, issuedAt time.Time) (bool, error) {
	if len(vals) != 3 {
		return false, fmt.Errorf("authredis.Revocations.CheckRevoked: MGET returned %d values", len(vals))
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
		return false, fmt.Errorf("authredis.Revocations.CheckRevoked: corrupt epoch: %w", err)
	}
	return issuedAt.Before(time.Unix(epoch, 0)), nil
}

// RevokeJTI revokes one token until its expiry. The key outlives until by
// MaxLeeway, the most a verifier could still accept it; a token already past
// that needs nothing and nothing is written.
func (r *Revocations) RevokeJTI(ctx context.Context, tenant, jti string, until time.Time) error {
	if err := checkKeyParts(tenant, jti, true); err != nil {
		return fmt.Errorf("authredis.Revocations.RevokeJTI: %w", err)
	}
	ttl, ok := r.jtiTTL(until)
	if !ok {
		return nil
	}
	if err := r.rdb.Set(ctx, r.jtiKey(tenant, jti), "1", ttl).Err(); err != nil {
		return fmt.Errorf("authredis.Revocations.RevokeJTI: %w", unavailable("revocation store unavailable", err))
	}
	return nil
}

// jtiTTL is how long the key of a token valid until until must live.
func (r *Revocations) jtiTTL(until time.Time) (time.Duration, bool) {
	ttl := until.Add(auth.MaxLeeway).Sub(r.now())
	if ttl <= 0 {
		return 0, false
	}
	// Round up: Redis TTLs are whole milliseconds and a short key must not
	// expire before the token does.
	return ttl.Truncate(time.Millisecond) + time.Millisecond, true
}

// raiseEpoch only ever moves an epoch forward, atomically: a late or
// mistaken call with an older time must not resurrect revoked tokens.
const raiseEpochSrc = `
local cur = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
local new = tonumber(ARGV[1])
if new > cur then
  redis.call("SET", KEYS[1], ARGV[1])
  return new
end
return cur
`

var raiseEpoch = redis.NewScript(raiseEpochSrc)

// epochSeconds stores an epoch in whole seconds rounded UP, because iat
// has one-second resolution: a token issued in the same second as the
// revocation is revoked too, erring on the side of refusing.
func epochSeconds(at time.Time) int64 {
	sec := at.Unix()
	if at.Nanosecond() > 0 {
		sec++
	}
	return sec
}

// RevokeAllBefore revokes every token of tenant issued before at (the
// tenant epoch). The epoch never moves backwards.
func (r *Revocations) RevokeAllBefore(ctx context.Context, tenant string, at time.Time) error {
	if err := checkKeyParts(tenant, "", false); err != nil {
		return fmt.Errorf("authredis.Revocations.RevokeAllBefore: %w", err)
	}
	if err := raiseEpoch.Run(ctx, r.rdb, []string{r.epochKey(tenant)}, epochSeconds(at)).Err(); err != nil {
		return fmt.Errorf("authredis.Revocations.RevokeAllBefore: %w", unavailable("revocation store unavailable", err))
	}
	return nil
}

// Restore writes a tenant's whole revocation state, as PostgreSQL records
// it, and the marker that says Redis holds it, in one MULTI: either all of
// it is there or the marker is not. It only adds (revoked jtis, a later
// epoch): a revocation made meanwhile is never undone.
func (r *Revocations) Restore(ctx context.Context, st auth.TenantRevocations) error {
	if err := checkKeyParts(st.Tenant, "", false); err != nil {
		return fmt.Errorf("authredis.Revocations.Restore: %w", err)
	}
	for _, j := range st.JTIs {
		if err := checkKeyParts(st.Tenant, j.JTI, true); err != nil {
			return fmt.Errorf("authredis.Revocations.Restore: %w", err)
		}
	}
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, j := range st.JTIs {
			if ttl, ok := r.jtiTTL(j.Until); ok {
				p.Set(ctx, r.jtiKey(st.Tenant, j.JTI), "1", ttl)
			}
		}
		if !st.Epoch.IsZero() {
			// Inside MULTI a script must travel as its source: EVALSHA of
			// a script this node forgot would fail the whole transaction.
			p.Eval(ctx, raiseEpochSrc, []string{r.epochKey(st.Tenant)}, epochSeconds(st.Epoch))
		}
		p.Set(ctx, r.stateKey(st.Tenant), r.now().Unix(), 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("authredis.Revocations.Restore(%s): %w", st.Tenant, unavailable("revocation store unavailable", err))
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
