package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// needSIPp skips t when sipp is not installed, unless
// CALLSCOPE_E2E_REQUIRE=1 (CI), which makes it a failure.
func needSIPp(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err == nil {
		return
	}
	if os.Getenv("CALLSCOPE_E2E_REQUIRE") == "1" {
		t.Fatal("sipp not installed (apt-get install sip-tester) and CALLSCOPE_E2E_REQUIRE=1")
	}
	t.Skip("sipp not installed (apt-get install sip-tester)")
}

// sippTimedOut is SIPp's exit status when -timeout ends a run.
const sippTimedOut = 97

// sippParses loads s in SIPp without placing or taking a call: a UAC with
// -r 0 never starts one, a UAS waits; both end at -timeout with status 97.
// A scenario SIPp cannot load (bad XML, an unknown keyword, a variable used
// once, an open transaction) ends at once with another status and says why.
func sippParses(t *testing.T, s *Scenario) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, s.FileName())
	if err := os.WriteFile(file, s.XML, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-sf", file, "-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-t", s.Transport,
		"-timeout", "1s", "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "errors.log")}
	if s.Side == UAC {
		// Over TCP and TLS SIPp connects at start: give it a peer that
		// accepts and stays silent.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		args = append(args, "-r", "0", "-m", "1", ln.Addr().String())
	}
	out, err := sipp(t, dir, args...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != sippTimedOut {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp did not load %s (%v):\n%s\n%s\n%s", s.FileName(), err, out, errs, s.XML)
	}
}

// play runs uas and uac against each other on loopback, the caller
// sending straight to the callee, and fails t unless both exit 0. It
// returns the directory holding their message logs.
func play(t *testing.T, uac, uas *Scenario) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range []*Scenario{uac, uas} {
		if err := os.WriteFile(filepath.Join(dir, s.FileName()), s.XML, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	uasPort, uacPort := freePort(t), freePort(t)
	common := func(s *Scenario, port int) []string {
		return []string{"-sf", filepath.Join(dir, s.FileName()), "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-t", s.Transport,
			"-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin",
			"-trace_msg", "-message_file", filepath.Join(dir, string(s.Side)+".messages"),
			"-trace_err", "-error_file", filepath.Join(dir, string(s.Side)+".errors")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	callee := exec.CommandContext(ctx, "sipp", common(uas, uasPort)...)
	callee.Dir = dir
	calleeOut := &limitedBuffer{}
	callee.Stdout, callee.Stderr = calleeOut, calleeOut
	if err := callee.Start(); err != nil {
		t.Fatal(err)
	}
	calleeDone := make(chan error, 1)
	go func() { calleeDone <- callee.Wait() }()
	waitBound(t, uas.Transport, uasPort, calleeDone)

	args := common(uac, uacPort)
	if uac.Service != "" {
		args = append(args, "-s", uac.Service)
	}
	if uac.Challenge {
		args = append(args, "-au", uac.AuthUser, "-ap", "wonderland")
	}
	args = append(args, "127.0.0.1:"+strconv.Itoa(uasPort))
	callerOut, callerErr := sipp(t, dir, args...)
	calleeErr := <-calleeDone
	if callerErr != nil || calleeErr != nil {
		for _, f := range []string{"uac.messages", "uac.errors", "uas.messages", "uas.errors"} {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			t.Logf("---- %s ----\n%s", f, b)
		}
		t.Fatalf("caller: %v\n%s\ncallee: %v\n%s", callerErr, callerOut, calleeErr, calleeOut)
	}
	return dir
}

func sipp(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sipp", args...)
	cmd.Dir = dir
	out := &limitedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	return out.String(), err
}

// waitBound returns once something holds port on 127.0.0.1, UDP or TCP as
// SIPp's transport says (SIPp binds before it reads the network), or
// fails t.
func waitBound(t *testing.T, transport string, port int, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("sipp exited before binding its port: %v", err)
		default:
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		var c io.Closer
		var err error
		if transport == "u1" {
			c, err = net.ListenPacket("udp", addr)
		} else {
			c, err = net.Listen("tcp", addr)
		}
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing bound 127.0.0.1:%d after 10s", port)
}

// freePort returns a port free on 127.0.0.1 for UDP and TCP at the time
// of the call.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port on 127.0.0.1")
	return 0
}

// limitedBuffer keeps the first 256 KiB written to it: SIPp's screen
// output is long.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 256<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
