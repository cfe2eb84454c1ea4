package scenario

import (
	"fmt"
	"net/netip"
	"time"
)

// Message is one captured SIP message as the generator needs it.
type Message struct {
	Payload   []byte         // the SIP message as captured
	Time      time.Time      // capture time
	Src, Dst  netip.AddrPort // as the capture node reported them
	Transport string         // udp, tcp, tls, sctp, ws, wss
	CaptureID uint32         // the capture node
	NodeName  string
}

// Side is the endpoint a scenario plays.
type Side string

const (
	// UAC is the caller: the endpoint that sent the call's first request.
	UAC Side = "uac"
	// UAS is the callee: the endpoint where the first request stopped.
	UAS Side = "uas"
)

// ParseSide reads "uac" or "uas".
func ParseSide(s string) (Side, error) {
	switch Side(s) {
	case UAC, UAS:
		return Side(s), nil
	}
	return "", fmt.Errorf("side %q: want uac or uas", s)
}

// Options change how a scenario is written.
type Options struct {
	// NoPauses drops the pauses that reproduce the captured gaps (ringing
	// time, talk time): the scenario then runs as fast as its peer answers.
	NoPauses bool
}

// UnsupportedError is a captured flow that SIPp cannot replay faithfully.
// Reason is a sentence for the user.
type UnsupportedError struct {
	Reason string
}

func (e *UnsupportedError) Error() string {
	return "cannot export this call as a SIPp scenario: " + e.Reason
}

func unsupported(format string, args ...any) error {
	return &UnsupportedError{Reason: fmt.Sprintf(format, args...)}
}
