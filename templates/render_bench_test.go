package templates

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/callscope/callscope/ladder"
)

// BenchmarkViewerPage renders a full page of 100 messages of the fixture
// call, the common case of the public viewer.
func BenchmarkViewerPage(b *testing.B) {
	f := MustLoadCall(b, "call.json")
	long := callFixture{Aliases: f.Aliases, Events: f.Events}
	for i := range 100 {
		m := f.Messages[i%len(f.Messages)]
		m.Seq, m.Time = i+1, m.Time.Add(time.Duration(i)*time.Second)
		long.Messages = append(long.Messages, m)
	}
	p := viewerProps(long, ladder.Options{})
	b.ReportAllocs()
	for b.Loop() {
		if err := ViewerPage(p).Render(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
