package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/ingest"
	"github.com/callscope/callscope/redisdb"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/web"
)

// shutdownGrace bounds how long `serve` drains after a signal.
const shutdownGrace = 20 * time.Second

func cmdServe(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "serve", "serve [--roles ingest,query,viewer,console] [settings]")
	var cfg Config
	finish := configFlags(fs, e.getenv, &cfg)
	if _, err := parse(fs, e, args); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := newApp(ctx, cfg, log, e.stdout)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}

// service is one thing `serve` runs until ctx ends; Run returns after the
// service has drained.
type service interface {
	Run(ctx context.Context) error
}

// app is a running set of roles with everything they share.
type app struct {
	cfg      Config
	log      *slog.Logger
	stdout   io.Writer
	db       *db.DB
	redis    *redis.Client
	registry *prometheus.Registry
	services []service
	closers  []func()
}

// newApp opens what the configured roles need and binds every listener, so
// a port that is taken is an error here and not a log line later.
func newApp(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, stdout: stdout, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if cfg.HasRole("ingest") || cfg.HasRole("query") || cfg.HasRole("console") {
		a.db, err = db.Open(ctx, cfg.DatabaseURL, db.Options{})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.db.Close)
		now := time.Now()
		if _, err := a.db.EnsurePartitions(ctx, now.Add(-24*time.Hour), now.Add(48*time.Hour)); err != nil {
			return nil, err
		}
	}
	if cfg.HasRole("query") || cfg.HasRole("viewer") || cfg.HasRole("console") {
		a.redis, err = redisdb.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() { a.redis.Close() })
	}

	for _, role := range AllRoles {
		if !cfg.HasRole(role) {
			continue
		}
		if err := a.startRole(ctx, role); err != nil {
			return nil, err
		}
	}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{Registry: a.registry}))
		if err := a.serveHTTP("metrics", cfg.MetricsAddr, mux); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// checks returns the readiness probes of what this process depends on.
func (a *app) checks() map[string]web.Check {
	c := map[string]web.Check{}
	if a.db != nil {
		c["postgres"] = a.db.Ping
	}
	if a.redis != nil {
		c["redis"] = func(ctx context.Context) error { return a.redis.Ping(ctx).Err() }
	}
	return c
}

// startRole builds one role and binds its listener.
func (a *app) startRole(ctx context.Context, role string) error {
	switch role {
	case "query":
		e := web.New(a.log, role)
		web.HealthRoutes(e, a.checks())
		return a.serveHTTP(role, a.cfg.QueryAddr, e)
	case "viewer":
		e := web.New(a.log, role)
		web.HealthRoutes(e, a.checks())
		return a.serveHTTP(role, a.cfg.ViewerAddr, e)
	case "console":
		e := web.New(a.log, role)
		web.HealthRoutes(e, a.checks())
		return a.serveHTTP(role, a.cfg.ConsoleAddr, e)
	case "ingest":
		return a.startIngest(ctx)
	}
	return fmt.Errorf("unknown role %q", role)
}

// startIngest binds the HEP listeners and registers the collector.
func (a *app) startIngest(ctx context.Context) error {
	srv, err := ingest.New(ingest.Config{
		HEPAddr: a.cfg.HEPAddr, TLSAddr: a.cfg.HEPTLSAddr, TLSCert: a.cfg.HEPTLSCert, TLSKey: a.cfg.HEPTLSKey,
		TLSClientCA: a.cfg.HEPTLSClientCA, UDPReadBuffer: a.cfg.UDPReadBuffer,
		BatchSize: a.cfg.BatchSize, FlushInterval: a.cfg.FlushInterval, QueueSize: a.cfg.QueueSize,
		SpoolDir: a.cfg.SpoolDir, SpoolMaxBytes: a.cfg.SpoolMaxBytes,
		CorrelationHeaders: a.cfg.CorrelationHdrs, DedupWindow: a.cfg.DedupWindow,
	}, a.db, tenant.NewStore(a.db), a.registry, a.log)
	if err != nil {
		return err
	}
	if err := srv.Listen(ctx); err != nil {
		return err
	}
	udp, tcp, tls := srv.Addrs()
	fmt.Fprintf(a.stdout, "ingest listening on udp://%s\n", udp)
	fmt.Fprintf(a.stdout, "ingest listening on tcp://%s\n", tcp)
	if tls != nil {
		fmt.Fprintf(a.stdout, "ingest listening on tls://%s\n", tls)
	}
	a.services = append(a.services, srv)
	return nil
}

// serveHTTP binds addr now and registers a service that serves h on it.
func (a *app) serveHTTP(name, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	fmt.Fprintf(a.stdout, "%s listening on http://%s\n", name, ln.Addr())
	if e, ok := h.(*echo.Echo); ok {
		e.Listener = ln
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	a.services = append(a.services, httpService{name: name, srv: srv, ln: ln})
	return nil
}

type httpService struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

func (s httpService) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", s.name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s: shutdown: %w", s.name, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

// Run runs every service until ctx ends or one fails, then drains them all.
func (a *app) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range a.services {
		g.Go(func() error { return s.Run(ctx) })
	}
	fmt.Fprintln(a.stdout, "callscope ready; roles:", a.cfg.Roles)
	err := g.Wait()
	a.log.Info("stopped", "err", err)
	return err
}

// Close releases pools and clients, last opened first.
func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}
