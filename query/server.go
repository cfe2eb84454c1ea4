package query

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/auth"
	"github.com/callscope/callscope/tenant/tenantdb"
	"github.com/callscope/callscope/web"
)

// KeySource finds public verification keys for the viewer's key endpoints.
// The auth key stores implement it (it is auth.KeyResolver's method set);
// returns NotFound for an unknown kid.
type KeySource interface {
	ServerKey(ctx context.Context, kid string) (crypto.PublicKey, error)
	TenantKey(ctx context.Context, tenant, kid string) (crypto.PublicKey, error)
}

// Server is the query service's HTTP face on the internal listener.
type Server struct {
	tcache   tenantCache
	views    ViewRecorder
	store    *Store
	tenants  *tenantdb.Store
	verifier *auth.Verifier
	keys     KeySource
	token    [32]byte // SHA-256 of the service token; zero when none is set
	hasToken bool
	log      *slog.Logger
}

// NewServer returns the handlers. serviceToken guards the admin, tenant and
// key routes; when it is empty those routes refuse everything. The key
// routes serve verifier.Keys unless SetKeySource says otherwise.
func NewServer(store *Store, tenants *tenantdb.Store, verifier *auth.Verifier, serviceToken string, log *slog.Logger) *Server {
	s := &Server{store: store, tenants: tenants, verifier: verifier, log: log}
	if verifier != nil && verifier.Keys != nil {
		s.keys = verifier.Keys
	}
	if serviceToken != "" {
		s.token, s.hasToken = sha256.Sum256([]byte(serviceToken)), true
	}
	return s
}

// SetKeySource replaces the source of the public keys the viewer fetches.
func (s *Server) SetKeySource(k KeySource) { s.keys = k }

// Routes mounts the query API. Authorization per line: "service" is the
// shared service token (console, viewer); "view token" is the customer's
// token, re-verified here, confining the answer to its tenant, call and
// window.
func (s *Server) Routes(g *echo.Group) {
	service, view := s.requireService, s.requireViewToken
	g.GET("/internal/v1/admin/search", s.adminSearch, service)          // service: every tenant
	g.GET("/internal/v1/admin/call", s.adminCall, service)              // service: any tenant's call
	g.GET("/internal/v1/admin/pcap", s.adminPCAP, service)              // service
	g.GET("/internal/v1/admin/text", s.adminText, service)              // service
	g.GET("/internal/v1/tenants/:slug/public", s.tenantPublic, service) // service: CSP origins, aliases, active
	g.GET("/internal/v1/keys/server/:kid", s.serverKey, service)        // service: public JWK
	g.GET("/internal/v1/keys/tenant/:slug/:kid", s.tenantKey, service)  // service: public JWK
	g.POST("/internal/v1/audit/views", s.recordViews, service)          // service: the viewer reports views
	g.GET("/internal/v1/view/call", s.viewCall, view)                   // view token
	g.GET("/internal/v1/view/text", s.viewText, view)                   // view token
	g.GET("/internal/v1/view/pcap", s.viewPCAP, view)                   // view token with scope pcap
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// requireService checks the service token in constant time: both sides are
// hashed first so that neither the content nor the length leaks.
func (s *Server) requireService(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, ok := bearer(c.Request())
		sum := sha256.Sum256([]byte(tok))
		if !ok || !s.hasToken || subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
			return callscope.Errorf(callscope.Unauthorized, "a service token is required")
		}
		return next(c)
	}
}

// claimsKey is where requireViewToken leaves the verified claims.
const claimsKey = "query.claims"

// Token refusal codes of the view routes' 401 (503 for "unavailable").
const (
	CodeExpired        = "expired"
	CodeRevoked        = "revoked"
	CodeInvalid        = "invalid"
	CodeTenantInactive = "tenant_inactive"
	CodeUnavailable    = "unavailable"
)

// TokenCode maps a Verify error to the code the view routes answer with.
func TokenCode(err error) string {
	switch auth.Outcome(err) {
	case "expired":
		return CodeExpired
	case "revoked":
		return CodeRevoked
	case "tenant_inactive":
		return CodeTenantInactive
	case "unavailable":
		return CodeUnavailable
	}
	return CodeInvalid
}

func (s *Server) requireViewToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		tok, ok := bearer(c.Request())
		if !ok {
			return s.refuseToken(c, CodeInvalid, nil)
		}
		claims, err := s.verifier.Verify(ctx, tok)
		if err != nil {
			code := TokenCode(err)
			s.log.InfoContext(ctx, "view token refused", "outcome", auth.Outcome(err), "request_id", web.RequestID(c))
			var origins []string
			if code == CodeExpired || code == CodeRevoked {
				// Only an authentic token may name the tenant whose pages
				// frame the error.
				if ac, err := s.verifier.Authentic(ctx, tok); err == nil {
					if t, err := s.tenants.BySlug(ctx, ac.Tenant); err == nil {
						origins = t.EmbedOrigins
					}
				}
			}
			return s.refuseToken(c, code, origins)
		}
		c.Set(claimsKey, claims)
		return next(c)
	}
}

// tokenErrorBody is the 401/503 body of a refused view token.
type tokenErrorBody struct {
	Error struct {
		Code         string   `json:"code"`
		Message      string   `json:"message"`
		Field        string   `json:"field,omitempty"`
		EmbedOrigins []string `json:"embed_origins,omitempty"`
		RequestID    string   `json:"request_id,omitempty"`
	} `json:"error"`
}

func (s *Server) refuseToken(c echo.Context, code string, origins []string) error {
	var b tokenErrorBody
	b.Error.Code, b.Error.EmbedOrigins, b.Error.RequestID = code, origins, web.RequestID(c)
	status := http.StatusUnauthorized
	switch code {
	case CodeExpired:
		b.Error.Message = "this link has expired"
	case CodeRevoked:
		b.Error.Message = "this link has been revoked"
	case CodeTenantInactive:
		b.Error.Message = "this link is no longer available"
	case CodeUnavailable:
		b.Error.Message, status = "the service is temporarily unavailable", http.StatusServiceUnavailable
	default:
		b.Error.Message = "this link is not valid"
	}
	return c.JSON(status, b)
}

// viewCallOf reads the token's call: its tenant, its call id and legs,
// inside its window. A tenant that vanished, a call of another tenant and
// a call outside the window are all the same NotFound.
func (s *Server) viewCallOf(c echo.Context) (*Call, error) {
	claims := c.Get(claimsKey).(*auth.Claims)
	ctx := c.Request().Context()
	t, err := s.tcache.bySlug(ctx, s.tenants, claims.Tenant)
	if callscope.Is(err, callscope.NotFound) {
		return nil, errNoCall
	}
	if err != nil {
		return nil, err
	}
	ti := TenantInfo{ID: t.ID, Slug: t.Slug, Aliases: t.Aliases, EmbedOrigins: t.EmbedOrigins}
	return s.store.CallOf(ctx, ti, claims.CallID, claims.WindowStart, claims.WindowEnd)
}

func (s *Server) viewCall(c echo.Context) error {
	call, err := s.viewCallOf(c)
	if err != nil {
		return err
	}
	return sendCall(c, call)
}

// sendCall answers a Call in the binary encoding when the client asked
// for it (Client does), JSON otherwise.
func sendCall(c echo.Context, call *Call) error {
	if !strings.Contains(c.Request().Header.Get("Accept"), CallMediaType) {
		return c.JSON(http.StatusOK, call)
	}
	bp := wireBuffers.Get().(*[]byte)
	b, err := call.AppendBinary((*bp)[:0])
	if err == nil {
		err = web.Blob(c, http.StatusOK, CallMediaType, b)
	}
	// net/http holds no reference to b once Write returns.
	if cap(b) <= maxPooledWire {
		*bp = b[:0]
		wireBuffers.Put(bp)
	}
	return err
}

// wireBuffers recycles the encoding of calls: tens of KB a view.
var wireBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// maxPooledWire keeps the encoding of a call of thousands of messages out
// of the pool.
const maxPooledWire = 1 << 20

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
	if !c.Get(claimsKey).(*auth.Claims).HasScope(auth.ScopePCAP) {
		return errNoCall
	}
	call, err := s.viewCallOf(c)
	if err != nil {
		return err
	}
	return sendPCAP(c, call)
}

func sendPCAP(c echo.Context, call *Call) error {
	data, err := call.PCAP()
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="call.pcap"`)
	return web.Blob(c, http.StatusOK, "application/vnd.tcpdump.pcap", data)
}

// adminCallOf reads ?tenant_id=&call_id=&from=&to=.
func (s *Server) adminCallOf(c echo.Context) (*Call, error) {
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
	return sendCall(c, call)
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

// SearchResult is the body of GET /internal/v1/admin/search.
type SearchResult struct {
	Calls []CallSummary `json:"calls"`
	Next  string        `json:"next,omitempty"`
}

func (s *Server) adminSearch(c echo.Context) error {
	f, err := filterFromQuery(c.QueryParams())
	if err != nil {
		return err
	}
	calls, next, err := s.store.Search(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if calls == nil {
		calls = []CallSummary{}
	}
	return c.JSON(http.StatusOK, SearchResult{Calls: calls, Next: next})
}

// filterFromQuery is the inverse of Filter.query.
func filterFromQuery(q url.Values) (Filter, error) {
	f := Filter{
		CallID: q.Get("call_id"), CorrelationID: q.Get("correlation_id"),
		FromUser: q.Get("from_user"), ToUser: q.Get("to_user"), RURIUser: q.Get("ruri_user"),
		IP: q.Get("ip"), Method: q.Get("method"), UserAgent: q.Get("user_agent"), Cursor: q.Get("cursor"),
	}
	var err error
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return f, callscope.FieldError(t.name, "not an RFC 3339 time")
			}
		}
	}
	ints := []struct {
		name string
		set  func(int64)
		max  int64
	}{
		{"tenant_id", func(v int64) { f.TenantID = v }, 1<<63 - 1},
		{"status", func(v int64) { f.Status = int(v) }, 699},
		{"limit", func(v int64) { f.Limit = int(v) }, MaxLimit},
		{"capture_id", func(v int64) { u := uint32(v); f.CaptureID = &u }, 1<<32 - 1},
	}
	for _, i := range ints {
		if v := q.Get(i.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || n > i.max {
				return f, callscope.FieldError(i.name, "not a valid number")
			}
			i.set(n)
		}
	}
	return f, nil
}

// query encodes f for the admin search URL.
func (f Filter) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.From.IsZero() {
		set("from", f.From.Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		set("to", f.To.Format(time.RFC3339Nano))
	}
	if f.TenantID != 0 {
		set("tenant_id", strconv.FormatInt(f.TenantID, 10))
	}
	set("call_id", f.CallID)
	set("correlation_id", f.CorrelationID)
	set("from_user", f.FromUser)
	set("to_user", f.ToUser)
	set("ruri_user", f.RURIUser)
	set("ip", f.IP)
	set("method", f.Method)
	if f.Status != 0 {
		set("status", strconv.Itoa(f.Status))
	}
	set("user_agent", f.UserAgent)
	if f.CaptureID != nil {
		set("capture_id", strconv.FormatUint(uint64(*f.CaptureID), 10))
	}
	if f.Limit != 0 {
		set("limit", strconv.Itoa(f.Limit))
	}
	set("cursor", f.Cursor)
	return q
}

// TenantPublic is what the viewer may know of a tenant: enough to frame its
// pages and label its endpoints.
type TenantPublic struct {
	Slug         string            `json:"slug"`
	Active       bool              `json:"active"`
	EmbedOrigins []string          `json:"embed_origins"`
	Aliases      map[string]string `json:"aliases"`
}

func (s *Server) tenantPublic(c echo.Context) error {
	t, err := s.tenants.BySlug(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	origins := t.EmbedOrigins
	if origins == nil {
		origins = []string{}
	}
	return c.JSON(http.StatusOK, TenantPublic{Slug: t.Slug, Active: t.Active(), EmbedOrigins: origins, Aliases: t.Aliases})
}

func (s *Server) serverKey(c echo.Context) error {
	kid, err := url.PathUnescape(c.Param("kid"))
	if err != nil || !auth.ValidKID(kid) || s.keys == nil {
		return callscope.Errorf(callscope.NotFound, "no such key")
	}
	key, err := s.keys.ServerKey(c.Request().Context(), kid)
	return sendJWK(c, kid, key, err)
}

func (s *Server) tenantKey(c echo.Context) error {
	kid, err := url.PathUnescape(c.Param("kid"))
	if err != nil || !auth.ValidKID(kid) || s.keys == nil {
		return callscope.Errorf(callscope.NotFound, "no such key")
	}
	key, err := s.keys.TenantKey(c.Request().Context(), c.Param("slug"), kid)
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
