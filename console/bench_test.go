package console_test

import (
	"context"
	"testing"

	"github.com/callscope/callscope/console"
	"github.com/callscope/callscope/redisdb/redistest"
)

// BenchmarkSessionGet is the per-request cost of a console session: one
// GET and one SET XX on the local Redis.
func BenchmarkSessionGet(b *testing.B) {
	rdb, prefix := redistest.New(b)
	s := console.NewSessions(rdb, prefix, 0, 0, nil)
	ctx := context.Background()
	id, _, err := s.Create(ctx, 1, "ops@example.com", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
