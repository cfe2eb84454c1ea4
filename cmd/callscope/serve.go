package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/callscope/callscope/adminaudit"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/calls"
	"github.com/callscope/callscope/console"
	"github.com/callscope/callscope/db"
	"github.com/callscope/callscope/ingest"
	"github.com/callscope/callscope/query"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/redisdb"
	"github.com/callscope/callscope/retention"
	"github.com/callscope/callscope/tenant/tenantdb"
	"github.com/callscope/callscope/viewer"
	"github.com/callscope/callscope/web"
)

// shutdownGrace bounds how long `serve` drains after a signal.
const shutdownGrace = 20 * time.Second

func cmdServe(ctx context.Context, c *cmdline) error {
	var cfg Config
	finish := configFlags(c.fs, c.getenv, &cfg)
	if _, err := c.parse(); err != nil {
		return err
	}
	if err := finish(); err != nil {
		return err
	}
	log := newLogger(c.stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := newApp(ctx, cfg, log, c.stdout)
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

// A stage is when a service stops: each stage starts draining only once
// every service of the stage before it has returned, so in one process
// the viewer's audit queue can still reach query, and query can still
// hand its audit entries to the writer, while they drain.
type stage int

const (
	stageEdge  stage = iota // listeners, ingest, the viewer's audit queue, loops
	stageQuery              // query's HTTP API: what the edge calls
	stageStore              // writers query feeds
	stages
)

func (a *app) add(st stage, s service) { a.services[st] = append(a.services[st], s) }

// app is a running set of roles with everything they share.
type app struct {
	cfg      Config
	log      *slog.Logger
	stdout   io.Writer
	db       *db.DB
	redis    redis.UniversalClient
	registry *prometheus.Registry
	services [stages][]service
	closers  []func()
	auth     *authStores // built by the first role that needs them
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
		// Retention owns the daily partitions: its first pass, at once,
		// creates today's and the next days'; then hourly, one process at a
		// time (advisory lock), with the global and tenants' retention.
		enf, err := retention.New(a.db, tenantdb.NewStore(a.db), retention.Config{MaxDays: cfg.RetentionMax}, a.registry, a.log)
		if err != nil {
			return nil, err
		}
		a.add(stageEdge, runFunc(func(ctx context.Context) error { return enf.Loop(ctx, time.Hour) }))
	}
	if cfg.HasRole("query") || cfg.HasRole("viewer") || cfg.HasRole("console") {
		a.redis, err = redisdb.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() { a.redis.Close() })
		a.warnEvictingRedis(ctx)
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
		if _, err := a.serveHTTP("metrics", cfg.MetricsAddr, mux); err != nil {
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
	case "ingest":
		return a.startIngest(ctx)
	case "query":
		return a.startQuery(ctx)
	case "viewer":
		return a.startViewer()
	case "console":
		return a.startConsole(ctx)
	}
	return fmt.Errorf("unknown role %q", role)
}

// warnEvictingRedis warns when Redis may evict keys: a revoked token's key
// evicted is a revoked link that works again. (A lost tenant state is
// detected and rebuilt; a single evicted key among others is not.)
func (a *app) warnEvictingRedis(ctx context.Context) {
	policy, err := redisdb.MaxMemoryPolicy(ctx, a.redis)
	switch {
	case err != nil:
		a.log.Warn("could not read Redis's maxmemory-policy (CONFIG GET refused?): make sure it is noeviction, or revoked links may come back", "err", err)
	case policy != "noeviction":
		a.log.Warn("Redis may evict keys: set maxmemory-policy noeviction, or an evicted revocation brings a revoked link back", "maxmemory-policy", policy)
	}
}

// credential is what a caller presents to query: its own setting, else,
// in a process that holds the secret key, one derived from it under label,
// so that a single secret configures an all-roles deployment. A split
// deployment sets each on its own (the viewer holds no secret key).
func (a *app) credential(s setting, own, label string) (string, error) {
	if own != "" {
		return own, nil
	}
	if a.cfg.SecretKey == "" {
		return "", fmt.Errorf("%s (or CALLSCOPE_SECRET_KEY, to derive it) is required", s.env)
	}
	m := hmac.New(sha256.New, []byte(a.cfg.SecretKey))
	m.Write([]byte(label))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// consoleToken opens query's admin routes; viewerToken only the edge's.
func (a *app) consoleToken() (string, error) {
	return a.credential(sQueryToken, a.cfg.QueryToken, "callscope query service token v1")
}

func (a *app) viewerToken() (string, error) {
	return a.credential(sViewerToken, a.cfg.ViewerToken, "callscope viewer query token v1")
}

func (a *app) limits() auth.Limits {
	return auth.Limits{MaxLifetime: a.cfg.TokenMaxTTL, MaxWindow: a.cfg.TokenMaxWindow, Leeway: 30 * time.Second}
}

func (a *app) queryClient(credential string) *queryapi.Client {
	return queryapi.NewClient(a.cfg.QueryURL, credential, &http.Client{Timeout: 15 * time.Second})
}

// auditDrops logs and counts the view-audit entries role lost.
func (a *app) auditDrops(role string) func(reason string, n int, err error) {
	m := web.NewAuditDrops(a.registry, role)
	return func(reason string, n int, err error) {
		m.Observe(reason, n)
		a.log.Warn("view audit entries lost", "role", role, "reason", reason, "entries", n, "err", err)
	}
}

// authStores builds, once, the PostgreSQL-backed key and token stores that
// the query and console roles share. Signing keys need the secret key.
func (a *app) authStores(ctx context.Context) (*authStores, error) {
	if a.auth != nil {
		return a.auth, nil
	}
	if a.cfg.SecretKey == "" {
		return nil, errors.New("CALLSCOPE_SECRET_KEY is required by the query and console roles: it encrypts the signing keys at rest (scripts/run generates one for local use)")
	}
	sealer, err := auth.NewSealer(a.cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	tenants := tenantdb.NewStore(a.db)
	cached := tenantdb.NewCache(tenants, tenantdb.DefaultCacheTTL)
	st := &authStores{
		tenants:    tenants,
		cached:     cached,
		keys:       authdb.NewKeyStore(a.db, sealer),
		tenantKeys: authdb.NewTenantKeys(a.db, cached),
		apiKeys:    authdb.NewAPIKeys(a.db),
		revs:       authredis.NewRevocations(a.redis, a.cfg.RedisPrefix, time.Now),
		limiter:    authredis.NewRateLimiter(a.redis, a.cfg.RedisPrefix, authredis.DefaultRateLimits()),
		audit:      authdb.NewAuditWriter(a.db, authdb.AuditOptions{OnDrop: a.auditDrops("query")}),
	}
	// The secret must open the signing keys before anything is written.
	if err := st.keys.CheckSecret(ctx); err != nil {
		return nil, err
	}
	if err := st.keys.EnsureActive(ctx); err != nil {
		return nil, err
	}
	st.tokens = authdb.NewTokens(a.db, tenants, st.revs, a.limits())
	// Redis is not the record of revocations: publish what PostgreSQL
	// records now, and again for any tenant whose state Redis loses later.
	st.revs.SetRebuild(st.tokens.SyncTenant)
	if _, err := st.tokens.SyncRevocations(ctx); err != nil {
		return nil, err
	}
	st.minter = auth.NewMinter(st.keys, st.tokens, a.limits(), a.cfg.PublicURL)
	a.add(stageStore, runFunc(st.audit.Run))
	a.auth = st
	return st, nil
}

type authStores struct {
	tenants    *tenantdb.Store
	cached     *tenantdb.Cache // this process's one copy of tenant rows
	keys       *authdb.KeyStore
	tenantKeys *authdb.TenantKeys
	apiKeys    *authdb.APIKeys
	tokens     *authdb.Tokens
	revs       *authredis.Revocations
	limiter    *authredis.RateLimiter
	minter     *auth.Minter
	audit      *authdb.AuditWriter
}

// runFunc adapts a function to a service.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

func (a *app) startQuery(ctx context.Context) error {
	st, err := a.authStores(ctx)
	if err != nil {
		return err
	}
	console, err := a.consoleToken()
	if err != nil {
		return err
	}
	viewerTok, err := a.viewerToken()
	if err != nil {
		return err
	}
	verifier := &auth.Verifier{
		Keys:        authdb.Resolver{Server: st.keys, Tenants: st.tenantKeys},
		Tenants:     st.cached,
		Revocations: st.revs,
		Limits:      a.limits(),
		Observe:     web.NewVerifyMetrics(a.registry, "query").Observe,
		Memo:        auth.NewMemo(),
	}
	store := query.NewStore(a.db)
	qs := query.NewServer(store, st.cached, verifier, query.Credentials{Console: console, Viewer: viewerTok}, a.log)
	qs.SetViewRecorder(st.audit)
	qs.SetRevocationSync(st.tokens)
	api := query.NewTokenAPI(st.apiKeys, st.minter, st.tokens, st.keys, st.limiter)
	records := calls.NewStore(a.db, nil)
	qs.SetCallRecords(records)
	callsAPI := calls.NewAPI(records, func(ctx context.Context, key string) (int64, error) {
		k, err := st.apiKeys.AuthenticateAPIKey(ctx, key)
		return k.TenantID, err
	})
	e := web.New(a.log, "query")
	e.Use(web.Metrics(a.registry, "query"))
	web.HealthRoutes(e, a.checks())
	qs.Routes(e.Group(""))
	api.Routes(e.Group(""))
	query.NewScenarioAPI(st.apiKeys, store).Routes(e.Group(""))
	callsAPI.Routes(e.Group(""))
	addr, err := a.serveHTTP("query", a.cfg.QueryAddr, e)
	if err != nil {
		return err
	}
	if a.cfg.queryURLDerived {
		// Viewer and console in this process reach query where it really
		// listens (":0" picks a port).
		a.cfg.QueryURL = "http://" + addr.String()
	}
	return nil
}

// startViewer needs no database and no secret key: its own credential to
// query, query's URL, Redis and the public URL.
func (a *app) startViewer() error {
	tok, err := a.viewerToken()
	if err != nil {
		return err
	}
	qc := a.queryClient(tok)
	dir := viewer.NewDirectory(qc)
	revs := authredis.NewRevocations(a.redis, a.cfg.RedisPrefix, time.Now)
	// The viewer cannot read PostgreSQL: query rebuilds what Redis lost.
	revs.SetRebuild(qc.SyncRevocations)
	verifier := &auth.Verifier{
		Keys:        dir,
		Tenants:     dir,
		Revocations: revs,
		Limits:      a.limits(),
		Observe:     web.NewVerifyMetrics(a.registry, "viewer").Observe,
		Memo:        auth.NewMemo(),
	}
	gate := authredis.NewGate(verifier, authredis.NewRateLimiter(a.redis, a.cfg.RedisPrefix, authredis.DefaultRateLimits()))
	v := viewer.New(viewer.Config{PublicURL: a.cfg.PublicURL, QueryURL: a.cfg.QueryURL, TrustedProxies: a.cfg.TrustedProxies},
		qc, verifier, gate, a.log)
	audit := viewer.NewAuditQueue(qc, 10000, time.Second)
	audit.OnDrop = a.auditDrops("viewer")
	v.SetAuditor(audit)
	a.add(stageEdge, audit)
	e := web.New(a.log, "viewer")
	e.Use(web.Metrics(a.registry, "viewer"))
	v.Routes(e)
	_, err = a.serveHTTP("viewer", a.cfg.ViewerAddr, e)
	return err
}

func (a *app) startConsole(ctx context.Context) error {
	st, err := a.authStores(ctx)
	if err != nil {
		return err
	}
	tok, err := a.consoleToken()
	if err != nil {
		return err
	}
	c := console.New(console.Config{SecureCookies: a.cfg.ConsoleSecure, PublicURL: a.cfg.PublicURL},
		authdb.NewAdminStore(a.db, auth.DefaultParams()), st.tenants, a.redis, a.cfg.RedisPrefix, a.queryClient(tok),
		console.Stores{APIKeys: st.apiKeys, TenantKeys: st.tenantKeys, Minter: st.minter, Tokens: st.tokens, Audit: st.audit,
			AdminLog: adminaudit.NewStore(a.db)},
		a.log)
	e := web.New(a.log, "console")
	e.Use(web.Metrics(a.registry, "console"))
	web.HealthRoutes(e, a.checks())
	c.Routes(e)
	_, err = a.serveHTTP("console", a.cfg.ConsoleAddr, e)
	return err
}

// startIngest binds the HEP listeners and registers the collector.
func (a *app) startIngest(ctx context.Context) error {
	srv, err := ingest.New(ingest.Config{
		HEPAddr: a.cfg.HEPAddr, TLSAddr: a.cfg.HEPTLSAddr, TLSCert: a.cfg.HEPTLSCert, TLSKey: a.cfg.HEPTLSKey,
		TLSClientCA: a.cfg.HEPTLSClientCA, MaxConnsPerSource: a.cfg.HEPConnsPerSrc, UDPReadBuffer: a.cfg.UDPReadBuffer,
		BatchSize: a.cfg.BatchSize, FlushInterval: a.cfg.FlushInterval, QueueSize: a.cfg.QueueSize,
		QueueBytes: a.cfg.QueueBytes, Writers: a.cfg.Writers,
		SpoolDir: a.cfg.SpoolDir, SpoolMaxBytes: a.cfg.SpoolMaxBytes,
		CorrelationHeaders: a.cfg.CorrelationHdrs, DedupWindow: a.cfg.DedupWindow,
	}, a.db, tenantdb.NewStore(a.db), a.registry, a.log)
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
	a.add(stageEdge, srv)
	return nil
}

// serveHTTP binds addr now and registers a service that serves h on it.
// It returns the bound address.
func (a *app) serveHTTP(name, addr string, h http.Handler) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	fmt.Fprintf(a.stdout, "%s listening on http://%s\n", name, ln.Addr())
	if e, ok := h.(*echo.Echo); ok {
		e.Listener = ln
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	st := stageEdge
	if name == "query" {
		st = stageQuery
	}
	a.add(st, httpService{name: name, srv: srv, ln: ln})
	return ln.Addr(), nil
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

// Run runs every service until ctx ends or one fails, then drains them
// stage by stage.
func (a *app) Run(ctx context.Context) error {
	err := runStages(ctx, a.services[:], func() { fmt.Fprintln(a.stdout, "callscope ready; roles:", a.cfg.Roles) })
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
