package ingest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeBatch: a spooled batch is read back from disk, so its decoder
// must survive any bytes, and what it accepts must survive a round trip
// through the encoder (it tolerates flag bits and address kinds the
// encoder never writes, which come back in canonical form).
func FuzzDecodeBatch(f *testing.F) {
	r := getRow()
	r.kind, r.tenantID, r.captureID, r.receivedAt = kindSIP, 7, 2001, 1700000000000000
	r.src, r.dst = testSrc, testDst
	for i := range nFields {
		r.setText(i, []byte("field"))
	}
	f.Add((&batch{id: newBatchID(), rows: []*row{r}}).encode(nil))
	f.Add((&batch{id: newBatchID()}).encode(nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		b := &batch{}
		if err := decodeBatch(p, b); err != nil {
			if len(b.rows) != 0 {
				t.Fatal("rows left in a batch that failed to decode")
			}
			return
		}
		once := b.encode(nil)
		again := &batch{}
		if err := decodeBatch(once, again); err != nil {
			t.Fatalf("the encoding of a decoded batch does not decode: %v", err)
		}
		if twice := again.encode(nil); !bytes.Equal(twice, once) || again.id != b.id || again.oldest != b.oldest {
			t.Fatalf("a round trip changed the batch:\n once %x\ntwice %x", once, twice)
		}
	})
}

// FuzzSpoolSegment: a segment left by a crash, a full disk or a bad block
// holds anything; replay must not fail or panic on it, and every record
// it yields must carry a matching checksum.
func FuzzSpoolSegment(f *testing.F) {
	dir := f.TempDir()
	s := MustSpool(f, dir, 1<<20)
	for _, rec := range []string{"record-0", "record-1", ""} {
		s.append([]byte(rec))
	}
	s.close()
	good, _ := os.ReadFile(filepath.Join(dir, segName(spoolFirstSeq)))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append([]byte("garbage"), good...))
	f.Fuzz(func(t *testing.T, seg []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(spoolFirstSeq)), seg, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := openSpool(dir, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; ; n++ {
			rec, seq, ok, err := s.next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if n > len(seg) || seq != spoolFirstSeq {
				t.Fatalf("record %d from segment %d of a %d-byte file", n, seq, len(seg))
			}
			h := s.readBuf[s.readOff:]
			if binary.BigEndian.Uint32(h) != spoolMagic || int(binary.BigEndian.Uint32(h[4:])) != len(rec) ||
				crc32.Checksum(rec, crcTable) != binary.BigEndian.Uint32(h[8:]) {
				t.Fatalf("record %x yielded without its header and checksum", rec)
			}
			s.advance()
		}
		if s.pending() {
			t.Fatal("pending after every record was read")
		}
	})
}
