package query

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/query/queryapi"
	"github.com/callscope/callscope/tenant"
	"github.com/callscope/callscope/web"
)

// KeySource finds public verification keys for the viewer's key endpoints.
// The auth key stores implement it (it is auth.KeyResolver's method set);
// returns NotFound for an unknown kid.
type KeySource interface {
	ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error)
	TenantKey(ctx context.Context, tenant, kid string) (crypto.PublicKey, error)
}

// Tenants is the query role's one copy of tenant data, by slug
// (tenantdb.Cache). Returns NotFound for an unknown slug.
type Tenants interface {
	BySlug(ctx context.Context, slug string) (tenant.Tenant, error)
}

// RevocationSync rebuilds a tenant's revocation state in Redis from
// PostgreSQL (authdb.Tokens).
type RevocationSync interface {
	SyncTenant(ctx context.Context, slug string) error
}

// Credentials are the bearer credentials of query's two callers. Each
// opens only its own routes: the console's the admin routes (every tenant's
// calls), the viewer's the routes the public edge needs (what it verifies
// tokens with, view-audit intake), so that a compromised edge reads nothing
// a valid token could not. An empty credential opens nothing.
type Credentials struct {
	Console string // CALLSCOPE_QUERY_TOKEN
	Viewer  string // CALLSCOPE_VIEWER_QUERY_TOKEN
}

// Server is the query service's HTTP face on the internal listener.
type Server struct {
	views    ViewRecorder
	sync     RevocationSync
	store    *Store
	tenants  Tenants
	verifier *auth.Verifier
	keys     KeySource
	records  CallRecords
	console  credential
	viewer   credential
	log      *slog.Logger
}

// credential is the SHA-256 of a caller's bearer credential.
type credential struct {
	sum [32]byte
	set bool
}

func newCredential(s string) credential {
	if s == "" {
		return credential{}
	}
	return credential{sum: sha256.Sum256([]byte(s)), set: true}
}

// NewServer returns the handlers. The key routes serve verifier.Keys
// unless SetKeySource says otherwise.
func NewServer(store *Store, tenants Tenants, verifier *auth.Verifier, creds Credentials, log *slog.Logger) *Server {
	s := &Server{store: store, tenants: tenants, verifier: verifier, log: log,
		console: newCredential(creds.Console), viewer: newCredential(creds.Viewer)}
	if verifier != nil && verifier.Keys != nil {
		s.keys = verifier.Keys
	}
	return s
}

// SetKeySource replaces the source of the public keys the viewer fetches.
func (s *Server) SetKeySource(k KeySource) { s.keys = k }

// SetRevocationSync sets what rebuilds a tenant's revocation state when the
// viewer finds it gone from Redis; without one that route is Unavailable.
func (s *Server) SetRevocationSync(r RevocationSync) { s.sync = r }

// Routes mounts the query API. Authorization per line: "console" and
// "viewer" are the callers' own credentials, each refused on the other's
// routes; "view token" is the customer's token, re-verified here, confining
// the answer to its tenant, call and window.
func (s *Server) Routes(g *echo.Group) {
	console, viewer, view := s.require(s.console), s.require(s.viewer), s.requireViewToken
	g.GET("/internal/v1/admin/search", s.adminSearch, console)         // console: every tenant
	g.GET("/internal/v1/admin/call", s.adminCall, console)             // console: any tenant's call
	g.GET("/internal/v1/admin/pcap", s.adminPCAP, console)             // console
	g.GET("/internal/v1/admin/text", s.adminText, console)             // console
	g.GET("/internal/v1/admin/calls", s.adminCalls, console)           // console: every tenant's call records
	g.GET("/internal/v1/admin/stats", s.adminStats, console)           // console: every tenant's call records
	g.GET("/internal/v1/tenants/public", s.tenantPublic, viewer)       // viewer: CSP origins, aliases, active
	g.GET("/internal/v1/keys/server", s.serverKey, viewer)             // viewer: public JWK
	g.GET("/internal/v1/keys/tenant", s.tenantKey, viewer)             // viewer: public JWK
	g.POST("/internal/v1/revocations/sync", s.syncRevocations, viewer) // viewer: rebuild what Redis lost, from PostgreSQL
	g.POST("/internal/v1/audit/views", s.recordViews, viewer)          // viewer: reports views
	g.GET("/internal/v1/view/call", s.viewCall, view)                  // view token
	g.GET("/internal/v1/view/text", s.viewText, view)                  // view token
	g.GET("/internal/v1/view/pcap", s.viewPCAP, view)                  // view token with scope pcap
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// require admits requests presenting want, compared in constant time: both
// sides are hashed first so that neither the content nor the length leaks.
// The other caller's credential is refused like any other: 401.
func (s *Server) require(want credential) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			tok, ok := bearer(c.Request())
			sum := sha256.Sum256([]byte(tok))
			if !ok || !want.set || subtle.ConstantTimeCompare(sum[:], want.sum[:]) != 1 {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="callscope-query"`)
				return callscope.Errorf(callscope.Unauthorized, "this route needs its caller's own credential")
			}
			return next(c)
		}
	}
}

// requireViewToken verifies the customer's token and leaves its claims in
// the request's context. A refusal is answered with its auth.Refusal as the
// error code (web.JSONErrorHandler), which the client gives back as is.
func (s *Server) requireViewToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		tok, _ := bearer(c.Request())
		claims, err := s.verifier.Verify(ctx, tok)
		if err != nil {
			s.log.InfoContext(ctx, "view token refused", "outcome", auth.Outcome(err), "request_id", web.RequestID(c))
			return err
		}
		c.SetRequest(c.Request().WithContext(auth.WithClaims(ctx, claims)))
		return next(c)
	}
}

// viewCallOf reads the token's call: its tenant, its call id and legs,
// inside its window. A tenant that vanished, a call of another tenant and
// a call outside the window are all the same NotFound.
func (s *Server) viewCallOf(c echo.Context) (*queryapi.Call, error) {
	ctx := c.Request().Context()
	claims, ok := auth.ClaimsFrom(ctx)
	if !ok {
		return nil, errors.New("query: view route without verified claims")
	}
	t, err := s.tenants.BySlug(ctx, claims.Tenant)
	if callscope.Is(err, callscope.NotFound) {
		return nil, errNoCall
	}
	if err != nil {
		return nil, err
	}
	ti := queryapi.TenantInfo{ID: t.ID, Slug: t.Slug, Aliases: t.Aliases, EmbedOrigins: t.EmbedOrigins,
		FollowHeaderCorrelation: t.FollowHeaderCorrelation, ShowInternalEvents: t.ShowInternalEvents}
	return s.store.CallOf(ctx, ti, claims.CallID, claims.WindowStart, claims.WindowEnd)
}

func (s *Server) viewCall(c echo.Context) error {
	call, err := s.viewCallOf(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, call)
}

func (s *Server) viewText(c echo.Context) error {
	call, err := s.viewCallOf(c)
	if err != nil {
		return err
	}
	return web.Blob(c, http.StatusOK, "text/plain; charset=utf-8", call.Text())
}

// viewPCAP answers a token without scope pcap exactly like a missing call:
// the viewer never links the download for such a token, so a request for it
// is someone editing URLs.
func (s *Server) viewPCAP(c echo.Context) error {
	if claims, ok := auth.ClaimsFrom(c.Request().Context()); !ok || !claims.HasScope(auth.ScopePCAP) {
		return errNoCall
	}
	call, err := s.viewCallOf(c)
	if err != nil {
		return err
	}
	return sendPCAP(c, call)
}

func sendPCAP(c echo.Context, call *queryapi.Call) error {
	data, err := call.PCAP()
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="call.pcap"`)
	return web.Blob(c, http.StatusOK, "application/vnd.tcpdump.pcap", data)
}

// adminCallOf reads ?tenant_id=&call_id=&from=&to=.
func (s *Server) adminCallOf(c echo.Context) (*queryapi.Call, error) {
	tid, err := strconv.ParseInt(c.QueryParam("tenant_id"), 10, 64)
	if err != nil || tid <= 0 {
		return nil, callscope.FieldError("tenant_id", "required")
	}
	from, err := timeParam(c, "from")
	if err != nil {
		return nil, err
	}
	to, err := timeParam(c, "to")
	if err != nil {
		return nil, err
	}
	return s.store.Call(c.Request().Context(), tid, c.QueryParam("call_id"), from, to)
}

func (s *Server) adminCall(c echo.Context) error {
	call, err := s.adminCallOf(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, call)
}

func (s *Server) adminText(c echo.Context) error {
	call, err := s.adminCallOf(c)
	if err != nil {
		return err
	}
	return web.Blob(c, http.StatusOK, "text/plain; charset=utf-8", call.Text())
}

func (s *Server) adminPCAP(c echo.Context) error {
	call, err := s.adminCallOf(c)
	if err != nil {
		return err
	}
	return sendPCAP(c, call)
}

func timeParam(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, callscope.FieldError(name, "not an RFC 3339 time")
	}
	return t, nil
}

func (s *Server) adminSearch(c echo.Context) error {
	f, err := queryapi.FilterFromQuery(c.QueryParams())
	if err != nil {
		return err
	}
	calls, next, err := s.store.Search(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if calls == nil {
		calls = []queryapi.CallSummary{}
	}
	return c.JSON(http.StatusOK, queryapi.SearchResult{Calls: calls, Next: next})
}

func (s *Server) tenantPublic(c echo.Context) error {
	t, err := s.tenants.BySlug(c.Request().Context(), c.QueryParam("slug"))
	if err != nil {
		return err
	}
	origins := t.EmbedOrigins
	if origins == nil {
		origins = []string{}
	}
	return c.JSON(http.StatusOK, queryapi.TenantPublic{Slug: t.Slug, Active: t.Active(), EmbedOrigins: origins, Aliases: t.Aliases})
}

// serverKey and tenantKey read kid and tenant from the query string,
// decoded once by net/http: the kid looked up is exactly the token's.
func (s *Server) serverKey(c echo.Context) error {
	kid := c.QueryParam("kid")
	if !auth.ValidKID(kid) || s.keys == nil {
		return callscope.Errorf(callscope.NotFound, "no such key")
	}
	key, err := s.keys.ServerKey(c.Request().Context(), kid)
	return sendJWK(c, kid, key, err)
}

func (s *Server) tenantKey(c echo.Context) error {
	kid := c.QueryParam("kid")
	if !auth.ValidKID(kid) || s.keys == nil {
		return callscope.Errorf(callscope.NotFound, "no such key")
	}
	key, err := s.keys.TenantKey(c.Request().Context(), c.QueryParam("tenant"), kid)
	return sendJWK(c, kid, key, err)
}

func sendJWK(c echo.Context, kid string, key crypto.PublicKey, err error) error {
	if err != nil {
		return err
	}
	set := auth.JWKS([]auth.PublicKey{{KID: kid, Key: key}})
	if len(set.Keys) != 1 {
		return errors.New("query: key store returned an unsupported key")
	}
	return c.JSON(http.StatusOK, set.Keys[0])
}

// syncRevocations rebuilds one tenant's revocation state in Redis from
// PostgreSQL, for a viewer that found it gone. It only ever copies the
// record of revocations into Redis: the edge can make Redis more complete,
// never less.
func (s *Server) syncRevocations(c echo.Context) error {
	if s.sync == nil {
		return callscope.Errorf(callscope.Unavailable, "revocation rebuild not configured")
	}
	slug := c.QueryParam("tenant")
	if tenant.ValidateSlug(slug) != nil {
		return callscope.Errorf(callscope.NotFound, "no such tenant")
	}
	if err := s.sync.SyncTenant(c.Request().Context(), slug); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
