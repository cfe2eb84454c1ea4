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

// acceptStreams accepts TCP (or TLS) connections until ln is closed. Each
// connection gets its own goroutine. Beyond MaxConnsPerSource from one
// address, or MaxStreamConns in all, new ones are closed at once: one
// sender holding idle connections cannot shut the others out.
func (s *Server) acceptStreams(ln net.Listener, transport int) {
	var refusedLog logEvery
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
		src := remoteAddr(c).Addr()
		limit := ""
		select {
		case s.streams <- struct{}{}:
			if ok, open := s.track(c, src); !ok {
				<-s.streams
				if open < 0 {
					c.Close()
					return // shutting down
				}
				limit = "per_source"
			}
		default:
			limit = "global"
		}
		if limit != "" {
			c.Close()
			s.m.streamsRefused.WithLabelValues(limit).Inc()
			if ok, held := refusedLog.allow(time.Now(), 10*time.Second); ok {
				s.log.Warn("ingest: too many HEP connections; refusing", "transport", transports[transport],
					"source", src.String(), "limit", limit, "per_source_limit", s.cfg.MaxConnsPerSource,
					"global_limit", s.cfg.MaxStreamConns, "more_since_last_line", held)
			}
			continue
		}
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			defer func() { <-s.streams }()
			defer s.untrack(c, src)
			defer c.Close()
			s.readStream(c, transport)
		}()
	}
}

func remoteAddr(c net.Conn) netip.AddrPort {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// track records c, from src, so shutdown can close it. It returns false
// when src already holds MaxConnsPerSource connections (open is their
// number), or when shutdown began (open < 0; the listener is closed, so
// no further connection can race in).
func (s *Server) track(c net.Conn, src netip.Addr) (ok bool, open int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false, -1
	}
	if n := s.perSource[src]; n >= s.cfg.MaxConnsPerSource {
		return false, n
	}
	s.conns[c] = struct{}{}
	s.perSource[src]++
	return true, s.perSource[src]
}

func (s *Server) untrack(c net.Conn, src netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.perSource[src]--; s.perSource[src] <= 0 {
		delete(s.perSource, src)
	}
}

// readStream reads HEPv3 packets sent back to back, each delimited by its
// own length field (HEP adds no framing on streams):
//
//	| "HEP3" len=N | ...N-6 bytes... | "HEP3" len=M | ...M-6 bytes... | ...
//
// A bad magic or length means the stream cannot be resynchronised: the
// connection is closed with the reason logged, the listener goes on. A
// client idle between packets is closed after StreamIdleTimeout, one
// stalled in the middle of a packet after StreamStallTimeout, and one that
// has not sent a decodable packet StreamFirstPacketTimeout after it was
// accepted (TLS handshake included) at that point.
func (s *Server) readStream(c net.Conn, transport int) {
	remote := c.RemoteAddr().String()
	sender := remoteAddr(c)
	firstBy := time.Now().Add(s.cfg.StreamFirstPacketTimeout)
	if tc, ok := c.(*tls.Conn); ok {
		ctx, cancel := context.WithDeadline(context.Background(), firstBy)
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
		deadline := now.Add(s.cfg.StreamIdleTimeout)
		if end > start {
			deadline = now.Add(s.cfg.StreamStallTimeout)
		}
		if h.decoded == 0 && firstBy.Before(deadline) {
			deadline = firstBy
		}
		c.SetReadDeadline(deadline)
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
				switch {
				case end > start:
					what = "stalled mid-packet"
				case h.decoded == 0:
					what = "no HEP packet in time"
				}
				s.log.Info("ingest: closing HEP stream: "+what, "remote", remote)
			default:
				s.log.Info("ingest: HEP stream read", "remote", remote, "err", err)
			}
			return
		}
	}
}
