package ingest

import (
	"net"
	"syscall"
)

// setReadBuffer asks for an n-byte receive buffer: SO_RCVBUFFORCE first,
// which ignores net.core.rmem_max when the process has CAP_NET_ADMIN, then
// SO_RCVBUF, which the kernel silently caps at net.core.rmem_max. It
// returns the size the kernel granted (Linux reports double the request,
// for its bookkeeping: halved here so it compares with n).
func setReadBuffer(c *net.UDPConn, n int) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var got int
	var serr error
	err = rc.Control(func(fd uintptr) {
		if e := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n); e != nil {
			if e := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n); e != nil {
				serr = e
				return
			}
		}
		v, e := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		if e != nil {
			serr = e
			return
		}
		got = v / 2
	})
	if err != nil {
		return 0, err
	}
	return got, serr
}
