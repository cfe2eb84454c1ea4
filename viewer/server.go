// Package viewer is callscope's public edge: GET /v/{token} renders one
// call's ladder for whoever holds the link, in the tenant's iframe. It holds
// no database credential, no private key and no secret key: it verifies
// the token (revocation in Redis, rate limits), asks the query service for
// the call with the token forwarded (query verifies it again and answers
// only inside its scope), and renders with templ. Its own credential to
// query opens only the routes an edge needs; no package it imports opens
// the database (a test holds it to that).
package viewer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/ladder"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/scenario"
	"github.com/callscope/callscope/static"
	"github.com/callscope/callscope/templates"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/web"
)

// Config is what the viewer needs to know about its surroundings.
type Config struct {
	PublicURL string // base of viewer links, e.g. https://view.example.com
	QueryURL  string // where the mint API and JWKS are forwarded
	// TrustedProxies are the peers whose X-Forwarded-For is believed: the
	// client is the rightmost address not in them. Empty: the socket peer
	// is the client.
	TrustedProxies []netip.Prefix
	// RenderCacheTTL is how long a rendered page is reused for the same
	// token and options (see renderCache): 0 means DefaultRenderCacheTTL,
	// negative disables the cache.
	RenderCacheTTL time.Duration
}

// View is one successful view, for the audit trail.
type View struct {
	At        time.Time
	Tenant    string
	CallID    string
	JTI       string
	Resource  string // "page", "text", "pcap", "scenario"
	ClientIP  netip.Addr
	UserAgent string
}

// Auditor records successful views. AuditQueue reports them to query,
// which writes the tenant's view audit; without one nothing is recorded.
type Auditor interface {
	AuditView(ctx context.Context, v View) error
}

// Server serves the public routes.
type Server struct {
	cfg      Config
	qc       *queryapi.Client
	verifier *auth.Verifier
	gate     *authredis.Gate
	dir      *Directory
	log      *slog.Logger
	prefix   string // path of PublicURL, "" or "/viewer"
	proxy    *httputil.ReverseProxy
	audit    Auditor
	renders  *renderCache // nil when disabled
	pageSize atomic.Int64 // bytes of the last page rendered
}

// New returns the viewer. verifier must resolve keys and tenant status
// through the query service (a *Directory) and check revocation in Redis;
// gate admits each view (verifier plus the public budgets).
func New(cfg Config, qc *queryapi.Client, verifier *auth.Verifier, gate *authredis.Gate, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, qc: qc, verifier: verifier, gate: gate, log: log}
	switch ttl := cfg.RenderCacheTTL; {
	case ttl == 0:
		s.renders = newRenderCache(DefaultRenderCacheTTL, defaultRenderCacheBytes)
	case ttl > 0:
		s.renders = newRenderCache(ttl, defaultRenderCacheBytes)
	}
	if d, ok := verifier.Keys.(*Directory); ok {
		s.dir = d
	} else {
		s.dir = NewDirectory(qc)
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		s.prefix = strings.TrimRight(u.Path, "/")
	}
	if target, err := url.Parse(cfg.QueryURL); err == nil && target.Host != "" {
		s.proxy = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				// Rewrite drops the client's own X-Forwarded-* headers:
				// query sees the address the viewer saw, not one the
				// client claims.
				pr.SetXForwarded()
				// Query's log lines of the request carry the viewer's id.
				pr.Out.Header.Set(web.HeaderRequestID, web.RequestIDFrom(pr.In.Context()))
			},
			ModifyResponse: func(resp *http.Response) error {
				// The answer carries the viewer's own id (the same one);
				// query's cache policy stands, or none is no-store.
				resp.Header.Del(web.HeaderRequestID)
				if resp.Header.Get("Cache-Control") == "" {
					resp.Header.Set("Cache-Control", "no-store")
				}
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				// Neither the URL (it may hold a jti) nor the body is logged.
				id := web.RequestIDFrom(r.Context())
				log.WarnContext(r.Context(), "forward to query failed", "err", errors.Unwrap(err), "request_id", id)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusBadGateway)
				_, _ = fmt.Fprintf(w, `{"error":{"code":"unavailable","message":"service unavailable","request_id":%q}}`, id)
			},
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	return s
}

// SetAuditor sets where successful views are recorded.
func (s *Server) SetAuditor(a Auditor) { s.audit = a }

// maxForwardBody bounds what the mint API forward accepts from the public.
const maxForwardBody = 64 << 10

// Routes mounts the public routes on e, and tells e which peers' client
// addresses to believe. Authorization per line: the view token in the
// path; the mint API's own API key (checked by query); none.
func (s *Server) Routes(e *echo.Echo) {
	e.IPExtractor = clientAddress(s.cfg.TrustedProxies)
	e.Use(s.securityHeaders)
	e.GET("/v/:token", s.page)                             // view token
	e.GET("/v/:token/text", s.text)                        // view token
	e.GET("/v/:token/pcap", s.pcap)                        // view token with scope pcap
	e.GET("/v/:token/scenario.zip", s.scenarioZip)         // view token with scope scenario
	e.POST("/api/v1/view-tokens", s.forward)               // API key, checked by query
	e.DELETE("/api/v1/view-tokens/:jti", s.forward)        // API key, checked by query
	e.GET("/api/v1/calls", s.forward)                      // API key, checked by query: its tenant's calls
	e.GET("/api/v1/calls/:call_id", s.forward)             // API key, checked by query: its tenant's call
	e.GET("/api/v1/calls/:call_id/scenario", s.forward)    // API key, checked by query
	e.GET("/.well-known/jwks.json", s.forward)             // public
	e.GET("/static/*", echo.WrapHandler(static.Handler())) // public, content-hashed
	web.HealthRoutes(e, map[string]web.Check{"query": s.queryReady})
}

// clientAddress is how the viewer finds a request's client: the socket
// peer, or, when it is one of the trusted proxies, the rightmost address of
// X-Forwarded-For that is not (each proxy appends the peer it saw, so
// anything left of the last untrusted hop is the client's own claim).
func clientAddress(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	// echo trusts loopback, link-local and private peers unless told not
	// to: only the configured proxies are trusted here.
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(prefixNet(p)))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (s *Server) queryReady(ctx context.Context) error {
	_, err := s.qc.TenantPublic(ctx, "-readiness-probe-")
	if callscope.Is(err, callscope.NotFound) || callscope.Is(err, callscope.Invalid) {
		return nil // query answered
	}
	return err
}

// forward hands the token API to query. The answer keeps query's
// Cache-Control (the JWKS may be cached, a minted token never is).
func (s *Server) forward(c echo.Context) error {
	if s.proxy == nil {
		return callscope.Errorf(callscope.Unavailable, "query service not configured")
	}
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForwardBody)
	c.Response().Header().Del("Cache-Control")
	s.proxy.ServeHTTP(c.Response(), r)
	return nil
}

// Security headers of every response. frame-ancestors starts at 'none' and
// is opened to a tenant's embed origins only once a token proved which
// tenant the response belongs to.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", csp(nil))
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		return next(c)
	}
}

// csp builds the policy. Origins were normalised when the tenant saved
// them; they are checked again here because they land in a header.
func csp(origins []string) string {
	fa := make([]string, 0, len(origins))
	for _, o := range origins {
		if n, err := tenant.NormalizeOrigin(o); err == nil && n == o {
			fa = append(fa, o)
		}
	}
	ancestors := "'none'"
	if len(fa) > 0 {
		ancestors = strings.Join(fa, " ")
	}
	return "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors " + ancestors +
		"; base-uri 'none'; form-action 'none'"
}

func (s *Server) clientIP(c echo.Context) netip.Addr {
	ip, err := netip.ParseAddr(c.RealIP())
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return ip.Unmap()
}

// refusal is a page the viewer answers instead of the call.
type refusal struct {
	kind       string // templates.ErrorProps.Kind: an auth.Refusal or a page kind
	status     int
	origins    []string
	retryAfter time.Duration
	window     string // the token's window, for "empty_window"
}

// windowText is a token's window as the empty-window page shows it.
func windowText(from, to time.Time) string {
	from, to = from.UTC(), to.UTC()
	const day, clock = "Mon 2 Jan 2006 15:04", "15:04"
	if from.YearDay() == to.YearDay() && from.Year() == to.Year() {
		return from.Format(day) + "–" + to.Format(clock) + " UTC"
	}
	return from.Format(day) + " – " + to.Format(day) + " UTC"
}

// refused is the page of a refused token: its refusal, and the embed
// origins of its tenant when the refusal leaves its signature good.
func (s *Server) refused(c echo.Context, tok string, err error) *refusal {
	r, _ := auth.RefusalOf(err)
	if r == "" || r == auth.ErrUnavailable {
		return s.unavailable(c, "verify", err)
	}
	ctx := c.Request().Context()
	s.log.InfoContext(ctx, "view token refused", "outcome", string(r), "request_id", web.RequestID(c))
	return &refusal{kind: string(r), status: web.Status(r.Kind()),
		origins: s.verifier.FramingOrigins(ctx, tok, err, s.dir.EmbedOrigins)}
}

// admit runs the checks every /v/ resource shares (authredis.Gate.Admit):
// the address's invalid-token budget, Verify, then the per-token and
// per-address view budgets.
func (s *Server) admit(c echo.Context, tok string) (*auth.Claims, *refusal) {
	ctx := c.Request().Context()
	claims, budget, err := s.gate.Admit(ctx, tok, s.clientIP(c))
	if err != nil {
		return nil, s.refused(c, tok, err)
	}
	if budget.Limited {
		r := &refusal{kind: "rate_limited", status: http.StatusTooManyRequests, retryAfter: budget.RetryAfter}
		if claims != nil {
			// Only a verified token names the tenant whose page this is.
			r.origins = s.origins(ctx, claims)
		}
		return nil, r
	}
	return claims, nil
}

func (s *Server) unavailable(c echo.Context, what string, err error) *refusal {
	s.log.WarnContext(c.Request().Context(), "view refused: dependency unavailable", "what", what, "err", err, "request_id", web.RequestID(c))
	return &refusal{kind: string(auth.ErrUnavailable), status: http.StatusServiceUnavailable}
}

func (s *Server) origins(ctx context.Context, claims *auth.Claims) []string {
	o, _ := s.dir.EmbedOrigins(ctx, claims.Tenant)
	return o
}

// fromQuery turns a query Client error into the page to show.
func (s *Server) fromQuery(c echo.Context, tok string, claims *auth.Claims, err error) *refusal {
	ctx := c.Request().Context()
	switch r, _ := auth.RefusalOf(err); {
	case callscope.Is(err, callscope.NotFound):
		// The token is good and names this call: what it lacks is
		// messages inside its window (however old the window is).
		return &refusal{kind: "empty_window", status: http.StatusNotFound, origins: s.origins(ctx, claims),
			window: windowText(claims.WindowStart, claims.WindowEnd)}
	case r != "" && r != auth.ErrUnavailable:
		// Revoked between our check and query's, for instance.
		return s.refused(c, tok, err)
	case callscope.Is(err, callscope.Unavailable):
		return s.unavailable(c, "query", err)
	}
	s.log.ErrorContext(ctx, "view failed", "err", err, "route", c.Path(), "request_id", web.RequestID(c))
	return &refusal{kind: "internal", status: http.StatusInternalServerError}
}

func (s *Server) refuse(c echo.Context, r *refusal) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp(r.origins))
	if r.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((r.retryAfter+time.Second-1)/time.Second)))
	}
	body, err := templates.Render(c.Request().Context(), templates.ErrorPage(templates.ErrorProps{
		Kind: r.kind, RequestID: web.RequestID(c), StyleURL: static.URL("app.css"), Theme: theme(c), Window: r.window}))
	if err != nil {
		return err
	}
	return web.Blob(c, r.status, echo.MIMETextHTMLCharsetUTF8, body)
}

func theme(c echo.Context) string {
	switch t := c.QueryParam("theme"); t {
	case "light", "dark":
		return t
	}
	return ""
}

func (s *Server) record(c echo.Context, claims *auth.Claims, resource string) {
	if s.audit == nil {
		return
	}
	v := View{At: time.Now().UTC(), Tenant: claims.Tenant, CallID: claims.CallID, JTI: claims.ID, Resource: resource, ClientIP: s.clientIP(c),
		UserAgent: c.Request().UserAgent()}
	if err := s.audit.AuditView(c.Request().Context(), v); err != nil {
		s.log.WarnContext(c.Request().Context(), "audit view", "err", err, "request_id", web.RequestID(c))
	}
}

// viewBase is the page's own path, from which its links are built. The
// token is already in the address bar; Referrer-Policy keeps it from
// leaking to anything the page links to.
func (s *Server) viewBase(tok string) string { return s.prefix + "/v/" + tok }

func (s *Server) page(c echo.Context) error {
	tok := c.Param("token")
	claims, r := s.admit(c, tok)
	if r != nil {
		return s.refuse(c, r)
	}
	ctx := c.Request().Context()
	pageNo, _ := strconv.Atoi(c.QueryParam("page"))
	pageNo = max(pageNo, 1)
	group := c.QueryParam("group") == "ip"
	compact := c.QueryParam("compact") == "1"
	th := theme(c)
	// Only now, with the token verified and not revoked in this very
	// request, may a page rendered for it a moment ago be served.
	key := renderKey(tok, pageNo, th, group, compact)
	if e, ok := s.renders.get(key); ok {
		c.Response().Header().Set("Content-Security-Policy", csp(e.origins))
		s.record(c, claims, "page")
		return web.Blob(c, http.StatusOK, echo.MIMETextHTMLCharsetUTF8, e.body)
	}
	call, err := s.qc.ViewCall(ctx, tok)
	if err != nil {
		return s.refuse(c, s.fromQuery(c, tok, claims, err))
	}
	c.Response().Header().Set("Content-Security-Policy", csp(call.Tenant.EmbedOrigins))
	msgs, events := call.Ladder()
	notes := events
	if compact {
		notes = nil // the compact ladder is the messages; the summary has the worst quality
	}
	d := ladder.Build(msgs, notes, ladder.Options{GroupByIP: group, Aliases: call.Tenant.Aliases, Page: pageNo, Compact: compact})

	base := s.viewBase(tok)
	link := func(page int, group, compact bool) string {
		q := url.Values{}
		if th != "" {
			q.Set("theme", th)
		}
		if group {
			q.Set("group", "ip")
		}
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		if compact {
			q.Set("compact", "1")
		}
		if len(q) == 0 {
			return base
		}
		return base + "?" + q.Encode()
	}
	props := templates.ViewerProps{
		CallID: call.CallID, Theme: th, Diagram: d, Events: events,
		QoS:          qosOf(call),
		Compact:      compact,
		OtherViewURL: link(pageNo, group, !compact),
		PageURL:      func(p int) string { return link(p, group, compact) },
		StyleURL:     static.URL("app.css"),
		GroupByIP:    group,
	}
	if sum, ok := templates.NewSummary(call.Record, call.OwnMessages(), nil); ok {
		props.Summary = &sum
	}
	if !compact {
		props.TextURL = base + "/text"
		props.GroupURL = link(1, !group, false)
		if claims.HasScope(auth.ScopePCAP) {
			props.PCAPURL = base + "/pcap"
		}
		if claims.HasScope(auth.ScopeScenario) {
			props.ScenarioURL = base + "/scenario.zip"
		}
	}
	body, err := s.renderPage(ctx, templates.ViewerPage(props))
	if err != nil {
		s.log.ErrorContext(ctx, "render failed", "err", err, "request_id", web.RequestID(c))
		return s.refuse(c, &refusal{kind: "internal", status: http.StatusInternalServerError, origins: call.Tenant.EmbedOrigins})
	}
	s.renders.put(key, body, call.Tenant.EmbedOrigins)
	s.record(c, claims, "page")
	return web.Blob(c, http.StatusOK, echo.MIMETextHTMLCharsetUTF8, body)
}

// renderPage renders a viewer page into a buffer sized like the last one:
// grown from empty, a 40 KB page cost ten reallocations and copies, and
// more garbage than the page itself.
// qosOf charts the call's media reports over the call's own time, not the
// link's window: from its first message or report to its last.
func qosOf(call *queryapi.Call) templates.QoS {
	reports := call.MediaReports()
	if len(reports) == 0 {
		return templates.QoS{}
	}
	from, to := reports[0].At, reports[0].At
	for _, r := range reports {
		from, to = minTime(from, r.At), maxTime(to, r.At)
	}
	if n := len(call.Messages); n > 0 {
		from, to = minTime(from, call.Messages[0].CapturedAt), maxTime(to, call.Messages[n-1].CapturedAt)
	}
	return templates.NewQoS(reports, from, to)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *Server) renderPage(ctx context.Context, page templ.Component) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(s.pageSize.Load(), maxPageHint)+4096))
	if err := page.Render(ctx, buf); err != nil {
		return nil, fmt.Errorf("viewer: render page: %w", err)
	}
	s.pageSize.Store(int64(buf.Len()))
	return buf.Bytes(), nil
}

// maxPageHint bounds the buffer a page starts with, whatever the last
// page's size.
const maxPageHint = 1 << 20

func (s *Server) text(c echo.Context) error {
	tok := c.Param("token")
	claims, r := s.admit(c, tok)
	if r != nil {
		return s.refuse(c, r)
	}
	body, err := s.qc.ViewText(c.Request().Context(), tok)
	if err != nil {
		return s.refuse(c, s.fromQuery(c, tok, claims, err))
	}
	c.Response().Header().Set("Content-Security-Policy", csp(s.origins(c.Request().Context(), claims)))
	s.record(c, claims, "text")
	return web.Blob(c, http.StatusOK, "text/plain; charset=utf-8", body)
}

// pcap answers a token without scope pcap with the not-found page, as
// query does: the page never links the download for such a token.
func (s *Server) pcap(c echo.Context) error {
	tok := c.Param("token")
	claims, r := s.admit(c, tok)
	if r != nil {
		return s.refuse(c, r)
	}
	if !claims.HasScope(auth.ScopePCAP) {
		return s.refuse(c, &refusal{kind: "not_found", status: http.StatusNotFound, origins: s.origins(c.Request().Context(), claims)})
	}
	body, err := s.qc.ViewPCAP(c.Request().Context(), tok)
	if err != nil {
		return s.refuse(c, s.fromQuery(c, tok, claims, err))
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp(s.origins(c.Request().Context(), claims)))
	h.Set("Content-Disposition", `attachment; filename="call.pcap"`)
	s.record(c, claims, "pcap")
	return web.Blob(c, http.StatusOK, "application/vnd.tcpdump.pcap", body)
}

// scenarioZip is the call as a SIPp test (both sides and a README.txt),
// for a token with scope scenario; without it, the not-found page, as
// pcap answers. A call SIPp cannot replay gets a page saying so.
func (s *Server) scenarioZip(c echo.Context) error {
	tok := c.Param("token")
	claims, r := s.admit(c, tok)
	if r != nil {
		return s.refuse(c, r)
	}
	ctx := c.Request().Context()
	if !claims.HasScope(auth.ScopeScenario) {
		return s.refuse(c, &refusal{kind: "not_found", status: http.StatusNotFound, origins: s.origins(ctx, claims)})
	}
	call, err := s.qc.ViewCall(ctx, tok)
	if err != nil {
		return s.refuse(c, s.fromQuery(c, tok, claims, err))
	}
	body, err := call.ScenarioZip(scenario.Options{})
	if callscope.Is(err, callscope.Unprocessable) {
		return s.refuse(c, &refusal{kind: "not_reproducible", status: http.StatusUnprocessableEntity, origins: call.Tenant.EmbedOrigins})
	}
	if err != nil {
		return s.refuse(c, s.fromQuery(c, tok, claims, err))
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp(call.Tenant.EmbedOrigins))
	h.Set("Content-Disposition", `attachment; filename="sipp-test.zip"`)
	s.record(c, claims, "scenario")
	return web.Blob(c, http.StatusOK, "application/zip", body)
}
