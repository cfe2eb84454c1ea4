package ingest

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// udpBatch is how many datagrams one recvmmsg call may return: at tens of
// thousands of packets a second the syscall per datagram is what a
// reader otherwise spends its time on.
const udpBatch = 32

// maxDatagram fits any HEP packet (its length field is 16 bits).
const maxDatagram = 64 << 10

// readUDP reads datagrams in batches until the socket is closed. Each
// datagram is one HEP packet of any version.
func (s *Server) readUDP() {
	h := s.newHandler(trUDP)
	pc := ipv4.NewPacketConn(s.udp)
	msgs := make([]ipv4.Message, udpBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, maxDatagram)}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("ingest: udp read", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. ENOBUFS: do not spin
			continue
		}
		now := time.Now()
		for i := range msgs[:n] {
			m := &msgs[i]
			var from netip.AddrPort
			if ua, ok := m.Addr.(*net.UDPAddr); ok {
				from = ua.AddrPort()
			}
			h.handle(m.Buffers[0][:m.N], from, now)
		}
	}
}
