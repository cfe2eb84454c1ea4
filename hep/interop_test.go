package hep_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/pcap"
)

// MustSharedDatagrams returns the UDP payloads of a third-party capture in
// /work/shared/testdata/hep, skipping the test when the folder is absent
// (the captures are GPL data and stay out of this repository).
func MustSharedDatagrams(tb testing.TB, name string) [][]byte {
	tb.Helper()
	path := filepath.Join(sharedHEP, name)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("third-party capture %s absent (kept in /work/shared/testdata, outside the repo): %v", path, err)
	}
	frames, err := pcap.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for i, f := range frames {
		p, _, _, ok := pcap.UDPPayload(f)
		if !ok {
			tb.Fatalf("%s frame %d: no UDP payload", name, i)
		}
		out = append(out, p)
	}
	return out
}

// TestInterop_HEPWireshark decodes sipcapture/hep-wireshark's pcap/hep.pcap:
// 8 HEPv3 packets from capture agent 2001, six SIP, one LOG, one RTCP report.
func TestInterop_HEPWireshark(t *testing.T) {
	dgrams := MustSharedDatagrams(t, "hep-wireshark-hep.pcap")
	if len(dgrams) != 8 {
		t.Fatalf("%d datagrams, want 8", len(dgrams))
	}
	var d hep.Decoder
	var types []int
	for i, b := range dgrams {
		var p hep.Packet
		if err := d.Decode(b, &p); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		types = append(types, int(p.PayloadType))
		if p.Version != 3 || p.CaptureID != 2001 || p.Family != hep.FamilyIPv4 || !p.HasTime || p.Compressed {
			t.Errorf("packet %d: %+v", i, p)
		}
		if p.Time().Year() != 2016 {
			t.Errorf("packet %d: time %v", i, p.Time())
		}
		switch p.PayloadType {
		case hep.PayloadSIP:
			if !bytes.Contains(p.Payload, []byte("SIP/2.0")) || !bytes.Contains(p.Payload, []byte("\nCall-ID: ")) {
				t.Errorf("packet %d: SIP payload %q", i, p.Payload)
			}
		case hep.PayloadLog:
			if !bytes.HasPrefix(p.Payload, []byte("SYSLOG")) {
				t.Errorf("packet %d: LOG payload %q", i, p.Payload)
			}
		case hep.PayloadRTCP:
			if p.Payload[0] != '{' {
				t.Errorf("packet %d: RTCP payload %q", i, p.Payload)
			}
		}
	}
	slices.Sort(types)
	if want := []int{1, 1, 1, 1, 1, 1, 5, 100}; !slices.Equal(types, want) {
		t.Errorf("payload types %v, want %v", types, want)
	}
}

// TestInterop_HEPWiresharkCompressed decodes
// sipcapture/hep-wireshark's pcap/hep3_compressed.pcap.pcapng: 21 SIP
// messages in chunk 0x0010 with an auth key.
func TestInterop_HEPWiresharkCompressed(t *testing.T) {
	dgrams := MustSharedDatagrams(t, "hep-wireshark-hep3-compressed.pcapng")
	if len(dgrams) != 21 {
		t.Fatalf("%d datagrams, want 21", len(dgrams))
	}
	var d hep.Decoder
	for i, b := range dgrams {
		var p hep.Packet
		if err := d.Decode(b, &p); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !p.Compressed || len(p.AuthKey) == 0 || p.PayloadType != hep.PayloadSIP || p.Version != 3 {
			t.Errorf("packet %d: compressed %v auth key %q type %d", i, p.Compressed, p.AuthKey, p.PayloadType)
		}
		if !bytes.Contains(p.Payload, []byte("SIP/2.0")) || !bytes.Contains(p.Payload, []byte("Call-ID")) {
			t.Errorf("packet %d: payload %q", i, p.Payload[:min(len(p.Payload), 80)])
		}
	}
}
