package ingest

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/db/dbtest"
	"github.com/callscope/callscope/hep"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// bundle is one running ingest Server on its own database.
type bundle struct {
	t     *testing.T
	db    *db.DB
	store *tenantdb.Store
	srv   *Server
	cfg   Config

	udp, tcp, tls net.Addr
	cancel        context.CancelFunc
	done          chan error
}

// testConfig is a Config on loopback with a fast writer and refresh.
func testConfig(t *testing.T) Config {
	return Config{
		HEPAddr:        "127.0.0.1:0",
		SpoolDir:       filepath.Join(t.TempDir(), "spool"),
		BatchSize:      100,
		FlushInterval:  20 * time.Millisecond,
		QueueSize:      10000,
		NodeRefresh:    100 * time.Millisecond,
		UnclaimedFlush: 100 * time.Millisecond,
		RetryInterval:  100 * time.Millisecond,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// setup starts a Server on a fresh database; mods adjust the config.
func setup(t *testing.T, mods ...func(*Config)) *bundle {
	t.Helper()
	d := dbtest.New(t)
	cfg := testConfig(t)
	for _, m := range mods {
		m(&cfg)
	}
	return start(t, d, cfg)
}

// start runs a Server over d with cfg until the test ends (or stop).
func start(t *testing.T, d *db.DB, cfg Config) *bundle {
	t.Helper()
	return startLogged(t, d, cfg, testLogger(t))
}

// startLogged is start with the server's log going to log.
func startLogged(t *testing.T, d *db.DB, cfg Config, log *slog.Logger) *bundle {
	t.Helper()
	b := &bundle{t: t, db: d, store: tenantdb.NewStore(d), cfg: cfg}
	srv, err := New(cfg, d, b.store, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Listen(ctx); err != nil {
		cancel()
		t.Fatalf("Listen: %v", err)
	}
	b.srv, b.cancel, b.done = srv, cancel, make(chan error, 1)
	b.udp, b.tcp, b.tls = srv.Addrs()
	go func() { b.done <- srv.Run(ctx) }()
	t.Cleanup(b.stop)
	return b
}

// stop ends Run and waits for it; safe to call twice.
func (b *bundle) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			b.t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		b.t.Error("Run did not return within 30s of cancellation")
	}
}

func (b *bundle) dropped(reason string) float64 { return counterValue(b.srv.m.dropped[reason]) }

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// stallWriters holds a SHARE lock on ingest_batches, which stops every
// batch write at its first statement, until release is called (at the
// latest when the test ends).
func stallWriters(tb testing.TB, d *db.DB) (release func()) {
	tb.Helper()
	ctx := context.Background()
	tx, err := d.Owner().Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE ingest_batches IN SHARE MODE`); err != nil {
		tx.Rollback(ctx)
		tb.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Rollback(ctx); err != nil {
				tb.Error(err)
			}
		})
	}
	tb.Cleanup(release)
	return release
}

// logBuffer is a log destination a test reads while the server writes.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines that contain every one of parts.
func (l *logBuffer) lines(parts ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// waitFor polls cond until it holds, failing with what after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDropped polls until at least n drops of reason were counted.
func (b *bundle) waitDropped(reason string, n float64) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.dropped(reason) < n {
		if time.Now().After(deadline) {
			b.t.Fatalf("dropped{%s} = %v, want >= %v", reason, b.dropped(reason), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// MustTenant creates a tenant.
func MustTenant(tb testing.TB, s *tenantdb.Store, slug string) tenant.Tenant {
	tb.Helper()
	t, err := s.Create(context.Background(), tenant.New{Slug: slug})
	if err != nil {
		tb.Fatalf("create tenant %s: %v", slug, err)
	}
	return t
}

// MustNode registers a capture node.
func MustNode(tb testing.TB, s *tenantdb.Store, tenantID int64, n tenant.NewNode) {
	tb.Helper()
	if _, err := s.AddNode(context.Background(), tenantID, n); err != nil {
		tb.Fatalf("add node %d: %v", n.CaptureID, err)
	}
}

// MustFixture reads testdata/name.
func MustFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var (
	testSrc = netip.MustParseAddrPort("192.0.2.10:5060")
	testDst = netip.MustParseAddrPort("198.51.100.20:5080")
	testTS  = time.Date(2025, 11, 26, 3, 6, 7, 890123000, time.UTC)
)

// sipPacket returns a HEP packet (v3) from captureID carrying payload.
func sipPacket(captureID uint32, payload []byte) *hep.Packet {
	p := &hep.Packet{Version: 3, Protocol: hep.ProtoUDP, Src: testSrc, Dst: testDst,
		PayloadType: hep.PayloadSIP, CaptureID: captureID, Payload: payload}
	p.SetTime(testTS)
	return p
}

// withCallID returns the invite fixture with its Call-ID replaced.
func withCallID(tb testing.TB, callID string) []byte {
	inv := MustFixture(tb, "invite.sip")
	const orig = "a84b4c76e66710@pc33.atlanta.example.com"
	i := indexOf(inv, orig)
	out := append([]byte{}, inv[:i]...)
	out = append(out, callID...)
	return append(out, inv[i+len(orig):]...)
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	panic("fixture changed: " + s)
}

// sendUDP sends each packet as one datagram from a fresh socket.
func sendUDP(tb testing.TB, addr net.Addr, pkts ...[]byte) {
	tb.Helper()
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	for _, p := range pkts {
		if _, err := c.Write(p); err != nil {
			tb.Fatal(err)
		}
	}
}

// sendStream writes packets back to back on one TCP connection (or TLS
// when conf is set) and closes it.
func sendStream(tb testing.TB, addr net.Addr, conf *tls.Config, pkts ...[]byte) {
	tb.Helper()
	var c net.Conn
	var err error
	if conf != nil {
		c, err = tls.Dial("tcp", addr.String(), conf)
	} else {
		c, err = net.Dial("tcp", addr.String())
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	for _, p := range pkts {
		if _, err := c.Write(p); err != nil {
			tb.Fatal(err)
		}
	}
}

// count runs a count(*) query as the schema owner (no row-level security).
func count(tb testing.TB, d *db.DB, sql string, args ...any) int {
	tb.Helper()
	var n int
	if err := d.Owner().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

// waitCount polls until the query counts want, failing after timeout;
// then it checks the count stays (no late duplicate) for a moment.
func waitCount(tb testing.TB, d *db.DB, want int, timeout time.Duration, sql string, args ...any) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := count(tb, d, sql, args...)
		if n == want {
			return
		}
		if n > want {
			tb.Fatalf("%s = %d, want %d", sql, n, want)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s = %d after %s, want %d", sql, n, timeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxy is a TCP proxy in front of the shared PostgreSQL that a test can
// cut (every connection dropped, new ones refused) and restore, to take
// the database away without touching the real server.
type proxy struct {
	ln     net.Listener
	target string
	// delay, when set, holds every chunk of traffic back this long in
	// both directions: a PostgreSQL that answers, slowly.
	delay atomic.Int64

	mu    sync.Mutex
	up    bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, up: true, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if !up {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.pipe(s, c); s.Close(); c.Close() }()
		go func() { defer p.wg.Done(); p.pipe(c, s); s.Close(); c.Close() }()
	}
}

// pipe copies src to dst, each chunk after the proxy's delay.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := time.Duration(p.delay.Load()); d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// slow makes every chunk of traffic wait d (0: none).
func (p *proxy) slow(d time.Duration) { p.delay.Store(int64(d)) }

// cut drops every proxied connection and refuses new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = false
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.up = true
	p.mu.Unlock()
}
