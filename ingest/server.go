package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/sip"
	"github.com/callscope/callscope/tenant/tenantdb"
)

// Server is the HEP collector: listeners, node resolution, the write queue,
// the batch writer and the disk spool. Build it with New, bind with Listen,
// serve with Run.
type Server struct {
	cfg       Config
	db        *db.DB
	log       *slog.Logger
	m         *metrics
	nodes     *resolver
	extractor *sip.Extractor
	corrNames []string // extractor's correlation headers, by index
	dedup     *dedup
	queue     chan *row
	spool     *spool

	// queued is the footprint in bytes of accepted rows not yet released
	// (written or spooled), bounded by Config.QueueBytes; space wakes a
	// stream reader waiting for some of it to be released.
	queued atomic.Int64
	space  chan struct{}
	// stopping is closed when Run begins to stop: readers waiting for
	// memory give up.
	stopping chan struct{}

	udp      *net.UDPConn
	tcp, tls net.Listener
	tlsConf  *tls.Config
	streams  chan struct{} // one token per open TCP/TLS connection

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	perSource map[netip.Addr]int // open TCP/TLS connections by source address

	readers sync.WaitGroup

	// peakWrites is the most batch writes the writer had in flight at
	// once (logged at stop; the parallel-writer test checks it).
	peakWrites atomic.Int64
	// spoolNeed is the size of the last batch the writer spilled or tried
	// to, spoolErr whether that failed for another reason than the limit:
	// while the spool cannot take such a batch, a datagram dropped for
	// want of memory counts as spool_full, not queue_full.
	spoolNeed atomic.Int64
	spoolErr  atomic.Bool
	// lagOldest is the receive time (unix µs) of the oldest accepted
	// message not written yet, 0 when none waits; set by the writer.
	lagOldest atomic.Int64
	// status is the upkeep goroutine's (reportHealth).
	status status
}

// New builds a Server. It checks cfg (an Invalid error names the setting),
// loads the TLS material when TLS is on, and registers the metrics on reg
// (a fresh registry when nil). It binds nothing: see Listen.
func New(cfg Config, d *db.DB, nodes *tenantdb.Store, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, db: d, log: log,
		extractor: sip.NewExtractor(cfg.CorrelationHeaders),
		queue:     make(chan *row, cfg.QueueSize),
		space:     make(chan struct{}, 1),
		stopping:  make(chan struct{}),
		streams:   make(chan struct{}, cfg.MaxStreamConns),
		conns:     map[net.Conn]struct{}{},
		perSource: map[netip.Addr]int{},
	}
	s.corrNames = s.extractor.CorrelationHeaders()
	if cfg.DedupWindow > 0 {
		s.dedup = newDedup(cfg.DedupWindow)
	}
	m, err := newMetrics(reg, gauges{
		queueDepth:   func() float64 { return float64(len(s.queue)) },
		queueBytes:   func() float64 { return float64(s.queued.Load()) },
		spoolBytes:   func() float64 { return float64(s.spoolBytes()) },
		lagSeconds:   func() float64 { return s.lag(time.Now()).Seconds() },
		backlogBytes: func() float64 { return float64(s.queued.Load() + s.spoolBytes()) },
	})
	if err != nil {
		return nil, err
	}
	s.m = m
	s.nodes = newResolver(nodes, m.acceptedByTenant)
	if cfg.TLSAddr != "" {
		if s.tlsConf, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func loadTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, &callscope.Error{Kind: callscope.Invalid, Field: "hep_tls_cert",
			Message: fmt.Sprintf("cannot load %s / %s", cfg.TLSCert, cfg.TLSKey), Err: err}
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, &callscope.Error{Kind: callscope.Invalid, Field: "hep_tls_client_ca",
				Message: "cannot read " + cfg.TLSClientCA, Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, callscope.FieldError("hep_tls_client_ca", "%s holds no PEM certificate", cfg.TLSClientCA)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	} else {
		// Without a CA a client certificate is optional and not verified
		// against any chain, but its holder proves the private key in the
		// handshake: a node bound to its fingerprint (tenant.Node.CertSHA256)
		// accepts that client only.
		c.ClientAuth = tls.RequestClientCert
	}
	return c, nil
}

// Listen binds every listener (UDP and TCP on HEPAddr, TLS on TLSAddr),
// opens the spool and loads the node map. Any failure is returned: a port
// that is taken or a node map that cannot be read stops the start. What an
// earlier process left in the spool is written by Run, ahead of anything
// new. (Partitions are retention's: rows that arrive before their day's
// partition exists wait in DEFAULT and move when it is created.)
func (s *Server) Listen(ctx context.Context) error {
	if err := s.bind(); err != nil {
		s.closeListeners()
		return err
	}
	s.status.instance = instanceName(s.cfg.Instance, s.udp.LocalAddr().String())
	s.status.started = time.Now()
	sp, err := openSpool(s.cfg.SpoolDir, s.cfg.SpoolMaxBytes)
	if err != nil {
		s.closeListeners()
		return err
	}
	s.spool = sp
	if err := s.nodes.refresh(ctx, true); err != nil {
		s.closeListeners()
		return err
	}
	if sp.pending() {
		s.log.Info("ingest: the spool holds batches of an earlier process; writing them first, in order", "bytes", sp.size.Load())
	}
	return nil
}

func (s *Server) bind() error {
	host, port, err := net.SplitHostPort(s.cfg.HEPAddr)
	if err != nil {
		return callscope.FieldError("hep_addr", "%q is not host:port: %v", s.cfg.HEPAddr, err)
	}
	// UDP and TCP share the port. With port 0 the kernel picks the TCP port;
	// UDP may find it taken, so try a few times.
	for attempt := 0; ; attempt++ {
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("ingest: listen tcp %s: %w", s.cfg.HEPAddr, err)
		}
		uaddr, err := net.ResolveUDPAddr("udp", tcp.Addr().String())
		if err != nil {
			tcp.Close()
			return fmt.Errorf("ingest: listen udp %s: %w", s.cfg.HEPAddr, err)
		}
		udp, err := net.ListenUDP("udp", uaddr)
		if err != nil {
			tcp.Close()
			if port == "0" && attempt < 10 {
				continue
			}
			return fmt.Errorf("ingest: listen udp %s: %w", s.cfg.HEPAddr, err)
		}
		s.tcp, s.udp = tcp, udp
		break
	}
	got, err := setReadBuffer(s.udp, s.cfg.UDPReadBuffer)
	if err != nil {
		return fmt.Errorf("ingest: udp read buffer: %w", err)
	}
	if got < s.cfg.UDPReadBuffer {
		s.log.Warn("ingest: UDP receive buffer capped by the kernel; raise net.core.rmem_max (sysctl -w net.core.rmem_max=N) or grant CAP_NET_ADMIN",
			"requested", s.cfg.UDPReadBuffer, "got", got)
	}
	if s.cfg.TLSAddr != "" {
		ln, err := net.Listen("tcp", s.cfg.TLSAddr)
		if err != nil {
			return fmt.Errorf("ingest: listen tls %s: %w", s.cfg.TLSAddr, err)
		}
		s.tls = tls.NewListener(ln, s.tlsConf)
	}
	return nil
}

// Addrs returns the bound addresses; tls is nil when TLS is off. Valid
// after Listen.
func (s *Server) Addrs() (udp, tcp, tls net.Addr) {
	if s.udp != nil {
		udp = s.udp.LocalAddr()
	}
	if s.tcp != nil {
		tcp = s.tcp.Addr()
	}
	if s.tls != nil {
		tls = s.tls.Addr()
	}
	return udp, tcp, tls
}

func (s *Server) closeListeners() {
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	if s.tls != nil {
		s.tls.Close()
	}
}

// enqueue hands r to the writer. When the queue is full (in bytes or in
// rows) a datagram is dropped and counted; with wait (a TCP or TLS
// reader) it waits for room instead, which stops that connection's reads
// and lets TCP push back on the sender. The wait ends when the writer
// writes or spools rows, or when the server stops: memory can stay full
// for as long as PostgreSQL is away and the spool full, and a stopping
// server drops the packet (counted) rather than wait for ever.
func (s *Server) enqueue(r *row, e *nodeEntry, wait bool) {
	n, at := r.footprint(), r.receivedAt // r is the writer's once queued
	if !s.reserve(n, wait) {
		s.dropFull(r, e)
		return
	}
	if wait {
		s.queue <- r
	} else {
		select {
		case s.queue <- r:
		default:
			s.unreserve(n)
			s.dropFull(r, e)
			return
		}
	}
	s.m.accepted.Inc()
	e.accepted.Inc()
	e.stats.count(outcomeAccepted, at)
}

// dropFull drops r for want of memory, counted for its node too.
func (s *Server) dropFull(r *row, e *nodeEntry) {
	reason := s.fullReason()
	s.m.dropped[reason].Inc()
	e.stats.count(outcomeIndex[reason], r.receivedAt)
	putRow(r)
}

func (s *Server) spoolBytes() int64 {
	if s.spool == nil {
		return 0
	}
	return s.spool.size.Load()
}

// lag is how far behind PostgreSQL ingest is at now: the age of the oldest
// accepted message not written yet, 0 when none waits.
func (s *Server) lag(now time.Time) time.Duration {
	oldest := s.lagOldest.Load()
	if oldest == 0 {
		return 0
	}
	return max(0, now.Sub(time.UnixMicro(oldest)))
}

// fullReason names a datagram drop for want of memory: the spool is full
// (the writer holds in memory what it refuses), or the writer cannot keep
// up even with the spool (the queue is full).
func (s *Server) fullReason() string {
	if s.spoolErr.Load() || s.spool != nil && s.spool.size.Load()+s.spoolNeed.Load() > s.cfg.SpoolMaxBytes {
		return reasonSpoolFull
	}
	return reasonQueueFull
}

// reserve takes n bytes of the queue's budget, waiting for them when wait
// is set.
func (s *Server) reserve(n int64, wait bool) bool {
	for {
		if s.queued.Add(n) <= s.cfg.QueueBytes {
			if wait {
				s.wake() // pass the turn on: the release may have freed room for more
			}
			return true
		}
		s.queued.Add(-n)
		if !wait {
			return false
		}
		// The short timeout covers a wake taken by another waiter.
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-s.space:
		case <-t.C:
		case <-s.stopping:
			// Memory may stay full (PostgreSQL away, spool full): a
			// stopping server does not wait for it.
			t.Stop()
			return false
		}
		t.Stop()
	}
}

func (s *Server) unreserve(n int64) {
	s.queued.Add(-n)
	s.wake()
}

func (s *Server) wake() {
	select {
	case s.space <- struct{}{}:
	default:
	}
}

// release returns b's rows to the pool once they are written or spooled,
// and their bytes to the queue's budget.
func (s *Server) release(b *batch) {
	var n int64
	for _, r := range b.rows {
		n += r.footprint()
		putRow(r)
	}
	s.unreserve(n)
}

// Run serves until ctx ends, then stops reading, drains the queue, writes
// what it can within Config.ShutdownTimeout and spools the rest, and
// returns. It returns an error only when it was not started with Listen.
func (s *Server) Run(ctx context.Context) error {
	if s.udp == nil || s.spool == nil {
		return errors.New("ingest: Run before a successful Listen")
	}
	for range s.cfg.UDPReaders {
		s.readers.Add(1)
		go func() { defer s.readers.Done(); s.readUDP() }()
	}
	s.readers.Add(1)
	go func() { defer s.readers.Done(); s.acceptStreams(s.tcp, trTCP) }()
	if s.tls != nil {
		s.readers.Add(1)
		go func() { defer s.readers.Done(); s.acceptStreams(s.tls, trTLS) }()
	}

	// Background upkeep stops with ctx.
	var upkeep sync.WaitGroup
	upkeep.Add(1)
	go func() { defer upkeep.Done(); s.maintain(ctx) }()

	// The writer outlives ctx: it drains after the readers stop, with a
	// context bounded by the shutdown deadline.
	writerDone := make(chan struct{})
	w := newWriter(s, context.WithoutCancel(ctx))
	go func() { defer close(writerDone); w.run() }()
	upkeep.Add(1)
	go func() {
		defer upkeep.Done()
		s.spool.syncLoop(ctx, func(err error) { s.log.Error("ingest: spool", "err", err) })
	}()

	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	w.drainCtx = dctx // published to the writer by close(s.queue) below
	s.log.Info("ingest: stopping", "queued", len(s.queue), "queued_bytes", s.queued.Load())
	close(s.stopping)
	s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.readers.Wait()
	close(s.queue)
	<-writerDone
	upkeep.Wait()

	fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer fcancel()
	if err := s.nodes.flushUnclaimed(fctx); err != nil {
		s.log.Warn("ingest: final unclaimed flush", "err", err)
	}
	s.reportHealth(fctx, time.Now())
	if err := s.spool.close(); err != nil {
		s.log.Error("ingest: spool close", "err", err)
	}
	s.log.Info("ingest: stopped", "spooled_bytes", s.spool.size.Load(), "peak_writes_in_flight", s.peakWrites.Load())
	return nil
}

// maintain keeps the node map fresh, reports unknown capture IDs, node
// health and this process's lag, until ctx ends.
func (s *Server) maintain(ctx context.Context) {
	nodes := time.NewTicker(s.cfg.NodeRefresh)
	defer nodes.Stop()
	unclaimed := time.NewTicker(s.cfg.UnclaimedFlush)
	defer unclaimed.Stop()
	health := time.NewTicker(s.cfg.HealthFlush)
	defer health.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-health.C:
			s.reportHealth(ctx, now)
		case <-nodes.C:
			if err := s.nodes.refresh(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Warn("ingest: node map refresh failed; keeping the current map", "err", err)
			}
		case <-unclaimed.C:
			if err := s.nodes.flushUnclaimed(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("ingest: unclaimed flush failed; will retry", "err", err)
			}
		}
	}
}
