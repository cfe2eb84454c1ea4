package demo

import (
	"context"
	"fmt"
	"net"

	"github.com/callscope/callscope/hep"
)

// Node is the capture node the demo pretends to be.
type Node struct {
	CaptureID uint32
	AuthKey   string
	Name      string
}

// Packets encodes every message of calls as HEPv3 from node.
func Packets(node Node, calls []Call) [][]byte {
	var out [][]byte
	for _, c := range calls {
		for _, m := range c.Messages {
			p := hep.Packet{Version: 3, Family: hep.FamilyIPv4, Protocol: hep.ProtoUDP, Src: m.Src, Dst: m.Dst,
				PayloadType: m.Type, CaptureID: node.CaptureID, Payload: []byte(m.Payload)}
			if m.Src.Addr().Is6() {
				p.Family = hep.FamilyIPv6
			}
			p.SetTime(m.Time)
			if node.AuthKey != "" {
				p.AuthKey = []byte(node.AuthKey)
			}
			if node.Name != "" {
				p.NodeName = []byte(node.Name)
			}
			if m.Corr != "" {
				p.CorrelationID = []byte(m.Corr)
			}
			out = append(out, p.AppendV3(nil))
		}
	}
	return out
}

// Send sends packets to a HEP collector at addr over UDP.
func Send(ctx context.Context, addr string, packets [][]byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("demo.Send(%s): %w", addr, err)
	}
	defer conn.Close()
	for _, p := range packets {
		if _, err := conn.Write(p); err != nil {
			return fmt.Errorf("demo.Send(%s): %w", addr, err)
		}
	}
	return nil
}
