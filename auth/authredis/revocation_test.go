package authredis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/redisdb/redistest"
)

func TestRevocations(t *testing.T) {
	ctx := context.Background()
	setupRevs := func(t *testing.T) (*authredis.Revocations, func(key string) time.Duration, string) {
		rdb, prefix := MustRedis(t)
		r := newRevocations(rdb, prefix)
		ttl := func(key string) time.Duration { return rdb.PTTL(ctx, prefix+key).Val() }
		return r, ttl, prefix
	}

	t.Run("JTI", func(t *testing.T) {
		r, ttl, _ := setupRevs(t)
		if err := r.RevokeJTI(ctx, "acme", "j1", testNow.Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, err := r.CheckRevoked(ctx, "acme", "j1", testNow); err != nil || !got {
			t.Errorf("CheckRevoked(j1) = %v, %v; want true", got, err)
		}
		if got, err := r.CheckRevoked(ctx, "acme", "j2", testNow); err != nil || got {
			t.Errorf("CheckRevoked(j2) = %v, %v; want false", got, err)
		}
		// TTL = remaining lifetime + MaxLeeway, read back a moment later
		// (Redis counts down from the SET, so allow for a slow machine).
		d := ttl("rev:{acme}:j1")
		if want := 10*time.Minute + auth.MaxLeeway; d < want-5*time.Second || d > want+time.Second {
			t.Errorf("TTL = %s, want ~%s", d, want)
		}
	})
	t.Run("OtherTenant", func(t *testing.T) {
		r, _, _ := setupRevs(t)
		if err := r.RevokeJTI(ctx, "acme", "j1", testNow.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := r.RevokeAllBefore(ctx, "acme", testNow); err != nil {
			t.Fatal(err)
		}
		if got, err := r.CheckRevoked(ctx, "beta", "j1", testNow.Add(-time.Hour)); err != nil || got {
			t.Errorf("beta sees acme's revocations: %v, %v", got, err)
		}
	})
	t.Run("AlreadyExpiredWritesNothing", func(t *testing.T) {
		r, ttl, _ := setupRevs(t)
		if err := r.RevokeJTI(ctx, "acme", "old", testNow.Add(-2*auth.MaxLeeway)); err != nil {
			t.Fatal(err)
		}
		if d := ttl("rev:{acme}:old"); d != -2*time.Nanosecond && d != -2*time.Millisecond {
			// go-redis reports a missing key as -2 (in the command's unit).
			t.Errorf("key exists with TTL %s", d)
		}
	})
	t.Run("Epoch", func(t *testing.T) {
		r, ttl, _ := setupRevs(t)
		at := testNow.Add(-time.Minute)
		if err := r.RevokeAllBefore(ctx, "acme", at); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			iat  time.Time
			want bool
		}{
			{at.Add(-time.Second), true},
			{at, false},
			{at.Add(time.Second), false},
		} {
			if got, err := r.CheckRevoked(ctx, "acme", "j", tt.iat); err != nil || got != tt.want {
				t.Errorf("iat %s: revoked = %v, %v; want %v", tt.iat.Sub(at), got, err, tt.want)
			}
		}
		if d := ttl("epoch:{acme}"); d != -1*time.Nanosecond && d != -1*time.Millisecond {
			t.Errorf("epoch has TTL %s, want none", d)
		}
	})
	t.Run("EpochSubSecondRoundsUp", func(t *testing.T) {
		r, _, _ := setupRevs(t)
		if err := r.RevokeAllBefore(ctx, "acme", testNow.Add(500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		// A token stamped in the revocation's own second is revoked too.
		if got, _ := r.CheckRevoked(ctx, "acme", "j", testNow); !got {
			t.Error("token of the same second not revoked")
		}
	})
	t.Run("EpochNeverMovesBack", func(t *testing.T) {
		r, _, _ := setupRevs(t)
		for _, at := range []time.Time{testNow, testNow.Add(-time.Hour)} {
			if err := r.RevokeAllBefore(ctx, "acme", at); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := r.CheckRevoked(ctx, "acme", "j", testNow.Add(-time.Minute)); !got {
			t.Error("an older RevokeAllBefore resurrected revoked tokens")
		}
	})
	t.Run("CorruptEpochFailsClosed", func(t *testing.T) {
		rdb, prefix := MustRedis(t)
		r := newRevocations(rdb, prefix)
		rdb.Set(ctx, prefix+"epoch:{acme}", "garbage", 0)
		if _, err := r.CheckRevoked(ctx, "acme", "j", testNow); err == nil {
			t.Error("corrupt epoch accepted")
		}
	})
	t.Run("HostileKeyParts", func(t *testing.T) {
		r, _, _ := setupRevs(t)
		for _, tenant := range []string{"", "a}b", "{x}", "a:b", "a b"} {
			if _, err := r.CheckRevoked(ctx, tenant, "j", testNow); !callscope.Is(err, callscope.Invalid) {
				t.Errorf("tenant %q: err = %v, want Invalid", tenant, err)
			}
			if err := r.RevokeAllBefore(ctx, tenant, testNow); !callscope.Is(err, callscope.Invalid) {
				t.Errorf("tenant %q: RevokeAllBefore err = %v, want Invalid", tenant, err)
			}
		}
		if err := r.RevokeJTI(ctx, "acme", "", testNow.Add(time.Minute)); !callscope.Is(err, callscope.Invalid) {
			t.Errorf("empty jti: err = %v", err)
		}
	})
	t.Run("RedisDown", func(t *testing.T) {
		r := authredis.NewRevocations(DeadRedis(t), "x:", nil)
		if _, err := r.CheckRevoked(ctx, "acme", "j", testNow); !callscope.Is(err, callscope.Unavailable) {
			t.Errorf("CheckRevoked err = %v, want Unavailable", err)
		}
		if err := r.RevokeJTI(ctx, "acme", "j", time.Now().Add(time.Minute)); !callscope.Is(err, callscope.Unavailable) {
			t.Errorf("RevokeJTI err = %v, want Unavailable", err)
		}
		if err := r.RevokeAllBefore(ctx, "acme", testNow); !callscope.Is(err, callscope.Unavailable) {
			t.Errorf("RevokeAllBefore err = %v, want Unavailable", err)
		}
	})
}

// TestRevocationsStateLost: a Redis that lost its data (here a real FLUSHDB
// on a redis-server of the test's own) answers, but empty. A check then
// refuses until the tenant's state is rebuilt, and a rebuilt state refuses
// the revoked token again: losing Redis never revives a revoked link.
func TestRevocationsStateLost(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Server(t)
	record := auth.TenantRevocations{Tenant: "acme", JTIs: []auth.RevokedJTI{{JTI: "gone", Until: testNow.Add(time.Hour)}},
		Epoch: testNow.Add(-time.Hour)}
	r := authredis.NewRevocations(rdb, "p:", func() time.Time { return testNow })

	t.Run("NoStateRefuses", func(t *testing.T) {
		if _, err := r.CheckRevoked(ctx, "acme", "other", testNow); !errors.Is(err, authredis.ErrStateLost) || !callscope.Is(err, callscope.Unavailable) {
			t.Fatalf("no state, no rebuild: %v, want ErrStateLost (Unavailable)", err)
		}
	})
	t.Run("Restored", func(t *testing.T) {
		if err := r.Restore(ctx, record); err != nil {
			t.Fatal(err)
		}
		for jti, want := range map[string]bool{"gone": true, "other": false} {
			if got, err := r.CheckRevoked(ctx, "acme", jti, testNow); err != nil || got != want {
				t.Errorf("%s: %v %v, want revoked %v", jti, got, err, want)
			}
		}
		if got, _ := r.CheckRevoked(ctx, "acme", "old", testNow.Add(-2*time.Hour)); !got {
			t.Error("token from before the epoch not revoked")
		}
	})
	t.Run("FlushedFailsClosed", func(t *testing.T) {
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		r.SetRebuild(func(context.Context, string) error { return errors.New("postgres unreachable") })
		if got, err := r.CheckRevoked(ctx, "acme", "gone", testNow); !errors.Is(err, authredis.ErrStateLost) || got {
			t.Fatalf("after FLUSHDB, rebuild failing: %v %v, want refused", got, err)
		}
	})
	t.Run("FlushedRebuilt", func(t *testing.T) {
		rebuilds := 0
		r.SetRebuild(func(ctx context.Context, tenant string) error {
			rebuilds++
			st := record
			st.Tenant = tenant
			return r.Restore(ctx, st)
		})
		if got, err := r.CheckRevoked(ctx, "acme", "gone", testNow); err != nil || !got {
			t.Fatalf("after FLUSHDB and a rebuild: %v %v, want revoked", got, err)
		}
		if got, err := r.CheckRevoked(ctx, "acme", "other", testNow); err != nil || got || rebuilds != 1 {
			t.Errorf("second check: %v %v, %d rebuilds, want 1", got, err, rebuilds)
		}
	})
}

// TestRestoreOnlyAdds: a rebuild from an older record never undoes a
// revocation made meanwhile, nor moves the epoch back.
func TestRestoreOnlyAdds(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := MustRedis(t)
	r := newRevocations(rdb, prefix)
	if err := r.RevokeJTI(ctx, "acme", "new", testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeAllBefore(ctx, "acme", testNow); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(ctx, auth.TenantRevocations{Tenant: "acme", Epoch: testNow.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.CheckRevoked(ctx, "acme", "new", testNow.Add(time.Second)); !got {
		t.Error("Restore undid a revocation")
	}
	if got, _ := r.CheckRevoked(ctx, "acme", "x", testNow.Add(-time.Minute)); !got {
		t.Error("Restore moved the epoch back")
	}
}
