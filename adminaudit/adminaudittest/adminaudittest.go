// Package adminaudittest lets tests check that what an admin does writes
// exactly one row of the admin audit log, and that nothing else does.
package adminaudittest

import (
	"context"
	"testing"

	"github.com/callscope/callscope/adminaudit"
)

// Log follows an admin audit log from the moment Follow is called.
type Log struct {
	store *adminaudit.Store
	last  int64
}

// Follow starts following store after its newest entry.
func Follow(tb testing.TB, store *adminaudit.Store) *Log {
	tb.Helper()
	l := &Log{store: store}
	l.last = l.last0(tb)
	return l
}

func (l *Log) last0(tb testing.TB) int64 {
	tb.Helper()
	got, err := l.store.List(context.Background(), adminaudit.Filter{Limit: 1})
	if err != nil {
		tb.Fatal(err)
	}
	if len(got) == 0 {
		return 0
	}
	return got[0].ID
}

// Next returns the one entry written since Follow or the last Next, and
// fails tb unless there is exactly one.
func (l *Log) Next(tb testing.TB) adminaudit.Entry {
	tb.Helper()
	got, err := l.store.List(context.Background(), adminaudit.Filter{})
	if err != nil {
		tb.Fatal(err)
	}
	var fresh []adminaudit.Entry
	for _, e := range got {
		if e.ID > l.last {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) != 1 {
		tb.Fatalf("%d new admin audit rows, want 1: %+v", len(fresh), fresh)
	}
	l.last = fresh[0].ID
	return fresh[0]
}

// None fails tb if anything was written since Follow or the last Next.
func (l *Log) None(tb testing.TB) {
	tb.Helper()
	if last := l.last0(tb); last != l.last {
		got, _ := l.store.List(context.Background(), adminaudit.Filter{Limit: 1})
		tb.Fatalf("an admin audit row was written: %+v", got[0])
	}
}
