package e2e

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/callscope/callscope/hep"
)

// hepSink is a minimal HEP collector for checking what the peers send,
// independent of ingest: it decodes every UDP datagram and every TCP
// stream with package hep and keeps the packets.
type hepSink struct {
	Addr string

	mu      sync.Mutex
	packets []sinkPacket
	errs    []error
}

type sinkPacket struct {
	Transport string
	hep.Packet
}

func startHEPSink(t *testing.T) *hepSink {
	t.Helper()
	pc, ln := listenUDPTCP(t, "127.0.0.1")
	s := &hepSink{Addr: ln.Addr().String()}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		var d hep.Decoder
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.add("udp", &d, append([]byte(nil), buf[:n]...))
		}
	}()
	var conns sync.WaitGroup
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				s.readStream(c)
			}()
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		ln.Close()
		wg.Wait()
	})
	return s
}

func (s *hepSink) readStream(c net.Conn) {
	var d hep.Decoder
	r := bufio.NewReader(c)
	for {
		head, err := r.Peek(6)
		if err != nil {
			return
		}
		n, err := hep.FrameLength(head)
		if err != nil {
			s.note(err)
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return
		}
		s.add("tcp", &d, b)
	}
}

func (s *hepSink) add(transport string, d *hep.Decoder, b []byte) {
	var p hep.Packet
	if err := d.Decode(b, &p); err != nil {
		s.note(err)
		return
	}
	// The decoder may alias its own buffers: keep copies.
	p.Payload = append([]byte(nil), p.Payload...)
	p.AuthKey = append([]byte(nil), p.AuthKey...)
	p.CorrelationID = append([]byte(nil), p.CorrelationID...)
	p.NodeName = append([]byte(nil), p.NodeName...)
	s.mu.Lock()
	s.packets = append(s.packets, sinkPacket{transport, p})
	s.mu.Unlock()
}

func (s *hepSink) note(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// Packets returns what arrived so far, and any decode errors.
func (s *hepSink) Packets() ([]sinkPacket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkPacket(nil), s.packets...), errors.Join(s.errs...)
}

// listenUDPTCP listens on one port of ip for both UDP and TCP, keeping the
// sockets it found free: a port probed, closed and bound again can be taken
// in between by any outgoing connection from ip (127.0.0.1 has many, to
// PostgreSQL and Redis), and was, once in CI.
func listenUDPTCP(t *testing.T, ip string) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("listen on %s: %v", ip, err)
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil {
			ln.Close()
			continue
		}
		return pc, ln
	}
	t.Fatalf("no port free for both UDP and TCP on %s", ip)
	return nil, nil
}
