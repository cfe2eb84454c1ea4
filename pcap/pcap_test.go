package pcap_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callscope/callscope/pcap"
)

var t0 = time.Date(2025, 11, 26, 3, 6, 0, 123456000, time.UTC)

// MustWrite writes the messages with a fresh Writer and returns the file.
func MustWrite(tb testing.TB, msgs ...message) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range msgs {
		if err := w.WriteMessage(m.ts, m.src, m.dst, m.transport, m.payload); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// MustParse parses a capture held in memory.
func MustParse(tb testing.TB, b []byte) []pcap.Frame {
	tb.Helper()
	frames, err := pcap.Parse(b)
	if err != nil {
		tb.Fatal(err)
	}
	return frames
}

type message struct {
	ts        time.Time
	src, dst  netip.AddrPort
	transport string
	payload   []byte
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func sipInvite(callID string) []byte {
	return []byte("INVITE sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n" +
		"From: <sip:alice@example.com>;tag=1\r\n" +
		"To: <sip:bob@example.com>\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Max-Forwards: 70\r\n" +
		"Contact: <sip:alice@10.0.0.1:5060>\r\n" +
		"Content-Length: 0\r\n\r\n")
}

func TestWriter_RoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 7000) // 70000 bytes: two packets
	tests := []struct {
		name      string
		msg       message
		wantProto string
		wantSrc   netip.AddrPort // after unmapping / mixing
		wantDst   netip.AddrPort
		wantParts int
	}{
		{"UDPv4", message{t0, ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), "udp", sipInvite("a@x")}, "udp", ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), 1},
		{"UDPv6", message{t0, ap("[2001:db8::1]:5060"), ap("[2001:db8::2]:5080"), "udp", sipInvite("b@x")}, "udp", ap("[2001:db8::1]:5060"), ap("[2001:db8::2]:5080"), 1},
		{"TCPv4", message{t0, ap("10.0.0.1:40000"), ap("10.0.0.2:5060"), "tcp", sipInvite("c@x")}, "tcp", ap("10.0.0.1:40000"), ap("10.0.0.2:5060"), 1},
		{"TLSv6", message{t0, ap("[2001:db8::1]:40000"), ap("[2001:db8::2]:5061"), "tls", sipInvite("d@x")}, "tcp", ap("[2001:db8::1]:40000"), ap("[2001:db8::2]:5061"), 1},
		{"SCTPIsTCP", message{t0, ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), "sctp", sipInvite("e@x")}, "tcp", ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), 1},
		{"Mapped", message{t0, ap("[::ffff:10.0.0.1]:5060"), ap("10.0.0.2:5060"), "udp", sipInvite("f@x")}, "udp", ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), 1},
		{"MixedFamilies", message{t0, ap("10.0.0.1:5060"), ap("[2001:db8::2]:5060"), "udp", sipInvite("g@x")}, "udp", ap("[::ffff:10.0.0.1]:5060"), ap("[2001:db8::2]:5060"), 1},
		{"EmptyPayload", message{t0, ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), "udp", nil}, "udp", ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), 1},
		{"SplitUDP", message{t0, ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), "udp", big}, "udp", ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), 2},
		{"SplitTCPv6", message{t0, ap("[2001:db8::1]:5060"), ap("[2001:db8::2]:5060"), "tcp", big}, "tcp", ap("[2001:db8::1]:5060"), ap("[2001:db8::2]:5060"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := MustParse(t, MustWrite(t, tt.msg))
			if len(frames) != tt.wantParts {
				t.Fatalf("got %d frames, want %d", len(frames), tt.wantParts)
			}
			var got []byte
			for _, f := range frames {
				if f.LinkType != pcap.LinkTypeRaw {
					t.Errorf("link type %d, want %d", f.LinkType, pcap.LinkTypeRaw)
				}
				if !f.Time.Equal(t0) {
					t.Errorf("time %v, want %v", f.Time, t0)
				}
				checkChecksums(t, f.Data)
				extract := pcap.UDPPayload
				if tt.wantProto == "tcp" {
					extract = pcap.TCPPayload
				}
				p, src, dst, ok := extract(f)
				if !ok {
					t.Fatalf("no %s payload in %x", tt.wantProto, f.Data[:min(len(f.Data), 64)])
				}
				if src != tt.wantSrc || dst != tt.wantDst {
					t.Errorf("endpoints %v -> %v, want %v -> %v", src, dst, tt.wantSrc, tt.wantDst)
				}
				got = append(got, p...)
			}
			if !bytes.Equal(got, tt.msg.payload) {
				t.Errorf("payload differs: got %d bytes, want %d", len(got), len(tt.msg.payload))
			}
		})
	}
}

// checkChecksums verifies the IPv4 header checksum and the UDP or TCP
// checksum of a raw IP packet: each must sum to 0xffff.
func checkChecksums(t *testing.T, pkt []byte) {
	t.Helper()
	var pseudo []byte
	var seg []byte
	var proto byte
	switch pkt[0] >> 4 {
	case 4:
		if s := sum16(0, pkt[:20]); s != 0xffff {
			t.Errorf("IPv4 header checksum: sum %#x", s)
		}
		proto, seg = pkt[9], pkt[20:]
		pseudo = append(pseudo, pkt[12:20]...)
	case 6:
		proto, seg = pkt[6], pkt[40:]
		pseudo = append(pseudo, pkt[8:40]...)
	}
	pseudo = append(pseudo, 0, proto)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
	if s := sum16(sum16(0, pseudo), seg); s != 0xffff {
		t.Errorf("transport %d checksum: sum %#x", proto, s)
	}
}

func sum16(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return s
}

func TestWriter_TCPSequence(t *testing.T) {
	a, b := ap("10.0.0.1:40000"), ap("10.0.0.2:5060")
	frames := MustParse(t, MustWrite(t,
		message{t0, a, b, "tcp", []byte("first")},
		message{t0, b, a, "tcp", []byte("reply!")},
		message{t0, a, b, "tcp", []byte("second")},
	))
	type seqack struct{ seq, ack uint32 }
	var got []seqack
	for _, f := range frames {
		tcp := f.Data[20:]
		got = append(got, seqack{binary.BigEndian.Uint32(tcp[4:]), binary.BigEndian.Uint32(tcp[8:])})
		if flags := tcp[13]; flags != 0x18 {
			t.Errorf("flags %#x, want PSH|ACK", flags)
		}
	}
	want := []seqack{{1, 1}, {1, 6}, {6, 7}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d: seq/ack %v, want %v", i, got[i], want[i])
		}
	}
}

func TestWriter_Errors(t *testing.T) {
	t.Run("InvalidAddress", func(t *testing.T) {
		w, err := pcap.NewWriter(&bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		err = w.WriteMessage(t0, netip.AddrPort{}, ap("10.0.0.1:5060"), "udp", []byte("x"))
		if !errors.Is(err, pcap.ErrAddress) {
			t.Errorf("got %v, want ErrAddress", err)
		}
	})
	t.Run("WriteFails", func(t *testing.T) {
		_, err := pcap.NewWriter(failWriter{})
		if !errors.Is(err, errBoom) {
			t.Errorf("got %v, want the write error", err)
		}
	})
}

var errBoom = errors.New("boom")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errBoom }

// tsharkPath is where Debian installs tshark.
const tsharkPath = "/usr/bin/tshark"

// TestWriter_Tshark checks that Wireshark's dissectors read the SIP in what
// the Writer produces, over UDP and TCP, IPv4 and IPv6.
func TestWriter_Tshark(t *testing.T) {
	if _, err := os.Stat(tsharkPath); err != nil {
		t.Skipf("tshark not installed at %s (apt-get install tshark): %v", tsharkPath, err)
	}
	path := filepath.Join(t.TempDir(), "call.pcap")
	b := MustWrite(t,
		message{t0, ap("10.0.0.1:5060"), ap("10.0.0.2:5060"), "udp", sipInvite("udp4@x")},
		message{t0.Add(time.Millisecond), ap("10.0.0.1:40000"), ap("10.0.0.2:5060"), "tcp", sipInvite("tcp4@x")},
		message{t0.Add(2 * time.Millisecond), ap("[2001:db8::1]:5060"), ap("[2001:db8::2]:5060"), "udp", sipInvite("udp6@x")},
		message{t0.Add(3 * time.Millisecond), ap("[2001:db8::1]:40000"), ap("[2001:db8::2]:5060"), "tcp", sipInvite("tcp6@x")},
	)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tsharkPath, "-r", path, "-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e", "sip.Call-ID")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user profile
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{"INVITE\tudp4@x", "INVITE\ttcp4@x", "INVITE\tudp6@x", "INVITE\ttcp6@x"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tshark read\n%q\nwant\n%q\nstderr: %s", got, want, stderr.String())
	}
}
