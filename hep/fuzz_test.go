package hep_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/pcap"
)

// FuzzDecode feeds Decode arbitrary bytes. Seeds: the UDP payloads of the
// third-party captures in /work/shared/testdata/hep when present (read in
// place, never copied here), and packets of every version made by the
// encoder. Beyond not panicking, a packet that decodes must survive being
// re-encoded as v3 with its payload and identity intact.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"hep-wireshark-hep.pcap", "hep-wireshark-hep3-compressed.pcapng"} {
		frames, err := pcap.ReadFile(filepath.Join(sharedHEP, name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				f.Logf("seed capture %s absent; fuzzing with own seeds only", name)
				continue
			}
			f.Fatal(err)
		}
		for _, fr := range frames {
			if p, _, _, ok := pcap.UDPPayload(fr); ok {
				f.Add(p)
			}
		}
	}
	invite := MustInvite(f)
	for _, ends := range []netipPair{{src4, dst4}, {src6, dst6}} {
		p := samplePacket(f, ends.src, ends.dst)
		p.AuthKey, p.CorrelationID, p.NodeName = []byte("key"), []byte("corr"), []byte("node")
		f.Add(p.AppendV3(nil))
		f.Add(p.AppendV2(nil))
		f.Add(p.AppendV1(nil))
		p.Compressed = true
		f.Add(p.AppendV3(nil))
	}
	f.Add(v3(chunk(0x0010, gzipped(f, invite)...)))
	f.Add(v3(chunk(0x0010, deflated(f, invite)...)))
	f.Add(v3(vchunk(3, 0x000f, 'x'), chunk(0x0001, 10), chunk(0x000f, 'y')))
	f.Add([]byte("EEP3\x00\x06"))

	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		var d hep.Decoder
		var p hep.Packet
		err := d.Decode(b, &p)
		if !bytes.Equal(in, b) {
			t.Fatal("Decode modified its input")
		}
		if err != nil {
			if hep.Reason(err) == "hep_other" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if len(p.Payload) == 0 || p.Version < 1 || p.Version > 3 {
			t.Fatalf("accepted packet without payload or version: %+v", p)
		}
		if p.Version == 3 {
			if n, err := hep.FrameLength(b); err != nil || n > len(b) {
				t.Fatalf("FrameLength = %d, %v for a packet that decoded", n, err)
			}
		}
		if len(p.Payload) > 60000 {
			return // re-encoding may have to cut it
		}
		var q hep.Packet
		var d2 hep.Decoder
		if err := d2.Decode(p.AppendV3(nil), &q); err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		if !bytes.Equal(q.Payload, p.Payload) || !bytes.Equal(q.AuthKey, p.AuthKey) ||
			q.CaptureID != p.CaptureID || q.PayloadType != p.PayloadType || q.Compressed != p.Compressed {
			t.Fatalf("round trip changed the packet:\n%+v\n%+v", p, q)
		}
	})
}

type netipPair struct{ src, dst netip.AddrPort }
