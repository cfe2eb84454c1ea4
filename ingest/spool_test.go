package ingest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// MustSpool opens a spool in a fresh directory.
func MustSpool(tb testing.TB, dir string, max int64) *spool {
	tb.Helper()
	s, err := openSpool(dir, max)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// drain reads every record left in s.
func drain(tb testing.TB, s *spool) []string {
	tb.Helper()
	var out []string
	for {
		rec, _, ok, err := s.next()
		if err != nil {
			tb.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, string(rec))
		s.advance()
	}
}

func TestSpoolRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := MustSpool(t, dir, 1<<20)
	for i := range 5 {
		if err := s.append([]byte(fmt.Sprintf("record-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	s.close()
	// A new process finds them, in order.
	s2 := MustSpool(t, dir, 1<<20)
	if !s2.pending() {
		t.Fatal("not pending after reopen")
	}
	got := drain(t, s2)
	if fmt.Sprint(got) != "[record-0 record-1 record-2 record-3 record-4]" {
		t.Fatalf("got %v", got)
	}
	if s2.pending() || s2.size.Load() != 0 {
		t.Fatalf("pending %v size %d after drain", s2.pending(), s2.size.Load())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("%d files left", len(ents))
	}
}

func TestSpoolInterleavedAppendAndReplay(t *testing.T) {
	s := MustSpool(t, t.TempDir(), 1<<20)
	s.append([]byte("a"))
	rec, _, ok, _ := s.next()
	if !ok || string(rec) != "a" {
		t.Fatalf("next = %q %v", rec, ok)
	}
	s.append([]byte("b")) // written while "a" is being replayed: goes to a new segment
	s.advance()
	if got := drain(t, s); fmt.Sprint(got) != "[b]" {
		t.Fatalf("got %v", got)
	}
}

func TestSpoolFull(t *testing.T) {
	s := MustSpool(t, t.TempDir(), 100)
	if err := s.append(make([]byte, 50)); err != nil {
		t.Fatal(err)
	}
	if err := s.append(make([]byte, 50)); err != errSpoolFull {
		t.Fatalf("append past the limit: %v, want errSpoolFull", err)
	}
}

func TestSpoolCorruption(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(b []byte) []byte
		want    string
		corrupt int64
		torn    int64
	}{
		{"BadChecksum", func(b []byte) []byte { b[spoolRecHeader+2] ^= 0xff; return b }, "[record-1 record-2]", 1, 0},
		{"TornTail", func(b []byte) []byte { return b[:len(b)-3] }, "[record-0 record-1]", 0, 1},
		{"TornHeader", func(b []byte) []byte { return append(b, 0x43, 0x53) }, "[record-0 record-1 record-2]", 0, 1},
		{"GarbageBetween", func(b []byte) []byte {
			n := spoolRecHeader + len("record-0")
			return append(append(append([]byte{}, b[:n]...), "garbage!"...), b[n:]...)
		}, "[record-0 record-1 record-2]", 1, 0},
		{"LyingLength", func(b []byte) []byte { b[4], b[5] = 0x7f, 0xff; return b }, "[record-1 record-2]", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := MustSpool(t, dir, 1<<20)
			for i := range 3 {
				s.append([]byte(fmt.Sprintf("record-%d", i)))
			}
			s.close()
			name := filepath.Join(dir, segName(spoolFirstSeq))
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, tt.damage(bytes.Clone(b)), 0o640); err != nil {
				t.Fatal(err)
			}
			s2 := MustSpool(t, dir, 1<<20)
			if got := fmt.Sprint(drain(t, s2)); got != tt.want {
				t.Errorf("records %s, want %s", got, tt.want)
			}
			if s2.corrupt.Load() != tt.corrupt || s2.torn.Load() != tt.torn {
				t.Errorf("corrupt %d torn %d, want %d %d", s2.corrupt.Load(), s2.torn.Load(), tt.corrupt, tt.torn)
			}
		})
	}
}

func TestBatchEncodeDecode(t *testing.T) {
	r := getRow()
	r.kind, r.payloadType, r.protocol, r.hasSDP, r.hasStatus, r.status = kindSIP, 1, 17, true, true, 180
	r.hasCSeq, r.cseq, r.captureID, r.tenantID = true, 4294967295, 2001, 42
	r.corrSrc = corrMax // the highest source the flag bits hold survives
	r.capturedAt, r.receivedAt = 1700000000123456, 1700000000223456
	r.src, r.dst = testSrc, testDst
	for i := range nFields {
		r.setText(i, []byte(fmt.Sprintf("field-%d", i)))
	}
	ev := getRow()
	ev.kind = kindEvent
	ev.setRaw(fPayload, []byte{0, 1, 2})
	for i := fCallID; i < fPayload; i++ {
		ev.end[i] = 0
	}
	ev.end[fPayload] = 3
	in := &batch{id: newBatchID(), rows: []*row{r, ev}}
	out := &batch{}
	if err := decodeBatch(in.encode(nil), out); err != nil {
		t.Fatal(err)
	}
	if out.id != in.id || len(out.rows) != 2 {
		t.Fatalf("id or rows differ")
	}
	got := out.rows[0]
	if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", *r) {
		t.Errorf("row differs:\n got %+v\nwant %+v", *got, *r)
	}
	if !bytes.Equal(out.rows[1].field(fPayload), []byte{0, 1, 2}) {
		t.Error("event payload differs")
	}
	for _, cut := range []int{0, 10, 25, 100, 200} {
		if err := decodeBatch(in.encode(nil)[:cut], &batch{}); err == nil {
			t.Errorf("truncated at %d decoded without error", cut)
		}
	}
}
