package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/callscope/callscope/hep"
)

// tlsHandshakeTimeout bounds a TLS handshake, so a client that connects
// and says nothing holds no slot for long.
const tlsHandshakeTimeout = 10 * time.Second

// acceptStreams accepts TCP (or TLS) connections until ln is closed. Each
// connection gets its own goroutine; beyond MaxStreamConns new ones are
// closed at once.
func (s *Server) acceptStreams(ln net.Listener, transport int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("ingest: accept", "transport", transports[transport], "err", err)
			time.Sleep(50 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		select {
		case s.streams <- struct{}{}:
		default:
			s.log.Warn("ingest: too many HEP connections; refusing", "limit", s.cfg.MaxStreamConns, "remote", c.RemoteAddr().String())
			c.Close()
			continue
		}
		if !s.track(c) {
			<-s.streams
			c.Close()
			return
		}
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			defer func() { <-s.streams }()
			defer s.untrack(c)
			defer c.Close()
			s.readStream(c, transport)
		}()
	}
}

// track records c so shutdown can close it; false when shutdown began
// (the listener is closed, so no further connection can race in).
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// readStream reads HEPv3 packets sent back to back, each delimited by its
// own length field (HEP adds no framing on streams):
//
//	| "HEP3" len=N | ...N-6 bytes... | "HEP3" len=M | ...M-6 bytes... | ...
//
// A bad magic or length means the stream cannot be resynchronised: the
// connection is closed with the reason logged, the listener goes on. A
// client idle between packets is closed after StreamIdleTimeout, one
// stalled in the middle of a packet after StreamStallTimeout.
func (s *Server) readStream(c net.Conn, transport int) {
	remote := c.RemoteAddr().String()
	var sender netip.AddrPort
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		sender = ta.AddrPort()
	}
	if tc, ok := c.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			s.log.Info("ingest: TLS handshake failed", "remote", remote, "err", err)
			return
		}
	}
	h := s.newHandler(transport)
	if tc, ok := c.(*tls.Conn); ok {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			sum := sha256.Sum256(certs[0].Raw)
			h.cert = sum[:]
		}
	}
	buf := make([]byte, 2*maxDatagram)
	start, end := 0, 0
	for {
		now := time.Now()
		for end-start >= 6 {
			n, err := hep.FrameLength(buf[start:end])
			if err != nil {
				s.m.drop(reasonStreamBadFraming)
				s.log.Warn("ingest: closing HEP stream: bad framing", "transport", transports[transport], "remote", remote, "reason", hep.Reason(err), "err", err)
				return
			}
			if end-start < n {
				break
			}
			h.handle(buf[start:start+n], sender, now)
			start += n
		}
		if start == end {
			start, end = 0, 0
		} else if len(buf)-end < maxDatagram {
			end = copy(buf, buf[start:end])
			start = 0
		}
		timeout := s.cfg.StreamIdleTimeout
		if end > start {
			timeout = s.cfg.StreamStallTimeout
		}
		c.SetReadDeadline(now.Add(timeout))
		k, err := c.Read(buf[end:])
		end += k
		if err != nil && k == 0 {
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
				if end > start {
					s.log.Info("ingest: HEP stream closed mid-packet", "remote", remote, "bytes", end-start)
				}
			case errors.Is(err, os.ErrDeadlineExceeded):
				what := "idle"
				if end > start {
					what = "stalled mid-packet"
				}
				s.log.Info("ingest: closing HEP stream: "+what, "remote", remote)
			default:
				s.log.Info("ingest: HEP stream read", "remote", remote, "err", err)
			}
			return
		}
	}
}
