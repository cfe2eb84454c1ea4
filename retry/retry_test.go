package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callscope/callscope/retry"
)

func TestDo(t *testing.T) {
	boom := errors.New("boom")
	t.Run("SucceedsAfterFailures", func(t *testing.T) {
		n := 0
		err := retry.Do(context.Background(), 4, time.Microsecond, func() error {
			if n++; n < 3 {
				return boom
			}
			return nil
		})
		if err != nil || n != 3 {
			t.Errorf("err %v after %d attempts, want nil after 3", err, n)
		}
	})
	t.Run("GivesUp", func(t *testing.T) {
		n := 0
		err := retry.Do(context.Background(), 3, time.Microsecond, func() error { n++; return boom })
		if !errors.Is(err, boom) || n != 3 {
			t.Errorf("err %v after %d attempts, want boom after 3", err, n)
		}
	})
	t.Run("ContextEndsTheWait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n := 0
		err := retry.Do(ctx, 5, time.Hour, func() error { n++; return boom })
		if !errors.Is(err, boom) || n != 1 {
			t.Errorf("err %v after %d attempts, want boom after 1", err, n)
		}
	})
}
