package calls

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/callscope/callscope"
	"github.com/callscope/callscope/callrec"
)

// KeyTenant authenticates an API key ("cs_...") and names its tenant.
// It returns an Unauthorized error for a key that is unknown, revoked or
// malformed. The auth package's API key store does this.
type KeyTenant func(ctx context.Context, key string) (tenantID int64, err error)

// API is the calls API orchestrators use to find the calls their tests
// made and check how they ended. It is mounted on the query listener; the
// viewer forwards the public paths to it, as it does the token API.
// Errors are callscope errors rendered by web.JSONErrorHandler.
type API struct {
	store *Store
	keys  KeyTenant
}

// NewAPI returns the calls API over store, authenticating with keys.
func NewAPI(store *Store, keys KeyTenant) *API { return &API{store: store, keys: keys} }

// Routes mounts the API. Authorization per line.
func (a *API) Routes(g *echo.Group) {
	g.GET("/api/v1/calls", a.list)         // API key: its own tenant's calls only
	g.GET("/api/v1/calls/:call_id", a.get) // API key: its own tenant's call only
}

// ListResponse is the 200 body of GET /api/v1/calls.
type ListResponse struct {
	Calls      []callrec.Record `json:"calls"`
	NextCursor *string          `json:"next_cursor"`
}

func (a *API) list(c echo.Context) error {
	tenantID, err := a.authenticate(c)
	if err != nil {
		return err
	}
	f, err := filterFrom(c)
	if err != nil {
		return err
	}
	recs, next, err := a.store.List(c.Request().Context(), tenantID, f)
	if err != nil {
		return err
	}
	body := ListResponse{Calls: recs}
	if next != "" {
		body.NextCursor = &next
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, body)
}

func (a *API) get(c echo.Context) error {
	tenantID, err := a.authenticate(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	for k := range q {
		if k != "from" && k != "to" {
			return callscope.FieldError(k, "unknown parameter: use from and to")
		}
	}
	from, err := timeParam(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := timeParam(q.Get("to"), "to")
	if err != nil {
		return err
	}
	callID, err := callIDParam(c)
	if err != nil {
		return err
	}
	rec, err := a.store.Get(c.Request().Context(), tenantID, callID, from, to)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, rec)
}

// listParams are the query parameters GET /api/v1/calls takes.
var listParams = map[string]bool{"from": true, "to": true, "call_id": true, "from_user": true, "to_user": true,
	"ruri_user": true, "status": true, "kind": true, "limit": true, "cursor": true}

// filterFrom reads the listing's query parameters; a parameter it does not
// know is refused by name rather than ignored (a typo would widen the
// answer silently).
func filterFrom(c echo.Context) (Filter, error) {
	q := c.QueryParams()
	for k, v := range q {
		if !listParams[k] {
			return Filter{}, callscope.FieldError(k, "unknown parameter")
		}
		if len(v) > 1 {
			return Filter{}, callscope.FieldError(k, "given more than once")
		}
	}
	f := Filter{CallID: q.Get("call_id"), FromUser: q.Get("from_user"), ToUser: q.Get("to_user"),
		RURIUser: q.Get("ruri_user"), Status: q.Get("status"), Kind: q.Get("kind"), Cursor: q.Get("cursor")}
	var err error
	if f.From, err = timeParam(q.Get("from"), "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(q.Get("to"), "to"); err != nil {
		return f, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return f, callscope.FieldError("limit", "must be a whole number between 1 and %d", MaxLimit)
		}
		f.Limit = n
	}
	return f, f.Validate()
}

// callIDParam is the Call-ID in the path, unescaped exactly once from the
// request's escaped path: whether the router hands over a decoded or an
// encoded segment depends on how the client escaped it, and decoding
// twice would turn a Call-ID "a%2540b" into "a@b".
func callIDParam(c echo.Context) (string, error) {
	seg, ok := strings.CutPrefix(c.Request().URL.EscapedPath(), "/api/v1/calls/")
	if !ok || seg == "" || strings.Contains(seg, "/") {
		return "", ErrNoCall
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		return "", callscope.FieldError("call_id", "not a valid path segment")
	}
	return id, nil
}

func timeParam(v, field string) (time.Time, error) {
	if v == "" {
		return time.Time{}, callscope.FieldError(field, "required (RFC 3339, e.g. 2026-03-01T12:00:00Z)")
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, callscope.FieldError(field, "must be an RFC 3339 time such as 2026-03-01T12:00:00Z")
	}
	return t, nil
}

// authenticate reads "Authorization: Bearer <API key>" and names the key's
// tenant; every call read below is confined to it.
func (a *API) authenticate(c echo.Context) (int64, error) {
	scheme, key, ok := strings.Cut(c.Request().Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="callscope"`)
		return 0, callscope.Errorf(callscope.Unauthorized, "an API key is required: Authorization: Bearer cs_...")
	}
	tenantID, err := a.keys(c.Request().Context(), strings.TrimSpace(key))
	if err != nil {
		if callscope.Is(err, callscope.Unauthorized) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="callscope", error="invalid_token"`)
		}
		return 0, err
	}
	return tenantID, nil
}
