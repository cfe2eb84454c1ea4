package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// UA is one SIPp run.
type UA struct {
	Name string
	// Scenario is a file under testdata/, or an absolute path.
	Scenario string
	// Local is the UA's own ip:port.
	Local string
	// Remote is where a UAC sends every request (the first proxy); empty
	// for a UAS.
	Remote string
	// Calls is -m: SIPp exits after this many calls.
	Calls int
	// CallIDs is SIPp's -cid_str: the Call-ID pattern (%u call number,
	// %p pid, %s local IP).
	CallIDs string
	// Service is the Request-URI user of a UAC's requests (-s).
	Service string
	// Keys are -key substitutions ([uas], ...).
	Keys map[string]string
	// Args are more sipp arguments (-au, -ap, ...).
	Args []string
}

// sippTimeout bounds every SIPp run (-timeout), so that a lost message
// fails the test instead of hanging it.
const sippTimeout = 30 * time.Second

// SIPp is a started SIPp process.
type SIPp struct {
	ua      UA
	cmd     *exec.Cmd
	dir     string
	exited  chan error
	waitErr error
	done    bool
}

// startSIPp starts SIPp for ua and, for a UAS, returns once its SIP port is
// bound. The process is killed in Cleanup if it is still running.
func startSIPp(t *testing.T, ua UA) *SIPp {
	t.Helper()
	scen := ua.Scenario
	if !filepath.IsAbs(scen) {
		var err error
		if scen, err = filepath.Abs(filepath.Join("testdata", ua.Scenario)); err != nil {
			t.Fatal(err)
		}
	}
	host, port, err := net.SplitHostPort(ua.Local)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{
		"-sf", scen,
		"-i", host, "-p", port, "-t", "u1",
		"-m", fmt.Sprint(ua.Calls),
		"-timeout", fmt.Sprintf("%ds", int(sippTimeout.Seconds())), "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
		"-nostdin",
	}
	if ua.Service != "" {
		args = append(args, "-s", ua.Service)
	}
	if ua.CallIDs != "" {
		args = append(args, "-cid_str", ua.CallIDs)
	}
	keys := make([]string, 0, len(ua.Keys))
	for k := range ua.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-key", k, ua.Keys[k])
	}
	args = append(args, ua.Args...)
	if ua.Remote != "" {
		args = append([]string{ua.Remote}, args...)
	}
	cmd := exec.Command("sipp", args...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "screen.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("sipp %s: %v", ua.Name, err)
	}
	s := &SIPp{ua: ua, cmd: cmd, dir: dir, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !s.done {
			_ = cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			s.logs(t)
		}
	})
	if ua.Remote == "" {
		// A UAS is ready when its UDP port is taken.
		err := eventually(10*time.Second, func() error {
			select {
			case err := <-s.exited:
				s.exited <- err
				return fmt.Errorf("exited: %v", err)
			default:
			}
			pc, err := net.ListenPacket("udp", ua.Local)
			if err != nil {
				return nil
			}
			pc.Close()
			return fmt.Errorf("%s not bound yet", ua.Local)
		})
		if err != nil {
			t.Fatalf("sipp %s: %v", ua.Name, err)
		}
	}
	return s
}

// Wait waits for SIPp to exit and fails the test unless every call
// succeeded (exit status 0).
func (s *SIPp) Wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), sippTimeout+10*time.Second)
	defer cancel()
	select {
	case s.waitErr = <-s.exited:
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		s.waitErr = <-s.exited
	}
	s.done = true
	if s.waitErr != nil {
		t.Fatalf("sipp %s (%s): %v", s.ua.Name, s.ua.Scenario, s.waitErr)
	}
}

func (s *SIPp) logs(t testing.TB) {
	t.Helper()
	for _, f := range []string{"screen.log", "errors.log", "messages.log"} {
		p := filepath.Join(s.dir, f)
		if _, err := os.Stat(p); err == nil {
			logFile(t, "sipp "+s.ua.Name+" "+f, p)
		}
	}
}

// runCalls runs a UAS and a UAC scenario against each other, the UAC
// talking to the first proxy, and fails the test unless both complete every
// call.
func runCalls(t *testing.T, uas, uac UA) {
	t.Helper()
	s := startSIPp(t, uas)
	c := startSIPp(t, uac)
	c.Wait(t)
	s.Wait(t)
}
