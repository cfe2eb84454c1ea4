package sip

import "testing"

// TestExtractAllocatesNothing holds the hot-path promise on every fixture.
// The race detector's instrumentation allocates, so the check runs without it.
func TestExtractAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	x := NewExtractor(DefaultCorrelationHeaders)
	for _, name := range fixtures(t) {
		b := MustReadFixture(t, name)
		var m Message
		if n := testing.AllocsPerRun(100, func() { _ = x.Extract(b, &m); _ = SDPBody(&m) }); n != 0 {
			t.Errorf("%s: %v allocations per Extract, want 0", name, n)
		}
	}
}
