package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// recorder notes the order in which services saw their context end.
type recorder struct {
	mu    sync.Mutex
	order []string
}

func (r *recorder) service(name string, fail error) service {
	return runFunc(func(ctx context.Context) error {
		if fail != nil {
			return fail
		}
		<-ctx.Done()
		r.mu.Lock()
		r.order = append(r.order, name)
		r.mu.Unlock()
		return nil
	})
}

func TestRunStagesStopsInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail error
	}{{"Signal", nil}, {"OneFails", errors.New("viewer: listen: boom")}} {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			edge := []service{r.service("viewer", nil), r.service("audit-queue", nil)}
			if tc.fail != nil {
				edge = append(edge, r.service("failing", tc.fail))
			}
			stages := [][]service{edge, {r.service("query", nil)}, {}, {r.service("audit-writer", nil)}}
			errc := make(chan error, 1)
			go func() { errc <- runStages(ctx, stages, func() {}) }()
			if tc.fail == nil {
				cancel()
			}
			if err := <-errc; !errors.Is(err, tc.fail) {
				t.Fatalf("runStages = %v, want %v", err, tc.fail)
			}
			got := r.order
			if len(got) != 4 || !slices.Contains(got[:2], "viewer") || !slices.Contains(got[:2], "audit-queue") ||
				got[2] != "query" || got[3] != "audit-writer" {
				t.Errorf("stopped in order %q: want the edge, then query, then the writer", got)
			}
		})
	}
}
