package scenario

import "testing"

// BenchmarkPair is the export of the console's "Export as SIPp test" and
// the viewer's zip, less the zip: both sides of answered.txt (two
// proxies, three capture nodes, 20 captured messages).
func BenchmarkPair(b *testing.B) {
	msgs := loadCall(b, "answered.txt")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Pair(msgs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
