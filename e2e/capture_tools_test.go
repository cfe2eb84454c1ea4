package e2e

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callscope/callscope/pcap"
	"github.com/callscope/callscope/sip"
)

// Wire is a tshark capture on the loopback interface.
type Wire struct {
	path   string
	cmd    *exec.Cmd
	exited chan error
	log    string
}

// startWire starts tshark on lo, capturing the UDP packets to and from the
// proxies' SIP ports, and returns once it is capturing. The filter is
// narrow on purpose: other test packages may flood lo with HEP over UDP
// meanwhile, and a capture that drops packets would make the expected
// hops wrong.
func startWire(t *testing.T, proxies ...Proxy) *Wire {
	t.Helper()
	var ports []string
	for _, p := range proxies {
		ports = append(ports, "port "+port(p.Addr))
	}
	filter := "udp and (" + strings.Join(ports, " or ") + ")"
	dir := t.TempDir()
	w := &Wire{path: filepath.Join(dir, "lo.pcap"), log: filepath.Join(dir, "tshark.log"), exited: make(chan error, 1)}
	// -F pcap: classic pcap, the simplest thing to read back.
	w.cmd = exec.Command("tshark", "-i", "lo", "-f", filter, "-w", w.path, "-F", "pcap", "-q")
	logf, err := os.Create(w.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	stderr, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stdout = logf
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("tshark: %v", err)
	}
	capturing := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if !once && strings.HasPrefix(sc.Text(), "Capturing on") {
				once = true
				close(capturing)
			}
		}
		w.exited <- w.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		if t.Failed() {
			logFile(t, "tshark log", w.log)
		}
	})
	select {
	case <-capturing:
	case err := <-w.exited:
		logFile(t, "tshark log", w.log)
		t.Fatalf("tshark exited before capturing: %v", err)
	case <-time.After(20 * time.Second):
		logFile(t, "tshark log", w.log)
		t.Fatal("tshark not capturing after 20s")
	}
	return w
}

// Stop ends the capture (SIGINT makes tshark flush the file) and returns
// the SIP messages it saw.
func (w *Wire) Stop(t *testing.T) []WireMsg {
	t.Helper()
	// The last packets may still sit in the capture buffer.
	time.Sleep(500 * time.Millisecond)
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("tshark did not stop on SIGINT")
	}
	frames, err := pcap.ReadFile(w.path)
	if err != nil {
		t.Fatalf("reading the capture: %v", err)
	}
	x := sip.NewExtractor(nil)
	var msgs []WireMsg
	for _, f := range frames {
		payload, src, dst, ok := pcap.UDPPayload(f)
		if !ok {
			continue
		}
		var m sip.Message
		if err := x.Extract(payload, &m); err != nil {
			continue
		}
		msgs = append(msgs, WireMsg{Src: src, Dst: dst, CallID: string(m.CallID), What: what(&m), CSeq: int64(m.CSeqNum), CSeqMethod: string(m.CSeqMethod)})
	}
	return msgs
}

// WireMsg is one SIP message as it crossed the loopback.
type WireMsg struct {
	Src, Dst   netip.AddrPort
	CallID     string
	What       string // method, or status code
	CSeq       int64
	CSeqMethod string
}

func what(m *sip.Message) string {
	if m.Request {
		return string(m.Method)
	}
	return fmt.Sprint(m.StatusCode)
}
