package console

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth/authdb"
	"github.com/callscope/callscope/auth/authredis"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/static"
	"github.com/callscope/callscope/templates"
	"github.com/callscope/callscope/tenant/tenantdb"
	"github.com/callscope/callscope/web"
)

// Config is the console's part of callscope's configuration.
type Config struct {
	// SecureCookies marks cookies Secure and gives them the __Host- prefix;
	// set it when the console is served over TLS.
	SecureCookies bool
	// PublicURL is the base of viewer links ("https://view.example.com");
	// empty: the Minter's own URL.
	PublicURL string
	// ConsoleURL, when set, is an origin accepted for form posts besides
	// the request's own Host (e.g. behind a TLS-terminating proxy).
	ConsoleURL string

	IdleTimeout     time.Duration // 0: DefaultIdleTimeout
	AbsoluteTimeout time.Duration // 0: DefaultAbsoluteTimeout
	// Login budgets; zero values take DefaultLoginLimits.
	LoginPerIP      redis_rate.Limit
	LoginPerAccount redis_rate.Limit
	// Now is the clock of sessions and default search windows; nil: time.Now.
	Now func() time.Time
}

// DefaultLoginLimits: a person mistyping a password never meets them; a
// script guessing one account gets 5 tries, then one every 3 minutes.
func DefaultLoginLimits() (perIP, perAccount redis_rate.Limit) {
	return redis_rate.Limit{Rate: 30, Burst: 10, Period: time.Minute},
		redis_rate.Limit{Rate: 20, Burst: 5, Period: time.Hour}
}

// Stores are the auth stores the key and sharing pages use. Any may be nil
// while the build lacks it: its page then says the feature is unavailable.
type Stores struct {
	APIKeys    APIKeyStore    // *authdb.APIKeys
	TenantKeys TenantKeyStore // *authdb.TenantKeys
	Minter     LinkMinter     // *auth.Minter
	Tokens     LinkStore      // *authdb.Tokens
	Audit      ViewAudit      // *authdb.AuditWriter
	AdminLog   AdminLog       // *adminaudit.Store
}

// Server is the admin console.
type Server struct {
	cfg      Config
	admins   *authdb.AdminStore
	tenants  *tenantdb.Store
	calls    Calls // nil until a query client is configured
	stores   Stores
	sessions *Sessions
	limiter  *authredis.RateLimiter
	log      *slog.Logger
	now      func() time.Time
}

// New returns the console. qc may be nil: the call pages then answer
// "unavailable". keyPrefix namespaces the console's Redis keys.
func New(cfg Config, admins *authdb.AdminStore, tenants *tenantdb.Store, rdb redis.UniversalClient, keyPrefix string,
	qc *queryapi.Client, stores Stores, log *slog.Logger) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ip, acct := DefaultLoginLimits()
	if cfg.LoginPerIP.IsZero() {
		cfg.LoginPerIP = ip
	}
	if cfg.LoginPerAccount.IsZero() {
		cfg.LoginPerAccount = acct
	}
	s := &Server{
		cfg: cfg, admins: admins, tenants: tenants, stores: stores, log: log, now: cfg.Now,
		sessions: NewSessions(rdb, keyPrefix, cfg.IdleTimeout, cfg.AbsoluteTimeout, cfg.Now),
		limiter:  authredis.NewRateLimiter(rdb, keyPrefix, authredis.RateLimits{}),
	}
	if qc != nil {
		s.calls = qc
	}
	return s
}

// SetCalls replaces the query client (tests, or a client built later).
func (s *Server) SetCalls(c Calls) { s.calls = c }

// Routes mounts the console. Authorization per line: "open" needs nothing,
// "admin" a live session; every POST also passes the CSRF check (login's
// against a pre-session token, the rest against the session's).
func (s *Server) Routes(e *echo.Echo) {
	e.GET("/static/*", echo.WrapHandler(static.Handler()))
	g := e.Group("", s.secureHeaders, s.htmlErrors)
	admin := s.requireAdmin
	g.GET("/login", s.loginPage)                                     // open
	g.POST("/login", s.login)                                        // open, login CSRF, throttled
	g.POST("/logout", s.logout, admin)                               // admin
	g.GET("/", s.home, admin)                                        // admin
	g.GET("/calls", s.listPage, admin)                               // admin: every tenant, or one
	g.GET("/calls/live", s.livePage, admin)                          // admin: the list, refreshing
	g.GET("/calls/export.csv", s.exportCSV, admin)                   // admin: the list as CSV
	g.GET("/stats", s.statsPage, admin)                              // admin: every tenant, or one
	g.GET("/calls/view", s.callPage, admin)                          // admin: any tenant's call
	g.GET("/calls/pcap", s.callPCAP, admin)                          // admin
	g.GET("/calls/text", s.callText, admin)                          // admin
	g.GET("/calls/scenario", s.callScenario, admin)                  // admin: the call as a SIPp test
	g.POST("/calls/share", s.share, admin)                           // admin: mints a viewer link
	g.GET("/tenants", s.tenantsPage, admin)                          // admin
	g.POST("/tenants", s.createTenant, admin)                        // admin
	g.GET("/tenants/:slug", s.tenantPage, admin)                     // admin
	g.POST("/tenants/:slug/status", s.setStatus, admin)              // admin
	g.POST("/tenants/:slug/settings", s.updateSettings, admin)       // admin: retention, embed origins
	g.POST("/tenants/:slug/aliases", s.updateAliases, admin)         // admin
	g.GET("/nodes", s.nodesPage, admin)                              // admin: every tenant's nodes
	g.POST("/nodes", s.addNode, admin)                               // admin (also the claim form)
	g.POST("/nodes/remove", s.removeNode, admin)                     // admin
	g.GET("/tenants/:slug/keys", s.keysPage, admin)                  // admin: this tenant's keys only
	g.POST("/tenants/:slug/apikeys", s.createAPIKey, admin)          // admin
	g.POST("/tenants/:slug/apikeys/revoke", s.revokeAPIKey, admin)   // admin
	g.POST("/tenants/:slug/tenantkeys", s.addTenantKey, admin)       // admin
	g.POST("/tenants/:slug/tenantkeys/disable", s.disableKey, admin) // admin
	g.GET("/tenants/:slug/links", s.linksPage, admin)                // admin: this tenant's links and views
	g.POST("/tenants/:slug/links/revoke", s.revokeLink, admin)       // admin
	g.POST("/tenants/:slug/links/revoke-all", s.revokeAll, admin)    // admin
	g.GET("/admins", s.adminsPage, admin)                            // admin
	g.POST("/admins", s.createAdmin, admin)                          // admin
	g.POST("/admins/disable", s.setAdminDisabled(true), admin)       // admin, never themselves
	g.POST("/admins/enable", s.setAdminDisabled(false), admin)       // admin
	g.POST("/admins/reset", s.resetAdmin, admin)                     // admin: ends the admin's sessions
	g.GET("/audit", s.auditPage, admin)                              // admin: every tenant's actions
}

// secureHeaders go on every console response, errors and redirects included.
func (s *Server) secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		return next(c)
	}
}

// htmlErrors renders a returned error as a console page with the status of
// its kind; internal errors are logged once here with the request id.
func (s *Server) htmlErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		kind := web.KindOf(err)
		_, msg := callscope.Public(err)
		if kind == callscope.Internal {
			msg = "Something went wrong on our side."
			s.log.ErrorContext(c.Request().Context(), "console request failed", "err", err,
				"route", c.Path(), "request_id", web.RequestID(c))
		} else if _, ok := err.(*echo.HTTPError); ok || msg == "" {
			msg = http.StatusText(web.StatusOf(err))
		}
		sess, _ := c.Get(sessionKey).(*Session)
		p := ErrorProps{Chrome: s.chrome(c, sess, "Error", ""), Kind: string(kind), Message: msg, RequestID: web.RequestID(c)}
		return s.render(c, web.StatusOf(err), ErrorPage(p))
	}
}

// render renders a whole page into memory first (templates.Render) so a
// failing component is a clean error, not half a page.
func (s *Server) render(c echo.Context, status int, comp templ.Component) error {
	b, err := templates.Render(c.Request().Context(), comp)
	if err != nil {
		return err
	}
	return c.HTMLBlob(status, b)
}

// chrome is what the layout needs from the request.
func (s *Server) chrome(c echo.Context, sess *Session, title, nav string) Chrome {
	ch := Chrome{Title: title, Nav: nav}
	if sess != nil {
		ch.Email, ch.CSRF = sess.Email, sess.CSRF
	}
	return ch
}

// page is chrome for a handler behind requireAdmin.
func (s *Server) page(c echo.Context, title, nav string) Chrome {
	return s.chrome(c, session(c), title, nav)
}

func (s *Server) home(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/calls") }

// clientIP is the peer address, or what e.IPExtractor says when the
// deployment configured one for its proxy: X-Forwarded-For is never
// trusted by default, or anyone could sidestep the per-IP login limit.
func clientIP(c echo.Context) string {
	if c.Echo().IPExtractor != nil {
		return c.RealIP()
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// localPath returns next when it is a path on this site, else "/calls":
// an open redirect after login would hand phishers a trusted link.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/calls"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/calls"
	}
	return next
}

// ctx is a shorthand.
func ctx(c echo.Context) context.Context { return c.Request().Context() }
