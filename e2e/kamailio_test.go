package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// kamailioModules is where Debian's kamailio package installs its modules.
const kamailioModules = "/usr/lib/x86_64-linux-gnu/kamailio/modules"

var kamailioCfg = template.Must(template.ParseFiles("testdata/kamailio.cfg.tmpl"))

// Proxy describes one Kamailio proxy with siptrace.
type Proxy struct {
	Name string
	// Addr is the proxy's SIP address, ip:port (UDP and TCP).
	Addr string
	// HEPURI is siptrace's duplicate_uri: "sip:127.0.0.1:9060", with
	// ";transport=tcp" for HEP over TCP.
	HEPURI    string
	CaptureID uint32
	// AuthKey, when set, is sent in HEP chunk 0x000e.
	AuthKey string
	// Next, when set, is the SIP URI every initial request is sent to
	// (the next proxy), with ";transport=tcp" or ";transport=tls" for a
	// stream hop; otherwise the Request-URI decides.
	Next string

	// TLSAddr, when set, is a SIP over TLS listener, ip:port, and loads
	// tls.so (Debian's kamailio-tls-modules): the proxy presents TLSCert
	// with TLSKey, both as a server and when it opens a TLS connection
	// itself, and requires and verifies the peer's certificate against
	// TLSCA either way. A proxy needs its own TLS listener to send over
	// TLS, even when it only opens connections. See testCA for the files.
	TLSAddr, TLSCert, TLSKey, TLSCA string
	// SourceIP, when set, is the address the proxy's outgoing TCP and TLS
	// connections leave from (tcp_source_ipv4), as they would from a host
	// of its own: on loopback the kernel otherwise picks 127.0.0.1 for
	// every proxy's connections.
	SourceIP string
	// TryingHold, when set, makes the proxy answer a new INVITE with its
	// 100 Trying itself and wait that long before relaying it, so that the
	// previous hop has received that 100 before the INVITE goes on: the
	// two otherwise leave within microseconds and race.
	TryingHold time.Duration
	// CPU, when set, is the CPU list (taskset -c) the proxy's processes
	// run on.
	CPU string
	// RejectUser, when set, is a Request-URI user the proxy refuses
	// itself with 404 Not Found instead of relaying.
	RejectUser string

	// ModulesDir is filled in by startKamailio.
	ModulesDir string
}

// startKamailio renders testdata/kamailio.cfg.tmpl for p, runs Kamailio in
// the foreground and returns once the proxy answers an OPTIONS on its SIP
// port. Cleanup stops it; its log is attached to the test output when the
// test failed.
func startKamailio(t *testing.T, p Proxy) {
	t.Helper()
	p.ModulesDir = kamailioModules
	dir := t.TempDir()
	var cfg bytes.Buffer
	if err := kamailioCfg.Execute(&cfg, p); err != nil {
		t.Fatalf("kamailio %s: config: %v", p.Name, err)
	}
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfgPath, cfg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "kamailio.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()

	// -DD: stay in the foreground (children are still forked); -E: log to
	// stderr. Small shared (-m) and private (-M) memory: four of these run
	// at once on a small CI box.
	args := []string{"-DD", "-E",
		"-f", cfgPath, "-P", filepath.Join(runDir, "kamailio.pid"), "-Y", runDir,
		"-m", "64", "-M", "8", "-w", dir}
	cmd := exec.Command("kamailio", args...)
	if p.CPU != "" {
		cmd = exec.Command("taskset", append([]string{"-c", p.CPU, "kamailio"}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that Cleanup reaches the forked workers
	// even if the main process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("kamailio %s: %v", p.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
			t.Errorf("kamailio %s ignored SIGTERM for 10s; killed", p.Name)
		}
		if t.Failed() {
			logFile(t, "kamailio "+p.Name+" log", logPath)
		}
	})

	err = eventually(15*time.Second, func() error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("exited: %v", err)
		default:
		}
		return sipPing(p.Addr)
	})
	if err != nil {
		logFile(t, "kamailio "+p.Name+" config", cfgPath)
		t.Fatalf("kamailio %s not answering on %s: %v", p.Name, p.Addr, err)
	}
}

// needKamailioTLS skips t when Kamailio's tls.so (Debian's
// kamailio-tls-modules) is not installed, unless CALLSCOPE_E2E_REQUIRE=1
// (CI), which makes it a failure.
func needKamailioTLS(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(kamailioModules, "tls.so")); err == nil {
		return
	}
	msg := "e2e: " + kamailioModules + "/tls.so not installed (apt-get install kamailio-tls-modules)"
	if os.Getenv("CALLSCOPE_E2E_REQUIRE") == "1" {
		t.Fatal(msg + " and CALLSCOPE_E2E_REQUIRE=1: failing")
	}
	t.Skip(msg + ": skipping")
}

// sipPing sends one OPTIONS to addr over UDP and waits briefly for a 200.
// The routing script answers it itself (and siptrace reports both).
func sipPing(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	conn, err := (&net.Dialer{LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}}).DialContext(ctx, "udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	callID := fmt.Sprintf("e2e-probe-%d@%s", time.Now().UnixNano(), local)
	msg := strings.Join([]string{
		"OPTIONS sip:" + addr + " SIP/2.0",
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-" + callID[len("e2e-probe-"):len("e2e-probe-")+12],
		"From: <sip:probe@" + local + ">;tag=probe",
		"To: <sip:" + addr + ">",
		"Call-ID: " + callID,
		"CSeq: 1 OPTIONS",
		"Max-Forwards: 70",
		"Content-Length: 0",
		"", "",
	}, "\r\n")
	if _, err := conn.Write([]byte(msg)); err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	conn.SetReadDeadline(deadline)
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200")) {
		return fmt.Errorf("answer %q", bytes.SplitN(buf[:n], []byte("\r\n"), 2)[0])
	}
	return nil
}

// freeSIPAddr returns ip:port free for UDP and TCP, for a proxy or a UA.
func freeSIPAddr(t testing.TB, ip string) string { return freeUDPTCPAddr(t, ip) }
