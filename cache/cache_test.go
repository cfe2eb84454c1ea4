package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callscope/callscope/cache"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)} }
func get(c *cache.Cache[string, int], k string) int {
	v, ok := c.Get(k)
	if !ok {
		return -1
	}
	return v
}

func TestExpiry(t *testing.T) {
	clk := newClock()
	c := cache.New[string, int](cache.Options[int]{MaxEntries: 10, TTL: time.Second, Now: clk.now})
	c.Set("a", 1)
	c.SetFor("b", 2, 3*time.Second)
	c.SetUntil("c", 3, time.Time{})
	clk.add(999 * time.Millisecond)
	if get(c, "a") != 1 {
		t.Fatal("entry gone before its TTL")
	}
	clk.add(time.Millisecond)
	if get(c, "a") != -1 {
		t.Error("entry served at its expiry")
	}
	if get(c, "b") != 2 {
		t.Error("SetFor's own TTL not honoured")
	}
	clk.add(time.Hour)
	if get(c, "b") != -1 || get(c, "c") != 3 {
		t.Errorf("b = %d (want gone), c = %d (want kept)", get(c, "b"), get(c, "c"))
	}
	c.SetFor("c", 4, 0)
	if get(c, "c") != -1 {
		t.Error("SetFor with no lifetime kept the entry")
	}
}

func TestFullEvictsLeastRecentlyUsed(t *testing.T) {
	c := cache.New[string, int](cache.Options[int]{MaxEntries: 3})
	c.Set("a", 1)
	c.Set("b", 2)
	c.Set("c", 3)
	get(c, "a") // a is now the most recently used; b the least
	c.Set("d", 4)
	if get(c, "b") != -1 {
		t.Error("the least recently used entry survived")
	}
	for k, want := range map[string]int{"a": 1, "c": 3, "d": 4} {
		if got := get(c, k); got != want {
			t.Errorf("%s = %d, want %d: a full cache must lose one entry, not start over", k, got, want)
		}
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d", c.Len())
	}
}

func TestCostBound(t *testing.T) {
	c := cache.New[string, []byte](cache.Options[[]byte]{MaxEntries: 100, MaxCost: 10,
		Cost: func(b []byte) int64 { return int64(len(b)) }})
	c.Set("a", make([]byte, 4))
	c.Set("b", make([]byte, 4))
	c.Set("c", make([]byte, 4)) // 12 > 10: a goes
	if _, ok := c.Get("a"); ok {
		t.Error("cost bound not enforced")
	}
	if _, ok := c.Get("c"); !ok {
		t.Error("newest entry evicted")
	}
	c.Set("huge", make([]byte, 11))
	if _, ok := c.Get("huge"); ok {
		t.Error("an entry larger than the whole budget was kept")
	}
	if _, ok := c.Get("b"); !ok {
		t.Error("refusing an oversized entry evicted the others")
	}
	c.Set("b", make([]byte, 2)) // replacing an entry frees its old cost
	c.Set("d", make([]byte, 4))
	for _, k := range []string{"b", "c", "d"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s evicted though the budget holds 2+4+4", k)
		}
	}
}

func TestDelete(t *testing.T) {
	c := cache.New[string, int](cache.Options[int]{MaxEntries: 2})
	c.Set("a", 1)
	c.Delete("a")
	c.Delete("never")
	if get(c, "a") != -1 || c.Len() != 0 {
		t.Error("Delete kept the entry")
	}
}

func TestNilCacheHoldsNothing(t *testing.T) {
	var c *cache.Cache[string, int]
	c.Set("a", 1)
	c.Delete("a")
	if _, ok := c.Get("a"); ok || c.Len() != 0 {
		t.Error("a nil cache answered")
	}
	v, err := c.Fetch(context.Background(), "a", func(context.Context) (int, time.Duration, error) { return 7, time.Hour, nil })
	if v != 7 || err != nil {
		t.Errorf("Fetch on nil = %d, %v", v, err)
	}
}

func TestFetch(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	c := cache.New[string, int](cache.Options[int]{MaxEntries: 10, Now: clk.now})

	t.Run("SharesOneLoad", func(t *testing.T) {
		var calls atomic.Int32
		started, release := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		got := make([]int, 8)
		fetch := func(i int) {
			defer wg.Done()
			got[i], _ = c.Fetch(ctx, "k", func(context.Context) (int, time.Duration, error) {
				if calls.Add(1) == 1 {
					close(started)
				}
				<-release
				return 42, time.Minute, nil
			})
		}
		wg.Add(len(got))
		go fetch(0)
		<-started // the load is in flight: the others must wait for it
		for i := 1; i < len(got); i++ {
			go fetch(i)
		}
		close(release)
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("%d loads for one key, want 1", n)
		}
		for i, v := range got {
			if v != 42 {
				t.Errorf("caller %d got %d", i, v)
			}
		}
	})
	t.Run("ErrorsAreNotKept", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := c.Fetch(ctx, "e", func(context.Context) (int, time.Duration, error) { return 0, time.Minute, boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		v, err := c.Fetch(ctx, "e", func(context.Context) (int, time.Duration, error) { return 5, time.Minute, nil })
		if v != 5 || err != nil {
			t.Errorf("after an error: %d, %v; the error was cached", v, err)
		}
	})
	t.Run("LoadOutlivesTheCallersCancellation", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		v, err := c.Fetch(cctx, "c", func(lctx context.Context) (int, time.Duration, error) {
			return 9, time.Minute, lctx.Err()
		})
		if v != 9 || err != nil {
			t.Errorf("load saw the caller's cancellation: %d, %v", v, err)
		}
	})
	t.Run("TTLFromLoad", func(t *testing.T) {
		n := 0
		load := func(context.Context) (int, time.Duration, error) { n++; return n, time.Second, nil }
		_, _ = c.Fetch(ctx, "t", load)
		_, _ = c.Fetch(ctx, "t", load)
		clk.add(time.Second)
		if v, _ := c.Fetch(ctx, "t", load); v != 2 {
			t.Errorf("value after its TTL = %d, want a reload", v)
		}
	})
}
