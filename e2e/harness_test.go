package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/redisdb/redistest"
)

// requiredPeers are the programs the capture tests drive.
var requiredPeers = []string{"kamailio", "sipp", "tshark"}

var (
	// callscopeBin is where the binary is built from ../cmd/callscope,
	// once, by the first test that needs it (buildCallscope): tests of the
	// peers alone keep running while the tree does not build.
	callscopeBin string
	buildOnce    sync.Once
	buildErr     error
	// skipReason is set when a peer is missing and CALLSCOPE_E2E_REQUIRE is
	// not 1: every test that needs a peer then skips with it.
	skipReason string
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	var missing []string
	for _, p := range requiredPeers {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("e2e: %s not installed (apt-get install kamailio sip-tester tshark)", strings.Join(missing, ", "))
		if os.Getenv("CALLSCOPE_E2E_REQUIRE") == "1" {
			fmt.Fprintln(os.Stderr, msg+" and CALLSCOPE_E2E_REQUIRE=1: failing")
			return 1
		}
		// The tests that need no SIP peer (the browser ones) still run.
		fmt.Fprintln(os.Stderr, msg+": skipping the tests that need them")
		skipReason = msg
	}

	dir, err := os.MkdirTemp("", "callscope-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	callscopeBin = filepath.Join(dir, "callscope")
	return m.Run()
}

// buildCallscope builds the binary the first time it is called.
func buildCallscope(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", callscopeBin, "../cmd/callscope")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ../cmd/callscope: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// needPeers skips t when TestMain found a peer missing.
func needPeers(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// Callscope is a running `callscope serve` with every role, on its own
// database and free loopback ports.
type Callscope struct {
	// Env is the CALLSCOPE_* environment the server runs with; CLI
	// commands get the same.
	Env []string
	// DatabaseURL is the test's own database (the schema owner's URL).
	DatabaseURL string
	// HEPAddr is the HEP listener, UDP and TCP on the same port.
	HEPAddr string
	// PublicURL is the viewer's base URL, as minted links carry it.
	PublicURL string
	// Listening maps "<role> <scheme>" ("viewer http", "ingest udp") to the
	// address the server printed.
	Listening map[string]string
}

// readyLine is what `callscope serve` prints once every listener is bound.
const readyLine = "callscope ready"

// listeningRe matches "<role> listening on <scheme>://ADDR".
var listeningRe = regexp.MustCompile(`^(\w+) listening on (\w+)://(\S+)$`)

// startCallscope runs `callscope serve` as a subprocess against a fresh
// database and returns once it printed that it is ready. Cleanup stops it
// with SIGTERM and fails the test unless it exits cleanly; its stderr is
// logged when the test failed.
func startCallscope(t *testing.T) *Callscope {
	t.Helper()
	c := newCallscope(t)
	c.Start(t)
	return c
}

// serverIP is where every test's callscope listens for HEP and viewers.
const serverIP = "127.0.0.9"

// newCallscope prepares a server on a fresh migrated database without
// starting it, so that a test can provision through the CLI first. It needs
// no SIP peer: tests that drive Kamailio or SIPp call needPeers themselves.
func newCallscope(t *testing.T) *Callscope {
	t.Helper()
	buildCallscope(t)
	dbURL := dbtest.NewURL(t)
	// HEP and the viewer listen on an address of their own, ports chosen
	// here and bound by the server a few seconds later: on 127.0.0.1 any
	// outgoing connection (to PostgreSQL, Redis, query) may take the port
	// in between, and once did. Nothing connects from serverIP.
	hepAddr := freeUDPTCPAddr(t, serverIP)
	// The viewer's port is chosen here rather than by the kernel, so that
	// CALLSCOPE_PUBLIC_URL (the base of minted viewer links) is right.
	viewerAddr := freeUDPTCPAddr(t, serverIP)
	// Each server's Redis keys (rate limits, sessions, revocations) live
	// under a prefix of its own, deleted when the test ends.
	_, redisPrefix := redistest.New(t)
	env := []string{
		"CALLSCOPE_DATABASE_URL=" + dbURL,
		"CALLSCOPE_REDIS_URL=" + redistest.URL(),
		"CALLSCOPE_REDIS_PREFIX=" + redisPrefix,
		"CALLSCOPE_SECRET_KEY=e2e-secret-key-0123456789abcdef0123456789",
		"CALLSCOPE_HEP_ADDR=" + hepAddr,
		"CALLSCOPE_VIEWER_ADDR=" + viewerAddr,
		"CALLSCOPE_PUBLIC_URL=http://" + viewerAddr,
		"CALLSCOPE_QUERY_ADDR=127.0.0.1:0",
		"CALLSCOPE_CONSOLE_ADDR=127.0.0.1:0",
		"CALLSCOPE_METRICS_ADDR=127.0.0.1:0",
		"CALLSCOPE_SPOOL_DIR=" + t.TempDir(),
		// Rows become visible quickly; the tests poll for them anyway.
		"CALLSCOPE_FLUSH_INTERVAL=50ms",
		"CALLSCOPE_LOG_LEVEL=debug",
	}
	return &Callscope{Env: env, DatabaseURL: dbURL, HEPAddr: hepAddr, PublicURL: "http://" + viewerAddr,
		Listening: map[string]string{}}
}

// Start runs `callscope serve` and returns once it printed that it is
// ready. Cleanup stops it with SIGTERM and fails the test unless it exits
// cleanly; its stderr is logged when the test failed.
func (c *Callscope) Start(t *testing.T) {
	t.Helper()
	logDir := t.TempDir()
	stderrPath := filepath.Join(logDir, "callscope.stderr")
	stderr, err := os.Create(stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(callscopeBin, "serve")
	cmd.Env = append(baseEnv(), c.Env...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start callscope serve: %v", err)
	}
	stderr.Close()
	t.Cleanup(func() {
		if t.Failed() {
			logFile(t, "callscope serve stderr", stderrPath)
		}
	})

	// Read stdout until ready; keep draining it afterwards so the server
	// never blocks on a full pipe.
	ready := make(chan error, 1)
	var outMu sync.Mutex
	var out strings.Builder
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			outMu.Lock()
			out.WriteString(line + "\n")
			if m := listeningRe.FindStringSubmatch(line); m != nil && !signalled {
				c.Listening[m[1]+" "+m[2]] = m[3]
			}
			outMu.Unlock()
			if strings.HasPrefix(line, readyLine) && !signalled {
				signalled = true
				ready <- nil
			}
		}
		if !signalled {
			ready <- errors.New("stdout closed before " + readyLine)
		}
		exited <- cmd.Wait()
	}()

	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("callscope serve did not exit cleanly after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("callscope serve still running 30s after SIGTERM; killed")
			<-exited
		}
	})

	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("callscope serve: %v; stdout:\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("callscope serve not ready after 60s; stdout:\n%s", out.String())
	}
	outMu.Lock()
	t.Logf("callscope serve is ready: %v", c.Listening)
	outMu.Unlock()
}

// Set replaces (or adds) setting name in the server's environment.
func (c *Callscope) Set(name, value string) {
	for i, kv := range c.Env {
		if strings.HasPrefix(kv, name+"=") {
			c.Env[i] = name + "=" + value
			return
		}
	}
	c.Env = append(c.Env, name+"="+value)
}

// CLI runs a callscope subcommand with the server's environment, as an
// operator would, and returns its stdout. A non-zero exit fails the test.
func (c *Callscope) CLI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, callscopeBin, args...)
	cmd.Env = append(baseEnv(), c.Env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("callscope %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// baseEnv is the test process's environment without CALLSCOPE_* settings,
// so that a developer's shell cannot leak into the server under test.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CALLSCOPE_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeUDPTCPAddr returns ip:port where the port is free for both UDP and
// TCP at the moment of the call. Another process may take it before the
// caller binds it; on loopback with kernel-chosen ports that is rare.
func freeUDPTCPAddr(t testing.TB, ip string) string {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("free port on %s: %v", ip, err)
		}
		addr := ln.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		return addr
	}
	t.Fatalf("no port free for both UDP and TCP on %s", ip)
	return ""
}

// logFile writes a log file into the test output.
func logFile(t testing.TB, what, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Logf("%s: %v", what, err)
		return
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 256<<10))
	t.Logf("---- %s (%s) ----\n%s---- end of %s ----", what, path, b, what)
}

// eventually polls cond every 100ms until it returns nil or timeout
// passes, and returns cond's last error.
func eventually(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
