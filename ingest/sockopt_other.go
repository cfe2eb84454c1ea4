//go:build !linux

package ingest

import "net"

// setReadBuffer uses the portable SO_RCVBUF; the granted size is unknown
// here, so it reports the request.
func setReadBuffer(c *net.UDPConn, n int) (int, error) {
	return n, c.SetReadBuffer(n)
}
